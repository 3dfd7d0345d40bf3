"""The early-warning rules: small declarative entries over tool results.

A rule names the tool it reads, the arguments it calls it with (one call or several) and a
`find` function that turns each result into `Finding`s. Rules never query metrics themselves:
the number in an alert is the number the dashboard and the chat show, from the same tool.

A finding's fingerprint identifies the condition (the same anomaly, SLO or vulnerability on
every run), so the evaluator can de-duplicate, escalate and auto-resolve. A finding with
`opens=False` keeps an open alert open but never opens one (e.g. an SLA breach stays alerted
while it lasts, but only a *new* breach opens an alert).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from cto_assistant.store.models import Epic
from cto_assistant.tools.base import ToolContext, ToolResult, call_tool
from cto_assistant.watch.config import (
    SEVERITY_RANK,
    BudgetRule,
    ChangeFailureRule,
    CostAnomalyRule,
    EpicSlipRule,
    IncidentAckRule,
    KevRule,
    LeaverRule,
    RuleConfig,
    Rules,
    SlaBreachRule,
    SloBurnRule,
    SourceHealthRule,
    SprintRule,
)

VULN_RANK = {"low": 0, "medium": 1, "high": 2, "critical": 3}


@dataclass(frozen=True)
class Finding:
    """One condition a rule found true now."""

    fingerprint: str
    severity: str
    subject: str
    summary: str
    details: dict[str, Any] = field(default_factory=dict)
    link: str = "/"
    opens: bool = True


Arguments = Callable[[Any, ToolContext], Sequence[dict[str, Any]]]
Find = Callable[[ToolResult, Any, ToolContext], list[Finding]]


@dataclass(frozen=True)
class Rule:
    """A rule: which tool, with which arguments, and how its result becomes findings."""

    name: str
    domain: str
    tool: str
    description: str
    find: Find
    arguments: Arguments = lambda config, ctx: [{}]

    def config(self, rules: Rules) -> RuleConfig:
        """This rule's section of `[watch.rules]`."""
        section: RuleConfig = getattr(rules, self.name)
        return section


def money(value: float) -> str:
    """$12,345 (whole dollars)."""
    return f"${value:,.0f}"


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


# ------------------------------------------------------------------------------- operations


def _cost_anomalies(result: ToolResult, cfg: CostAnomalyRule, ctx: ToolContext) -> list[Finding]:
    out = []
    for item in (result.data or {}).get("anomalies", []):
        impact = float(item.get("impact") or 0)
        if impact < cfg.min_impact:
            continue
        dim = item.get("dimension") or {}
        label = item.get("label") or ", ".join(str(v) for v in dim.values())
        causes = [c.get("summary") or c.get("title") for c in item.get("possible_causes") or []]
        cause = f"; likely cause: {causes[0]}" if causes and causes[0] else ""
        out.append(
            Finding(
                fingerprint="cost_anomaly:" + "|".join(f"{k}={dim[k]}" for k in sorted(dim)),
                severity="critical" if impact >= cfg.critical_impact else "warning",
                subject=f"Cost anomaly: {label} {money(impact)} above expected",
                summary=(
                    f"{label} cost {money(item.get('actual') or 0)} since {item.get('start_day')}, "
                    f"{money(impact)} above the expected {money(item.get('expected') or 0)}"
                    f"{cause}."
                ),
                details={
                    "impact": round(impact, 2),
                    "threshold": cfg.min_impact,
                    "dimension": dim,
                    "start_day": item.get("start_day"),
                    "end_day": item.get("end_day"),
                    "detector_severity": item.get("severity"),
                    "owner_team": item.get("owner_team"),
                },
                link="/?ask=why+did+cloud+spend+jump+this+week",
            )
        )
    return out


