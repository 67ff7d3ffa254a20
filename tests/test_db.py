"""Database URLs and connections, against the throwaway MariaDB and SQLite."""

import time

import pytest

from vamo.core.db import Database, DatabaseError, ThreadConnections, parse_url
from vamo.dev.devdb import free_port


def test_mysql_url_forms():
    tcp = parse_url("mysql://amo:p%40ss@db.internal:3307/olympia")
    assert (tcp.user, tcp.password, tcp.host, tcp.port, tcp.database) == (
        "amo", "p@ss", "db.internal", 3307, "olympia")
    assert not tcp.ssl and tcp.unix_socket == ""
    sock = parse_url("mysql://amo@localhost/olympia?unix_socket=/run/mysqld/mysqld.sock")
    assert sock.unix_socket == "/run/mysqld/mysqld.sock" and sock.database == "olympia"
    assert parse_url("mysql://amo:x@db/olympia?ssl=1").ssl
    assert parse_url("mysql://amo:x@db/olympia").port == 3306
    assert parse_url("sqlite:///var/demo.sqlite3").path == "var/demo.sqlite3"
    assert parse_url("sqlite:////tmp/x.db").path == "/tmp/x.db"


@pytest.mark.parametrize("url", [
    "", "olympia", "http://db/olympia", "mysql://db", "mysql://db/a/b",
    "mysql://db:99999/olympia", "mysql://db/olympia?sslmode=on", "mysql:///olympia", "sqlite://",
])
def test_bad_urls_are_refused(url):
    with pytest.raises(ValueError):
        parse_url(url)


def test_passwords_stay_out_of_messages():
    assert "s3cret" not in parse_url("mysql://amo:s3cret@db/olympia").safe()


def test_tcp_and_socket_urls_reach_the_same_database(mariadb, mysql_url):
    name = mysql_url.rsplit("/", 1)[1]
    tcp = Database(mariadb.url(name, tcp=True))
    sock = Database(mariadb.url(name, tcp=False))
    try:
        tcp.execute("INSERT INTO blca (data, created, modified) VALUES (%s, NOW(), NOW())", ("x",))
        assert sock.query("SELECT data FROM blca") == (("x",),)
        charset = sock.query("SELECT @@character_set_connection")[0][0]
        assert charset == "utf8mb4"
    finally:
        tcp.close()
        sock.close()


def test_a_long_lived_connection_sees_later_commits(mysql_url):
    reader, writer = Database(mysql_url), Database(mysql_url)
    try:
        assert reader.query("SELECT COUNT(*) FROM blca")[0][0] == 0
        writer.execute("INSERT INTO blca (data, created, modified) VALUES ('y', NOW(), NOW())")
        assert reader.query("SELECT COUNT(*) FROM blca")[0][0] == 1
    finally:
        reader.close()
        writer.close()


def test_unicode_round_trips(mysql_db):
    text = "Ren\u00e9e \U0001F98A \u6f22\u5b57"
    mysql_db.execute("INSERT INTO blca (data, created, modified) VALUES (%s, NOW(), NOW())", (text,))
    assert mysql_db.query("SELECT data FROM blca")[0][0] == text


def test_parameters_are_bound_never_spliced(mysql_db):
    hostile = "x'); DROP TABLE blca; --"
    mysql_db.execute("INSERT INTO blca (data, created, modified) VALUES (%s, NOW(), NOW())", (hostile,))
    assert mysql_db.query("SELECT data FROM blca WHERE data = %s", (hostile,))[0][0] == hostile


def test_an_unreachable_server_is_one_line_and_quick():
    start = time.monotonic()
    with pytest.raises(DatabaseError) as error:
        Database(f"mysql://root:pw@127.0.0.1:{free_port()}/olympia", connect_timeout=2)
    assert time.monotonic() - start < 5
    message = str(error.value)
    assert message.startswith("cannot connect to mysql://root@127.0.0.1:")
    assert "pw" not in message and "\n" not in message


def test_the_cli_reports_an_unreachable_server_in_one_line(tmp_path):
    import os
    import subprocess
    import sys

    url = f"mysql://root@127.0.0.1:{free_port()}/olympia"
    result = subprocess.run([sys.executable, "-m", "vamo.cli", "init-db", "--database-url", url],
                            env=dict(os.environ), capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vamo: cannot connect to mysql://root@127.0.0.1")


def test_sqlite_connects_and_creates_its_folder(tmp_path):
    db = Database(f"sqlite:///{tmp_path}/sub/dir/x.db")
    try:
        assert db.query("SELECT 1 + %s", (1,)) == [(2,)]
    finally:
        db.close()


def test_thread_connections_replace_a_broken_connection(mysql_url):
    connections = ThreadConnections(mysql_url)
    assert connections.query("SELECT 1") == ((1,),)
    connections._local.db._conn.close()  # the server went away under it
    assert connections.query("SELECT 2") == ((2,),)
