"""The cost rollup and the store's data version: kept at write time, read by queries and caches.

`cost_rollup` holds `cost_daily` summed at several levels, each a set of slice columns kept (the
others NULL) and summed per calendar month, ISO week (Monday first) and, below the finest, day:

    level    columns kept                                      grains
    fine     provider, account, service, region, usage type,   month, week (its days: cost_daily)
             team, project, tags
    wide     every one of those but tags                       w_month, w_week, w_day
    service  provider, account, service, region                s_month, s_week, s_day
    team     provider, team                                    t_month, t_week, t_day

A query reads the smallest level keeping every column it groups or filters by (`rollup_level`):
whole months and weeks from that level, the ragged edge days from its day grain (from
`cost_daily` for the fine level; see `plan_period`), so a year by service reads a few hundred
rows, a daily series per team a few thousand, not millions of raw rows.

Staleness is made impossible rather than unlikely:

    write cost_daily  ──same transaction──▶  mark the written days dirty (store_state)
    end of a sync / import                ▶  refresh: rebuild the dirty days, months and weeks
                                             of every level, record max(cost_daily.id) and
                                             the layout, clear the dirt
    query                                 ▶  use the rollup only when nothing is dirty,
                                             max(cost_daily.id) is the one recorded and the
                                             layout is this code's

so a crash between a write and its refresh, rows inserted behind the store's back, or a rollup
built by a version with other levels send queries to the raw rows (slower, still exact) until
the next refresh (which builds missing levels over every stored day).

The data version is a counter bumped whenever a sync or an import commits: caches key on it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from cto_assistant.store.models import CostDaily, CostRollup, StoreState

ROLLUP_KEY = "cost_rollup"
DIRTY_FROM = "cost_rollup_dirty_from"
DIRTY_TO = "cost_rollup_dirty_to"
DATA_VERSION = "data_version"
SLICE_COLUMNS = (
    "provider",
    "account",
    "service",
    "region",
    "usage_type",
    "team",
    "project",
)
LAYOUT_KEY = "cost_rollup_layout"
LAYOUT = 2  # 1: the fine level only; 2: + wide, service and team levels with day grains


@dataclass(frozen=True, slots=True)
class RollupLevel:
    """Sums keyed by some slice columns (the others NULL) per month, week and day."""

    name: str
    columns: tuple[str, ...]
    month: str
    week: str
    day: str | None  # None: the level's days are the cost_daily rows themselves

    @property
    def grains(self) -> tuple[str, ...]:
        """The grain names of this level's rollup rows."""
        return (self.month, self.week) if self.day is None else (self.month, self.week, self.day)

    def keeps(self, columns: Iterable[str]) -> bool:
        """Whether every one of `columns` is a key of this level."""
        return set(columns) <= set(self.columns)


FINE = RollupLevel("fine", (*SLICE_COLUMNS, "tags"), "month", "week", None)
WIDE_DAY = "w_day"
WIDE = RollupLevel("wide", SLICE_COLUMNS, "w_month", "w_week", WIDE_DAY)
WIDE_SORT = ("project", "usage_type", "team", "service", "account", "region", "provider")
SERVICE = RollupLevel(
    "service", ("provider", "account", "service", "region"), "s_month", "s_week", "s_day"
)
TEAM = RollupLevel("team", ("provider", "team"), "t_month", "t_week", "t_day")
LEVELS = (TEAM, SERVICE, WIDE, FINE)  # fewest rows first
DERIVED = (SERVICE, TEAM)  # summed from the wide level's rows


def rollup_level(columns: Iterable[str]) -> RollupLevel:
    """The level with the fewest rows that keeps every one of `columns` (tags: the fine one)."""
    wanted = set(columns)
    return next(level for level in LEVELS if level.keeps(wanted))


# ------------------------------------------------------------------------------ calendar


def month_start(day: date) -> date:
    """The first day of `day`'s month."""
    return day.replace(day=1)


