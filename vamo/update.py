"""The add-on update check: `GET /update/VersionCheck.php?reqVersion=2&id=...`.

The hot path (query string in, bytes out) uses no framework objects: a
hand-written query parser with the legacy `parse_qsl` semantics (D2), one
dict lookup in the in-memory index (`update_index`), the compatibility
predicate (`compat.qualifies`), and prebuilt header tuples. Rendered answers
are cached per add-on under the normalised request (application,
version_int of appVersion, platform, compatMode); the refresher tells the
cache which add-ons changed, and the request thread drops them before its
next lookup, so only the request thread ever mutates the cache.

Answers (D3, D4, D12): 400 with the empty document for a missing id, appID
or appVersion, an unknown application, an oversized or undecodable query;
200 with the empty document for an unknown or ineligible add-on; 405 for
methods other than GET and HEAD; 503 until the data has loaded once;
`If-None-Match` gets 304. The answers are `vamo.core.http.Answer`s, sent by
its `send`, like every app's.
"""

import re
from urllib.parse import unquote

from vamo import compat
from vamo.core.caches import ResponseCache
from vamo.core.component import Component
from vamo.core.http import NOT_ALLOWED, UNAVAILABLE, Answer, ExpiryClock, http_date, send
from vamo.core.observe import timed
from vamo.update_index import UpdateData
from vamo.update_render import EMPTY_JSON, EMPTY_RDF, Renderer

MAX_QUERY_LENGTH = 8192
MAX_GUID_LENGTH = 255       # AMO's addons.guid column
MAX_APP_VERSION_LENGTH = 64  # real ones are like 128.0a1 or 2.53.18.1
MAX_APP_OS_LENGTH = 64
MAX_AGE = 3600
PATH_PREFIX = "/update/"  # D1: the update check answers every path under it (vamo/app.py routes by it)
_WANTED = frozenset(("id", "appID", "appVersion", "appOS", "compatMode", "currentAppVersion"))
_HIGH_ESCAPE = re.compile("%[89a-fA-F][0-9a-fA-F]")
_JSON_TYPE = "application/json"
_RDF_TYPE = "text/xml"


class BadQuery(ValueError):
    """The query string is oversized or not UTF-8."""


def memoized(function, limit, max_length=0, max_chars=0):
    """`function` of one argument, remembered for up to `limit` arguments (then all
    forgotten at once). The hot path's inputs repeat all day: the same GUIDs
    and app ids to unescape, app versions, OS names, add-on timestamps.

    A string argument longer than `max_length` (longer than any real value) is
    answered but not remembered, and the remembered string arguments hold at
    most `max_chars` characters in all (default `limit * max_length`): what
    requests send cannot grow the memo past a size fixed here. Values are no
    bigger than their arguments, or small.
    """
    memo = {}
    chars = 0
    max_chars = max_chars or limit * max_length

    def remembered(argument):
        nonlocal chars
        value = memo.get(argument)
        if value is None:
            value = function(argument)
            length = len(argument) if argument.__class__ is str else 0
            if length > max_length:
                return value
            if len(memo) >= limit or chars + length > max_chars:
                memo.clear()
                chars = 0
            memo[argument] = value
            chars += length
        return value

    return remembered


def _unquote_strict(text):
    """`text` with `+` and %-escapes decoded as UTF-8 (UnicodeDecodeError if not UTF-8)."""
    return unquote(text.replace("+", " "), errors="strict")


# An escaped GUID (at most 255 characters) is at most three times as long.
_decode = memoized(_unquote_strict, 50000, max_length=3 * MAX_GUID_LENGTH, max_chars=4_000_000)


def parse_query(query):
    """The parameters the update check reads, as the legacy `dict(parse_qsl(...))` gave
    them: blank values dropped, the last repeated key wins. Raises BadQuery (or
    UnicodeDecodeError) for an oversized or undecodable query string."""
    if len(query) > MAX_QUERY_LENGTH:
        raise BadQuery("query string too long")
    if not query.isascii():
        # WSGI hands over the raw bytes as latin-1; they must be UTF-8.
        try:
            query = query.encode("latin-1").decode("utf-8")
        except UnicodeError:
            raise BadQuery("query string is not UTF-8") from None
    found = {}
    for pair in query.split("&"):
        key, _, value = pair.partition("=")
        if not value:
            continue
        if "%" in key or "+" in key:
            key = _decode(key)
        if key in _WANTED:
            if "%" in value or "+" in value:
                value = _decode(value)
            found[key] = value
        elif "%" in value and _HIGH_ESCAPE.search(value):
            # Any undecodable value is refused (D3), but only an escaped byte
            # >= 0x80 can fail to decode: the other values need no unquoting.
            _decode(value)
    return found


