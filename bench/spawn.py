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
of them. Peak memory: the kernel's figure for the command's own process, and the largest sum
of the resident sizes of the whole tree, sampled every 20 ms from /proc (memory shared
between processes is counted in each: an upper bound).
"""

import ctypes
import json
import os
import sys
import time

PR_SET_CHILD_SUBREAPER = 36
PAGE = os.sysconf("SC_PAGE_SIZE")


def tree_rss(root: int) -> int:
    """Resident bytes of every process under `root` (not `root` itself)."""
    parents = {}
    rss = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{name}/statm") as f:
                rss[int(name)] = int(f.read().split()[1]) * PAGE
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        parents[int(name)] = int(fields[1])
    total = 0
    for pid, size in rss.items():
        up = parents.get(pid)
        while up is not None and up != root and up > 1:
            up = parents.get(up)
        if up == root:
            total += size
    return total


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
    while True:
        try:
            done, code, usage = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:  # the command and everything it left behind have ended
            break
        if done == 0:  # still running
            tree_peak = max(tree_peak, tree_rss(me))
            time.sleep(0.02)
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
                "processes": processes,
            },
            f,
        )
    sys.exit(os.waitstatus_to_exitcode(status))
