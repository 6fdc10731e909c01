"""Triage: the states a hit goes through on its way to being relayed, the moves allowed, and undo.

    new -> picked -> exported -> relayed
      \\       \\
       +-------+--> skipped   (relevant, not relayed; can be picked again)
                +--> noise     (not relevant: `relay skip --noise`; leaves the digest at once)

Every move can be taken back one step with `undo`: exported -> picked, picked, skipped or noise
-> new, relayed -> exported (or picked, if it never was exported). Both kinds of change are kept
in the history, an undone move marked as such (the report does not count it).

Picked, exported and relayed hits are what the watch's user found relevant; noise marks are what
they found not relevant: `LABELS` says which state is which label, for the learned part of the
score (feedback.py). A plain skip is no label.

`plan` and `plan_undo` are pure: given the current states they say what a command would change,
what it would refuse and why, and which ids are not hits at all. The functions below them
(`pick`, `skip`, `done`, `undo`, `mark_exported`) apply a plan to a Store: the command line and
the web page call the same ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from watcher.store import Store

STATES = ("new", "picked", "exported", "relayed", "skipped", "noise")

# target state -> the states it may be reached from
ALLOWED_FROM: Mapping[str, tuple[str, ...]] = {
    "picked": ("new", "skipped", "noise"),
    "skipped": ("new", "picked", "noise"),
    "noise": ("new", "picked", "skipped"),
    "exported": ("picked",),
    "relayed": ("picked", "exported"),
}

# state -> the label it gives the learned score: True relevant, False not relevant
LABELS: Mapping[str, bool] = {"picked": True, "exported": True, "relayed": True, "noise": False}

_VERBS = {
    "picked": "pick",
    "skipped": "skip",
    "noise": "mark as noise",
    "exported": "export",
    "relayed": "mark as relayed",
}


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
        return f"it was already relayed; there is nothing left to {verb} (`watcher relay undo ID` takes it back)"
    if state == "exported" and target in ("picked", "skipped", "noise"):
        return (
            "it was already exported for relay: once it is posted, `watcher relay done ID`;"
            " if it will not be, `watcher relay undo ID` takes it back to picked"
        )
    if target == "exported":
        return f"it is {state}: only picked hits are exported for relay (pick it first)"
    return f"a hit that is {state} cannot be {target}"


def step_back(state: str, was_exported: bool) -> str | None:
    """The state that `undo` takes a hit in `state` back to; None for a new hit (nothing to undo)."""
    if state == "relayed":
        return "exported" if was_exported else "picked"
    if state == "exported":
        return "picked"
    if state in ("picked", "skipped", "noise"):
        return "new"
    return None


@dataclass(frozen=True)
class UndoPlan:
    """What `undo` will do."""

    change: tuple[tuple[int, str, str], ...]  # (id, from state, to state)
    nothing: tuple[int, ...]  # ids that are new: nothing to undo
    unknown: tuple[int, ...]


def plan_undo(ids: Sequence[int], current: Mapping[int, tuple[str, bool]]) -> UndoPlan:
    """One step back for each of `ids`; `current` gives each hit's state and whether it was exported."""
    change: list[tuple[int, str, str]] = []
    nothing: list[int] = []
    unknown: list[int] = []
    for hit_id in dict.fromkeys(ids):
        if hit_id not in current:
            unknown.append(hit_id)
            continue
        state, was_exported = current[hit_id]
        back = step_back(state, was_exported)
        if back is None:
            nothing.append(hit_id)
        else:
            change.append((hit_id, state, back))
    return UndoPlan(tuple(change), tuple(nothing), tuple(unknown))


# --- applying them ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What a triage call did: for the command line's lines and the web page's answer."""

    moved: tuple[tuple[int, str], ...]  # (id, its new state)
    already: tuple[int, ...] = ()  # already in the wanted state (for undo: new, nothing to undo)
    refused: tuple[tuple[int, str], ...] = ()  # (id, why)
    unknown: tuple[int, ...] = ()  # no such hit

    @property
    def ok(self) -> bool:
        """Everything asked was done or already so."""
        return not self.refused and not self.unknown


def move(store: Store, ids: Sequence[int], target: str, now: datetime) -> Outcome:
    """Move the hits `ids` to `target` where allowed, in one transaction, each change kept with its time."""
    p = plan(ids, target, store.states_of(ids))
    moved = store.set_state(p.change, target, allowed_from=ALLOWED_FROM[target], now=now)
    # a hit whose state changed between the plan and the write (another command) is left as it is
    raced = [(i, "its state changed meanwhile; look again") for i in p.change if i not in set(moved)]
    if moved:
        _learn(store, now)
    return Outcome(tuple((i, target) for i in moved), p.already, (*p.refused, *raced), p.unknown)


def pick(store: Store, ids: Sequence[int], now: datetime) -> Outcome:
    """Pick hits for relay (new, skipped or noise-marked ones)."""
    return move(store, ids, "picked", now)


def skip(store: Store, ids: Sequence[int], now: datetime, *, noise: bool = False) -> Outcome:
    """Skip hits: relevant but not to be relayed; with `noise`, not relevant (a negative label)."""
    return move(store, ids, "noise" if noise else "skipped", now)


def done(store: Store, ids: Sequence[int], now: datetime) -> Outcome:
    """Mark hits as relayed (posted), once picked or exported."""
    return move(store, ids, "relayed", now)


def undo(store: Store, ids: Sequence[int], now: datetime) -> Outcome:
    """Take each hit back one step (see `step_back`); the undone move stays in the history, marked."""
    p = plan_undo(ids, store.undo_states_of(ids))
    moved = store.step_back(p.change, now=now)
    raced = [(i, "its state changed meanwhile; look again") for i, _, _ in p.change if i not in moved]
    if moved:
        _learn(store, now)
    return Outcome(tuple((i, moved[i]) for i, _, _ in p.change if i in moved), p.nothing, tuple(raced), p.unknown)


def mark_exported(store: Store, ids: Sequence[int], now: datetime, *, again: bool = False) -> list[int]:
    """Mark picked hits as exported, once the relay file that holds them is written (`again`: also
    the ones already exported, whose time is renewed). The ids marked."""
    allowed_from = [*ALLOWED_FROM["exported"], *(["exported"] if again else [])]
    return store.set_state(ids, "exported", allowed_from=allowed_from, now=now)


def _learn(store: Store, now: datetime) -> None:
    """The labels changed: the learned part of the score learns again, now (labels.py)."""
    from watcher import labels

    labels.refresh(store, now)
