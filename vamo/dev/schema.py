"""The schema install: the tables of vamo/dev/schema.sql (classic generation) and
vamo/dev/schema_current.sql (current), translated for SQLite where needed.

Used by `vamo init-db`, the demo data (so also the embedded demo database a
service without VAMO_DATABASE_URL creates), the tests and the bench. A service
on AMO's database never creates tables.
"""

import re
from importlib import resources

SCHEMA_FILES = {"classic": "schema.sql", "current": "schema_current.sql"}


def schema_statements(dialect, generation="classic"):
    """The statements of the generation's schema file, translated for `dialect`."""
    text = resources.files("vamo.dev").joinpath(SCHEMA_FILES[generation]).read_text()
    text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
    statements = [s.strip() for s in re.split(r";\s*\n", text) if s.strip()]
    if dialect == "sqlite":
        statements = [_to_sqlite(s) for s in statements]
    return statements


def _to_sqlite(statement):
    statement = re.sub(r"(?m)^(\s*\w+) .*AUTO_INCREMENT PRIMARY KEY", r"\1 INTEGER PRIMARY KEY",
                       statement)
    statement = re.sub(r"UNIQUE KEY \w+ \(", "UNIQUE (", statement)
    statement = re.sub(r"\)\s*ENGINE=.*$", ")", statement)
    # MySQL compares strings case-insensitively (AMO's collation); so must SQLite,
    # or `/DE/themes/...` would miss the `de` name on the embedded database only.
    statement = re.sub(r"\b(varchar\(\d+\))", r"\1 COLLATE NOCASE", statement)
    return statement.rstrip(";")


def _tables(generation):
    return tuple(re.match(r"CREATE TABLE (\w+)", s).group(1)
                 for s in schema_statements("mysql", generation) if s.startswith("CREATE TABLE"))


SCHEMA_TABLES = {generation: _tables(generation) for generation in SCHEMA_FILES}


def install_schema(db, drop=False, generation="classic"):
    """Create the tables of a schema generation in `db` (dropping vamo's tables of
    either generation first if `drop`)."""
    if drop:
        for table in dict.fromkeys(SCHEMA_TABLES["classic"] + SCHEMA_TABLES["current"]):
            db.execute(f"DROP TABLE IF EXISTS {table}")
    for statement in schema_statements(db.dialect, generation):
        db.execute(statement)


def has_schema(db, generation="classic"):
    if db.dialect == "sqlite":
        rows = db.query("SELECT name FROM sqlite_master WHERE type = 'table'")
    else:
        rows = db.query("SHOW TABLES")
    present = {row[0] for row in rows}
    return all(table in present for table in SCHEMA_TABLES[generation])
