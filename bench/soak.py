"""The soak: does `vamo serve` hold its speed and memory over time while the data changes?

    python -m bench.run --soak MINUTES [--scale N] [--soak-changes N] [--soak-reconcile S]

One `vamo serve` (cache on, pinned to core 0) serves the update-check mix
under wrk (core 1, in back-to-back slices of --duration seconds) for the
given minutes, while a writer commits --soak-changes changed files every
second (a new hash and `modified`, as an approval does) and the refresher
applies them every VAMO_REFRESH_SECONDS (default 5 s) and reloads everything
every --soak-reconcile seconds. After each slice: req/s, p99, errors and
the server's resident memory. Memory that grows slice after slice, once
the response cache is full, would be a leak an operator meets after days.
Writes bench/results/<time>-soak.json and prints a Markdown table.
"""

import datetime
import os
import random
import shutil
import tempfile
import threading
import time

from bench import procstat, report
from bench.changes import CHANGE_SQL
from bench.dataset import fill, mariadb_version, start_mariadb
from bench.measure import summarise
from bench.mix import HOST, build_mix, write_paths
from bench.progress import log
from bench.servers import Server, http_status, pin_process
from bench.targets import SERVER_CPUS, WRK_CPUS, all_targets, base_env
from bench.wrk import run_wrk, wrk_version
from vamo.core.db import Database
from vamo.dev.devdb import free_port

# What the writer changes: files that an update check offers (approved).
OFFERED_FILES_SQL = "SELECT id FROM files WHERE status = 4"


def vamo_target(workers=1):
    name = "vamo" if workers == 1 else "vamo-workers-2"
    target = next(target for target in all_targets(0) if target.name == name)
    if workers > 2:
        target = target._replace(argv=target.argv[:-1] + (str(workers),))
    return target


class Writer(threading.Thread):
    """Commits `per_second` changed files each second until stopped; counts them."""

    def __init__(self, database_url, per_second, seed):
        super().__init__(name="soak-writer", daemon=True)
        self.database_url, self.per_second = database_url, per_second
        self.rng = random.Random(seed)
        self.stopping = threading.Event()
        self.committed = 0
        self.error = None

    def run(self):
        db = Database(self.database_url)
        try:
            file_ids = [row[0] for row in db.query(OFFERED_FILES_SQL)]
            while not self.stopping.wait(1.0):
                with db.transaction():
                    for file_id in self.rng.sample(file_ids, min(self.per_second, len(file_ids))):
                        db.execute(CHANGE_SQL, (f"sha256:{self.rng.getrandbits(256):064x}", file_id))
                self.committed += self.per_second
        except Exception as error:  # reported in the results, not lost in a thread
            self.error = f"{type(error).__name__}: {error}"
        finally:
            db.close()

    def stop(self):
        self.stopping.set()
        self.join(timeout=30)


def soak_slices(server, url, paths_file, slices, args):
    """Run wrk slice after slice against `server`; one summary per slice, with its memory."""
    target = vamo_target(args.soak_workers)
    results = []
    for number in range(1, slices + 1):
        tree = procstat.process_tree(server.pid)
        before = (procstat.cpu_seconds(tree), 0.0, procstat.machine_ticks(), time.monotonic())
        figures = run_wrk(url, paths_file, HOST, args.duration, args.connections, WRK_CPUS,
                          seed=args.seed + number)
        after = (procstat.cpu_seconds(tree), 0.0, procstat.machine_ticks(), time.monotonic())
        tree = procstat.process_tree(server.pid)
        memory = procstat.memory_kib(tree)
        result = summarise(target, figures, before, after, memory, server.ready_seconds)
        result.update(procstat.per_process_memory(server.pid, tree))
        result["slice"] = number
        result["elapsed_seconds"] = round(number * args.duration, 1)
        results.append(result)
        log(f"  slice {number}/{slices}: {result['req_per_s']:,.0f} req/s, p99 {result['p99_ms']:.2f} ms, "
            f"RSS {result['rss_mib']} MiB, PSS {result['pss_mib']} MiB "
            f"({result['pss_per_one_worker']} x one worker's), "
            f"errors {result['bad_status'] + result['socket_errors']}")
    return results


def steady(slices, workers):
    """The slices that ended with exactly `workers` workers: not while one was being
    replaced (then a draining worker, its successor and the arbiter's child
    process are also in the tree, and "PSS / one worker's" means nothing)."""
    return [s for s in slices if sum(not p["arbiter"] for p in s["processes_mib"]) == workers]


def replacements(slices, workers):
    """Workers seen beyond the first `workers` (vamo/core/recycle.py): replaced ones."""
    pids = {p["pid"] for s in steady(slices, workers) for p in s["processes_mib"] if not p["arbiter"]}
    return max(0, len(pids) - workers)


