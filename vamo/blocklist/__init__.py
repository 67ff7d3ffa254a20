"""The blocklist (D16): the XML, the `/blocked/` pages and the JSON export.

app.py: the WSGI app (routes, memoized answers, ETag/304, gzip); data.py: the
bl* tables in memory, change detection, selection; xml.py, pages.py, json.py:
the three renderings. `create` is the component vamo/app.py assembles.
"""

from vamo.blocklist.app import create

__all__ = ["create"]
