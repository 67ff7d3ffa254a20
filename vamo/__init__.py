"""vamo: AMO's add-on services (update checks, blocklist, legacy redirects) as one fast WSGI app."""

__version__ = "0.1.0"
