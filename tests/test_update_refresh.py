"""The update index's refresh: changes by `modified`, each applied once, and
refresh cost that follows the number of changes."""

from tests.amo import Amo
from vamo.db import Database
from vamo.update_index import UpdateData


def test_a_burst_of_changes_is_applied_and_then_left_alone(mysql_url):
    db = Database(mysql_url)
    amo = Amo(db)
    addons = [amo.addon(guid=f"burst{n}@example.com") for n in range(30)]
    for addon in addons:
        amo.release(addon, "1.0")
    data = UpdateData()
    # Rows written a minute ago, long settled.
    db.execute("UPDATE versions SET modified = modified - INTERVAL 1 MINUTE")
    db.execute("UPDATE files SET modified = modified - INTERVAL 1 MINUTE")
    db.execute("UPDATE applications_versions SET modified = modified - INTERVAL 1 MINUTE")
    db.execute("UPDATE addons SET modified = modified - INTERVAL 1 MINUTE")
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
