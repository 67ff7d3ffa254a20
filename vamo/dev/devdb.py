"""A throwaway MariaDB server for the tests and the benchmark.

Starts `mariadbd` on an empty datadir of its own under a temporary folder,
with its own socket and a free 127.0.0.1 port, and stops it by its pid. It
never touches a server someone else started. `--skip-grant-tables` on an
empty datadir answers in about 0.1 s (no `mariadb-install-db`); it accepts
any user and password.
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid

_SEARCH_DIRS = ("/usr/sbin", "/usr/local/sbin", "/usr/local/mysql/bin", "/usr/local/bin")


def find_mariadbd():
    found = shutil.which("mariadbd")
    if found:
        return found
    for directory in _SEARCH_DIRS:
        candidate = os.path.join(directory, "mariadbd")
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MariaDBServer:
    """One throwaway mariadbd; `start()`, `stop()`, `url(database)`."""

    def __init__(self, base_dir=None, buffer_pool="128M", extra_args=()):
        self.binary = find_mariadbd()
        if self.binary is None:
            raise RuntimeError("mariadbd not found: install the Debian package mariadb-server")
        self._own_dir = base_dir is None
        # Short paths: a unix socket path must stay under 108 bytes.
        self.dir = base_dir or tempfile.mkdtemp(prefix="vamo-mdb-")
        self.datadir = os.path.join(self.dir, "data")
        self.socket = os.path.join(self.dir, "mysqld.sock")
        self.pid_file = os.path.join(self.dir, "mariadbd.pid")
        self.log_file = os.path.join(self.dir, "error.log")
        self.port = free_port()
        self.buffer_pool = buffer_pool
        self.extra_args = tuple(extra_args)
        self.process = None
        os.makedirs(self.datadir, exist_ok=True)

    def command(self):
        args = [
            self.binary, "--no-defaults", f"--datadir={self.datadir}", f"--socket={self.socket}",
            f"--port={self.port}", "--bind-address=127.0.0.1", f"--pid-file={self.pid_file}",
            f"--log-error={self.log_file}", f"--tmpdir={self.dir}", "--skip-grant-tables",
            "--skip-log-bin", "--innodb-flush-log-at-trx-commit=0",
            f"--innodb-buffer-pool-size={self.buffer_pool}", "--character-set-server=utf8mb4",
            "--collation-server=utf8mb4_general_ci", "--max-connections=500",
        ]
        if os.geteuid() == 0:
            args.append("--user=root")
        return args + list(self.extra_args)

    def start(self, timeout=30):
        if self.process and self.process.poll() is None:
            return self
        self.process = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mariadbd exited at start-up; see {self.log_file}:\n{self.log_tail()}")
            if self._answers():
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"mariadbd did not answer within {timeout} s; see {self.log_file}")

    def _answers(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                return bool(sock.recv(1))  # the server greeting
        except OSError:
            return False

    def log_tail(self, lines=10):
        try:
            with open(self.log_file, errors="replace") as log:
                return "".join(log.readlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout=30):
        """Stop the server by its pid (SIGTERM, then SIGKILL)."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def cleanup(self):
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def admin(self):
        """A connection without a default database (pymysql)."""
        import pymysql

        return pymysql.connect(unix_socket=self.socket, user="root", autocommit=True,
                               charset="utf8mb4", ssl_disabled=True)

    def create_database(self, name=None):
        name = name or "vamo_" + uuid.uuid4().hex[:12]
        conn = self.admin()
        try:
            with conn.cursor() as cursor:
                cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        finally:
            conn.close()
        return name

    def drop_database(self, name):
        conn = self.admin()
        try:
            with conn.cursor() as cursor:
                cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        finally:
            conn.close()

    def url(self, database, tcp=True):
        if tcp:
            return f"mysql://root:secret@127.0.0.1:{self.port}/{database}"
        return f"mysql://root@localhost/{database}?unix_socket={self.socket}"

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()