def next_month(day: date) -> date:
    """The first day of the month after `day`'s."""
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def week_start(day: date) -> date:
    """The Monday of `day`'s ISO week."""
    return day - timedelta(days=day.weekday())


@dataclass
class PeriodPlan:
    """How to read [start, end]: whole months and weeks from the rollup, days from cost_daily,
    less the `minus` days (the rest of weeks read whole for most of their days)."""

    months: list[date] = field(default_factory=list)
    weeks: list[date] = field(default_factory=list)
    days: list[tuple[date, date]] = field(default_factory=list)
    minus: list[tuple[date, date]] = field(default_factory=list)


def plan_period(start: date, end: date) -> PeriodPlan:
    """Split inclusive [start, end] into whole months, then whole weeks, then loose days."""
    plan = PeriodPlan()
    if start > end:
        return plan
    first_month = start if start.day == 1 else next_month(start)
    cursor = first_month
    while next_month(cursor) - timedelta(days=1) <= end:
        plan.months.append(cursor)
        cursor = next_month(cursor)
    if plan.months:
        segments = [(start, plan.months[0] - timedelta(days=1)), (cursor, end)]
    else:
        segments = [(start, end)]
    for low, high in segments:
        if low > high:
            continue
        monday = low if low.weekday() == 0 else low + timedelta(days=7 - low.weekday())
        weeks = []
        while monday + timedelta(days=6) <= high:
            weeks.append(monday)
            monday += timedelta(days=7)
        if not weeks:
            plan.days.append((low, high))
            continue
        plan.weeks.extend(weeks)
        if low < weeks[0]:
            plan.days.append((low, weeks[0] - timedelta(days=1)))
        after = weeks[-1] + timedelta(days=7)
        if after <= high:
            plan.days.append((after, high))
    return plan


def plan_stored(
    start: date, end: date, first: date, last: date, *, fold: bool = False
) -> PeriodPlan:
    """`plan_period` for the rows of [start, end] when cost rows exist only in [first, last]:
    the period is first stretched over the days without rows to the edges of their months and
    weeks (more whole periods), and loose days without rows are left out. `fold`: a run of
    loose days is read as its whole week less the week's other days where those are clearly
    fewer (for days that come from cost_daily, a week of rollup rows costs about one day)."""
    if start > end:
        return PeriodPlan()
    if start <= first:
        start = min(start, month_start(first), week_start(first))
    if end >= last:
        end = max(end, next_month(last) - timedelta(days=1), week_start(last) + timedelta(days=6))
    plan = plan_period(start, end)
    plan.days = _clip(plan.days, first, last)
    if fold:
        _fold_into_weeks(plan, first, last)
    return plan


def _clip(spans: Iterable[tuple[date, date]], first: date, last: date) -> list[tuple[date, date]]:
    """The spans cut to [first, last], empty ones left out."""
    cut = [(max(low, first), min(high, last)) for low, high in spans]
    return [(low, high) for low, high in cut if low <= high]


def _fold_into_weeks(plan: PeriodPlan, first: date, last: date) -> None:
    """Read each week's run of loose days as the whole week less its other stored days, when
    those are fewer than the run's days less one."""
    days: list[tuple[date, date]] = []
    for low, high in plan.days:
        for piece_low, piece_high in _week_pieces(low, high):
            monday = week_start(piece_low)
            rest = [(monday, piece_low - timedelta(days=1))]
            rest.append((piece_high + timedelta(days=1), monday + timedelta(days=6)))
            rest = _clip(rest, first, last)
            rest_days = sum((to - since).days + 1 for since, to in rest)
            if monday not in plan.weeks and rest_days < (piece_high - piece_low).days:
                plan.weeks.append(monday)
                plan.minus.extend(rest)
            else:
                days.append((piece_low, piece_high))
    plan.days = days


