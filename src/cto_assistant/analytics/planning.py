"""Sprints, epics and ticket flow: progress, scope change, risks, forecasts and lifecycle.

- Sprint membership over time comes from the Jira changelog's `Sprint` field (comma-separated
  sprint ids before and after each change); a ticket without such history is taken to have been
  in its sprints since it was created. Committed = in the sprint at its start; added/removed =
  joined/left after the start.
- Epic forecast: Monte Carlo over the team's recent weekly throughput (done tickets per week),
  thinned by the share of that throughput the epic received in the same weeks; the caller passes
  the seeded `random.Random`, so a forecast is reproducible.
- Ticket lifecycle: time in each status from status transitions, throughput per week, work in
  progress now and its age.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from cto_assistant.analytics.dora import DurationStats, duration_stats, percentile

DRILL_CAP = 50
Verdict = Literal["done", "on_track", "at_risk", "late", "no_forecast"]
DONE_WORDS = ("done", "closed", "resolved", "released", "complete")
NEW_WORDS = ("to do", "todo", "backlog", "open", "new", "selected for development")


# ----------------------------------------------------------------------------------- inputs


@dataclass(frozen=True, slots=True)
class TicketIn:
    """A ticket, as the planning analytics need it."""

    key: str
    status: str | None
    status_category: str | None
    points: float | None = None
    sprints: tuple[str, ...] = ()
    epic: str | None = None
    created_at: datetime | None = None
    resolved_at: datetime | None = None
    summary: str | None = None
    assignee: str | None = None
    type: str | None = None
    labels: tuple[str, ...] = ()

    @property
    def done(self) -> bool:
        """Whether the ticket is in a done status."""
        return self.status_category == "done"


@dataclass(frozen=True, slots=True)
class TransitionIn:
    """One changelog entry (`field` is "status" or "Sprint")."""

    ticket: str
    field: str
    from_value: str | None
    to_value: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class SprintIn:
    """A sprint."""

    id: str
    name: str
    state: str
    start_at: datetime | None
    end_at: datetime | None
    team: str | None = None


# ---------------------------------------------------------------------------------- outputs


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class TicketRef(_Model):
    """A ticket in a drill-down list, with why it is there."""

    key: str
    summary: str | None = None
    status: str | None = None
    points: float | None = None
    assignee: str | None = None
    at: datetime | None = None
    why: str = ""


class SeriesPoint(_Model):
    """One day of a burndown / burnup."""

    day: date
    remaining_points: float
    ideal_remaining: float
    scope_points: float
    completed_points: float


class SprintReport(_Model):
    """Active sprint progress: commitment, completion, scope change and risks."""

    sprint: str
    name: str
    team: str | None
    state: str
    start_at: datetime | None
    end_at: datetime | None
    days_elapsed: float
    days_total: float
    committed_points: float
    committed_items: int
    scope_points: float
    completed_points: float
    completed_items: int
    remaining_points: float
    completion_ratio: float | None = Field(description="Completed over current scope points.")
    added_points: float
    removed_points: float
    added: list[TicketRef]
    removed: list[TicketRef]
    at_risk: list[TicketRef]
    at_risk_total: int
    carry_over: list[TicketRef]
    burndown: list[SeriesPoint]
    stale_days: int
    on_track: bool | None
    why: str


class Forecast(_Model):
    """A Monte Carlo completion forecast."""

    remaining_items: int
    simulations: int
    history_weeks: int
    weekly_throughput: list[int]
    epic_share: float
    p50_weeks: int | None
    p85_weeks: int | None
    p50_date: date | None
    p85_date: date | None
    due_date: date | None
    verdict: Verdict
    why: str


class WeekPoint(_Model):
    """One week of an epic's burnup."""

    week: date
    scope_points: float
    done_points: float


class EpicReport(_Model):
    """An epic's progress, remaining work, burnup and completion forecast."""

    key: str
    name: str
    team: str | None
    due_date: date | None
    total_items: int
    done_items: int
    total_points: float
    done_points: float
    unestimated_items: int
    progress: float = Field(description="Done share by points (by items when none estimated).")
    remaining_points: float
    remaining_items: int
    forecast: Forecast
    burnup: list[WeekPoint]
    risks: list[str]
    open_items: list[TicketRef]


