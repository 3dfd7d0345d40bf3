"""Operations queries: cloud cost, budgets, SLOs, incidents, on-call, hosts and monitors.

Every function takes keyword-only arguments and returns plain values or the frozen record
types analytics consume. Cost queries aggregate in SQL (GROUP BY, one scan for both periods
of a comparison), so millions of `cost_daily` rows never reach Python. Periods are inclusive
dates here too; they become `day >= start AND day <= end`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from cto_assistant.analytics.incidents import FollowUp, IncidentRecord, TimelineEntry
from cto_assistant.analytics.infra import DeploymentRecord, HostRecord, MonitorRecord
from cto_assistant.analytics.oncall import Shift
from cto_assistant.analytics.slo import SliPoint
from cto_assistant.errors import StoreError
from cto_assistant.store.models import (
    Budget,
    CostAnomaly,
    CostDaily,
    CostForecast,
    CostRecommendation,
    CostRollup,
    Deployment,
    HostHealth,
    Incident,
    IncidentEvent,
    Monitor,
    OncallShift,
    Person,
    Service,
    Slo,
    Team,
    Ticket,
)
from cto_assistant.store.models import (
    SliPoint as SliPointRow,
)
from cto_assistant.store.rollup import PeriodPlan, cost_rollup_usable, plan_period

CostType = Literal["amortized", "unblended"]
COST_DIMENSIONS = ("service", "region", "account", "usage_type", "team", "project", "provider")
COMPUTE_SERVICES = (
    "Amazon Elastic Compute Cloud - Compute",
    "Compute Engine",
    "Virtual Machines",
)

# ---------------------------------------------------------------------------------- cost


@dataclass(frozen=True, slots=True)
class CostFilter:
    """Conditions on cost rows (None = any)."""

    provider: str | None = None
    team: str | None = None
    service: str | None = None
    region: str | None = None
    account: str | None = None

    def clauses(
        self, model: type[CostDaily] | type[CostRollup] = CostDaily
    ) -> list[sa.ColumnElement[bool]]:
        """SQL conditions for these filters (on cost_daily, or on the rollup)."""
        found: list[sa.ColumnElement[bool]] = []
        for name in ("provider", "team", "service", "region", "account"):
            value = getattr(self, name)
            if value is not None:
                found.append(sa.func.lower(getattr(model, name)) == value.lower())
        return found


def _cost(cost_type: CostType) -> sa.ColumnElement[float]:
    if cost_type == "unblended":
        return CostDaily.unblended_cost  # type: ignore[return-value]
    return CostDaily.amortized_cost  # type: ignore[return-value]


def group_expression(group_by: str) -> sa.ColumnElement[Any]:
    """The SQL expression a grouping name stands for (a column or `tag:KEY`)."""
    if group_by.startswith("tag:"):
        key = group_by.removeprefix("tag:")
        if not key:
            raise StoreError("group_by 'tag:' needs a tag key, e.g. tag:project")
        return CostDaily.tags[key].as_string()
    if group_by not in COST_DIMENSIONS:
        raise StoreError(
            f"cannot group cost by {group_by!r}: use one of {', '.join(COST_DIMENSIONS)} or tag:KEY"
        )
    return getattr(CostDaily, group_by)


def cost_date_range(
    session: Session, *, filters: CostFilter | None = None
) -> tuple[date, date] | None:
    """First and last day with cost rows (None when nothing is synced)."""
    clauses = filters.clauses() if filters else []
    if clauses and cost_rollup_usable(session):
        row = session.execute(
            sa.select(sa.func.min(CostRollup.first_day), sa.func.max(CostRollup.last_day)).where(
                CostRollup.grain == "month",
                *filters.clauses(CostRollup),  # type: ignore[union-attr]
            )
        ).one()
    else:
        # Two scalar subqueries: each MIN / MAX alone is one index probe on `day`.
        row = session.execute(
            sa.select(
                sa.select(sa.func.min(CostDaily.day)).where(*clauses).scalar_subquery(),
                sa.select(sa.func.max(CostDaily.day)).where(*clauses).scalar_subquery(),
            )
        ).one()
    if row[0] is None:
        return None
    return row[0], row[1]


GroupKey = tuple[Any, ...]
TAGS_JSON = "tags_json"  # pseudo-dimension: the whole tag set as JSON text


def _rollup_group(session: Session, name: str) -> sa.ColumnElement[Any]:
    """The rollup's expression for a grouping name (same values as `group_expression`)."""
    if name == TAGS_JSON:
        return CostRollup.tags  # type: ignore[return-value]
    if name.startswith("tag:"):
        group_expression(name)  # validates the key
        key = name.removeprefix("tag:")
        if session.get_bind().dialect.name == "sqlite":
            return sa.type_coerce(CostRollup.tags, sa.JSON)[key].as_string()
        return sa.cast(CostRollup.tags, sa.JSON)[key].as_string()
    group_expression(name)  # validates the name
    return getattr(CostRollup, name)


