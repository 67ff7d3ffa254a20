"""Test helpers: settings, HTTP over real sockets, `vamo serve` processes."""

import gzip
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import NamedTuple

from vamo.dev import demo
from vamo.core.config import load_config
from vamo.core.db import Database
from vamo.dev.devdb import free_port

__all__ = ["make_config", "free_port", "Response", "http_get", "ServerProcess", "wait_until",
           "FakeSentry", "demo_database"]


def demo_database(server, addons, seed, shape="realistic", generation="classic"):
    """A new database on a MariaDBServer, filled by the data generator; its URL."""
    url = server.url(server.create_database())
    db = Database(url)
    try:
        demo.generate(db, addons=addons, seed=seed, shape=shape, generation=generation)
    finally:
        db.close()
    return url


def make_config(**changes):
    """Settings as from an empty environment, with `changes` applied."""
    return load_config({}).replace(**changes)


class Response(NamedTuple):
    status: int
    headers: dict  # lower-case names; repeated headers joined with ", "
    body: bytes

    def header(self, name):
        return self.headers.get(name.lower())


def http_get(port, path, headers=None, method="GET", host="127.0.0.1", timeout=10, body=None):
    """One request over a new connection to 127.0.0.1:port."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        sent = {"Host": host}
        sent.update(headers or {})
        for name, value in sent.items():
            if value is not None:
                conn.putheader(name, value)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        data = response.read()
        merged = {}
        for name, value in response.getheaders():
            key = name.lower()
            merged[key] = f"{merged[key]}, {value}" if key in merged else value
        return Response(response.status, merged, data)
    finally:
        conn.close()


def wait_until(predicate, timeout, interval=0.05):
    """Poll `predicate` until it returns a true value; returns it, or None after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval)


class ServerProcess:
    """`vamo serve` in a child process, with its output in a log file."""

    def __init__(self, env, workers=1, log_dir=".", preexec_fn=None):
        self.env = env
        self.preexec_fn = preexec_fn  # run in the child before exec (e.g. to lower a limit)
        self.port = int(env["PORT"])
        self.workers = workers
        self.log_path = os.path.join(str(log_dir), f"serve-{self.port}.log")
        self.process = None

    def start(self, wait_for="/__lbheartbeat__", timeout=60):
        command = [sys.executable, "-m", "vamo.cli", "serve", "--workers", str(self.workers)]
        self.log = open(self.log_path, "ab")
        self.process = subprocess.Popen(command, env=self.env, stdout=self.log,
                                        stderr=subprocess.STDOUT, start_new_session=True,
                                        preexec_fn=self.preexec_fn)
        if wait_for and not wait_until(lambda: self._ready(wait_for), timeout):
            output = self.output()
            self.stop()
            raise RuntimeError(f"vamo serve did not answer {wait_for} within {timeout} s:\n{output}")
        return self

    def _ready(self, path):
        if self.process.poll() is not None:
            raise RuntimeError(f"vamo serve exited with {self.process.returncode}:\n{self.output()}")
        try:
            return http_get(self.port, path, timeout=2).status == 200
        except OSError:
            return False

    def get(self, path, **kwargs):
        return http_get(self.port, path, **kwargs)

    def output(self):
        try:
            with open(self.log_path, errors="replace") as log:
                return log.read()
        except OSError:
            return ""

    def terminate(self, timeout=30):
        """SIGTERM, then wait; returns the exit code."""
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            raise

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            try:
                self.terminate(timeout=15)
            except subprocess.TimeoutExpired:
                pass
        if self.process is not None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)  # leftover gunicorn workers
            except ProcessLookupError:
                pass
        if getattr(self, "log", None):
            self.log.close()
            self.log = None


class FakeSentry:
    """Records the envelopes POSTed to /api/<project>/envelope/."""

    def __init__(self):
        self.envelopes = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                recorder.envelopes.append((self.path, body))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def events(self):
        found = []
        for _, body in self.envelopes:
            lines = body.split(b"\n")
            for header, payload in zip(lines[1::2], lines[2::2]):
                if json.loads(header).get("type") == "event":
                    found.append(json.loads(payload))
        return found

    def close(self):
        self.server.shutdown()
        self.server.server_close()