def _budget(result: ToolResult, cfg: BudgetRule, ctx: ToolContext) -> list[Finding]:
    data = result.data or {}
    projection = data.get("projection") or {}
    budget_amount = projection.get("budget")
    over = projection.get("vs_budget")
    if not budget_amount or over is None or over <= 0:
        return []
    overrun = over / budget_amount
    if overrun < cfg.min_overrun_pct:
        return []
    name = (data.get("budget") or {}).get("name") or "cloud budget"
    month = str(projection.get("month_start") or "")[:7]
    projected = projection.get("projected_total") or 0
    return [
        Finding(
            fingerprint=f"budget_projection:{name}:{month}",
            severity="critical" if overrun >= cfg.critical_overrun_pct else "warning",
            subject=f"Cloud spend projected {overrun:.1%} over the {name} budget",
            summary=(
                f"Month-end spend is projected at {money(projected)}, {money(over)} "
                f"({overrun:.1%}) over the {money(budget_amount)} {name} budget for {month}."
            ),
            details={
                "budget": name,
                "budget_amount": budget_amount,
                "projected_total": projected,
                "over_by": over,
                "overrun_pct": round(overrun, 4),
                "month": month,
                "interval": [projection.get("lower"), projection.get("upper")],
            },
            link="/?ask=month-end+cloud+spend+forecast",
        )
    ]


def _slo_burn(result: ToolResult, cfg: SloBurnRule, ctx: ToolContext) -> list[Finding]:
    out = []
    for slo in (result.data or {}).get("slos", []):
        firing = [a for a in slo.get("alerts") or [] if a.get("firing")]
        pages = [a for a in firing if a.get("severity") == "page"]
        if not pages and not (cfg.ticket and firing):
            continue
        worst = pages[0] if pages else firing[0]
        left = slo.get("budget_remaining")
        left_text = f"{left:.0%} of the error budget left" if left is not None else ""
        hours = slo.get("hours_to_exhaustion")
        eta = f", exhausted in {hours:.0f} h at this rate" if hours is not None else ""
        out.append(
            Finding(
                fingerprint=f"slo_burn:{slo.get('service')}:{slo.get('name')}",
                severity="critical" if pages else "warning",
                subject=f"SLO burn: {slo.get('name')} ({worst.get('long_burn', 0):.1f}x)",
                summary=(
                    f"{slo.get('name')} is burning its error budget {worst.get('long_burn', 0):.1f}x "
                    f"over {worst.get('long_window')} ({worst.get('severity')} threshold "
                    f"{worst.get('factor')}x); {left_text}{eta}."
                ),
                details={
                    "service": slo.get("service"),
                    "slo": slo.get("name"),
                    "firing": [a.get("name") for a in firing],
                    "budget_remaining": left,
                    "hours_to_exhaustion": hours,
                    "reason": slo.get("reason"),
                },
                link=f"/?ask=SLO+status+for+{slo.get('service')}",
            )
        )
    return out


def _incidents(result: ToolResult, cfg: IncidentAckRule, ctx: ToolContext) -> list[Finding]:
    out = []
    for incident in (result.data or {}).get("incidents", []):
        if incident.get("severity") not in cfg.severities or incident.get("acknowledged_at"):
            continue
        age = float(incident.get("age_minutes") or 0)
        if age < cfg.max_unacknowledged_minutes:
            continue
        out.append(
            Finding(
                fingerprint=f"incident_unacknowledged:{incident.get('key')}",
                severity="critical" if incident.get("severity") == "SEV-1" else "warning",
                subject=(
                    f"{incident.get('severity')} {incident.get('key')} unacknowledged for "
                    f"{age:.0f} min"
                ),
                summary=(
                    f"{incident.get('severity')} on {incident.get('service')} "
                    f"({incident.get('title')}) has been open {age:.0f} min without "
                    f"acknowledgement (limit {cfg.max_unacknowledged_minutes:.0f} min)."
                ),
                details={
                    "incident": incident.get("key"),
                    "service": incident.get("service"),
                    "assignee": incident.get("assignee"),
                    "age_minutes": round(age, 1),
                    "url": incident.get("url"),
                },
                link=f"/?ask=tell+me+about+{incident.get('key')}",
            )
        )
    return out