class StatusTime(_Model):
    """Time tickets spent in one status."""

    status: str
    category: str
    tickets: int
    median_seconds: float | None
    p85_seconds: float | None
    total_seconds: float


class LifecycleReport(_Model):
    """Ticket flow over a window: time in status, throughput, WIP and ageing WIP."""

    window_start: datetime
    window_end: datetime
    completed: int
    throughput_per_week: float
    weekly_throughput: list[tuple[date, int]]
    time_in_status: list[StatusTime]
    cycle_time: DurationStats
    lead_time: DurationStats
    wip: int
    wip_by_status: dict[str, int]
    ageing_wip: list[TicketRef]
    ageing_over_p85: int
    why: str


# --------------------------------------------------------------------------------- helpers


def status_category(status: str | None, known: dict[str, str] | None = None) -> str:
    """The category (new, indeterminate, done) of a status name."""
    if status is None:
        return "new"
    if known and status in known:
        return known[status]
    lowered = status.strip().lower()
    if any(word == lowered or lowered.startswith(word) for word in DONE_WORDS):
        return "done"
    if any(word == lowered for word in NEW_WORDS):
        return "new"
    return "indeterminate"


def sprint_ids(value: str | None) -> set[str]:
    """The sprint ids in a changelog value ("12, 13" → {"12", "13"})."""
    if not value:
        return set()
    return {part.strip() for part in value.split(",") if part.strip()}


def member_at(
    ticket: TicketIn, sprint: str, changes: Sequence[TransitionIn], moment: datetime
) -> bool:
    """Whether `ticket` was in `sprint` at `moment` (changes: its Sprint changes, oldest first)."""
    last: TransitionIn | None = None
    for change in changes:
        if change.at <= moment:
            last = change
        else:
            break
    if last is not None:
        return sprint in sprint_ids(last.to_value)
    if changes:
        return sprint in sprint_ids(changes[0].from_value)
    if ticket.created_at is not None and ticket.created_at > moment:
        return False
    return sprint in ticket.sprints


def _points(tickets: Iterable[TicketIn]) -> float:
    return float(sum(t.points or 0.0 for t in tickets))


def _ref(ticket: TicketIn, why: str = "", at: datetime | None = None) -> TicketRef:
    return TicketRef(
        key=ticket.key,
        summary=ticket.summary,
        status=ticket.status,
        points=ticket.points,
        assignee=ticket.assignee,
        at=at,
        why=why,
    )


def _by_ticket(
    transitions: Iterable[TransitionIn], fieldname: str
) -> dict[str, list[TransitionIn]]:
    grouped: dict[str, list[TransitionIn]] = defaultdict(list)
    for change in transitions:
        if change.field.lower() == fieldname.lower():
            grouped[change.ticket].append(change)
    for rows in grouped.values():
        rows.sort(key=lambda c: c.at)
    return grouped


# ---------------------------------------------------------------------------------- sprints


