"""Small HTTP helpers shared by the apps: dates, ETags, canned responses.

Plain WSGI, no framework objects: these run on the hot path.
"""

import hashlib
import time
from email.utils import formatdate


def http_date(timestamp):
    """RFC 7231 date (`Sun, 06 Nov 1994 08:49:37 GMT`) of a Unix timestamp."""
    return formatdate(timestamp, usegmt=True)


class ExpiryClock:
    """`Expires` header values for one max-age, computed at most once a second."""

    def __init__(self, max_age):
        self.max_age = max_age
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


EMPTY = b""


def not_found(environ, start_response):
    start_response("404 Not Found", [("Content-Length", "0")])
    return [EMPTY]


def plain(start_response, status, text, headers=()):
    body = text.encode("utf-8")
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"),
                            ("Content-Length", str(len(body))), *headers])
    return [body]


def json_response(start_response, status, body_bytes, headers=()):
    start_response(status, [("Content-Type", "application/json"),
                            ("Content-Length", str(len(body_bytes))), *headers])
    return [body_bytes]
