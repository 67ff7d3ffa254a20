"""Database connections by URL (the schema install is a dev tool: vamo/dev/schema.py).

`mysql://` goes through pymysql with autocommit on (a long-lived connection
must see every commit: under REPEATABLE READ without autocommit it would keep
its first snapshot), TLS off unless the URL asks for it (pymysql 1.2 builds a
TLS context on every connect otherwise, ~20 ms), connect and read timeouts,
and utf8mb4. `sqlite:///path` goes through the standard library.

SQL in vamo is written once, for both: `%s` placeholders (translated to `?`
for SQLite), portable SELECTs. `Database` hides the two drivers' differences
and turns every driver error into `DatabaseError`, whose message is one line.
"""

import datetime
import os
import sqlite3
import threading
from typing import NamedTuple
from urllib.parse import parse_qs, unquote, urlsplit

import pymysql


class DatabaseError(Exception):
    """A database could not be reached or answered with an error (one-line message).

    `permanent`: retrying cannot help (no such database, access denied, a
    missing table or column): a configuration error, not an outage.
    """

    permanent = False
    unreachable = False  # the server could not be reached, or the connection broke

    def __init__(self, message, permanent=False, unreachable=False):
        super().__init__(message)
        self.permanent = permanent
        self.unreachable = unreachable


# MySQL error codes that a retry cannot mend: access denied to the database
# or for the user, unknown database, no such table, unknown column.
_PERMANENT_MYSQL_ERRORS = frozenset((1044, 1045, 1049, 1146, 1054))
# Client-side codes of a server that cannot be reached or went away.
_UNREACHABLE_MYSQL_ERRORS = frozenset((2003, 2006, 2013, 2055))


def _wrapped(error, prefix=""):
    """A driver error as a DatabaseError with a one-line message."""
    code = error.args[0] if isinstance(error, pymysql.err.Error) and error.args else None
    permanent = code in _PERMANENT_MYSQL_ERRORS or (
        isinstance(error, sqlite3.OperationalError) and str(error).startswith(("no such table",
                                                                              "no such column")))
    unreachable = code in _UNREACHABLE_MYSQL_ERRORS or isinstance(error, OSError)
    return DatabaseError(prefix + _one_line(error), permanent, unreachable)


class DatabaseURL(NamedTuple):
    dialect: str  # "mysql" or "sqlite"
    user: str = ""
    password: str = ""
    host: str = ""
    port: int = 3306
    database: str = ""
    unix_socket: str = ""
    ssl: bool = False
    ssl_ca: str = ""
    path: str = ""  # sqlite file

    def safe(self):
        """The URL without its password, for messages."""
        if self.dialect == "sqlite":
            return f"sqlite:///{self.path}"
        where = f"unix_socket={self.unix_socket}" if self.unix_socket else f"{self.host}:{self.port}"
        return f"mysql://{self.user}@{where}/{self.database}"


_MYSQL_OPTIONS = {"unix_socket", "ssl", "ssl_ca", "charset"}


def parse_url(url):
    """Parse a database URL; ValueError (one line) when it is not one vamo takes."""
    parts = urlsplit(url.strip())
    if parts.scheme == "sqlite":
        if parts.netloc or not parts.path or parts.path == "/":
            raise ValueError("expected sqlite:///relative/path or sqlite:////absolute/path")
        return DatabaseURL("sqlite", path=unquote(parts.path[1:]))
    if parts.scheme not in ("mysql", "mysql+pymysql", "mariadb"):
        raise ValueError("expected a mysql://user:password@host:port/dbname or sqlite:///path URL")
    options = parse_qs(parts.query, keep_blank_values=True)
    unknown = set(options) - _MYSQL_OPTIONS
    if unknown:
        raise ValueError(f"unknown URL option(s) {', '.join(sorted(unknown))}")
    database = unquote(parts.path.lstrip("/"))
    if not database or "/" in database:
        raise ValueError("the URL must name one database: mysql://user:password@host/dbname")
    try:
        port = parts.port or 3306
    except ValueError:
        raise ValueError("the port in the URL is not a number from 1 to 65535") from None
    unix_socket = options.get("unix_socket", [""])[-1]
    if not unix_socket and not parts.hostname:
        raise ValueError("the URL needs a host, or ?unix_socket=/path/to/mysqld.sock")
    ssl = options.get("ssl", ["0"])[-1].lower() in ("1", "true", "yes", "on", "required")
    return DatabaseURL(
        "mysql",
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        host=parts.hostname or "localhost",
        port=port,
        database=database,
        unix_socket=unix_socket,
        ssl=ssl or bool(options.get("ssl_ca")),
        ssl_ca=options.get("ssl_ca", [""])[-1],
    )


def _sqlite_datetime(value):
    text = value.decode()
    try:
        return datetime.datetime.fromisoformat(text)
    except ValueError:
        return None


