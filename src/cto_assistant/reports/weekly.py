"""The weekly executive brief, written as Markdown from tool results.

Every figure comes from a tool call (the same ones the dashboard and the chat make); the brief
only chooses, orders and phrases them. Charts are the tools' own Vega-Lite specs, embedded as
```vega-lite fences so the stored Markdown is the whole report: `render.py` turns it into HTML
(charts as inline SVG) or a two-page PDF (charts as PNG), and `--format md` writes the charts
as PNG files beside the Markdown.

Sections: headline status; what changed this week and why (delivery, incidents and their cost
in engineer-hours, security, compliance, cloud spend, SLOs); top risks; decisions needed.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from pydantic_core import to_jsonable_python

from cto_assistant.tools.base import ToolContext, ToolResult, ToolStatus, call_tool
from cto_assistant.tools.catalog import load_tools
from cto_assistant.watch.queries import list_alerts
from cto_assistant.watch.rules import money

CHART_WIDTH = 250
CHART_HEIGHT = 120


@dataclass
class WeeklyBrief:
    """A written brief: its period, its Markdown and the tool calls it rests on."""

    period_start: date
    period_end: date
    markdown: str
    status: str | None
    tools: list[str] = field(default_factory=list)


class _Calls:
    """Tool calls made once each, with JSON-plain data."""

    def __init__(self, ctx: ToolContext) -> None:
        self.ctx = ctx
        self.made: dict[str, ToolResult] = {}

    def __call__(self, name: str, **arguments: Any) -> ToolResult | None:
        key = f"{name}:{sorted(arguments.items())}"
        if key not in self.made:
            result = call_tool(name, self.ctx, arguments)
            self.made[key] = result.model_copy(update={"data": to_jsonable_python(result.data)})
        result = self.made[key]
        return result if result.status == ToolStatus.OK else None


def _pct(value: float | None, *, signed: bool = True) -> str:
    if value is None:
        return "n/a"
    return f"{value:+.0%}" if signed else f"{value:.0%}"


def _hours(minutes: float | None) -> str:
    if minutes is None:
        return "n/a"
    return f"{minutes:.0f} min" if minutes < 90 else f"{minutes / 60:.1f} h"


def chart_block(
    spec: dict[str, Any] | None,
    *,
    title: str | None = None,
    keep_lowest: tuple[str, int] | None = None,
) -> str:
    """A tool's Vega-Lite spec as a ```vega-lite fence, sized for the brief."""
    if not spec:
        return ""
    sized = copy.deepcopy(spec)
    sized["width"], sized["height"] = CHART_WIDTH, CHART_HEIGHT
    if title:
        sized["title"] = title
    if keep_lowest:
        field_name, count = keep_lowest
        values = sorted(
            (sized.get("data") or {}).get("values") or [],
            key=lambda row: row.get(field_name) if row.get(field_name) is not None else 1e9,
        )
        sized["data"] = {"values": values[:count]}
    sized.setdefault("config", {}).update(
        {
            "title": {"fontSize": 12, "anchor": "start"},
            "view": {"stroke": None},
            "axisX": {"labelAngle": 0, "labelLimit": 130},
            "axisY": {"labelLimit": 150},
            "legend": {"orient": "bottom", "direction": "horizontal", "title": None},
        }
    )
    return "```vega-lite\n" + json.dumps(sized, separators=(",", ":")) + "\n```\n"


def _parse(value: Any) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def incident_engineer_hours(call: _Calls, keys: list[str], now: datetime) -> list[dict[str, Any]]:
    """Per incident: hours open (to resolution or now) x human responders = engineer-hours."""
    rows = []
    for key in keys:
        result = call("incident_details", incident=key)
        if result is None:
            continue
        incident = result.data.get("incident") or {}
        start, end = _parse(incident.get("triggered_at")), _parse(incident.get("resolved_at"))
        if start is None:
            continue
        people = [r for r in incident.get("responders") or [] if "@" in str(r)] or ["?"]
        hours = ((end or now) - start).total_seconds() / 3600
        rows.append(
            {
                "key": key,
                "severity": incident.get("severity"),
                "service": incident.get("service"),
                "title": incident.get("title"),
                "hours": hours,
                "responders": len(people),
                "engineer_hours": hours * len(people),
                "open": end is None,
            }
        )
    return rows


