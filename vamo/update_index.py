"""The update check's data: every candidate of every eligible add-on, in memory.

Loaded by hand-written SQL (below, the only SQL of the update check) into an
index keyed by the lower-cased add-on GUID (MySQL matched GUIDs through a
case-insensitive collation). Each entry holds, per application, the
candidate (version, file, app range) rows that pass the status rules (D5),
sorted the way they are tried (D9: highest version id first; within one
version a platform-specific file before the all-platform one), with
version_int recomputed from `appversions.version` and compat overrides
compiled to integer intervals (D8). A request then needs no SQL.

`UpdateData` is the refresher's Source (D18): `refresh` re-reads just what
carries a `modified` newer than the last pass (asking again for an overlap
before it, for transactions that committed late, and skipping the rows it
has already applied): the changed versions of an indexed add-on, or the
whole add-on when its own row or its overrides changed. `load` loads
everything the first time (into an `Index` of encoded entries), and then
is the periodic reconciliation that catches changes without a timestamp:
by fingerprint (`reconcile`), rebuilding only the add-ons whose rows
changed (D21). Both build new entries off to the side and swap them in one
reference at a time, then tell the response cache which add-ons changed.
"""

import array
import bisect
import collections
import datetime
import logging
import marshal
import time
from typing import NamedTuple

from vamo import compat
from vamo.core.db import as_datetime, unix_time
from vamo.core.generations import CLASSIC, CURRENT, UPDATE, SchemaState
from vamo.core.refresh import COMMIT_LAG, Source

log = logging.getLogger("vamo.update")

# D5: add-on not deleted (11) or disabled (5) or inactive, with a GUID;
# version listed (channel 2) and not deleted; file approved (4).
_ELIGIBLE_ADDON = "a.status NOT IN (5, 11) AND a.inactive = 0 AND a.guid IS NOT NULL AND a.guid <> ''"

# Every row the index is built from carries a CRC32 of what the entry takes
# from it (not `modified`); an add-on's fingerprint is the sum over its rows.
# Sums add up, so a bucket of add-ons (id DIV BUCKET) has the sum of theirs:
# a reconciliation asks for one row per bucket, then per add-on only in the
# buckets whose sum moved, and rebuilds only the add-ons whose sum moved (D21).
# A hard delete or an UPDATE that left `modified` alone moves a sum too.
_ADDON_HASH = "CRC32(CONCAT_WS('|', a.guid, a.addontype_id, IFNULL(a.slug, '~null~')))"
_ADDONS_FROM = f"""
FROM addons a
WHERE {_ELIGIBLE_ADDON}{{filter}}"""


def _packed(numbers, texts):
    """A row as one text column: the `numbers` and the lengths of the `texts`
    but the last, comma-separated, then a unit separator (\\x1f), then the
    `texts` end to end (so they may hold any character); (MySQL's
    expression, SQLite's). PyMySQL decodes each column of each row in
    Python: a full load reads about 1.4 million rows at 530,000 add-ons, and
    one column a row instead of six took 6.4-7.2 -> 3.9 us a row off it.
    Timestamps go in as text: datetime.fromisoformat reads them in C.
    """
    mysql_head = ", ".join([*numbers, *(f"CHAR_LENGTH({text})" for text in texts[:-1])])
    sqlite_head = " || ',' || ".join([*(f"({n})" for n in numbers), *(f"LENGTH({t})" for t in texts[:-1])])
    return (f"CAST(CONCAT(CONCAT_WS(',', {mysql_head}), CHAR(31 USING utf8mb4), {', '.join(texts)}) AS CHAR)",
            f"{sqlite_head} || char(31) || {' || '.join(texts)}")


def _unpacked(text, texts):
    """The numbers (as text) and the `texts` (how many) of a `_packed` row."""
    head, tail = text.split("\x1f", 1)
    fields = head.split(",")
    cut = len(fields) - texts + 1
    parts, start = [], 0
    for length in fields[cut:]:
        end = start + int(length)
        parts.append(tail[start:end])
        start = end
    parts.append(tail[start:])
    return fields[:cut], parts


ADDONS_PACKED = _packed(["a.id", "a.addontype_id", _ADDON_HASH, "IFNULL(a.modified, '')"],
                        ["IFNULL(a.slug, '')", "a.guid"])
ADDONS_SQL = f"SELECT {ADDONS_PACKED[0]}" + _ADDONS_FROM

# The classic generation reads the file's platform and binary-components
# flag; the current one has neither (every file is for all platforms, D6).
_CANDIDATE_HASH = """CRC32(CONCAT_WS('|', v.id, v.version, IFNULL(v.releasenotes, -1), f.id, {platform},
       IFNULL(f.filename, '~null~'), IFNULL(f.hash, '~null~'), f.strict_compatibility, {binary},
       av.application_id, av.min, av.max))"""
_CANDIDATES_FROM = f"""
FROM versions v
JOIN addons a ON a.id = v.addon_id
JOIN files f ON f.version_id = v.id
JOIN applications_versions av ON av.version_id = v.id
WHERE {_ELIGIBLE_ADDON} AND v.channel = 2 AND v.deleted = 0 AND f.status = 4{{filter}}"""
# The biggest read of a load (about 0.9 million rows at 530,000 add-ons), one
# `_packed` column a row; one timestamp per row, not three.
_CANDIDATE_NUMBERS = ["v.addon_id", "v.id", "f.id", "{platform}", "f.strict_compatibility", "{binary}",
                      "av.application_id", "av.min", "av.max", "IFNULL(v.releasenotes, 0) <> 0", "{hash}",
                      "IFNULL(GREATEST(v.modified, f.modified, av.modified), '')"]
