"""The blocklist app (D16): the XML for API 1 to 3, the `/blocked/` pages and the JSON export.

Routes (vamo/app.py sends every path starting `/blocklist/` or holding `/blocked/`):

- `/blocklist/<apiver>/<app>/<appver>/...`: the XML; what follows appver (the
  clients' metrics segments) is ignored. apiver other than 1, 2 or 3: 404.
- `/<locale>/<app>/blocked/` and `/<locale>/<app>/blocked/<i|p><id>`: pages.
- `/blocked/blocklists.json`: the JSON export.

Every answer is computed once per data generation (see vamo/blocklist/data.py) and
kept with its gzip body, ETag and headers, under a key that only takes the
values the data can tell apart: the application (reduced to one the data
names), and for API 1-2 the position of the client's version among the
plugins' range bounds. So a request is a dictionary lookup, and no client
can grow the memo by sending new values.
"""

import gzip
import re

from vamo.blocklist import json as json_export, pages, xml
from vamo.blocklist.data import BlocklistData
from vamo.compat import APPS_BY_SHORT, version_int
from vamo.core.component import Component
from vamo.core.generations import BLOCKLIST
from vamo.core.http import EMPTY, ExpiryClock, etag_matches, http_date, make_etag, not_found

MAX_AGE = 3600
RETRY_AFTER = "5"
XML_PATH = re.compile(r"/blocklist/([^/]*)/([^/]+)/([^/]+)/")
PAGE_PATH = re.compile(r"/([^/]+)/([^/]+)/blocked/(?:([ip])([1-9][0-9]{0,9}))?\Z")
JSON_PATH = "/blocked/blocklists.json"
LOCALE = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8}){0,3}\Z")
API_VERSIONS = {"1": 1, "2": 2, "3": 3}
XML_TYPE = "text/xml"
HTML_TYPE = "text/html; charset=utf-8"
JSON_TYPE = "application/json"


