"""`vamo serve`: meinheld, alone or as gunicorn's worker.

meinheld is built without greenlet (MEINHELD_NOGREEN=1): on Python 3.11 each
greenlet costs an mmap/munmap pair per request, and the plain build serves
about twice the requests per core (bench/README.md). Keep-alive must be set
explicitly (standalone meinheld closes every connection otherwise), and the
access log is off unless asked for: it costs more than an update check.

SIGTERM: meinheld stops accepting, finishes the requests in flight and
returns from `run`; gunicorn does the same for each worker (graceful timeout).
"""

import logging

from vamo import observe

log = logging.getLogger("vamo")

KEEPALIVE_SECONDS = 60
MAX_BODY_BYTES = 64 * 1024  # nothing vamo serves reads a request body


def serve(service, config):
    """Serve until SIGTERM/SIGINT; one process, or gunicorn when config.workers > 1."""
    if config.workers > 1:
        return _serve_gunicorn(service, config)
    return _serve_meinheld(service, config)


def _configure_meinheld(config):
    from meinheld import server

    server.set_max_content_length(MAX_BODY_BYTES)
    server.set_access_logger(observe.AccessLog() if config.access_log else None)
    return server


def listen_meinheld(config):
    """meinheld set up as `vamo serve` runs it, listening; call `.run(app)` on the
    result. bench/serve_app.py serves its baselines through this too."""
    server = _configure_meinheld(config)
    server.set_keepalive(KEEPALIVE_SECONDS)
    server.listen((config.listen, config.port))
    log.info("serving on %s:%d (meinheld, 1 process)", config.listen, config.port)
    return server


def _serve_meinheld(service, config):
    server = listen_meinheld(config)
    service.start()
    try:
        server.run(service)
    except KeyboardInterrupt:
        pass
    finally:
        service.stop()
    log.info("stopped")
    return 0


def _serve_gunicorn(service, config):
    from gunicorn.app.base import BaseApplication

    # The data is loaded once in the master before forking (one attempt: with
    # the database down, each worker's refresher keeps trying).
    service.refresher.run_once()
    service.refresher.disconnect()  # a connection must not be shared by forked workers

    def post_fork(server, worker):
        _configure_meinheld(config)
        service.start()

    class VamoGunicorn(BaseApplication):
        def load_config(self):
            settings = {
                "bind": f"{config.listen}:{config.port}",
                "workers": config.workers,
                "worker_class": "meinheld.gmeinheld.MeinheldWorker",
                "preload_app": True,
                "keepalive": KEEPALIVE_SECONDS,
                "graceful_timeout": 30,
                "accesslog": None,  # meinheld's own, set per worker below
                "errorlog": "-",
                "loglevel": config.log_level.lower(),
                "post_fork": post_fork,
                "worker_exit": lambda server, worker: service.stop(),
            }
            for key, value in settings.items():
                self.cfg.set(key, value)

        def load(self):
            return service

    log.info("serving on %s:%d (gunicorn, %d meinheld workers)", config.listen, config.port,
             config.workers)
    VamoGunicorn().run()
    return 0
