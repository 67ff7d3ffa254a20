"""Both schema generations (vamo/dev/schema.sql, vamo/dev/schema_current.sql) install on
MariaDB and on SQLite with the same tables and columns."""

from vamo.core.db import Database
from vamo.dev.schema import SCHEMA_TABLES, has_schema, install_schema

AMO_TABLES = {
    "addons", "versions", "files", "applications_versions", "appversions", "compat_override",
    "compat_override_range", "incompatible_versions", "personas", "translations",
    "migrated_personas", "blitems", "blitemprefs", "blplugins", "blapps", "blgfxdrivers",
    "blissuercert", "blca", "bldetails",
}
# AMO since 2021: no compat overrides, lightweight themes or legacy blocklist.
CURRENT_AMO_TABLES = {"addons", "versions", "files", "applications_versions", "appversions", "translations"}


def mysql_columns(db):
    rows = db.query(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = DATABASE()")
    return {(table, column) for table, column in rows}


def sqlite_columns(db, generation="classic"):
    columns = set()
    for table in SCHEMA_TABLES[generation]:
        for row in db.query(f"PRAGMA table_info({table})"):
            columns.add((table, row[1]))
    return columns


def test_every_amo_table_is_there():
    assert set(SCHEMA_TABLES["classic"]) == AMO_TABLES
    assert set(SCHEMA_TABLES["current"]) == CURRENT_AMO_TABLES


def test_the_schema_is_the_same_on_both_databases(mysql_db, sqlite_url):
    lite = Database(sqlite_url)
    try:
        install_schema(lite)
        assert has_schema(lite) and has_schema(mysql_db)
        assert sqlite_columns(lite) == mysql_columns(mysql_db)
        assert ("addons", "inactive") in sqlite_columns(lite)
        assert ("applications_versions", "min") in sqlite_columns(lite)
    finally:
        lite.close()


def test_the_current_schema_is_the_same_on_both_databases(mysql_db, sqlite_url):
    install_schema(mysql_db, drop=True, generation="current")
    lite = Database(sqlite_url)
    try:
        install_schema(lite, generation="current")
        assert has_schema(lite, "current") and has_schema(mysql_db, "current")
        assert not has_schema(mysql_db, "classic")
        assert sqlite_columns(lite, "current") == mysql_columns(mysql_db)
        columns = mysql_columns(mysql_db)
        assert ("files", "platform_id") not in columns and ("files", "binary_components") not in columns
        precision = mysql_db.query(
            "SELECT datetime_precision FROM information_schema.columns WHERE table_schema = DATABASE()"
            " AND table_name = 'versions' AND column_name = 'modified'")[0][0]
        assert precision == 6
    finally:
        lite.close()


def test_ids_are_assigned_and_uniques_enforced_on_both(mysql_db, sqlite_url):
    lite = Database(sqlite_url)
    try:
        install_schema(lite)
        for db in (mysql_db, lite):
            sql = ("INSERT INTO addons (guid, slug, addontype_id, status, created, modified) "
                   "VALUES (%s, %s, 1, 4, '2025-01-01 00:00:00', '2025-01-01 00:00:00')")
            db.execute(sql, ("a@example.com", "a"))
            db.execute(sql, ("b@example.com", "b"))
            assert [row[0] for row in db.query("SELECT id FROM addons ORDER BY id")] == [1, 2]
            try:
                db.execute(sql, ("a@example.com", "c"))
            except Exception as error:
                assert "a@example.com" in str(error) or "UNIQUE" in str(error)
            else:
                raise AssertionError("duplicate guid accepted")
    finally:
        lite.close()


def test_install_with_drop_replaces_the_tables(mysql_db):
    mysql_db.execute("INSERT INTO blca (data, created, modified) VALUES ('x', NOW(), NOW())")
    install_schema(mysql_db, drop=True)
    assert mysql_db.query("SELECT COUNT(*) FROM blca")[0][0] == 0
