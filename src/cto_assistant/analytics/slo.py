"""SLOs: the SLI over the window against the target, the error budget, burn rates and alerts.

Definitions (docs/metrics/operations.md):
- SLI = good / total events over the SLO window (e.g. 30 days) ending at `as_of`;
- error budget = 1 - target; budget consumed = (1 - SLI) / (1 - target); remaining = 1 - that;
- burn rate over a window = that window's error rate / (1 - target): 1x spends the budget in
  exactly one SLO window;
- multi-window, multi-burn-rate alerts (Google SRE workbook, ch. 5): an alert fires when both a
  long and a short window (1/12 of the long) burn at least its factor. For a 30-day SLO:
  page 14.4x over 1h and 5m, page 6x over 6h and 30m, ticket 3x over 1d and 2h, ticket 1x over
  3d and 6h. The factors come from the share of the budget each alert allows to be spent in its
  long window (2%, 5%, 10%, 10%): factor = share x SLO window / long window, so other SLO
  windows get their own factors (a 7-day SLO pages at 3.36x over 1h);
- exhaustion: at the current burn (the 1-hour burn rate), the remaining budget lasts
  remaining x window / burn.

Everything is computed from good/total sums per window (`evaluate_sums`), so the store can sum
in SQL; `evaluate` sums SLI points in Python first and shares that code path.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any, Literal

TOLERANCE = 1e-9  # a burn rate equal to its factor (up to float rounding) fires


@dataclass(frozen=True, slots=True)
class AlertRule:
    """One multi-window burn-rate rule."""

    name: str
    severity: Literal["page", "ticket"]
    budget_share: float
    long_window: timedelta
    short_window: timedelta


WORKBOOK_RULES: tuple[AlertRule, ...] = (
    AlertRule("page-1h", "page", 0.02, timedelta(hours=1), timedelta(minutes=5)),
    AlertRule("page-6h", "page", 0.05, timedelta(hours=6), timedelta(minutes=30)),
    AlertRule("ticket-1d", "ticket", 0.10, timedelta(days=1), timedelta(hours=2)),
    AlertRule("ticket-3d", "ticket", 0.10, timedelta(days=3), timedelta(hours=6)),
)


def burn_factor(rule: AlertRule, window_days: int) -> float:
    """The burn rate at which `rule` fires for an SLO window of `window_days`."""
    return rule.budget_share * timedelta(days=window_days) / rule.long_window


@dataclass(frozen=True, slots=True)
class SliPoint:
    """Good and total events of one bucket starting at `at`."""

    at: datetime
    good: float
    total: float


@dataclass(frozen=True, slots=True)
class AlertState:
    """One rule evaluated: the factor and both windows' burn rates."""

    name: str
    severity: Literal["page", "ticket"]
    factor: float
    long_window: str
    short_window: str
    long_burn: float | None
    short_burn: float | None
    firing: bool


@dataclass(frozen=True, slots=True)
class SloStatus:
    """An SLO at `as_of`: SLI, budget, burn, alerts, exhaustion and the status in one word."""

    name: str
    service: str | None
    target: float
    window_days: int
    as_of: datetime
    sli: float | None
    good: float
    total: float
    error_budget: float
    budget_consumed: float | None
    budget_remaining: float | None
    burn_rate_1h: float | None
    alerts: list[AlertState] = field(default_factory=list)
    exhaustion_at: datetime | None = None
    hours_to_exhaustion: float | None = None
    status: Literal["breached", "burning", "at_risk", "ok", "no_data"] = "ok"
    reason: str = ""


_STATUS_FIELDS = tuple(f.name for f in fields(SloStatus))
_ALERT_FIELDS = tuple(f.name for f in fields(AlertState))


def as_dict(status: SloStatus) -> dict[str, Any]:
    """`dataclasses.asdict(status)` without its deep copies (every field is immutable)."""
    found = {name: getattr(status, name) for name in _STATUS_FIELDS}
    found["alerts"] = [{name: getattr(a, name) for name in _ALERT_FIELDS} for a in status.alerts]
    return found


def _label(window: timedelta) -> str:
    minutes = int(window.total_seconds() // 60)
    if minutes % (24 * 60) == 0:
        return f"{minutes // (24 * 60)}d"
    if minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}m"


DEFAULT_BUCKET = timedelta(minutes=5)  # the width of a lone bucket
CURRENT_BURN_WINDOW = timedelta(hours=1)  # the burn the exhaustion date is projected at

Events = tuple[float, float]  # good and total events


@dataclass(frozen=True, slots=True)
class WindowSums:
    """Good and total events per window (see `windows`), every window ending at `as_of`."""

    as_of: datetime
    events: Mapping[timedelta, Events]


def windows(window_days: int, rules: Sequence[AlertRule] = WORKBOOK_RULES) -> frozenset[timedelta]:
    """Every window an evaluation sums events over: the SLO window, the rules' and 1 hour."""
    found = {timedelta(days=window_days), CURRENT_BURN_WINDOW}
    for rule in rules:
        found.update((rule.long_window, rule.short_window))
    return frozenset(found)


def window_end(newest: datetime, previous: datetime | None, now: datetime) -> datetime:
    """The newest bucket's end (as wide as the gap to the bucket before, 5 min if alone), ≤ now."""
    width = newest - previous if previous is not None else DEFAULT_BUCKET
    return min(now, newest + width)


def _events(points: Sequence[SliPoint], *, start: datetime, end: datetime) -> Events:
    """Good and total events of the buckets starting in [start, end)."""
    good = total = 0.0
    for point in points:
        if start <= point.at < end:
            good += point.good
            total += point.total
    return good, total