_CANDIDATE_TEXTS = ["IFNULL(v.version, '')", "IFNULL(f.filename, '')", "IFNULL(f.hash, '')"]
_CANDIDATES_TEMPLATE = "SELECT {packed}" + _CANDIDATES_FROM


_OVERRIDE_HASH = ("CRC32(CONCAT_WS('|', cr.id, cr.type, cr.min_version, cr.max_version, cr.app_id, "
                  "cr.min_app_version, cr.max_app_version))")
_OVERRIDES_FROM = """
FROM compat_override co
JOIN compat_override_range cr ON cr.compat_id = co.id
WHERE co.addon_id IS NOT NULL{filter}"""
OVERRIDES_SQL = """
SELECT co.addon_id, cr.type, cr.min_version, cr.max_version, cr.app_id,
       cr.min_app_version, cr.max_app_version, co.modified, cr.modified, """ + _OVERRIDE_HASH + _OVERRIDES_FROM

# The versions an override's add-on version strings resolve against: every
# version of the add-on that is not deleted, listed or not.
_OVERRIDE_VERSION_HASH = "CRC32(CONCAT_WS('|', v.id, v.version))"
_OVERRIDE_VERSIONS_FROM = """
FROM versions v
WHERE v.deleted = 0
  AND v.addon_id IN (SELECT co.addon_id FROM compat_override co WHERE co.addon_id IS NOT NULL){filter}"""
OVERRIDE_VERSIONS_SQL = "SELECT v.addon_id, v.id, v.version, " + _OVERRIDE_VERSION_HASH + _OVERRIDE_VERSIONS_FROM

# SQLite has no CRC32: there every hash reads 0 and a reconciliation is a full
# load (the embedded demo's data is small).
_HASHES = (_ADDON_HASH, _OVERRIDE_HASH, _OVERRIDE_VERSION_HASH)


def _fingerprint_sql(id_column, hash_expression, from_where):
    """Fingerprint sums grouped by `id_column`{group}; {group} is "" (per add-on) or " DIV BUCKET"."""
    return f"SELECT {id_column}{{group}}, CAST(SUM({hash_expression}) AS SIGNED) {from_where} GROUP BY 1"


# Add-ons among some that have compat overrides: their compiled overrides
# depend on all their versions, so a changed version rebuilds the whole add-on.
WITH_OVERRIDES_SQL = "SELECT DISTINCT co.addon_id FROM compat_override co WHERE co.addon_id IS NOT NULL{filter}"

APPVERSIONS_SQL = "SELECT id, application_id, version FROM appversions"
APPVERSIONS_STATE_SQL = "SELECT COUNT(*), MAX(modified) FROM appversions"

# Rows modified since a moment, as (table, row id, add-on id, version id,
# modified); one bound parameter per part. The table numbers only tell rows
# apart; the version id (NULL for add-on and override rows) lets a refresh
# re-read just the changed versions of an add-on with a long history.
_CHANGED_PARTS = """
SELECT 1, a.id, a.id, NULL, a.modified FROM addons a WHERE a.modified >= %s
UNION ALL
SELECT 2, v.id, v.addon_id, v.id, v.modified FROM versions v WHERE v.modified >= %s
UNION ALL
SELECT 3, f.id, v.addon_id, v.id, f.modified FROM files f JOIN versions v ON v.id = f.version_id
WHERE f.modified >= %s
UNION ALL
SELECT 4, av.id, v.addon_id, v.id, av.modified FROM applications_versions av
JOIN versions v ON v.id = av.version_id WHERE av.modified >= %s"""
_CHANGED_OVERRIDES = """
UNION ALL
SELECT 5, co.id, co.addon_id, NULL, co.modified FROM compat_override co
WHERE co.addon_id IS NOT NULL AND co.modified >= %s
UNION ALL
SELECT 6, cr.id, co.addon_id, NULL, cr.modified FROM compat_override_range cr
JOIN compat_override co ON co.id = cr.compat_id WHERE co.addon_id IS NOT NULL AND cr.modified >= %s"""

_MAX_MODIFIED_TEMPLATE = """
SELECT MAX(m) FROM (
  SELECT MAX(modified) AS m FROM addons UNION ALL SELECT MAX(modified) FROM versions
  UNION ALL SELECT MAX(modified) FROM files UNION ALL SELECT MAX(modified) FROM applications_versions{overrides}
) AS latest"""
_MAX_MODIFIED_OVERRIDES = """
  UNION ALL SELECT MAX(modified) FROM compat_override UNION ALL SELECT MAX(modified) FROM compat_override_range"""


# Add-ons per bucket of the reconciliation's first step: at 530,000 add-ons
# about 8,300 rows per part (the queries that make the index).
BUCKET = 64


class Queries(NamedTuple):
    """The update check's SQL for one schema generation (D20)."""
    candidates: str
    changed: str
    max_modified: str
    overrides: bool   # the generation has compat override tables
    fingerprints: tuple  # (fingerprint SQL with {group} and {filter}, its add-on id column), per part
    hashes: tuple     # the hash expressions in this generation's SQL
    packed: tuple     # the `_packed` columns' (MySQL's expression, SQLite's), per query

    @property
    def changed_parts(self):
        return self.changed.count("%s")


