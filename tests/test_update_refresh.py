"""The update index's refresh: changes by `modified`, each applied once, and
refresh cost that follows the number of changes."""

import logging
import random

import pytest

from tests.amo import FIREFOX, Amo
from tests.support import demo_database
from vamo.core.db import Database
from vamo.core.refresh import Refresher
from vamo.dev.devdb import free_port
from vamo.update_index import UpdateData, build_entries

TABLES_WITH_MODIFIED = ("addons", "versions", "files", "applications_versions", "compat_override",
                        "compat_override_range")


def written_a_minute_ago(db, generation="classic"):
    """Date every row the update index reads a minute back, as if written then."""
    for table in TABLES_WITH_MODIFIED[:4] if generation == "current" else TABLES_WITH_MODIFIED:
        db.execute(f"UPDATE {table} SET modified = modified - INTERVAL 1 MINUTE")


def test_a_burst_of_changes_is_applied_and_then_left_alone(mysql_url):
    db = Database(mysql_url)
    amo = Amo(db)
    addons = [amo.addon(guid=f"burst{n}@example.com") for n in range(30)]
    for addon in addons:
        amo.release(addon, "1.0")
    data = UpdateData()
    written_a_minute_ago(db)  # long settled
    data.load(db)
    data.refresh(db)  # the first pass after a load reads the overlap once
    data.refresh(db)
    assert data.last_refresh_addons == 0

    # A burst committed a few seconds ago: applied once, then skipped on later passes.
    for addon in addons[:12]:
        vid = amo.release(addon, "2.0")
        db.execute("UPDATE versions SET modified = NOW() - INTERVAL 5 SECOND WHERE id = %s", (vid,))
        db.execute("UPDATE files SET modified = NOW() - INTERVAL 5 SECOND WHERE version_id = %s", (vid,))
        db.execute("UPDATE applications_versions SET modified = NOW() - INTERVAL 5 SECOND "
                   "WHERE version_id = %s", (vid,))
    data.refresh(db)
    assert data.last_refresh_addons == 12
    assert all(data.index[f"burst{n}@example.com"].candidates[1][0].release.version == "2.0"
               for n in range(12))
    data.refresh(db)
    data.refresh(db)
    assert data.last_refresh_addons == 0
    db.close()


def test_a_second_change_within_the_same_second_is_not_lost(mysql_url):
    db = Database(mysql_url)
    amo = Amo(db)
    addon = amo.addon(guid="twice@example.com")
    vid = amo.release(addon, "1.0")
    data = UpdateData()
    data.load(db)
    # Two changes stamped with the same second; a refresh runs between them.
    db.execute("UPDATE versions SET version = '1.1', modified = NOW() WHERE id = %s", (vid,))
    stamp = db.query("SELECT modified FROM versions WHERE id = %s", (vid,))[0][0]
    data.refresh(db)
    db.execute("UPDATE versions SET version = '1.2', modified = %s WHERE id = %s", (stamp, vid))
    data.refresh(db)
    assert data.index["twice@example.com"].candidates[1][0].release.version == "1.2"
    db.close()


# Changes of every kind a refresh must apply, each stamped NOW() as AMO's models do.
CHANGES = [
    "UPDATE files SET hash = CONCAT('sha256:', MD5(RAND())), modified = NOW() WHERE id = %(file)s",
    "UPDATE files SET status = IF(status = 4, 5, 4), modified = NOW() WHERE id = %(file)s",
    "UPDATE files SET platform_id = IF(platform_id = 1, 5, 1), modified = NOW() WHERE id = %(file)s",
    "UPDATE files SET strict_compatibility = 1 - strict_compatibility, modified = NOW() WHERE id = %(file)s",
    "UPDATE versions SET deleted = 1 - deleted, modified = NOW() WHERE id = %(version)s",
    "UPDATE versions SET channel = 3 - channel, modified = NOW() WHERE id = %(version)s",
    "UPDATE versions SET version = CONCAT(version, '.1'), modified = NOW() WHERE id = %(version)s",
    "UPDATE versions SET releasenotes = IF(releasenotes IS NULL, 1, NULL), modified = NOW() "
    "WHERE id = %(version)s",
    "UPDATE applications_versions av JOIN appversions low ON low.application_id = av.application_id "
    "SET av.min = low.id, av.modified = NOW() WHERE av.id = %(range)s AND low.id = %(appversion)s",
    "UPDATE applications_versions av JOIN appversions high ON high.application_id = av.application_id "
    "SET av.max = high.id, av.modified = NOW() WHERE av.id = %(range)s AND high.id = %(appversion)s",
    "UPDATE addons SET status = IF(status = 4, 5, 4), modified = NOW() WHERE id = %(addon)s",
    "UPDATE addons SET inactive = 1 - inactive, modified = NOW() WHERE id = %(addon)s",
    "UPDATE addons SET guid = UPPER(guid), modified = NOW() WHERE id = %(addon)s",
    "UPDATE compat_override_range SET max_version = '*', modified = NOW() WHERE id = %(override)s",
]


