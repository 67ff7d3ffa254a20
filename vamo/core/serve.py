"""`vamo serve`: gunicorn's arbiter supervising meinheld workers, even for one.

meinheld is built without greenlet (MEINHELD_NOGREEN=1): on Python 3.11 each
greenlet costs an mmap/munmap pair per request, and the plain build serves
about twice the requests per core (docs/decisions.md). It is also patched
(patches/meinheld-1.0.2.patch) against requests that crashed it; should any
other request kill a worker, the arbiter starts a new one. The data is loaded
for the arbiter before it forks (by a child process, whose leftovers die with
it: Refresher.first_load), and brought up to date again before each later
fork, so a worker (the first or a replacement) serves loaded, fresh data from
its first request; its own refresher thread takes over from there. A worker
whose refreshes have built VAMO_RECYCLE_MB of its own is replaced by a fresh
fork before it leaves (vamo/core/recycle.py).

Keep-alive is set explicitly, and the access log is off unless asked for: it
costs more than an update check. The soft limit on open files is raised to
the hard one (at most MAX_OPEN_FILES), and meinheld's event loop is sized to
match; at the limit a worker pauses accepting (the patch) and goes on.
gunicorn runs vamo.core.worker.MeinheldWorker, not meinheld's own worker class,
whose logging patch broke the arbiter (vamo/core/worker.py).

SIGTERM: the arbiter stops the workers gracefully (they finish the requests
in flight) and exits 0.
"""

import logging
import resource
import sys

from vamo.core import observe, recycle

log = logging.getLogger("vamo")

KEEPALIVE_SECONDS = 60
MAX_BODY_BYTES = 64 * 1024  # nothing vamo serves reads a request body
MAX_OPEN_FILES = 65536  # meinheld's event loop allocates a table entry per descriptor


def serve(service, config):
    """Serve until SIGTERM/SIGINT: gunicorn with `config.workers` meinheld workers."""
    return _serve_gunicorn(service, config)


def raise_open_files_limit():
    """Raise the soft RLIMIT_NOFILE towards the hard one; returns the soft limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = MAX_OPEN_FILES if hard == resource.RLIM_INFINITY else min(hard, MAX_OPEN_FILES)
    if soft == resource.RLIM_INFINITY or soft > MAX_OPEN_FILES:
        soft = MAX_OPEN_FILES  # the event loop's table is no bigger
    elif soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError):
            pass
    return soft


def _configure_meinheld(config):
    from meinheld import server

    server.set_max_content_length(MAX_BODY_BYTES)
    server.set_access_logger(observe.AccessLog() if config.access_log else None)
    return server


def _serve_gunicorn(service, config):
    refresher = service.refresher
    # The data is loaded once for the arbiter before forking, in a child of its
    # own (Refresher.first_load); one attempt: with the database down, each
    # worker's refresher keeps trying.
    refresher.first_load()
    refresher.disconnect()  # a connection must not be shared by forked workers

    first_forks = [config.workers]  # forked right after the load above
    recycle_bytes = int(config.recycle_mb * 2**20)

    def pre_fork():
        # A replacement worker starts from the arbiter's copy: bring it up to
        # date first (one pass, the index's in a child; on failure the worker
        # serves it as it is until its own first pass).
        if first_forks[0] > 0:
            first_forks[0] -= 1
            return
        changed = refresher.changed_bytes()
        if recycle_bytes and changed > recycle.ARBITER_CHANGES * recycle_bytes:
            # The changes the arbiter holds since its load grow for as long as it
            # runs: past this, it loads afresh (in a child), all of them in the base.
            log.info("the arbiter holds %.1f MiB of changes since its load: loading afresh", changed / 2**20)
            refresher.first_load()
            refresher.disconnect()
        else:
            refresher.refresh_before_fork()

    def start_worker(handover):
        service.collector.start()  # the collector runs between requests (vamo/core/collector.py)
        # Replaced by a fresh fork once its refreshes have built this much (vamo/core/recycle.py).
        refresher.after_pass = recycle.Recycler(handover, recycle_bytes, refresher.built_bytes).after_pass
        service.start()

    return run_supervised(service, config, pre_fork=pre_fork, post_fork=start_worker,
                          worker_exit=service.stop)


def run_supervised(app, config, pre_fork=None, post_fork=None, worker_exit=None):
    """Serve the WSGI callable `app` as `vamo serve` does: gunicorn's arbiter with
    `config.workers` meinheld workers, forked after `app` is built. The hooks run
    in the arbiter before each fork, in each worker after it (given the
    worker's recycle.Handover), and in a worker as it exits.
    bench/serve_app.py serves the bench's baselines through this too."""
    from gunicorn.app.base import BaseApplication

    open_files = raise_open_files_limit()

    def before_fork(server, worker):
        worker.handover = recycle.Handover()  # shared with the worker it becomes
        if pre_fork:
            pre_fork()

    def after_fork(server, worker):
        _configure_meinheld(config)
        if post_fork:
            post_fork(worker.handover)

    def on_worker_exit(server, worker):
        if worker_exit:
            worker_exit()

    class Supervised(BaseApplication):
        def load_config(self):
            settings = {
                "bind": f"{config.listen}:{config.port}",
                "workers": config.workers,
                "worker_class": "vamo.core.worker.MeinheldWorker",
                # meinheld's event loop table (set_picoev_max_fd), one entry per descriptor
                "worker_connections": open_files,
                "preload_app": True,
                "keepalive": KEEPALIVE_SECONDS,
                "graceful_timeout": 30,
                "accesslog": None,  # meinheld's own, set per worker below
                "errorlog": "-",
                "loglevel": config.log_level.lower(),
                # gunicorn >= 24: its control socket is one path per user, which
                # servers running side by side would share
                "control_socket_disable": True,
                "pre_fork": before_fork,
                "post_fork": after_fork,
                "worker_exit": on_worker_exit,
            }
            for key, value in settings.items():
                if key in self.cfg.settings:
                    self.cfg.set(key, value)

        def load(self):
            return app

        def run(self):
            try:
                recycle.arbiter_class()(self).run()
            except RuntimeError as error:  # as gunicorn's own run: one line, exit 1
                print(f"\nError: {error}\n", file=sys.stderr)
                sys.exit(1)

    log.info("serving on %s:%d (gunicorn, %d meinheld worker%s; open files limit %d)",
             config.listen, config.port, config.workers, "" if config.workers == 1 else "s",
             open_files)
    Supervised().run()
    return 0
