"""The scale report: how vamo's costs grow with the number of add-ons.

    python -m bench.run --scale-report [--scales 1000,10000,100000,530000] [--generation current]

For each scale, from nothing (a new mariadbd, newly generated data):
the time to generate and write the data (shape `today` unless --shape says
otherwise); `vamo serve` pinned to core 0 with the cache on and off under
wrk (as bench/run.py measures them), once more with a reconciliation
inside the measured window, and once with a cache large enough for the
whole mix (VAMO_CACHE_MB=MIX_CACHE_MB); `vamo serve --workers 2` started to read what its
processes hold in memory; last, in a fresh process (bench/index_probe.py),
the time of a full index load, its memory, refreshes applying 0, 100 and
1,000 changed add-ons, and reconciliations, each with its database cost.
Writes bench/results/<time>-scale-report.json and a PNG plot beside it
(matplotlib, from the bench extra).
"""

import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from bench import procstat, report
from bench.dataset import fill, mariadb_version, start_mariadb
from bench.measure import measure
from bench.mix import HOST, build_mix, write_paths
from bench.progress import log
from bench.servers import Server, pin_process
from bench.targets import SERVER_CPUS, WRK_CPUS, all_targets, base_env
from bench.wrk import wrk_version
from vamo.dev.devdb import free_port


# VAMO_CACHE_MB of the window whose cache holds the whole mix (100,000 requests).
MIX_CACHE_MB = 320


