"""`make bench`: vamo against its server's ceiling and against the legacy way.

    python -m bench.run [--scale 1000|10000|100000] [--warmup S] [--duration S] ...
    python -m bench.run --scale-report          (bench/scale.py)
    python -m bench.run --soak MINUTES          (bench/soak.py)
    python -m bench.run --compare REV           (vamo at another commit, served in turns)

One run: a throwaway MariaDB filled by the data generator, a request mix
derived from the same rows, then for each target (bench/targets.py) a server
pinned to core 0, a warm-up wrk run, and a measured wrk run pinned to core 1
with the same connections and duration. Prints a Markdown table and writes
bench/results/<time>-scale<N>.json. bench/README.md explains every figure.
"""

import argparse
import datetime
import os
import shutil
import subprocess
import sys
import tempfile

from bench import report
from bench.answers import sample_answers
from bench.dataset import fill, mariadb_version, start_mariadb
from bench.measure import measure
from bench.mix import HOST, build_mix, write_paths
from bench.progress import log
from bench.servers import pin_process
from bench.targets import SERVER_CPUS, all_targets, at_commit
from bench.wrk import find_wrk, wrk_version

SCALES = (1000, 10000, 100000, 530000)
TARGET_NAMES = ("ceiling", "vamo", "vamo-uncached", "vamo-reconciling", "legacy", "vamo-workers-2")


def check_machine():
    """None when the bench can run here, else one line saying what is missing."""
    if not find_wrk():
        return "wrk not found: install the Debian package wrk (make bench does it as root)"
    if not shutil.which("taskset"):
        return "taskset not found: install the Debian package util-linux"
    if not os.path.exists("/proc/stat"):
        return "the bench reads /proc: it runs on Linux only"
    if len(os.sched_getaffinity(0)) < 2 or not {0, 1} <= os.sched_getaffinity(0):
        return "the bench needs cores 0 and 1 (server on one, wrk on the other)"
    return None


