"""Month-end spend projection: month to date plus a seasonal, trending forecast of the rest.

The model, in words (docs/metrics/operations.md has the definitions):
- weekday factors: over the last whole weeks (up to 8), each day's spend divided by the centred
  7-day average around it, averaged per weekday and normalised to a mean of 1; so a quiet
  weekend is expected, not extrapolated, and a trend does not leak into the factors;
- deseasonalised spend = spend / its weekday factor;
- level = mean deseasonalised spend of the last 7 days (centred 3 days before the cutoff);
- trend = least-squares slope of deseasonalised spend over the last 28 days;
- forecast for day h after the cutoff = (level + trend x (h + 3)) x weekday factor;
- model interval (80% by default) from the residual spread around the trend line: daily noise,
  the level's uncertainty and the slope's standard error, added in quadrature;
- calibrated interval: daily residuals understate month-level surprises (a level shift lasts for
  days), so when the history holds at least `MIN_CALIBRATION` earlier months, the projection made
  on the same day of each of the last `CALIBRATION_MONTHS` months is replayed and its relative
  error against the real total kept; the half-width is then at least the split-conformal
  quantile of those errors (the ceil((k + 1) x confidence)-th smallest of k) times the
  projection. The interval is the wider of the two, and says which one it is.
`backtest` replays the projection at day 7, 14 and 21 of every complete month in the history
and reports the mean absolute percentage error against what the month really cost, and how
often the real total fell inside the interval as it would have been served then (calibrated on
the months before it only).
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
CALIBRATION_MONTHS = 12
MIN_CALIBRATION = 5
MIN_HISTORY_DAYS = 28  # a month is replayed only with this much history before it


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
    interval_method: str = "model"  # or "calibrated": widened to past months' errors
    calibration_months: int = 0  # earlier months whose errors were weighed


def project_month(
    history: Sequence[tuple[date, float]] | Mapping[date, float],
    *,
    through: date,
    last_month_total: float | None = None,
    budget: float | None = None,
    z: float = Z_80,
    calibration: Sequence[float] | None = None,
) -> Projection:
    """Project the total of `through`'s month from daily totals up to `through` (inclusive).

    The interval is widened to the relative errors the same projection made on the same day of
    earlier months (see the module docstring): `calibration` gives them, None replays them from
    `history` (which then needs those months), an empty list keeps the model's interval.
    """
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
    errors = (
        past_errors(by_day, day_of_month=through.day, before=start)
        if calibration is None
        else list(calibration)
    )
    widened = calibrated_half_width(errors, projected, _confidence(z))
    method = "calibrated" if widened is not None and widened > half else "model"
    half = max(half, widened or 0.0)
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
        interval_method=method,
        calibration_months=len(errors),
    )


def calibrated_half_width(
    errors: Sequence[float], projected: float, confidence: float
) -> float | None:
    """Split-conformal half-width from past relative errors; None below `MIN_CALIBRATION`.

    The ceil((k + 1) x confidence)-th smallest absolute error of k (the largest when that rank
    passes k) covers a new month with at least `confidence` if months are exchangeable.
    """
    if len(errors) < MIN_CALIBRATION:
        return None
    ranked = sorted(abs(e) for e in errors)
    rank = min(math.ceil((len(ranked) + 1) * confidence), len(ranked))
    return ranked[rank - 1] * abs(projected)


def _complete_months(by_day: Mapping[date, float], before: date) -> list[tuple[date, float]]:
    """(month start, real total) of each complete month before `before` with enough history."""
    if not by_day:
        return []
    first, last = min(by_day), max(by_day)
    months: list[tuple[date, float]] = []
    month = month_start(first)
    while month < before and next_month_start(month) - timedelta(days=1) <= last:
        if (month - first).days >= MIN_HISTORY_DAYS:
            days = days_in_month(month)
            total = sum(by_day.get(month + timedelta(days=i), 0.0) for i in range(days))
            if total > 0:
                months.append((month, total))
        month = next_month_start(month)
    return months


def _replay(by_day: Mapping[date, float], month: date, day_of_month: int) -> float | None:
    """The uncalibrated projection made on `day_of_month` of `month`; None on its last day."""
    through = month.replace(day=min(day_of_month, days_in_month(month)))
    if through >= next_month_start(month) - timedelta(days=1):
        return None
    return project_month(by_day, through=through, calibration=()).projected_total


def past_errors(
    by_day: Mapping[date, float],
    *,
    day_of_month: int,
    before: date,
    months: int = CALIBRATION_MONTHS,
) -> list[float]:
    """Relative errors (real / projected - 1) of the projections made on `day_of_month` of the
    last `months` complete months before `before`."""
    errors: list[float] = []
    for month, actual in _complete_months(by_day, before)[-months:]:
        projected = _replay(by_day, month, day_of_month)
        if projected:
            errors.append(actual / projected - 1)
    return errors


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
    lower: float  # the interval as it would have been served that day
    upper: float
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
) -> Backtest:
    """Replay `project_month` at each cutoff day of every complete month of `history`.

    A point's interval is the one `project_month` would have served that day: calibrated on the
    errors of the (up to `CALIBRATION_MONTHS`) months before it at the same day, never later ones.
    """
    by_day = dict(history.items()) if isinstance(history, Mapping) else dict(history)
    points: list[BacktestPoint] = []
    errors: dict[int, list[float]] = {cutoff: [] for cutoff in cutoffs}
    for month, actual in _complete_months(by_day, date.max):
        for cutoff in cutoffs:
            through = month.replace(day=min(cutoff, days_in_month(month)))
            if through >= next_month_start(month) - timedelta(days=1):
                continue
            projection = project_month(
                by_day, through=through, calibration=errors[cutoff][-CALIBRATION_MONTHS:]
            )
            projected = projection.projected_total
            points.append(
                BacktestPoint(
                    month=month,
                    cutoff_day=cutoff,
                    projected=projected,
                    actual=actual,
                    abs_pct_error=abs(projected - actual) / actual,
                    lower=projection.lower,
                    upper=projection.upper,
                    within_interval=projection.lower <= actual <= projection.upper,
                )
            )
            if projected:
                errors[cutoff].append(actual / projected - 1)
    mape: dict[int, float | None] = {}
    for cutoff in cutoffs:
        found = [p.abs_pct_error for p in points if p.cutoff_day == cutoff]
        mape[cutoff] = sum(found) / len(found) if found else None
    coverage = sum(p.within_interval for p in points) / len(points) if points else None
    months = len({p.month for p in points})
    return Backtest(mape_by_cutoff=mape, months=months, points=points, coverage=coverage)
