"""The legacy redirects (D17): app.py is the WSGI app and its two lookups,
rules.py the rules file's format (checked and compiled at start-up), and
redirects.rules the table vamo ships. `create` is the component vamo/app.py
assembles.
"""

from vamo.redirects.app import create

__all__ = ["create"]
