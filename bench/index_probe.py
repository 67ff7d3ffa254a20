"""The index's own costs at one scale, in a fresh process (run by bench/scale.py):

    python -m bench.index_probe DATABASE_URL

Prints one JSON line: the time of a full `UpdateData.load`, the process's
resident memory before and after it (the index's size), then the time of a
refresh with nothing changed and of refreshes that apply 100 and 1,000
changed add-ons committed just before. A fresh process, so that nothing the
bench built (the generated rows) is counted as the index's memory.
"""

import gc
import json
import sys
import time

from bench.changes import commit_changes
from vamo.db import Database
from vamo.update_index import UpdateData

CHANGE_BATCHES = (100, 1000)


def rss_kib():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def probe(database_url):
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
            "candidates": sum(len(rows) for entry in data.index.values()
                              for rows in entry.candidates.values()),
            "load_seconds": round(load_seconds, 3),
            "rss_before_load_mib": round(before / 1024, 1),
            "rss_after_load_mib": round(after / 1024, 1),
            "index_mib": round((after - before) / 1024, 1),
        }
        data.refresh(db)
        result["refresh_idle"] = {"seconds": round(data.last_refresh_seconds, 4),
                                  "addons_applied": data.last_refresh_addons}
        for count in CHANGE_BATCHES:
            changed = commit_changes(db, data, count, seed=count)
            data.refresh(db)
            result[f"refresh_{count}"] = {"changed": changed,
                                          "seconds": round(data.last_refresh_seconds, 4),
                                          "addons_applied": data.last_refresh_addons}
        return result
    finally:
        db.close()


if __name__ == "__main__":
    print(json.dumps(probe(sys.argv[1])))
