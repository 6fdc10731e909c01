"""Run a command and write its own CPU time and peak memory, as the kernel counts them, to a file.

    python -I -S bench/spawn.py RUSAGE.json COMMAND...

Linux counts in a child's peak memory (ru_maxrss) the memory of the process it was forked
from: a child of the benchmark (which holds the generated feeds) would look as large as the
benchmark itself. This small process starts the command instead, so that the peak measured
is the command's own.
"""

import json
import os
import sys

if __name__ == "__main__":
    out, argv = sys.argv[1], sys.argv[2:]
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    with open(out, "w") as f:
        json.dump({"cpu": usage.ru_utime + usage.ru_stime, "maxrss_kb": usage.ru_maxrss}, f)
    sys.exit(os.waitstatus_to_exitcode(status))
