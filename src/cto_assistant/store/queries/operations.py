"""Operations queries: cloud cost, budgets, SLOs, incidents, on-call, hosts and monitors.

Every function takes keyword-only arguments and returns plain values or the frozen record
types analytics consume. Cost queries aggregate in SQL (GROUP BY, one scan for both periods
of a comparison), so millions of `cost_daily` rows never reach Python. Periods are inclusive
dates here too; they become `day >= start AND day <= end`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import accumulate, pairwise
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
from cto_assistant.store.rollup import (
    PeriodPlan,
    RollupLevel,
    cost_rollup_usable,
    cost_span,
    merge_spans,
    plan_stored,
    rollup_level,
)

CostType = Literal["amortized", "unblended"]
COST_DIMENSIONS = ("service", "region", "account", "usage_type", "team", "project", "provider")
FILTER_COLUMNS = ("provider", "team", "service", "region", "account")
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
        for name in FILTER_COLUMNS:
            value = getattr(self, name)
            if value is not None:
                found.append(sa.func.lower(getattr(model, name)) == value.lower())
        return found

    def columns(self) -> set[str]:
        """The columns these filters constrain."""
        return {name for name in FILTER_COLUMNS if getattr(self, name) is not None}


def _clauses(
    model: type[CostDaily] | type[CostRollup],
    filters: CostFilter | None,
    services: Sequence[str] | None = None,
) -> list[sa.ColumnElement[bool]]:
    """The filters' conditions, and `service IN services` when given, on cost_daily or the rollup."""
    found = filters.clauses(model) if filters else []
    if services is not None:
        found.append(model.service.in_(list(services)))
    return found