def _daily_group(name: str) -> sa.ColumnElement[Any]:
    if name == TAGS_JSON:
        return sa.cast(CostDaily.tags, sa.Text)
    return group_expression(name)


def period_sums(
    session: Session,
    *,
    groups: Sequence[str],
    periods: Sequence[tuple[date, date]],
    cost_type: CostType = "amortized",
    filters: CostFilter | None = None,
    services: Sequence[str] | None = None,
) -> list[dict[GroupKey, float]]:
    """Spend per group key for each inclusive period: whole months and weeks from the rollup,
    the remaining days from cost_daily (all of it from cost_daily when the rollup is stale)."""
    if cost_rollup_usable(session):
        plans = [plan_period(start, end) for start, end in periods]
    else:
        plans = [PeriodPlan(days=[(start, end)] if start <= end else []) for start, end in periods]
    totals: list[dict[GroupKey, float]] = [defaultdict(float) for _ in periods]
    rollup_parts = [_rollup_condition(plan) for plan in plans]
    if any(part is not None for part in rollup_parts):
        cost = CostRollup.unblended_cost if cost_type == "unblended" else CostRollup.amortized_cost
        keys = [_rollup_group(session, name).label(f"g{i}") for i, name in enumerate(groups)]
        clauses = filters.clauses(CostRollup) if filters else []
        if services is not None:
            clauses.append(CostRollup.service.in_(list(services)))
        _accumulate(session, totals, keys, rollup_parts, cost, clauses)
    day_parts = [
        sa.or_(*(sa.and_(CostDaily.day >= low, CostDaily.day <= high) for low, high in plan.days))
        if plan.days
        else None
        for plan in plans
    ]
    if any(part is not None for part in day_parts):
        keys = [_daily_group(name).label(f"g{i}") for i, name in enumerate(groups)]
        clauses = filters.clauses() if filters else []
        if services is not None:
            clauses.append(CostDaily.service.in_(list(services)))
        _accumulate(session, totals, keys, day_parts, _cost(cost_type), clauses)
    return [dict(found) for found in totals]


def _rollup_condition(plan: PeriodPlan) -> sa.ColumnElement[bool] | None:
    parts = []
    if plan.months:
        parts.append(sa.and_(CostRollup.grain == "month", CostRollup.period_start.in_(plan.months)))
    if plan.weeks:
        parts.append(sa.and_(CostRollup.grain == "week", CostRollup.period_start.in_(plan.weeks)))
    return sa.or_(*parts) if parts else None


