"""On-call: who holds each team's pager at a moment, by escalation level, overrides included.

A shift covers [start, end). At a moment, for each (team, level): an override shift that covers
it wins over the regular shift (the latest-starting override if several overlap); otherwise the
latest-starting regular shift covering it. `until` is the next handoff: the end of the
winning shift, or the start of an override that interrupts a regular shift, whichever is first.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Shift:
    """One on-call shift as stored."""

    schedule: str
    team: str | None
    person: str
    level: int
    start: datetime
    end: datetime
    is_override: bool = False


@dataclass(frozen=True, slots=True)
class OnCall:
    """Who is on call for a team at a level, since when, until the next handoff."""

    team: str | None
    level: int
    person: str
    schedule: str
    shift_start: datetime
    shift_end: datetime
    until: datetime
    is_override: bool
    replaces: str | None  # the regular person an override stands in for


def on_call_at(shifts: Iterable[Shift], *, at: datetime) -> list[OnCall]:
    """Everyone on call at `at`, by team then level."""
    groups: dict[tuple[str, int], list[Shift]] = defaultdict(list)
    for shift in shifts:
        groups[(shift.team or "", shift.level)].append(shift)
    found = []
    for (_team, _level), group in sorted(groups.items()):
        covering = [s for s in group if s.start <= at < s.end]
        overrides = sorted((s for s in covering if s.is_override), key=_order)
        regulars = sorted((s for s in covering if not s.is_override), key=_order)
        if not overrides and not regulars:
            continue
        winner = overrides[-1] if overrides else regulars[-1]
        until = winner.end
        if not winner.is_override:
            upcoming = [s.start for s in group if s.is_override and at < s.start < until]
            until = min([until, *upcoming])
        found.append(
            OnCall(
                team=winner.team,
                level=winner.level,
                person=winner.person,
                schedule=winner.schedule,
                shift_start=winner.start,
                shift_end=winner.end,
                until=until,
                is_override=winner.is_override,
                replaces=regulars[-1].person if winner.is_override and regulars else None,
            )
        )
    return found


def _order(shift: Shift) -> tuple[datetime, str]:
    return shift.start, shift.person