def sprint_report(
    *,
    sprint: SprintIn,
    tickets: Sequence[TicketIn],
    transitions: Sequence[TransitionIn],
    now: datetime,
    stale_days: int = 3,
) -> SprintReport:
    """Progress of one sprint as of `now` (or its end, when it is over)."""
    start = sprint.start_at or now
    end = sprint.end_at or now
    as_of = min(now, end)
    moves = _by_ticket(transitions, "Sprint")
    status_moves = _by_ticket(transitions, "status")

    def member(ticket: TicketIn, moment: datetime) -> bool:
        return member_at(ticket, sprint.id, moves.get(ticket.key, []), moment)

    def done_by(ticket: TicketIn, moment: datetime) -> bool:
        return ticket.done and ticket.resolved_at is not None and ticket.resolved_at <= moment

    committed = [t for t in tickets if member(t, start)]
    current = [t for t in tickets if member(t, as_of)]
    added: list[TicketRef] = []
    removed: list[TicketRef] = []
    for ticket in tickets:
        at_start = member(ticket, start)
        changes = [c for c in moves.get(ticket.key, []) if start < c.at <= as_of]
        was_in = at_start
        for change in changes:
            now_in = sprint.id in sprint_ids(change.to_value)
            if now_in and not was_in:
                added.append(_ref(ticket, "joined after the sprint started", change.at))
            elif was_in and not now_in:
                removed.append(_ref(ticket, "left the sprint after it started", change.at))
            was_in = now_in
        if not moves.get(ticket.key) and not at_start and member(ticket, as_of):
            added.append(_ref(ticket, "created after the sprint started", ticket.created_at))
    completed = [t for t in current if done_by(t, as_of)]
    open_items = [t for t in current if not done_by(t, as_of)]

    carry: list[TicketRef] = []
    for ticket in current:
        earlier = set(ticket.sprints) - {sprint.id}
        for change in moves.get(ticket.key, []):
            earlier |= sprint_ids(change.from_value) - {sprint.id}
        if earlier:
            carry.append(_ref(ticket, f"carried over from {len(earlier)} earlier sprint(s)"))
    carried_keys = {ref.key for ref in carry}

    risks: list[TicketRef] = []
    stale_cutoff = as_of - timedelta(days=stale_days)
    for ticket in open_items:
        reasons = []
        labels = {label.lower() for label in ticket.labels}
        if "block" in (ticket.status or "").lower() or "blocked" in labels or "flagged" in labels:
            reasons.append("blocked")
        activity = [c.at for c in status_moves.get(ticket.key, []) if c.at <= as_of]
        last = max([*activity, start, *(c.at for c in moves.get(ticket.key, []) if c.at <= as_of)])
        if last < stale_cutoff:
            reasons.append(f"no progress for {(as_of - last).days} days")
        if ticket.key in carried_keys:
            reasons.append("carried over")
        if reasons:
            risks.append(_ref(ticket, ", ".join(reasons), last))
    risks.sort(key=lambda r: (-len(r.why.split(",")), r.at or start))

    burndown = _burndown(tickets, member, done_by, start, end, as_of, _points(committed))
    days_total = max((end - start).total_seconds() / 86400, 0.0)
    days_elapsed = min(max((as_of - start).total_seconds() / 86400, 0.0), days_total)
    scope = _points(current)
    done_points = _points(completed)
    ratio = done_points / scope if scope else None
    expected = days_elapsed / days_total if days_total else None
    on_track = None if ratio is None or expected is None else ratio + 0.15 >= expected
    return SprintReport(
        sprint=sprint.id,
        name=sprint.name,
        team=sprint.team,
        state=sprint.state,
        start_at=sprint.start_at,
        end_at=sprint.end_at,
        days_elapsed=round(days_elapsed, 2),
        days_total=round(days_total, 2),
        committed_points=_points(committed),
        committed_items=len(committed),
        scope_points=scope,
        completed_points=done_points,
        completed_items=len(completed),
        remaining_points=scope - done_points,
        completion_ratio=ratio,
        added_points=float(sum(r.points or 0 for r in added)),
        removed_points=float(sum(r.points or 0 for r in removed)),
        added=added[:DRILL_CAP],
        removed=removed[:DRILL_CAP],
        at_risk=risks[:DRILL_CAP],
        at_risk_total=len(risks),
        carry_over=carry[:DRILL_CAP],
        burndown=burndown,
        stale_days=stale_days,
        on_track=on_track,
        why=(
            f"{done_points:g} of {scope:g} points done ({len(completed)} of {len(current)} items) "
            f"after {days_elapsed:.1f} of {days_total:.1f} days; committed {_points(committed):g} "
            f"at the start, +{sum(r.points or 0 for r in added):g} added, "
            f"-{sum(r.points or 0 for r in removed):g} removed"
        ),
    )


