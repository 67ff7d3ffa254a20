"""Dockerflow endpoints: /__version__, /__heartbeat__, /__lbheartbeat__, on every host.

`/__lbheartbeat__` is the load balancer's check: 200, no I/O. `/__heartbeat__`
does no I/O either: it reports what the refresher last saw (it reaches the
database every VAMO_REFRESH_SECONDS) and how fresh each app's loaded data is,
so a monitor polling it never blocks a worker on a dead database. They answer
every method.
"""

import json
from functools import partial

from werkzeug.routing import Rule

from vamo import __version__
from vamo.core.http import Answer, send

_JSON_TYPE = ("Content-Type", "application/json")
_NO_CACHE = ("Cache-Control", "no-cache, no-store")
_LB_OK = Answer("200 OK", [_JSON_TYPE, _NO_CACHE], b"{}")
_STATES = {True: "ok", False: "error", None: "off"}


class HealthApp:
    def __init__(self, refresher, version):
        self.refresher = refresher
        version = Answer("200 OK", [_JSON_TYPE], json.dumps(version or {
            "source": "", "version": __version__, "commit": "", "build": ""}).encode())
        self.rules = (
            Rule("/__lbheartbeat__", endpoint=partial(send, _LB_OK)),
            Rule("/__heartbeat__", endpoint=self.heartbeat),
            Rule("/__version__", endpoint=partial(send, version)),
        )

    def heartbeat(self, environ, start_response):
        checks = self.refresher.checks()
        ok = all(passed is not False for passed, _ in checks.values())  # None: an app that is off
        body = {
            "status": "ok" if ok else "error",
            "checks": {name: _STATES[passed] for name, (passed, _) in checks.items()},
            "details": {name: detail for name, (_, detail) in checks.items()},
        }
        status = "200 OK" if ok else "500 Internal Server Error"
        return send(Answer(status, [_JSON_TYPE, _NO_CACHE], json.dumps(body).encode()), environ, start_response)
