"""statsd timers over real UDP, mozlog lines, and the Sentry scrubber."""

import io
import json
import logging
import socket
from urllib.parse import urlencode

from tests.amo import FIREFOX
from tests.support import wait_until
from vamo.core import observe


def test_timers_reach_statsd_with_amo_names(serve, tmp_path):
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(5)
    try:
        vamo = serve({"STATSD_HOST": "127.0.0.1", "STATSD_PORT": str(receiver.getsockname()[1]),
                      "STATSD_PREFIX": "amo"})
        assert wait_until(lambda: vamo.get("/__heartbeat__").status == 200, 30)
        vamo.get("/update/VersionCheck.php?" + urlencode({"id": "x@example.com", "appID": FIREFOX.guid,
                                                          "appVersion": "5.0"}))
        vamo.get("/en-US/themes/update-check/1")
        names = set()
        while len(names) < 2:
            packet = receiver.recv(1024).decode()
            name, _, rest = packet.partition(":")
            value, _, kind = rest.partition("|")
            assert kind == "ms" and float(value) >= 0
            names.add(name)
        assert names == {"amo.services.update", "amo.services.theme_update"}
    finally:
        receiver.close()


def test_without_a_statsd_host_the_app_is_not_wrapped():
    def app(environ, start_response):
        return [b""]
    assert observe.timed(app, "services.update", None) is app


def test_log_lines_are_mozlog_json():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(observe.MozlogFormatter())
    logger = logging.getLogger("vamo.test-mozlog")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("refresh failed: %s", "timeout", extra={"fields": {"attempt": 3}})
    finally:
        logger.removeHandler(handler)
    line = json.loads(stream.getvalue())
    assert line["Type"] == "vamo.test-mozlog" and line["Logger"] == "vamo"
    assert line["Severity"] == 4 and line["EnvVersion"] == "2.0"
    assert line["Fields"] == {"msg": "refresh failed: timeout", "attempt": 3}
    assert isinstance(line["Timestamp"], int) and line["Timestamp"] > 1.6e18


def test_the_scrubber_removes_what_identifies_a_person():
    event = {
        "request": {"url": "https://vc.example/update/", "query_string": "id=x",
                    "cookies": {"s": "1"}, "env": {"REMOTE_ADDR": "203.0.113.1", "SERVER_NAME": "vc"},
                    "headers": {"User-Agent": "ua", "X-Forwarded-For": "1.2.3.4", "Cookie": "s=1",
                                "Accept": "*/*"}},
        "user": {"ip_address": "203.0.113.1"},
    }
    scrubbed = observe.scrub_event(event)
    assert scrubbed["request"] == {"url": "https://vc.example/update/", "query_string": "id=x",
                                   "env": {"SERVER_NAME": "vc"}, "headers": {"Accept": "*/*"}}
    assert "user" not in scrubbed