def _burndown(
    tickets: Sequence[TicketIn],
    member: Callable[[TicketIn, datetime], bool],
    done_by: Callable[[TicketIn, datetime], bool],
    start: datetime,
    end: datetime,
    as_of: datetime,
    committed: float,
) -> list[SeriesPoint]:
    points: list[SeriesPoint] = []
    total_days = max((end.date() - start.date()).days, 1)
    day = start.date()
    index = 0
    while day <= as_of.date() and day <= end.date():
        moment = (
            min(
                datetime.combine(day + timedelta(days=1), start.timetz())
                - timedelta(microseconds=1),
                as_of,
            )
            if day < as_of.date()
            else as_of
        )
        moment = max(moment, start)
        inside = [t for t in tickets if member(t, moment)]
        scope = _points(inside)
        completed = _points(t for t in inside if done_by(t, moment))
        points.append(
            SeriesPoint(
                day=day,
                remaining_points=scope - completed,
                ideal_remaining=round(committed * max(0.0, 1 - index / total_days), 2),
                scope_points=scope,
                completed_points=completed,
            )
        )
        day += timedelta(days=1)
        index += 1
    return points


# ------------------------------------------------------------------------------------ epics


def weekly_throughput(done_times: Iterable[datetime], *, now: datetime, weeks: int) -> list[int]:
    """Done items in each of the last `weeks` 7-day periods before `now`, oldest first."""
    counts = [0] * weeks
    for moment in done_times:
        age = (now - moment).total_seconds() / (7 * 86400)
        if 0 <= age < weeks:
            counts[weeks - 1 - int(age)] += 1
    return counts


def monte_carlo_weeks(
    *,
    remaining: int,
    weekly: Sequence[int],
    share: float,
    rng: random.Random,
    simulations: int = 2000,
    cap_weeks: int = 260,
) -> list[int]:
    """Weeks to finish `remaining` items per simulation (cap_weeks when it never finishes)."""
    results = []
    for _ in range(simulations):
        left = remaining
        weeks = 0
        while left > 0 and weeks < cap_weeks:
            team = weekly[rng.randrange(len(weekly))]
            left -= sum(1 for _ in range(team) if rng.random() < share)
            weeks += 1
        results.append(weeks)
    return results


def forecast_completion(
    *,
    remaining: int,
    team_done_times: Sequence[datetime],
    epic_done_times: Sequence[datetime],
    now: datetime,
    due_date: date | None,
    rng: random.Random,
    history_weeks: int = 8,
    simulations: int = 2000,
) -> Forecast:
    """Monte Carlo P50/P85 completion dates over the team's recent weekly throughput."""
    weekly = weekly_throughput(team_done_times, now=now, weeks=history_weeks)
    team_total = sum(weekly)
    epic_total = sum(weekly_throughput(epic_done_times, now=now, weeks=history_weeks))
    share = min(1.0, epic_total / team_total) if team_total else 0.0

    def base(verdict: Verdict, why: str, **kw: Any) -> Forecast:
        return Forecast(
            remaining_items=remaining,
            simulations=kw.get("simulations", 0),
            history_weeks=history_weeks,
            weekly_throughput=weekly,
            epic_share=round(share, 3),
            p50_weeks=kw.get("p50"),
            p85_weeks=kw.get("p85"),
            p50_date=kw.get("p50_date"),
            p85_date=kw.get("p85_date"),
            due_date=due_date,
            verdict=verdict,
            why=why,
        )

    if remaining <= 0:
        return base(
            "done", "nothing left to do", p50=0, p85=0, p50_date=now.date(), p85_date=now.date()
        )
    if team_total == 0 or share == 0:
        return base(
            "no_forecast",
            f"no items of this epic finished in the last {history_weeks} weeks "
            f"(team: {team_total}); cannot forecast from throughput",
        )
    runs = monte_carlo_weeks(
        remaining=remaining, weekly=weekly, share=share, rng=rng, simulations=simulations
    )
    ordered = sorted(runs)
    p50 = ordered[max(0, math.ceil(0.50 * len(ordered)) - 1)]
    p85 = ordered[max(0, math.ceil(0.85 * len(ordered)) - 1)]
    p50_date = (now + timedelta(weeks=p50)).date()
    p85_date = (now + timedelta(weeks=p85)).date()
    if due_date is None:
        verdict: Verdict = "on_track"
    elif p85_date <= due_date:
        verdict = "on_track"
    elif p50_date <= due_date:
        verdict = "at_risk"
    else:
        verdict = "late"
    rate = team_total / history_weeks
    return base(
        verdict,
        f"{remaining} items left; the team finished {rate:.1f} items/week over the last "
        f"{history_weeks} weeks, {share:.0%} of them on this epic; {simulations} simulations: "
        f"50% done by {p50_date}, 85% by {p85_date}" + (f" (due {due_date})" if due_date else ""),
        simulations=simulations,
        p50=p50,
        p85=p85,
        p50_date=p50_date,
        p85_date=p85_date,
    )