def _accumulate(
    session: Session,
    totals: list[dict[GroupKey, float]],
    keys: list[sa.Label[Any]],
    parts: list[sa.ColumnElement[bool] | None],
    cost: Any,
    clauses: list[sa.ColumnElement[bool]],
) -> None:
    """Add SUM(cost) per key for each period's condition, in one scan of their union."""
    sums = [sa.func.sum(sa.case((part, cost), else_=0.0)) for part in parts if part is not None]
    where = sa.or_(*(part for part in parts if part is not None))
    statement = sa.select(*keys, *sums).where(where, *clauses)
    if keys:
        statement = statement.group_by(*keys)
    slots = [i for i, part in enumerate(parts) if part is not None]
    width = len(keys)
    for row in session.execute(statement):
        key = tuple(row[:width])
        for offset, index in enumerate(slots):
            amount = row[width + offset]
            if amount:
                totals[index][key] += float(amount)


def cost_by_group_two_periods(
    session: Session,
    *,
    start: date,
    end: date,
    previous_start: date,
    previous_end: date,
    group_by: str,
    cost_type: CostType = "amortized",
    filters: CostFilter | None = None,
) -> tuple[dict[str | None, float], dict[str | None, float]]:
    """(current, previous) spend per group for [start, end] and [previous_start, previous_end]."""
    group_expression(group_by)  # validates the grouping before any query
    current, previous = period_sums(
        session,
        groups=[group_by],
        periods=[(start, end), (previous_start, previous_end)],
        cost_type=cost_type,
        filters=filters,
    )
    return (
        {key[0]: amount for key, amount in current.items() if amount},
        {key[0]: amount for key, amount in previous.items() if amount},
    )


def daily_cost(
    session: Session,
    *,
    start: date,
    end: date,
    cost_type: CostType = "amortized",
    filters: CostFilter | None = None,
) -> list[tuple[date, float]]:
    """Total spend per day between `start` and `end`, oldest first."""
    statement = (
        sa.select(CostDaily.day, sa.func.sum(_cost(cost_type)))
        .where(
            CostDaily.day >= start, CostDaily.day <= end, *(filters.clauses() if filters else [])
        )
        .group_by(CostDaily.day)
        .order_by(CostDaily.day)
    )
    return [(day, float(amount or 0.0)) for day, amount in session.execute(statement)]


def daily_cost_by(
    session: Session,
    *,
    start: date,
    end: date,
    dimensions: Sequence[str],
    cost_type: CostType = "amortized",
    filters: CostFilter | None = None,
) -> dict[tuple[str | None, ...], dict[date, float]]:
    """Daily spend series per combination of `dimensions`."""
    groups = [group_expression(name).label(f"d{i}") for i, name in enumerate(dimensions)]
    statement = (
        sa.select(CostDaily.day, *groups, sa.func.sum(_cost(cost_type)))
        .where(
            CostDaily.day >= start, CostDaily.day <= end, *(filters.clauses() if filters else [])
        )
        .group_by(CostDaily.day, *groups)
    )
    series: dict[tuple[str | None, ...], dict[date, float]] = defaultdict(dict)
    for row in session.execute(statement):
        series[tuple(row[1:-1])][row[0]] = float(row[-1] or 0.0)
    return dict(series)


@dataclass(frozen=True, slots=True)
class CostSliceRow:
    """Spend of one slice key (every dimension, tags as JSON text) in two periods."""

    service: str | None
    region: str | None
    account: str | None
    usage_type: str | None
    team: str | None
    project: str | None
    provider: str | None
    tags_json: str | None
    previous: float
    current: float


def cost_slices(
    session: Session,
    *,
    start: date,
    end: date,
    previous_start: date,
    previous_end: date,
    cost_type: CostType = "amortized",
    filters: CostFilter | None = None,
) -> list[CostSliceRow]:
    """Spend per slice key for [previous_start, previous_end] and [start, end], in one scan."""
    groups = [*SLICE_DIMENSIONS, TAGS_JSON]
    current, previous = period_sums(
        session,
        groups=groups,
        periods=[(start, end), (previous_start, previous_end)],
        cost_type=cost_type,
        filters=filters,
    )
    return [
        CostSliceRow(
            *key[:8],  # type: ignore[misc]
            previous=previous.get(key, 0.0),
            current=current.get(key, 0.0),
        )
        for key in {**previous, **current}
    ]


