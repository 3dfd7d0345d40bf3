"""The rollup's coarser levels and day grains: answers equal the raw rows' to the cent for every
level, grouping, filter and period (SQLite and PostgreSQL), and a former layout is rebuilt."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from cto_assistant.store import Store
from cto_assistant.store.db import upsert
from cto_assistant.store.models import CostRollup, StoreState
from cto_assistant.store.queries import operations as q
from cto_assistant.store.rollup import (
    FINE,
    LAYOUT_KEY,
    LEVELS,
    SERVICE,
    TEAM,
    WIDE,
    cost_rollup_usable,
    month_start,
    next_month,
    plan_stored,
    refresh_cost_rollup,
    rollup_level,
)
from tests.store.test_cost_rollup import DAYS, FIRST, assert_same_to_the_cent, rows

GROUPINGS = ["service", "region", "account", "team", "provider", "usage_type", "project", "tag:env"]
FILTERS = [
    None,
    q.CostFilter(team="plat"),
    q.CostFilter(provider="AWS", service="s3"),
    q.CostFilter(region="eu-west-1", account="222"),
    q.CostFilter(team="DATA", service="EC2", region="us-east-1"),
]
SAMPLE = rows(2500, seed=11)


def load(store: Store) -> None:
    """The sample rows, with the rollup built."""
    with store.session() as session:
        upsert(session, "cost_daily", SAMPLE)
        refresh_cost_rollup(session)


def matches(row: dict[str, Any], filters: q.CostFilter | None) -> bool:
    """Whether a sample row passes the filters (case-insensitive, like the queries)."""
    for name in q.FILTER_COLUMNS:
        wanted = getattr(filters, name) if filters else None
        if wanted is not None and (row[name] or "").lower() != wanted.lower():
            return False
    return True


def value(row: dict[str, Any], name: str) -> Any:
    """A sample row's value of a grouping (tag:KEY as text)."""
    if name.startswith("tag:"):
        found = row["tags"].get(name.removeprefix("tag:"))
        return None if found is None else str(found)
    return row[name]


def reference(
    sample: Iterable[dict[str, Any]],
    start: date,
    end: date,
    groups: list[str],
    filters: q.CostFilter | None = None,
    cost_type: str = "amortized",
) -> dict[tuple[Any, ...], float]:
    """Spend per group key of [start, end], summed from the sample rows in Python."""
    found: dict[tuple[Any, ...], float] = defaultdict(float)
    for row in sample:
        if start <= row["day"] <= end and matches(row, filters):
            found[tuple(value(row, name) for name in groups)] += row[f"{cost_type}_cost"]
    return {key: amount for key, amount in found.items() if amount}


def random_periods(count: int, seed: int) -> list[tuple[date, date]]:
    """Periods of every length, some beyond the first and the last stored day."""
    rng = random.Random(seed)
    found = []
    for _ in range(count):
        start = FIRST + timedelta(days=rng.randrange(-30, DAYS + 10))
        found.append(
            (start, start + timedelta(days=rng.choice([0, 3, 6, 9, 13, 30, 45, 120, 400])))
        )
    return found


def test_the_smallest_level_keeping_the_columns_is_read() -> None:
    assert rollup_level(set()) is TEAM
    assert rollup_level({"team", "provider"}) is TEAM
    assert rollup_level({"service", "region", "account"}) is SERVICE
    assert rollup_level({"service", "team"}) is WIDE
    assert rollup_level({"usage_type", "project"}) is WIDE
    assert rollup_level({"tags"}) is FINE
    assert LEVELS[-1] is FINE


def test_every_level_answers_like_the_raw_rows(any_store: Store) -> None:
    load(any_store)
    periods = random_periods(12, seed=5)
    stored = (min(row["day"] for row in SAMPLE), max(row["day"] for row in SAMPLE))
    assert any(plan_stored(*period, *stored, fold=True).minus for period in periods)
    with any_store.session() as session:
        assert cost_rollup_usable(session)
        for index, (start, end) in enumerate(periods):
            previous = (start - timedelta(days=30 + index), end - timedelta(days=30 + index))
            filters = FILTERS[index % len(FILTERS)]
            cost_type = "unblended" if index % 3 == 0 else "amortized"
            for group in GROUPINGS:
                current, before = q.period_sums(
                    session,
                    groups=[group],
                    periods=[(start, end), previous],
                    cost_type=cost_type,  # type: ignore[arg-type]
                    filters=filters,
                )
                expected = reference(SAMPLE, start, end, [group], filters, cost_type)
                assert_same_to_the_cent(current, expected)
                expected = reference(SAMPLE, *previous, [group], filters, cost_type)
                assert_same_to_the_cent(before, expected)


def test_two_column_groupings_and_service_lists_match_the_raw_rows(any_store: Store) -> None:
    load(any_store)
    with any_store.session() as session:
        for start, end in random_periods(8, seed=8):
            for groups in (["service", "team"], ["team", "provider"], ["region", "usage_type"]):
                (found,) = q.period_sums(session, groups=groups, periods=[(start, end)])
                assert_same_to_the_cent(found, reference(SAMPLE, start, end, groups))
            (found,) = q.period_sums(
                session, groups=["team"], periods=[(start, end)], services=["S3", "RDS"]
            )
            some = [row for row in SAMPLE if row["service"] in ("S3", "RDS")]
            assert_same_to_the_cent(found, reference(some, start, end, ["team"]))