def _queries(platform, binary, overrides):
    candidate_hash = _CANDIDATE_HASH.replace("{platform}", platform).replace("{binary}", binary)
    fingerprints = [(_fingerprint_sql("a.id", _ADDON_HASH, _ADDONS_FROM), "a.id"),
                    (_fingerprint_sql("v.addon_id", candidate_hash, _CANDIDATES_FROM), "v.addon_id")]
    if overrides:
        fingerprints += [(_fingerprint_sql("co.addon_id", _OVERRIDE_HASH, _OVERRIDES_FROM), "co.addon_id"),
                         (_fingerprint_sql("v.addon_id", _OVERRIDE_VERSION_HASH, _OVERRIDE_VERSIONS_FROM),
                          "v.addon_id")]
    changed = _CHANGED_PARTS + (_CHANGED_OVERRIDES if overrides else "")
    max_modified = _MAX_MODIFIED_TEMPLATE.format(overrides=_MAX_MODIFIED_OVERRIDES if overrides else "")
    numbers = [column.replace("{platform}", platform).replace("{binary}", binary).replace("{hash}", candidate_hash)
               for column in _CANDIDATE_NUMBERS]
    packed = _packed(numbers, _CANDIDATE_TEXTS)
    candidates = _CANDIDATES_TEMPLATE.replace("{packed}", packed[0])
    return Queries(candidates, changed, max_modified, overrides, tuple(fingerprints),
                   _HASHES + (candidate_hash,), (packed, ADDONS_PACKED))


QUERIES = {
    CLASSIC: _queries("f.platform_id", "f.binary_components", True),
    CURRENT: _queries(str(compat.PLATFORM_ALL), "0", False),
}


def _for(db, sql, queries):
    """`sql` as `db` runs it: on SQLite, rows packed its way, hashes read 0 and
    GREATEST is the many-argument MAX."""
    if db.dialect == "mysql":
        return sql
    for mysql, sqlite in queries.packed:
        sql = sql.replace(mysql, sqlite)
    for expression in queries.hashes:
        sql = sql.replace(expression, "0")
    return sql.replace("GREATEST(", "MAX(")


_IN_BATCH = 500
# A row read this long after its `modified` (by the database's clock) is not
# re-applied when it comes back in the commit-lag window (refresh.COMMIT_LAG):
# a second change within the same second would have been visible by then.
SETTLED = datetime.timedelta(seconds=2)

# RDF `urn:mozilla:<type>:<guid>` by add-on type (ADDON_SLUGS_UPDATE); types
# without one (0, 8) read as extensions.
UPDATE_TYPE_SLUGS = {1: "extension", 2: "theme", 3: "extension", 4: "search", 5: "item",
                     6: "extension", 7: "plugin", 9: "background-theme", 10: "static-theme",
                     11: "app"}


class Release(NamedTuple):
    """What an answer shows of one (version, file); shared by its app ranges."""
    version_id: int
    version: str
    file_id: int
    filename: str
    hash: str
    strict: bool      # files.strict_compatibility: the answer carries strict_max_version
    has_notes: bool   # versions.releasenotes set: the answer carries update_info_url


class Candidate(NamedTuple):
    """One (version, file, app range) row, compiled for `compat.qualifies`."""
    version_id: int
    min_int: int
    max_int: int
    platform_id: int
    strict_file: bool  # strict_compatibility or binary_components: normal mode checks max
    file_id: int
    min_version: str
    max_version: str
    release: Release


class AddonEntry(NamedTuple):
    id: int
    guid: str           # as stored (the answer echoes the id as sent, D10)
    type_slug: str
    slug: str
    candidates: dict    # app id -> tuple of Candidate, in the order they are tried
    overrides: dict     # app id -> compiled exclusion intervals (compat.compile_overrides)
    modified: float     # Unix time of the newest row behind this entry

    def same_answers(self, other):
        """Whether `other` answers every request as this entry does (ignores `modified`)."""
        return other is not None and self[:6] == other[:6]


def _candidate_order(candidate):
    return (-candidate.version_id, candidate.platform_id == compat.PLATFORM_ALL, -candidate.file_id)


def _in_filter(column, ids):
    return f" AND {column} IN ({', '.join(['%s'] * len(ids))})"


def _batches(ids):
    ids = sorted(ids)
    for start in range(0, len(ids), _IN_BATCH):
        yield ids[start:start + _IN_BATCH]


def _select(db, sql, column, addon_ids):
    """Rows of `sql` for every add-on (addon_ids None), for a `range` of ids, or for those ids only."""
    if addon_ids is None:
        yield from db.stream(sql.format(filter=""))
        return
    if isinstance(addon_ids, range):
        yield from db.stream(sql.format(filter=f" AND {column} BETWEEN %s AND %s"),
                             (addon_ids.start, addon_ids.stop - 1))
        return
    for batch in _batches(addon_ids):
        yield from db.query(sql.format(filter=_in_filter(column, batch)), tuple(batch))


def load_appversions(db):
    """{appversions.id: (application id, version string, version_int)}."""
    return {row[0]: (row[1], row[2], compat.version_int(row[2])) for row in db.query(APPVERSIONS_SQL)}


def build_candidates(db, queries, appversions, column, ids, fingerprints=None):
    """The candidates of the rows whose `column` is among `ids` (every row when
    None): ({add-on id: {app id: [Candidate]}}, {add-on id: newest `modified`});
    each row's hash is added to `fingerprints` ({add-on id: sum}) when given."""
    per_addon = collections.defaultdict(lambda: collections.defaultdict(list))
    modified = {}
    releases = {}
    fingerprints = {} if fingerprints is None else fingerprints
    for (packed,) in _select(db, _for(db, queries.candidates, queries), column, ids):
        # `_unpacked`, inlined: this loop runs once per candidate row.
        head, tail = packed.split("\x1f", 1)
        fields = head.split(",")
        addon_id, version_id, file_id, platform_id, strict, binary, app_id, min_id, max_id, notes, row_hash = map(
            int, fields[:11])
        row_modified, cut = fields[11], int(fields[12])
        end = cut + int(fields[13])
        version, filename, file_hash = tail[:cut], tail[cut:end], tail[end:]
        fingerprints[addon_id] = fingerprints.get(addon_id, 0) + row_hash
        low, high = appversions.get(min_id), appversions.get(max_id)
        # The range's bounds must exist and belong to the range's application.
        if low is None or high is None or low[0] != app_id or high[0] != app_id:
            continue
        release = releases.get(file_id)
        if release is None:
            release = releases[file_id] = Release(
                version_id, version, file_id, filename or "", file_hash or "", bool(strict), bool(notes))
        per_addon[addon_id][app_id].append(Candidate(
            version_id, low[2], high[2], platform_id, bool(strict or binary), file_id,
            low[1], high[1], release))
        modified[addon_id] = max(modified.get(addon_id, 0.0), unix_time(row_modified))
    return per_addon, modified


