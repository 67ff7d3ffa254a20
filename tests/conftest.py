"""Shared fixtures: a throwaway MariaDB for the session, fresh databases per
test, settings, and `vamo serve` processes on real sockets."""

import os

import pytest

from tests.support import ServerProcess, demo_database, free_port, make_config
from vamo.core.db import Database
from vamo.dev.schema import install_schema
from vamo.dev.devdb import MariaDBServer, find_mariadbd


@pytest.fixture(scope="session")
def mariadb():
    """A mariadbd of the test session's own (temp datadir, socket, free port)."""
    if find_mariadbd() is None:
        pytest.exit("mariadbd not found: run the README's test command (make test), "
                    "which installs mariadb-server", returncode=3)
    server = MariaDBServer()
    server.start()
    yield server
    server.cleanup()


def _empty_database(mariadb, generation):
    """A new, empty MariaDB database with a generation's schema; (name, URL)."""
    name = mariadb.create_database()
    url = mariadb.url(name)
    db = Database(url)
    try:
        install_schema(db, generation=generation)
    finally:
        db.close()
    return name, url


@pytest.fixture
def mysql_url(mariadb):
    """A new, empty MariaDB database with vamo's (classic) schema, dropped after the test."""
    name, url = _empty_database(mariadb, "classic")
    yield url
    mariadb.drop_database(name)


@pytest.fixture
def current_mysql_url(mariadb):
    """A new, empty MariaDB database with the current generation's schema (AMO since 2021)."""
    name, url = _empty_database(mariadb, "current")
    yield url
    mariadb.drop_database(name)


@pytest.fixture(params=["classic", "current"])
def generation_url(request, mariadb):
    """(generation, URL of a new, empty MariaDB database of that schema generation)."""
    url = request.getfixturevalue("current_mysql_url" if request.param == "current" else "mysql_url")
    return request.param, url


@pytest.fixture
def mysql_db(mysql_url):
    """An open connection to `mysql_url`."""
    db = Database(mysql_url)
    yield db
    db.close()


@pytest.fixture(scope="session")
def demo_mysql_url(mariadb):
    """A MariaDB database filled once per session with 300 generated add-ons (seed 7).

    Read-only: tests that change data make their own database.
    """
    return demo_database(mariadb, addons=300, seed=7)


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'vamo.sqlite3'}"


@pytest.fixture
def config():
    """Settings from an empty environment, to .replace() per test."""
    return make_config()


@pytest.fixture
def serve(tmp_path):
    """Start `vamo serve` processes: serve(env={...}, workers=1, preexec_fn=None) -> ServerProcess."""
    started = []

    def start(env=None, workers=1, wait_for="/__lbheartbeat__", timeout=60, preexec_fn=None):
        process_env = {
            "PATH": os.environ.get("PATH", ""),
            "VAMO_EMBEDDED_DATABASE": str(tmp_path / "embedded.sqlite3"),
            "VAMO_DEMO_ADDONS": "150",
            "VAMO_LISTEN": "127.0.0.1",
            "PORT": str(free_port()),
        }
        process_env.update(env or {})
        server = ServerProcess(process_env, workers=workers, log_dir=tmp_path, preexec_fn=preexec_fn)
        started.append(server)
        server.start(wait_for=wait_for, timeout=timeout)
        return server

    yield start
    for server in started:
        server.stop()
