"""Running wrk with bench/walk.lua and reading its figures."""

import json
import os
import resource
import shutil
import subprocess

WALK_LUA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "walk.lua")


class WrkError(RuntimeError):
    pass


def find_wrk():
    return shutil.which("wrk")


def wrk_version():
    found = find_wrk()
    if not found:
        return None
    out = subprocess.run([found, "-v"], capture_output=True, text=True).stdout
    return out.split("[")[0].strip() or None


def run_wrk(url, paths_file, host, seconds, connections, cpus, seed=1, threads=1, timeout=5):
    """One wrk run pinned to `cpus` (e.g. "1"); its figures as a dict, plus
    "cpu_seconds": the CPU time wrk itself used."""
    command = ["taskset", "-c", cpus, find_wrk(), f"-t{threads}", f"-c{connections}",
               f"-d{int(seconds)}s", f"--timeout={int(timeout)}s", "-s", WALK_LUA, url,
               "--", paths_file, host, str(seed)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    lines = [line for line in done.stdout.splitlines() if line.startswith("BENCH_JSON ")]
    if done.returncode != 0 or not lines:
        raise WrkError(f"wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout[-500:]}")
    figures = json.loads(lines[-1][len("BENCH_JSON "):])
    figures["cpu_seconds"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return figures
