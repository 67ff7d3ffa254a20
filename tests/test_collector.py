"""The garbage collector in a worker (vamo/core/collector.py).

A worker collects between requests and freezes what survived, so no later
collection walks it again. Two things must hold for that to free all
garbage: the update check makes no reference cycles (its cached answers
and decoded entries are frozen for good, and a cycle among them would
never be freed), and what the collector freezes is never garbage already
(the other routes go through werkzeug's URL matcher, which makes a cycle
per match). Both are checked here with the collector's automatic runs off,
on every kind of request, answered or refused.
"""

import gc
import io
import sys
from urllib.parse import urlencode

import pytest

from tests.amo import FIREFOX
from tests.support import make_config
from vamo.app import create_app
from vamo.core.db import Database

VERSIONCHECK = "versioncheck.addons.mozilla.org"
BLOCKLIST = "blocklist.addons.mozilla.org"
AMO = "addons.mozilla.org"


def call(app, host, path, query="", method="GET", headers=None):
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query, "HTTP_HOST": host,
               "SERVER_NAME": host, "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
               "wsgi.url_scheme": "https", "wsgi.input": io.BytesIO(b""), "wsgi.errors": sys.stderr,
               **(headers or {})}
    started = []
    body = b"".join(app(environ, lambda status, response_headers, exc_info=None: started.append(
        (status, dict(response_headers)))))
    return started[0][0], started[0][1], body


def update_query(guid, version):
    return urlencode({"reqVersion": "2", "id": guid, "version": "1.0", "appID": FIREFOX.guid,
                      "appVersion": version, "appOS": "WINNT", "compatMode": "normal"})


def every_kind_of_update_check(guids, etag):
    for guid in guids:
        for version in ("128.0", "3.0", "999.0"):
            yield VERSIONCHECK, "/update/VersionCheck.php", update_query(guid, version), "GET", None
            yield VERSIONCHECK, "/update/VersionCheck.php", update_query(guid, version), "HEAD", None
    yield VERSIONCHECK, "/update/VersionCheck.php", update_query(guids[0], "128.0"), "GET", {
        "HTTP_IF_NONE_MATCH": etag}
    for query in ("", "id=x", "id=%ff&appID=x&appVersion=1", "appID=" + "%" * 9000, "id=unknown@example.com"
                  f"&appID={FIREFOX.guid}&appVersion=128.0", "id=x&appID=%7Bnone%7D&appVersion=1"):
        yield VERSIONCHECK, "/update/VersionCheck.php", query, "GET", None
    yield VERSIONCHECK, "/update/VersionCheck.php", "", "POST", None


@pytest.mark.parametrize("cache_size", [100000, 0], ids=["cache on", "cache off: every answer decoded and rendered"])
def test_no_update_check_leaves_cyclic_garbage(demo_mysql_url, cache_size):
    db = Database(demo_mysql_url)
    guids = [row[0] for row in db.query("SELECT guid FROM addons WHERE guid IS NOT NULL ORDER BY id LIMIT 40")]
    db.close()
    service = create_app(make_config(database_url=demo_mysql_url, cache_size=cache_size), setup_logging=False)
    assert service.refresher.run_once()
    etag = call(service, VERSIONCHECK, "/update/VersionCheck.php", update_query(guids[0], "128.0"))[1]["ETag"]
    requests = list(every_kind_of_update_check(guids, etag))
    statuses = {call(service, *request)[0][:3] for request in requests}  # first answers fill the caches
    assert {"200", "304", "400", "405"} <= statuses, statuses
    gc.collect()
    gc.disable()
    try:
        for _ in range(3):
            for request in requests:
                call(service, *request)
        found = gc.collect()
    finally:
        gc.enable()
    assert found == 0, f"{found} objects in reference cycles, freed only by a collection"


def routed_requests(theme_ids):
    for theme_id in theme_ids:
        yield VERSIONCHECK, f"/en-US/themes/update-check/{theme_id}", "", "GET", None
    yield VERSIONCHECK, "/themes/update-check/nothing", "", "GET", None
    for path in ("/blocklist/3/%7Bec8030f7-c20a-464f-9b0e-13a3a9e97384%7D/128.0/", "/blocked/blocklists.json",
                 "/en-US/firefox/blocked/", "/blocklist/x"):
        yield BLOCKLIST, path, "", "GET", None
    for host, path in ((AMO, "/services/pfs.php"), (AMO, "/versions/updateInfo/1"), (AMO, "/nothing/here"),
                       ("elsewhere.example", "/"), (VERSIONCHECK, "/__lbheartbeat__"),
                       (VERSIONCHECK, "/__heartbeat__")):
        yield host, path, "", "GET", None


def test_between_requests_the_collector_frees_what_requests_left_and_freezes_only_what_lives(demo_mysql_url):
    db = Database(demo_mysql_url)
    guids = [row[0] for row in db.query("SELECT guid FROM addons WHERE guid IS NOT NULL ORDER BY id LIMIT 20")]
    theme_ids = [row[0] for row in db.query("SELECT id FROM addons WHERE addontype_id = 9 ORDER BY id LIMIT 5")]
    db.close()
    service = create_app(make_config(database_url=demo_mysql_url), setup_logging=False)
    assert service.refresher.run_once()
    etag = call(service, VERSIONCHECK, "/update/VersionCheck.php", update_query(guids[0], "128.0"))[1]["ETag"]
    requests = list(every_kind_of_update_check(guids, etag)) + list(routed_requests(theme_ids))
    statuses = {call(service, *request)[0][:3] for request in requests}
    assert {"200", "301", "302", "304", "400", "404", "405"} <= statuses, statuses
    # Start from a process whose frozen objects hold no garbage.
    gc.collect()
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    service.collector.start(every=7)
    gc.disable()
    try:
        for _ in range(3):
            for request in requests:
                call(service, *request)
        assert service.collector.requests < 7  # it ran every 7 requests
        assert gc.collect() > 0  # the cycles of the requests since its last run: not frozen
        gc.unfreeze()
        leaked = gc.collect()  # garbage it froze: in a worker, never freed
    finally:
        gc.enable()
        gc.freeze()
    assert leaked == 0, f"{leaked} objects frozen as garbage"