def _sources(result: ToolResult, cfg: SourceHealthRule, ctx: ToolContext) -> list[Finding]:
    out = []
    for source in (result.data or {}).get("sources", []):
        state = source.get("state")
        age = source.get("age_seconds")
        stale = age is not None and age > cfg.stale_after_hours * 3600
        if state not in ("failing", "degraded") and not stale:
            continue
        if state in ("failing", "degraded"):
            streams = ", ".join(source.get("failing_streams") or []) or "all streams"
            why = f"sync {state} ({streams}): {source.get('last_error') or 'unknown error'}"
        else:
            why = f"data is {source.get('age')} old (limit {cfg.stale_after_hours:g} h)"
        fix = f"; {source['fix']}" if source.get("fix") else ""
        out.append(
            Finding(
                fingerprint=f"source_health:{source.get('source')}",
                severity="critical" if state == "failing" else "warning",
                subject=f"Data source {source.get('source')} {state if not stale else 'stale'}",
                summary=f"{source.get('source')}: {why}{fix}.",
                details={
                    "source": source.get("source"),
                    "state": state,
                    "age_seconds": age,
                    "last_error": source.get("last_error"),
                },
                link="/data-health",
            )
        )
    return out


# --------------------------------------------------------------------------------- security


def _label(item: dict[str, Any]) -> str:
    ident = (item.get("cve_ids") or item.get("identifiers") or [item.get("key")])[0]
    return f"{ident} in {item.get('package') or item.get('title')}"


def _kev(result: ToolResult, cfg: KevRule, ctx: ToolContext) -> list[Finding]:
    out = []
    for item in (result.data or {}).get("items", []):
        if not (
            item.get("in_kev")
            and item.get("state") == "open"
            and item.get("severity") in cfg.severities
            and item.get("environment") in cfg.environments
        ):
            continue
        where = item.get("service") or item.get("repo")
        fix = f"; fix: upgrade to {item['fixed_version']}" if item.get("fixed_version") else ""
        out.append(
            Finding(
                fingerprint=f"kev_in_production:{item.get('key')}",
                severity="critical",
                subject=f"Exploited critical vulnerability in production: {_label(item)} on {where}",
                summary=(
                    f"{_label(item)} on {where} ({item.get('environment')}) is in CISA KEV "
                    f"(actively exploited), CVSS {item.get('cvss')}{fix}."
                ),
                details={
                    "key": item.get("key"),
                    "repo": item.get("repo"),
                    "service": item.get("service"),
                    "team": item.get("team"),
                    "cve_ids": item.get("cve_ids"),
                    "first_seen": item.get("first_seen"),
                    "due_at": item.get("due_at"),
                    "reason": item.get("reason"),
                },
                link=f"/?ask=critical+vulnerabilities+in+{where}",
            )
        )
    return out


def _sla(result: ToolResult, cfg: SlaBreachRule, ctx: ToolContext) -> list[Finding]:
    out = []
    floor = VULN_RANK.get(cfg.min_severity, 3)
    recent = ctx.now - timedelta(hours=cfg.new_within_hours)
    for item in (result.data or {}).get("items", []):
        if not item.get("sla_breached") or VULN_RANK.get(item.get("severity") or "", -1) < floor:
            continue
        due = _parse_time(item.get("due_at"))
        where = item.get("service") or item.get("repo")
        out.append(
            Finding(
                fingerprint=f"remediation_sla:{item.get('key')}",
                severity="warning",
                subject=f"Remediation SLA breached: {_label(item)} on {where}",
                summary=(
                    f"{item.get('severity')} {_label(item)} on {where} passed its "
                    f"{item.get('sla_days')}-day fix-by date ({str(item.get('due_at'))[:10]}) "
                    "and is still open."
                ),
                details={
                    "key": item.get("key"),
                    "severity": item.get("severity"),
                    "due_at": item.get("due_at"),
                    "sla_days": item.get("sla_days"),
                    "team": item.get("team"),
                },
                link=f"/?ask=vulnerabilities+past+SLA+in+{where}",
                opens=due is not None and due >= recent,
            )
        )
    return out