def _week_pieces(low: date, high: date) -> list[tuple[date, date]]:
    """[low, high] cut at ISO week boundaries."""
    pieces = []
    while low <= high:
        sunday = week_start(low) + timedelta(days=6)
        pieces.append((low, min(sunday, high)))
        low = sunday + timedelta(days=1)
    return pieces


def merge_spans(spans: Iterable[tuple[date, date]]) -> list[tuple[date, date]]:
    """Inclusive day spans joined where they overlap or touch, in order."""
    merged: list[tuple[date, date]] = []
    for low, high in sorted(spans):
        if merged and low <= merged[-1][1] + timedelta(days=1):
            merged[-1] = (merged[-1][0], max(high, merged[-1][1]))
        else:
            merged.append((low, high))
    return merged


# ---------------------------------------------------------------------------- store state


def _state(session: Session, key: str) -> int | None:
    value = session.scalar(sa.select(StoreState.value).where(StoreState.key == key))
    return None if value is None else int(value)


def _set_state(session: Session, key: str, value: int, *, at: datetime | None = None) -> None:
    row = session.get(StoreState, key)
    if row is None:
        session.add(StoreState(key=key, value=value, updated_at=at))
    else:
        row.value = value
        row.updated_at = at
    session.flush()


def _clear_state(session: Session, *keys: str) -> None:
    session.execute(sa.delete(StoreState).where(StoreState.key.in_(keys)))


def data_version(session: Session) -> int:
    """The store's data version (0 before the first sync or import)."""
    return _state(session, DATA_VERSION) or 0


def bump_data_version(session: Session, *, at: datetime | None = None) -> int:
    """Advance the data version inside the caller's transaction; return the new one."""
    version = data_version(session) + 1
    _set_state(session, DATA_VERSION, version, at=at)
    return version


# ---------------------------------------------------------------------------- cost rollup


def mark_cost_days_dirty(session: Session, first: date, last: date) -> None:
    """Record that cost rows of [first, last] changed (call in the writing transaction)."""
    low = _state(session, DIRTY_FROM)
    high = _state(session, DIRTY_TO)
    _set_state(session, DIRTY_FROM, min(first.toordinal(), low or first.toordinal()))
    _set_state(session, DIRTY_TO, max(last.toordinal(), high or last.toordinal()))


def mark_days_of_rows_dirty(session: Session, days: Iterable[object]) -> None:
    """Mark the span of the given cost days dirty (nothing when there are none)."""
    found = [day for day in days if isinstance(day, date)]
    if found:
        mark_cost_days_dirty(session, min(found), max(found))


def cost_span(session: Session) -> tuple[date | None, date | None]:
    """The first and last stored cost day (two index probes: one MIN and one MAX subquery)."""
    low, high = session.execute(
        sa.select(
            sa.select(sa.func.min(CostDaily.day)).scalar_subquery(),
            sa.select(sa.func.max(CostDaily.day)).scalar_subquery(),
        )
    ).one()
    return low, high


def mark_all_cost_dirty(session: Session) -> None:
    """Mark every stored cost day dirty (after deletes whose days are unknown)."""
    low, high = cost_span(session)
    if low is not None and high is not None:
        mark_cost_days_dirty(session, low, high)


def _max_cost_id(session: Session) -> int:
    return int(session.scalar(sa.select(sa.func.max(CostDaily.id))) or 0)


def cost_rollup_usable(session: Session) -> bool:
    """Whether the rollup matches cost_daily exactly (nothing dirty, no rows added behind it,
    every level of this layout built)."""
    states = dict(
        session.execute(
            sa.select(StoreState.key, StoreState.value).where(
                StoreState.key.in_((ROLLUP_KEY, DIRTY_FROM, LAYOUT_KEY))
            )
        ).all()
    )
    if ROLLUP_KEY not in states or DIRTY_FROM in states or states.get(LAYOUT_KEY) != LAYOUT:
        return False
    return int(states[ROLLUP_KEY]) == _max_cost_id(session)


