"""The blocklist app (D16): the XML for API 1 to 3, the `/blocked/` pages and the JSON export.

Routes (`rules`, which vamo/app.py puts in the tables of the hosts that serve the blocklist):

- `/blocklist/<apiver>/<app>/<appver>/...`: the XML; what follows appver (the
  clients' metrics segments) is ignored. apiver other than 1, 2 or 3: 404.
- `/<locale>/<app>/blocked/` and `/<locale>/<app>/blocked/<i|p><id>`: pages.
- `/blocked/blocklists.json`: the JSON export.
- Every other path starting `/blocklist/` or holding `/blocked/`: 404.

Every answer is computed once per data generation (see vamo/blocklist/data.py) and
kept as two answers (plain and gzip), under a key that only takes the
values the data can tell apart: the application (reduced to one the data
names), and for API 1-2 the position of the client's version among the
plugins' range bounds. So a request is a dictionary lookup, and no client
can grow the memo by sending new values.
"""

import gzip
import re

from werkzeug.routing import Rule

from vamo.blocklist import json as json_export, pages, xml
from vamo.blocklist.data import BlocklistData
from vamo.compat import APPS_BY_SHORT, version_int
from vamo.core.component import Component
from vamo.core.generations import BLOCKLIST
from vamo.core.http import (GET_HEAD, NOT_ALLOWED, Answer, ExpiryClock, http_date, make_etag,
                            not_found, send, UNAVAILABLE)

MAX_AGE = 3600
EXPIRY = ExpiryClock(MAX_AGE)
LOCALE = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8}){0,3}\Z")
API_VERSIONS = {"1": 1, "2": 2, "3": 3}
XML_TYPE = "text/xml"
HTML_TYPE = "text/html; charset=utf-8"
JSON_TYPE = "application/json"
_VARY = ("Vary", "Accept-Encoding")
_GZIP = ("Content-Encoding", "gzip")


def answers(body, last_modified_ms, content_type):
    """The plain and the gzip answer of one body, built once; each one's ETag gets
    a 304 from either (another representation of the same data, another strong ETag)."""
    etag = make_etag(body)
    gzip_etag = etag[:-1] + '-gzip"'
    modified = http_date(last_modified_ms // 1000)
    return (Answer.cacheable(body, content_type, EXPIRY, modified, (_VARY,), etag, also=gzip_etag),
            Answer.cacheable(gzip.compress(body, compresslevel=9, mtime=0), content_type, EXPIRY, modified,
                             (_VARY, _GZIP), gzip_etag, also=etag))


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
        self.rules = (
            Rule('/blocklist/<any("1", "2", "3"):api_version>/<app>/<appver>/<rest:metrics>',
                 endpoint=self.xml),
            Rule('/<locale>/<app>/blocked/<re("|[ip][1-9][0-9]{0,9}"):block>', endpoint=self.page),
            Rule("/blocked/blocklists.json", endpoint=self.json),
            Rule("/blocklist/<rest:path>", endpoint=not_found),
            Rule('/<holding("/blocked/"):path>', endpoint=not_found),
        )

    def xml(self, environ, start_response, api_version, app, appver, metrics):
        return self.answer(environ, start_response, self.on_blocklist, API_VERSIONS[api_version],
                           _segment(app), _segment(appver))

    def page(self, environ, start_response, locale, app, block):
        """The list (`block` empty) or the page of block `i<id>` or `p<id>`."""
        app = APPS_BY_SHORT.get(app)
        if app is None or not LOCALE.match(locale):
            return not_found(environ, start_response)
        if block:
            return self.answer(environ, start_response, self.on_detail, app, block[0], int(block[1:]))
        return self.answer(environ, start_response, self.on_list, app)

    def json(self, environ, start_response):
        return self.answer(environ, start_response, self.on_json)

    def answer(self, environ, start_response, handler, *arguments):
        if self.schema.is_off(BLOCKLIST):  # no bl* tables (D20)
            return not_found(environ, start_response)
        if environ.get("REQUEST_METHOD", "GET") not in GET_HEAD:
            return send(NOT_ALLOWED, environ, start_response)
        generation = self.data.generation
        if generation is None:  # not loaded yet
            return send(UNAVAILABLE, environ, start_response)
        both = handler(generation, *arguments)
        if both is None:
            return not_found(environ, start_response)
        plain, gzipped = both
        return send(gzipped if accepts_gzip(environ.get("HTTP_ACCEPT_ENCODING")) else plain,
                    environ, start_response)

    # -- handlers: each returns the (plain, gzip) answers (memoized per generation) or None
    def on_blocklist(self, generation, api_version, app, appver):
        app_key = generation.app_key(app)
        if api_version >= 3:
            appver_int, key = None, ("xml", app_key)
        else:
            # API 1 and 2 give the same document; only the plugin filter differs.
            appver_int = version_int(appver)
            key = ("xml-legacy", app_key, generation.legacy_bucket(app_key, appver_int))
        return generation.memoized(key, lambda: answers(
            *xml.render(generation, app_key, api_version, appver_int), XML_TYPE))

    def on_json(self, generation):
        return generation.memoized(("json",), lambda: answers(*json_export.render(generation), JSON_TYPE))

    def on_list(self, generation, app):
        return generation.memoized(("list", app.short), lambda: answers(
            pages.render_list(generation, app), generation.changed_ms, HTML_TYPE))

    def on_detail(self, generation, app, kind, number):
        def build():
            page = pages.render_detail(generation, app, kind, number)
            return None if page is None else answers(page, generation.changed_ms, HTML_TYPE)
        return generation.memoized(("detail", app.short, kind, number), build)


def create(context):
    data = BlocklistData()
    return Component((data,), BlocklistApp(data, context.schema).rules)