def test_daily_series_come_from_the_day_grains_exactly(any_store: Store) -> None:
    load(any_store)
    start, end = FIRST + timedelta(days=40), FIRST + timedelta(days=130)
    with any_store.session() as session:
        for filters in FILTERS:
            for dimensions in ((), ("team",), ("service", "region", "account"), ("usage_type",)):
                series = q.daily_cost_by(
                    session, start=start, end=end, dimensions=dimensions, filters=filters
                )
                found = {
                    (*key, day): amount
                    for key, points in series.items()
                    for day, amount in points.items()
                    if amount
                }
                expected = reference(SAMPLE, start, end, [*dimensions, "day"], filters)
                assert_same_to_the_cent(found, expected)
            daily = q.daily_cost(session, start=start, end=end, filters=filters)
            assert [day for day, _ in daily] == sorted(day for day, _ in daily)
            assert_same_to_the_cent(
                {(day,): amount for day, amount in daily if amount},
                reference(SAMPLE, start, end, ["day"], filters),
            )


def test_owning_teams_are_the_largest_share(any_store: Store) -> None:
    load(any_store)
    start, end = FIRST + timedelta(days=10), FIRST + timedelta(days=70)
    dimensions = ["service", "region", "account"]
    with any_store.session() as session:
        owners = q.owning_teams(session, start=start, end=end, dimensions=dimensions)
    shares = reference(SAMPLE, start, end, [*dimensions, "team"])
    for key, owner in owners.items():
        best = max(amount for found, amount in shares.items() if found[:-1] == key)
        assert shares[(*key, owner)] == pytest.approx(best, abs=0.01)


def test_a_rollup_of_a_former_layout_is_not_used_until_the_refresh_adds_the_levels(
    any_store: Store,
) -> None:
    load(any_store)
    start, end = FIRST + timedelta(days=3), FIRST + timedelta(days=200)
    with any_store.session() as session:  # as a build of the fine-only layout left it
        session.execute(sa.delete(CostRollup).where(CostRollup.grain.notin_(FINE.grains)))
        session.execute(sa.delete(StoreState).where(StoreState.key == LAYOUT_KEY))
    with any_store.session() as session:
        assert not cost_rollup_usable(session)
        (found,) = q.period_sums(session, groups=["service"], periods=[(start, end)])
        assert_same_to_the_cent(found, reference(SAMPLE, start, end, ["service"]))
    with any_store.session() as session:
        assert refresh_cost_rollup(session) > 0
    with any_store.session() as session:
        assert cost_rollup_usable(session)
        grains = set(session.scalars(sa.select(CostRollup.grain).distinct()))
        assert grains == {grain for level in LEVELS for grain in level.grains}
        (found,) = q.period_sums(session, groups=["service"], periods=[(start, end)])
        assert_same_to_the_cent(found, reference(SAMPLE, start, end, ["service"]))
        assert refresh_cost_rollup(session) == 0  # nothing left to do


def test_a_write_rebuilds_the_days_months_and_weeks_of_every_level(any_store: Store) -> None:
    load(any_store)
    day = FIRST + timedelta(days=150)
    changed = [
        SAMPLE[0] | {"day": day, "amortized_cost": 5000.0},  # restated and moved
        SAMPLE[1] | {"source_id": "new", "day": day, "team": "NEW", "amortized_cost": 77.5},
    ]
    sample = [*changed, *SAMPLE[2:]]
    start, end = month_start(day) - timedelta(days=9), next_month(day) + timedelta(days=4)
    with any_store.session() as session:
        upsert(session, "cost_daily", changed)
    with any_store.session() as session:
        assert not cost_rollup_usable(session)
        assert refresh_cost_rollup(session) > 0
    with any_store.session() as session:
        assert cost_rollup_usable(session)
        for groups in (["team"], ["service"], ["usage_type"], ["tag:env"]):
            (found,) = q.period_sums(session, groups=groups, periods=[(start, end)])
            assert_same_to_the_cent(found, reference(sample, start, end, groups))
        series = q.daily_cost_by(session, start=start, end=end, dimensions=("team",))
        assert series[("NEW",)] == {day: pytest.approx(77.5)}


@given(
    start=st.integers(min_value=-40, max_value=140),
    length=st.integers(min_value=0, max_value=120),
    first=st.integers(min_value=0, max_value=30),
    stored=st.integers(min_value=0, max_value=90),
    fold=st.booleans(),
)
def test_a_stored_plan_counts_every_stored_day_of_the_period_once(
    start: int, length: int, first: int, stored: int, fold: bool
) -> None:
    origin = date(2025, 3, 1)
    low, high = origin + timedelta(days=start), origin + timedelta(days=start + length)
    first_day, last_day = origin + timedelta(days=first), origin + timedelta(days=first + stored)
    plan = plan_stored(low, high, first_day, last_day, fold=fold)
    times: dict[date, int] = defaultdict(int)
    for month in plan.months:
        for offset in range((next_month(month) - month).days):
            times[month + timedelta(days=offset)] += 1
    for monday in plan.weeks:
        for offset in range(7):
            times[monday + timedelta(days=offset)] += 1
    for sign, spans in ((1, plan.days), (-1, plan.minus)):
        for since, until in spans:
            assert first_day <= since <= until <= last_day  # loose days are stored days
            for offset in range((until - since).days + 1):
                times[since + timedelta(days=offset)] += sign
    if not fold:
        assert not plan.minus
    for offset in range(stored + 1):
        day = first_day + timedelta(days=offset)
        assert times[day] == (1 if low <= day <= high else 0), day
