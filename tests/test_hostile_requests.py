"""What an attacker can send to `vamo serve` over a real socket (issue 11): no
request kills, poisons or bloats the server.

- Raw HTTP fuzzing: malformed request lines, huge and numerous headers,
  chunked bodies (with trailers, bad sizes), conflicting lengths, pipelining,
  CONNECT, Upgrade, absolute-form targets, NUL/CR/LF. Every answer must be
  well framed and not a 5xx, the next request on the connection (when the
  server keeps it) must be answered correctly, and the worker must be the
  same process at the end (the arbiter would hide a crash by replacing it).
- HEAD on every path: no body, so the next response on the connection starts
  right after the headers.
- Memory: 100,000 unique long ids and 100,000 unique app versions.
- Descriptors: more connections than the open-files limit.
- A worker killed with SIGKILL under load is replaced and answers the same.
"""

import json
import os
import random
import resource
import signal
import socket
import threading
import time
from urllib.parse import urlencode

import pytest

from tests.amo import FIREFOX
from tests.rawhttp import Framing, RawConnection, children, request, rss_bytes
from tests.support import wait_until
from vamo.dev import demo

DEMO_ADDONS = 150  # the serve fixture's VAMO_DEMO_ADDONS; the embedded database uses seed 1
FOLLOW_UP = request("GET", "/__lbheartbeat__")


def update_path(guid, app_version="128.0", **extra):
    return "/update/VersionCheck.php?" + urlencode({
        "reqVersion": "2", "id": guid, "version": "1.0", "appID": FIREFOX.guid,
        "appVersion": app_version, "appOS": "Linux", "compatMode": "normal", **extra})


def offered_guid(server):
    """A demo add-on that the update check offers an update for."""
    for row in demo.build_rows(DEMO_ADDONS, seed=1)["addons"]:
        if row["guid"]:
            response = server.get(update_path(row["guid"]))
            if response.status == 200 and b'"version"' in response.body:
                return row["guid"]
    raise AssertionError("no demo add-on gets an update offered")


def worker_pids(server, count=1, timeout=30):
    pids = wait_until(lambda: (found := children(server.process.pid)) and len(found) == count and found,
                      timeout)
    assert pids, f"expected {count} worker(s) under the arbiter:\n{server.output()}"
    return sorted(pids)


def assert_no_crash(server, workers):
    assert server.process.poll() is None, server.output()
    assert worker_pids(server, len(workers)) == workers, "a worker died:\n" + server.output()
    log = server.output()
    for marker in ("Traceback", "SIGSEGV", "was sent", "Worker exiting", "stopped"):
        assert marker not in log, f"{marker!r} in the log:\n{log}"


# -- the fuzzer ---------------------------------------------------------------------------

