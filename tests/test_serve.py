"""`vamo serve` over real sockets: meinheld alone, gunicorn with meinheld workers."""

import http.client
import json
import os
import signal
import threading
import time
from urllib.parse import urlencode

from tests.amo import FIREFOX, Amo
from tests.rawhttp import children
from tests.support import wait_until


def heartbeat_ok(server):
    return server.get("/__heartbeat__").status == 200


def test_serves_the_embedded_demo_database_by_default(serve):
    vamo = serve()  # no VAMO_DATABASE_URL: the embedded SQLite file with demo data
    assert wait_until(lambda: heartbeat_ok(vamo), 30), vamo.output()
    response = vamo.get("/__heartbeat__")
    assert json.loads(response.body)["status"] == "ok"
    assert response.header("server").startswith("meinheld")
    assert vamo.terminate() == 0


def test_keeps_connections_alive(serve):
    vamo = serve()
    conn = http.client.HTTPConnection("127.0.0.1", vamo.port, timeout=5)
    try:
        for _ in range(3):
            conn.request("GET", "/__lbheartbeat__")
            response = conn.getresponse()
            response.read()
            assert response.status == 200
            assert response.getheader("Connection", "").lower() != "close"
        first_socket = conn.sock
        conn.request("GET", "/__version__")
        conn.getresponse().read()
        assert conn.sock is first_socket
    finally:
        conn.close()


def test_sigterm_finishes_the_request_in_flight_and_exits_0(serve):
    vamo = serve()
    conn = http.client.HTTPConnection("127.0.0.1", vamo.port, timeout=5)
    conn.request("GET", "/__version__")
    vamo.process.send_signal(15)
    response = conn.getresponse()
    assert response.status == 200
    assert json.loads(response.read())["version"]
    conn.close()
    assert vamo.process.wait(20) == 0


def test_access_log_is_off_unless_asked(serve):
    quiet = serve()
    quiet.get("/marker-quiet")
    loud = serve({"VAMO_ACCESS_LOG": "on"})
    loud.get("/marker-loud?id=private")
    quiet.terminate()
    loud.terminate()
    assert "marker-quiet" not in quiet.output()
    (line,) = [line for line in loud.output().splitlines() if "marker-loud" in line]
    fields = json.loads(line)["Fields"]
    assert fields["path"] == "/marker-loud" and fields["code"] == 404
    assert "private" not in line


def test_gunicorn_workers_serve_from_mariadb(serve, demo_mysql_url):
    vamo = serve({"VAMO_DATABASE_URL": demo_mysql_url}, workers=2)
    assert wait_until(lambda: all(heartbeat_ok(vamo) for _ in range(6)), 30), vamo.output()
    assert "Booting worker" in vamo.output()
    assert vamo.terminate() == 0


