"""The gunicorn worker `vamo serve` runs: meinheld's, without its logging patch.

meinheld's own worker (meinheld.gmeinheld.MeinheldWorker) replaces the
`error` method of gunicorn's Logger class when it is created, and gunicorn
creates each worker object in the arbiter before forking. The arbiter then
logs with meinheld's method, whose signature differs: its first error (a
worker killed by a signal) raised TypeError in the arbiter's main loop and
took the whole server down. This worker leaves gunicorn's logger alone and
gives meinheld a logger of its own for the errors it reports. On SIGUSR2
it drains and exits: its successor is serving (vamo/core/recycle.py).
"""

import logging
import signal
import traceback

from gunicorn.workers.base import Worker
from meinheld import server
from meinheld.gmeinheld import MeinheldWorker as _MeinheldWorker

from vamo.core import recycle

log = logging.getLogger("vamo.server")


class MeinheldErrors:
    """meinheld's error logger: meinheld calls `error(type, value, traceback)` for an
    I/O error on a connection or while accepting. One line each, no traceback:
    they are about a client or the machine, not about vamo's code."""

    def error(self, kind, value, tb):
        log.warning("meinheld: %s", "".join(traceback.format_exception_only(kind, value)).strip())


class MeinheldWorker(_MeinheldWorker):
    def __init__(self, *args, **kwargs):
        Worker.__init__(self, *args, **kwargs)  # not meinheld's: it patches gunicorn's Logger
        server.set_access_logger(None)  # vamo.core.serve sets its own in each worker (post_fork)
        server.set_error_logger(MeinheldErrors())

    def init_signals(self):
        super().init_signals()
        # SIGUSR2: the arbiter has forked this worker's successor (vamo/core/recycle.py).
        signal.signal(signal.SIGUSR2, lambda signum, frame: recycle.drain())