def build_parser():
    parser = argparse.ArgumentParser(prog="make bench ARGS=...", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, default=10000,
                        help="add-ons generated (default 10000; the scale report's are 1000, 10000, "
                             "100000, 530000)")
    parser.add_argument("--seed", type=int, default=1, help="data and mix seed (default 1)")
    parser.add_argument("--generation", default="classic", choices=("classic", "current"),
                        help="AMO's schema generation of the data; the two-query baseline is the "
                             "legacy script (classic) or today's AMO view (current) (default classic)")
    parser.add_argument("--shape", choices=("realistic", "edge", "today"),
                        help="the generator's data shape (vamo demo --shape): default today for "
                             "--scale-report, realistic otherwise")
    parser.add_argument("--warmup", type=int, default=5, help="warm-up seconds, not measured (default 5)")
    parser.add_argument("--duration", type=int, default=15, help="measured seconds (default 15)")
    parser.add_argument("--connections", type=int, default=50, help="wrk connections (default 50)")
    parser.add_argument("--mix-size", type=int, default=100000,
                        help="requests in the mix that wrk walks round (default 100000)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="rounds over all targets; the table shows medians (default 1)")
    parser.add_argument("--targets", default=",".join(TARGET_NAMES),
                        help=f"comma-separated subset of {','.join(TARGET_NAMES)}")
    parser.add_argument("--compare", metavar="REV",
                        help="also serve vamo (cache on and off) as it was at commit REV, each right "
                             "after today's, from a throwaway git worktree: a regression measured "
                             "side by side, not against another day's figures")
    parser.add_argument("--scale-report", action="store_true",
                        help="run the scale report instead (bench/scale.py; see --scales)")
    parser.add_argument("--scales", default=",".join(map(str, SCALES)),
                        help="scales of the scale report (default 1000,10000,100000,530000)")
    parser.add_argument("--soak", type=float, metavar="MINUTES",
                        help="run the soak instead (bench/soak.py): one server this long, "
                             "in slices of --duration, while the data changes")
    parser.add_argument("--soak-changes", type=int, default=20,
                        help="soak: changed files committed per second (default 20)")
    parser.add_argument("--soak-workers", type=int, default=1,
                        help="soak: `vamo serve --workers N` (both cores, shared with wrk) instead of "
                             "one process on core 0; each slice reports the summed PSS (default 1)")
    parser.add_argument("--soak-reconcile", type=int, default=60,
                        help="soak: VAMO_RECONCILE_SECONDS of the server (default 60)")
    return parser


def parse_targets(text):
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = set(names) - set(TARGET_NAMES)
    if unknown or not names:
        raise SystemExit(f"--targets: unknown {sorted(unknown)}; known: {', '.join(TARGET_NAMES)}")
    return names


def _with_commit(targets, revision, work_dir):
    """`targets`, each vamo one followed by its twin served from a worktree of `revision`."""
    checkout = os.path.join(work_dir, "compare")
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    subprocess.run(["git", "-C", repo, "worktree", "add", "--quiet", "--detach", checkout, revision],
                   check=True)
    commit = subprocess.run(["git", "-C", checkout, "rev-parse", "--short", "HEAD"], check=True,
                            capture_output=True, text=True).stdout.strip()
    log(f"--compare: vamo at {commit} is served from {checkout}")
    paired = []
    for target in targets:
        paired.append(target)
        if target.name in ("vamo", "vamo-uncached"):
            paired.append(at_commit(target, commit, checkout))
    return paired


def _remove_worktree(work_dir):
    checkout = os.path.join(work_dir, "compare")
    if os.path.isdir(checkout):
        repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        subprocess.run(["git", "-C", repo, "worktree", "remove", "--force", checkout], check=False)


def run(args):
    names = parse_targets(args.targets)
    work_dir = tempfile.mkdtemp(prefix="vamo-bench-")
    started = datetime.datetime.now().astimezone()
    mariadb = start_mariadb()
    try:
        log(f"filling MariaDB with {args.scale:,} generated add-ons (seed {args.seed}, "
            f"{args.generation} generation)")
        url, rows, fill_timings = fill(mariadb, args.scale, args.seed, args.generation, args.shape)
        log(f"filled: rows built in {fill_timings['build_rows_seconds']} s, "
            f"written in {fill_timings['write_rows_seconds']} s")
        # mariadbd shares the server's core: the legacy way pays for its queries there.
        pin_process(mariadb.process.pid, {int(SERVER_CPUS)})
        paths, mix_summary = build_mix(rows, args.mix_size, args.seed, args.generation)
        del rows
        paths_file = os.path.join(work_dir, "mix.txt")
        write_paths(paths, paths_file)
        answers = sample_answers(url, paths)
        log(f"mix: {mix_summary['requests']:,} requests, {mix_summary['distinct_requests']:,} distinct; "
            f"vamo answers a sample with {answers['statuses']}, mean body {answers['mean_body_bytes']} B")
        if set(answers["statuses"]) != {"200"}:
            log("warning: the mix should be all 200s; a non-200 here is the mix's fault, "
                "and wrk will count it as an error")
        targets = [t for t in all_targets(answers["mean_body_bytes"], args.generation) if t.name in names]
        if args.compare:
            targets = _with_commit(targets, args.compare, work_dir)
        runs = []
        for round_number in range(1, args.repeat + 1):
            for target in targets:
                log(f"round {round_number}/{args.repeat}: {target.label}: "
                    f"{args.warmup:g} s warm-up, {args.duration:g} s measured")
                result = measure(target, url, mariadb.process.pid, paths_file, HOST, args.warmup,
                                 args.duration, args.connections, work_dir, seed=args.seed + round_number)
                result["round"] = round_number
                runs.append(result)
                log(f"  {result['req_per_s']:,.0f} req/s, p99 {result['p99_ms']:.2f} ms, "
                    f"{result['server_cpu_us_per_req']} µs CPU/req, errors "
                    f"{result['bad_status'] + result['socket_errors']}")
        db_version = mariadb_version(mariadb)
    except BaseException:
        log(f"failed; server logs kept in {work_dir}")
        raise
    finally:
        mariadb.cleanup()
        _remove_worktree(work_dir)
    shutil.rmtree(work_dir, ignore_errors=True)

    rows = report.combine(runs)
    found = report.ratios(rows)
    checks = report.check_targets(rows, found)
    document = {
        **report.document_head("throughput", started, wrk_version(), db_version),
        "scale": {"addons": args.scale, "seed": args.seed, "generation": args.generation, "shape": args.shape,
                  **fill_timings},
        "settings": {"compare": args.compare, "warmup_seconds": args.warmup, "duration_seconds": args.duration,
                     "connections": args.connections, "wrk_threads": 1, "repeat": args.repeat,
                     "server_cpus": SERVER_CPUS, "wrk_cpus": "1", "mariadbd_cpus": SERVER_CPUS,
                     "server": "meinheld 1.0.2 (MEINHELD_NOGREEN), keep-alive, access log off; "
                               "vamo's default settings unless the target says otherwise"},
        "mix": {**mix_summary, "vamo_answers_sample": answers},
        "results": rows, "ratios": found,
        "targets": [{"target": text, "figure": value, "met": met} for text, value, met in checks],
        "runs": runs,
    }
    suffix = "" if args.generation == "classic" else f"-{args.generation}"
    path = report.write_results(document, f"scale{args.scale}{suffix}")
    print(f"\n## vamo bench, {args.scale:,} add-ons ({args.generation} generation), {args.connections} connections, "
          f"{args.duration:g} s measured after {args.warmup:g} s warm-up\n")
    print(report.markdown_table(rows))
    print()
    print(report.markdown_ratios(found, checks))
    print(f"\nResults: {os.path.relpath(path)}")
    return 0


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.shape is None:
        args.shape = "today" if args.scale_report else "realistic"
    problem = check_machine()
    if problem:
        print(f"bench: {problem}", file=sys.stderr)
        return 2
    if args.scale_report:
        from bench import scale

        return scale.run(args)
    if args.soak:
        from bench import soak

        return soak.run(args)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