def memory_summary(slices, workers=1):
    """RSS after the first slice (the cache is filled by then), at the end, at most, and the growth;
    the PSS ratio at the last slice without a replacement under way, and at most over those."""
    rss = [s["rss_mib"] for s in slices]
    second_half = rss[len(rss) // 2:]
    settled = steady(slices, workers) or slices
    return {"pss_first_mib": slices[0]["pss_mib"], "pss_last_mib": slices[-1]["pss_mib"],
            "pss_max_mib": max(s["pss_mib"] for s in slices),
            "one_worker_pss_last_mib": settled[-1]["one_worker_pss_mib"],
            "pss_per_one_worker_last": settled[-1]["pss_per_one_worker"],
            "pss_last_steady_mib": settled[-1]["pss_mib"], "last_steady_slice": settled[-1]["slice"],
            "pss_per_one_worker_max_steady": max(s["pss_per_one_worker"] or 0 for s in settled),
            "slices_replacing": len(slices) - len(steady(slices, workers)),
            "workers_replaced": replacements(slices, workers),
            "largest_process_rss_last_mib": slices[-1]["rss_max_mib"],
            "rss_first_mib": rss[0], "rss_last_mib": rss[-1], "rss_max_mib": max(rss),
            "rss_growth_mib": round(rss[-1] - rss[0], 1),
            # Growth over the second half alone: a leak keeps growing, a filling cache does not.
            "rss_growth_second_half_mib": round(second_half[-1] - second_half[0], 1)}


def markdown(slices, summary):
    lines = ["| slice | minutes | req/s | p50 ms | p99 ms | RSS MiB | PSS MiB | PSS / one worker's "
             "| non-2xx/304 | socket errors | other jobs' CPU |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for s in slices:
        lines.append(f"| {s['slice']} | {s['elapsed_seconds'] / 60:.1f} | {s['req_per_s']:,.0f} | {s['p50_ms']:.2f} "
                     f"| {s['p99_ms']:.2f} | {s['rss_mib']} | {s['pss_mib']} | {s['pss_per_one_worker']} "
                     f"| {s['bad_status']} "
                     f"| {s['socket_errors']} "
                     f"| {s['foreign_cpu_share']:.0%} |")
    lines += ["", "| figure | value |", "|---|---:|"]
    lines += [f"| {name} | {value} |" for name, value in summary.items()]
    return "\n".join(lines)


def run(args):
    slices = max(1, round(args.soak * 60 / args.duration))
    work_dir = tempfile.mkdtemp(prefix="vamo-bench-soak-")
    started = datetime.datetime.now().astimezone()
    mariadb = start_mariadb()
    writer = server = None
    try:
        log(f"soak: {args.scale:,} add-ons ({args.shape}, {args.generation}), {slices} slices of "
            f"{args.duration} s, {args.soak_changes} changed files/s, reconciliation every "
            f"{args.soak_reconcile} s, {args.soak_workers} worker(s)")
        url, rows, _ = fill(mariadb, args.scale, args.seed, args.generation, args.shape)
        paths, mix_summary = build_mix(rows, args.mix_size, args.seed, args.generation)
        del rows
        paths_file = os.path.join(work_dir, "mix.txt")
        write_paths(paths, paths_file)
        pin_process(mariadb.process.pid, {int(SERVER_CPUS)})
        port = free_port()
        env = {**base_env(url, port), "VAMO_RECONCILE_SECONDS": str(args.soak_reconcile)}
        target = vamo_target(args.soak_workers)
        server = Server(target.argv, env, port, target.cpus,
                        os.path.join(work_dir, "vamo.log"), "/__heartbeat__", 200).start()
        writer = Writer(url, args.soak_changes, args.seed)
        writer.start()
        results = soak_slices(server, f"http://127.0.0.1:{port}", paths_file, slices, args)
        writer.stop()
        heartbeat_after = http_status(port, "/__heartbeat__")
        db_version = mariadb_version(mariadb)
    except BaseException:
        log(f"failed; server log kept in {work_dir}")
        raise
    finally:
        if writer is not None:
            writer.stop()
        if server is not None:
            server.stop()
        mariadb.cleanup()
    shutil.rmtree(work_dir, ignore_errors=True)

    summary = {**memory_summary(results, args.soak_workers),
               "errors": sum(s["bad_status"] + s["socket_errors"] for s in results),
               "files_changed": writer.committed, "writer_error": writer.error,
               "heartbeat_after": heartbeat_after}
    document = {
        **report.document_head("soak", started, wrk_version(), db_version),
        "scale": {"addons": args.scale, "seed": args.seed, "shape": args.shape, "generation": args.generation},
        "settings": {"minutes": args.soak, "slice_seconds": args.duration, "connections": args.connections,
                     "changed_files_per_second": args.soak_changes,
                     "reconcile_seconds": args.soak_reconcile, "mix_size": args.mix_size,
                     "workers": args.soak_workers, "server_cpus": target.cpus, "wrk_cpus": WRK_CPUS},
        "mix": mix_summary, "summary": summary, "slices": results,
    }
    path = report.write_results(document, "soak")
    print(f"\n## vamo soak: {args.soak} min, {args.scale:,} add-ons\n")
    print(markdown(results, summary))
    print(f"\nResults: {os.path.relpath(path)}")
    return 0
