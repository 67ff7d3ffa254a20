"""`vamo serve` over real sockets: meinheld alone, gunicorn with meinheld workers."""

import http.client
import json
import os
import signal
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
