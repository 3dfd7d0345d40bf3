"""Cost anomalies: days that cost far more than the same weekday usually does.

For every daily series (one per service x region x account, and one per team) and every day of
the detection window, the baseline is the same weekday over the previous `baseline_weeks` weeks:
its median is the expected cost and its median absolute deviation (MAD, scaled by 1.4826 to
match a standard deviation) the spread. A day is anomalous when its robust z-score
`(actual - median) / spread` reaches `z_threshold` and it costs more than expected. A weekly
cycle is therefore not an anomaly (each weekday is compared with itself), and one past spike
in the baseline does not move a median. Consecutive anomalous days of a series form one
anomaly; it is kept only when its money impact (actual - expected, summed) reaches
`min_impact`, and its severity comes from that impact.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal

MAD_TO_SD = 1.4826
Severity = Literal["high", "medium", "low"]


@dataclass(frozen=True, slots=True)
class AnomalyDay:
    """One anomalous day with its baseline."""

    day: date
    actual: float
    expected: float
    spread: float
    z: float


@dataclass(frozen=True, slots=True)
class CostAnomaly:
    """A run of anomalous days of one series, with its money impact and the evidence."""

    dimension: dict[str, str | None]
    start_day: date
    end_day: date
    actual: float
    expected: float
    impact: float
    max_z: float
    severity: Severity
    days: list[AnomalyDay] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class AnomalyRules:
    """The thresholds a detection ran with (carried in results so tooltips can quote them)."""

    baseline_weeks: int = 4
    min_baseline_points: int = 3
    z_threshold: float = 3.5
    min_impact: float = 100.0
    medium_impact: float = 500.0
    high_impact: float = 2_000.0
    spread_floor_ratio: float = 0.02  # spread is at least 2% of the median


def severity_for(impact: float, rules: AnomalyRules) -> Severity:
    """Severity by money impact: high ≥ rules.high_impact, medium ≥ rules.medium_impact."""
    if impact >= rules.high_impact:
        return "high"
    if impact >= rules.medium_impact:
        return "medium"
    return "low"


def baseline(
    series: Mapping[date, float], day: date, *, first_day: date, rules: AnomalyRules
) -> tuple[float, float] | None:
    """(median, spread) of the same weekday over the previous weeks; None if too few points.

    Days before `first_day` (the series did not exist yet) are skipped; later days without a
    row count as zero spend.
    """
    values = []
    for week in range(1, rules.baseline_weeks + 1):
        past = day - timedelta(days=7 * week)
        if past >= first_day:
            values.append(series.get(past, 0.0))
    if len(values) < rules.min_baseline_points:
        return None
    median = _median(values)
    mad = _median([abs(value - median) for value in values])
    spread = max(MAD_TO_SD * mad, rules.spread_floor_ratio * abs(median), 0.01)
    return median, spread


def _median(values: list[float]) -> float:
    """The median of a few values (statistics.median's result, without its overhead)."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def detect(
    series: Mapping[date, float],
    *,
    start: date,
    end: date,
    dimension: Mapping[str, str | None],
    rules: AnomalyRules | None = None,
    first_day: date | None = None,
) -> list[CostAnomaly]:
    """Anomalies of one daily series between `start` and `end` (inclusive)."""
    rules = rules or AnomalyRules()
    if first_day is None:
        first_day = min(series, default=start)
    runs: list[list[AnomalyDay]] = []
    current: list[AnomalyDay] = []
    day = start
    while day <= end:
        flagged = _check(series, day, first_day, rules)
        if flagged is not None:
            current.append(flagged)
        elif current:
            runs.append(current)
            current = []
        day += timedelta(days=1)
    if current:
        runs.append(current)
    found = []
    for run in runs:
        actual = sum(point.actual for point in run)
        expected = sum(point.expected for point in run)
        impact = actual - expected
        if impact < rules.min_impact:
            continue
        found.append(
            CostAnomaly(
                dimension=dict(dimension),
                start_day=run[0].day,
                end_day=run[-1].day,
                actual=actual,
                expected=expected,
                impact=impact,
                max_z=max(point.z for point in run),
                severity=severity_for(impact, rules),
                days=run,
            )
        )
    return found


def _check(
    series: Mapping[date, float], day: date, first_day: date, rules: AnomalyRules
) -> AnomalyDay | None:
    if day < first_day:
        return None
    base = baseline(series, day, first_day=first_day, rules=rules)
    if base is None:
        return None
    median, spread = base
    actual = series.get(day, 0.0)
    z = (actual - median) / spread
    if z >= rules.z_threshold and actual > median:
        return AnomalyDay(day=day, actual=actual, expected=median, spread=spread, z=z)
    return None


def detect_all(
    series_by_key: Mapping[tuple[str | None, ...], Mapping[date, float]],
    *,
    dimensions: tuple[str, ...],
    start: date,
    end: date,
    rules: AnomalyRules | None = None,
) -> list[CostAnomaly]:
    """Anomalies of many series keyed by dimension values, largest impact first."""
    found: list[CostAnomaly] = []
    for key, series in series_by_key.items():
        dimension = dict(zip(dimensions, key, strict=True))
        found.extend(detect(series, start=start, end=end, dimension=dimension, rules=rules))
    found.sort(
        key=lambda a: (-a.impact, a.start_day, sorted((k, v or "") for k, v in a.dimension.items()))
    )
    return found