def _structured_cases(guid):
    good = update_path(guid)
    get = request("GET", good)
    chunked = ("GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n").encode()
    many_headers = "".join(f"X-H{n}: {n}\r\n" for n in range(200))
    cases = {
        # request lines
        "bare method": b"GET\r\n\r\n",
        "no version": b"GET /\r\n\r\n",
        "empty target": b"GET  HTTP/1.1\r\nHost: x\r\n\r\n",
        "double space": b"GET  / HTTP/1.1\r\nHost: x\r\n\r\n",
        "no method": b" / HTTP/1.1\r\nHost: x\r\n\r\n",
        "lower-case method": b"get / HTTP/1.1\r\nHost: x\r\n\r\n",
        "unknown method": b"BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n",
        "binary method": b"\xff\xfe\x00 / HTTP/1.1\r\nHost: x\r\n\r\n",
        "HTTP/9.9": b"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
        "HTTP/1.10": b"GET / HTTP/1.10\r\nHost: x\r\n\r\n",
        "not HTTP": b"GET / FTP/1.1\r\nHost: x\r\n\r\n",
        "leading blank lines": b"\r\n\r\n" + get,
        "long target": request("GET", "/" + "a" * 9000),
        "long query": request("GET", good + "&x=" + "%41" * 3000),
        "asterisk": b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
        "absolute form": request("GET", "http://versioncheck.addons.mozilla.org" + good),
        "absolute form, other host": request("GET", "http://evil.example:80/__version__"),
        "absolute form, https": request("GET", "https://x/__heartbeat__?a=1"),
        "double slash": request("GET", "//__heartbeat__"),
        "NUL in target": b"GET /\x00/x HTTP/1.1\r\nHost: x\r\n\r\n",
        "NUL in query": request("GET", good + "%00").replace(b"%00", b"\x00"),
        "escaped NUL": request("GET", good.replace("id=", "id=%00")),
        "bad escapes": request("GET", "/update/VersionCheck.php?id=%zz&appID=%&appVersion=%%"),
        "non-UTF-8 query": request("GET", "/update/VersionCheck.php?id=%ff%fe&appVersion=1"),
        "raw 8-bit target": b"GET /\xe9\xff?id=\xff HTTP/1.1\r\nHost: x\r\n\r\n",
        "bare LF": get.replace(b"\r\n", b"\n"),
        "bare CR": get.replace(b"\r\n", b"\r", 1),
        "CR in target": b"GET /a\rb HTTP/1.1\r\nHost: x\r\n\r\n",
        "LF in target": b"GET /a\nb HTTP/1.1\r\nHost: x\r\n\r\n",
        "HTTP/0.9": b"GET /__version__\r\n",
        "HTTP/1.0": b"GET /__version__ HTTP/1.0\r\n\r\n",
        # headers
        "huge header": request("GET", "/__version__", [f"X-Big: {'b' * 100_000}"]),
        "header over 8 KB": request("GET", "/__version__", [f"X-Big: {'b' * 9000}"]),
        "long header name": request("GET", "/__version__", [f"X-{'n' * 9000}: 1"]),
        "200 headers": request("GET", "/__version__")[:-2] + many_headers.encode() + b"\r\n",
        "header without colon": request("GET", "/__version__", ["NoColon"]),
        "empty header name": request("GET", "/__version__", [": value"]),
        "space before colon": request("GET", "/__version__", ["Host : y"]),
        "folded header": request("GET", "/__version__", ["X-A: 1", " folded"]),
        "8-bit header name": b"GET /__version__ HTTP/1.1\r\nHost: x\r\nX-\xe9\xff: 1\r\n\r\n",
        "8-bit header value": b"GET /__version__ HTTP/1.1\r\nHost: \xff\xfe\r\n\r\n",
        "NUL in header": b"GET /__version__ HTTP/1.1\r\nHost: x\x00y\r\n\r\n",
        "CR in header": b"GET /__version__ HTTP/1.1\r\nHost: x\ry\r\n\r\n",
        "two hosts": request("GET", "/__version__", ["Host: y"]),
        "no host": b"GET /__version__ HTTP/1.1\r\n\r\n",
        "Expect 100": request("GET", "/__version__", ["Expect: 100-continue"]),
        "Expect junk": request("GET", "/__version__", ["Expect: \x01junk"]),
        "Expect empty": request("GET", "/__version__", ["Expect:"]),
        "If-None-Match junk": request("GET", good, ["If-None-Match: " + '"x",' * 2000]),
        # bodies and lengths
        "chunked with trailer": chunked + b"0\r\nX-T: 1\r\n\r\n",
        "chunked with trailers": chunked + b"3\r\nabc\r\n0\r\nX-T: 1\r\nX-U: 2\r\n\r\n",
        "chunked trailer, no value": chunked + b"0\r\nX-T:\r\n\r\n",
        "chunked": chunked + b"5\r\nhello\r\n0\r\n\r\n",
        "chunk extension": chunked + b"5;name=value\r\nhello\r\n0\r\n\r\n",
        "bad chunk size": chunked + b"zz\r\nhello\r\n0\r\n\r\n",
        "negative chunk size": chunked + b"-5\r\nhello\r\n0\r\n\r\n",
        "huge chunk size": chunked + b"ffffffffffffffffffff\r\nhello\r\n0\r\n\r\n",
        "chunk over the limit": chunked + b"20000\r\n" + b"x" * 0x20000 + b"\r\n0\r\n\r\n",
        "chunk size lies": chunked + b"2\r\nhello\r\n0\r\n\r\n",
        "chunked and length": request("POST", "/__version__",
                                      ["Content-Length: 3", "Transfer-Encoding: chunked"],
                                      body=b"0\r\n\r\n"),
        "two lengths": request("POST", "/__version__", ["Content-Length: 3", "Content-Length: 30"],
                               body=b"abc"),
        "negative length": request("POST", "/__version__", ["Content-Length: -1"]),
        "non-numeric length": request("POST", "/__version__", ["Content-Length: abc"]),
        "huge length": request("POST", "/__version__", ["Content-Length: 99999999999999999999999"]),
        "length over the limit": request("POST", "/__version__", ["Content-Length: 70000"],
                                         body=b"x" * 70000),
        "GET with a body": request("GET", good, ["Content-Length: 5"], body=b"hello"),
        "gzip, chunked": request("POST", "/__version__", ["Transfer-Encoding: gzip, chunked"],
                                 body=b"0\r\n\r\n"),
        "unknown coding": request("POST", "/__version__", ["Transfer-Encoding: bogus"]),
        "POST without length": request("POST", "/services/pfs.php", body=b"x"),
        # methods, CONNECT, Upgrade
        "CONNECT": b"CONNECT versioncheck.addons.mozilla.org:443 HTTP/1.1\r\nHost: x:443\r\n\r\n",
        "CONNECT path": request("CONNECT", "/__heartbeat__"),
        "CONNECT with data": b"CONNECT x:443 HTTP/1.1\r\nHost: x\r\n\r\n\x16\x03\x01\x00\xa5",
        "websocket": request("GET", "/__version__", [
            "Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
            "Sec-WebSocket-Version: 13"]),
        "h2c": request("GET", good, ["Upgrade: h2c", "Connection: Upgrade, HTTP2-Settings",
                                     "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA"]),
        "unknown upgrade": request("GET", "/__version__", ["Upgrade: foo/2", "Connection: Upgrade"]),
        "upgrade with data": request("GET", "/__version__", ["Upgrade: x", "Connection: upgrade"]) +
        b"\x00\x01binary",
        "upgrade, no Connection": request("GET", "/__version__", ["Upgrade: websocket"]),
        "HTTP/2 preface": b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        "TLS hello": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(64)),
        "PUT": request("PUT", good, ["Content-Length: 0"]),
        "DELETE": request("DELETE", "/__heartbeat__"),
        "TRACE": request("TRACE", "/__version__"),
        "PROPFIND": request("PROPFIND", "/en-US/firefox/blocked/"),
        "OPTIONS": request("OPTIONS", "/blocklist/3/x/1/"),
        # pipelining
        "pipelined 20": get * 20,
        "pipelined HEAD": (get + request("HEAD", good) + get, [False, True, False]),
        "HEAD chunked": (b"HEAD /__version__ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                         b"0\r\nX-T: 1\r\n\r\n", [True]),
        "pipelined junk": get + b"JUNK\r\n\r\n" + get,
        "pipelined chunked trailer": chunked + b"0\r\nX-T: 1\r\n\r\n" + get,
        "pipelined CONNECT": get + request("CONNECT", "x:443") + get,
        "split CRLF": get[:-1],
        "only CRLFs": b"\r\n" * 100,
        "NUL bytes": b"\x00" * 2000,
        "random bytes": bytes(random.Random(11).randrange(256) for _ in range(4000)),
    }
    return cases