def refresh_cost_rollup(session: Session, *, at: datetime | None = None) -> int:
    """Rebuild the dirty months and weeks (everything on first use, the levels a former layout
    lacked over every stored day); return the calendar periods rebuilt."""
    built = _state(session, ROLLUP_KEY)
    max_id = _max_cost_id(session)
    low, high = _state(session, DIRTY_FROM), _state(session, DIRTY_TO)
    layout_current = _state(session, LAYOUT_KEY) == LAYOUT
    if built is None or (low is None and built != max_id):
        session.execute(sa.delete(CostRollup))
        count = _rebuild_span(session, only_coarse=False)
    elif low is not None and high is not None:
        first, last = date.fromordinal(low), date.fromordinal(high)
        count = _rebuild(session, first, last, coarse=layout_current)
        if not layout_current:
            count += _rebuild_span(session, only_coarse=True)
    elif not layout_current:
        count = _rebuild_span(session, only_coarse=True)
    else:
        return 0
    _clear_state(session, DIRTY_FROM, DIRTY_TO)
    _set_state(session, ROLLUP_KEY, max_id, at=at)
    _set_state(session, LAYOUT_KEY, LAYOUT, at=at)
    return count


def _rebuild_span(session: Session, *, only_coarse: bool) -> int:
    """Rebuild every level over every stored day (`only_coarse`: only the levels below the fine
    one, first dropping what a former layout left of them)."""
    if only_coarse:
        grains = [grain for level in LEVELS if level is not FINE for grain in level.grains]
        session.execute(sa.delete(CostRollup).where(CostRollup.grain.in_(grains)))
    first, last = cost_span(session)
    if first is None or last is None:
        return 0
    if only_coarse:
        _rebuild_coarse(session, first, last)
        return len(_periods(first, last))
    return _rebuild(session, first, last, coarse=True)


def _periods(first: date, last: date) -> list[tuple[str, date, date]]:
    """(kind, start, end) of every month and week that overlaps [first, last]."""
    periods: list[tuple[str, date, date]] = []
    cursor = month_start(first)
    while cursor <= last:
        periods.append(("month", cursor, next_month(cursor) - timedelta(days=1)))
        cursor = next_month(cursor)
    cursor = week_start(first)
    while cursor <= last:
        periods.append(("week", cursor, cursor + timedelta(days=6)))
        cursor += timedelta(days=7)
    return periods


SUMS = ("first_day", "last_day", "amortized_cost", "unblended_cost", "rows")


def _insert(session: Session, columns: Sequence[str], select: sa.Select[Any]) -> None:
    """INSERT INTO cost_rollup (grain, period_start, *columns, *SUMS) SELECT ..."""
    table: sa.Table = CostRollup.__table__  # type: ignore[assignment]
    session.execute(
        sa.insert(table).from_select(["grain", "period_start", *columns, *SUMS], select)
    )


def _rebuild(session: Session, first: date, last: date, *, coarse: bool) -> int:
    """Recompute every fine month and week that overlaps [first, last] (`coarse`: and then the
    other levels' days, months and weeks there)."""
    periods = _periods(first, last)
    tags = sa.cast(CostDaily.tags, sa.Text)
    keys = [getattr(CostDaily, name) for name in SLICE_COLUMNS]
    for kind, period_start, period_end in periods:
        session.execute(
            sa.delete(CostRollup).where(
                CostRollup.grain == kind, CostRollup.period_start == period_start
            )
        )
        select = (
            sa.select(
                sa.literal(kind, sa.String),
                sa.literal(period_start, sa.Date),
                *keys,
                tags,
                sa.func.min(CostDaily.day),
                sa.func.max(CostDaily.day),
                sa.func.sum(CostDaily.amortized_cost),
                sa.func.sum(CostDaily.unblended_cost),
                sa.func.count(),
            )
            .where(CostDaily.day >= period_start, CostDaily.day <= period_end)
            .group_by(tags, *keys)  # the long, most varied key first: a cheaper sort
        )
        _insert(session, [*SLICE_COLUMNS, "tags"], select)
    if coarse:
        _rebuild_coarse(session, first, last)
    return len(periods)


