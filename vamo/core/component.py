"""The contract between vamo/app.py and each app module.

Every app module (update, theme_update, blocklist, redirects) has
`create(context) -> Component`: it gets the settings, the database URL, a
per-thread connection for request-time queries, the statsd client and the
database's schema generation (known once the database has answered), and
returns its WSGI app with the data sources the refresher keeps fresh.
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
    app: object           # WSGI callable
    sources: tuple = ()   # refresh.Source instances
