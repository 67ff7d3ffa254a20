"""The database going away under load: vamo keeps answering from the last
loaded data, the heartbeat says so, one error reaches Sentry, and the
refresher catches up when the database is back; the same when the database
hangs instead (stopped, not killed). Starting with the database down: 503
until the data is loaded."""

import http.client
import json
import os
import random
import signal
import threading
import time
from urllib.parse import urlencode

import pytest

from tests.amo import FIREFOX, Amo
from tests.support import FakeSentry, demo_database, wait_until
from vamo.dev import demo
from vamo.core.db import Database
from vamo.dev.devdb import MariaDBServer


@pytest.fixture
def own_mariadb():
    server = MariaDBServer()
    server.start()
    yield server
    server.cleanup()


def queries(rows, count, seed=1):
    rng = random.Random(seed)
    guids = [a["guid"] for a in rows["addons"] if a["guid"]]
    return ["/update/VersionCheck.php?" + urlencode({
        "reqVersion": "2", "id": rng.choice(guids), "version": "1.0", "appID": FIREFOX.guid,
        "appVersion": rng.choice(("48.0", "60.0", "91.0", "115.0", "128.0")),
        "appOS": rng.choice(("WINNT", "Linux", "Darwin")),
        "compatMode": rng.choice(("strict", "normal", "ignore"))}) for _ in range(count)]


class Load(threading.Thread):
    """Replays the queries on one keep-alive connection until stopped; records every answer."""

    def __init__(self, port, paths):
        super().__init__(daemon=True)
        self.port, self.paths = port, paths
        self.answers = []     # (path, status, body)
        self.errors = []      # socket errors
        self.stopped = threading.Event()

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        while not self.stopped.is_set():
            for path in self.paths:
                try:
                    conn.request("GET", path)
                    response = conn.getresponse()
                    self.answers.append((path, response.status, response.read()))
                except OSError as error:
                    self.errors.append(repr(error))
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        conn.close()

    def stop(self):
        self.stopped.set()
        self.join(30)


def test_serving_through_an_outage(serve, own_mariadb):
    url = demo_database(own_mariadb, addons=200, seed=5)
    rows = demo.build_rows(200, seed=5)
    sentry = FakeSentry()
    try:
        server = serve({"VAMO_DATABASE_URL": url, "VAMO_REFRESH_SECONDS": "0.3",
                        "VAMO_DB_CONNECT_TIMEOUT": "1",
                        "SENTRY_DSN": f"http://key@127.0.0.1:{sentry.port}/3"})
        assert wait_until(lambda: server.get("/__heartbeat__").status == 200, 20), server.output()
        paths = queries(rows, 200)
        before = {path: server.get(path).body for path in paths}

        load = Load(server.port, paths)
        load.start()
        own_mariadb.stop()
        heartbeat = wait_until(lambda: (r := server.get("/__heartbeat__")).status == 500 and r, 15)
        assert heartbeat, "the heartbeat did not notice the database going away"
        assert json.loads(heartbeat.body)["checks"]["database"] == "error"
        served_while_down = len(load.answers)
        wait_until(lambda: len(load.answers) > served_while_down + 500, 10)
        wait_until(lambda: False, 2)  # keep the load on while the refresher retries
        load.stop()

        assert not load.errors, load.errors[:3]
        assert load.answers, "no answers under load"
        assert {status for _, status, _ in load.answers} == {200}
        assert all(body == before[path] for path, _, body in load.answers), \
            "answers changed while the database was down"

        own_mariadb.start()
        assert wait_until(lambda: server.get("/__heartbeat__").status == 200, 40), server.output()
        amo = Amo(Database(url))
        addon = amo.addon(guid="after-outage@example.com")
        amo.release(addon, "1.0", min="3.0", max="*")
        assert wait_until(lambda: b'"1.0"' in server.get(queries_for("after-outage@example.com")).body, 10)

        def message(event):
            return event.get("message") or event.get("logentry", {}).get("message", "")

        outage_events = [event for event in sentry.events() if "database unreachable" in message(event)]
        assert len(outage_events) == 1, [e.get("message") for e in sentry.events()]
    finally:
        sentry.close()


