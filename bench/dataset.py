"""The bench's own database: a throwaway MariaDB filled by the data generator.

Nothing is reused from an earlier run: each run starts a new mariadbd on an
empty temporary datadir and writes the generated rows into it, timing both
steps (building the rows in Python, inserting them), since at 100,000
add-ons that alone takes about a minute.
"""

import time

from vamo.dev import demo
from vamo.core.db import Database
from vamo.dev.schema import install_schema
from vamo.dev.devdb import MariaDBServer

DATABASE = "bench"
# Large enough that a 530k add-on dataset (about 0.7-1 GiB of tables and
# indexes) stays in memory: the bench measures the services, not the disk.
BUFFER_POOL = "2G"


def start_mariadb():
    return MariaDBServer(buffer_pool=BUFFER_POOL).start()


def fill(server, addons, seed, generation="classic", shape="realistic"):
    """Create the database and write `addons` generated add-ons of a schema
    generation and a data shape (vamo.dev.demo.SHAPES); (url, rows, timings)."""
    server.create_database(DATABASE)
    url = server.url(DATABASE)
    started = time.monotonic()
    rows = demo.build_rows(addons, seed, shape=shape, generation=generation)
    built = time.monotonic()
    db = Database(url)
    try:
        install_schema(db, generation=generation)
        demo.write_rows(db, rows)
        db.query("ANALYZE TABLE addons, versions, files, applications_versions, appversions")
    finally:
        db.close()
    written = time.monotonic()
    timings = {"build_rows_seconds": round(built - started, 2),
               "write_rows_seconds": round(written - built, 2),
               "rows": sum(len(table) for table in rows.values())}
    return url, rows, timings


def mariadb_version(server):
    conn = server.admin()
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT VERSION()")
            return cursor.fetchone()[0]
    finally:
        conn.close()
