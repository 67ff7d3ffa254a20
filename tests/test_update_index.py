"""The update index's flat lookups: a dict's answers from sorted arrays and an overlay."""

import array

from vamo import update_index
from vamo.update_index import _DECODED_MIN_BYTES, _LENGTH_BITS, AddonEntry, AddonKeys, Candidate, Index, Release, encode


def entry(addon_id, guid, versions=0):
    """An entry with `versions` candidates for Firefox (0: none)."""
    candidates = tuple(
        Candidate(n, 1, 2, 0, False, n, "1.0", "200.*",
                  Release(n, f"{n}.0", n, f"file-{n}.xpi", f"sha256:{n:064x}", False, False))
        for n in range(versions, 0, -1))
    return AddonEntry(addon_id, guid, "extension", f"slug-{addon_id}", {1: candidates} if candidates else {}, {},
                      0.0)


def base_of(entries, hashes=None):
    """An Index and AddonKeys over `entries` as a full load lays them out, with
    `hashes` (by GUID) in place of the keys' own when given."""
    buffer, slots = bytearray(), []
    for one in entries:
        blob = encode(one)
        code = (hashes or {}).get(one.guid, hash(one.guid.lower()))
        slots.append((code, len(buffer) << _LENGTH_BITS | len(blob), one.id))
        buffer += blob
    slots.sort()
    index = Index(array.array("q", [s[0] for s in slots]), array.array("q", [s[1] for s in slots]),
                  bytes(buffer))
    by_id = sorted((s[2], s[1]) for s in slots)
    keys = AddonKeys(index, array.array("q", [s[0] for s in by_id]), array.array("q", [s[1] for s in by_id]))
    return index, keys


def test_equal_hashes_are_told_apart_by_the_guid_inside_the_entry():
    first, second = entry(1, "First@Example.com"), entry(2, "second@example.com")
    # The second's slot carries the first's hash and sorts before it or beside it.
    index, _ = base_of([second, first], hashes={"second@example.com": hash("first@example.com")})
    assert index.get("first@example.com").id == 1
    assert index.get("nobody@example.com") is None
    assert "first@example.com" in index


def test_the_overlay_adds_replaces_and_removes_like_a_dict():
    index, keys = base_of([entry(n, f"a{n}@example.com") for n in range(1, 6)])
    assert len(index) == 5 and keys[3] == "a3@example.com" and 9 not in keys

    index["new@example.com"] = entry(9, "New@example.com")
    index["a2@example.com"] = entry(2, "a2@example.com")._replace(slug="renamed")
    assert index.pop("a4@example.com").id == 4
    assert index.pop("a4@example.com") is None
    keys[9] = "new@example.com"
    del keys[4]

    assert len(index) == 5
    assert index.keys() == {"a1@example.com", "a2@example.com", "a3@example.com", "a5@example.com",
                            "new@example.com"}
    assert index["a2@example.com"].slug == "renamed"
    assert "a4@example.com" not in index and 4 not in keys and keys[9] == "new@example.com"

    # Put back after a removal; an overlay-only key removed again.
    index["a4@example.com"] = entry(4, "a4@example.com")
    assert index.pop("new@example.com").id == 9
    assert len(index) == 5 and index["a4@example.com"].id == 4
    assert "new@example.com" not in index


def test_a_decoded_entry_is_not_served_after_the_overlay_replaced_it():
    long_history = entry(1, "a@example.com", versions=30)
    assert len(encode(long_history)) >= _DECODED_MIN_BYTES  # big enough to stay decoded
    index, _ = base_of([long_history, entry(2, "theme@example.com")])
    assert index["a@example.com"].slug == "slug-1"
    assert set(index.decoded) == {"a@example.com"}  # kept; the small one is decoded anew each time
    assert index["theme@example.com"].id == 2 and "theme@example.com" not in index.decoded

    index["a@example.com"] = long_history._replace(slug="new")
    assert index["a@example.com"].slug == "new"
    index.pop("a@example.com")
    assert index.get("a@example.com") is None


def test_decoded_entries_stay_within_their_byte_budget_oldest_out_first(monkeypatch):
    entries = [entry(n, f"long{n}@example.com", versions=30) for n in range(1, 5)]
    size = len(encode(entries[0]))
    monkeypatch.setattr(update_index, "_DECODED_BYTES", size * 2 + size // 2)  # room for two
    index, _ = base_of(entries)
    for one in entries:
        assert index[one.guid].id == one.id
    assert list(index.decoded) == ["long3@example.com", "long4@example.com"]
    assert sum(kept[2] for kept in index.decoded.values()) <= update_index._DECODED_BYTES
