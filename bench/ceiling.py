"""The ceiling: what the server itself costs, with no app work at all.

A WSGI app that answers every request with one fixed body and prebuilt
headers. The body has the mean size of vamo's answers over the bench's
request mix (BENCH_CEILING_BYTES, measured by the bench), and the headers
are the ones vamo sends with a 200 answer, so the server writes what it
writes for vamo and the ratio vamo/ceiling isolates vamo's own work.
"""

import os

from vamo.core.http import http_date, make_etag

DEFAULT_BYTES = 400


def make_body(size):
    """A JSON document of exactly `size` bytes (at least 14)."""
    head, tail = b'{"padding": "', b'"}'
    return head + b"x" * max(0, size - len(head) - len(tail)) + tail


def make_app(size):
    body = make_body(size)
    stamp = http_date(0)
    headers = [("Expires", stamp), ("Content-Type", "application/json"),
               ("Cache-Control", "public, max-age=3600"), ("Last-Modified", stamp),
               ("ETag", make_etag(body)), ("Content-Length", str(len(body)))]

    def application(environ, start_response):
        start_response("200 OK", list(headers))  # vamo builds a fresh list per request too
        return [body]

    return application


application = make_app(int(os.environ.get("BENCH_CEILING_BYTES", DEFAULT_BYTES)))
