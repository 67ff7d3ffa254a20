"""What vamo answers to the request mix, asked in-process before any load.

Gives the mean body size (the ceiling app returns a body of that size) and
the status codes (the mix is meant to be all 200s: a 400 would mean the
mix, not the server, is wrong).
"""

import collections

from vamo.core.config import load_config
from vamo.core.db import Database
from vamo.core.caches import ResponseCache
from vamo.update import UpdateApp
from vamo.update_index import UpdateData


def sample_answers(database_url, paths, sample=5000):
    """{"statuses": {code: n}, "mean_body_bytes": ..., "content_types": {...}} over
    the first `sample` paths."""
    db = Database(database_url)
    try:
        data = UpdateData()
        data.load(db)
    finally:
        db.close()
    config = load_config({}).replace(database_url=database_url)  # the defaults, as the servers run
    app = UpdateApp(config, data, ResponseCache(0))
    statuses, types, sizes = collections.Counter(), collections.Counter(), []
    for path in paths[:sample]:
        seen = {}

        def start_response(status, headers, exc_info=None):
            seen["status"] = status.split()[0]
            seen["type"] = dict(headers).get("Content-Type")

        _, _, query = path.partition("?")
        body = b"".join(app({"REQUEST_METHOD": "GET", "PATH_INFO": path.split("?")[0],
                             "QUERY_STRING": query}, start_response))
        statuses[seen["status"]] += 1
        types[seen["type"]] += 1
        sizes.append(len(body))
    return {"sampled": len(sizes), "statuses": dict(statuses), "content_types": dict(types),
            "mean_body_bytes": round(sum(sizes) / len(sizes))}