SLICE_DIMENSIONS = ("service", "region", "account", "usage_type", "team", "project", "provider")


def unowned_cost(
    session: Session, *, start: date, end: date, cost_type: CostType = "amortized", top: int = 5
) -> tuple[float, float, list[tuple[str | None, float]]]:
    """(spend without a team, all spend, the top services of the unowned spend)."""
    (found,) = period_sums(
        session, groups=["service", "team"], periods=[(start, end)], cost_type=cost_type
    )
    total = 0.0
    unowned: dict[str | None, float] = defaultdict(float)
    for (service, team), amount in found.items():
        total += amount
        if team is None:
            unowned[service] += amount
    by_service = sorted(
        ((name, amount) for name, amount in unowned.items() if amount), key=lambda item: -item[1]
    )
    return sum(amount for _, amount in by_service), total, by_service[:top]


@dataclass(frozen=True, slots=True)
class UsageTrendRow:
    """Average daily spend of one usage line in a recent and a baseline span."""

    service: str | None
    region: str | None
    account: str | None
    project: str | None
    usage_type: str | None
    recent_daily: float
    baseline_daily: float


def usage_trends(
    session: Session,
    *,
    baseline_start: date,
    recent_start: date,
    end: date,
    cost_type: CostType = "amortized",
) -> list[UsageTrendRow]:
    """Daily averages per usage line: [recent_start, end] vs [baseline_start, recent_start)."""
    recent_days = (end - recent_start).days + 1
    baseline_days = (recent_start - baseline_start).days
    recent, baseline = period_sums(
        session,
        groups=["service", "region", "account", "project", "usage_type"],
        periods=[(recent_start, end), (baseline_start, recent_start - timedelta(days=1))],
        cost_type=cost_type,
    )
    return [
        UsageTrendRow(
            *key[:5],  # type: ignore[misc]
            recent_daily=recent.get(key, 0.0) / recent_days,
            baseline_daily=baseline.get(key, 0.0) / max(baseline_days, 1),
        )
        for key in {**recent, **baseline}
    ]


def compute_cost_by_team(
    session: Session, *, start: date, end: date, cost_type: CostType = "amortized"
) -> dict[str | None, float]:
    """Compute (virtual machine) spend per team between `start` and `end`."""
    (found,) = period_sums(
        session,
        groups=["team"],
        periods=[(start, end)],
        cost_type=cost_type,
        services=COMPUTE_SERVICES,
    )
    return {key[0]: amount for key, amount in found.items()}


@dataclass(frozen=True, slots=True)
class BudgetRow:
    """A budget as stored."""

    name: str
    period: str
    amount: float
    currency: str
    scope: dict[str, Any]


def budgets(session: Session) -> list[BudgetRow]:
    """Every budget."""
    rows = session.scalars(sa.select(Budget).order_by(Budget.name))
    return [BudgetRow(b.name, b.period, b.amount, b.currency, dict(b.scope or {})) for b in rows]


def matching_budget(
    rows: Iterable[BudgetRow], *, team: str | None = None, provider: str | None = None
) -> BudgetRow | None:
    """The monthly budget whose scope is exactly the given team/provider (company-wide: {})."""
    wanted = {k: v for k, v in (("team", team), ("provider", provider)) if v is not None}
    for row in rows:
        scope = {k: str(v) for k, v in row.scope.items()}
        if row.period == "monthly" and {k: v.lower() for k, v in scope.items()} == {
            k: v.lower() for k, v in wanted.items()
        }:
            return row
    return None


@dataclass(frozen=True, slots=True)
class AnomalyRow:
    """A stored cost anomaly (AWS's own detector or ours)."""

    detector: str
    start_day: date
    end_day: date | None
    dimension: dict[str, Any]
    expected: float | None
    actual: float | None
    impact: float | None
    root_causes: list[Any]


