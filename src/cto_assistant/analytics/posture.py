"""Security posture: open critical/high by project and team, SLA breaches, MTTR, trend, risk.

Pure; built on a `VulnerabilityReport` (already de-duplicated and decided).

- project = the item's service, else its repository;
- mean time to remediate (MTTR) per severity = mean of (fixed_at - first_seen) in days over items
  fixed in the last `mttr_days` days, with n, median and the share fixed within SLA;
- trend = open critical and high items at the end of each of the last `weeks` weeks, rebuilt from
  first_seen / fixed_at (dismissed and ignored items are left out: their dismissal time is unknown);
- risk score per project = Σ over its open items of the weight of their SSVC decision, plus a
  weight per SLA breach; the weights are part of the result so the number can be explained.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from statistics import mean, median

from pydantic import BaseModel, Field

from cto_assistant.analytics.vulnerabilities import (
    DECISIONS,
    SEVERITIES,
    PrioritizedVulnerability,
    VulnerabilityReport,
    as_utc,
)

DEFAULT_WEIGHTS: dict[str, float] = {
    "Act": 10.0,
    "Attend": 5.0,
    "Track*": 2.0,
    "Track": 1.0,
    "sla_breach": 3.0,
}


class ProjectRisk(BaseModel):
    """Open exposure of one project and its risk score, with each term of the score."""

    project: str
    repo: str | None
    team: str | None
    open_by_severity: dict[str, int]
    open_by_decision: dict[str, int]
    sla_breaches: int
    in_kev: int
    risk_score: float
    contributions: dict[str, float] = Field(description="Score term → points (weight x count).")


class TeamExposure(BaseModel):
    """Open critical/high items and SLA breaches of one team."""

    team: str
    critical: int
    high: int
    sla_breaches: int
    act: int


class RemediationTime(BaseModel):
    """Mean time to remediate one severity."""

    severity: str
    n: int
    mean_days: float | None
    median_days: float | None
    within_sla_pct: float | None
    sla_days: int


class TrendPoint(BaseModel):
    """Open critical and high items at the end of one week."""

    at: datetime
    week_ending: date
    critical: int
    high: int


class PostureReport(BaseModel):
    """The security posture, ready for the widget and the chat."""

    now: datetime
    open_critical: int
    open_high: int
    sla_breaches: int
    breached: list[str] = Field(description="Keys of open items past SLA, most overdue first.")
    by_decision: dict[str, int]
    projects: list[ProjectRisk]
    teams: list[TeamExposure]
    mttr: list[RemediationTime]
    mttr_window_days: int
    trend: list[TrendPoint]
    weights: dict[str, float]


def _project(item: PrioritizedVulnerability) -> str:
    return item.service or item.repo or "unknown"


def open_at(item: PrioritizedVulnerability, moment: datetime) -> bool:
    """Whether an item was open at `moment` (seen by then and not yet fixed)."""
    if item.state not in ("open", "fixed") or item.first_seen > moment:
        return False
    return item.state == "open" or (item.fixed_at is not None and item.fixed_at > moment)


def security_posture(
    report: VulnerabilityReport,
    *,
    now: datetime,
    weeks: int = 12,
    mttr_days: int = 90,
    weights: Mapping[str, float] | None = None,
) -> PostureReport:
    """Posture figures from a prioritized vulnerability report."""
    now = as_utc(now)
    weights = dict(weights or DEFAULT_WEIGHTS)
    open_items = report.open_items()
    projects: dict[str, list[PrioritizedVulnerability]] = {}
    for item in open_items:
        projects.setdefault(_project(item), []).append(item)
    risks = []
    for name, items in projects.items():
        by_decision = {d: sum(1 for i in items if i.decision == d) for d in DECISIONS}
        breaches = sum(1 for i in items if i.sla_breached)
        contributions: dict[str, float] = {
            d: weights.get(d, 0.0) * n for d, n in by_decision.items() if n
        }
        if breaches:
            contributions["sla_breach"] = weights.get("sla_breach", 0.0) * breaches
        risks.append(
            ProjectRisk(
                project=name,
                repo=items[0].repo,
                team=next((i.team for i in items if i.team), None),
                open_by_severity={s: sum(1 for i in items if i.severity == s) for s in SEVERITIES},
                open_by_decision=by_decision,
                sla_breaches=breaches,
                in_kev=sum(1 for i in items if i.in_kev),
                risk_score=round(sum(contributions.values()), 1),
                contributions=contributions,
            )
        )
    risks.sort(key=lambda r: (-r.risk_score, -r.open_by_severity["critical"], r.project))
    teams: dict[str, list[PrioritizedVulnerability]] = {}
    for item in open_items:
        teams.setdefault(item.team or "unassigned", []).append(item)
    team_rows = sorted(
        (
            TeamExposure(
                team=team,
                critical=sum(1 for i in items if i.severity == "critical"),
                high=sum(1 for i in items if i.severity == "high"),
                sla_breaches=sum(1 for i in items if i.sla_breached),
                act=sum(1 for i in items if i.decision == "Act"),
            )
            for team, items in teams.items()
        ),
        key=lambda t: (-t.critical, -t.high, t.team),
    )
    since = now - timedelta(days=mttr_days)
    sla_days = report.policy.get("sla_days", {})
    mttr = []
    for severity in SEVERITIES:
        fixed = [
            i
            for i in report.items
            if i.severity == severity
            and i.state == "fixed"
            and i.fixed_at is not None
            and i.fixed_at > since
        ]
        durations = [i.age_days for i in fixed]
        mttr.append(
            RemediationTime(
                severity=severity,
                n=len(fixed),
                mean_days=round(mean(durations), 1) if durations else None,
                median_days=round(median(durations), 1) if durations else None,
                within_sla_pct=round(
                    100.0 * sum(1 for i in fixed if not i.sla_breached) / len(fixed), 1
                )
                if fixed
                else None,
                sla_days=int(sla_days.get(severity, 0)) if isinstance(sla_days, dict) else 0,
            )
        )
    critical = [i for i in report.items if i.severity == "critical"]
    high = [i for i in report.items if i.severity == "high"]
    trend = []
    for k in range(weeks - 1, -1, -1):
        moment = now - timedelta(days=7 * k)
        trend.append(
            TrendPoint(
                at=moment,
                week_ending=moment.date(),
                critical=sum(1 for i in critical if open_at(i, moment)),
                high=sum(1 for i in high if open_at(i, moment)),
            )
        )
    breached = sorted((i for i in open_items if i.sla_breached), key=lambda i: i.days_left)
    return PostureReport(
        now=now,
        open_critical=sum(1 for i in open_items if i.severity == "critical"),
        open_high=sum(1 for i in open_items if i.severity == "high"),
        sla_breaches=len(breached),
        breached=[i.key for i in breached],
        by_decision=dict(report.by_decision),
        projects=risks,
        teams=team_rows,
        mttr=mttr,
        mttr_window_days=mttr_days,
        trend=trend,
        weights=weights,
    )
