"""The update check makes no reference cycles.

After each refresher pass a worker freezes what requests kept (cached
answers, decoded entries), so the collector never walks it again
(vamo/core/refresh.py): a cycle among those objects would never be freed.
So every kind of update-check request, answered or refused, is served here
in-process with the collector off, and a collection afterwards must find
nothing to free. (Other routes go through werkzeug's URL matcher, which
makes a short-lived cycle per match: garbage at once, collected young.)
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
