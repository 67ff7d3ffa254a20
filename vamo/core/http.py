"""What every app shares to answer: one prebuilt-answer type (`Answer`), one
way to send it (`send`), the answers that are the same everywhere (404, 405, 503),
dates and ETags; and the converters of the werkzeug rules the apps route by.

`Answer` and `send` are plain WSGI, no framework objects: they run on the
update check's hot path. A HEAD answer's body is dropped once for every app,
by the service (vamo/app.py), so nothing here looks at the method.
"""

import hashlib
import re
import time
from email.utils import formatdate

from werkzeug.routing import BaseConverter

EMPTY = b""
NOT_MODIFIED = "304 Not Modified"


def http_date(timestamp):
    """RFC 7231 date (`Sun, 06 Nov 1994 08:49:37 GMT`) of a Unix timestamp."""
    return formatdate(timestamp, usegmt=True)


class ExpiryClock:
    """The caching headers of one max-age: Cache-Control, and `Expires` values
    computed at most once a second."""

    def __init__(self, max_age):
        self.max_age = max_age
        self.cache_control = ("Cache-Control", f"public, max-age={max_age}")
        self._second = None
        self._expires = ""

    def expires(self):
        now = int(time.time())
        if now != self._second:
            self._expires = http_date(now + self.max_age)
            self._second = now
        return self._expires


def make_etag(body):
    """A strong ETag from the body's bytes."""
    return '"%s"' % hashlib.blake2b(body, digest_size=10).hexdigest()


def etag_matches(if_none_match, etag):
    """Whether an If-None-Match header value matches `etag` (weak comparison, RFC 7232)."""
    if if_none_match == etag:
        return True
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate == "*":
            return True
        if candidate.startswith("W/"):
            candidate = candidate[2:]
        if candidate == etag:
            return True
    return False


_TYPE_HEADERS = {}  # one ("Content-Type", ...) pair per type, shared by the answers


class Answer:
    """An answer built once and sent as many times as it is asked for.

    `Answer(status, headers, body)` goes out as built (Content-Length added),
    like a 400 with its empty document or the 404, 405 and 503 below.
    `Answer.cacheable(...)` is a 200 that caches may keep: it also holds its
    ETag, the headers of its 304, and the clock of its `Expires`, which `send`
    adds per request.
    """

    __slots__ = ("status", "headers", "body", "etag", "also", "not_modified_headers", "expiry")

    def __init__(self, status, headers=(), body=EMPTY):
        self.status = status
        self.headers = (*headers, ("Content-Length", str(len(body))))
        self.body = body
        self.etag = self.also = self.not_modified_headers = self.expiry = None

    @classmethod
    def cacheable(cls, body, content_type, expiry, last_modified=None, headers=(), etag=None, also=None):
        """The 200 of `body`: Content-Type, the expiry's Cache-Control, Last-Modified (an
        HTTP date, if there is one), `headers`, and a strong ETag (default: the body's).
        `also` is the ETag of the same data's other representation: it gets a 304 too.
        (Built field by field: the update check builds one per uncached answer, and
        every object allocated in passing brings the next collection closer.)"""
        answer = cls.__new__(cls)
        answer.etag = etag = etag or make_etag(body)
        type_header = _TYPE_HEADERS.get(content_type) or _TYPE_HEADERS.setdefault(
            content_type, ("Content-Type", content_type))
        etag_header, length = ("ETag", etag), ("Content-Length", str(len(body)))
        # A 304 has the headers of the 200 but for the body's type and length.
        if last_modified and not headers:  # the update check's: no list built in passing
            modified = ("Last-Modified", last_modified)
            answer.not_modified_headers = (expiry.cache_control, modified, etag_header)
            answer.headers = (type_header, expiry.cache_control, modified, etag_header, length)
        else:
            modified = (("Last-Modified", last_modified),) if last_modified else ()
            answer.not_modified_headers = (expiry.cache_control, *modified, *headers, etag_header)
            answer.headers = (type_header, *answer.not_modified_headers, length)
        answer.status, answer.body, answer.also, answer.expiry = "200 OK", body, also, expiry
        return answer


def send(answer, environ, start_response):
    """Start `answer` and return its body: a cacheable answer with `Expires`,
    and as a 304 when the request's If-None-Match names its ETag."""
    expiry = answer.expiry
    if expiry is None:
        start_response(answer.status, list(answer.headers))  # a list: servers may add to it
        return [answer.body]
    headers = [("Expires", expiry.expires())]
    if_none_match = environ.get("HTTP_IF_NONE_MATCH")
    if if_none_match and (etag_matches(if_none_match, answer.etag) or
                          answer.also is not None and etag_matches(if_none_match, answer.also)):
        headers.extend(answer.not_modified_headers)
        start_response(NOT_MODIFIED, headers)
        return [EMPTY]
    headers.extend(answer.headers)
    start_response(answer.status, headers)
    return [answer.body]


NOT_FOUND = Answer("404 Not Found")
NOT_ALLOWED = Answer("405 Method Not Allowed", [("Allow", "GET, HEAD")])
GET_HEAD = ("GET", "HEAD")  # what the apps that are not redirects or health answer; 405 otherwise


# The one 503, for every app that cannot answer yet (data not loaded, database
# unreachable): the client may ask again in a few seconds, and no cache (the
# CDN's included) may keep it.
RETRY_SECONDS = 5
UNAVAILABLE = Answer("503 Service Unavailable",
                     (("Retry-After", str(RETRY_SECONDS)), ("Cache-Control", "no-store")))


def not_found(environ, start_response, **_):
    """The WSGI app (or werkzeug endpoint) of the 404."""
    return send(NOT_FOUND, environ, start_response)


# -- the converters of the apps' werkzeug rules (vamo/app.py's maps know them by these names)

class Pattern(BaseConverter):
    """`<re("[0-9]{1,10}"):name>`: one path segment that a regular expression matches
    whole (werkzeug wraps it in a group, so `|` needs no parentheses)."""

    def __init__(self, map, regex):
        super().__init__(map)
        self.regex = regex


class Rest(BaseConverter):
    """`<rest:name>`: the rest of the path, slashes included, maybe empty; tried after
    the rules that take a segment there."""

    regex = r"[\s\S]*"
    part_isolating = False
    weight = 1000


class Holding(Rest):
    """`<holding("/blocked/"):path>`, a whole rule: any path holding the text. An app
    claims what its exact rules leave over with it (they are tried first)."""

    def __init__(self, map, text):
        super().__init__(map)
        # The matcher sees the path without its leading slash: "/x/" may also start it as "x/".
        self.regex = rf"(?:[\s\S]*/)?{re.escape(text.lstrip('/'))}[\s\S]*"


CONVERTERS = {"re": Pattern, "rest": Rest, "holding": Holding}