def probe_index(database_url, mariadb_pid):
    done = subprocess.run([sys.executable, "-m", "bench.index_probe", database_url, str(mariadb_pid)],
                          capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise RuntimeError(f"index probe failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def workers_memory(target, database_url, log_dir):
    """Start `vamo serve --workers 2`, read its processes' memory once the data is loaded, stop."""
    port = free_port()
    server = Server(target.argv, {**base_env(database_url, port), **target.env}, port, target.cpus,
                    os.path.join(log_dir, "workers-memory.log"), target.ready_path, target.ready_status)
    server.start()
    try:
        # The heartbeat may answer from the first worker before the second is forked.
        deadline = time.monotonic() + 60
        while len(procstat.process_tree(server.pid)) < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1)
        tree = procstat.process_tree(server.pid)
        memory = procstat.memory_kib(tree)
        each = procstat.per_process_memory(server.pid, tree)
    finally:
        server.stop()
    return {"processes": memory["processes"], "pss_total_mib": round(memory["pss"] / 1024, 1),
            "one_worker_pss_mib": each["one_worker_pss_mib"], "pss_per_one_worker": each["pss_per_one_worker"],
            "rss_largest_mib": round(memory["rss_max"] / 1024, 1),
            "ready_seconds": round(server.ready_seconds, 2)}


def one_scale(addons, args, work_dir):
    mariadb = start_mariadb()
    try:
        log(f"scale {addons:,}: generating and writing the data")
        url, rows, fill_timings = fill(mariadb, addons, args.seed, args.generation, args.shape)
        log(f"  rows built in {fill_timings['build_rows_seconds']} s, written in "
            f"{fill_timings['write_rows_seconds']} s")
        paths, mix_summary = build_mix(rows, args.mix_size, args.seed, args.generation)
        del rows
        paths_file = os.path.join(work_dir, f"mix-{addons}.txt")
        write_paths(paths, paths_file)
        pin_process(mariadb.process.pid, {int(SERVER_CPUS)})
        targets = {t.name: t for t in all_targets(0, args.generation)}
        # One reconciliation inside the measured window: the first comes this
        # long after the load, a third into the window (then one every as long).
        reconcile_after = args.warmup + max(1, args.duration // 3)
        targets["vamo-reconciling"] = targets["vamo-reconciling"]._replace(
            label=f"vamo, reconciling every {reconcile_after} s",
            env={"VAMO_RECONCILE_SECONDS": str(reconcile_after)})
        # A cache that holds the whole mix (at 530k it took about 80 MiB of
        # real memory; the default 48 MB, as the cache counts, about 59): what
        # the default leaves out at scale, and what holding it costs.
        targets["vamo-cache-mix"] = targets["vamo"]._replace(
            name="vamo-cache-mix", label=f"vamo, cache on, {MIX_CACHE_MB} MB",
            env={"VAMO_CACHE_MB": str(MIX_CACHE_MB), "VAMO_CACHE_SIZE": str(2 * args.mix_size)})
        # Serving is measured before the probe commits its changes: a refresh
        # re-reads recent changes on every pass, which would weigh on req/s.
        served = {}
        # The same reconciliation with mariadbd at idle priority: in production
        # a replica on another machine pays its CPU, and this window reads the
        # serving process's own part. Twice as long: the slowed queries still
        # finish inside it.
        targets["vamo-reconciling-idle-db"] = targets["vamo-reconciling"]._replace(
            name="vamo-reconciling-idle-db", label=targets["vamo-reconciling"].label + ", mariadbd idle priority")
        for name in ("vamo", "vamo-uncached", "vamo-reconciling", "vamo-reconciling-idle-db", "vamo-cache-mix"):
            duration = args.duration * (2 if name == "vamo-reconciling-idle-db" else 1)
            log(f"  {targets[name].label}: {args.warmup} s warm-up, {duration} s measured")
            # A reconciliation's queries cost mariadbd seconds of CPU at 530k: on
            # the server's core they would be charged to vamo's latency, where in
            # production a replica on another machine runs them. So for those
            # windows mariadbd moves to wrk's core.
            reconciling = name.startswith("vamo-reconciling")
            pin_process(mariadb.process.pid, {int(WRK_CPUS if reconciling else SERVER_CPUS)},
                        idle=name == "vamo-reconciling-idle-db")
            served[name] = measure(targets[name], url, mariadb.process.pid, paths_file, HOST,
                                   args.warmup, duration, args.connections, work_dir, seed=args.seed)
            log(f"    {served[name]['req_per_s']:,.0f} req/s, p99 {served[name]['p99_ms']} ms, "
                f"mariadbd CPU {served[name]['db_cpu_seconds']} s")
        pin_process(mariadb.process.pid, {int(SERVER_CPUS)})
        workers = workers_memory(targets["vamo-workers-2"], url, work_dir)
        log("  probing the index: load, memory, refreshes")
        index = probe_index(url, mariadb.process.pid)
        log(f"  load {index['load_seconds']} s, index {index['index_mib']} MiB, refresh of 100 changes "
            f"{index['refresh_100']['seconds']} s")
        db_version = mariadb_version(mariadb)
    finally:
        mariadb.cleanup()
    return {"addons": addons, "shape": args.shape, "generation": args.generation, **fill_timings,
            "index": index, "serve": served,
            "workers_2": workers, "mix": mix_summary, "mariadb": db_version}


def growth(points, pick):
    """The figure's ratio between each scale and the one before (None when unknown)."""
    steps = []
    for low, high in zip(points, points[1:]):
        a, b = pick(low), pick(high)
        steps.append(round(b / a, 1) if a and b else None)
    return steps


FIGURES = (
    ("generate + write data, s", lambda p: p["build_rows_seconds"] + p["write_rows_seconds"]),
    ("index load, s", lambda p: p["index"]["load_seconds"]),
    ("index memory, MiB", lambda p: p["index"]["index_mib"]),
    ("vamo serve RSS after the run, MiB", lambda p: p["serve"]["vamo"]["rss_mib"]),
    ("vamo serve ready (start + load), s", lambda p: p["serve"]["vamo"]["ready_seconds"]),
    ("vamo serve PSS after the run (arbiter and worker), MiB", lambda p: p["serve"]["vamo"]["pss_mib"]),
    ("--workers 2: PSS of all processes, MiB", lambda p: p["workers_2"]["pss_total_mib"]),
    ("--workers 2: PSS / one worker's (estimate)", lambda p: p["workers_2"].get("pss_per_one_worker")),
    ("index buffer (encoded entries), MiB", lambda p: p["index"]["index_buffer_mib"]),
    ("refresh, nothing changed, ms", lambda p: p["index"]["refresh_idle"]["seconds"] * 1000),
    ("refresher pass, nothing changed: queries", lambda p: p["index"]["refresh_idle"]["queries"]),
    ("refresher pass, nothing changed: rows read", lambda p: p["index"]["refresh_idle"]["rows_read"]),
    ("refresher pass, nothing changed: mariadbd CPU ms",
     lambda p: p["index"]["refresh_idle"]["mariadbd_cpu_seconds"] * 1000),
    ("reconciliation, nothing changed: vamo CPU ms", lambda p: p["index"]["reconcile_idle"]["cpu_seconds"] * 1000),
    ("reconciliation, nothing changed: wall s", lambda p: p["index"]["reconcile_idle"]["seconds"]),
    ("reconciliation: queries", lambda p: p["index"]["reconcile_idle"]["queries"]),
    ("reconciliation: rows read", lambda p: p["index"]["reconcile_idle"]["rows_read"]),
    ("reconciliation: mariadbd CPU s", lambda p: p["index"]["reconcile_idle"]["mariadbd_cpu_seconds"]),
    ("reconciliation after 1,100 refreshed add-ons: vamo CPU ms",
     lambda p: p["index"]["reconcile_after_refreshes"]["cpu_seconds"] * 1000),
    ("reconciliation after 100 unstamped changes: vamo CPU ms",
     lambda p: p["index"]["reconcile_100_unstamped"]["cpu_seconds"] * 1000),
    ("refresh, 100 changed add-ons, ms", lambda p: p["index"]["refresh_100"]["seconds"] * 1000),
    ("refresh, 1,000 changed add-ons, ms", lambda p: p["index"]["refresh_1000"]["seconds"] * 1000),
    ("req/s, cache on", lambda p: p["serve"]["vamo"]["req_per_s"]),
    ("req/s, cache off", lambda p: p["serve"]["vamo-uncached"]["req_per_s"]),
    ("server CPU µs/req, cache on", lambda p: p["serve"]["vamo"]["server_cpu_us_per_req"]),
    ("server CPU µs/req, cache off", lambda p: p["serve"]["vamo-uncached"]["server_cpu_us_per_req"]),
    ("p99 ms, cache on", lambda p: p["serve"]["vamo"]["p99_ms"]),
    ("p99 ms, cache off", lambda p: p["serve"]["vamo-uncached"]["p99_ms"]),
    (f"req/s, cache on, {MIX_CACHE_MB} MB (holds the mix)", lambda p: p["serve"]["vamo-cache-mix"]["req_per_s"]),
    (f"p99 ms, cache on, {MIX_CACHE_MB} MB", lambda p: p["serve"]["vamo-cache-mix"]["p99_ms"]),
    (f"vamo serve PSS after the run, cache {MIX_CACHE_MB} MB, MiB",
     lambda p: p["serve"]["vamo-cache-mix"]["pss_mib"]),
    ("req/s, a reconciliation in the window", lambda p: p["serve"]["vamo-reconciling"]["req_per_s"]),
    ("p99 ms, a reconciliation in the window", lambda p: p["serve"]["vamo-reconciling"]["p99_ms"]),
    ("mariadbd CPU s in that window", lambda p: p["serve"]["vamo-reconciling"]["db_cpu_seconds"]),
    ("req/s, a reconciliation in the window, mariadbd idle priority",
     lambda p: p["serve"]["vamo-reconciling-idle-db"]["req_per_s"]),
    ("p99 ms, a reconciliation in the window, mariadbd idle priority",
     lambda p: p["serve"]["vamo-reconciling-idle-db"]["p99_ms"]),
    ("mariadbd CPU s in that window (idle priority)",
     lambda p: p["serve"]["vamo-reconciling-idle-db"]["db_cpu_seconds"]),
    ("errors (all windows)", lambda p: sum(r["bad_status"] + r["socket_errors"] for r in p["serve"].values())),
)


def markdown(points):
    head = "| figure | " + " | ".join(f"{p['addons']:,} add-ons" for p in points)
    head += "".join(f" | growth {a['addons']:,} → {b['addons']:,}" for a, b in zip(points, points[1:]))
    lines = [head + " |", "|---" + "|---:" * (len(points) * 2 - 1) + "|"]
    for name, pick in FIGURES:
        values = []
        for point in points:
            try:
                value = pick(point)
            except (KeyError, TypeError):
                value = None
            values.append("-" if value is None else f"{value:.2f}" if "one worker" in name
                          else f"{value:,.1f}" if value < 1000 else f"{value:,.0f}")
        try:
            steps = growth(points, pick)
        except (KeyError, TypeError):
            steps = [None] * (len(points) - 1)
        lines.append(f"| {name} | " + " | ".join(values)
                     + "".join(f" | ×{s}" if s is not None else " | -" for s in steps) + " |")
    return "\n".join(lines)


def run(args):
    scales = sorted(int(s) for s in args.scales.split(",") if s.strip())
    work_dir = tempfile.mkdtemp(prefix="vamo-bench-scale-")
    started = datetime.datetime.now().astimezone()
    try:
        points = [one_scale(addons, args, work_dir) for addons in scales]
    except BaseException:
        log(f"failed; server logs kept in {work_dir}")
        raise
    shutil.rmtree(work_dir, ignore_errors=True)
    document = {
        **report.document_head("scale-report", started, wrk_version(), points[0]["mariadb"]),
        "settings": {"warmup_seconds": args.warmup, "duration_seconds": args.duration,
                     "connections": args.connections, "mix_size": args.mix_size, "seed": args.seed,
                     "server_cpus": SERVER_CPUS, "wrk_cpus": "1"},
        "points": points,
    }
    path = report.write_results(document, "scale-report")
    print(f"\n## vamo scale report ({', '.join(f'{s:,}' for s in scales)} add-ons)\n")
    print(markdown(points))
    try:
        from bench.plot import plot_scale_report
    except ImportError:  # matplotlib comes with the bench extra only
        print("\n(no plot: matplotlib is missing; `make bench` installs the bench extra)")
    else:
        png = plot_scale_report(points, path[:-len(".json")] + ".png")
        print(f"\nPlot: {os.path.relpath(png)}")
    print(f"Results: {os.path.relpath(path)}")
    return 0