def _mutations(guid, seed, count):
    """Randomly damaged copies of good requests (not HEAD ones: a copy may be pipelined
    after the original, and the reader must know which answers have no body)."""
    rng = random.Random(seed)
    bases = [request("GET", update_path(guid)), request("GET", "/__heartbeat__"),
             request("GET", "/blocklist/3/%7Bec8030f7-c20a-464f-9b0e-13a3a9e97384%7D/128.0/"),
             request("GET", "/en-US/themes/update-check/5"),
             request("POST", "/__version__", ["Transfer-Encoding: chunked"], body=b"3\r\nabc\r\n0\r\n\r\n")]
    alphabet = b"\x00\r\n :;%?#/\\\"\xff\x7f\t,=-0123456789aAzZ"
    for _ in range(count):
        data = bytearray(rng.choice(bases))
        for _ in range(rng.randint(1, 6)):
            where = rng.randrange(len(data) + 1)
            action = rng.randrange(5)
            if action == 0:
                data[where:where] = bytes([rng.choice(alphabet)])
            elif action == 1 and data:
                del data[where:where + rng.randint(1, 8)]
            elif action == 2:
                data[where:where] = bytes([rng.choice(alphabet)]) * rng.choice((2, 100, 3000))
            elif action == 3 and data:
                data[where:where + 1] = bytes([rng.randrange(256)])
            else:
                data[where:where] = data[:rng.randint(0, len(data))]
        yield bytes(data)


def _exchange(port, data, heads=(), timeout=1.0):
    """Send `data` and then a good request; read every answer (`heads`: which of the
    first answers are to HEAD requests). Returns the statuses read and whether the
    good request was answered."""
    conn = RawConnection(port, timeout=timeout)
    statuses = []
    try:
        conn.send(data + FOLLOW_UP)
        while True:
            try:
                response = conn.read_response(head=len(statuses) < len(heads) and heads[len(statuses)])
            except socket.timeout:
                return statuses, False  # the server waits for more of a request: fine
            if response is None:
                return statuses, False  # closed after an error answer: fine
            statuses.append(response.status)
            if response.status >= 500:
                raise AssertionError(f"{response.status} for {data[:300]!r}: {response.body[:300]!r}")
            if response.status == 200 and response.body == b"{}" and \
                    response.headers.get("cache-control") == "no-cache, no-store":
                return statuses, True
    except Framing as error:
        raise AssertionError(f"bad framing after {data[:300]!r}: {error}") from None
    finally:
        conn.close()


