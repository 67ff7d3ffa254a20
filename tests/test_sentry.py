"""An exception inside a request reaches a local HTTP endpoint posing as Sentry,
without the client's IP, cookies or user agent; the request gets an empty 500."""

import pytest
import sentry_sdk
from werkzeug.test import Client

from tests.support import FakeSentry, make_config
from vamo.dev import demo
from vamo.core.db import Database
from vamo.app import create_app


@pytest.fixture
def fake_sentry():
    server = FakeSentry()
    yield server
    sentry_sdk.init(dsn=None)
    server.close()


def test_a_failing_request_reaches_sentry_without_personal_data(fake_sentry, sqlite_url):
    db = Database(sqlite_url)
    demo.generate(db, addons=20, seed=1)
    db.close()
    config = make_config(database_url=sqlite_url,
                         sentry_dsn=f"http://publickey@127.0.0.1:{fake_sentry.port}/42")
    service = create_app(config, setup_logging=False)

    def broken(environ, start_response):
        raise RuntimeError("kaboom in the update check")

    service.router = broken  # a failure inside a request, behind the real error boundary
    # Built at run time: Sentry sends the source lines around the failing
    # frame, and literals there would match the checks below.
    private = {"ip": ".".join(["203", "0", "113", "9"]), "xff": ".".join(["198", "51", "100", "7"]),
               "agent": "-".join(["test", "agent", "uax"]), "cookie": "-".join(["cookie", "value"])}
    response = Client(service).get(
        "/__heartbeat__?id=%7Bsome-addon%7D&appVersion=128.0",
        headers={"User-Agent": private["agent"], "Cookie": "session=" + private["cookie"],
                 "X-Forwarded-For": private["xff"], "Accept": "*/*"},
        environ_overrides={"REMOTE_ADDR": private["ip"]})
    assert response.status_code == 500
    assert response.get_data() == b""

    sentry_sdk.flush(10)
    assert [path for path, _ in fake_sentry.envelopes] == ["/api/42/envelope/"]
    raw = fake_sentry.envelopes[0][1].decode()
    for value in private.values():
        assert value not in raw
    (event,) = fake_sentry.events()
    (exception,) = event["exception"]["values"]
    assert exception["type"] == "RuntimeError"
    assert exception["value"] == "kaboom in the update check"
    assert event["request"]["query_string"] == "id=%7Bsome-addon%7D&appVersion=128.0"
    assert event["request"]["url"].endswith("/__heartbeat__")
    assert event["request"]["headers"].get("Accept") == "*/*"
    assert "user" not in event or "ip_address" not in event["user"]
    assert event["release"] == __import__("vamo").__version__