def build_weekly(ctx: ToolContext) -> WeeklyBrief:
    """Write the weekly brief for the seven days ending at `ctx.now`."""
    load_tools()
    call = _Calls(ctx)
    now = ctx.now
    end = now.date()
    start = end - timedelta(days=7)
    lines: list[str] = []
    add = lines.append

    summary = call("executive_summary")
    status = (summary.data or {}).get("status") if summary else None
    reasons = (summary.data or {}).get("reasons", []) if summary else []
    add(f"# Weekly engineering brief — {start:%b %d} to {end:%b %d, %Y}")
    add("")
    add(
        f"**Status: {status or 'unknown'}** — "
        + ("; ".join(reasons[:3]) if reasons else "no status could be computed")
        + "."
    )
    add("")

    # --- headline figures
    spend = call("explain_cost_change")
    forecast = call("cost_forecast")
    vulns = call("vulnerabilities", severity="critical", state="all", limit=500)
    incidents_week = call("incident_stats", days=7)
    active = call("active_incidents")
    slos = call("slo_status")
    dora = call("dora_metrics", days=30)
    alerts_open = list_alerts(session=ctx.session, open_only=True)

    attribution = (spend.data or {}).get("attribution", {}) if spend else {}
    projection = (forecast.data or {}).get("projection", {}) if forecast else {}
    budget = projection.get("budget")
    vdata = vulns.data if vulns else {}
    overall = (incidents_week.data or {}).get("overall", {}) if incidents_week else {}
    burning = [
        s for s in ((slos.data or {}).get("slos", []) if slos else []) if s.get("status") != "ok"
    ]
    add("| Cloud spend (7 d) | Month-end projection | Incidents (7 d) | New critical vulns | SLOs at risk | Open alerts |")  # fmt: skip
    add("|---|---|---|---|---|---|")
    add(
        "| "
        + " | ".join(
            [
                f"{money(attribution.get('current_total', 0))} ({_pct(attribution.get('change_pct'))})"
                if spend
                else "n/a",
                (
                    f"{money(projection.get('projected_total', 0))}"
                    + (f" vs {money(budget)} budget" if budget else "")
                )
                if forecast
                else "n/a",
                f"{overall.get('incidents', 0)} ({len((active.data or {}).get('incidents', [])) if active else 0} open)",
                str(vdata.get("n_new_this_week", "n/a")),
                f"{len(burning)}",
                f"{len(alerts_open)}",
            ]
        )
        + " |"
    )
    add("")

    # --- what changed: cloud spend
    add("## What changed this week, and why")
    add("")
    add("### Cloud spend")
    if spend:
        add(f"- {spend.data.get('sentence') or spend.summary}")
    if forecast:
        add(f"- {forecast.summary}")
    anomalies = call("cost_anomalies", days=14)
    for item in ((anomalies.data or {}).get("anomalies", []) if anomalies else [])[:2]:
        add(
            f"- Anomaly: {item.get('label')} {money(item.get('impact') or 0)} above expected "
            f"since {item.get('start_day')} ({item.get('severity')})."
        )
    add("")
    charts = [chart_block(spend.chart if spend else None, title="Spend change by driver, week over week"), chart_block(forecast.chart if forecast else None, title="This month vs last, with projection")]  # fmt: skip
    lines.extend(c for c in charts if c)
    add("")

    # --- reliability
    add("### Incidents and reliability")
    if incidents_week:
        add(
            f"- {overall.get('incidents', 0)} incidents in 7 days, MTTA {_hours(overall.get('mtta_minutes'))}, "
            f"MTTR {_hours(overall.get('mttr_minutes'))}."
        )
        keys = sorted(
            {k for p in incidents_week.data.get("pager_load", []) for k in p.get("incidents", [])}
            | {i["key"] for i in ((active.data or {}).get("incidents", []) if active else [])}
        )
        cost = incident_engineer_hours(call, keys, now)
        if cost:
            total = sum(r["engineer_hours"] for r in cost)
            worst = max(cost, key=lambda r: r["engineer_hours"])
            add(
                f"- Incident cost: **{total:.0f} engineer-hours** across {len(cost)} incidents "
                f"(hours open x responders); the largest, {worst['key']} on {worst['service']} "
                f"({worst['severity']}), took {worst['engineer_hours']:.0f} engineer-hours."
            )
    if active:
        add(f"- {active.summary}")
    for slo in burning[:3]:
        left = slo.get("budget_remaining")
        add(
            f"- SLO {slo.get('name')}: {slo.get('status')}, "
            f"{_pct(left, signed=False)} of error budget left — {slo.get('reason')}."
        )
    if slos and not burning:
        add(f"- {slos.summary}")
    add("")

    # --- delivery
    add("### Delivery (DORA, 30-day window vs the 30 days before)")
    if dora:
        report = dora.data.get("report", {})
        add(f"- {dora.summary}")
        deltas = []
        for key, label in (
            ("deployment_frequency", "deploys/week"),
            ("change_failure_rate", "change failure rate"),
        ):
            metric = report.get(key) or {}
            value, before = metric.get("value"), metric.get("previous_value")
            if value is None or before is None:
                continue
            if key == "change_failure_rate":
                deltas.append(f"{label} {before:.0%} → {value:.0%}")
            else:
                deltas.append(f"{label} {before:.1f} → {value:.1f}")
        if deltas:
            add(f"- Deltas: {'; '.join(deltas)}.")
        rising = [
            f"{t.get('name') or t.get('team')} ({_pct(t.get('change_failure_rate_previous'), signed=False)} → {_pct(t.get('change_failure_rate'), signed=False)})"
            for t in dora.data.get("breakdown", [])
            if t.get("change_failure_rate_trend") == "rising"
        ]
        levels = ", ".join(
            f"{t.get('team')} {t.get('level') or 'n/a'}" for t in dora.data.get("breakdown", [])
        )
        if levels:
            add(f"- Team levels: {levels}.")
        if rising:
            add(f"- Change failure rate rising: {', '.join(rising)}.")
    epics = _epics_at_risk(call, ctx)
    for epic in epics[:2]:
        add(f"- Epic {epic['name']}: {epic['summary']}")
    add("")

    # --- security and compliance
    add("### Security and compliance")
    if vulns:
        new = [i for i in vdata.get("new_this_week", []) if i.get("severity") == "critical"]
        fixed = [i for i in vdata.get("fixed_this_week", []) if i.get("severity") == "critical"]
        add(
            f"- {len(new)} new critical vulnerabilities this week, {len(fixed)} fixed; "
            f"{vdata.get('by_severity', {}).get('critical', 0)} critical in total."
        )
        for item in new[:3]:
            kev = " **in CISA KEV**" if item.get("in_kev") else ""
            add(
                f"  - {(item.get('cve_ids') or [item.get('key')])[0]} in {item.get('package')} on "
                f"{item.get('service') or item.get('repo')} ({item.get('environment')}){kev}."
            )
    posture = call("security_posture")
    if posture:
        add(f"- {posture.summary}")
    compliance = call("compliance_status")
    if compliance:
        add(f"- {compliance.summary}")
    access = call("access_audit")
    if access:
        add(f"- {access.summary}")
    add("")
    charts = [chart_block(dora.chart if dora else None, title="Production deploys and failures"), chart_block(slos.chart if slos else None, title="Error budget left, 8 lowest SLOs (%)", keep_lowest=("remaining", 8))]  # fmt: skip
    lines.extend(c for c in charts if c)
    add("")

    # --- risks and decisions
    add("## Top risks")
    if alerts_open:
        for alert in alerts_open[:6]:
            add(f"- **{alert.severity.upper()}** {alert.summary}")
    else:
        add("- No open early-warning alerts.")
    add("")
    add("## Decisions needed")
    for decision in _decisions(alerts_open, epics, projection):
        add(f"- {decision}")
    add("")
    ages = [s for s in (summary.sources if summary else [])]
    stamp = now.strftime("%Y-%m-%d %H:%M UTC")
    add(
        f"_Generated {stamp} by CTO Assistant from {len(call.made)} tool calls"
        + (f" over {len(ages)} sources" if ages else "")
        + "; every figure matches the dashboard and chat._"
    )
    return WeeklyBrief(
        period_start=start,
        period_end=end,
        markdown="\n".join(lines).strip() + "\n",
        status=status,
        tools=sorted({k.split(":", 1)[0] for k in call.made}),
    )


