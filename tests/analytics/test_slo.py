"""SLOs: budget arithmetic and burn-rate alerts firing and not firing exactly at thresholds."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta

import pytest

from cto_assistant.analytics.slo import (
    WORKBOOK_RULES,
    SliPoint,
    as_dict,
    burn_factor,
    evaluate,
    evaluate_sums,
    window_end,
    window_sums,
    windows,
)

NOW = datetime(2026, 3, 18, 12, tzinfo=UTC)
TARGET = 0.999


def points(bad_recent: int, *, recent_minutes: int = 60, bad_before: int = 0) -> list[SliPoint]:
    """5-minute buckets of 10,000 events for 3 days; the last `recent_minutes` have `bad_recent`
    bad events per bucket, the rest `bad_before`."""
    found = []
    moment = NOW - timedelta(days=3)
    while moment < NOW:
        recent = moment >= NOW - timedelta(minutes=recent_minutes)
        bad = bad_recent if recent else bad_before
        found.append(SliPoint(at=moment, good=10_000 - bad, total=10_000))
        moment += timedelta(minutes=5)
    return found


def run(pts: list[SliPoint], window_days: int = 30):
    return evaluate(
        name="api availability",
        service="api",
        target=TARGET,
        window_days=window_days,
        points=pts,
        now=NOW,
    )


@pytest.mark.parametrize(
    ("rule", "days", "factor"),
    [
        ("page-1h", 30, 14.4),
        ("page-6h", 30, 6.0),
        ("ticket-1d", 30, 3.0),
        ("ticket-3d", 30, 1.0),
        ("page-1h", 7, 3.36),
        ("page-1h", 28, 13.44),
    ],
)
def test_factors_follow_the_workbook_and_scale_with_the_window(
    rule: str, days: int, factor: float
) -> None:
    (found,) = [r for r in WORKBOOK_RULES if r.name == rule]
    assert burn_factor(found, days) == pytest.approx(factor)


def test_page_fires_exactly_at_14_4x() -> None:
    # 144 bad of 10,000 = 1.44% = 14.4 x the 0.1% budget, over the last hour (and its last 5 min)
    status = run(points(144))
    page = next(a for a in status.alerts if a.name == "page-1h")
    assert page.long_burn == pytest.approx(14.4) and page.short_burn == pytest.approx(14.4)
    assert page.firing
    assert status.status == "burning"


def test_page_does_not_fire_just_below_14_4x() -> None:
    status = run(points(143))
    assert not next(a for a in status.alerts if a.name == "page-1h").firing


def test_page_needs_both_windows() -> None:
    # a burst in the last 5 minutes only: the short window burns, the hour does not
    status = run(points(1_000, recent_minutes=5))
    page = next(a for a in status.alerts if a.name == "page-1h")
    assert page.short_burn == pytest.approx(100) and page.long_burn == pytest.approx(100 / 12)
    assert not page.firing


def test_ticket_fires_at_1x_over_3_days_and_6_hours() -> None:
    status = run(points(10, bad_before=10))  # exactly 1x everywhere
    states = {a.name: a.firing for a in status.alerts}
    assert states == {"page-1h": False, "page-6h": False, "ticket-1d": False, "ticket-3d": True}
    assert status.status == "at_risk"


def test_budget_and_exhaustion() -> None:
    status = run(points(20, bad_before=5))
    # window: 3 days of data; 12 recent buckets at 0.2%, 852 earlier at 0.05%
    bad = 12 * 20 + (864 - 12) * 5
    sli = 1 - bad / (864 * 10_000)
    assert status.sli == pytest.approx(sli)
    assert status.budget_consumed == pytest.approx((1 - sli) / 0.001)
    assert status.burn_rate_1h == pytest.approx(2.0)
    remaining = 1 - (1 - sli) / 0.001
    assert status.hours_to_exhaustion == pytest.approx(remaining * 720 / 2.0)
    assert status.exhaustion_at == NOW + timedelta(hours=status.hours_to_exhaustion or 0)


def test_no_points_is_no_data() -> None:
    assert run([]).status == "no_data"


def test_sums_evaluate_like_points_and_dict_like_asdict() -> None:
    pts = points(20, bad_before=5)
    spans = windows(30)
    sums = window_sums(pts, now=NOW, spans=spans)
    assert sums is not None and set(sums.events) == spans
    from_sums = evaluate_sums(
        name="api availability", service="api", target=TARGET, window_days=30, sums=sums, now=NOW
    )
    assert from_sums == run(pts)
    assert as_dict(from_sums) == asdict(from_sums)


def test_windows_end_at_the_newest_bucket_end_not_after_now() -> None:
    newest = NOW - timedelta(hours=2)
    assert window_end(newest, newest - timedelta(hours=1), NOW) == NOW - timedelta(hours=1)
    assert window_end(newest, None, NOW) == newest + timedelta(minutes=5)
    assert window_end(newest, newest, NOW) == newest  # two buckets at one moment: no width
    assert window_end(NOW - timedelta(minutes=1), NOW - timedelta(minutes=6), NOW) == NOW
