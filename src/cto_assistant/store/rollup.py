"""The cost rollup and the store's data version: kept at write time, read by queries and caches.

`cost_rollup` holds `cost_daily` summed per calendar month and per ISO week (Monday first) for
every slice key (provider, account, service, region, usage type, team, project, tags). A query
for a long period reads whole months and weeks from it and only the ragged edges from
`cost_daily` (see `plan_period`), so a year by service reads a few thousand rows, not millions.

Staleness is made impossible rather than unlikely:

    write cost_daily  ──same transaction──▶  mark the written days dirty (store_state)
    end of a sync / import                ▶  refresh: rebuild the dirty months and weeks,
                                             record max(cost_daily.id), clear the dirt
    query                                 ▶  use the rollup only when nothing is dirty and
                                             max(cost_daily.id) is the one recorded

so a crash between a write and its refresh, or rows inserted behind the store's back, send
queries to the raw rows (slower, still exact) until the next refresh.

The data version is a counter bumped whenever a sync or an import commits: caches key on it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

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
    """How to read [start, end]: whole months and weeks from the rollup, days from cost_daily."""

    months: list[date] = field(default_factory=list)
    weeks: list[date] = field(default_factory=list)
    days: list[tuple[date, date]] = field(default_factory=list)


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


def mark_all_cost_dirty(session: Session) -> None:
    """Mark every stored cost day dirty (after deletes whose days are unknown)."""
    low, high = session.execute(
        sa.select(sa.func.min(CostDaily.day), sa.func.max(CostDaily.day))
    ).one()
    if low is not None:
        mark_cost_days_dirty(session, low, high)


def _max_cost_id(session: Session) -> int:
    return int(session.scalar(sa.select(sa.func.max(CostDaily.id))) or 0)


def cost_rollup_usable(session: Session) -> bool:
    """Whether the rollup matches cost_daily exactly (nothing dirty, no rows added behind it)."""
    states = dict(
        session.execute(
            sa.select(StoreState.key, StoreState.value).where(
                StoreState.key.in_((ROLLUP_KEY, DIRTY_FROM))
            )
        ).all()
    )
    if ROLLUP_KEY not in states or DIRTY_FROM in states:
        return False
    return int(states[ROLLUP_KEY]) == _max_cost_id(session)


def refresh_cost_rollup(session: Session, *, at: datetime | None = None) -> int:
    """Rebuild the dirty months and weeks (everything on first use); return periods rebuilt."""
    built = _state(session, ROLLUP_KEY)
    max_id = _max_cost_id(session)
    low, high = _state(session, DIRTY_FROM), _state(session, DIRTY_TO)
    if built is None or (low is None and built != max_id):
        span = session.execute(
            sa.select(sa.func.min(CostDaily.day), sa.func.max(CostDaily.day))
        ).one()
        session.execute(sa.delete(CostRollup))
        count = 0 if span[0] is None else _rebuild(session, span[0], span[1])
    elif low is not None and high is not None:
        count = _rebuild(session, date.fromordinal(low), date.fromordinal(high))
    else:
        return 0
    _clear_state(session, DIRTY_FROM, DIRTY_TO)
    _set_state(session, ROLLUP_KEY, max_id, at=at)
    return count


def _rebuild(session: Session, first: date, last: date) -> int:
    """Recompute every month and week that overlaps [first, last]."""
    periods: list[tuple[str, date, date]] = []
    cursor = month_start(first)
    while cursor <= last:
        periods.append(("month", cursor, next_month(cursor) - timedelta(days=1)))
        cursor = next_month(cursor)
    cursor = week_start(first)
    while cursor <= last:
        periods.append(("week", cursor, cursor + timedelta(days=6)))
        cursor += timedelta(days=7)
    table: sa.Table = CostRollup.__table__  # type: ignore[assignment]
    tags = sa.cast(CostDaily.tags, sa.Text)
    keys = [getattr(CostDaily, name) for name in SLICE_COLUMNS]
    for grain, period_start, period_end in periods:
        session.execute(
            sa.delete(CostRollup).where(
                CostRollup.grain == grain, CostRollup.period_start == period_start
            )
        )
        select = (
            sa.select(
                sa.literal(grain, sa.String),
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
            .group_by(*keys, tags)
        )
        session.execute(
            sa.insert(table).from_select(
                [
                    "grain",
                    "period_start",
                    *SLICE_COLUMNS,
                    "tags",
                    "first_day",
                    "last_day",
                    "amortized_cost",
                    "unblended_cost",
                    "rows",
                ],
                select,
            )
        )
    return len(periods)


__all__ = [
    "PeriodPlan",
    "bump_data_version",
    "cost_rollup_usable",
    "data_version",
    "mark_all_cost_dirty",
    "mark_cost_days_dirty",
    "mark_days_of_rows_dirty",
    "month_start",
    "plan_period",
    "refresh_cost_rollup",
    "week_start",
]
