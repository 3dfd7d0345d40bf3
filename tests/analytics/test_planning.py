"""Sprints, epics and ticket flow: membership from the changelog, forecasts, time in status."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest

from cto_assistant.analytics.planning import (
    SprintIn,
    TicketIn,
    TransitionIn,
    epic_report,
    forecast_completion,
    member_at,
    monte_carlo_weeks,
    sprint_ids,
    sprint_report,
    status_category,
    ticket_lifecycle,
    weekly_throughput,
)

START = datetime(2026, 2, 16, 9, tzinfo=UTC)  # a Monday
END = START + timedelta(days=14)
NOW = START + timedelta(days=7)
D = timedelta(days=1)
SPRINT = SprintIn(id="57", name="PAY Sprint 57", state="active", start_at=START, end_at=END)


def ticket(
    key: str,
    points: float | None,
    *,
    done_at: datetime | None = None,
    status: str | None = None,
    sprints: tuple[str, ...] = ("57",),
    created: datetime = START - 5 * D,
    labels: tuple[str, ...] = (),
    epic: str | None = None,
) -> TicketIn:
    return TicketIn(
        key=key,
        status=status or ("Done" if done_at else "In Progress"),
        status_category="done" if done_at else "indeterminate",
        points=points,
        sprints=sprints,
        created_at=created,
        resolved_at=done_at,
        labels=labels,
        epic=epic,
    )


def move(
    key: str, old: str | None, new: str | None, at: datetime, field: str = "Sprint"
) -> TransitionIn:
    return TransitionIn(ticket=key, field=field, from_value=old, to_value=new, at=at)


@pytest.mark.parametrize(
    ("value", "ids"), [(None, set()), ("", set()), ("12", {"12"}), ("12, 13", {"12", "13"})]
)
def test_sprint_ids(value, ids) -> None:  # type: ignore[no-untyped-def]
    assert sprint_ids(value) == ids


def test_membership_follows_the_changelog() -> None:
    t = ticket("A", 3, sprints=("56", "57"))
    changes = [move("A", "56", "56, 57", START - timedelta(hours=1))]
    assert not member_at(t, "57", changes, START - 2 * timedelta(hours=1))
    assert member_at(t, "57", changes, START)
    assert member_at(t, "56", [], START)  # no history: in its sprints since it was created
    late = ticket("B", 2, created=START + D)
    assert not member_at(late, "57", [], START)
    assert member_at(late, "57", [], NOW)


def sprint_case() -> tuple[list[TicketIn], list[TransitionIn]]:
    tickets = [
        ticket("A", 5, done_at=START + 2 * D),  # committed, done
        ticket("B", 3),  # committed, in progress
        ticket("C", 2, sprints=()),  # committed, then removed
        ticket("D", 8, created=START - 20 * D),  # added on day 3
        ticket("E", 1, done_at=START + 5 * D, created=START + D),  # created in the sprint, done
        ticket("F", 3, status="Blocked", labels=("blocked",)),  # committed, blocked
        ticket("G", 2, sprints=("56", "57")),  # carried over from 56
    ]
    changes = [
        move("A", None, "57", START - D),
        move("B", None, "57", START - D),
        move("C", None, "57", START - D),
        move("C", "57", None, START + 4 * D),
        move("D", None, "57", START + 3 * D),
        move("F", None, "57", START - D),
        move("G", "56", "56, 57", START - timedelta(hours=1)),
        move("B", "To Do", "In Progress", START + 6 * D, field="status"),
        move("F", "To Do", "Blocked", START + 6 * D, field="status"),
    ]
    return tickets, changes


def test_sprint_report_hand_computed() -> None:
    tickets, changes = sprint_case()
    r = sprint_report(sprint=SPRINT, tickets=tickets, transitions=changes, now=NOW)
    # committed at start: A5 B3 C2 F3 G2 = 15 points, 5 items
    assert (r.committed_points, r.committed_items) == (15, 5)
    # now: A B D E F G = 5+3+8+1+3+2 = 22; done A + E = 6
    assert r.scope_points == 22 and r.completed_points == 6 and r.completed_items == 2
    assert r.remaining_points == 16
    assert r.added_points == 9 and sorted(x.key for x in r.added) == ["D", "E"]
    assert r.removed_points == 2 and [x.key for x in r.removed] == ["C"]
    assert [x.key for x in r.carry_over] == ["G"]
    risk = {x.key: x.why for x in r.at_risk}
    assert "blocked" in risk["F"]
    assert risk["G"].startswith("no progress for 7 days")  # untouched since the start
    assert "carried over" in risk["G"]
    assert "B" not in risk  # moved yesterday
    assert r.days_elapsed == 7 and r.days_total == 14
    # burndown: one point per day from the start; day 0 starts at the commitment
    assert r.burndown[0].ideal_remaining == 15
    assert r.burndown[-1].remaining_points == 16
    assert r.on_track is False  # 27% done at 50% of the time


def test_future_and_empty_sprint() -> None:
    r = sprint_report(sprint=SPRINT, tickets=[], transitions=[], now=NOW)
    assert r.scope_points == 0 and r.completion_ratio is None and r.on_track is None


def test_weekly_throughput_buckets_oldest_first() -> None:
    done = [
        NOW - timedelta(days=1),
        NOW - timedelta(days=8),
        NOW - timedelta(days=9),
        NOW - timedelta(days=30),
    ]
    assert weekly_throughput(done, now=NOW, weeks=3) == [0, 2, 1]


def test_monte_carlo_is_exact_with_constant_throughput() -> None:
    weeks = monte_carlo_weeks(
        remaining=5, weekly=[2, 2], share=1.0, rng=random.Random(1), simulations=50
    )
    assert set(weeks) == {3}


def test_monte_carlo_is_reproducible_for_a_seed() -> None:
    args = {"remaining": 9, "weekly": [3, 0, 5, 2], "share": 0.4, "simulations": 300}
    assert monte_carlo_weeks(rng=random.Random(7), **args) == monte_carlo_weeks(
        rng=random.Random(7), **args
    )  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("due", "verdict"),
    [(date(2026, 3, 13), "on_track"), (date(2026, 3, 8), "late"), (None, "on_track")],
)
def test_forecast_verdict_against_due_date(due, verdict) -> None:  # type: ignore[no-untyped-def]
    # the team finished 2 items every week for 4 weeks, all on this epic: 4 left → 2 weeks
    done = [NOW - timedelta(days=7 * w + 1, hours=h) for w in range(4) for h in (1, 2)]
    f = forecast_completion(
        remaining=4,
        team_done_times=done,
        epic_done_times=done,
        now=NOW,
        due_date=due,
        rng=random.Random(3),
        history_weeks=4,
        simulations=100,
    )
    assert (f.p50_weeks, f.p85_weeks) == (2, 2)
    assert f.p50_date == date(2026, 3, 9)
    assert f.verdict == verdict
    assert f.epic_share == 1.0


def test_forecast_without_recent_progress_says_so() -> None:
    f = forecast_completion(
        remaining=3,
        team_done_times=[NOW - D],
        epic_done_times=[],
        now=NOW,
        due_date=None,
        rng=random.Random(1),
    )
    assert f.verdict == "no_forecast" and f.p50_date is None


def test_epic_report_progress_and_risks() -> None:
    tickets = [
        ticket("E1", 5, done_at=NOW - 20 * D, epic="X"),
        ticket("E2", 3, epic="X"),
        ticket("E3", None, epic="X"),
        ticket("E4", 2, done_at=NOW - 30 * D, epic="X"),
    ]
    team_done = [NOW - 20 * D, NOW - 30 * D, NOW - 2 * D, NOW - 3 * D]
    r = epic_report(
        key="PAY-1",
        name="X",
        team="PAY",
        due_date=date(2026, 2, 20),
        created_at=NOW - 60 * D,
        tickets=tickets,
        team_done_times=team_done,
        now=NOW,
        rng=random.Random(1),
    )
    assert r.done_points == 7 and r.total_points == 10 and r.progress == 0.7
    assert r.remaining_items == 2 and r.unestimated_items == 1
    assert "nothing finished in the last 2 weeks" in r.risks
    assert any("past its due date" in risk for risk in r.risks)
    assert r.burnup[-1].done_points == 7


@pytest.mark.parametrize(
    ("status", "category"),
    [
        ("Done", "done"),
        ("Closed", "done"),
        ("To Do", "new"),
        ("Backlog", "new"),
        ("In Review", "indeterminate"),
        (None, "new"),
    ],
)
def test_status_category_guess(status, category) -> None:  # type: ignore[no-untyped-def]
    assert status_category(status) == category


def test_lifecycle_time_in_status_throughput_and_ageing() -> None:
    created = NOW - 10 * D
    done = TicketIn(
        key="A", status="Done", status_category="done", created_at=created, resolved_at=NOW - 2 * D
    )
    wip = TicketIn(
        key="B", status="In Progress", status_category="indeterminate", created_at=created
    )
    moves = [
        move("A", "To Do", "In Progress", created + D, field="status"),
        move("A", "In Progress", "In Review", created + 4 * D, field="status"),
        move("A", "In Review", "Done", NOW - 2 * D, field="status"),
        move("B", "To Do", "In Progress", created + 2 * D, field="status"),
    ]
    r = ticket_lifecycle(
        tickets=[done, wip], transitions=moves, window_start=NOW - 14 * D, window_end=NOW
    )
    spent = {s.status: s.median_seconds for s in r.time_in_status}
    assert spent == {"To Do": 1 * 86400, "In Progress": 3 * 86400, "In Review": 4 * 86400}
    assert r.completed == 1 and r.throughput_per_week == 0.5
    assert r.cycle_time.median == 7 * 86400 and r.lead_time.median == 8 * 86400
    assert r.wip == 1 and r.wip_by_status == {"In Progress": 1}
    assert r.ageing_wip[0].key == "B"
    assert r.ageing_over_p85 == 1  # 8 days in progress > 7-day cycle time