def _leavers(result: ToolResult, cfg: LeaverRule, ctx: ToolContext) -> list[Finding]:
    return [
        Finding(
            fingerprint=f"privileged_leaver:{f.get('system')}:{f.get('principal')}",
            severity="critical",
            subject=f["title"],
            summary=f"{f.get('reason')}: revoke it.",
            details={k: f.get(k) for k in ("system", "principal", "person", "role", "kind")},
            link="/?ask=access+audit",
        )
        for f in (result.data or {}).get("findings", [])
        if f.get("kind") == "leaver_privileged"
    ]


# --------------------------------------------------------------------------------- delivery


def _two_proportion_z(p1: float, n1: int, p0: float, n0: int) -> float:
    """z-score of p1 > p0 (pooled two-proportion test); 0 when undefined."""
    pooled = (p1 * n1 + p0 * n0) / (n1 + n0)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0)) if n1 and n0 else 0.0
    return (p1 - p0) / spread if spread > 0 else 0.0


def _cfr(result: ToolResult, cfg: ChangeFailureRule, ctx: ToolContext) -> list[Finding]:
    out = []
    for team in (result.data or {}).get("breakdown", []):
        now_rate, before = team.get("change_failure_rate"), team.get("change_failure_rate_previous")
        if now_rate is None or before is None or now_rate - before < cfg.min_jump:
            continue
        detail = call_tool("dora_metrics", ctx, {"team": team["team"], "days": cfg.days})
        metric = ((detail.data or {}).get("report") or {}).get("change_failure_rate") or {}
        n1, n0 = int(metric.get("n") or 0), int(metric.get("previous_n") or 0)
        if n1 < cfg.min_deployments or n0 < cfg.min_deployments:
            continue
        z = _two_proportion_z(now_rate, n1, before, n0)
        if z < cfg.min_z:
            continue
        name = team.get("name") or team["team"]
        out.append(
            Finding(
                fingerprint=f"change_failure_jump:{team['team']}",
                severity="warning",
                subject=f"Change failure rate jumped for {name}: {before:.0%} → {now_rate:.0%}",
                summary=(
                    f"{name}'s change failure rate rose from {before:.0%} ({n0} deploys) to "
                    f"{now_rate:.0%} ({n1} deploys) over the last {cfg.days} days (z = {z:.1f})."
                ),
                details={
                    "team": team["team"],
                    "rate": now_rate,
                    "previous": before,
                    "n": n1,
                    "previous_n": n0,
                    "z": round(z, 2),
                },
                link=f"/?ask=DORA+metrics+for+{team['team']}",
            )
        )
    return out


def _sprints(result: ToolResult, cfg: SprintRule, ctx: ToolContext) -> list[Finding]:
    out = []
    for sprint in (result.data or {}).get("sprints", []):
        total = sprint.get("days_total") or 0
        elapsed = (sprint.get("days_elapsed") or 0) / total if total else 0.0
        if sprint.get("on_track") is not False or elapsed < cfg.min_elapsed:
            continue
        done = sprint.get("completion_ratio")
        done_text = f"{done:.0%} done" if done is not None else "progress unknown"
        out.append(
            Finding(
                fingerprint=f"sprint_at_risk:{sprint.get('sprint')}",
                severity="warning",
                subject=f"Sprint at risk: {sprint.get('name')}",
                summary=(
                    f"{sprint.get('name')} is {done_text} after {elapsed:.0%} of its time; "
                    f"{sprint.get('at_risk_total', 0)} items at risk "
                    f"({sprint.get('why') or 'behind the ideal burndown'})."
                ),
                details={
                    "team": sprint.get("team"),
                    "completion": done,
                    "elapsed": round(elapsed, 3),
                    "ends": sprint.get("end_at"),
                },
                link=f"/?ask=sprint+status+for+{sprint.get('team')}",
            )
        )
    return out


