"""Editing feeds.yaml in place: add and remove one source, keeping its comments and layout.

ruamel.yaml reads the file as a round-trip document (comments, key order, quoting and the
file's own indentation kept), the change is made on that document, and the result is
validated by the same parser as `watcher check` before the file is replaced atomically:
a source that would make feeds.yaml invalid is refused and nothing is written.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark, YAMLError
from ruamel.yaml.tokens import CommentToken
from ruamel.yaml.util import load_yaml_guess_indent

from watcher.config import parse_feeds
from watcher.errors import ConfigError
from watcher.files import atomic_write_text, editing
from watcher.types import SourceSpec

# The order keys are written in, the ones people read first first.
_KEY_ORDER = ("name", "kind", "url", "base_url", "interval", "weight", "tags", "enabled")


def add_feed(path: Path, entry: Mapping[str, Any], env: Mapping[str, str] | None = None) -> SourceSpec:
    """Append one source (a mapping as it would be written in feeds.yaml) to the `feeds:` list."""
    with editing(path):  # two edits at once would each write over the other's
        return _add_feed(path, entry, env)


def _add_feed(path: Path, entry: Mapping[str, Any], env: Mapping[str, str] | None) -> SourceSpec:
    yaml, doc, _ = _load(path)
    feeds = _feeds(doc, path)
    item = CommentedMap()
    for key in sorted(entry, key=lambda k: (_KEY_ORDER.index(k) if k in _KEY_ORDER else len(_KEY_ORDER), k)):
        value = entry[key]
        if value is None:
            continue
        if isinstance(value, list | tuple):
            seq = CommentedSeq(value)
            seq.fa.set_flow_style()  # tags: [a, b], as the rest of the file writes them
            value = seq
        item[key] = value
    separated = len(feeds) > 1 and any(
        (tokens := _pre_comments(feeds, i)) and tokens[0].value.startswith("\n") for i in range(1, len(feeds))
    )
    feeds.append(item)
    if separated:  # the file leaves a blank line between entries: so does the new one
        _set_pre_comments(feeds, len(feeds) - 1, [_blank_line()])
    text = _dump(yaml, doc)
    specs = _validate(text, path, env)
    spec = next(s for s in specs if s.name == str(entry.get("name", "")).strip())
    atomic_write_text(path, text)
    return spec


def remove_feed(path: Path, name: str, env: Mapping[str, str] | None = None) -> int:
    """Remove the source called `name`; returns how many were left. Comments around it are kept."""
    with editing(path):
        return _remove_feed(path, name, env)


def _remove_feed(path: Path, name: str, env: Mapping[str, str] | None) -> int:
    yaml, doc, _ = _load(path)
    feeds = _feeds(doc, path)
    names = [f.get("name") if isinstance(f, Mapping) else None for f in feeds]
    if name not in names:
        import difflib

        close = difflib.get_close_matches(name, [n for n in names if isinstance(n, str)], n=1)
        hint = f"; did you mean {close[0]!r}?" if close else " (see `watcher feeds list`)"
        raise ConfigError(path, None, f"no source named {name!r}{hint}")
    index = names.index(name)
    # The comments written above the removed entry stay: they now stand above the next one.
    kept = _pre_comments(feeds, index)
    if index + 1 < len(feeds):
        following = _join(kept, _pre_comments(feeds, index + 1))
        del feeds[index]
        _set_pre_comments(feeds, index, following)
    else:
        end = _join(kept, list(feeds.ca.end or []))
        del feeds[index]
        feeds.ca.end = end or None
    text = _dump(yaml, doc)
    _validate(text, path, env)
    atomic_write_text(path, text)
    return len(feeds)


def add_to_feed_list(path: Path, name: str, key: str, value: str, env: Mapping[str, str] | None = None) -> SourceSpec:
    """Add `value` to the list `key` of the source `name` (created if absent), e.g. a site to its
    `exclude_domains`; the file is validated before it is replaced, its comments kept."""
    with editing(path):
        yaml, doc, _ = _load(path)
        feeds = _feeds(doc, path)
        entry = next((f for f in feeds if isinstance(f, CommentedMap) and f.get("name") == name), None)
        if entry is None:
            raise ConfigError(path, None, f"no source named {name!r} (see `watcher feeds list`)")
        listed = entry.get(key)
        if listed is None:
            listed = CommentedSeq()
            listed.fa.set_flow_style()
            entry[key] = listed
        elif not isinstance(listed, list):
            raise ConfigError(path, None, f"source {name!r}: {key} must be a list")
        if value not in listed:
            listed.append(value)
        text = _dump(yaml, doc)
        spec = next(s for s in _validate(text, path, env) if s.name == name)
        atomic_write_text(path, text)
        return spec


def _load(path: Path) -> tuple[YAML, Any, str]:
    """The round-trip document of feeds.yaml, and a YAML dumper set to the file's own indentation."""
    try:
        original = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(path, None, "file not found (use --feeds to name it)") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(path, None, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:  # a folder, no permission
        raise ConfigError(path, None, f"cannot read it: {exc.strerror or exc}") from None
    try:
        _, indent, block_seq_indent = load_yaml_guess_indent(original)
    except YAMLError as exc:
        raise ConfigError(path, None, f"invalid YAML: {exc}") from None
    yaml = YAML()  # round-trip mode
    yaml.preserve_quotes = True
    yaml.width = 4096  # never fold a long URL
    indent = indent or 2
    offset = block_seq_indent or 0
    yaml.indent(mapping=max(2, indent - offset) if offset else indent, sequence=indent, offset=offset)
    doc = yaml.load(original)
    return yaml, doc, original


def _feeds(doc: Any, path: Path) -> CommentedSeq:
    if not isinstance(doc, CommentedMap):
        raise ConfigError(path, None, "the top level must be a mapping with a `feeds:` list")
    feeds = doc.get("feeds")
    if feeds is None:
        feeds = CommentedSeq()
        doc["feeds"] = feeds
    if not isinstance(feeds, CommentedSeq):
        raise ConfigError(path, None, "`feeds` must be a list of feeds (each line starting with `- `)")
    return feeds


def _dump(yaml: YAML, doc: Any) -> str:
    out = io.StringIO()
    yaml.dump(doc, out)
    return out.getvalue()


def _validate(text: str, path: Path, env: Mapping[str, str] | None) -> tuple[SourceSpec, ...]:
    # the file's shape, not the secrets: editing it needs no credentials (`watcher check` reads them)
    specs, _ = parse_feeds(text, str(path), env, path.parent, secrets=False)
    return specs


def _pre_comments(feeds: CommentedSeq, index: int) -> list[Any]:
    """The comment lines (and blank lines) written just before entry `index`.

    ruamel keeps them on the list: in `ca.comment[1]` for the first entry, in
    `ca.items[index][1]` for the others, and in `ca.end` for the lines after the last one.
    """
    if index == 0:
        slot = feeds.ca.comment
        return list(slot[1] or []) if slot and len(slot) > 1 else []
    slot = feeds.ca.items.get(index)
    return list(slot[1] or []) if slot and len(slot) > 1 else []


def _set_pre_comments(feeds: CommentedSeq, index: int, tokens: list[Any]) -> None:
    if index == 0:
        if feeds.ca.comment is None:
            feeds.ca.comment = [None, None]
        feeds.ca.comment[1] = tokens or None
    elif tokens:
        feeds.ca.items[index] = [None, tokens, None, None]
    else:
        feeds.ca.items.pop(index, None)


def _join(first: list[Any], second: list[Any]) -> list[Any]:
    """Two runs of comment tokens, one after the other, without doubling a blank line between them."""
    joined = [*first]
    for token in second:
        if joined and token.value == "\n" and joined[-1].value.endswith("\n\n"):
            continue
        if joined and token.value == "\n" and joined[-1].value == "\n":
            continue
        joined.append(token)
    return joined


def _blank_line() -> CommentToken:
    return CommentToken("\n", CommentMark(0))


__all__ = ["add_feed", "add_to_feed_list", "remove_feed"]
