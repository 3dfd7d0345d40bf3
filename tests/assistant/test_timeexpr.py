"""Time expressions resolve against the pinned now (Thursday 2026-11-26 12:00 UTC)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from cto_assistant.assistant.timeexpr import find_time

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("spend last month", date(2026, 10, 1), date(2026, 10, 31)),
        ("this week", date(2026, 11, 23), date(2026, 11, 26)),
        ("since monday", date(2026, 11, 23), date(2026, 11, 26)),
        ("in q3", date(2026, 7, 1), date(2026, 9, 30)),
        ("yesterday", date(2026, 11, 25), date(2026, 11, 25)),
        ("over the last 90 days", date(2026, 8, 29), date(2026, 11, 26)),
        ("last week", date(2026, 11, 16), date(2026, 11, 22)),
        ("year to date", date(2026, 1, 1), date(2026, 11, 26)),
        ("in october", date(2026, 10, 1), date(2026, 10, 31)),
    ],
)
def test_periods_are_inclusive_and_end_by_today(text: str, start: date, end: date) -> None:
    span = find_time(text, NOW)
    assert span is not None and (span.start, span.end) == (start, end)


@pytest.mark.parametrize(
    ("text", "at"),
    [
        ("tomorrow at 9am", datetime(2026, 11, 27, 9, tzinfo=UTC)),
        ("at 3pm tomorrow", datetime(2026, 11, 27, 15, tzinfo=UTC)),
        ("tonight", datetime(2026, 11, 26, 22, tzinfo=UTC)),
    ],
)
def test_moments(text: str, at: datetime) -> None:
    span = find_time(text, NOW)
    assert span is not None and span.at == at


def test_may_as_a_verb_is_not_a_month() -> None:
    assert find_time("may i see the spend", NOW) is None
