"""The whole service as one WSGI application, on one port: its assembly and its router.

Requests are routed first by host (D1, D17): the configured host names of the
versioncheck, blocklist, AMO, services and getpersonas sites each get their
own table of paths. Any other host (a single-host deployment, a load
balancer's health check, localhost) is routed by path alone to every app.
The Host header only ever selects a table; it is never echoed anywhere.

Each app declares its routes once (vamo/core/component.py); a site's table
is a werkzeug map of the rules of its apps and the health endpoints', with
the update check routed ahead of it by its path prefix, and the redirects
answering what no rule takes.

`vamo serve` builds the app with `create_app()`; other WSGI servers load
`wsgi:application` (the repository's `wsgi.py`), which calls it on first use.
"""

import logging
import os
import sys

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map

from vamo.core import observe
from vamo.core.collector import Collector
from vamo.core.component import Context
from vamo.core.config import load_config
from vamo.core.db import Database, DatabaseError, ThreadConnections
from vamo.core.generations import CLASSIC, CURRENT, SchemaState, inspect
from vamo.core.http import CONVERTERS, NOT_ALLOWED, not_found, send
from vamo.core.refresh import Refresher
from vamo.health import HealthApp
from vamo.update import PATH_PREFIX as UPDATE_PREFIX

log = logging.getLogger("vamo")


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
    """Routes a request to an app by host, then by path.

    A site is (name, the update check or None, a werkzeug map adapter, fallback app).
    """

    def __init__(self, config, update, theme, blocklist, redirects, health):
        def site(name, *components, update_check=None, fallback=not_found):
            # A werkzeug rule belongs to one map: each site's holds copies.
            rules = [rule.empty() for part in (health, *components) for rule in part.rules]
            return name, update_check, Map(rules, converters=CONVERTERS, merge_slashes=False).bind("vamo"), fallback

        sites = dict.fromkeys(config.versioncheck_hosts, site("versioncheck", theme, update_check=update.app))
        sites.update(dict.fromkeys(config.blocklist_hosts, site("blocklist", blocklist)))
        sites.update(dict.fromkeys(config.getpersonas_hosts, site("getpersonas", fallback=redirects.app)))
        if config.services_host:
            sites[config.services_host] = site("services", fallback=redirects.app)
        if config.amo_host:
            sites[config.amo_host] = site("amo", blocklist, update_check=update.app, fallback=redirects.app)
        self.sites = sites
        self.default = site("default", theme, blocklist, update_check=update.app, fallback=redirects.app)

    def site_for(self, host):
        site = self.sites.get(host)
        if site is None and host:
            name = host.lower().rstrip(".")
            site = self.sites.get(name) or self.sites.get(name.rsplit(":", 1)[0])
        return site or self.default

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        environ["vamo.site"], update, routes, fallback = self.site_for(environ.get("HTTP_HOST"))
        if update is not None and path.startswith(UPDATE_PREFIX):
            return update(environ, start_response)  # the hot path: no werkzeug
        if path[:1] != "/" or path[1:2] == "/":
            # werkzeug strips leading slashes and adds one: a path that does not start with
            # exactly one goes in behind a NUL segment, which no route accepts, so that
            # only the rules claiming what a path holds can take it.
            path = "/\x00" + path
        try:
            endpoint, values = routes.match(path)
        except HTTPException:  # no rule takes it (the maps never redirect: no rule ends in /)
            return fallback(environ, start_response)
        return endpoint(environ, start_response, **values)


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
        self.collector = Collector()  # started by `vamo serve` in each worker

    def __call__(self, environ, start_response):
        collector = self.collector
        collector.requests += 1
        if collector.requests >= collector.every:
            collector.collect()
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
    router = Router(config, parts["update"], parts["theme"], parts["blocklist"], parts["redirects"],
                    HealthApp(refresher, version))
    return Service(config, router, refresher)