def test_no_bytes_kill_or_confuse_the_server(serve):
    server = serve()
    workers = worker_pids(server)
    guid = offered_guid(server)
    good = server.get(update_path(guid))

    def still_answers():
        again = server.get(update_path(guid), timeout=5)
        assert (again.status, again.body) == (good.status, good.body)

    answered = 0
    for name, data in _structured_cases(guid).items():
        data, heads = data if isinstance(data, tuple) else (data, ())
        try:
            statuses, follow_up = _exchange(server.port, data, heads)
        except AssertionError as error:
            raise AssertionError(f"case {name!r}: {error}") from None
        answered += follow_up
        still_answers()
    assert answered > 30  # the connection stays usable after many of them

    deadline = time.monotonic() + 10  # random damage, bounded in time
    sent = 0
    for data in _mutations(guid, seed=2024, count=100_000):
        if time.monotonic() > deadline:
            break
        _exchange(server.port, data, timeout=0.5)
        sent += 1
        if sent % 50 == 0:
            still_answers()
    assert sent > 100
    still_answers()
    assert_no_crash(server, workers)


HEAD_PATHS = [
    "/__heartbeat__", "/__lbheartbeat__", "/__version__",
    "/update/VersionCheck.php?reqVersion=2",  # 400
    "/update/VersionCheck.php?reqVersion=2&id=x&appID=unknown&appVersion=1",  # 400
    "/update/VersionCheck.php?reqVersion=2&id=nobody%40example.com&appID="
    "%7B3550f703-e582-4d05-9a08-453d09bdfdc6%7D&appVersion=115.0",  # RDF, 200
    "/en-US/themes/update-check/5", "/themes/update-check/99999",
    "/blocklist/3/%7Bec8030f7-c20a-464f-9b0e-13a3a9e97384%7D/128.0/",
    "/blocked/blocklists.json", "/en-US/firefox/blocked/", "/en-US/firefox/blocked/i1",
    "/services/pfs.php?a=1", "/en-US/firefox/getpersonas", "/no/such/path", "/",
]


def test_head_never_has_a_body_and_the_next_response_follows_it(serve):
    server = serve()
    guid = offered_guid(server)
    paths = HEAD_PATHS + [update_path(guid), update_path(guid, appVersion="1")]
    for path in paths:
        get = server.get(path)
        conn = RawConnection(server.port, timeout=5)
        try:
            conn.send(request("HEAD", path) + FOLLOW_UP)
            head = conn.read_response(head=True)
            assert head is not None and head.status == get.status, path
            if "content-length" in head.headers:
                assert int(head.headers["content-length"]) == len(get.body), path
            if not conn.closed and head.headers.get("connection", "").lower() != "close":
                follow = conn.read_response()
                assert follow is not None and (follow.status, follow.body) == (200, b"{}"), \
                    f"after HEAD {path}: {follow}"
        except Framing as error:
            raise AssertionError(f"HEAD {path}: {error}") from None
        finally:
            conn.close()