def row_ids(db, classic):
    """The ids the change statements pick from, by placeholder name."""
    return {name: [row[0] for row in db.query(sql)] for name, sql in {
        "file": "SELECT id FROM files", "version": "SELECT id FROM versions",
        "range": "SELECT id FROM applications_versions", "appversion": "SELECT id FROM appversions",
        "addon": "SELECT id FROM addons",
        "override": "SELECT id FROM compat_override_range" if classic else "SELECT 0 FROM addons WHERE 0"
    }.items()}


def for_generation(statements, classic):
    """The change statements a generation's tables can take (the current one has no
    platforms or compat overrides)."""
    return [statement for statement in statements
            if classic or ("platform_id" not in statement and "compat_override" not in statement)]


@pytest.mark.parametrize("generation", ["classic", "current"])
def test_refreshes_after_changes_of_every_kind_equal_a_full_load(mariadb, generation):
    """Whatever a refresh patched in place must answer as a load from scratch would."""
    db = Database(demo_database(mariadb, addons=150, seed=7, shape="edge", generation=generation))
    classic = generation == "classic"
    rng = random.Random(7)
    ids = row_ids(db, classic)
    changes = for_generation(CHANGES, classic)
    if not classic:  # DATETIME(6): stamps with microseconds, as Django writes them
        changes = [change.replace("NOW()", "NOW(6)") for change in changes]
    # A history-rich add-on gets a new release in every round, as popular ones do.
    heavy = db.query("SELECT addon_id FROM versions GROUP BY addon_id ORDER BY COUNT(*) DESC LIMIT 1")[0][0]
    amo = Amo(db, generation)
    # An add-on whose override excludes all its versions, "0" to "*": each new
    # release moves the override's upper bound.
    overridden = amo.addon(guid="overridden@example.com")
    amo.release(overridden, "1.0", min="3.0", max="*")
    if classic:
        amo.override(overridden, (1, "0", "*", FIREFOX, "0", "*"))
    written_a_minute_ago(db, generation)  # each refresh below reads only the round's changes
    data = UpdateData()
    data.load(db)
    assert data.protocol.generation == generation
    for round_number in range(6):
        for _ in range(40):
            change = rng.choice(changes)
            if "%(override)s" in change and not ids["override"]:
                continue
            db.execute(change, {name: rng.choice(values) if values else 0 for name, values in ids.items()})
        amo.release(heavy, f"99.{round_number}", min="3.0", max="*")
        amo.release(overridden, f"2.{round_number}", min="3.0", max="*")
        data.refresh(db)
        fresh = UpdateData()
        fresh.load(db)
        assert data.index.keys() == fresh.index.keys(), f"round {round_number}"
        different = [key for key, entry in fresh.index.items() if not entry.same_answers(data.index[key])]
        assert not different, f"round {round_number}: {different[:5]}"
    db.close()


# The same changes made behind the refresher's back (no `modified`), and hard deletes.
UNSTAMPED = [change.replace(", av.modified = NOW()", "").replace(", modified = NOW()", "") for change in CHANGES] + [
    "DELETE FROM files WHERE id = %(file)s",
    "DELETE FROM applications_versions WHERE id = %(range)s",
    "DELETE FROM compat_override_range WHERE id = %(override)s",
]


@pytest.mark.parametrize("generation", ["classic", "current"])
def test_a_reconciliation_by_fingerprint_equals_a_full_load(mariadb, generation):
    """Changes without a timestamp and hard deletes are found by their fingerprints, and
    only the add-ons they touch are rebuilt."""
    db = Database(demo_database(mariadb, addons=300, seed=11, shape="edge", generation=generation))
    classic = generation == "classic"
    rng = random.Random(11)
    ids = row_ids(db, classic)
    changes = for_generation(UNSTAMPED, classic)
    data = UpdateData()
    data.load(db)
    data.load(db)  # nothing changed: nothing rebuilt
    assert data.last_reconcile["addons"] == 0
    for round_number in range(4):
        for _ in range(15):
            change = rng.choice(changes)
            if "%(override)s" in change and not ids["override"]:
                continue
            db.execute(change, {name: rng.choice(values) if values else 0 for name, values in ids.items()})
        data.load(db)
        assert 0 < data.last_reconcile["addons"] <= 15, data.last_reconcile
        fresh = UpdateData()
        fresh.load(db)
        assert data.index.keys() == fresh.index.keys(), f"round {round_number}"
        different = [key for key, entry in fresh.index.items() if not entry.same_answers(data.index[key])]
        assert not different, f"round {round_number}: {different[:5]}"
        data.load(db)
        assert data.last_reconcile["addons"] == 0, f"round {round_number}: {data.last_reconcile}"
    # What a refresh applied (with a timestamp) is not rebuilt again by the next reconciliation.
    written_a_minute_ago(db, generation)
    data.refresh(db)
    # ... and is kept beside the loaded fingerprints, not written into them:
    # forked workers share that array with the arbiter.
    loaded = bytes(data._fingerprints)
    stamped = [change.replace("NOW()", "NOW(6)") if not classic else change for change in CHANGES
               if classic or ("platform_id" not in change and "compat_override" not in change)]
    for _ in range(10):
        change = rng.choice(stamped)
        if "%(override)s" in change and not ids["override"]:
            continue
        db.execute(change, {name: rng.choice(values) if values else 0 for name, values in ids.items()})
    data.refresh(db)
    assert data.last_refresh_addons > 0
    assert bytes(data._fingerprints) == loaded
    data.load(db)
    assert data.last_reconcile["addons"] == 0, data.last_reconcile
    db.close()