def _rebuild_coarse(session: Session, first: date, last: date) -> None:
    """Recompute the wide, service and team levels' days in [first, last] and the months and
    weeks that overlap it (the fine months and weeks there must be current)."""
    _delete_range(session, WIDE_DAY, first, last)
    cursor = month_start(first)
    while cursor <= last:  # a month of raw rows per statement: smaller sorts
        _wide_days(session, max(cursor, first), min(next_month(cursor) - timedelta(days=1), last))
        cursor = next_month(cursor)
    months = (month_start(first), month_start(last))
    weeks = (week_start(first), week_start(last))
    for fine_grain, wide_grain, (low, high) in (
        (FINE.month, WIDE.month, months),
        (FINE.week, WIDE.week, weeks),
    ):
        _delete_range(session, wide_grain, low, high)
        _sum_level(session, fine_grain, WIDE, wide_grain, low, high)
    for level in DERIVED:
        for source, target, (low, high) in (
            (WIDE_DAY, level.day, (first, last)),
            (WIDE.month, level.month, months),
            (WIDE.week, level.week, weeks),
        ):
            _delete_range(session, target, low, high)
            _sum_level(session, source, level, target, low, high)


def _delete_range(session: Session, grain: str | None, low: date, high: date) -> None:
    """Drop the rows of `grain` whose period starts in [low, high]."""
    session.execute(
        sa.delete(CostRollup).where(
            CostRollup.grain == grain,
            CostRollup.period_start >= low,
            CostRollup.period_start <= high,
        )
    )


def _wide_days(session: Session, first: date, last: date) -> None:
    """The wide level's day rows of [first, last], from cost_daily."""
    keys = [getattr(CostDaily, name) for name in WIDE.columns]
    order = [getattr(CostDaily, name) for name in WIDE_SORT]  # the most varied first: faster
    select = (
        sa.select(
            sa.literal(WIDE_DAY, sa.String),
            CostDaily.day,
            *keys,
            CostDaily.day,
            CostDaily.day,
            sa.func.sum(CostDaily.amortized_cost),
            sa.func.sum(CostDaily.unblended_cost),
            sa.func.count(),
        )
        .where(CostDaily.day >= first, CostDaily.day <= last)
        .group_by(CostDaily.day, *order)
    )
    _insert(session, WIDE.columns, select)


def _sum_level(
    session: Session, source: str, level: RollupLevel, grain: str | None, low: date, high: date
) -> None:
    """Rows of `grain` (of `level`) summed from the rollup rows of `source` (a finer level's
    grain of the same periods) starting in [low, high]."""
    keys = [getattr(CostRollup, name) for name in level.columns]
    select = (
        sa.select(
            sa.literal(grain, sa.String),
            CostRollup.period_start,
            *keys,
            sa.func.min(CostRollup.first_day),
            sa.func.max(CostRollup.last_day),
            sa.func.sum(CostRollup.amortized_cost),
            sa.func.sum(CostRollup.unblended_cost),
            sa.func.sum(CostRollup.rows),
        )
        .where(
            CostRollup.grain == source,
            CostRollup.period_start >= low,
            CostRollup.period_start <= high,
        )
        .group_by(CostRollup.period_start, *keys)
    )
    _insert(session, level.columns, select)


__all__ = [
    "FINE",
    "LAYOUT_KEY",
    "LEVELS",
    "SERVICE",
    "TEAM",
    "WIDE",
    "PeriodPlan",
    "RollupLevel",
    "bump_data_version",
    "cost_rollup_usable",
    "cost_span",
    "data_version",
    "mark_all_cost_dirty",
    "mark_cost_days_dirty",
    "mark_days_of_rows_dirty",
    "merge_spans",
    "month_start",
    "next_month",
    "plan_period",
    "plan_stored",
    "refresh_cost_rollup",
    "rollup_level",
    "week_start",
]
