"""Run a command and write its CPU time and peak memory, as the kernel counts them, to a file.

    python -I -S bench/spawn.py RUSAGE.json COMMAND...

Linux counts in a child's peak memory (ru_maxrss) the memory of the process it was forked
from: a child of the benchmark (which holds the generated feeds) would look as large as the
benchmark itself. This small process starts the command instead, so that the peak measured
is the command's own.

A command may start processes of its own (watcher's pool of matching processes, started from a
server process that outlives the command by a moment). This process becomes their "subreaper":
every descendant left behind is re-parented here and waited for, so its CPU time is counted.
CPU is the sum over all of them; peak memory is the sum of each process's own peak (an upper
bound: the peaks need not coincide).
"""

import ctypes
import json
import os
import sys

PR_SET_CHILD_SUBREAPER = 36

if __name__ == "__main__":
    out, argv = sys.argv[1], sys.argv[2:]
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    cpu = 0.0
    peak_kb = 0
    processes = 0
    status = 0
    while True:
        try:
            done, code, usage = os.wait4(-1, 0)
        except ChildProcessError:  # the command and everything it left behind have ended
            break
        cpu += usage.ru_utime + usage.ru_stime
        peak_kb += usage.ru_maxrss
        processes += 1
        if done == pid:
            status = code
    with open(out, "w") as f:
        json.dump({"cpu": cpu, "maxrss_kb": peak_kb, "processes": processes}, f)
    sys.exit(os.waitstatus_to_exitcode(status))