def bytes_read(db, action):
    """Bytes the database sent to `db`'s session while `action` ran."""
    def sent():
        return int(db.query("SHOW SESSION STATUS LIKE 'Bytes_sent'")[0][1])
    before = sent()
    action()
    return sent() - before


def test_a_new_release_of_a_long_history_reads_that_version_not_the_history(mysql_url):
    db = Database(mysql_url)
    amo = Amo(db)
    addon = amo.addon(guid="long-history@example.com")
    for n in range(300):
        amo.release(addon, f"1.{n}", min="3.0", max="*")
    written_a_minute_ago(db)
    data = UpdateData()
    data.load(db)
    amo.addon(guid="recent@example.com")  # a change now: the next refresh asks for the last 30 s only
    data.refresh(db)
    whole = bytes_read(db, lambda: build_entries(db, data.queries, data._appversions, {addon}))

    amo.release(addon, "2.0", min="3.0", max="*")
    patched = bytes_read(db, lambda: data.refresh(db))
    assert data.index["long-history@example.com"].candidates[FIREFOX.id][0].release.version == "2.0"
    # The refresh's own questions (a few kB, mostly column descriptions) plus
    # one version's rows: a small part of reading the 300-version history.
    assert patched < whole / 5, (patched, whole)
    db.close()


def test_text_columns_with_separators_and_any_characters_load_as_stored(mysql_url):
    """The load reads each row as one packed text (numbers, then the texts end to
    end by their lengths): commas, unit separators, pipes and characters outside
    the BMP in GUIDs, slugs, versions, filenames and hashes come back whole."""
    db = Database(mysql_url)
    amo = Amo(db)
    guid = "odd,\x1f|é🦊@example.com"
    addon = amo.addon(guid=guid, slug="s,\x1f|🦊")
    amo.release(addon, "1.0,\x1fβ🦊", hash="sha256:,\x1f🦊", filename="dir,\x1f/🦊 file.xpi")
    plain = amo.addon(guid="plain@example.com")
    amo.release(plain, "2.0")
    data = UpdateData()
    data.load(db)
    entry = data.index[guid.lower()]
    release = entry.candidates[FIREFOX.id][0].release
    assert (entry.guid, entry.slug) == (guid, "s,\x1f|🦊")
    assert (release.version, release.hash, release.filename) == ("1.0,\x1fβ🦊", "sha256:,\x1f🦊", "dir,\x1f/🦊 file.xpi")
    assert data.index["plain@example.com"].slug == db.query("SELECT slug FROM addons WHERE id = %s", (plain,))[0][0]
    assert data.index["plain@example.com"].candidates[FIREFOX.id][0].release.version == "2.0"


def test_the_first_load_in_a_child_process_answers_as_a_load_in_place(mariadb, caplog):
    """`vamo serve` loads in a child process (its leftovers die with it) and takes
    the index over: the same answers, and refreshes and reconciliations carry on
    from it as from a load in place."""
    url = demo_database(mariadb, addons=200, seed=5, shape="edge", generation="current")
    data = UpdateData()
    refresher = Refresher(url, [data])
    caplog.set_level(logging.INFO, logger="vamo")
    assert refresher.first_load()
    # The full load logged in the child; this process only refreshed.
    assert not [r for r in caplog.records if r.getMessage().startswith("update data loaded")]
    assert data.loaded and refresher.checks()["update_data"][0]
    db = Database(url)
    in_place = UpdateData()
    in_place.load(db)
    assert data.index.keys() == in_place.index.keys() and len(data.index) == len(in_place.index) > 100
    assert not [key for key, entry in in_place.index.items() if not entry.same_answers(data.index[key])]

    # A change without a timestamp: the handed-over fingerprints find it, and only it.
    file_id = db.query("SELECT f.id FROM files f JOIN versions v ON v.id = f.version_id "
                       "WHERE f.status = 4 AND v.deleted = 0 AND v.channel = 2 LIMIT 1")[0][0]
    db.execute("UPDATE files SET hash = 'sha256:0123' WHERE id = %s", (file_id,))
    data.load(db)
    assert data.last_reconcile["addons"] == 1
    # A stamped change: the handed-over watermark lets a refresh find it.
    written_a_minute_ago(db, "current")
    data.refresh(db)
    db.execute("UPDATE files SET hash = 'sha256:4567', modified = NOW() WHERE id = %s", (file_id,))
    data.refresh(db)
    assert data.last_refresh_addons == 1
    db.close()
    refresher.stop()