def _sorted_candidates(by_app):
    return {app_id: tuple(sorted(rows, key=_candidate_order)) for app_id, rows in by_app.items() if rows}


def build_entries(db, queries, appversions, addon_ids=None, fingerprints=None):
    """Entries of the eligible add-ons among `addon_ids` (all when None, or a
    `range`), by add-on id; the rows' hashes are summed into `fingerprints`
    ({add-on id: sum}) when given."""
    fingerprints = {} if fingerprints is None else fingerprints
    addons = {}  # add-on id -> (guid, type id, slug, modified)
    for (packed,) in _select(db, _for(db, ADDONS_SQL, queries), "a.id", addon_ids):
        (addon_id, type_id, row_hash, row_modified), (slug, guid) = _unpacked(packed, 2)
        addon_id = int(addon_id)
        addons[addon_id] = (guid, int(type_id), slug, row_modified)
        fingerprints[addon_id] = fingerprints.get(addon_id, 0) + int(row_hash)
    per_addon, candidates_modified = build_candidates(db, queries, appversions, "v.addon_id", addon_ids,
                                                      fingerprints)
    modified = {addon_id: max(unix_time(row[3]), candidates_modified.get(addon_id, 0.0))
                for addon_id, row in addons.items()}

    ranges = collections.defaultdict(list)
    versions = collections.defaultdict(list)
    if queries.overrides:
        for addon_id, kind, min_v, max_v, app_id, min_app, max_app, co_mod, cr_mod, row_hash in _select(
                db, _for(db, OVERRIDES_SQL, queries), "co.addon_id", addon_ids):
            fingerprints[addon_id] = fingerprints.get(addon_id, 0) + row_hash
            if addon_id in addons:
                ranges[addon_id].append((kind, min_v, max_v, app_id, min_app, max_app))
                modified[addon_id] = max(modified[addon_id], unix_time(co_mod), unix_time(cr_mod))
        # Read even when no override here applies: the fingerprints count these rows.
        for addon_id, version_id, version, row_hash in _select(
                db, _for(db, OVERRIDE_VERSIONS_SQL, queries), "v.addon_id", addon_ids):
            fingerprints[addon_id] = fingerprints.get(addon_id, 0) + row_hash
            if addon_id in ranges:
                versions[addon_id].append((version_id, version))

    entries = {}
    for addon_id, (guid, type_id, slug, _) in addons.items():
        by_app = per_addon.get(addon_id, {})
        entries[addon_id] = AddonEntry(
            addon_id, guid, UPDATE_TYPE_SLUGS.get(type_id, "extension"), slug or str(addon_id),
            _sorted_candidates(by_app),
            compat.compile_overrides(ranges.get(addon_id, ()), versions.get(addon_id, ())),
            modified[addon_id])
    return entries


# Add-on ids a full load reads per round of queries: what it holds as Python
# objects at once before encoding them.
LOAD_CHUNK = 20000
_LENGTH_BITS = 24   # an encoded entry's length, in the low bits of its packed position
_LENGTH_MASK = (1 << _LENGTH_BITS) - 1
# Entries kept decoded, per process: only those encoded in _DECODED_MIN_BYTES
# or more (long histories, up to 0.7 ms to decode), and at most
# _DECODED_BYTES of them (encoded size: decoded, they take a few times
# more). A smaller one (a theme, a short history) decodes in a few
# microseconds, and its objects, freed when its request ends, are never
# walked by the cyclic garbage collector: kept while the cache churned (at
# 100,000 add-ons and more) they were the young generations' bulk, and
# in-process a second-generation pass took 11 ms (median) with them, 2.3 ms
# without. Memory each worker holds alone: bounded by count, 8,192 entries
# held 19.5 MiB at 530,000 add-ons, and 2,048 of only the long histories
# grew a soak's workers 40 MiB more each than 2,048 of any size.
_DECODED_MIN_BYTES = 1024
_DECODED_BYTES = 2 * 1024 * 1024
_ABSENT = object()


def encode(entry):
    """An entry as bytes (marshal of plain tuples; Release rows shared between
    applications stay shared)."""
    releases = {}
    by_app = tuple((app_id, tuple(tuple(row[:8]) + (releases.setdefault(row.release, tuple(row.release)),)
                                  for row in rows))
                   for app_id, rows in entry.candidates.items())
    return marshal.dumps((entry.id, entry.guid, entry.type_slug, entry.slug, by_app, entry.overrides,
                          entry.modified))


def decode(blob):
    addon_id, guid, type_slug, slug, by_app, overrides, modified = marshal.loads(blob)
    releases = {}
    candidates = {}
    for app_id, rows in by_app:
        compiled = []
        for row in rows:
            release = releases.get(row[5])
            if release is None:
                release = releases[row[5]] = _new_tuple(Release, row[8])
            compiled.append(_new_tuple(Candidate, row[:8] + (release,)))
        candidates[app_id] = tuple(compiled)
    return AddonEntry(addon_id, guid, type_slug, slug, candidates, overrides, modified)


def _new_tuple(cls, values):
    return tuple.__new__(cls, values)