def stored_anomalies(
    session: Session, *, since: date, detector: str | None = None
) -> list[AnomalyRow]:
    """Stored anomalies still open or ending on/after `since`, largest impact first."""
    clauses = [sa.or_(CostAnomaly.end_day.is_(None), CostAnomaly.end_day >= since)]
    if detector is not None:
        clauses.append(CostAnomaly.detector == detector)
    rows = session.scalars(sa.select(CostAnomaly).where(*clauses))
    found = [
        AnomalyRow(
            a.detector,
            a.start_day,
            a.end_day,
            dict(a.dimension or {}),
            a.expected,
            a.actual,
            a.impact,
            list(a.root_causes or []),
        )
        for a in rows
    ]
    found.sort(key=lambda a: -(a.impact or 0.0))
    return found


@dataclass(frozen=True, slots=True)
class RecommendationRow:
    """A provider recommendation as stored."""

    kind: str
    summary: str
    estimated_monthly_saving: float
    resource: str | None
    account: str | None
    region: str | None
    details: dict[str, Any]


def recommendations(session: Session) -> list[RecommendationRow]:
    """Every stored cost recommendation."""
    rows = session.scalars(sa.select(CostRecommendation))
    return [
        RecommendationRow(
            r.kind,
            r.summary,
            r.estimated_monthly_saving,
            r.resource,
            r.account,
            r.region,
            dict(r.details or {}),
        )
        for r in rows
    ]


@dataclass(frozen=True, slots=True)
class VendorForecastRow:
    """A provider's forecast of a period."""

    provider: str
    metric: str
    period_start: date
    period_end: date
    amount: float
    lower: float | None
    upper: float | None


def vendor_forecasts(session: Session, *, period_start: date) -> list[VendorForecastRow]:
    """Provider forecasts for periods inside the month starting at `period_start`."""
    rows = session.scalars(sa.select(CostForecast).where(CostForecast.period_start >= period_start))
    return [
        VendorForecastRow(
            f.provider, f.metric, f.period_start, f.period_end, f.amount, f.lower, f.upper
        )
        for f in rows
    ]


# ------------------------------------------------------------------------------ org lookups


def resolve_team(session: Session, *, team: str) -> str | None:
    """The team key for a key or a name, case-insensitive (None when unknown)."""
    wanted = team.strip().lower()
    for key, name in session.execute(sa.select(Team.key, Team.name)):
        if key.lower() == wanted or (name or "").lower() == wanted:
            return str(key)
    return None


def service_teams(session: Session) -> dict[str, str | None]:
    """Owning team key of every service."""
    return {name: team for name, team in session.execute(sa.select(Service.name, Service.team_key))}


def people(session: Session) -> dict[str, tuple[str | None, str | None, str | None]]:
    """E-mail → (name, team key, time zone) of every person."""
    return {
        email: (name, team, tz)
        for email, name, team, tz in session.execute(
            sa.select(Person.email, Person.name, Person.team_key, Person.timezone)
        )
    }


@dataclass(frozen=True, slots=True)
class DeploymentRow:
    """A deployment as a possible cause."""

    source_id: str
    service: str | None
    environment: str | None
    status: str
    sha: str | None
    finished_at: datetime | None
    url: str | None


def deployments(
    session: Session,
    *,
    start: datetime,
    end: datetime,
    services: Sequence[str] | None = None,
    environment: str | None = "production",
) -> list[DeploymentRow]:
    """Deployments finished in [start, end], optionally of some services, newest first."""
    clauses = [Deployment.finished_at >= start, Deployment.finished_at <= end]
    if services is not None:
        clauses.append(Deployment.service.in_(list(services)))
    if environment is not None:
        clauses.append(Deployment.environment == environment)
    rows = session.scalars(
        sa.select(Deployment).where(*clauses).order_by(Deployment.finished_at.desc())
    )
    return [
        DeploymentRow(d.source_id, d.service, d.environment, d.status, d.sha, d.finished_at, d.url)
        for d in rows
    ]