def test_the_first_load_falls_back_to_loading_in_place_and_reports_an_unreachable_database():
    data = UpdateData()
    refresher = Refresher(f"mysql://vamo@127.0.0.1:{free_port()}/nothing", [data], connect_timeout=1)
    assert not refresher.first_load()
    assert not data.loaded
    ok, detail = refresher.checks()["database"]
    assert not ok and "unreachable" in detail


def answers_as_a_fresh_load(data, db):
    fresh = UpdateData()
    fresh.load(db)
    assert data.index.keys() == fresh.index.keys()
    top = db.query("SELECT MAX(id) FROM addons")[0][0]
    assert [data.keys.get(addon_id) for addon_id in range(top + 1)] == [
        fresh.keys.get(addon_id) for addon_id in range(top + 1)]
    return not [key for key, entry in fresh.index.items() if not entry.same_answers(data.index[key])]


@pytest.mark.parametrize("generation", ["classic", "current"])
def test_the_arbiters_pass_before_a_fork_refreshes_in_a_child_and_takes_only_the_changes(
        mariadb, generation, caplog):
    """Before forking a replacement worker the arbiter refreshes its copy in a child
    (its leftovers die with it) and applies what the child sends back: after stamped
    changes, a change without a stamp (at the reconciliation) and an application
    version's change (a full load), it answers as a load from scratch."""
    url = demo_database(mariadb, addons=150, seed=9, shape="edge", generation=generation)
    db = Database(url)
    classic = generation == "classic"
    rng = random.Random(9)
    ids = row_ids(db, classic)
    written_a_minute_ago(db, generation)
    data = UpdateData()
    changed_keys = []
    data.on_change = changed_keys.extend
    refresher = Refresher(url, [data], reconcile_seconds=600)
    assert refresher.first_load()
    amo = Amo(db, generation)
    changes = for_generation(CHANGES, classic)
    if not classic:
        changes = [change.replace("NOW()", "NOW(6)") for change in changes]
    for round_number in range(3):
        for _ in range(30):
            change = rng.choice(changes)
            if "%(override)s" in change and not ids["override"]:
                continue
            db.execute(change, {name: rng.choice(values) if values else 0 for name, values in ids.items()})
        if round_number == 0:  # an add-on the load did not see...
            arrived = amo.addon(guid="arrived@example.com")
            amo.release(arrived, "1.0", min="3.0", max="*")
        elif round_number == 1:  # ... and gone again
            db.execute("UPDATE addons SET status = 5, modified = NOW(6) WHERE id = %s", (arrived,))
        overlay = len(data.index.overlay)
        caplog.clear()
        assert refresher.refresh_before_fork()
        assert answers_as_a_fresh_load(data, db), f"round {round_number}"
        assert len(data.index.overlay) != overlay and data.built_bytes() > 0
        assert ("arrived@example.com" in data.index) == (round_number == 0)
    assert not changed_keys  # applied here without a refresh of this process's own
    # A change without a timestamp, found by the child's reconciliation.
    file_id = db.query("SELECT f.id FROM files f JOIN versions v ON v.id = f.version_id "
                       "WHERE f.status = 4 AND v.deleted = 0 AND v.channel = 2 LIMIT 1")[0][0]
    db.execute("UPDATE files SET hash = 'sha256:89ab' WHERE id = %s", (file_id,))
    refresher._next_reconcile = 0
    assert refresher.refresh_before_fork()
    assert data.last_reconcile["addons"] == 1 and refresher._next_reconcile > 0
    assert answers_as_a_fresh_load(data, db)
    # An application version's change: the child loads in full and hands the whole index over.
    index = data.index
    db.execute("INSERT INTO appversions (application_id, version, version_int, created, modified) "
               "VALUES (%s, '999.0', 0, NOW(), NOW())", (FIREFOX.id,))
    assert refresher.refresh_before_fork()
    assert data.index is not index and not data.index.overlay
    assert answers_as_a_fresh_load(data, db)
    # Every pass ran in the child: this process never loaded or reconciled.
    assert not [record for record in caplog.records
                if record.getMessage().startswith(("update data loaded", "update data reconciled"))]
    db.close()
