"""Cloud spend: totals for a period by any grouping, against the period before; month to date.

Inputs are sums already aggregated by the store (one figure per group), so a year of millions
of cost rows arrives here as a few hundred numbers. Amounts stay unrounded floats; money is
rounded to cents only where it is shown (`money`). The report's total is the sum of its groups,
so a breakdown always adds up to its total.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from cto_assistant.analytics.timeutil import days_in_month

NONE_LABEL = "(none)"

SHORT_SERVICE_NAMES = {
    "Amazon Simple Storage Service": "S3",
    "Amazon Elastic Compute Cloud - Compute": "EC2",
    "EC2 - Other": "EC2-Other",
    "Amazon Relational Database Service": "RDS",
    "Amazon ElastiCache": "ElastiCache",
    "Amazon Elastic Container Service for Kubernetes": "EKS",
    "Amazon Elastic Kubernetes Service": "EKS",
    "Amazon CloudFront": "CloudFront",
    "Amazon DynamoDB": "DynamoDB",
    "Amazon Kinesis": "Kinesis",
    "Amazon Redshift": "Redshift",
    "Amazon Route 53": "Route 53",
    "AmazonCloudWatch": "CloudWatch",
    "AWS Lambda": "Lambda",
    "AWS Key Management Service": "KMS",
}


def short_service(name: str | None) -> str:
    """A provider's long service name in the short form people use (S3, EC2, RDS)."""
    if name is None:
        return NONE_LABEL
    return SHORT_SERVICE_NAMES.get(name, name)


def money(amount: float, *, cents: bool = False) -> str:
    """`amount` as dollars for display: '$12,346' or with `cents` '$12,345.67'."""
    sign = "-" if amount < 0 else ""
    if cents:
        return f"{sign}${abs(amount):,.2f}"
    return f"{sign}${abs(amount):,.0f}"


def percent(ratio: float | None, *, signed: bool = True) -> str:
    """A ratio as a percentage for display ('+14.5%'); 'n/a' when undefined."""
    if ratio is None:
        return "n/a"
    return f"{ratio * 100:+.1f}%" if signed else f"{ratio * 100:.1f}%"


def change_ratio(current: float, previous: float) -> float | None:
    """Relative change from `previous` to `current`; None when there was nothing before."""
    if previous == 0:
        return None
    return (current - previous) / abs(previous)


@dataclass(frozen=True, slots=True)
class SpendLine:
    """One group of a spend breakdown."""

    key: str
    amount: float
    previous: float
    change: float
    change_pct: float | None
    share: float


@dataclass(frozen=True, slots=True)
class SpendReport:
    """Spend for a period by a grouping, with the same-length period before it."""

    start: date
    end: date
    previous_start: date
    previous_end: date
    group_by: str
    cost_type: str
    currency: str
    total: float
    previous_total: float
    change: float
    change_pct: float | None
    group_count: int
    lines: list[SpendLine]
    other: SpendLine | None = None  # the groups beyond `top`, summed


def spend_report(
    *,
    current: Mapping[str | None, float],
    previous: Mapping[str | None, float],
    start: date,
    end: date,
    previous_start: date,
    previous_end: date,
    group_by: str,
    cost_type: str,
    currency: str = "USD",
    top: int | None = None,
) -> SpendReport:
    """Build a breakdown: groups by spend (largest first), the rest folded into 'other'."""
    keys = set(current) | set(previous)
    total = sum(current.values())
    previous_total = sum(previous.values())
    lines = [
        _line(_label(key), current.get(key, 0.0), previous.get(key, 0.0), total) for key in keys
    ]
    lines.sort(key=lambda line: (-line.amount, -line.previous, line.key))
    other = None
    if top is not None and len(lines) > top:
        rest = lines[top:]
        lines = lines[:top]
        other = _line(
            f"other ({len(rest)})",
            sum(line.amount for line in rest),
            sum(line.previous for line in rest),
            total,
        )
    return SpendReport(
        start=start,
        end=end,
        previous_start=previous_start,
        previous_end=previous_end,
        group_by=group_by,
        cost_type=cost_type,
        currency=currency,
        total=total,
        previous_total=previous_total,
        change=total - previous_total,
        change_pct=change_ratio(total, previous_total),
        group_count=len(keys),
        lines=lines,
        other=other,
    )


def _label(key: str | None) -> str:
    return NONE_LABEL if key is None or key == "" else key


def _line(key: str, amount: float, previous: float, total: float) -> SpendLine:
    return SpendLine(
        key=key,
        amount=amount,
        previous=previous,
        change=amount - previous,
        change_pct=change_ratio(amount, previous),
        share=amount / total if total else 0.0,
    )


@dataclass(frozen=True, slots=True)
class DayPoint:
    """One day of the 'this month vs last month' series (cumulative sums for the chart)."""

    day_of_month: int
    this_month: float | None
    last_month: float | None
    this_month_cumulative: float | None
    last_month_cumulative: float | None


@dataclass(frozen=True, slots=True)
class MonthToDate:
    """Month-to-date spend against last month up to the same day of the month."""

    month_start: date
    through: date
    days_elapsed: int
    days_in_month: int
    month_to_date: float
    last_month_to_same_day: float
    last_month_total: float
    change: float
    change_pct: float | None
    series: list[DayPoint] = field(default_factory=list)


def month_to_date(
    *,
    this_month: Sequence[tuple[date, float]],
    last_month: Sequence[tuple[date, float]],
    through: date,
) -> MonthToDate:
    """Compare this month (to `through`) with last month to the same day, with daily series.

    `this_month` and `last_month` are daily totals; days without a row count as zero spend
    within the month's span (the source reported nothing), never as missing data.
    """
    this_by_day = {day.day: amount for day, amount in this_month if day <= through}
    last_by_day = {day.day: amount for day, amount in last_month}
    last_length = max((day.day for day, _ in last_month), default=0)
    if last_month:
        last_length = days_in_month(last_month[0][0])
    mtd = sum(this_by_day.values())
    same_day = sum(amount for dom, amount in last_by_day.items() if dom <= through.day)
    series = []
    this_cumulative = 0.0
    last_cumulative = 0.0
    for dom in range(1, max(days_in_month(through), last_length) + 1):
        this_value = this_by_day.get(dom, 0.0) if dom <= through.day else None
        last_value = last_by_day.get(dom, 0.0) if dom <= last_length else None
        if this_value is not None:
            this_cumulative += this_value
        if last_value is not None:
            last_cumulative += last_value
        series.append(
            DayPoint(
                day_of_month=dom,
                this_month=this_value,
                last_month=last_value,
                this_month_cumulative=this_cumulative if this_value is not None else None,
                last_month_cumulative=last_cumulative if last_value is not None else None,
            )
        )
    return MonthToDate(
        month_start=through.replace(day=1),
        through=through,
        days_elapsed=through.day,
        days_in_month=days_in_month(through),
        month_to_date=mtd,
        last_month_to_same_day=same_day,
        last_month_total=sum(last_by_day.values()),
        change=mtd - same_day,
        change_pct=change_ratio(mtd, same_day),
        series=series,
    )