class Index:
    """Lower-cased GUID -> AddonEntry, the way requests and the refresher use a dict.

    A full load encodes every entry into one buffer (`encode`) and finds them
    through flat arrays: the keys' `hash()` values, sorted, beside each
    entry's packed position (start << 24 | length). No Python object per
    add-on survives the load, so after a fork a lookup writes nothing the
    workers share (reading a shared Python object takes a reference, which
    writes to its page and makes the worker copy it: about 95 MiB per worker
    after a 30-minute soak at 530,000 add-ons with dicts of keys and ints).
    A hit is checked against the GUID inside the entry, so equal hashes only
    cost a second decode. (`hash()` of a str is salted per interpreter: the
    arrays are only read in the process that built them and in the workers
    forked from it, which share its salt.) An entry is decoded when a request
    needs it (a few microseconds for a theme; of those encoded in 1 KB or more, the last
    2 MiB stay decoded). What the refresher changes afterwards
    lives in `overlay`, encoded the same way (None: removed), until the next
    full load.
    """

    def __init__(self, hashes=None, positions=None, buffer=b""):
        self.hashes = hashes if hashes is not None else array.array("q")
        self.positions = positions if positions is not None else array.array("q")
        self.buffer = buffer
        self.overlay = {}
        self.decoded = {}  # key -> (what it was decoded from, entry, encoded size)
        self._removed = 0  # keys of the base the overlay removes
        self._added = 0    # keys of the overlay the base lacks
        self.encoded_bytes = 0  # every entry encoded into the overlay, replaced ones too

    def base_bytes(self):
        """What the full load built: the buffer and the lookup arrays."""
        return len(self.buffer) + (len(self.hashes) + len(self.positions)) * 8

    def _base_slots(self, key):
        """Slots of the base whose hash is the key's (almost always zero or one)."""
        hashes = self.hashes
        code = hash(key)
        slot = bisect.bisect_left(hashes, code)
        while slot < len(hashes) and hashes[slot] == code:
            yield slot
            slot += 1

    def _at(self, packed):
        start = packed >> _LENGTH_BITS
        return decode(self.buffer[start:start + (packed & _LENGTH_MASK)])

    def _base_find(self, key):
        """(packed position, entry) of `key` in the base, or (None, None)."""
        for slot in self._base_slots(key):
            packed = self.positions[slot]
            entry = self._at(packed)
            if entry.guid.lower() == key:
                return packed, entry
        return None, None

    def in_base(self, key):
        return self._base_find(key)[0] is not None

    def get(self, key, default=None):
        source = self.overlay.get(key, _ABSENT)
        cached = self.decoded.get(key)
        if source is _ABSENT:
            # The base never changes: an entry decoded from it (an int source) stays right.
            if cached is not None and cached[0].__class__ is int:
                return cached[1]
            source, entry = self._base_find(key)
            if source is None:
                return default
        elif source is None:
            return default
        elif cached is not None and cached[0] is source:
            # Kept with what it was decoded from: the refresher may replace that meanwhile.
            return cached[1]
        else:
            entry = decode(source)
        size = source & _LENGTH_MASK if source.__class__ is int else len(source)
        if size < _DECODED_MIN_BYTES:
            return entry
        decoded = self.decoded
        try:
            decoded.pop(key, None)
            # Summed afresh (a few hundred entries): no running total for the
            # refresher thread, which reads entries too, to race.
            total = size + sum(kept[2] for kept in decoded.values())
            while decoded and total > _DECODED_BYTES:
                # The oldest out first: a popular add-on with a long history is
                # not dropped with everything else at once.
                total -= decoded.pop(next(iter(decoded)))[2]
        except (KeyError, RuntimeError, StopIteration):  # the refresher thread raced us
            pass
        decoded[key] = (source, entry, size)
        return entry

    def __getitem__(self, key):
        entry = self.get(key)
        if entry is None:
            raise KeyError(key)
        return entry

    def __contains__(self, key):
        return self.get(key) is not None

    def __setitem__(self, key, entry):
        old = self.overlay.get(key, _ABSENT)
        if old is None:
            self._removed -= 1
        elif old is _ABSENT and not self.in_base(key):
            self._added += 1
        # Encoded too: a soak's 36,000 changed add-ons as objects were about 70
        # MiB in each worker, encoded about a sixth of that.
        blob = self.overlay[key] = encode(entry)
        self.encoded_bytes += len(blob)

    def pop(self, key, default=None):
        entry = self.get(key)
        if entry is None:
            return default
        if self.in_base(key):
            self._removed += 1
            self.overlay[key] = None
        else:
            self._added -= 1
            del self.overlay[key]
        return entry

    def __len__(self):
        return len(self.hashes) - self._removed + self._added

    def __iter__(self):
        """Every key (decodes the whole base: for a full reload's invalidation and for tests)."""
        overlay = self.overlay
        base = set()
        for packed in self.positions:
            key = self.key_at(packed)
            base.add(key)
            if overlay.get(key, _ABSENT) is not None:
                yield key
        for key, entry in list(overlay.items()):
            if entry is not None and key not in base:
                yield key

    def key_at(self, packed):
        """The key of the base entry at `packed`."""
        return self._at(packed).guid.lower()

    def keys(self):
        return set(self)

    def items(self):
        return ((key, self[key]) for key in self)

    def values(self):
        return (self[key] for key in self)