def as_datetime(value):
    """A DATETIME value as either driver returns it, as a datetime (None when it is not one).

    SQLite converts declared DATETIME columns, but aggregates such as
    MAX(modified) come back as text."""
    if isinstance(value, datetime.datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def unix_time(value):
    """Seconds since the epoch of a naive DATETIME, read as UTC (0 when there is none)."""
    value = as_datetime(value)
    if value is None:
        return 0.0
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    return value.timestamp()


# Whole seconds as "2025-06-01 12:00:00", DATETIME(6) values with their microseconds.
sqlite3.register_adapter(datetime.datetime, lambda d: d.isoformat(sep=" "))
sqlite3.register_converter("datetime", _sqlite_datetime)

_MYSQL_ERRORS = (pymysql.err.Error,)
_SQLITE_ERRORS = (sqlite3.Error,)


def _one_line(error):
    text = " ".join(str(error).split())
    return text if len(text) <= 300 else text[:297] + "..."


class Database:
    """One connection, with `%s`-style SQL for either driver.

    Not for use by two threads at once: each thread that needs the database
    opens its own (see `ThreadConnections`).
    """

    def __init__(self, url, connect_timeout=5.0, read_timeout=60.0):
        self.url = parse_url(url) if isinstance(url, str) else url
        self.dialect = self.url.dialect
        self._statement_seconds = 0.0  # the session's statement time limit (0: none)
        self._errors = _SQLITE_ERRORS if self.dialect == "sqlite" else _MYSQL_ERRORS
        try:
            if self.dialect == "sqlite":
                self._conn = self._connect_sqlite()
            else:
                self._conn = self._connect_mysql(connect_timeout, read_timeout)
        except self._errors + (OSError,) as error:
            raise _wrapped(error, f"cannot connect to {self.url.safe()}: ") from None

    def _connect_sqlite(self):
        path = self.url.path
        if os.path.dirname(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
        conn = sqlite3.connect(path, detect_types=sqlite3.PARSE_DECLTYPES,
                               isolation_level=None, check_same_thread=False, timeout=10)
        conn.execute("PRAGMA journal_mode=WAL")
        return conn

    def _connect_mysql(self, connect_timeout, read_timeout):
        u = self.url
        kwargs = dict(
            user=u.user, password=u.password, database=u.database,
            charset="utf8mb4", autocommit=True,
            connect_timeout=connect_timeout, read_timeout=read_timeout,
            write_timeout=read_timeout,
        )
        if u.unix_socket:
            kwargs["unix_socket"] = u.unix_socket
        else:
            kwargs.update(host=u.host, port=u.port)
        if u.ssl:
            kwargs["ssl"] = {"ca": u.ssl_ca} if u.ssl_ca else {}
        else:
            kwargs["ssl_disabled"] = True
        return pymysql.connect(**kwargs)

    def _sql(self, sql):
        return sql.replace("%s", "?") if self.dialect == "sqlite" else sql

    def query(self, sql, params=()):
        """All rows of a SELECT, as tuples."""
        try:
            cursor = self._conn.cursor()
            try:
                cursor.execute(self._sql(sql), params)
                return cursor.fetchall()
            finally:
                cursor.close()
        except self._errors as error:
            raise _wrapped(error) from None

    def stream(self, sql, params=(), batch=5000):
        """Rows of a big SELECT, read in batches (unbuffered on MySQL)."""
        try:
            if self.dialect == "mysql":
                cursor = self._conn.cursor(pymysql.cursors.SSCursor)
            else:
                cursor = self._conn.cursor()
            try:
                cursor.execute(self._sql(sql), params)
                while True:
                    rows = cursor.fetchmany(batch)
                    if not rows:
                        break
                    yield from rows
            finally:
                cursor.close()
        except self._errors as error:
            raise _wrapped(error) from None

    def execute(self, sql, params=()):
        try:
            cursor = self._conn.cursor()
            try:
                cursor.execute(self._sql(sql), params)
                return cursor.rowcount
            finally:
                cursor.close()
        except self._errors as error:
            raise _wrapped(error) from None

    def executemany(self, sql, rows):
        try:
            cursor = self._conn.cursor()
            try:
                cursor.executemany(self._sql(sql), rows)
            finally:
                cursor.close()
        except self._errors as error:
            raise _wrapped(error) from None

    def transaction(self):
        """A context manager grouping writes (the generator's bulk inserts)."""
        return _Transaction(self)

    def now(self):
        """The database's own clock, in the time zone its `modified` columns use."""
        if self.dialect == "sqlite":
            return datetime.datetime.fromisoformat(self.query("SELECT datetime('now')")[0][0])
        return self.query("SELECT NOW()")[0][0]

    def ping(self):
        self.query("SELECT 1")

    def set_timeouts(self, read_timeout, statement_seconds=0.0):
        """Bound each wait for an answer to `read_timeout` seconds from now on, and
        (MariaDB: max_statement_time; MySQL: max_execution_time, SELECTs only)
        each statement's run time in the server to `statement_seconds` (0: no limit).
        SQLite is in-process: nothing to bound."""
        if self.dialect != "mysql":
            return
        # pymysql reads these before each packet; it has no public setter.
        self._conn._read_timeout = self._conn._write_timeout = read_timeout
        if statement_seconds != self._statement_seconds:
            self._statement_seconds = statement_seconds
            if "mariadb" in self._conn.get_server_info().lower():
                self.execute("SET SESSION max_statement_time = %s", (float(statement_seconds),))
            else:
                try:
                    self.execute("SET SESSION max_execution_time = %s", (int(statement_seconds * 1000),))
                except DatabaseError:
                    pass  # a server without it (MySQL < 5.7.8): the read timeout still bounds the wait

    def close(self):
        try:
            self._conn.close()
        except Exception:  # closing a broken connection must not raise
            pass


class _Transaction:
    def __init__(self, db):
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN")
        return self.db

    def __exit__(self, kind, value, tb):
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")
        return False


class ThreadConnections:
    """Opens one `Database` per thread on first use and replaces a broken one.

    For request-time lookups: a query that fails because the connection broke
    is retried once on a fresh connection; a second failure raises
    DatabaseError for the caller to answer.
    """

    def __init__(self, url, connect_timeout=5.0, read_timeout=60.0):
        self.url = url
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._local = threading.local()

    def _db(self):
        db = getattr(self._local, "db", None)
        if db is None:
            db = Database(self.url, self.connect_timeout, self.read_timeout)
            self._local.db = db
        return db

    def query(self, sql, params=()):
        for attempt in (1, 2):
            try:
                return self._db().query(sql, params)
            except DatabaseError:
                self.reset()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def reset(self):
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
        self._local.db = None
