"""Triage: the states a hit goes through on its way to being relayed, and which moves are allowed.

    new -> picked -> exported -> relayed
      \\       \\
       +-------+--> skipped        (and back: a skipped hit can be picked again)

`plan` is pure: given the current states it says what a command would change, what it would
refuse and why, and which ids are not hits at all; store.Store.set_state applies it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

STATES = ("new", "picked", "exported", "relayed", "skipped")

# target state -> the states it may be reached from
ALLOWED_FROM: Mapping[str, tuple[str, ...]] = {
    "picked": ("new", "skipped"),
    "skipped": ("new", "picked"),
    "exported": ("new", "picked"),
    "relayed": ("picked", "exported"),
}

_VERBS = {"picked": "pick", "skipped": "skip", "exported": "export", "relayed": "mark as relayed"}


@dataclass(frozen=True)
class Plan:
    """What a triage command will do."""

    target: str
    change: tuple[int, ...]  # ids that move to `target`
    already: tuple[int, ...]  # ids already in `target`: nothing to do
    refused: tuple[tuple[int, str], ...]  # (id, why) for moves that are not allowed
    unknown: tuple[int, ...]  # ids that are no stored hit


def plan(ids: Sequence[int], target: str, current: Mapping[int, str]) -> Plan:
    """Sort `ids` into what moves to `target`, what is already there, what is refused, what is unknown."""
    allowed = ALLOWED_FROM[target]
    change: list[int] = []
    already: list[int] = []
    refused: list[tuple[int, str]] = []
    unknown: list[int] = []
    for hit_id in dict.fromkeys(ids):
        state = current.get(hit_id)
        if state is None:
            unknown.append(hit_id)
        elif state == target:
            already.append(hit_id)
        elif state in allowed:
            change.append(hit_id)
        else:
            refused.append((hit_id, why_not(state, target)))
    return Plan(target, tuple(change), tuple(already), tuple(refused), tuple(unknown))


def why_not(state: str, target: str) -> str:
    """One sentence on why a hit in `state` cannot go to `target`, and what to do instead."""
    verb = _VERBS.get(target, target)
    if target == "relayed":
        return f"it is {state}: only a picked or exported hit can be marked as relayed (pick it first)"
    if state == "relayed":
        return f"it was already relayed; there is nothing left to {verb}"
    if state == "exported" and target in ("picked", "skipped"):
        return "it was already exported for relay (once it is posted: `watcher relay done ID`)"
    if state == "skipped" and target == "exported":
        return "it was skipped; pick it again first"
    return f"a hit that is {state} cannot be {target}"
