"""Calendar helpers shared by the operations analytics (pure: no clock, dates in, dates out).

Periods are inclusive on both ends (`start`, `end`), the way people say them ("March 1 to
March 31"); the store queries turn them into half-open ranges.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def month_start(day: date) -> date:
    """First day of `day`'s month."""
    return day.replace(day=1)


def next_month_start(day: date) -> date:
    """First day of the month after `day`'s month."""
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def days_in_month(day: date) -> int:
    """Number of days of `day`'s month."""
    return (next_month_start(day) - month_start(day)).days


def month_end(day: date) -> date:
    """Last day of `day`'s month."""
    return next_month_start(day) - timedelta(days=1)


def previous_month_start(day: date) -> date:
    """First day of the month before `day`'s month."""
    return month_start(month_start(day) - timedelta(days=1))


def same_day_last_month(day: date) -> date:
    """The same day of the previous month, clamped to its length (Mar 31 → Feb 28)."""
    previous = previous_month_start(day)
    return previous.replace(day=min(day.day, days_in_month(previous)))


def previous_period(start: date, end: date) -> tuple[date, date]:
    """The period of the same length that ends the day before `start` (inclusive bounds)."""
    length = (end - start).days + 1
    return start - timedelta(days=length), start - timedelta(days=1)


def days(start: date, end: date) -> Iterator[date]:
    """Every day from `start` to `end` inclusive."""
    current = start
    while current <= end:
        yield current
        current += timedelta(days=1)


def zone(name: str | None) -> tzinfo | None:
    """The IANA time zone `name`, or None when it is missing or unknown."""
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def is_business_hours(
    moment: datetime, tz: tzinfo | None, *, start: time = time(9), end: time = time(18)
) -> bool:
    """Whether `moment` falls on a weekday between `start` and `end` in the time zone `tz`."""
    local = moment.astimezone(tz) if tz is not None else moment
    return local.weekday() < 5 and start <= local.time() < end