def test_connect_and_upgrade_get_a_4xx_or_an_answer_never_a_500(serve):
    server = serve()
    websocket = ["Upgrade: websocket", "Connection: Upgrade",
                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13"]
    for data in (b"CONNECT x:443 HTTP/1.1\r\nHost: x\r\n\r\n",
                 request("CONNECT", "/__version__"),
                 request("GET", "/__version__", websocket),
                 request("GET", "/__version__", ["Upgrade: h2c", "Connection: Upgrade"])):
        conn = RawConnection(server.port)
        try:
            conn.send(data)
            response = conn.read_response()
        finally:
            conn.close()
        if data.startswith(b"CONNECT"):
            assert response.status == 405, data
        else:  # the Upgrade is ignored: the plain HTTP answer
            assert response.status == 200 and json.loads(response.body)["version"], data
    assert "Traceback" not in server.output()


# -- memory -----------------------------------------------------------------------------

def _pipeline(port, paths, batch=500):
    """GET every path over one keep-alive connection, `batch` requests in flight; the statuses."""
    conn = RawConnection(port, timeout=30)
    statuses = []
    try:
        for start in range(0, len(paths), batch):
            chunk = paths[start:start + batch]
            conn.send(b"".join(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode() for path in chunk))
            for _ in chunk:
                response = conn.read_response()
                assert response is not None, "connection closed"
                statuses.append(response.status)
    finally:
        conn.close()
    return statuses


def test_memory_does_not_grow_with_what_requests_send(serve):
    server = serve()
    (worker,) = worker_pids(server)
    guid = offered_guid(server)
    _pipeline(server.port, [update_path(guid, app_version=f"{n}.0") for n in range(2000)])  # warm up
    before = rss_bytes(worker)

    # 100,000 unique ids of about 2 KB of %-escapes (700 characters decoded)
    template = update_path("ID", app_version="128.0")
    padding = "%41" * 700
    ids = [template.replace("id=ID", f"id={n}{padding}%40example.com") for n in range(100_000)]
    assert set(_pipeline(server.port, ids)) == {200}
    del ids
    # 100,000 unique app versions of one add-on, long, each a different version number
    versions = [update_path(guid, app_version=f"{n % 60000}.{n // 60000}.{n % 97}.{n % 89}" + ".0" * 60)
                for n in range(100_000)]
    assert set(_pipeline(server.port, versions)) == {200}
    del versions

    grown = rss_bytes(worker) - before
    assert grown < 100 * 1024 * 1024, f"RSS grew by {grown / 2**20:.0f} MB"
    assert worker_pids(server) == [worker]
    print(f"\nworker RSS grew by {grown / 2**20:.1f} MB over 200,000 hostile update checks")


# -- descriptors ------------------------------------------------------------------------

def test_at_the_open_files_limit_the_server_waits_and_goes_on(serve):
    limit = 64

    def low_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

    server = serve(preexec_fn=low_limit)
    (worker,) = worker_pids(server)
    assert f"open files limit {limit}" in server.output()
    held = []
    try:
        for _ in range(limit * 3):  # far more than the worker can hold
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            sock.sendall(b"GET /__lbheartbeat__ HTTP/1.1\r\nHost: x\r\n\r\n")
            held.append(sock)
        time.sleep(1.5)
        assert server.process.poll() is None
    finally:
        for sock in held:
            sock.close()
    assert wait_until(lambda: _answers(server), 30), server.output()
    assert worker_pids(server) == [worker], server.output()
    log = server.output()
    assert "Too many open files" in log  # the limit was reached...
    assert "Traceback" not in log and "Worker exiting" not in log  # ...and the worker went on


def _answers(server):
    try:
        return server.get("/__lbheartbeat__", timeout=2).status == 200
    except OSError:
        return False


# -- a killed worker ----------------------------------------------------------------------

class Load(threading.Thread):
    def __init__(self, port, paths):
        super().__init__(daemon=True)
        self.port, self.paths = port, paths
        self.answers = []
        self.stopped = threading.Event()

    def run(self):
        while not self.stopped.is_set():
            try:
                conn = RawConnection(self.port, timeout=5)
                for path in self.paths:
                    conn.send(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
                    response = conn.read_response()
                    if response is None:
                        break
                    self.answers.append((path, response.status, response.body))
                conn.close()
            except OSError:
                time.sleep(0.01)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_worker_killed_under_load_is_replaced_and_answers_the_same(serve, workers):
    server = serve(workers=workers)
    old = worker_pids(server, workers)
    rows = demo.build_rows(DEMO_ADDONS, seed=1)
    paths = [update_path(row["guid"], app_version=version)
             for row in rows["addons"][:40] if row["guid"] for version in ("60.0", "128.0")]
    paths += ["/__version__", "/en-US/firefox/blocked/"]
    before = {path: server.get(path).body for path in paths}
    load = Load(server.port, paths)
    load.start()
    assert wait_until(lambda: len(load.answers) > 200, 10)
    os.kill(old[0], signal.SIGKILL)
    new = wait_until(lambda: (pids := children(server.process.pid)) and len(pids) == workers and
                     old[0] not in pids and sorted(pids), 30)
    assert new, server.output()
    served = len(load.answers)
    assert wait_until(lambda: len(load.answers) > served + 500, 20), "no answers after the kill"
    load.stopped.set()
    load.join(10)
    assert {status for _, status, _ in load.answers} == {200}
    assert all(body == before[path] for path, _, body in load.answers)
    assert {path: server.get(path).body for path in paths} == before
    assert server.get("/__heartbeat__").status == 200
    assert server.process.poll() is None
