"""The whole service as one WSGI application, on one port: its assembly and its router.

Requests are routed first by host (D1, D17): the configured host names of the
versioncheck, blocklist, AMO, services and getpersonas sites each get their
own table of paths. Any other host (a single-host deployment, a load
balancer's health check, localhost) is routed by path alone to every app.
The Host header only ever selects a table; it is never echoed anywhere.

`vamo serve` builds the app with `create_app()`; other WSGI servers load
`wsgi:application` (the repository's `wsgi.py`), which calls it on first use.
"""

import logging
import os
import sys

from vamo.core import observe
from vamo.core.component import Context
from vamo.core.config import load_config
from vamo.core.db import Database, DatabaseError, ThreadConnections
from vamo.core.generations import CLASSIC, CURRENT, SchemaState, inspect
from vamo.health import HealthApp
from vamo.core.http import NOT_ALLOWED, not_found, send
from vamo.core.refresh import Refresher

log = logging.getLogger("vamo")

DOCKERFLOW_PATHS = frozenset(("/__version__", "/__heartbeat__", "/__lbheartbeat__"))


def resolve_database(config):
    """The database URL to use: VAMO_DATABASE_URL, or the embedded SQLite file
    (created and filled with demo data of VAMO_DEMO_GENERATION on first use)."""
    if config.database_url:
        return config.database_url
    path = config.embedded_database
    generation = config.demo_generation or CLASSIC
    if os.path.exists(path) and _embedded_generation(path) != generation:
        log.info("the embedded database %s is not of the %s generation: making it anew", path, generation)
        os.remove(path)
    if not os.path.exists(path):
        from vamo.dev import demo

        log.info("creating the embedded demo database at %s (%d add-ons, %s generation)", path,
                 config.demo_addons, generation)
        # Written under another name and renamed, so an interrupted start
        # never leaves a half-filled database behind.
        partial = f"{path}.partial-{os.getpid()}"
        db = Database(f"sqlite:///{partial}")
        try:
            demo.generate(db, addons=config.demo_addons, seed=1, reset=True, generation=generation)
        finally:
            db.close()
        for suffix in ("-wal", "-shm"):
            if os.path.exists(partial + suffix):
                os.remove(partial + suffix)
        os.replace(partial, path)
    return f"sqlite:///{path}"


def _embedded_generation(path):
    """The schema generation of the embedded database at `path`; DatabaseError when it is none."""
    from vamo.dev.schema import has_schema

    db = Database(f"sqlite:///{path}")
    try:
        if not has_schema(db, CURRENT):
            raise DatabaseError(f"{path} is not a vamo database; remove it to get a new demo one")
        return inspect(db).generation
    finally:
        db.close()


class Router:
    """Routes a request to an app by host, then by path."""

    def __init__(self, config, update, theme, blocklist, redirects, health):
        def versioncheck_site(path):
            if path.startswith("/update/"):
                return update
            if "/themes/update-check/" in path:
                return theme
            return None

        def blocklist_site(path):
            if path.startswith("/blocklist/") or "/blocked/" in path:
                return blocklist
            return None

        def amo_site(path):
            if path.startswith("/update/"):
                return update
            return blocklist_site(path) or redirects

        def default_site(path):
            return versioncheck_site(path) or blocklist_site(path) or redirects

        sites = {}
        for host in config.versioncheck_hosts:
            sites[host] = ("versioncheck", versioncheck_site)
        for host in config.blocklist_hosts:
            sites[host] = ("blocklist", blocklist_site)
        for host in config.getpersonas_hosts:
            sites[host] = ("getpersonas", lambda path: redirects)
        if config.services_host:
            sites[config.services_host] = ("services", lambda path: redirects)
        if config.amo_host:
            sites[config.amo_host] = ("amo", amo_site)
        self.sites = sites
        self.default = ("default", default_site)
        self.health = health

    def site_for(self, host):
        site = self.sites.get(host)
        if site is None and host:
            name = host.lower().rstrip(".")
            site = self.sites.get(name) or self.sites.get(name.rsplit(":", 1)[0])
        return site or self.default

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path in DOCKERFLOW_PATHS:
            return self.health(environ, start_response)
        site_name, route = self.site_for(environ.get("HTTP_HOST"))
        environ["vamo.site"] = site_name
        app = route(path) or not_found
        return app(environ, start_response)


def _without_body(result):
    """Run a response iterable to its end (so start_response has been called) and close it."""
    try:
        for _ in result:
            pass
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()


class Service:
    """The WSGI application: the router behind one error boundary, plus its refresher.

    CONNECT (no app is a proxy) gets 405 here; each app answers the other
    methods itself. A HEAD answer has the GET answer's headers and never a
    body: on a keep-alive connection body bytes would be read as the next
    response.
    """

    def __init__(self, config, router, refresher):
        self.config = config
        self.router = router
        self.refresher = refresher

    def __call__(self, environ, start_response):
        try:
            method = environ.get("REQUEST_METHOD")
            if method == "HEAD":
                _without_body(self.router(environ, start_response))
                return [b""]
            if method == "CONNECT":
                return send(NOT_ALLOWED, environ, start_response)
            return self.router(environ, start_response)
        except Exception as error:  # D13: report it, answer 500 with an empty body, go on
            observe.capture_request_error(environ, error)
            try:
                start_response("500 Internal Server Error", [("Content-Length", "0")])
            except Exception:  # the app had already started a response
                try:
                    start_response("500 Internal Server Error", [("Content-Length", "0")],
                                   sys.exc_info())
                except Exception:
                    pass  # headers already sent: the server closes the connection
            return [b""]

    def start(self):
        """Start refreshing data in the background (in the process that serves)."""
        self.refresher.start()
        return self

    def stop(self):
        self.refresher.stop()


def create_app(config=None, setup_logging=True):
    """Build the whole service from the settings (default: the environment)."""
    from vamo import blocklist, redirects, theme_update, update

    config = config or load_config()
    if setup_logging:
        observe.setup_logging(config.log_level)
    version = observe.read_version(config.version_file)
    observe.setup_sentry(config, version)
    database_url = resolve_database(config)
    schema = SchemaState(config.schema_generation)
    context = Context(
        config, database_url,
        # request-time lookups are single indexed queries: a hung database must
        # not hold the worker (and every request queued behind it) for long
        ThreadConnections(database_url, config.db_connect_timeout, config.db_refresh_timeout),
        observe.make_statsd(config), schema,
    )
    parts = {name: module.create(context) for name, module in (
        ("update", update), ("theme", theme_update), ("blocklist", blocklist),
        ("redirects", redirects))}
    refresher = Refresher(
        database_url, [source for part in parts.values() for source in part.sources],
        refresh_seconds=config.refresh_seconds, reconcile_seconds=config.reconcile_seconds,
        connect_timeout=config.db_connect_timeout, read_timeout=config.db_read_timeout,
        stale_seconds=config.stale_seconds, refresh_timeout=config.db_refresh_timeout, schema=schema)
    router = Router(config, parts["update"].app, parts["theme"].app, parts["blocklist"].app,
                    parts["redirects"].app, HealthApp(refresher, version))
    return Service(config, router, refresher)