class AddonKeys:
    """Add-on id -> its key in the index, as a dict would: the full load's as
    sorted arrays (no Python object per add-on, see Index), the refresher's
    changes in `changed` (None: no longer indexed)."""

    def __init__(self, index, ids=None, positions=None):
        self.index = index
        self.ids = ids if ids is not None else array.array("q")  # sorted add-on ids
        self.positions = positions if positions is not None else array.array("q")  # their packed positions
        self.changed = {}

    def get(self, addon_id, default=None):
        key = self.changed.get(addon_id, _ABSENT)
        if key is _ABSENT:
            ids = self.ids
            slot = bisect.bisect_left(ids, addon_id)
            if slot == len(ids) or ids[slot] != addon_id:
                return default
            return self.index.key_at(self.positions[slot])
        return default if key is None else key

    def __contains__(self, addon_id):
        return self.get(addon_id) is not None

    def __getitem__(self, addon_id):
        key = self.get(addon_id)
        if key is None:
            raise KeyError(addon_id)
        return key

    def __setitem__(self, addon_id, key):
        self.changed[addon_id] = key

    def __delitem__(self, addon_id):
        if addon_id not in self:
            raise KeyError(addon_id)
        self.changed[addon_id] = None


def _sorted_by(order_keys, values):
    """`order_keys` sorted, and `values` in the same order (two arrays)."""
    order = sorted(range(len(order_keys)), key=order_keys.__getitem__)
    return array.array("q", [order_keys[i] for i in order]), array.array("q", [values[i] for i in order])


def _store(values, index, value):
    if index >= len(values):
        values.extend([0] * (index + 1 - len(values)))
    values[index] = value


def _fetch(values, index):
    return values[index] if index < len(values) else 0


