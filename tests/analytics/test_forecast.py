"""Month-end projection on synthetic series with hand-computed answers, and its backtest."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from cto_assistant.analytics.forecast import (
    backtest,
    calibrated_half_width,
    past_errors,
    project_month,
)


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


def test_conformal_half_width_is_the_rank_ceil_k_plus_1_times_confidence() -> None:
    errors = [0.01, -0.02, 0.03, -0.04, 0.05]
    # k = 5: rank ceil(6 x 0.8) = 5, the largest |error|
    assert calibrated_half_width(errors, 1_000, 0.8) == pytest.approx(50)
    assert calibrated_half_width(errors[:4], 1_000, 0.8) is None  # too few months to say
    nine = [0.01 * i for i in range(1, 10)]  # rank ceil(10 x 0.8) = 8 -> 0.08
    assert calibrated_half_width(nine, 2_000, 0.8) == pytest.approx(160)
    assert calibrated_half_width([-e for e in nine], 2_000, 0.5) == pytest.approx(100)  # rank 5


def _shocked(day: date) -> float:
    """A weekly cycle whose level jumps on the 16th of every month, up or down by 4-8%."""
    shock = (0.04 + 0.01 * (day.month % 5)) * (1 if day.month % 2 else -1)
    return weekly(day) * (1 + shock if day.day >= 16 else 1)


def test_month_level_surprises_widen_the_interval_to_past_errors() -> None:
    history = _series(date(2025, 1, 1), date(2026, 3, 10), _shocked)
    model = project_month(history, through=date(2026, 3, 10), calibration=())
    served = project_month(history, through=date(2026, 3, 10))
    errors = past_errors(dict(history), day_of_month=10, before=date(2026, 3, 1))
    assert len(errors) == 12  # Feb 2025 .. Feb 2026 has 13 complete months; the last 12 count
    assert max(abs(e) for e in errors) > 0.015  # a day-10 projection misses the mid-month jump
    assert served.projected_total == pytest.approx(model.projected_total)
    half = calibrated_half_width(errors, served.projected_total, served.confidence)
    assert half is not None and half > model.upper - model.projected_total
    assert served.interval_method == "calibrated" and served.calibration_months == 12
    assert served.upper == pytest.approx(served.projected_total + half)
    assert served.lower == pytest.approx(served.projected_total - half)


def test_backtest_scores_the_interval_as_it_was_served_then() -> None:
    history = _series(date(2025, 1, 1), date(2026, 3, 31), _shocked)
    result = backtest(history)
    for point in result.points[-4:]:
        through = point.month.replace(day=point.cutoff_day)
        then = project_month([(d, a) for d, a in history if d <= through], through=through)
        assert (point.lower, point.upper) == (
            pytest.approx(then.lower),
            pytest.approx(then.upper),
        )
    calibrated = [p for p in result.points if p.month >= date(2025, 8, 1)]
    model_hits = sum(
        (lambda m: m.lower <= p.actual <= m.upper)(
            project_month(history, through=p.month.replace(day=p.cutoff_day), calibration=())
        )
        for p in calibrated
    )
    served_hits = sum(p.within_interval for p in calibrated)
    assert served_hits > model_hits
    assert served_hits / len(calibrated) >= 0.8
