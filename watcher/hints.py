"""The commands the tool suggests, written so that they paste and run as they are.

After the quick start `watcher` lives in `.venv/bin/`, which is not on the PATH: a hint saying
`watcher hits` would answer "command not found". `program()` is what to type to run this
same program from the current folder (`watcher` when the PATH finds this one, else its path,
or `python -m watcher`), and `command()` quotes each argument for the shell ("Mon Blog").
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sys
from pathlib import Path

_BACKTICKED = re.compile(r"`watcher(?= |`)")


def program() -> str:
    """What to type to run this watcher again, from the current folder."""
    script = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if script is not None and script.name == "__main__.py" and script.parent.name == "watcher":
        return f"{shlex.quote(_shown(Path(sys.executable)))} -m watcher"  # python -m watcher
    if script is None or script.name != "watcher":
        return "watcher"  # run some other way (a test, an embedding program): the installed name
    found = shutil.which("watcher")
    try:
        if found and Path(found).resolve() == script.resolve():
            return "watcher"
    except OSError:
        pass
    return shlex.quote(_shown(script))


def command(*words: str) -> str:
    """A whole command line to paste: the program, then each word quoted for the shell."""
    return " ".join([program(), *(shlex.quote(w) for w in words)])


def hint(text: str) -> str:
    """`text` with each `watcher …` it quotes between backticks written as what to type."""
    name = program()
    return text if name == "watcher" else _BACKTICKED.sub(lambda _: f"`{name}", text)


def _shown(path: Path) -> str:
    """A path as short as it can be typed from here: relative below the current folder."""
    absolute = Path(os.path.abspath(path))
    try:
        relative = absolute.relative_to(Path.cwd())
    except ValueError:
        return str(absolute)
    text = str(relative)
    return text if "/" in text else f"./{text}"
