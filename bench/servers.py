"""Starting and stopping the servers under test, pinned to given cores.

Every server is started here as a child process in its own session, and
stopped by its pid (SIGTERM, then SIGKILL after a grace period), with any
of its own workers left behind; nothing else is ever signalled.
"""

import http.client
import os
import signal
import subprocess
import time

from bench.procstat import process_tree


def http_status(port, path, host="127.0.0.1", timeout=2.0):
    """The status of GET `path` on 127.0.0.1:port, or None when nothing answers."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Host": host})
        response = conn.getresponse()
        response.read()
        return response.status
    except OSError:
        return None
    finally:
        conn.close()


class Server:
    """One server process: `argv` run under `taskset -c cpus`, ready when GET
    `ready_path` answers `ready_status` (None: any status)."""

    def __init__(self, argv, env, port, cpus, log_path, ready_path="/", ready_status=None):
        self.argv, self.env, self.port, self.cpus = argv, env, port, cpus
        self.log_path, self.ready_path, self.ready_status = log_path, ready_path, ready_status
        self.process = None
        self.ready_seconds = None

    @property
    def pid(self):
        return self.process.pid

    def start(self, timeout=900):
        """Start and wait until ready; `ready_seconds` is how long that took."""
        started = time.monotonic()
        with open(self.log_path, "ab") as log:
            # taskset execs the server, so the pid is the server's own.
            self.process = subprocess.Popen(["taskset", "-c", self.cpus, *self.argv], env=self.env,
                                            stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                            start_new_session=True)
        deadline = started + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.argv[0]} exited with {self.process.returncode}; "
                                   f"see {self.log_path}:\n{self.log_tail()}")
            status = http_status(self.port, self.ready_path)
            if status is not None and (self.ready_status is None or status == self.ready_status):
                self.ready_seconds = time.monotonic() - started
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.argv} not ready within {timeout} s; see {self.log_path}")

    def log_tail(self, lines=15):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    def stop(self, grace=30):
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        # gunicorn's workers too: all descendants of the process started here.
        children = [(pid, _command_line(pid)) for pid in process_tree(process.pid)[1:]]
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        for pid, command_line in children:  # a worker its master could not stop
            if command_line and _command_line(pid) == command_line:  # not a reused pid
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


def _command_line(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return None


def pin_process(pid, cpus, idle=False):
    """Pin every thread of a running process (threads it starts later inherit it),
    and run them at idle priority (SCHED_IDLE: only on a core nothing else wants)
    or at the normal one."""
    policy = os.SCHED_IDLE if idle else os.SCHED_OTHER
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            os.sched_setaffinity(int(tid), cpus)
            os.sched_setscheduler(int(tid), policy, os.sched_param(0))
        except (ProcessLookupError, PermissionError):
            pass
