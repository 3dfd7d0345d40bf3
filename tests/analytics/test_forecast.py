"""Month-end projection on synthetic series with hand-computed answers, and its backtest."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from cto_assistant.analytics.forecast import backtest, project_month


def _series(start: date, end: date, value) -> list[tuple[date, float]]:
    out = []
    day = start
    while day <= end:
        out.append((day, float(value(day))))
        day += timedelta(days=1)
    return out


def weekly(day: date) -> float:
    return 50.0 if day.weekday() >= 5 else 100.0


def test_weekly_cycle_projects_exactly() -> None:
    # March 2026: the 1st is a Sunday; 22 weekdays x 100 + 9 weekend days x 50 = 2,650.
    history = _series(date(2026, 1, 1), date(2026, 3, 10), weekly)
    projection = project_month(
        history, through=date(2026, 3, 10), budget=2_500, last_month_total=2_400
    )
    assert projection.month_to_date == pytest.approx(7 * 100 + 3 * 50)  # Mar 1-10
    assert projection.projected_total == pytest.approx(2_650)
    assert projection.weekday_factors[0] == pytest.approx(100 / (600 / 7))
    assert projection.weekday_factors[6] == pytest.approx(50 / (600 / 7))
    assert projection.daily_trend == pytest.approx(0, abs=1e-9)
    assert projection.lower == pytest.approx(2_650) and projection.upper == pytest.approx(2_650)
    assert projection.over_budget is True and projection.vs_budget == pytest.approx(150)
    assert projection.vs_last_month_pct == pytest.approx(250 / 2_400)
    assert projection.days_remaining == 21


def test_linear_trend_is_extrapolated() -> None:
    # y = 100 + t (t = days since Jan 1): the rest of March is sum(100 + t) for t = 69..89.
    origin = date(2026, 1, 1)
    history = _series(origin, date(2026, 3, 10), lambda d: 100 + (d - origin).days)
    projection = project_month(history, through=date(2026, 3, 10))
    mtd = sum(100 + t for t in range(59, 69))
    rest = sum(100 + t for t in range(69, 90))
    assert projection.daily_trend == pytest.approx(1.0)
    assert projection.projected_total == pytest.approx(mtd + rest)


def test_noise_widens_the_interval() -> None:
    history = _series(date(2026, 1, 1), date(2026, 3, 10), lambda d: 100 + (7 if d.day % 2 else -7))
    projection = project_month(history, through=date(2026, 3, 10))
    assert projection.lower < projection.projected_total < projection.upper
    assert projection.confidence == pytest.approx(0.8, abs=0.001)


def test_backtest_reports_mape_at_days_7_14_21() -> None:
    history = _series(date(2025, 1, 1), date(2025, 12, 31), weekly)
    result = backtest(history)
    assert set(result.mape_by_cutoff) == {7, 14, 21}
    assert result.months == 11  # January has no history before it
    for value in result.mape_by_cutoff.values():
        assert value == pytest.approx(0, abs=1e-9)
    step = [(d, a * (1.5 if d >= date(2025, 6, 20) else 1)) for d, a in history]
    shaken = backtest(step)
    june = [p for p in shaken.points if p.month == date(2025, 6, 1)]
    assert {p.cutoff_day for p in june} == {7, 14, 21}
    assert all(p.abs_pct_error > 0 for p in june if p.cutoff_day < 20)
