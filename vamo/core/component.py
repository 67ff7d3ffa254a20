"""The contract between vamo/app.py and each app module.

Every app module (update, theme_update, blocklist, redirects) has
`create(context) -> Component`: it gets the settings, the database URL, a
per-thread connection for request-time queries, the statsd client and the
database's schema generation (known once the database has answered), and
returns its routes with the data sources the refresher keeps fresh.

An app's routes are declared once, by the app: werkzeug rules (their
endpoints are called `(environ, start_response, **values)` with the values
of the path), which vamo/app.py puts into the tables of the hosts the app
serves; or, for the update check and the redirects, a WSGI app that the
router calls itself (the update check by its path prefix, so its hot path
has no werkzeug in it; the redirects for what no rule matches, by their own
rules table, whose first matching rule wins).
"""

from typing import NamedTuple

from vamo.core.config import Config
from vamo.core.db import ThreadConnections
from vamo.core.generations import SchemaState


class Context(NamedTuple):
    config: Config
    database_url: str
    connections: ThreadConnections  # request-time queries: one connection per thread
    statsd: object                  # observe.Statsd, or None when metrics are off
    schema: SchemaState             # the database's generation and apps, once it has answered


class Component(NamedTuple):
    sources: tuple = ()   # refresh.Source instances
    rules: tuple = ()     # werkzeug Rules
    app: object = None    # a WSGI callable the router calls itself