def _epics_at_risk(call: _Calls, ctx: ToolContext) -> list[dict[str, Any]]:
    """Epics due within 30 days whose forecast is late (from `epic_status`)."""
    import sqlalchemy as sa

    from cto_assistant.store.models import Epic

    horizon = ctx.now.date() + timedelta(days=30)
    keys = ctx.session.scalars(
        sa.select(Epic.key).where(
            Epic.done.is_(False),
            Epic.due_date.is_not(None),
            Epic.due_date >= ctx.now.date(),
            Epic.due_date <= horizon,
        )
    )
    out = []
    for key in keys:
        result = call("epic_status", epic=key)
        if result and (result.data.get("forecast") or {}).get("verdict") in ("late", "at_risk"):
            out.append(
                {
                    "key": key,
                    "name": result.data.get("name"),
                    "summary": result.summary,
                    "due": result.data.get("due_date"),
                    "p50": result.data["forecast"].get("p50_date"),
                }
            )
    return out


def _decisions(alerts: list[Any], epics: list[dict[str, Any]], projection: dict[str, Any]) -> list[str]:  # fmt: skip
    """The calls only the CTO can make, from the open alerts and the forecasts."""
    out: list[str] = []
    rules = {a.rule: a for a in alerts}
    if "budget_projection" in rules or projection.get("over_budget"):
        over = projection.get("vs_budget") or 0
        out.append(
            f"Cloud budget: approve a {money(over)} overrun this month, or have the owners of "
            "the cost driver cut it back before month-end."
        )
    if "cost_anomaly" in rules:
        out.append(
            f"Cost anomaly: confirm whether '{rules['cost_anomaly'].subject.split(': ', 1)[-1]}' "
            "is intended growth or a leak; assign an owner."
        )
    if "kev_in_production" in rules:
        out.append(
            "Exploited vulnerability in production: approve an emergency patch window "
            "(outside the normal release train) this week."
        )
    if "privileged_leaver" in rules:
        out.append("Access: confirm revocation of departed staff's admin rights today.")
    if "slo_burn" in rules:
        out.append(
            "Reliability: freeze risky deploys on services burning their error budget until "
            "the burn stops."
        )
    for epic in epics[:2]:
        out.append(
            f"Delivery: {epic['name']} forecast {epic['p50']} vs due {epic['due']} — re-scope, "
            "add capacity, or move the date."
        )
    return out or ["None this week."]