def queries_for(guid):
    return "/update/VersionCheck.php?" + urlencode({
        "reqVersion": "2", "id": guid, "appID": FIREFOX.guid, "appVersion": "128.0"})


def test_starting_with_the_database_down_answers_503_until_loaded(serve, own_mariadb):
    url = demo_database(own_mariadb, addons=30, seed=2)
    own_mariadb.stop()
    server = serve({"VAMO_DATABASE_URL": url, "VAMO_REFRESH_SECONDS": "0.3",
                    "VAMO_DB_CONNECT_TIMEOUT": "1"})
    path = queries_for("anything@example.com")
    assert server.get(path).status == 503
    assert server.get("/__heartbeat__").status == 500
    wait_until(lambda: False, 1.5)  # a few retries later: still retrying, still 503
    assert server.get(path).status == 503
    own_mariadb.start()
    assert wait_until(lambda: server.get(path).status == 200, 40), server.output()
    # The update data loads first; the heartbeat passes once the pass has loaded every app.
    assert wait_until(lambda: server.get("/__heartbeat__").status == 200, 10), server.get("/__heartbeat__").body


def test_a_hung_database_fails_the_heartbeat_in_time_and_changes_show_after_it(serve, own_mariadb):
    """mariadbd stopped (SIGSTOP): connections stay open, nothing answers."""
    url = demo_database(own_mariadb, addons=30, seed=3)
    refresh, refresh_timeout = 1.0, 2.0
    server = serve({"VAMO_DATABASE_URL": url, "VAMO_REFRESH_SECONDS": str(refresh),
                    "VAMO_DB_REFRESH_TIMEOUT": str(refresh_timeout), "VAMO_DB_CONNECT_TIMEOUT": "2"})
    assert wait_until(lambda: server.get("/__heartbeat__").status == 200, 20), server.output()
    amo = Amo(Database(url))
    addon = amo.addon(guid="hung@example.com")
    amo.release(addon, "1.0", min="3.0", max="*")
    path = queries_for("hung@example.com")
    assert wait_until(lambda: b'"1.0"' in server.get(path).body, 10)

    pid = own_mariadb.process.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        stopped = time.monotonic()
        # The bound: 2 x VAMO_REFRESH_SECONDS + the timeout of a hung database.
        bound = 2 * refresh + refresh_timeout
        heartbeat = wait_until(lambda: (r := server.get("/__heartbeat__")).status == 500 and r, bound + 2)
        noticed = time.monotonic() - stopped
        assert heartbeat, f"heartbeat still 200 {noticed:.1f} s after the database hung"
        assert noticed <= bound + 1, f"heartbeat 500 only after {noticed:.1f} s (bound {bound:.1f} s)"
        assert json.loads(heartbeat.body)["checks"]["database"] == "error"
        assert b'"1.0"' in server.get(path).body  # still serving the loaded data
        # A request that needs the database (an uncached theme check) gets 503 within
        # the short timeouts, not after VAMO_DB_READ_TIMEOUT (60 s) with the worker held.
        assert server.get("/en-US/themes/update-check/424242", timeout=30).status == 503
        assert b'"1.0"' in server.get(path).body
        wait_until(lambda: False, refresh_timeout + 1)  # a retry or two against the hung server
    finally:
        os.kill(pid, signal.SIGCONT)

    assert wait_until(lambda: server.get("/__heartbeat__").status == 200, 20), server.output()
    amo.release(addon, "1.1", min="3.0", max="*")
    changed = time.monotonic()
    assert wait_until(lambda: b'"1.1"' in server.get(path).body, 10, interval=0.02)
    shown = time.monotonic() - changed
    # The normal freshness bound (tests/test_update_freshness.py): VAMO_REFRESH_SECONDS + 1 s.
    assert shown <= refresh + 1, f"a change made after recovery showed after {shown:.1f} s"
    assert "Traceback" not in server.output()
