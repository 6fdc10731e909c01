"""Refuse XML whose DTD declares entities that expand into other entities (pure: bytes in, error out).

A "billion laughs" document declares ten entities, each ten copies of the previous one: a few
hundred bytes that expand to gigabytes. feedparser means to drop such declarations, but its
pattern only sees a declaration at the start of a line, so one written on a single line reaches
expat, whose own limit stops the expansion only after some 100 MB of text have been handed to
Python. Feeds have no use for nested entities (the few that declare any give plain text, like
`<!ENTITY id "tag:example.com,">`), so a declaration whose value refers to another entity, or a
parameter entity that pulls in other declarations, is refused before parsing.
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


def _prolog(body: bytes) -> str:
    """The text before the root element, decoded well enough to find declarations in it."""
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
    text = body[start:].decode(codec, errors="replace")
    first = _FIRST_ELEMENT.search(text)
    return text[: first.start()] if first else text


def refuse_entity_expansion(body: bytes, url: str) -> None:
    """Raise ParseError when the document's DTD nests entities (the shape of an expansion attack)."""
    for match in _DECLARATION.finditer(_prolog(body)):
        parameter, name, value = match.group(1), match.group(2), match.group(3) or match.group(4) or ""
        if parameter or _REFERENCE.search(value):
            raise ParseError(
                f"refused: the document declares the entity {name!r} in terms of other entities, "
                f"the shape of an entity expansion attack ({url})"
            )
