"""What the command line prints of network text: one line, nothing a terminal would obey (pure).

Items are cleaned when they are read (normalise.py), but a database written by an older version,
an error message quoting a server, or a URL a server redirected to may still hold control
characters: ESC starts the sequences that retitle a window, rewrite the screen or make a hidden
link (`ESC]8;;…BEL`), C1 characters (U+0080-U+009F) do the same in some terminals, and a line
break or a bidirectional override makes a line say what it does not. Every field of network
origin passes through `line` on its way to a terminal.
"""

from __future__ import annotations

import re

__all__ = ["line"]

# C0 and C1 controls and DEL, and the invisible marks that reorder text on screen
# (bidirectional embeddings, overrides and isolates).
_OBEYED = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_BREAKS = re.compile("[\t\n\r\x0b\x0c\x85\u2028\u2029]+")


def line(text: object) -> str:
    """`text` as one line without control characters: breaks become a space, the rest go."""
    shown = str(text) if text is not None else ""
    if shown.isprintable():  # the usual case, and no control character can be in it
        return shown
    return _OBEYED.sub("", _BREAKS.sub(" ", shown))
