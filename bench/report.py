"""Figures of a run: medians over repeats, ratios, targets, the Markdown
table, the machine and versions, and the JSON file in bench/results/."""

import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
from importlib import metadata

RESULTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")

# The targets, read from the bench (never asserted in tests).
MIN_RATIO_CACHED = 0.5
MIN_RATIO_UNCACHED = 0.25
MIN_RATIO_LEGACY = 20.0
MAX_P99_MS = 5.0
VAMO_TARGETS = ("vamo", "vamo-uncached", "vamo-workers-2")

_MEDIAN_FIELDS = ("req_per_s", "p50_ms", "p99_ms", "p999_ms", "max_ms", "server_cpu_us_per_req",
                  "db_cpu_us_per_req", "rss_mib", "pss_mib", "rss_max_mib", "bytes_per_response",
                  "wrk_cpu_share", "foreign_cpu_seconds", "foreign_cpu_share", "ready_seconds")
_SUM_FIELDS = ("requests", "bad_status", "socket_errors")


def combine(runs):
    """One row per target: medians of the repeats' figures, sums of their errors."""
    by_target = {}
    for run in runs:
        by_target.setdefault(run["target"], []).append(run)
    combined = {}
    for name, repeats in by_target.items():
        row = {"target": name, "label": repeats[0]["label"], "server_cpus": repeats[0]["server_cpus"],
               "processes": repeats[0]["processes"], "repeats": len(repeats)}
        for field in _MEDIAN_FIELDS:
            values = [r[field] for r in repeats if r.get(field) is not None]
            row[field] = round(statistics.median(values), 3) if values else None
        for field in _SUM_FIELDS:
            row[field] = sum(r[field] for r in repeats)
        combined[name] = row
    return combined


def _ratio(a, b):
    return round(a / b, 3) if a and b else None


def ratios(rows):
    def get(name, field):
        return rows.get(name, {}).get(field)

    return {
        "vamo/ceiling": _ratio(get("vamo", "req_per_s"), get("ceiling", "req_per_s")),
        "vamo-uncached/ceiling": _ratio(get("vamo-uncached", "req_per_s"), get("ceiling", "req_per_s")),
        "vamo/legacy": _ratio(get("vamo", "req_per_s"), get("legacy", "req_per_s")),
        # The same comparisons by CPU per request, which other jobs on the
        # machine disturb less than req/s.
        "cpu: ceiling/vamo": _ratio(get("ceiling", "server_cpu_us_per_req"),
                                    get("vamo", "server_cpu_us_per_req")),
        "cpu: ceiling/vamo-uncached": _ratio(get("ceiling", "server_cpu_us_per_req"),
                                             get("vamo-uncached", "server_cpu_us_per_req")),
        "cpu: legacy(+mariadbd)/vamo": _ratio(
            (get("legacy", "server_cpu_us_per_req") or 0) + (get("legacy", "db_cpu_us_per_req") or 0),
            get("vamo", "server_cpu_us_per_req")),
    }


def check_targets(rows, found):
    """[(target, figure, met)] for the targets whose figures this run has."""
    checks = []

    def add(text, value, met):
        if value is not None:
            checks.append((text, value, bool(met)))

    value = found.get("vamo/ceiling")
    add(f"vamo/ceiling >= {MIN_RATIO_CACHED}", value, value is not None and value >= MIN_RATIO_CACHED)
    value = found.get("vamo-uncached/ceiling")
    add(f"vamo-uncached/ceiling >= {MIN_RATIO_UNCACHED}", value,
        value is not None and value >= MIN_RATIO_UNCACHED)
    value = found.get("vamo/legacy")
    add(f"vamo/legacy >= {MIN_RATIO_LEGACY}", value, value is not None and value >= MIN_RATIO_LEGACY)
    for name in VAMO_TARGETS:
        if name in rows:
            add(f"{name}: p99 <= {MAX_P99_MS} ms", rows[name]["p99_ms"], rows[name]["p99_ms"] <= MAX_P99_MS)
    for name, row in rows.items():
        errors = row["bad_status"] + row["socket_errors"]
        add(f"{name}: zero errors", errors, errors == 0)
    return checks


def _cell(value, digits=1):
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}"


def _share(value):
    """A share of one core as a percentage."""
    return "-" if value is None else f"{value:.0%}"


def markdown_table(rows):
    lines = ["| target | cores | req/s | p50 ms | p99 ms | server CPU µs/req | mariadbd CPU µs/req "
             "| RSS MiB | non-2xx/304 | socket errors | wrk CPU | other jobs' CPU |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in rows.values():
        lines.append("| " + " | ".join([
            row["label"], row["server_cpus"], _cell(row["req_per_s"], 0), _cell(row["p50_ms"], 2),
            _cell(row["p99_ms"], 2), _cell(row["server_cpu_us_per_req"]),
            _cell(row["db_cpu_us_per_req"]), _cell(row["rss_mib"]), _cell(row["bad_status"]),
            _cell(row["socket_errors"]),
            _share(row["wrk_cpu_share"]), _share(row["foreign_cpu_share"])]) + " |")
    return "\n".join(lines)


def markdown_ratios(found, checks):
    lines = ["| ratio | value |", "|---|---:|"]
    lines += [f"| {name} | {_cell(value, 2)} |" for name, value in found.items()]
    lines += ["", "| target | figure | met |", "|---|---:|---|"]
    lines += [f"| {text} | {_cell(value, 2)} | {'yes' if met else '**no**'} |"
              for text, value, met in checks]
    return "\n".join(lines)


def _run_quietly(argv):
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def machine():
    model = None
    try:
        with open("/proc/cpuinfo") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")),
                         None)
        with open("/proc/meminfo") as f:
            memory_kib = int(next(line.split()[1] for line in f if line.startswith("MemTotal:")))
    except OSError:
        memory_kib = None
    return {"cpu_model": model, "cpus": os.cpu_count(), "memory_gib": memory_kib and round(memory_kib / 2**20, 1),
            "kernel": platform.release(), "load_average_at_start": os.getloadavg()}


def versions(wrk_version, mariadb_version):
    def package(name):
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    commit = _run_quietly(["git", "-C", repo, "rev-parse", "--short", "HEAD"])
    dirty = bool(_run_quietly(["git", "-C", repo, "status", "--porcelain", "--untracked-files=no"]))
    return {"python": platform.python_version(), "vamo": package("vamo"), "meinheld": package("meinheld"),
            "gunicorn": package("gunicorn"), "pymysql": package("pymysql"), "wrk": wrk_version,
            "mariadb": mariadb_version, "git_commit": commit and (commit + ("-dirty" if dirty else ""))}


def document_head(kind, started, wrk, mariadb):
    """What every results file starts with: the run, the machine, the versions."""
    return {
        "kind": kind,
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": "python -m bench.run " + " ".join(sys.argv[1:]),
        "machine": machine(),
        "versions": versions(wrk, mariadb),
    }


def write_results(document, stem):
    """Write `document` as bench/results/<timestamp>-<stem>.json; the path."""
    os.makedirs(RESULTS_DIR, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = os.path.join(RESULTS_DIR, f"{stamp}-{stem}.json")
    with open(path + ".tmp", "w") as f:
        json.dump(document, f, indent=2, sort_keys=False)
        f.write("\n")
    os.replace(path + ".tmp", path)
    return path