def deployment_by_id(session: Session, *, deployment_id: str) -> DeploymentRow | None:
    """One deployment by its vendor id."""
    d = session.scalars(sa.select(Deployment).where(Deployment.source_id == deployment_id)).first()
    if d is None:
        return None
    return DeploymentRow(
        d.source_id, d.service, d.environment, d.status, d.sha, d.finished_at, d.url
    )


# ------------------------------------------------------------------------------------- SLOs


@dataclass(frozen=True, slots=True)
class SloRow:
    """An SLO as stored."""

    source_id: str
    name: str
    service: str | None
    target: float
    window_days: int
    sli_type: str | None


def slos(session: Session, *, services: Sequence[str] | None = None) -> list[SloRow]:
    """SLOs, optionally of some services."""
    statement = sa.select(Slo).order_by(Slo.service, Slo.name)
    if services is not None:
        statement = statement.where(Slo.service.in_(list(services)))
    return [
        SloRow(s.source_id, s.name, s.service, s.target, s.window_days or 30, s.sli_type)
        for s in session.scalars(statement)
    ]


def sli_points(
    session: Session, *, slo_ids: Sequence[str], since: datetime
) -> dict[str, list[SliPoint]]:
    """SLI buckets per SLO starting at or after `since`, oldest first."""
    statement = (
        sa.select(SliPointRow.slo_source_id, SliPointRow.at, SliPointRow.good, SliPointRow.total)
        .where(SliPointRow.slo_source_id.in_(list(slo_ids)), SliPointRow.at >= since)
        .order_by(SliPointRow.at)
    )
    found: dict[str, list[SliPoint]] = defaultdict(list)
    for slo_id, at, good, total in session.execute(statement):
        found[slo_id].append(SliPoint(at=at, good=good, total=total))
    return dict(found)


# -------------------------------------------------------------------------------- incidents


def _incident(i: Incident) -> IncidentRecord:
    return IncidentRecord(
        key=i.key,
        title=i.title,
        service=i.service,
        team=i.team_key,
        severity=i.severity,
        urgency=i.urgency,
        status=i.status,
        triggered_at=i.triggered_at,
        acknowledged_at=i.acknowledged_at,
        resolved_at=i.resolved_at,
        assignee=i.assignee,
        caused_by_deployment=i.caused_by_deployment,
        postmortem_url=i.postmortem_url,
        url=i.url,
    )


