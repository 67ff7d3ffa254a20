"""The index's own costs at one scale, in a fresh process (run by bench/scale.py):

    python -m bench.index_probe DATABASE_URL [MARIADBD_PID]

Prints one JSON line: the time of a full `UpdateData.load`, the process's
resident memory before and after it (the index's size), then the time of a
refresh with nothing changed and of refreshes that apply 100 and 1,000
changed add-ons committed just before; then reconciliations (`load` again,
by fingerprint): with nothing changed, and after changes made without a
timestamp. Each refresher step also reports what it cost the database: the
statements it sent, the rows MariaDB read for them (session `Rows_read`)
and, given mariadbd's pid, mariadbd's CPU. A fresh process, so that nothing
the bench built (the generated rows) is counted as the index's memory.
"""

import gc
import json
import random
import sys
import time

from bench import procstat
from bench.changes import commit_changes
from vamo.core.db import Database
from vamo.update_index import UpdateData

CHANGE_BATCHES = (100, 1000)
_STATUS_SQL = "SHOW SESSION STATUS WHERE Variable_name IN ('Questions', 'Rows_read')"


def rss_kib():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def timed(db, mariadb_pid, action):
    """Run `action`; its wall and process CPU seconds, and what it cost the database."""
    status = dict(db.query(_STATUS_SQL))
    db_cpu = procstat.cpu_seconds([mariadb_pid]) if mariadb_pid else 0.0
    started, cpu = time.perf_counter(), time.process_time()
    action()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    db_cpu = procstat.cpu_seconds([mariadb_pid]) - db_cpu if mariadb_pid else None
    after = dict(db.query(_STATUS_SQL))
    return {"seconds": round(seconds, 4), "cpu_seconds": round(cpu, 4),
            # the status query itself counts one statement
            "queries": int(after["Questions"]) - int(status["Questions"]) - 1,
            "rows_read": int(after["Rows_read"]) - int(status["Rows_read"]),
            "mariadbd_cpu_seconds": None if db_cpu is None else round(db_cpu, 3)}


def unstamped_changes(db, count, seed):
    """`count` changes that leave `modified` alone: new hashes on random files and
    deleted app ranges (half each), as a hand-run SQL fix would."""
    rng = random.Random(seed)
    files = [row[0] for row in db.query("SELECT id FROM files WHERE status = 4")]
    ranges = [row[0] for row in db.query("SELECT id FROM applications_versions")]
    with db.transaction():
        for file_id in rng.sample(files, min(count // 2, len(files))):
            db.execute("UPDATE files SET hash = %s WHERE id = %s", (f"sha256:{rng.getrandbits(256):064x}", file_id))
        for range_id in rng.sample(ranges, min(count - count // 2, len(ranges))):
            db.execute("DELETE FROM applications_versions WHERE id = %s", (range_id,))


def probe(database_url, mariadb_pid=None):
    db = Database(database_url, read_timeout=3600)
    try:
        gc.collect()
        before = rss_kib()
        data = UpdateData()
        started = time.perf_counter()
        data.load(db)
        load_seconds = time.perf_counter() - started
        gc.collect()
        after = rss_kib()
        result = {
            "addons_indexed": len(data.index),
            "index_buffer_mib": round(len(data.index.buffer) / 2**20, 1),
            "load_seconds": round(load_seconds, 3),
            "rss_before_load_mib": round(before / 1024, 1),
            "rss_after_load_mib": round(after / 1024, 1),
            "index_mib": round((after - before) / 1024, 1),
        }
        result["refresh_idle"] = {**timed(db, mariadb_pid, lambda: (db.ping(), data.refresh(db))),
                                  "addons_applied": data.last_refresh_addons}
        result["reconcile_idle"] = {**timed(db, mariadb_pid, lambda: data.load(db)), **(data.last_reconcile or {})}
        for count in CHANGE_BATCHES:
            changed = commit_changes(db, data, count, seed=count)
            result[f"refresh_{count}"] = {"changed": changed,
                                          **timed(db, mariadb_pid, lambda: data.refresh(db)),
                                          "addons_applied": data.last_refresh_addons}
        # The refreshes above applied 1,100 changes; the fingerprints kept by
        # the load do not know that, so this reconciliation rebuilds them again.
        result["reconcile_after_refreshes"] = {**timed(db, mariadb_pid, lambda: data.load(db)),
                                               **(data.last_reconcile or {})}
        unstamped_changes(db, 100, seed=5)
        result["reconcile_100_unstamped"] = {**timed(db, mariadb_pid, lambda: data.load(db)),
                                             **(data.last_reconcile or {})}
        return result
    finally:
        db.close()


if __name__ == "__main__":
    print(json.dumps(probe(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else None)))