class UpdateApp:
    """The WSGI app of the update check."""

    def __init__(self, config, data, cache):
        self.data = data
        self.cache = cache
        self.renderer = Renderer(config.site_url, config.addons_url)
        self.formats = compat.answer_formats(config.rdf_apps)
        self.expiry = ExpiryClock(MAX_AGE)
        self._version_int = memoized(compat.version_int, 10000, MAX_APP_VERSION_LENGTH)
        self._platform = memoized(compat.platform_from_appos, 1000, MAX_APP_OS_LENGTH)
        # formatdate costs a quarter of an uncached answer; add-ons keep their time
        # (its arguments are the loaded add-ons' timestamps, not what requests send).
        self._http_date = memoized(http_date, 200000)
        self._empty_answers = {}
        self._bad_answers = {  # 400, with the empty document of the format asked for (D3)
            rdf: Answer("400 Bad Request", [("Content-Type", _RDF_TYPE if rdf else _JSON_TYPE),
                                            self.expiry.cache_control], EMPTY_RDF if rdf else EMPTY_JSON)
            for rdf in (False, True)}

    def __call__(self, environ, start_response):
        method = environ.get("REQUEST_METHOD")
        if method != "GET" and method != "HEAD":
            return send(NOT_ALLOWED, environ, start_response)
        data = self.data
        if not data.loaded:
            return send(UNAVAILABLE, environ, start_response)
        cache = self.cache
        if cache.changed:
            cache.drop_changed()
        query = environ.get("QUERY_STRING", "")
        # A client asks with the same string every time: a repeat is answered
        # by it, unparsed (a cached answer costs half the CPU it did parsed).
        answer = cache.by_query.get(query)
        if answer is None:
            answer = self._answer_query(query)
        return send(answer, environ, start_response)

    def _answer_query(self, query):
        """The Answer for a query string not seen before (cached unless it is a 400)."""
        data, cache = self.data, self.cache
        try:
            params = parse_query(query)
        except ValueError:  # BadQuery, UnicodeDecodeError
            return self._bad_answers[False]
        protocol = data.protocol
        app = protocol.apps.get(params.get("appID"))
        if app is None:
            return self._bad_answers[False]
        guid = params.get("id")
        app_version = params.get("appVersion")
        rdf = self._wants_rdf(app, params.get("currentAppVersion") or app_version)
        if not guid or not app_version:
            return self._bad_answers[rdf]

        if len(guid) > MAX_GUID_LENGTH:  # no add-on has it: nothing to look up or remember
            answer = self._empty_answer(rdf)
        else:
            key = guid.lower()
            mode = params.get("compatMode")
            # The id as sent is part of the request: the answer echoes it (D10).
            request = (app.id, self._version_int(app_version),
                       self._platform(params.get("appOS")) if protocol.platforms else 0,
                       compat.STRICT if mode is None else compat.COMPAT_MODES.get(mode, protocol.unknown_mode),
                       rdf, guid)
            answers = cache.by_addon.get(key)
            answer = answers.get(request) if answers else None
            if answer is not None:
                cache.remember_query(key, query, answer)
            else:
                entry = data.index.get(key)
                if entry is None:
                    answer = self._empty_answer(rdf)
                else:
                    candidate = find_update(entry, app.id, *request[1:4], protocol.d2c_min_int[app.id])
                    # Keys of 3 or 7 items: never equal to a request's 6.
                    answer_key = (rdf, guid, app.id) if candidate is None else (
                        rdf, guid, app.id, candidate.version_id, candidate.file_id,
                        candidate.min_version, candidate.max_version)
                    answer = answers.get(answer_key) if answers else None
                    if answer is None:
                        answer = self._answer(protocol, entry, app, rdf, guid, candidate)
                    cache.put(key, request, answer_key, answer, query)
        return answer

    # -- the parts -----------------------------------------------------------------------
    def _wants_rdf(self, app, client_version):
        """D4: RDF or JSON, by what the client parses (or as the operator forces)."""
        answer_format = self.formats[app.id]
        if answer_format is compat.BY_CLIENT_VERSION:
            return self._version_int(client_version or "") <= compat.THUNDERBIRD_LAST_RDF_INT
        return answer_format is compat.RDF

    def _answer(self, protocol, entry, app, rdf, guid, candidate):
        render = self.renderer.rdf if rdf else self.renderer.json
        # Whole seconds, as the header has them: an entry a refresh changed is
        # stamped to the microsecond, and the memo would keep a date per change.
        return Answer.cacheable(render(entry, app, candidate, guid, protocol.site_links),
                                _RDF_TYPE if rdf else _JSON_TYPE, self.expiry, self._http_date(int(entry.modified)))

    def _empty_answer(self, rdf):
        """The 200 answer for an unknown add-on (never cached per add-on: ids are unbounded)."""
        loaded_at = self.data.loaded_at
        cached = self._empty_answers.get(rdf)
        if cached is None or cached[0] != loaded_at:
            cached = self._empty_answers[rdf] = (loaded_at, Answer.cacheable(
                EMPTY_RDF if rdf else EMPTY_JSON, _RDF_TYPE if rdf else _JSON_TYPE, self.expiry,
                http_date(loaded_at)))
        return cached[1]


def find_update(entry, app_id, app_version_int, platform, mode, d2c_min_int):
    """The candidate to offer (D9: the first that qualifies, in index order), or None."""
    overrides = entry.overrides.get(app_id)
    qualifies = compat.qualifies
    for candidate in entry.candidates.get(app_id, ()):
        if qualifies(app_version_int, platform, mode, min_int=candidate.min_int,
                     max_int=candidate.max_int, file_platform=candidate.platform_id,
                     strict_file=candidate.strict_file, d2c_min_int=d2c_min_int,
                     version_id=candidate.version_id, overrides=overrides):
            return candidate
    return None


def create(context):
    config = context.config
    cache = ResponseCache(config.cache_size, config.cache_mb * 1024 * 1024)
    data = UpdateData(on_change=cache.invalidate, schema=context.schema)
    app = UpdateApp(config, data, cache)
    return Component((data,), app=timed(app, "services.update", context.statsd))
