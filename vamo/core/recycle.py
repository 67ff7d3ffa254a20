"""Replacing a worker whose refreshes have built too much memory of its own, with no gap.

Workers fork from the arbiter and share its copy of the data page for page.
What a worker's refresher builds afterwards is its own: every changed add-on
is encoded again in every worker. At 530,000 add-ons and the soak's 20
changed files a second, that grew each worker by 2 to 4 MiB a minute, for as
long as it lived. So once a worker has built VAMO_RECYCLE_MB since its fork,
it asks for a successor:

1. the worker marks its `Handover` ASKED (after a refresher pass);
2. the arbiter, within a second, brings its own copy up to date (the
   changes are then held once, by the arbiter, for all the workers it forks
   from now on), forks the successor, and marks the old worker REPLACED;
3. the old worker drains: it stops accepting, closes each connection after
   the answer in flight or the next one (`Connection: close`), and exits once
   they are closed, or after DRAIN_SECONDS. Clients reconnect to the others.

The arbiter holds the changes since its own load once for every worker it
forks from then on; when they pass ARBITER_CHANGES times the limit, it loads
afresh (in a child) before forking instead.

While the successor starts, the old worker still serves, so the number of
workers accepting never drops. The drain runs in the worker's main thread
(meinheld's loop is not thread-safe), from a SIGUSR2 handler, which Python
runs at the next request; a worker that gets no request meanwhile is stopped
with SIGTERM (meinheld's own quick stop) after DRAIN_SECONDS.
"""

import logging
import mmap
import os
import signal
import time

log = logging.getLogger("vamo.recycle")

SERVING, ASKED, REPLACED = 0, 1, 2
DRAIN_SECONDS = 10
# The arbiter's own changes since its load are shared by the workers it forks
# since, but grow for as long as it runs: past this many times VAMO_RECYCLE_MB
# it loads afresh before forking (vamo/core/serve.py).
ARBITER_CHANGES = 4


class Handover:
    """One byte the arbiter and one worker share: made by the arbiter before the fork
    (an anonymous shared mapping, so both see each other's writes)."""

    def __init__(self):
        self._byte = mmap.mmap(-1, 1)

    @property
    def state(self):
        return self._byte[0]

    @state.setter
    def state(self, value):
        self._byte[0] = value


class Recycler:
    """In a worker: asks for a successor once `built_bytes()` has grown by `limit_bytes`
    since the fork (0: never), and drains once the arbiter has forked it."""

    def __init__(self, handover, limit_bytes, built_bytes):
        self.handover = handover
        self.limit_bytes = limit_bytes
        self.built_bytes = built_bytes
        self.at_fork = built_bytes()  # the arbiter's: shared, not this worker's
        self.draining_since = None

    def after_pass(self):
        """Called by the refresher thread after each pass."""
        if not self.limit_bytes:
            return
        state = self.handover.state
        if state == SERVING:
            built = self.built_bytes() - self.at_fork
            if built >= self.limit_bytes:
                log.info("worker %d built %.1f MiB since its fork (VAMO_RECYCLE_MB is %g): "
                         "asking for a fresh one", os.getpid(), built / 2**20, self.limit_bytes / 2**20)
                self.handover.state = ASKED
        elif state == REPLACED:
            if self.draining_since is None:
                self.draining_since = time.monotonic()
                os.kill(os.getpid(), signal.SIGUSR2)  # the main thread drains (drain, below)
            elif time.monotonic() - self.draining_since > DRAIN_SECONDS:
                os.kill(os.getpid(), signal.SIGTERM)  # no request came to run the drain


def drain():
    """In a worker's main thread, while it serves: stop accepting, close each
    connection after its next answer, and leave once they are closed."""
    from meinheld import server

    log.info("worker %d replaced: draining its connections", os.getpid())
    server.set_keepalive(0)
    server.stop(DRAIN_SECONDS)


def arbiter_class():
    """gunicorn's Arbiter, which also forks a successor for each worker that asks."""
    from gunicorn.arbiter import Arbiter

    class RecyclingArbiter(Arbiter):
        def manage_workers(self):
            for worker in list(self.WORKERS.values()):
                handover = getattr(worker, "handover", None)
                if handover is not None and handover.state == ASKED:
                    successor = self.spawn_worker()  # the pre_fork hook refreshes the arbiter's copy first
                    handover.state = REPLACED
                    log.info("forked worker %d to replace worker %d", successor, worker.pid)
            # A replaced worker is on its way out: gunicorn's own bookkeeping,
            # over the workers that serve on.
            serving = sorted((worker for worker in self.WORKERS.values()
                              if getattr(worker, "handover", None) is None
                              or worker.handover.state != REPLACED), key=lambda worker: worker.age)
            for _ in range(self.num_workers - len(serving)):
                self.spawn_worker()
            while len(serving) > self.num_workers:  # after TTOU: the oldest go first
                self.kill_worker(serving.pop(0).pid, signal.SIGTERM)

    return RecyclingArbiter
