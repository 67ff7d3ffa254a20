"""CPU time and memory of processes and of the machine, from /proc (Linux only).

The bench charges a target with the utime+stime of its server's whole
process tree (gunicorn's workers included) over the measured window, and
reads the machine-wide /proc/stat over the same window, so a run can show
how busy each core was and how much CPU went to other people's jobs.
"""

import os

TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid):
    with open(f"/proc/{pid}/stat") as f:
        text = f.read()
    # The command name is in parentheses and may hold spaces: split after it.
    return text[text.rindex(")") + 2:].split()


def process_tree(pid):
    """`pid` and all its descendants that exist now."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parent = int(_stat_fields(entry)[1])
            except (OSError, ValueError, IndexError):
                continue  # it exited meanwhile
            children.setdefault(parent, []).append(int(entry))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, ()))
    return tree


def cpu_seconds(pids):
    """utime+stime (all threads) of `pids`, in seconds; a pid that is gone counts 0."""
    total = 0
    for pid in pids:
        try:
            fields = _stat_fields(pid)
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15 of stat)
    return total / TICKS


def memory_kib(pids):
    """{"rss": sum of Rss, "pss": sum of Pss, "rss_max": largest Rss} in KiB,
    and "processes": how many were counted.

    RSS counts pages shared between forked workers once per process; PSS
    splits them, so the PSS sum is what the processes cost together."""
    each = [one for one in map(process_memory_kib, pids) if one is not None]
    return {"rss": sum(one["rss"] for one in each), "pss": sum(one["pss"] for one in each),
            "rss_max": max((one["rss"] for one in each), default=0), "processes": len(each)}


def process_memory_kib(pid):
    """{"pid", "rss", "pss", "uss"} of one process in KiB (USS: its private pages,
    what it would free on exit), or None if it is gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            fields = {line.split(":")[0]: int(line.split()[1]) for line in f if line.endswith("kB\n")}
    except (OSError, ValueError, IndexError):
        return None
    return {"pid": pid, "rss": fields.get("Rss", 0), "pss": fields.get("Pss", 0),
            "uss": fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)}


def per_process_memory(arbiter_pid, tree):
    """Each process's RSS, PSS and USS (MiB), and what one worker would hold alone.

    With workers forked from one arbiter, one worker's USS is what a second
    one adds: the arbiter plus a single worker, soaked the same way, would
    have the PSS sum less the USS of every worker but one (the smallest stays,
    so the estimate errs toward a higher ratio).
    """
    processes = [one for one in map(process_memory_kib, tree) if one is not None]
    workers = sorted(one["uss"] for one in processes if one["pid"] != arbiter_pid)
    total = sum(one["pss"] for one in processes)
    one_worker = total - sum(workers[1:])
    return {"processes_mib": [{"pid": one["pid"], "arbiter": one["pid"] == arbiter_pid,
                               **{name: round(one[name] / 1024, 1) for name in ("rss", "pss", "uss")}}
                              for one in processes],
            "one_worker_pss_mib": round(one_worker / 1024, 1),
            "pss_per_one_worker": round(total / one_worker, 3) if one_worker else None}


def machine_ticks():
    """{"cpu": (busy, total), "cpu0": ..., ...} jiffies since boot, from /proc/stat."""
    ticks = {}
    with open("/proc/stat") as f:
        for line in f:
            if not line.startswith("cpu"):
                break
            name, *values = line.split()
            values = [int(v) for v in values[:8]]  # user nice system idle iowait irq softirq steal
            total = sum(values)
            ticks[name] = (total - values[3] - values[4], total)
    return ticks


def busy_share(before, after):
    """{cpu name: share of the window it was busy (0..1)} between two machine_ticks()."""
    shares = {}
    for name, (busy, total) in after.items():
        busy0, total0 = before.get(name, (0, 0))
        shares[name] = (busy - busy0) / (total - total0) if total > total0 else 0.0
    return shares


def busy_seconds(before, after, name="cpu"):
    """CPU seconds all cores together spent busy between two machine_ticks()."""
    return (after[name][0] - before[name][0]) / TICKS
