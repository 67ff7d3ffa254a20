"""D18: a change committed in MariaDB reaches the HTTP answer within
VAMO_REFRESH_SECONDS + 1 s, over a real socket, on both schema generations
(the current one stamps DATETIME(6))."""

import json
import time
from urllib.parse import urlencode

from tests.amo import FIREFOX, Amo
from tests.support import wait_until
from vamo.core.db import Database

REFRESH_SECONDS = 1.0
BOUND = REFRESH_SECONDS + 1.0


def update_url(guid):
    return "/update/VersionCheck.php?" + urlencode({
        "reqVersion": "2", "id": guid, "version": "1.0", "appID": FIREFOX.guid,
        "appVersion": "5.0", "appOS": "Linux", "compatMode": "normal"})


def offered(server, guid):
    response = server.get(update_url(guid))
    if response.status != 200:
        return response.status  # 503 until the data has loaded
    body = json.loads(response.body)
    if not body:
        return "gone"
    updates = body["addons"][guid]["updates"]
    return updates[0]["version"] if updates else None


def time_until(server, guid, expected):
    """Seconds from now until the served answer is `expected` (None if never within 10 s)."""
    start = time.monotonic()
    if wait_until(lambda: offered(server, guid) == expected, 10, interval=0.02):
        return time.monotonic() - start
    return None


def test_a_new_version_and_a_disabled_addon_show_up_within_the_refresh_bound(serve, generation_url):
    generation, mysql_url = generation_url
    mysql_db = Database(mysql_url)
    amo = Amo(mysql_db, generation)
    addon = amo.addon(guid="fresh@example.com")
    amo.release(addon, "1.0")
    other = amo.addon(guid="bystander@example.com")
    amo.release(other, "3.0")
    server = serve({"VAMO_DATABASE_URL": mysql_url, "VAMO_REFRESH_SECONDS": str(REFRESH_SECONDS)})
    assert wait_until(lambda: server.get("/__heartbeat__").status == 200, 20), server.output()
    assert offered(server, "fresh@example.com") == "1.0"
    assert offered(server, "fresh@example.com") == "1.0"  # answered from the cache now

    amo.release(addon, "1.1")  # committed (autocommit)
    new_version = time_until(server, "fresh@example.com", "1.1")
    assert new_version is not None and new_version <= BOUND, f"new version served after {new_version} s"

    mysql_db.execute("UPDATE addons SET status = 5, modified = NOW() WHERE id = %s", (addon,))
    disabled = time_until(server, "fresh@example.com", "gone")
    assert disabled is not None and disabled <= BOUND, f"disabled add-on served for {disabled} s"

    mysql_db.execute("UPDATE addons SET status = 11, modified = NOW() WHERE id = %s", (other,))
    deleted = time_until(server, "bystander@example.com", "gone")
    assert deleted is not None and deleted <= BOUND, f"deleted add-on served for {deleted} s"
    print(f"\nfreshness ({generation}): new version {new_version:.2f} s, disabled {disabled:.2f} s, "
          f"deleted {deleted:.2f} s (bound {BOUND:.1f} s)")
    mysql_db.close()


def test_reconciliation_catches_changes_without_a_timestamp(serve, generation_url):
    generation, mysql_url = generation_url
    mysql_db = Database(mysql_url)
    amo = Amo(mysql_db, generation)
    addon = amo.addon(guid="sneaky@example.com")
    amo.release(addon, "1.0")
    newer = amo.release(addon, "2.0")
    server = serve({"VAMO_DATABASE_URL": mysql_url, "VAMO_REFRESH_SECONDS": "0.5",
                    "VAMO_RECONCILE_SECONDS": "3"})
    assert wait_until(lambda: offered(server, "sneaky@example.com") == "2.0", 20), server.output()
    # A hard delete leaves no `modified` behind; only the full reconciliation sees it.
    mysql_db.execute("DELETE FROM files WHERE version_id = %s", (newer,))
    assert wait_until(lambda: offered(server, "sneaky@example.com") == "1.0", 15)
    mysql_db.close()
