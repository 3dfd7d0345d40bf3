"""Cost anomalies: a weekly cycle is normal, a step is not; impact and severity by hand."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from cto_assistant.analytics.anomaly import AnomalyRules, detect, detect_all

START = date(2026, 1, 5)  # a Monday


def cycle(weeks: int = 8) -> dict[date, float]:
    return {
        START + timedelta(days=i): (40.0 if (START + timedelta(days=i)).weekday() >= 5 else 100.0)
        for i in range(weeks * 7)
    }


def test_a_weekly_cycle_is_not_an_anomaly() -> None:
    series = cycle()
    last = max(series)
    assert detect(series, start=last - timedelta(days=27), end=last, dimension={}) == []


def test_a_step_is_an_anomaly_with_hand_computed_impact() -> None:
    series = cycle()
    last = max(series)  # a Sunday; the step covers Wed-Fri of the last week
    for offset in (4, 3, 2):
        series[last - timedelta(days=offset)] *= 1.5
    found = detect(
        series,
        start=last - timedelta(days=13),
        end=last,
        dimension={"service": "S3"},
        rules=AnomalyRules(min_impact=100, medium_impact=120, high_impact=1_000),
    )
    assert len(found) == 1
    anomaly = found[0]
    assert (anomaly.start_day, anomaly.end_day) == (
        last - timedelta(days=4),
        last - timedelta(days=2),
    )
    assert anomaly.expected == 300 and anomaly.actual == 450 and anomaly.impact == 150
    assert anomaly.severity == "medium"
    assert anomaly.max_z == pytest.approx(50 / 2)  # spread floored at 2% of the median


def test_min_impact_keeps_noise_out() -> None:
    series = cycle()
    last = max(series)
    series[last - timedelta(days=3)] = 130.0  # +30: anomalous by z, too small by money
    assert detect(series, start=last - timedelta(days=6), end=last, dimension={}) == []
    found = detect(
        series,
        start=last - timedelta(days=6),
        end=last,
        dimension={},
        rules=AnomalyRules(min_impact=25),
    )
    assert [a.impact for a in found] == [30]


def test_a_past_spike_does_not_move_the_median_baseline() -> None:
    series = cycle()
    last = max(series)
    series[last - timedelta(days=14)] = 1_000.0  # a spike two weeks ago, same weekday
    series[last] = 200.0
    found = detect(series, start=last, end=last, dimension={}, rules=AnomalyRules(min_impact=50))
    assert found[0].expected == 40.0 and found[0].impact == 160.0


def test_detect_all_ranks_by_impact() -> None:
    small, big = cycle(), cycle()
    last = max(small)
    small[last - timedelta(days=2)] = 300.0
    big[last - timedelta(days=2)] = 900.0
    found = detect_all(
        {("a",): small, ("b",): big},
        dimensions=("service",),
        start=last - timedelta(days=6),
        end=last,
    )
    assert [a.dimension["service"] for a in found] == ["b", "a"]
