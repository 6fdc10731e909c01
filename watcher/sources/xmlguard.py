"""Refuse XML whose DTD declares entities that expand too far (pure: bytes in, error out).

A "billion laughs" document declares ten entities, each ten copies of the previous one: a few
hundred bytes that expand to gigabytes. feedparser means to drop such declarations, but its
pattern only sees a declaration at the start of a line, so one written on a single line reaches
expat, whose own limit stops the expansion only after some 100 MB of text have been handed to
Python. Feeds have no use for nested entities (the few that declare any give plain text, like
`<!ENTITY id "tag:example.com,">`), so a declaration whose value refers to another entity, or a
parameter entity that pulls in other declarations, is refused before parsing.
A plain entity can blow up too: 100,000 characters referenced 300 times turn 196 KB into 30 M
characters. What the references would add to the document is counted before parsing, and a
document that would grow by more than MAX_EXPANSION characters is refused the same way.
External entities (`SYSTEM "file:..."`) are left to the parser, which never loads them.
"""

from __future__ import annotations

import codecs
import re

from watcher.errors import ParseError

# <!ENTITY name "value"> or <!ENTITY % name "value">, with either quote
_DECLARATION = re.compile(r"""<!ENTITY\s+(%\s*)?([^\s"'>]+)\s+(?:"([^"]*)"|'([^']*)')""")
_REFERENCE = re.compile(r"[&%][^\s#;&%]+;")  # &name; or %name;, not a character reference &#233;
_FIRST_ELEMENT = re.compile(r"<[^\s!?/]")
_UNICODE_BOMS = (
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
)
_NO_BOM = ((b"\0\0\0<", "utf-32-be"), (b"<\0\0\0", "utf-32-le"), (b"\0<", "utf-16-be"), (b"<\0", "utf-16-le"))


# What a document's own entities may add to it: far more than the tags and ids that feeds declare
# entities for, far less than what would strain the parser.
MAX_EXPANSION = 1_000_000


def _decoded(body: bytes) -> str:
    """The document decoded well enough to find declarations and references in it."""
    if b"<!ENTITY" not in body and b"\0" not in body[:4]:
        return ""  # the usual case: nothing declared, nothing to decode
    codec, start = "latin-1", 0
    for bom, name in _UNICODE_BOMS:
        if body.startswith(bom):
            codec, start = name, len(bom)
            break
    else:
        for mark, name in _NO_BOM:
            if body.startswith(mark):
                codec = name
                break
    return body[start:].decode(codec, errors="replace")


def refuse_entity_expansion(body: bytes, url: str) -> None:
    """Raise ParseError when the document's DTD nests entities, or when its entities would make it
    grow by more than MAX_EXPANSION characters (the shapes of an expansion attack)."""
    text = _decoded(body)
    first = _FIRST_ELEMENT.search(text)
    prolog, rest = (text[: first.start()], text[first.start() :]) if first else (text, "")
    sizes: dict[str, int] = {}
    for match in _DECLARATION.finditer(prolog):
        parameter, name, value = match.group(1), match.group(2), match.group(3) or match.group(4) or ""
        if parameter or _REFERENCE.search(value):
            raise ParseError(
                f"refused: the document declares the entity {name!r} in terms of other entities, "
                f"the shape of an entity expansion attack ({url})"
            )
        sizes[name] = len(value)
    if not sizes:
        return
    # Only the references in the document's body count: declarations cannot refer to entities.
    added = sum(sizes.get(reference[1:-1], 0) for reference in _REFERENCE.findall(rest))
    if added > MAX_EXPANSION:
        raise ParseError(
            f"refused: the document's entities would add {added:,} characters to it (at most "
            f"{MAX_EXPANSION:,}), the shape of an entity expansion attack ({url})"
        )