def test_bad_port_is_one_line(serve):
    import subprocess
    import sys

    first = serve()
    env = {**first.env}
    result = subprocess.run([sys.executable, "-m", "vamo.cli", "serve"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "Address already in use" in result.stderr or "in use" in result.stderr


def test_a_replacement_worker_serves_current_data_from_its_first_answer(serve, mysql_db, mysql_url):
    amo = Amo(mysql_db)
    addon = amo.addon(guid="replaced@example.com")
    amo.release(addon, "1.0", min="3.0", max="*")
    # Refreshes far apart: the change reaches the new worker through the arbiter's
    # pass before forking it (and the worker's own first pass).
    vamo = serve({"VAMO_DATABASE_URL": mysql_url, "VAMO_REFRESH_SECONDS": "600"})
    path = "/update/VersionCheck.php?" + urlencode({
        "reqVersion": "2", "id": "replaced@example.com", "appID": FIREFOX.guid, "appVersion": "128.0"})
    assert b'"1.0"' in vamo.get(path).body
    amo.release(addon, "1.1", min="3.0", max="*")
    (worker,) = children(vamo.process.pid)
    os.kill(worker, signal.SIGKILL)
    assert wait_until(lambda: (pids := children(vamo.process.pid)) and worker not in pids, 30)
    first = vamo.get(path, timeout=30)  # waits in the listen backlog until the new worker accepts
    assert first.status == 200 and b'"1.1"' in first.body, first.body
    assert vamo.get("/__heartbeat__").status == 200


class KeepAliveClients:
    """`count` threads, each asking for `path` again and again on one keep-alive
    connection (reopened only when the server said it would close it); they
    note every failed request and the versions answered."""

    def __init__(self, port, path, count=4):
        self.port, self.path = port, path
        self.failures, self.bodies = [], []
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(count)]

    def _run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        while not self.stopping.is_set():
            try:
                conn.request("GET", self.path)
                response = conn.getresponse()
                body = response.read()
                if response.status != 200:
                    self.failures.append(response.status)
                self.bodies.append(body)
            except (OSError, http.client.HTTPException) as error:
                self.failures.append(repr(error))
                conn.close()
        conn.close()

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        for thread in self.threads:
            thread.join(15)


def test_a_worker_past_its_recycle_limit_is_replaced_and_no_request_fails(serve, mysql_db, mysql_url):
    amo = Amo(mysql_db)
    addon = amo.addon(guid="recycled@example.com")
    amo.release(addon, "1.0", min="3.0", max="*")
    # A limit a single changed add-on passes; one worker, so nothing else
    # accepts while it is replaced.
    vamo = serve({"VAMO_DATABASE_URL": mysql_url, "VAMO_REFRESH_SECONDS": "0.5",
                  "VAMO_RECYCLE_MB": "0.0001"})
    path = "/update/VersionCheck.php?" + urlencode({
        "reqVersion": "2", "id": "recycled@example.com", "appID": FIREFOX.guid, "appVersion": "128.0"})
    # Rows younger than the commit-lag window are applied again by the first
    # passes, which can replace the first workers: wait until they are settled.
    time.sleep(3)
    assert wait_until(lambda: len(children(vamo.process.pid)) == 1, 20)
    (first,) = children(vamo.process.pid)
    with KeepAliveClients(vamo.port, path) as clients:
        assert wait_until(lambda: len(clients.bodies) > 100, 20)
        amo.release(addon, "1.1", min="3.0", max="*")
        # The old worker applies the change, asks, is replaced and drains away.
        assert wait_until(lambda: (pids := children(vamo.process.pid)) and first not in pids, 60), \
            vamo.output()
        served = len(clients.bodies)
        assert wait_until(lambda: len(clients.bodies) > served + 100, 20)
    assert not clients.failures, clients.failures[:5]
    assert b'"1.1"' in clients.bodies[-1]
    (successor,) = children(vamo.process.pid)
    assert f"forked worker {successor} to replace worker {first}" in vamo.output()
    assert vamo.get("/__heartbeat__").status == 200


def test_no_worker_is_replaced_below_the_limit(serve, mysql_db, mysql_url):
    amo = Amo(mysql_db)
    addon = amo.addon(guid="kept@example.com")
    amo.release(addon, "1.0", min="3.0", max="*")
    vamo = serve({"VAMO_DATABASE_URL": mysql_url, "VAMO_REFRESH_SECONDS": "0.5"})  # the default limit
    path = "/update/VersionCheck.php?" + urlencode({
        "reqVersion": "2", "id": "kept@example.com", "appID": FIREFOX.guid, "appVersion": "128.0"})
    (first,) = children(vamo.process.pid)
    amo.release(addon, "1.1", min="3.0", max="*")
    assert wait_until(lambda: b'"1.1"' in vamo.get(path).body, 20)
    time.sleep(3)  # several more passes
    assert children(vamo.process.pid) == [first]


def test_a_replaced_worker_that_gets_no_request_leaves_too(serve, mysql_db, mysql_url):
    amo = Amo(mysql_db)
    addon = amo.addon(guid="idle@example.com")
    amo.release(addon, "1.0", min="3.0", max="*")
    vamo = serve({"VAMO_DATABASE_URL": mysql_url, "VAMO_REFRESH_SECONDS": "0.5",
                  "VAMO_RECYCLE_MB": "0.0001"})
    time.sleep(3)  # as above: the first passes may replace the first workers
    assert wait_until(lambda: len(children(vamo.process.pid)) == 1, 20)
    (first,) = children(vamo.process.pid)
    amo.release(addon, "1.1", min="3.0", max="*")
    # No request runs its drain: it is stopped after recycle.DRAIN_SECONDS.
    assert wait_until(lambda: (pids := children(vamo.process.pid)) and first not in pids, 40), vamo.output()
    assert wait_until(lambda: len(children(vamo.process.pid)) == 1, 40)
    assert b'"1.1"' in vamo.get("/update/VersionCheck.php?" + urlencode({
        "reqVersion": "2", "id": "idle@example.com", "appID": FIREFOX.guid, "appVersion": "128.0"})).body


def test_an_arbiter_holding_many_changes_loads_afresh_before_forking(serve, mysql_db, mysql_url):
    amo = Amo(mysql_db)
    addons = [amo.addon(guid=f"many-{number}@example.com") for number in range(8)]
    for addon in addons:
        amo.release(addon, "1.0", min="3.0", max="*")
    vamo = serve({"VAMO_DATABASE_URL": mysql_url, "VAMO_REFRESH_SECONDS": "0.5",
                  "VAMO_RECYCLE_MB": "0.0001"})
    paths = ["/update/VersionCheck.php?" + urlencode({
        "reqVersion": "2", "id": f"many-{number}@example.com", "appID": FIREFOX.guid, "appVersion": "128.0"})
        for number in range(8)]
    for version in ("1.1", "1.2"):  # the arbiter takes the first round's changes, then holds too many
        for addon in addons:
            amo.release(addon, version, min="3.0", max="*")
        assert wait_until(lambda: all(f'"{version}"'.encode() in vamo.get(path).body for path in paths), 30)
        time.sleep(3)  # a replacement or two
    assert wait_until(lambda: "loading afresh" in vamo.output(), 30), vamo.output()
    assert wait_until(lambda: len(children(vamo.process.pid)) == 1, 40)
    assert all(b'"1.2"' in vamo.get(path).body for path in paths)
