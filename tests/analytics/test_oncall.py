"""On-call across a handoff and an override."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cto_assistant.analytics.oncall import Shift, on_call_at

MONDAY = datetime(2026, 3, 16, 9, tzinfo=UTC)
SHIFTS = [
    Shift("P1", "PLAT", "ann@acme", 1, MONDAY - timedelta(days=7), MONDAY),
    Shift("P1", "PLAT", "bob@acme", 1, MONDAY, MONDAY + timedelta(days=7)),
    Shift("P2", "PLAT", "cid@acme", 2, MONDAY - timedelta(days=7), MONDAY + timedelta(days=7)),
    Shift(
        "P1",
        "PLAT",
        "dee@acme",
        1,
        MONDAY + timedelta(days=2),
        MONDAY + timedelta(days=3),
        is_override=True,
    ),
    Shift("Q1", "PAY", "eve@acme", 1, MONDAY - timedelta(days=7), MONDAY + timedelta(days=7)),
]


def who(at: datetime, team: str = "PLAT", level: int = 1) -> tuple[str, bool, datetime]:
    (entry,) = [e for e in on_call_at(SHIFTS, at=at) if e.team == team and e.level == level]
    return entry.person, entry.is_override, entry.until


def test_handoff_is_half_open() -> None:
    assert who(MONDAY - timedelta(seconds=1))[0] == "ann@acme"
    assert who(MONDAY)[0] == "bob@acme"


def test_an_override_wins_for_its_window_only() -> None:
    assert who(MONDAY + timedelta(days=2) - timedelta(minutes=1)) == (
        "bob@acme",
        False,
        MONDAY + timedelta(days=2),  # until the override interrupts
    )
    person, override, until = who(MONDAY + timedelta(days=2, hours=5))
    assert (person, override, until) == ("dee@acme", True, MONDAY + timedelta(days=3))
    entry = next(
        e
        for e in on_call_at(SHIFTS, at=MONDAY + timedelta(days=2, hours=5))
        if e.level == 1 and e.team == "PLAT"
    )
    assert entry.replaces == "bob@acme"
    assert who(MONDAY + timedelta(days=3))[0] == "bob@acme"


def test_levels_and_teams_are_listed_in_order() -> None:
    entries = on_call_at(SHIFTS, at=MONDAY + timedelta(hours=1))
    assert [(e.team, e.level, e.person) for e in entries] == [
        ("PAY", 1, "eve@acme"),
        ("PLAT", 1, "bob@acme"),
        ("PLAT", 2, "cid@acme"),
    ]


def test_nobody_outside_every_shift() -> None:
    assert on_call_at(SHIFTS, at=MONDAY + timedelta(days=30)) == []