def _burn(events: Events, target: float) -> float | None:
    """Error rate / error budget of (good, total) events; None without events."""
    good, total = events
    if total <= 0:
        return None
    return ((total - good) / total) / (1 - target)


def burn_rate(
    points: Sequence[SliPoint], *, end: datetime, window: timedelta, target: float
) -> float | None:
    """Error rate / error budget over buckets starting in [end - window, end); None if empty."""
    return _burn(_events(points, start=end - window, end=end), target)


def window_sums(
    points: Sequence[SliPoint], *, now: datetime, spans: Iterable[timedelta]
) -> WindowSums | None:
    """`points` summed over each span ending at the newest bucket's end (≤ now); None if empty."""
    if not points:
        return None
    newest, *before = heapq.nlargest(2, (point.at for point in points))
    as_of = window_end(newest, before[0] if before else None, now)
    return WindowSums(
        as_of=as_of, events={span: _events(points, start=as_of - span, end=as_of) for span in spans}
    )


def evaluate(
    *,
    name: str,
    service: str | None,
    target: float,
    window_days: int,
    points: Sequence[SliPoint],
    now: datetime,
    rules: Sequence[AlertRule] = WORKBOOK_RULES,
) -> SloStatus:
    """Evaluate one SLO from its SLI buckets; windows end at the newest bucket's end (≤ now)."""
    return evaluate_sums(
        name=name,
        service=service,
        target=target,
        window_days=window_days,
        sums=window_sums(points, now=now, spans=windows(window_days, rules)),
        now=now,
        rules=rules,
    )


def _alert(rule: AlertRule, sums: WindowSums, *, window_days: int, target: float) -> AlertState:
    """`rule` evaluated on the summed windows: fires when both windows burn at its factor."""
    factor = burn_factor(rule, window_days)
    long_burn = _burn(sums.events[rule.long_window], target)
    short_burn = _burn(sums.events[rule.short_window], target)
    firing = (
        long_burn is not None
        and short_burn is not None
        and long_burn >= factor * (1 - TOLERANCE)
        and short_burn >= factor * (1 - TOLERANCE)
    )
    return AlertState(
        name=rule.name,
        severity=rule.severity,
        factor=factor,
        long_window=_label(rule.long_window),
        short_window=_label(rule.short_window),
        long_burn=long_burn,
        short_burn=short_burn,
        firing=firing,
    )


def evaluate_sums(
    *,
    name: str,
    service: str | None,
    target: float,
    window_days: int,
    sums: WindowSums | None,
    now: datetime,
    rules: Sequence[AlertRule] = WORKBOOK_RULES,
) -> SloStatus:
    """Evaluate one SLO from its events summed over `windows(window_days, rules)`; None: no data."""
    budget = 1 - target
    if sums is None:
        return SloStatus(
            name=name,
            service=service,
            target=target,
            window_days=window_days,
            as_of=now,
            sli=None,
            good=0.0,
            total=0.0,
            error_budget=budget,
            budget_consumed=None,
            budget_remaining=None,
            burn_rate_1h=None,
            status="no_data",
            reason="no SLI data",
        )
    as_of = sums.as_of
    good, total = sums.events[timedelta(days=window_days)]
    sli = good / total if total > 0 else None
    consumed = (1 - sli) / budget if sli is not None else None
    remaining = 1 - consumed if consumed is not None else None
    alerts = [_alert(rule, sums, window_days=window_days, target=target) for rule in rules]
    burn_1h = _burn(sums.events[CURRENT_BURN_WINDOW], target)
    exhaustion_at = None
    hours = None
    if remaining is not None and burn_1h is not None and burn_1h > 0:
        hours = max(remaining, 0.0) * window_days * 24 / burn_1h
        exhaustion_at = as_of + timedelta(hours=hours)
    status, reason = _status(sli, target, remaining, alerts)
    return SloStatus(
        name=name,
        service=service,
        target=target,
        window_days=window_days,
        as_of=as_of,
        sli=sli,
        good=good,
        total=total,
        error_budget=budget,
        budget_consumed=consumed,
        budget_remaining=remaining,
        burn_rate_1h=burn_1h,
        alerts=alerts,
        exhaustion_at=exhaustion_at,
        hours_to_exhaustion=hours,
        status=status,
        reason=reason,
    )


def _status(
    sli: float | None, target: float, remaining: float | None, alerts: Sequence[AlertState]
) -> tuple[Literal["breached", "burning", "at_risk", "ok", "no_data"], str]:
    if sli is None or remaining is None:
        return "no_data", "no SLI events in the window"
    pages = [a for a in alerts if a.firing and a.severity == "page"]
    tickets = [a for a in alerts if a.firing and a.severity == "ticket"]
    if pages:
        a = pages[0]
        return "burning", (
            f"page alert {a.name}: burning {a.long_burn:.1f}x over {a.long_window} "
            f"(threshold {a.factor:g}x)"
        )
    if sli < target:
        return "breached", f"SLI {sli * 100:.3f}% is below the {target * 100:g}% target"
    if tickets:
        a = tickets[0]
        return "at_risk", (
            f"ticket alert {a.name}: burning {a.long_burn:.1f}x over {a.long_window} "
            f"(threshold {a.factor:g}x)"
        )
    if remaining < 0.25:
        return "at_risk", f"only {remaining * 100:.0f}% of the error budget is left"
    return "ok", f"{remaining * 100:.0f}% of the error budget left"