def _epic_targets(cfg: EpicSlipRule, ctx: ToolContext) -> list[dict[str, Any]]:
    horizon: date = ctx.now.date() + timedelta(days=cfg.horizon_days)
    keys = ctx.session.scalars(
        sa.select(Epic.key)
        .where(Epic.done.is_(False), Epic.due_date.is_not(None), Epic.due_date <= horizon)
        .order_by(Epic.key)
    )
    return [{"epic": key} for key in keys]


def _epics(result: ToolResult, cfg: EpicSlipRule, ctx: ToolContext) -> list[Finding]:
    data = result.data or {}
    forecast = data.get("forecast") or {}
    due, p50 = data.get("due_date"), forecast.get("p50_date")
    if not due or not p50 or forecast.get("verdict") in ("done", "on_track"):
        return []
    slip = (date.fromisoformat(str(p50)) - date.fromisoformat(str(due))).days
    if slip < cfg.min_slip_days:
        return []
    return [
        Finding(
            fingerprint=f"epic_slip:{data.get('key')}",
            severity="warning",
            subject=f"Epic slipping: {data.get('name')} forecast {p50} vs due {due}",
            summary=(
                f"{data.get('name')} ({data.get('key')}) is {data.get('progress', 0):.0%} done; "
                f"the forecast says {p50} (P50) / {forecast.get('p85_date')} (P85), {slip} days "
                f"after its due date {due}."
            ),
            details={"epic": data.get("key"), "team": data.get("team"), "slip_days": slip},
            link=f"/?ask=status+of+epic+{data.get('key')}",
        )
    ]


RULES: tuple[Rule, ...] = (
    Rule("cost_anomaly", "operations", "cost_anomalies",
         "Cost anomaly above an impact threshold.", _cost_anomalies,
         lambda cfg, ctx: [{"days": cfg.days}]),
    Rule("budget_projection", "operations", "cost_forecast",
         "Month-end spend projected over budget.", _budget),
    Rule("slo_burn", "operations", "slo_status",
         "SLO burning its error budget (page or ticket burn rate).", _slo_burn),
    Rule("incident_unacknowledged", "operations", "active_incidents",
         "SEV-1/2 incident unacknowledged for too long.", _incidents),
    Rule("kev_in_production", "security", "vulnerabilities",
         "Exploited (CISA KEV) critical vulnerability in production.", _kev,
         lambda cfg, ctx: [{"state": "open", "limit": 10_000}]),
    Rule("remediation_sla", "security", "vulnerabilities",
         "Vulnerability past its remediation SLA.", _sla,
         lambda cfg, ctx: [{"state": "open", "limit": 10_000}]),
    Rule("privileged_leaver", "security", "access_audit",
         "A departed person still holds privileged access.", _leavers),
    Rule("change_failure_jump", "delivery", "dora_metrics",
         "A team's change failure rate jumped beyond chance.", _cfr,
         lambda cfg, ctx: [{"days": cfg.days}]),
    Rule("sprint_at_risk", "delivery", "sprint_status",
         "An active sprint behind plan past mid-sprint.", _sprints),
    Rule("epic_slip", "delivery", "epic_status",
         "An epic forecast past its due date.", _epics, _epic_targets),
    Rule("source_health", "data", "data_freshness",
         "A data source failing or stale.", _sources),
)  # fmt: skip
"""Every rule, in evaluation order."""


def severity_rank(severity: str | None) -> int:
    """info < warning < critical; unknown/None ranks below info."""
    return SEVERITY_RANK.get(severity or "", -1)