class UpdateData(Source):
    """The index the update check answers from, kept fresh by the refresher."""

    name = "update_data"
    app = UPDATE

    def __init__(self, on_change=None, schema=None):
        self.schema = schema or SchemaState()
        self.queries = None       # Queries of the database's generation, set by the first load
        self.protocol = compat.PROTOCOLS[CLASSIC]  # what requests are judged by (D20)
        self.index = Index()      # lower-cased GUID -> AddonEntry
        self.keys = AddonKeys(self.index)  # add-on id -> its key in `index`
        self.loaded = False
        self.loaded_at = 0.0      # Unix time of the last full load
        self.on_change = on_change or (lambda keys: None)
        self._appversions_state = None
        self._appversions = {}
        self._newest = None       # newest `modified` seen
        self._since = None        # the next refresh asks for rows modified at or after this
        self._applied = set()     # (table, row id, modified) applied and settled, since `_since`
        self._fingerprints = None  # array: add-on id -> fingerprint as the last full load read it (0: no rows)
        self._fingerprints_changed = {}  # add-on id -> fingerprint as read since
        self._bucket_sums = None   # {bucket: sum of its add-ons' fingerprints in `_fingerprints`}
        self.last_load_seconds = None
        self.last_reconcile = None  # {"seconds", "buckets", "addons"} of the last reconciliation
        self.last_refresh_seconds = None
        self.last_refresh_addons = 0
        self._built_before = 0    # what earlier indexes built (see built_bytes)

    # -- full load / reconciliation ------------------------------------------------------
    def load(self, db):
        """The first load, or the periodic reconciliation (by fingerprint when it can)."""
        generation = self.schema.of(db).generation
        if (self.loaded and self._fingerprints is not None and QUERIES[generation] is self.queries
                and self.reconcile(db)):
            return
        self.full_load(db)

    def full_load(self, db):
        started = time.monotonic()
        generation = self.schema.of(db).generation
        queries = QUERIES[generation]
        newest = db.query(queries.max_modified)[0][0]
        state = db.query(APPVERSIONS_STATE_SQL)[0]
        appversions = load_appversions(db)
        low, high = db.query("SELECT MIN(id), MAX(id) FROM addons")[0]
        buffer, fingerprints = bytearray(), array.array("q")
        # The lookups' arrays (see Index and AddonKeys), in load order until the end.
        hashes, packed, ids = array.array("q"), array.array("q"), array.array("q")
        # A chunk of add-ons at a time, encoded as soon as built: the process
        # never holds the whole catalogue as objects (its peak RSS stays).
        for start in range(low or 0, (high or 0) + 1, LOAD_CHUNK):
            sums = {}
            entries = build_entries(db, queries, appversions, range(start, start + LOAD_CHUNK), sums)
            for addon_id, value in sums.items():
                _store(fingerprints, addon_id, value)
            for addon_id, entry in entries.items():
                blob = encode(entry)
                packed.append(len(buffer) << _LENGTH_BITS | len(blob))
                buffer += blob
                hashes.append(hash(entry.guid.lower()))
                ids.append(addon_id)
        index = Index(*_sorted_by(hashes, packed), bytes(buffer))
        keys = AddonKeys(index, *_sorted_by(ids, packed))
        del buffer, hashes, packed, ids
        bucket_sums = collections.Counter()
        for addon_id, value in enumerate(fingerprints):
            if value:
                bucket_sums[addon_id // BUCKET] += value
        self._newest, self._since, self._applied = as_datetime(newest), None, set()
        self._advance(db.now())
        changed = self._install(index, keys, generation, {
            "_appversions": appversions, "_appversions_state": state,
            "_fingerprints": fingerprints if db.dialect == "mysql" else None, "_bucket_sums": bucket_sums,
            "loaded_at": time.time(), "last_load_seconds": time.monotonic() - started})
        log.info("update data loaded: %d add-ons in %.2f s (%d changed)", len(index),
                 self.last_load_seconds, len(changed))

    # What a full load sets besides the index: handed over with it (Refresher.first_load).
    _LOADED_STATE = ("_appversions", "_appversions_state", "_newest", "_since", "_applied",
                     "_fingerprints", "_bucket_sums", "loaded_at", "last_load_seconds")
    hands_over = True

    def handover(self):
        """The state of a full load just made, as `take_over` installs it in another process."""
        generation = next(name for name, queries in QUERIES.items() if queries is self.queries)
        index, keys = self.index, self.keys
        return {"generation": generation, "index": (index.hashes, index.positions, index.buffer),
                "keys": (keys.ids, keys.positions), **{name: getattr(self, name) for name in self._LOADED_STATE}}

    def take_over(self, state):
        """Install `handover`'s state; in the arbiter, which caches no answers to drop."""
        index = Index(*state["index"])
        self._install(index, AddonKeys(index, *state["keys"]), state["generation"],
                      {name: state[name] for name in self._LOADED_STATE}, notify=False)

    # What a refresh sets besides the overlay and the changed keys and fingerprints.
    _REFRESHED_STATE = ("_newest", "_since", "_applied", "last_refresh_seconds", "last_refresh_addons",
                        "last_reconcile")

    def mark(self):
        """Where the state stands now, for `changes` (taken in a child before its pass)."""
        return (self.index, dict(self.index.overlay), dict(self.keys.changed), dict(self._fingerprints_changed),
                dict(self._bucket_sums or {}))

    def changes(self, mark):
        """What changed since `mark`, as `take_changes` applies it to the state `mark`
        was taken from (in the process this one was forked from); after a full load,
        the whole state (`handover`)."""
        index, overlay, keys, fingerprints, bucket_sums = mark
        if self.index is not index:
            return {"whole": self.handover()}

        def moved(now, then):
            return {key: value for key, value in now.items() if then.get(key, _ABSENT) is not value}

        return {"overlay": moved(index.overlay, overlay), "gone": [key for key in overlay if key not in index.overlay],
                "counts": (index._removed, index._added, index.encoded_bytes),
                "keys": moved(self.keys.changed, keys), "fingerprints": moved(self._fingerprints_changed, fingerprints),
                "bucket_sums": moved(self._bucket_sums or {}, bucket_sums),
                "state": {name: getattr(self, name) for name in self._REFRESHED_STATE}}

    def take_changes(self, delta):
        """Apply `changes`; in the arbiter, which caches no answers to drop."""
        if "whole" in delta:
            return self.take_over(delta["whole"])
        index = self.index
        for key in delta["gone"]:
            index.overlay.pop(key, None)
        index.overlay.update(delta["overlay"])
        index._removed, index._added, index.encoded_bytes = delta["counts"]
        self.keys.changed.update(delta["keys"])
        self._fingerprints_changed.update(delta["fingerprints"])
        if self._bucket_sums is not None:
            self._bucket_sums.update(delta["bucket_sums"])
        for name, value in delta["state"].items():
            setattr(self, name, value)

    def _install(self, index, keys, generation, loaded_state, notify=True):
        """Swap in a fully loaded index; the keys whose cached answers it drops."""
        # Only answers of add-ons that were indexed can be cached (none before the first load).
        changed = list(self.index) if notify else []
        self._built_before += (self.index.encoded_bytes + index.base_bytes()
                               + (len(keys.ids) + len(keys.positions)) * 8)
        self.index, self.keys = index, keys  # one reference each: requests see old or new
        self.queries, self.protocol = QUERIES[generation], compat.PROTOCOLS[generation]
        self._fingerprints_changed = {}
        for name, value in loaded_state.items():
            setattr(self, name, value)
        self.loaded = True
        if changed:
            self.on_change(changed)
        return changed

    def built_bytes(self):
        """Bytes of index this process has built since it started, loads and
        refreshes together, replaced ones too: what a forked worker has built
        since its fork is its own memory, not the arbiter's (vamo/core/recycle.py)."""
        return self._built_before + self.index.encoded_bytes

    def changed_bytes(self):
        """The encoded entries the overlay holds (what a full load would fold into the base)."""
        return sum(len(blob) for blob in list(self.index.overlay.values()) if blob is not None)

    def _read_sums(self, db, addon_ids):
        """{add-on id: fingerprint} of `addon_ids` as the database has them now ({} on SQLite)."""
        if self._fingerprints is None or not addon_ids:
            return {}
        sums = dict.fromkeys(addon_ids, 0)
        parts = self.queries.fingerprints
        for batch in _batches(addon_ids):
            # One round trip for all parts: a refresh of one add-on stays small.
            sql = " UNION ALL ".join(f"({part.format(group='', filter=_in_filter(column, batch))})"
                                     for part, column in parts)
            for addon_id, value in db.query(sql, tuple(batch) * len(parts)):
                sums[addon_id] += value
        return sums

    def _fingerprint(self, addon_id):
        value = self._fingerprints_changed.get(addon_id)
        return _fetch(self._fingerprints, addon_id) if value is None else value

    def _keep_sum(self, addon_id, value):
        # Beside the load's array, not written into it: in a worker each write
        # would copy a page of the array the arbiter shares (4 MiB at 530k,
        # nearly all of it after a few thousand changes).
        self._bucket_sums[addon_id // BUCKET] += value - self._fingerprint(addon_id)
        self._fingerprints_changed[addon_id] = value

    def reconcile(self, db):
        """Rebuild only the add-ons whose fingerprint moved since it was last read.

        Costs the serving process about one row per bucket plus the changed
        add-ons, where a full load costs every row (D21). False when it
        cannot (application versions changed): the caller loads in full.
        """
        started = time.monotonic()
        appversions = load_appversions(db)
        if appversions != self._appversions:
            return False
        parts = self.queries.fingerprints
        buckets = collections.Counter()
        for sql, _ in parts:
            for bucket, value in db.query(sql.format(group=f" DIV {BUCKET}", filter="")):
                buckets[bucket] += value
        # A bucket gone from the database entirely (all its rows deleted) has moved too.
        moved = sorted(bucket for bucket in buckets.keys() | self._bucket_sums.keys()
                       if buckets.get(bucket, 0) != self._bucket_sums.get(bucket, 0))
        changed = {}
        for bucket in moved:
            low, high = bucket * BUCKET, (bucket + 1) * BUCKET - 1
            now = collections.Counter()
            for sql, column in parts:
                for addon_id, value in db.query(
                        sql.format(group="", filter=f" AND {column} BETWEEN %s AND %s"), (low, high)):
                    now[addon_id] += value
            for addon_id in range(low, high + 1):
                value = now.get(addon_id, 0)
                if value != self._fingerprint(addon_id):
                    changed[addon_id] = value
        if changed:
            # Keep the sums of the rows the rebuild read (not those read above):
            # what is kept then always matches what is indexed.
            sums = {}
            self.apply(build_entries(db, self.queries, self._appversions, set(changed), sums), changed)
            for addon_id in changed:
                self._keep_sum(addon_id, sums.get(addon_id, 0))
        self.last_reconcile = {"seconds": round(time.monotonic() - started, 4), "buckets": len(moved),
                               "addons": len(changed)}
        log.info("update data reconciled: %d of %d buckets moved, %d add-ons rebuilt in %.3f s",
                 len(moved), len(self._bucket_sums), len(changed), self.last_reconcile["seconds"])
        return True

    # -- incremental refresh --------------------------------------------------------------
    def refresh(self, db):
        started = time.monotonic()
        state = db.query(APPVERSIONS_STATE_SQL)[0]
        if state != self._appversions_state:
            # An application version changed: every add-on may answer differently.
            return self.load(db)
        now = db.now()
        rows = [(table, row_id, addon_id, version_id, as_datetime(modified))
                for table, row_id, addon_id, version_id, modified
                in db.query(self.queries.changed, (self._since,) * self.queries.changed_parts)]
        # Rows already applied come back while they are in the commit-lag window: skip them.
        fresh = [row for row in rows if (row[0], row[1], row[4]) not in self._applied]
        whole, versions = self._plan(db, fresh)
        # The changed add-ons' fingerprints, read before their rows: what this
        # pass applies is not rebuilt again by the next reconciliation, and a
        # change committed in between shows up there as a difference.
        sums = self._read_sums(db, whole | versions.keys())
        if whole:
            self.apply(build_entries(db, self.queries, self._appversions, whole), whole)
        if versions:
            self.apply(self._patch_versions(db, versions), versions.keys())
        for addon_id, value in sums.items():
            self._keep_sum(addon_id, value)
        settled = now - SETTLED
        self._applied.update((table, row_id, modified) for table, row_id, _, _, modified in fresh
                             if modified is not None and modified < settled)
        newest = max((row[4] for row in rows if row[4] is not None), default=None)
        if newest is not None and (self._newest is None or newest > self._newest):
            self._newest = newest
        self._advance(now)
        self.last_refresh_seconds = time.monotonic() - started
        self.last_refresh_addons = len(whole) + len(versions)

    def _plan(self, db, rows):
        """Split the changed add-ons: (ids to rebuild whole, {id: changed version ids}).

        A version, file or app range row of an indexed add-on re-reads only its
        version: a new release of an add-on with a thousand versions costs one
        version's rows, not a thousand. Add-on and override rows, add-ons not
        indexed yet, and add-ons with overrides (compiled against all their
        versions) are rebuilt whole.
        """
        whole, versions = set(), collections.defaultdict(set)
        for _, _, addon_id, version_id, _ in rows:
            if version_id is None or addon_id not in self.keys:
                whole.add(addon_id)
            else:
                versions[addon_id].add(version_id)
        partial = set(versions) - whole
        if partial and self.queries.overrides:
            whole.update(row[0] for row in _select(db, WITH_OVERRIDES_SQL, "co.addon_id", partial))
        return whole, {addon_id: ids for addon_id, ids in versions.items() if addon_id not in whole}

    def _patch_versions(self, db, versions):
        """Entries of indexed add-ons with the candidates of `versions` ({add-on id: version ids}) re-read."""
        per_addon, modified = build_candidates(
            db, self.queries, self._appversions, "v.id", set().union(*versions.values()))
        entries = {}
        for addon_id, changed in versions.items():
            old = self.index[self.keys[addon_id]]
            by_app = collections.defaultdict(list)
            for app_id, candidates in old.candidates.items():
                by_app[app_id].extend(c for c in candidates if c.version_id not in changed)
            for app_id, candidates in per_addon.get(addon_id, {}).items():
                by_app[app_id].extend(candidates)
            entries[addon_id] = old._replace(candidates=_sorted_candidates(by_app),
                                             modified=max(old.modified, modified.get(addon_id, 0.0)))
        return entries

    def apply(self, entries, addon_ids):
        """Swap in fresh entries for `addon_ids` (absent from `entries`: no longer eligible)."""
        changed = []
        for addon_id in addon_ids:
            entry = entries.get(addon_id)
            old_key = self.keys.get(addon_id)
            new_key = entry.guid.lower() if entry else None
            if old_key is not None and old_key != new_key:
                self.index.pop(old_key, None)
                del self.keys[addon_id]
                changed.append(old_key)
            if entry is not None:
                previous = self.index.get(new_key)
                if entry.same_answers(previous):
                    continue
                if previous is not None:
                    # The answer changes now, even if no row carries a newer time.
                    entry = entry._replace(modified=max(entry.modified, previous.modified, time.time()))
                self.index[new_key] = entry
                if new_key != old_key:  # an unchanged key stays where the load put it: no slot per change
                    self.keys[addon_id] = new_key
                changed.append(new_key)
        if changed:
            self.on_change(changed)

    def _advance(self, now):
        """Move the start of the next refresh's window: the commit-lag window before the
        newest `modified` seen, but never after the database's clock (a writer
        whose clock runs behind the database's must still be read; one whose
        clock runs ahead must not hide later changes)."""
        newest = self._newest if self._newest is not None else now
        since = min(newest, now) - COMMIT_LAG
        if self._since is None or since > self._since:
            self._since = since
            self._applied = {seen for seen in self._applied if seen[2] >= since}
