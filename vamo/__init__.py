"""vamo: AMO's add-on services (update checks, blocklist, legacy redirects) as one fast WSGI app.

D-numbers in comments (D1 to D21) are the decisions of docs/decisions.md.
"""

__version__ = "0.1.0"