def _cost(
    cost_type: CostType, model: type[CostDaily] | type[CostRollup] = CostDaily
) -> sa.ColumnElement[float]:
    if cost_type == "unblended":
        return model.unblended_cost  # type: ignore[return-value]
    return model.amortized_cost  # type: ignore[return-value]


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
    level = _level(session, filters.columns()) if filters and clauses else None
    if level is not None:
        row = session.execute(
            sa.select(sa.func.min(CostRollup.first_day), sa.func.max(CostRollup.last_day)).where(
                CostRollup.grain == level.month, *_clauses(CostRollup, filters)
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


def _level(session: Session, columns: Iterable[str]) -> RollupLevel | None:
    """The rollup level to read for these columns (None: the rollup is stale, read raw rows)."""
    return rollup_level(columns) if cost_rollup_usable(session) else None


def _columns(
    groups: Iterable[str], filters: CostFilter | None, services: Sequence[str] | None = None
) -> set[str]:
    """The slice columns a query groups or filters by (tags for the tag groupings)."""
    found = {"tags" if _is_tag(name) else name for name in groups}
    if filters is not None:
        found |= filters.columns()
    if services is not None:
        found.add("service")
    return found


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
    """Spend per group key for each inclusive period: whole months and weeks, and the remaining
    days, from the smallest rollup level that keeps the groups and filters (the fine level's
    days from cost_daily, a week less a few of its days where that reads fewer rows); all of
    it from cost_daily when the rollup is stale."""
    for name in groups:
        _daily_group(name)  # validates every grouping before any query
    level = _level(session, _columns(groups, filters, services))
    plans = _plans(session, periods, level)
    totals = [_Totals(takes_away=bool(plan.minus)) for plan in plans]
    # tag text first in GROUP BY: the longest, most varied key makes SQLite's sort cheaper
    order = sorted(range(len(groups)), key=lambda i: not _is_tag(groups[i]))
    parts = [_Part(None if level is None else _rollup_condition(plan, level)) for plan in plans]
    reads = [part.plus for part in parts if part.plus is not None]
    if reads:
        keys = [_rollup_group(session, name).label(f"g{i}") for i, name in enumerate(groups)]
        clauses = [sa.or_(*reads), *_clauses(CostRollup, filters, services)]
        cost = _cost(cost_type, CostRollup)
        _accumulate(session, totals, keys, order, parts, cost, CostRollup.rows, clauses)
    spans = merge_spans(span for plan in plans for span in (*plan.days, *plan.minus))
    if spans and (level is None or level.day is None):
        keys = [_daily_group(name).label(f"g{i}") for i, name in enumerate(groups)]
        parts = [_Part(_days_condition(plan.days), _days_condition(plan.minus)) for plan in plans]
        clauses = [_in_spans(spans), *_clauses(CostDaily, filters, services)]
        _accumulate(session, totals, keys, order, parts, _cost(cost_type), 1, clauses)
    return [found.result() for found in totals]


def _is_tag(name: str) -> bool:
    """Whether a grouping reads the tags (a tag key, or the whole tag set)."""
    return name == TAGS_JSON or name.startswith("tag:")


def _plans(
    session: Session, periods: Sequence[tuple[date, date]], level: RollupLevel | None
) -> list[PeriodPlan]:
    """How to read each period: whole months and weeks and loose days (with the rollup; each
    period first widened over the days without rows), else every day from cost_daily."""
    if level is None:
        return [PeriodPlan(days=[(start, end)] if start <= end else []) for start, end in periods]
    first, last = cost_span(session)
    if first is None or last is None:
        return [PeriodPlan() for _ in periods]
    fold = level.day is None
    return [plan_stored(start, end, first, last, fold=fold) for start, end in periods]


def _days_condition(spans: Sequence[tuple[date, date]]) -> sa.ColumnElement[bool] | None:
    """cost_daily.day in any of the inclusive spans (None: no spans)."""
    return _in_spans(spans) if spans else None


def _in_spans(spans: Sequence[tuple[date, date]]) -> sa.ColumnElement[bool]:
    """cost_daily.day in any of the (one or more) inclusive spans."""
    return sa.or_(*(sa.and_(CostDaily.day >= low, CostDaily.day <= high) for low, high in spans))


def _rollup_condition(plan: PeriodPlan, level: RollupLevel) -> sa.ColumnElement[bool] | None:
    """The rollup rows of `level` a plan reads: its months, weeks and, if the level has a day
    grain, its days."""
    parts = []
    if plan.months:
        parts.append(
            sa.and_(CostRollup.grain == level.month, CostRollup.period_start.in_(plan.months))
        )
    if plan.weeks:
        parts.append(
            sa.and_(CostRollup.grain == level.week, CostRollup.period_start.in_(plan.weeks))
        )
    if level.day is not None:  # one OR term per span: each an index range search
        parts.extend(
            sa.and_(
                CostRollup.grain == level.day,
                CostRollup.period_start >= low,
                CostRollup.period_start <= high,
            )
            for low, high in plan.days
        )
    return sa.or_(*parts) if parts else None


@dataclass(frozen=True, slots=True)
class _Part:
    """One period's rows in a scan: those to add, and those to take away again."""

    plus: sa.ColumnElement[bool] | None
    minus: sa.ColumnElement[bool] | None = None

    @property
    def empty(self) -> bool:
        """Whether the period reads no rows in this scan."""
        return self.plus is None and self.minus is None

    def signed(self, value: Any, zero: Any) -> sa.Case[Any]:
        """CASE: `value` on rows to add, -`value` on rows to take away, else `zero`."""
        whens = [(self.plus, value)] if self.plus is not None else []
        if self.minus is not None:
            whens.append((self.minus, -value))
        return sa.case(*whens, else_=zero)


_RELATIVE_NOISE = 1e-9  # |sum| at most this x its terms' magnitude: only rounding is left


@dataclass(slots=True)
class _Totals:
    """Spend per group key of one period; when days are taken away, each key's row count and
    magnitude too, to drop keys with no rows left and snap what is only rounding to zero."""

    takes_away: bool
    amounts: dict[GroupKey, float] = field(default_factory=lambda: defaultdict(float))
    rows: dict[GroupKey, int] = field(default_factory=lambda: defaultdict(int))
    magnitude: dict[GroupKey, float] = field(default_factory=lambda: defaultdict(float))

    def result(self) -> dict[GroupKey, float]:
        """Spend per key (keys without rows or spend left out)."""
        if not self.takes_away:
            return dict(self.amounts)
        return {
            key: amount
            for key, amount in self.amounts.items()
            if self.rows[key] and abs(amount) > _RELATIVE_NOISE * self.magnitude[key]
        }


def _accumulate(
    session: Session,
    totals: list[_Totals],
    keys: list[sa.Label[Any]],
    order: list[int],
    parts: list[_Part],
    cost: Any,
    weight: Any,
    clauses: list[sa.ColumnElement[bool]],
) -> None:
    """Add per key each period's SUM(cost) of its rows to add less its rows to take away (and,
    for periods that take away, SUM(`weight`): rows), in one scan of the rows `clauses` (the
    union of the periods' rows, and the filters) select; `order`: the keys' GROUP BY order."""
    slots = [i for i, part in enumerate(parts) if not part.empty]
    if not slots:
        return
    counted = [i for i in slots if totals[i].takes_away]
    sums = [sa.func.sum(parts[i].signed(cost, 0.0)) for i in slots]
    counts = [sa.func.sum(parts[i].signed(weight, 0)) for i in counted]
    statement = sa.select(*keys, *sums, *counts).where(*clauses)
    if keys:
        statement = statement.group_by(*(keys[i] for i in order))
    width = len(keys)  # the columns: keys, then a sum per slot, then a count per counted
    sums_at = [
        (width + j, totals[i].amounts, totals[i].magnitude if totals[i].takes_away else None)
        for j, i in enumerate(slots)
    ]
    counts_at = [(width + len(slots) + j, totals[i].rows) for j, i in enumerate(counted)]
    for row in session.connection().execute(statement):  # Core: no ORM work per row
        values = tuple(row)
        key = values[:width]
        for column, amounts, magnitude in sums_at:
            if values[column]:
                amounts[key] += float(values[column])
                if magnitude is not None:
                    magnitude[key] += abs(float(values[column]))
        for column, rows in counts_at:
            if values[column]:
                rows[key] += int(values[column])


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


def _daily_sums(
    session: Session,
    *,
    start: date,
    end: date,
    dimensions: Sequence[str],
    cost_type: CostType,
    filters: CostFilter | None,
) -> Iterable[Sequence[Any]]:
    """Rows (day, *dimensions, spend) per day and group in [start, end], oldest first: from the
    day grain of the smallest rollup level keeping them, from cost_daily if it has none."""
    for name in dimensions:
        group_expression(name)  # validates every dimension before any query
    level = _level(session, _columns(dimensions, filters))
    if level is not None and level.day is not None:
        day: Any = CostRollup.period_start
        keys = [_rollup_group(session, name).label(f"d{i}") for i, name in enumerate(dimensions)]
        where = [CostRollup.grain == level.day, *_clauses(CostRollup, filters)]
        cost = _cost(cost_type, CostRollup)
    else:
        day = CostDaily.day
        keys = [group_expression(name).label(f"d{i}") for i, name in enumerate(dimensions)]
        where = _clauses(CostDaily, filters)
        cost = _cost(cost_type)
    statement = (
        sa.select(day, *keys, sa.func.sum(cost))
        .where(day >= start, day <= end, *where)
        .group_by(day, *keys)
        .order_by(day)
    )
    return session.connection().execute(statement)  # Core: no ORM work per row


def daily_cost(
    session: Session,
    *,
    start: date,
    end: date,
    cost_type: CostType = "amortized",
    filters: CostFilter | None = None,
) -> list[tuple[date, float]]:
    """Total spend per day between `start` and `end`, oldest first."""
    rows = _daily_sums(
        session, start=start, end=end, dimensions=(), cost_type=cost_type, filters=filters
    )
    return [(row[0], float(row[1] or 0.0)) for row in rows]


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
    rows = _daily_sums(
        session, start=start, end=end, dimensions=dimensions, cost_type=cost_type, filters=filters
    )
    series: dict[tuple[str | None, ...], dict[date, float]] = defaultdict(dict)
    for row in rows:
        series[tuple(row[1:-1])][row[0]] = float(row[-1] or 0.0)
    return dict(series)


def owning_teams(
    session: Session,
    *,
    start: date,
    end: date,
    dimensions: Sequence[str],
    cost_type: CostType = "amortized",
    filters: CostFilter | None = None,
) -> dict[tuple[str | None, ...], str | None]:
    """The team (None: no team) with the most spend of each combination of `dimensions`."""
    (found,) = period_sums(
        session,
        groups=[*dimensions, "team"],
        periods=[(start, end)],
        cost_type=cost_type,
        filters=filters,
    )
    shares: dict[tuple[str | None, ...], dict[str | None, float]] = defaultdict(dict)
    for key, amount in found.items():
        shares[key[:-1]][key[-1]] = amount
    return {key: max(teams, key=lambda team: teams[team]) for key, teams in shares.items()}


SLICE_DIMENSIONS = ("service", "region", "account", "usage_type", "team", "project", "provider")


def slice_sums(
    session: Session,
    *,
    start: date,
    end: date,
    previous_start: date,
    previous_end: date,
    cost_type: CostType = "amortized",
    filters: CostFilter | None = None,
) -> tuple[dict[GroupKey, float], dict[GroupKey, float]]:
    """(current, previous) spend per slice key: the SLICE_DIMENSIONS values, then the tags as
    JSON text, for the change explanation's attribution table."""
    current, previous = period_sums(
        session,
        groups=[*SLICE_DIMENSIONS, TAGS_JSON],
        periods=[(start, end), (previous_start, previous_end)],
        cost_type=cost_type,
        filters=filters,
    )
    return current, previous


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
    statement = sa.select(
        Slo.source_id, Slo.name, Slo.service, Slo.target, Slo.window_days, Slo.sli_type
    ).order_by(Slo.service, Slo.name)
    if services is not None:
        statement = statement.where(Slo.service.in_(list(services)))
    return [
        SloRow(source_id, name, service, target, window_days or 30, sli_type)
        for source_id, name, service, target, window_days, sli_type in session.execute(statement)
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


SLI_BATCH = 500  # SLOs per window-sums query (each range repeats the id list as parameters)


def sli_newest(
    session: Session, *, slo_ids: Sequence[str], since: datetime
) -> dict[str, tuple[datetime, datetime | None]]:
    """Per SLO with buckets at or after `since`: the newest bucket's start and the one before it.

    Two correlated `ORDER BY at DESC LIMIT 1 [OFFSET 1]` look-ups per SLO: index seeks on
    sli_point (slo_source_id, at)."""

    def nth_newest(offset: int) -> sa.ScalarSelect[datetime]:
        return (
            sa.select(SliPointRow.at)
            .where(SliPointRow.slo_source_id == Slo.source_id, SliPointRow.at >= since)
            .order_by(SliPointRow.at.desc())
            .limit(1)
            .offset(offset)
            .correlate(Slo)
            .scalar_subquery()
        )

    statement = sa.select(Slo.source_id, nth_newest(0), nth_newest(1)).where(
        Slo.source_id.in_(list(slo_ids))
    )
    return {
        slo_id: (newest, previous)
        for slo_id, newest, previous in session.execute(statement)
        if newest is not None
    }


def sli_window_sums(
    session: Session,
    *,
    ends: Mapping[str, datetime],
    since: datetime,
    windows: Iterable[timedelta],
) -> dict[str, dict[timedelta, tuple[float, float]]]:
    """Per SLO, good and total events of the buckets starting in [max(end - w, since), end) for
    each window w, `end` being that SLO's own (a few hundred rows reach Python, not every bucket).
    """
    by_end: dict[datetime, list[str]] = defaultdict(list)
    for slo_id, end in ends.items():
        by_end[end].append(slo_id)
    spans = sorted(set(windows))
    found: dict[str, dict[timedelta, tuple[float, float]]] = {}
    for end, slo_ids in by_end.items():
        for first in range(0, len(slo_ids), SLI_BATCH):
            batch = slo_ids[first : first + SLI_BATCH]
            found.update(_sums_ending(session, slo_ids=batch, since=since, end=end, spans=spans))
    return found


def _sums_ending(
    session: Session,
    *,
    slo_ids: Sequence[str],
    since: datetime,
    end: datetime,
    spans: Sequence[timedelta],
) -> dict[str, dict[timedelta, tuple[float, float]]]:
    """Window sums for SLOs sharing `end`: disjoint ranges between consecutive window starts,
    summed in SQL (one range scan each, UNION ALL), then added up per window."""
    starts = sorted({max(end - span, since) for span in spans})
    ranges = list(pairwise([*starts, end]))
    parts = [
        sa.select(
            SliPointRow.slo_source_id,
            sa.literal_column(str(index), sa.Integer),
            sa.func.sum(SliPointRow.good),
            sa.func.sum(SliPointRow.total),
        )
        .where(
            SliPointRow.slo_source_id.in_(list(slo_ids)),
            SliPointRow.at >= start,
            SliPointRow.at < stop,
        )
        .group_by(SliPointRow.slo_source_id)
        for index, (start, stop) in enumerate(ranges)
    ]
    in_range: dict[str, list[tuple[float, float]]] = {
        slo_id: [(0.0, 0.0)] * len(ranges) for slo_id in slo_ids
    }
    for slo_id, index, good, total in session.execute(sa.union_all(*parts)):
        in_range[slo_id][index] = (good, total)
    first_range = {span: starts.index(max(end - span, since)) for span in spans}
    found: dict[str, dict[timedelta, tuple[float, float]]] = {}
    for slo_id, sums in in_range.items():
        since_range = _suffix_sums(sums)
        found[slo_id] = {span: since_range[first_range[span]] for span in spans}
    return found


def _suffix_sums(sums: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """For each index, the (good, total) pairs from it to the end added up (newest first)."""
    added = accumulate(reversed(sums), lambda a, b: (a[0] + b[0], a[1] + b[1]))
    return list(added)[::-1]


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