def epic_report(
    *,
    key: str,
    name: str,
    team: str | None,
    due_date: date | None,
    created_at: datetime | None,
    tickets: Sequence[TicketIn],
    team_done_times: Sequence[datetime],
    now: datetime,
    rng: random.Random,
    history_weeks: int = 8,
    simulations: int = 2000,
) -> EpicReport:
    """An epic's progress and its forecast against the due date."""
    done = [t for t in tickets if t.done]
    open_items = [t for t in tickets if not t.done]
    total_points = _points(tickets)
    done_points = _points(done)
    unestimated = sum(1 for t in tickets if t.points is None)
    if total_points:
        progress = done_points / total_points
    else:
        progress = len(done) / len(tickets) if tickets else 0.0
    forecast = forecast_completion(
        remaining=len(open_items),
        team_done_times=team_done_times,
        epic_done_times=[t.resolved_at for t in done if t.resolved_at is not None],
        now=now,
        due_date=due_date,
        rng=rng,
        history_weeks=history_weeks,
        simulations=simulations,
    )
    risks = []
    if forecast.verdict == "late":
        risks.append(f"forecast P50 {forecast.p50_date} is after the due date {due_date}")
    elif forecast.verdict == "at_risk":
        risks.append(f"forecast P85 {forecast.p85_date} is after the due date {due_date}")
    elif forecast.verdict == "no_forecast" and open_items:
        risks.append("no recent progress on this epic")
    recent = [t for t in done if t.resolved_at and t.resolved_at >= now - timedelta(days=14)]
    if open_items and not recent:
        risks.append("nothing finished in the last 2 weeks")
    if unestimated:
        risks.append(f"{unestimated} item(s) without an estimate")
    if due_date is not None and due_date < now.date() and open_items:
        risks.append(f"past its due date {due_date}")
    return EpicReport(
        key=key,
        name=name,
        team=team,
        due_date=due_date,
        total_items=len(tickets),
        done_items=len(done),
        total_points=total_points,
        done_points=done_points,
        unestimated_items=unestimated,
        progress=round(progress, 4),
        remaining_points=total_points - done_points,
        remaining_items=len(open_items),
        forecast=forecast,
        burnup=_epic_burnup(tickets, created_at, now),
        risks=risks,
        open_items=[_ref(t) for t in sorted(open_items, key=lambda t: t.key)][:DRILL_CAP],
    )


def _epic_burnup(
    tickets: Sequence[TicketIn], created_at: datetime | None, now: datetime
) -> list[WeekPoint]:
    starts = [t.created_at for t in tickets if t.created_at is not None]
    first = created_at or (min(starts) if starts else now)
    week = first.date() - timedelta(days=first.date().weekday())
    points: list[WeekPoint] = []
    while week <= now.date():
        edge = datetime.combine(week + timedelta(days=7), datetime.min.time(), tzinfo=now.tzinfo)
        edge = min(edge, now)
        scope = _points(t for t in tickets if t.created_at is None or t.created_at <= edge)
        finished = _points(t for t in tickets if t.done and t.resolved_at and t.resolved_at <= edge)
        points.append(WeekPoint(week=week, scope_points=scope, done_points=finished))
        week += timedelta(days=7)
    return points


# ---------------------------------------------------------------------------- lifecycle


