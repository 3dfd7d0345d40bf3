"""The cost rollup: answers equal the raw rows' to the cent, and it is never trusted when stale."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cto_assistant.store import Store, open_store
from cto_assistant.store.db import upsert
from cto_assistant.store.models import CostDaily
from cto_assistant.store.queries import operations as q
from cto_assistant.store.rollup import (
    bump_data_version,
    cost_rollup_usable,
    data_version,
    plan_period,
    refresh_cost_rollup,
)

FIRST = date(2025, 1, 1)
DAYS = 400
SERVICES = ["S3", "EC2", "RDS", None]
REGIONS = ["us-east-1", "eu-west-1"]
TEAMS = ["PLAT", "DATA", None]


def rows(count: int, seed: int = 3) -> list[dict[str, Any]]:
    """Random cost rows over DAYS days, with credits, tags and missing owners."""
    rng = random.Random(seed)
    found = []
    for i in range(count):
        team = rng.choice(TEAMS)
        project = rng.choice(["pipeline", "web", None])
        amount = round(rng.uniform(-5, 200), 4)
        found.append(
            {
                "source": "aws",
                "source_id": f"r{i}",
                "day": FIRST + timedelta(days=rng.randrange(DAYS)),
                "provider": rng.choice(["aws", "gcp"]),
                "account": rng.choice(["111", "222"]),
                "service": rng.choice(SERVICES),
                "region": rng.choice(REGIONS),
                "usage_type": rng.choice(["Storage", "Requests"]),
                "tags": {"team": team, "project": project, "env": rng.choice(["prod", "dev"])},
                "team": team,
                "project": project,
                "amortized_cost": amount,
                "unblended_cost": round(amount * rng.uniform(0.8, 1.2), 4),
            }
        )
    return found


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    store = open_store(f"sqlite:///{Path(tmp_path_factory.mktemp('rollup')) / 'cto.db'}")
    with store.session() as session:
        upsert(session, "cost_daily", rows(6000))
        refresh_cost_rollup(session)
    yield store
    store.dispose()


def raw_totals(
    session: sa.orm.Session, start: date, end: date, group_by: str, cost_type: str
) -> dict[Any, float]:
    """The reference: every raw row of the period summed in Python."""
    expression = q.group_expression(group_by)
    cost = CostDaily.unblended_cost if cost_type == "unblended" else CostDaily.amortized_cost
    found: dict[Any, float] = defaultdict(float)
    for key, amount in session.execute(
        sa.select(expression, cost).where(CostDaily.day >= start, CostDaily.day <= end)
    ):
        found[key] += amount
    return {key: amount for key, amount in found.items() if amount}


def assert_same_to_the_cent(found: dict[Any, float], expected: dict[Any, float]) -> None:
    assert set(found) == set(expected)
    for key, amount in expected.items():
        assert round(found[key], 2) == pytest.approx(round(amount, 2), abs=0.011), key


periods = st.tuples(
    st.integers(min_value=-20, max_value=DAYS + 20), st.integers(min_value=0, max_value=380)
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    period=periods,
    previous_shift=st.integers(min_value=1, max_value=200),
    group_by=st.sampled_from(["service", "region", "team", "provider", "account", "tag:env"]),
    cost_type=st.sampled_from(["amortized", "unblended"]),
)
def test_rollup_answers_equal_raw_rows_for_any_period_and_grouping(
    store: Store, period: tuple[int, int], previous_shift: int, group_by: str, cost_type: str
) -> None:
    start = FIRST + timedelta(days=period[0])
    end = start + timedelta(days=period[1])
    previous_start = start - timedelta(days=previous_shift)
    previous_end = previous_start + timedelta(days=period[1])
    with store.session() as session:
        assert cost_rollup_usable(session)
        current, previous = q.cost_by_group_two_periods(
            session,
            start=start,
            end=end,
            previous_start=previous_start,
            previous_end=previous_end,
            group_by=group_by,
            cost_type=cost_type,  # type: ignore[arg-type]
        )
        assert_same_to_the_cent(current, raw_totals(session, start, end, group_by, cost_type))
        assert_same_to_the_cent(
            previous, raw_totals(session, previous_start, previous_end, group_by, cost_type)
        )


@given(
    start=st.integers(min_value=0, max_value=800), length=st.integers(min_value=0, max_value=500)
)
def test_a_period_plan_covers_every_day_exactly_once(start: int, length: int) -> None:
    first = date(2024, 1, 1) + timedelta(days=start)
    last = first + timedelta(days=length)
    plan = plan_period(first, last)
    covered: list[date] = []
    for month in plan.months:
        day = month
        while day.month == month.month:
            covered.append(day)
            day += timedelta(days=1)
    for monday in plan.weeks:
        assert monday.weekday() == 0
        covered.extend(monday + timedelta(days=i) for i in range(7))
    for low, high in plan.days:
        covered.extend(low + timedelta(days=i) for i in range((high - low).days + 1))
    assert sorted(covered) == [first + timedelta(days=i) for i in range(length + 1)]
    assert sum((high - low).days + 1 for low, high in plan.days) <= 4 * 6 + (
        0 if plan.months or plan.weeks else length + 1
    )


def test_slices_usage_and_unowned_spend_match_raw_rows(store: Store) -> None:
    start, end = date(2025, 2, 3), date(2025, 11, 20)
    with store.session() as session:
        current, _ = q.slice_sums(
            session, start=start, end=end, previous_start=FIRST, previous_end=start
        )
        raw = raw_totals(session, start, end, "provider", "amortized")
        assert sum(current.values()) == pytest.approx(sum(raw.values()), abs=0.01)
        unowned, total, _ = q.unowned_cost(session, start=start, end=end)
        assert total == pytest.approx(sum(raw.values()), abs=0.01)
        expected_unowned = raw_totals(session, start, end, "team", "amortized").get(None, 0.0)
        assert unowned == pytest.approx(expected_unowned, abs=0.01)


def test_a_write_after_the_refresh_sends_queries_to_raw_rows_until_the_next_refresh(
    tmp_path: Path,
) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'cto.db'}")
    start, end = FIRST, FIRST + timedelta(days=DAYS)
    with store.session() as session:
        upsert(session, "cost_daily", rows(500))
        assert not cost_rollup_usable(session)  # never built
        refresh_cost_rollup(session)
        assert cost_rollup_usable(session)
    with store.session() as session:  # a restated amount: same row, new value
        restated = rows(500)[0] | {"amortized_cost": 1_000_000.0}
        upsert(session, "cost_daily", [restated])
        assert not cost_rollup_usable(session)
        current, _ = q.cost_by_group_two_periods(
            session, start=start, end=end, previous_start=start, previous_end=end,
            group_by="provider",
        )  # fmt: skip
        assert_same_to_the_cent(current, raw_totals(session, start, end, "provider", "amortized"))
    with store.session() as session:
        assert refresh_cost_rollup(session) > 0
        assert cost_rollup_usable(session)
        current, _ = q.cost_by_group_two_periods(
            session, start=start, end=end, previous_start=start, previous_end=end,
            group_by="provider",
        )  # fmt: skip
        assert_same_to_the_cent(current, raw_totals(session, start, end, "provider", "amortized"))
    with store.session() as session:  # rows inserted behind the store's back
        session.execute(sa.insert(CostDaily.__table__), [rows(501)[500] | {"source_id": "x"}])
        assert not cost_rollup_usable(session)
    store.dispose()


def test_the_data_version_only_moves_forward(sqlite_store: Store) -> None:
    with sqlite_store.session() as session:
        assert data_version(session) == 0
        assert bump_data_version(session) == 1
        assert bump_data_version(session) == 2
