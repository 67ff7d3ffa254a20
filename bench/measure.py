"""One measured run of one target: start it pinned, warm up, measure, stop.

The window is one wrk run after a warm-up run that is thrown away. CPU is
read from /proc right before and after the measured wrk run: the server's
process tree, mariadbd, wrk itself, and the whole machine (so the figures
say when somebody else's job took the cores).
"""

import os
import time

from bench import procstat
from bench.servers import Server
from bench.targets import WRK_CPUS, base_env
from bench.wrk import run_wrk
from vamo.dev.devdb import free_port


def measure(target, database_url, mariadb_pid, paths_file, host, warmup, seconds, connections,
            log_dir, seed=1):
    port = free_port()
    env = {**base_env(database_url, port), **target.env}
    server = Server(target.argv, env, port, target.cpus,
                    os.path.join(log_dir, f"{target.name}.log"), target.ready_path,
                    target.ready_status)
    url = f"http://127.0.0.1:{port}"
    server.start()
    try:
        if warmup > 0:
            run_wrk(url, paths_file, host, warmup, connections, WRK_CPUS, seed=seed + 1000)
        tree = procstat.process_tree(server.pid)
        before = (procstat.cpu_seconds(tree), procstat.cpu_seconds([mariadb_pid]),
                  procstat.machine_ticks(), time.monotonic())
        figures = run_wrk(url, paths_file, host, seconds, connections, WRK_CPUS, seed=seed)
        after = (procstat.cpu_seconds(tree), procstat.cpu_seconds([mariadb_pid]),
                 procstat.machine_ticks(), time.monotonic())
        memory = procstat.memory_kib(procstat.process_tree(server.pid))
    finally:
        server.stop()
    return summarise(target, figures, before, after, memory, server.ready_seconds)


def summarise(target, figures, before, after, memory, ready_seconds):
    requests = figures["requests"]
    window = figures["duration_us"] / 1e6
    server_cpu, db_cpu = after[0] - before[0], after[1] - before[1]
    machine_busy = procstat.busy_seconds(before[2], after[2])
    shares = procstat.busy_share(before[2], after[2])
    # CPU the machine spent on anything but this server, mariadbd and wrk: other jobs.
    foreign = max(0.0, machine_busy - server_cpu - db_cpu - figures["cpu_seconds"])
    errors = figures["errors"]
    per_request = (lambda seconds: round(seconds / requests * 1e6, 1)) if requests else (lambda s: None)
    return {
        "target": target.name, "label": target.label, "server_cpus": target.cpus,
        "requests": requests, "seconds": round(window, 3),
        "req_per_s": round(requests / window, 1) if window else 0.0,
        "p50_ms": figures["latency_us"]["p50"] / 1000, "p99_ms": figures["latency_us"]["p99"] / 1000,
        "p999_ms": figures["latency_us"]["p999"] / 1000, "max_ms": figures["latency_us"]["max"] / 1000,
        "server_cpu_us_per_req": per_request(server_cpu),
        "db_cpu_us_per_req": per_request(db_cpu), "db_cpu_seconds": round(db_cpu, 2),
        "rss_mib": round(memory["rss"] / 1024, 1), "pss_mib": round(memory["pss"] / 1024, 1),
        "rss_max_mib": round(memory["rss_max"] / 1024, 1), "processes": memory["processes"],
        "bad_status": errors["status"],
        "socket_errors": errors["connect"] + errors["read"] + errors["write"] + errors["timeout"],
        "errors": errors,
        "bytes_per_response": round(figures["bytes"] / requests, 1) if requests else None,
        "wrk_cpu_share": round(figures["cpu_seconds"] / window, 3) if window else None,
        "core_busy_share": {name: round(share, 3) for name, share in shares.items() if name != "cpu"},
        "foreign_cpu_seconds": round(foreign, 2),
        "foreign_cpu_share": round(foreign / (after[3] - before[3]), 3),  # of one core, over the window
        "ready_seconds": round(ready_seconds, 2),
    }
