"""Run a command and write its CPU time and peak memory to a file.

    python -I -S bench/spawn.py RUSAGE.json COMMAND...

Linux counts in a child's peak memory (ru_maxrss) the memory of the process it was forked
from: a child of the benchmark (which holds the generated feeds) would look as large as the
benchmark itself. This small process starts the command instead, so that the peak measured
is the command's own.

A command may start processes of its own (watcher's pool of reading processes, started from
a server process that outlives the command by a moment). This process becomes their
"subreaper": every descendant left behind is re-parented here and waited for, so its CPU time
is counted (the kernel adds a process's waited-for children to it). CPU is the sum over all
of them. Peak memory: the kernel's figure for the command's own process, or the largest sum
of the resident sizes of the whole tree, sampled every 50 ms from /proc (memory shared
between processes is counted in each: an upper bound), if larger. The largest sum of their
proportional sizes (PSS: shared pages divided among the processes sharing them) is written
too: what the tree really takes.
"""

import ctypes
import json
import os
import sys
import time

PR_SET_CHILD_SUBREAPER = 36
SAMPLE_EVERY = 0.05  # seconds between two looks at the memory of the tree


def descendants(root: int) -> list[int]:
    """Every process under `root`, found through /proc/PID/task/TID/children."""
    found: list[int] = []
    stack = [root]
    while stack:
        pid = stack.pop()
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue  # gone meanwhile
        for tid in tasks:
            try:
                with open(f"/proc/{pid}/task/{tid}/children") as f:
                    children = [int(c) for c in f.read().split()]
            except (OSError, ValueError):
                continue
            found.extend(children)
            stack.extend(children)
    return found


def tree_memory(root: int) -> tuple[int, int]:
    """Resident and proportional (PSS) bytes of every process under `root` (not `root` itself).

    PSS divides each shared page among the processes sharing it: its sum is what the tree takes.
    """
    rss = pss = 0
    for pid in descendants(root):
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                fields = dict(line.split(":", 1) for line in f.read().splitlines()[1:])
            rss += int(fields["Rss"].split()[0]) * 1024
            pss += int(fields["Pss"].split()[0]) * 1024
        except (OSError, KeyError, ValueError):
            continue  # gone meanwhile
    return rss, pss


if __name__ == "__main__":
    out, argv = sys.argv[1], sys.argv[2:]
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    me = os.getpid()
    cpu = 0.0
    processes = 0
    status = 0
    main_kb = 0
    tree_peak = 0
    pss_peak = 0
    while True:
        try:
            done, code, usage = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:  # the command and everything it left behind have ended
            break
        if done == 0:  # still running
            rss, pss = tree_memory(me)
            tree_peak, pss_peak = max(tree_peak, rss), max(pss_peak, pss)
            time.sleep(SAMPLE_EVERY)
            continue
        cpu += usage.ru_utime + usage.ru_stime
        processes += 1
        if done == pid:
            status = code
            main_kb = usage.ru_maxrss
    with open(out, "w") as f:
        json.dump(
            {
                "cpu": cpu,
                "maxrss_kb": max(main_kb, tree_peak // 1024),
                "main_maxrss_kb": main_kb,
                "pss_peak_kb": pss_peak // 1024,
                "processes": processes,
            },
            f,
        )
    sys.exit(os.waitstatus_to_exitcode(status))
