"""The contract between wsgi.py and each app module.

Every app module (update, theme_update, blocklist, redirects) has
`create(context) -> Component`: it gets the settings, the database URL, a
per-thread connection for request-time queries and the statsd client, and
returns its WSGI app with the data sources the refresher keeps fresh.
"""

from typing import NamedTuple

from vamo.config import Config
from vamo.db import ThreadConnections


class Context(NamedTuple):
    config: Config
    database_url: str
    connections: ThreadConnections  # request-time queries: one connection per thread
    statsd: object                  # observe.Statsd, or None when metrics are off


class Component(NamedTuple):
    app: object           # WSGI callable
    sources: tuple = ()   # refresh.Source instances
