"""Small English wording helpers for command output and logs: counts with their plural."""

from __future__ import annotations


def count(n: int, singular: str, plural: str | None = None) -> str:
    """"1 new hit", "2 new hits", "0 queries" (with `plural` given for irregular words)."""
    return f"{n} {singular if n == 1 else plural or singular + 's'}"
