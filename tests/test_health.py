"""Dockerflow endpoints, in-process and over a real socket with the database going down."""

import json

import pytest
from werkzeug.test import Client

from tests.support import demo_database, make_config, wait_until
from vamo.dev import demo
from vamo.core.db import Database
from vamo.dev.devdb import MariaDBServer
from vamo.app import create_app


@pytest.fixture
def demo_sqlite_url(sqlite_url):
    db = Database(sqlite_url)
    demo.generate(db, addons=60, seed=2)
    db.close()
    return sqlite_url


def make_client(database_url, **changes):
    service = create_app(make_config(database_url=database_url, **changes), setup_logging=False)
    return service, Client(service)


def test_lbheartbeat_does_no_io(demo_sqlite_url):
    service, client = make_client(demo_sqlite_url)
    response = client.get("/__lbheartbeat__")  # the refresher has not run: no data, no database
    assert response.status_code == 200


def test_heartbeat_fails_until_data_is_loaded_then_passes(demo_sqlite_url):
    service, client = make_client(demo_sqlite_url)
    before = client.get("/__heartbeat__")
    assert before.status_code == 500
    assert before.json["status"] == "error"
    assert before.json["checks"]["database"] == "error"
    assert service.refresher.run_once()
    after = client.get("/__heartbeat__")
    assert after.status_code == 200, after.json
    assert after.json["status"] == "ok"
    assert set(after.json["checks"].values()) == {"ok"}
    assert after.headers["Cache-Control"] == "no-cache, no-store"


def test_version_object_from_file(demo_sqlite_url, tmp_path):
    version = {"source": "https://github.com/mozilla/vamo", "version": "2026.11.30",
               "commit": "0123456789abcdef", "build": "https://ci.example/1"}
    path = tmp_path / "version.json"
    path.write_text(json.dumps(version))
    _, client = make_client(demo_sqlite_url, version_file=str(path))
    assert client.get("/__version__").json == version


def test_version_object_without_file_names_the_package(demo_sqlite_url, tmp_path):
    _, client = make_client(demo_sqlite_url, version_file=str(tmp_path / "missing.json"))
    response = client.get("/__version__")
    assert response.status_code == 200
    assert response.json["version"] == __import__("vamo").__version__


def test_heartbeat_reports_the_database_going_down_and_coming_back(serve, tmp_path):
    with MariaDBServer() as server:
        vamo = serve({"VAMO_DATABASE_URL": demo_database(server, addons=50, seed=3), "VAMO_REFRESH_SECONDS": "0.3",
                      "VAMO_DB_CONNECT_TIMEOUT": "1"})
        assert wait_until(lambda: vamo.get("/__heartbeat__").status == 200, 20)

        server.stop()
        down = wait_until(lambda: (r := vamo.get("/__heartbeat__")).status == 500 and r, 20)
        assert down, "heartbeat kept passing with the database down"
        body = json.loads(down.body)
        assert body["checks"]["database"] == "error"
        assert "unreachable since" in body["details"]["database"]
        assert vamo.get("/__lbheartbeat__").status == 200

        server.start()
        assert wait_until(lambda: vamo.get("/__heartbeat__").status == 200, 40), vamo.output()


def test_heartbeat_names_the_app_whose_data_is_missing_mid_pass(demo_sqlite_url):
    """A pass loads the apps one after another; one failing leaves the others reported fresh."""
    service, client = make_client(demo_sqlite_url)
    refresher = service.refresher
    failing = refresher.sources[-1]
    real_load = failing.load

    def broken_load(db):
        raise RuntimeError("a bug in this app's loader")
    failing.load = broken_load
    assert not refresher.run_once()
    body = client.get("/__heartbeat__").json
    assert body["status"] == "error"
    assert body["details"][failing.name] == "not loaded yet"
    fresh = [source.name for source in refresher.sources[:-1]]
    assert fresh and all(body["checks"][name] == "ok" for name in fresh), body

    failing.load = real_load
    assert refresher.run_once()
    assert client.get("/__heartbeat__").status_code == 200