def incidents(
    session: Session,
    *,
    team: str | None = None,
    service: str | None = None,
    open_only: bool = False,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[IncidentRecord]:
    """Incidents by team, service, openness and trigger time."""
    clauses: list[sa.ColumnElement[bool]] = []
    if team is not None:
        clauses.append(Incident.team_key == team)
    if service is not None:
        clauses.append(sa.func.lower(Incident.service) == service.lower())
    if open_only:
        clauses.append(Incident.resolved_at.is_(None))
        clauses.append(Incident.status != "resolved")
    if since is not None:
        clauses.append(Incident.triggered_at >= since)
    if until is not None:
        clauses.append(Incident.triggered_at < until)
    rows = session.scalars(sa.select(Incident).where(*clauses).order_by(Incident.triggered_at))
    return [_incident(i) for i in rows]


def incident_by_key(session: Session, *, key: str) -> IncidentRecord | None:
    """One incident by its key (INC-1234) or vendor id."""
    row = session.scalars(
        sa.select(Incident).where(
            sa.or_(sa.func.upper(Incident.key) == key.upper(), Incident.source_id == key)
        )
    ).first()
    return _incident(row) if row is not None else None


def incident_events(session: Session, *, keys: Sequence[str]) -> dict[str, list[TimelineEntry]]:
    """Timeline entries per incident key, oldest first."""
    if not keys:
        return {}
    statement = (
        sa.select(
            IncidentEvent.incident_key,
            IncidentEvent.at,
            IncidentEvent.kind,
            IncidentEvent.actor,
            IncidentEvent.summary,
        )
        .where(IncidentEvent.incident_key.in_(list(keys)))
        .order_by(IncidentEvent.at)
    )
    found: dict[str, list[TimelineEntry]] = defaultdict(list)
    for key, at, kind, actor, summary in session.execute(statement):
        found[key].append(TimelineEntry(at=at, kind=kind, actor=actor, summary=summary))
    return dict(found)


def follow_up_tickets(session: Session, *, keys: Sequence[str]) -> dict[str, list[FollowUp]]:
    """Tickets that reference an incident key in their labels or summary, per incident key."""
    if not keys:
        return {}
    wanted = {key.lower(): key for key in keys}
    conditions = [sa.func.lower(Ticket.summary).contains(key.lower()) for key in keys]
    conditions.append(sa.cast(Ticket.labels, sa.Text).ilike("%postmortem%"))
    conditions.append(sa.cast(Ticket.labels, sa.Text).ilike("%inc-%"))
    found: dict[str, list[FollowUp]] = defaultdict(list)
    for chunk_start in range(0, len(conditions), 200):
        chunk = conditions[chunk_start : chunk_start + 200]
        for ticket in session.scalars(sa.select(Ticket).where(sa.or_(*chunk))):
            texts = [str(label).lower() for label in (ticket.labels or [])]
            texts.append((ticket.summary or "").lower())
            for lowered, key in wanted.items():
                if any(lowered in text for text in texts) and all(
                    t.key != ticket.key for t in found[key]
                ):
                    found[key].append(
                        FollowUp(
                            ticket.key,
                            ticket.summary,
                            ticket.status,
                            ticket.status_category == "done",
                            ticket.assignee,
                        )
                    )
    return dict(found)


# ----------------------------------------------------------------------------------- on-call


def oncall_shifts(session: Session, *, at: datetime, team: str | None = None) -> list[Shift]:
    """Shifts covering `at` or starting within its shift (so interrupting overrides are seen)."""
    clauses = [OncallShift.end_at > at, OncallShift.start_at <= at + timedelta(days=14)]
    if team is not None:
        clauses.append(OncallShift.team_key == team)
    rows = session.scalars(sa.select(OncallShift).where(*clauses))
    return [
        Shift(s.schedule, s.team_key, s.person, s.level, s.start_at, s.end_at, s.is_override)
        for s in rows
    ]


# ------------------------------------------------------------------------- hosts + monitors


def hosts(session: Session, *, services: Sequence[str] | None = None) -> list[HostRecord]:
    """Hosts, optionally of some services."""
    statement = sa.select(HostHealth)
    if services is not None:
        statement = statement.where(HostHealth.service.in_(list(services)))
    return [
        HostRecord(h.host, h.service, h.status, h.cpu_pct, h.mem_pct, h.last_reported_at)
        for h in session.scalars(statement)
    ]


def monitors(session: Session, *, services: Sequence[str] | None = None) -> list[MonitorRecord]:
    """Monitors, optionally of some services."""
    statement = sa.select(Monitor)
    if services is not None:
        statement = statement.where(Monitor.service.in_(list(services)))
    return [
        MonitorRecord(m.name, m.service, m.state, m.priority, m.state_changed_at)
        for m in session.scalars(statement)
    ]


def deployment_records(
    session: Session, *, start: datetime, end: datetime, services: Sequence[str] | None = None
) -> list[DeploymentRecord]:
    """Deployments finished in [start, end] as infra health records."""
    return [
        DeploymentRecord(d.service, d.environment, d.status, d.finished_at, d.sha)
        for d in deployments(session, start=start, end=end, services=services, environment=None)
    ]