def ticket_lifecycle(
    *,
    tickets: Sequence[TicketIn],
    transitions: Sequence[TransitionIn],
    window_start: datetime,
    window_end: datetime,
) -> LifecycleReport:
    """Time in each status for tickets finished in the window; throughput, WIP and its age."""
    known = {t.status: t.status_category for t in tickets if t.status and t.status_category}
    moves = _by_ticket(transitions, "status")
    finished = [
        t
        for t in tickets
        if t.done and t.resolved_at is not None and window_start <= t.resolved_at < window_end
    ]
    per_status: dict[str, list[float]] = defaultdict(list)
    cycle: list[float] = []
    lead: list[float] = []
    for ticket in finished:
        spans = _status_spans(ticket, moves.get(ticket.key, []), ticket.resolved_at)  # type: ignore[arg-type]
        totals: dict[str, float] = defaultdict(float)
        for status, seconds in spans:
            totals[status] += seconds
        for status, seconds in totals.items():
            if status_category(status, known) != "done":
                per_status[status].append(seconds)
        started = _first_started(ticket, moves.get(ticket.key, []), known)
        if started is not None and ticket.resolved_at is not None:
            cycle.append(max(0.0, (ticket.resolved_at - started).total_seconds()))
        if ticket.created_at is not None and ticket.resolved_at is not None:
            lead.append(max(0.0, (ticket.resolved_at - ticket.created_at).total_seconds()))
    statuses = [
        StatusTime(
            status=status,
            category=status_category(status, known),
            tickets=len(values),
            median_seconds=percentile(values, 50),
            p85_seconds=percentile(values, 85),
            total_seconds=sum(values),
        )
        for status, values in per_status.items()
    ]
    order = {"new": 0, "indeterminate": 1, "done": 2}
    statuses.sort(key=lambda s: (order.get(s.category, 1), -s.total_seconds))
    weeks = max((window_end - window_start).total_seconds() / (7 * 86400), 1e-9)
    weekly: list[tuple[date, int]] = []
    cursor = window_start
    while cursor < window_end:
        nxt = min(cursor + timedelta(days=7), window_end)
        weekly.append(
            (
                cursor.date(),
                sum(1 for t in finished if t.resolved_at and cursor <= t.resolved_at < nxt),
            )
        )
        cursor = nxt
    cycle_stats = duration_stats(cycle)
    wip = [t for t in tickets if status_category(t.status, known) == "indeterminate" and not t.done]
    by_status: dict[str, int] = defaultdict(int)
    ageing: list[TicketRef] = []
    p85 = percentile(cycle, 85)
    over = 0
    for ticket in wip:
        by_status[ticket.status or "?"] += 1
        started = _first_started(ticket, moves.get(ticket.key, []), known) or ticket.created_at
        age = (window_end - started).total_seconds() if started else None
        flag = p85 is not None and age is not None and age > p85
        over += int(flag)
        ageing.append(
            _ref(
                ticket,
                f"in progress for {age / 86400:.1f} days"
                + (" (older than 85% of finished work)" if flag else "")
                if age
                else "age unknown",
                started,
            )
        )
    ageing.sort(key=lambda r: r.at or window_end)
    return LifecycleReport(
        window_start=window_start,
        window_end=window_end,
        completed=len(finished),
        throughput_per_week=round(len(finished) / weeks, 2),
        weekly_throughput=weekly,
        time_in_status=statuses,
        cycle_time=cycle_stats,
        lead_time=duration_stats(lead),
        wip=len(wip),
        wip_by_status=dict(sorted(by_status.items())),
        ageing_wip=ageing[:DRILL_CAP],
        ageing_over_p85=over,
        why=(
            f"{len(finished)} tickets finished in the window; {len(wip)} in progress now, "
            f"{over} older than the 85th percentile cycle time"
        ),
    )


def _status_spans(
    ticket: TicketIn, moves: Sequence[TransitionIn], until: datetime
) -> list[tuple[str, float]]:
    """(status, seconds) spans from creation to `until`, following the status changes."""
    spans: list[tuple[str, float]] = []
    current = moves[0].from_value if moves else ticket.status
    since = ticket.created_at or (moves[0].at if moves else until)
    for move in moves:
        if move.at > until:
            break
        if current is not None:
            spans.append((current, max(0.0, (move.at - since).total_seconds())))
        current, since = move.to_value, move.at
    if current is not None and since < until:
        spans.append((current, (until - since).total_seconds()))
    return spans


def _first_started(
    ticket: TicketIn, moves: Sequence[TransitionIn], known: dict[str, str]
) -> datetime | None:
    for move in moves:
        if status_category(move.to_value, known) != "new":
            return move.at
    return None
