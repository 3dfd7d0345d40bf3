"""Month-end spend projection: month to date plus a seasonal, trending forecast of the rest.

The model, in words (docs/metrics/operations.md has the definitions):
- weekday factors: over the last whole weeks (up to 8), each day's spend divided by the centred
  7-day average around it, averaged per weekday and normalised to a mean of 1; so a quiet
  weekend is expected, not extrapolated, and a trend does not leak into the factors;
- deseasonalised spend = spend / its weekday factor;
- level = mean deseasonalised spend of the last 7 days (centred 3 days before the cutoff);
- trend = least-squares slope of deseasonalised spend over the last 28 days;
- forecast for day h after the cutoff = (level + trend x (h + 3)) x weekday factor;
- interval (80% by default) from the residual spread around the trend line: daily noise, the
  level's uncertainty and the slope's standard error, added in quadrature.
`backtest` replays the projection at day 7, 14 and 21 of every complete month in the history
and reports the mean absolute percentage error against what the month really cost.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from cto_assistant.analytics.cost import change_ratio
from cto_assistant.analytics.timeutil import days_in_month, month_start, next_month_start

SEASON_WEEKS = 8
TREND_DAYS = 28
LEVEL_DAYS = 7
Z_80 = 1.2816


@dataclass(frozen=True, slots=True)
class Projection:
    """A month-end projection with its inputs, so a tooltip can say how it was made."""

    month_start: date
    through: date
    days_elapsed: int
    days_remaining: int
    month_to_date: float
    forecast_remaining: float
    projected_total: float
    lower: float
    upper: float
    confidence: float
    weekday_factors: tuple[float, ...]  # Monday … Sunday
    level: float
    daily_trend: float
    residual_sd: float
    history_days: int
    daily_forecast: list[tuple[date, float]] = field(default_factory=list)
    last_month_total: float | None = None
    vs_last_month_pct: float | None = None
    budget: float | None = None
    vs_budget: float | None = None  # projected - budget
    over_budget: bool | None = None


def project_month(
    history: Sequence[tuple[date, float]] | Mapping[date, float],
    *,
    through: date,
    last_month_total: float | None = None,
    budget: float | None = None,
    z: float = Z_80,
) -> Projection:
    """Project the total of `through`'s month from daily totals up to `through` (inclusive)."""
    by_day = dict(history.items()) if isinstance(history, Mapping) else dict(history)
    by_day = {day: amount for day, amount in by_day.items() if day <= through}
    first = min(by_day, default=through)
    start = month_start(through)
    mtd = sum(amount for day, amount in by_day.items() if day >= start)

    def value(day: date) -> float:
        return by_day.get(day, 0.0) if day >= first else math.nan

    available = (through - first).days + 1
    weeks = min(SEASON_WEEKS, available // 7)
    factors = _weekday_factors([(d, value(d)) for d in _span(through, weeks * 7 + 3)])
    trend_span = min(TREND_DAYS, available)
    deseason = [(d, value(d) / factors[d.weekday()]) for d in _span(through, trend_span)]
    level_span = [v for _, v in deseason if not math.isnan(v)][-LEVEL_DAYS:]
    level = sum(level_span) / len(level_span) if level_span else 0.0
    lag = (len(level_span) - 1) / 2  # the level sits at the middle of its days
    slope, residual_sd, slope_se = _trend(deseason)
    remaining = (next_month_start(through) - through).days - 1
    daily: list[tuple[date, float]] = []
    noise_var = 0.0
    trend_weight = 0.0
    factor_sum = 0.0
    for h in range(1, remaining + 1):
        day = through + timedelta(days=h)
        factor = factors[day.weekday()]
        daily.append((day, max(0.0, (level + slope * (h + lag)) * factor)))
        noise_var += (factor * residual_sd) ** 2
        trend_weight += factor * (h + lag)
        factor_sum += factor
    forecast = sum(amount for _, amount in daily)
    level_var = (residual_sd * factor_sum) ** 2 / max(len(level_span), 1)
    half = z * math.sqrt(noise_var + level_var + (slope_se * trend_weight) ** 2)
    projected = mtd + forecast
    return Projection(
        month_start=start,
        through=through,
        days_elapsed=(through - start).days + 1,
        days_remaining=remaining,
        month_to_date=mtd,
        forecast_remaining=forecast,
        projected_total=projected,
        lower=max(mtd, projected - half),
        upper=projected + half,
        confidence=_confidence(z),
        weekday_factors=tuple(factors),
        level=level,
        daily_trend=slope,
        residual_sd=residual_sd,
        history_days=available,
        daily_forecast=daily,
        last_month_total=last_month_total,
        vs_last_month_pct=(
            change_ratio(projected, last_month_total) if last_month_total is not None else None
        ),
        budget=budget,
        vs_budget=projected - budget if budget is not None else None,
        over_budget=projected > budget if budget is not None else None,
    )


def _span(through: date, length: int) -> list[date]:
    return [through - timedelta(days=offset) for offset in range(length - 1, -1, -1)]


def _weekday_factors(points: list[tuple[date, float]]) -> list[float]:
    """Each weekday's mean ratio to the centred 7-day average, normalised to average 1.

    Dividing by the centred weekly average first keeps a trend out of the factors (classic
    ratio-to-moving-average decomposition); 1.0 everywhere when a weekday has no ratio.
    """
    values = [amount for _, amount in points]
    sums = [0.0] * 7
    counts = [0] * 7
    for index in range(3, len(points) - 3):
        window = values[index - 3 : index + 4]
        if any(math.isnan(v) for v in window):
            continue
        average = sum(window) / 7
        if average <= 0:
            continue
        weekday = points[index][0].weekday()
        sums[weekday] += values[index] / average
        counts[weekday] += 1
    if min(counts) == 0:
        return [1.0] * 7
    means = [total / count for total, count in zip(sums, counts, strict=True)]
    overall = sum(means) / 7
    if overall <= 0 or min(means) <= 0:
        return [1.0] * 7
    return [mean / overall for mean in means]


def _trend(points: list[tuple[date, float]]) -> tuple[float, float, float]:
    """Least-squares slope per day, residual standard deviation and the slope's standard error."""
    values = [v for _, v in points if not math.isnan(v)]
    n = len(values)
    if n < 3:
        return 0.0, 0.0, 0.0
    xs = [float(i) for i, (_, v) in enumerate(points) if not math.isnan(v)]
    x_mean = sum(xs) / n
    y_mean = sum(values) / n
    sxx = sum((x - x_mean) ** 2 for x in xs)
    slope = sum((x - x_mean) * (y - y_mean) for x, y in zip(xs, values, strict=True)) / sxx
    intercept = y_mean - slope * x_mean
    sse = sum((y - intercept - slope * x) ** 2 for x, y in zip(xs, values, strict=True))
    sd = math.sqrt(sse / (n - 2))
    return slope, sd, sd / math.sqrt(sxx)


def _confidence(z: float) -> float:
    return math.erf(z / math.sqrt(2))


@dataclass(frozen=True, slots=True)
class BacktestPoint:
    """One replayed projection: made at `cutoff_day` of `month`, against the actual total."""

    month: date
    cutoff_day: int
    projected: float
    actual: float
    abs_pct_error: float
    within_interval: bool


@dataclass(frozen=True, slots=True)
class Backtest:
    """Mean absolute percentage error of projections made at given days of past months."""

    mape_by_cutoff: dict[int, float | None]
    months: int
    points: list[BacktestPoint]
    coverage: float | None  # share of actual totals that fell inside the interval


def backtest(
    history: Sequence[tuple[date, float]] | Mapping[date, float],
    *,
    cutoffs: Sequence[int] = (7, 14, 21),
    min_history_days: int = 28,
) -> Backtest:
    """Replay `project_month` at each cutoff day of every complete month of `history`."""
    by_day = dict(history.items()) if isinstance(history, Mapping) else dict(history)
    if not by_day:
        return Backtest({cutoff: None for cutoff in cutoffs}, 0, [], None)
    first, last = min(by_day), max(by_day)
    points: list[BacktestPoint] = []
    month = month_start(first)
    months = 0
    while next_month_start(month) - timedelta(days=1) <= last:
        month_end_day = next_month_start(month) - timedelta(days=1)
        if (month - first).days >= min_history_days:
            actual = sum(
                by_day.get(month + timedelta(days=i), 0.0) for i in range(days_in_month(month))
            )
            counted = False
            for cutoff in cutoffs:
                through = month.replace(day=min(cutoff, days_in_month(month)))
                if through >= month_end_day or actual <= 0:
                    continue
                projection = project_month(by_day, through=through)
                points.append(
                    BacktestPoint(
                        month=month,
                        cutoff_day=cutoff,
                        projected=projection.projected_total,
                        actual=actual,
                        abs_pct_error=abs(projection.projected_total - actual) / actual,
                        within_interval=projection.lower <= actual <= projection.upper,
                    )
                )
                counted = True
            months += counted
        month = next_month_start(month)
    mape: dict[int, float | None] = {}
    for cutoff in cutoffs:
        errors = [p.abs_pct_error for p in points if p.cutoff_day == cutoff]
        mape[cutoff] = sum(errors) / len(errors) if errors else None
    coverage = sum(p.within_interval for p in points) / len(points) if points else None
    return Backtest(mape_by_cutoff=mape, months=months, points=points, coverage=coverage)
