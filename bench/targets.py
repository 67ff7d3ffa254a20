"""The servers the bench compares, all on the same meinheld set-up.

Every single-process target is pinned to SERVER_CPUS (wrk runs on the other
core); `vamo --workers 2` is the exception and may use both cores, sharing
the second one with wrk.
"""

import os
import sys
from typing import NamedTuple

SERVER_CPUS = "0"
BOTH_CPUS = "0,1"
WRK_CPUS = "1"


class Target(NamedTuple):
    name: str
    label: str
    argv: tuple
    env: dict           # on top of the common environment
    cpus: str
    ready_path: str     # GET this ...
    ready_status: int   # ... until it answers this (None: anything)


def _vamo():
    return os.path.join(os.path.dirname(sys.executable), "vamo")


def _serve_app(spec):
    return (sys.executable, "-m", "bench.serve_app", spec)


# The two-query way the generation's AMO answered with (D20).
TWO_QUERY_APPS = {"classic": ("vamo.dev.legacy:application", "legacy (2 SQL queries/request)"),
                  "current": ("vamo.dev.today:application", "today's AMO view (2 SQL queries/request)")}


def all_targets(ceiling_bytes, generation="classic"):
    two_query_app, two_query_label = TWO_QUERY_APPS[generation]
    return [
        Target("ceiling", f"ceiling (fixed {ceiling_bytes} B body)",
               _serve_app("bench.ceiling:application"),
               {"BENCH_CEILING_BYTES": str(ceiling_bytes)}, SERVER_CPUS, "/", None),
        Target("vamo", "vamo, cache on", (_vamo(), "serve"), {}, SERVER_CPUS, "/__heartbeat__", 200),
        Target("vamo-uncached", "vamo, cache off", (_vamo(), "serve"), {"VAMO_CACHE_SIZE": "0"},
               SERVER_CPUS, "/__heartbeat__", 200),
        # A reconciliation every 5 s (the default is every 600 s): what requests
        # see while one runs beside them in the same process.
        Target("vamo-reconciling", "vamo, reconciling every 5 s", (_vamo(), "serve"),
               {"VAMO_RECONCILE_SECONDS": "5"}, SERVER_CPUS, "/__heartbeat__", 200),
        Target("legacy", two_query_label, _serve_app(two_query_app),
               {}, SERVER_CPUS, "/", None),
        Target("vamo-workers-2", "vamo --workers 2 (both cores, shared with wrk)",
               (_vamo(), "serve", "--workers", "2"), {}, BOTH_CPUS, "/__heartbeat__", 200),
    ]


def at_commit(target, commit, checkout):
    """`target` served from `checkout` (vamo at `commit`), with this venv's packages."""
    return target._replace(name=f"{target.name}@{commit}", label=f"{target.label} (at {commit})",
                           env={**target.env, "PYTHONPATH": checkout})


def base_env(database_url, port):
    """A clean environment: vamo's defaults, except the database and the address.
    (Nothing is inherited from the caller's VAMO_* settings.)"""
    env = {name: os.environ[name] for name in ("PATH", "HOME", "LANG", "TMPDIR") if name in os.environ}
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env.update({"VAMO_DATABASE_URL": database_url, "PORT": str(port), "VAMO_LISTEN": "127.0.0.1",
                "PYTHONPATH": repo})
    return env