class Rendered:
    """One answer: both bodies and their headers, built once."""

    __slots__ = ("body", "gzipped", "etag", "gzip_etag", "plain_headers", "gzip_headers",
                 "plain_304_headers", "gzip_304_headers")

    def __init__(self, body, last_modified_ms, content_type):
        self.body = body
        self.gzipped = gzip.compress(body, compresslevel=9, mtime=0)
        self.etag = make_etag(body)
        self.gzip_etag = self.etag[:-1] + '-gzip"'  # another representation, another strong ETag
        caching = [("Cache-Control", f"public, max-age={MAX_AGE}"),
                   ("Last-Modified", http_date(last_modified_ms // 1000)),
                   ("Vary", "Accept-Encoding")]
        # A 304 repeats the caching headers, not the body's type.
        self.plain_304_headers = caching + [("ETag", self.etag)]
        self.gzip_304_headers = caching + [("ETag", self.gzip_etag), ("Content-Encoding", "gzip")]
        self.plain_headers = [("Content-Type", content_type)] + self.plain_304_headers
        self.gzip_headers = [("Content-Type", content_type)] + self.gzip_304_headers


def accepts_gzip(header):
    """Whether an Accept-Encoding value allows gzip (a q of 0, or one that is not a number, refuses)."""
    if not header:
        return False
    wildcard = False
    for part in header.split(","):
        name, _, parameters = part.partition(";")
        name = name.strip().lower()
        quality = 1.0
        for parameter in parameters.split(";"):
            key, _, value = parameter.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if name in ("gzip", "x-gzip"):
            return quality > 0
        if name == "*":
            wildcard = quality > 0
    return wildcard


def _segment(value):
    # PATH_INFO holds the URL's bytes as latin-1 (PEP 3333); clients send UTF-8.
    try:
        return value.encode("latin-1").decode("utf-8", "replace")
    except UnicodeEncodeError:
        return value


class BlocklistApp:
    def __init__(self, data, schema):
        self.data = data
        self.schema = schema
        self.expiry = ExpiryClock(MAX_AGE)

    def __call__(self, environ, start_response):
        route = self.route(environ.get("PATH_INFO", ""))
        if route is None or self.schema.is_off(BLOCKLIST):  # off: no bl* tables (D20)
            return not_found(environ, start_response)
        method = environ.get("REQUEST_METHOD", "GET")
        if method not in ("GET", "HEAD"):
            start_response("405 Method Not Allowed", [("Allow", "GET, HEAD"), ("Content-Length", "0")])
            return [EMPTY]
        generation = self.data.generation
        if generation is None:  # not loaded yet
            start_response("503 Service Unavailable",
                           [("Retry-After", RETRY_AFTER), ("Content-Length", "0")])
            return [EMPTY]
        handler, arguments = route
        rendered = handler(generation, *arguments)
        if rendered is None:
            return not_found(environ, start_response)
        return self.send(environ, start_response, rendered, head=method == "HEAD")

    def route(self, path):
        """(handler, arguments) for a path this app serves, or None."""
        if path.startswith("/blocklist/"):
            match = XML_PATH.match(path)
            if match is None or match.group(1) not in API_VERSIONS:
                return None
            return self.on_blocklist, (API_VERSIONS[match.group(1)], _segment(match.group(2)),
                                       _segment(match.group(3)))
        if path == JSON_PATH:
            return self.on_json, ()
        match = PAGE_PATH.match(path)
        if match is None:
            return None
        locale, short, kind, number = match.groups()
        app = APPS_BY_SHORT.get(short)
        if app is None or not LOCALE.match(locale):
            return None
        if kind:
            return self.on_detail, (app, kind, int(number))
        return self.on_list, (app,)

    def send(self, environ, start_response, rendered, head=False):
        compressed = accepts_gzip(environ.get("HTTP_ACCEPT_ENCODING"))
        expires = ("Expires", self.expiry.expires())
        if_none_match = environ.get("HTTP_IF_NONE_MATCH")
        # Either representation's ETag is the same data: both get a 304.
        if if_none_match and (etag_matches(if_none_match, rendered.etag)
                              or etag_matches(if_none_match, rendered.gzip_etag)):
            headers = rendered.gzip_304_headers if compressed else rendered.plain_304_headers
            start_response("304 Not Modified", [*headers, expires])
            return [EMPTY]
        if compressed:
            headers, body = rendered.gzip_headers, rendered.gzipped
        else:
            headers, body = rendered.plain_headers, rendered.body
        start_response("200 OK", [*headers, expires, ("Content-Length", str(len(body)))])
        return [EMPTY if head else body]

    # -- endpoints: each returns a Rendered (memoized per generation) or None -----------
    def on_blocklist(self, generation, api_version, app, appver):
        app_key = generation.app_key(app)
        if api_version >= 3:
            appver_int, key = None, ("xml", app_key)
        else:
            # API 1 and 2 give the same document; only the plugin filter differs.
            appver_int = version_int(appver)
            key = ("xml-legacy", app_key, generation.legacy_bucket(app_key, appver_int))
        return generation.memoized(key, lambda: Rendered(
            *xml.render(generation, app_key, api_version, appver_int), XML_TYPE))

    def on_json(self, generation):
        return generation.memoized(("json",), lambda: Rendered(
            *json_export.render(generation), JSON_TYPE))

    def on_list(self, generation, app):
        return generation.memoized(("list", app.short), lambda: Rendered(
            pages.render_list(generation, app), generation.changed_ms, HTML_TYPE))

    def on_detail(self, generation, app, kind, number):
        def build():
            page = pages.render_detail(generation, app, kind, number)
            return None if page is None else Rendered(page, generation.changed_ms, HTML_TYPE)
        return generation.memoized(("detail", app.short, kind, number), build)


def create(context):
    data = BlocklistData()
    return Component(BlocklistApp(data, context.schema), (data,))
