"""Cross-domain tools: the executive summary, data freshness, the timeline and data health.

`executive_summary` reads the other domains through their own tools (never re-deriving a
metric) and turns them into one status with its reasons:

- Critical: a SEV-1 incident is open, a new critical vulnerability is exploited in production
  (in CISA KEV), or an SLO has exhausted its error budget.
- Degraded: any incident is open, any critical vulnerability appeared this week, month-end spend
  is projected over budget, an SLO is burning fast, or a data source is failing.
- Nominal: none of the above.

A domain whose tool is missing or failing is listed as unknown, never counted as fine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa

from cto_assistant.store.models import (
    CostAnomaly,
    Deployment,
    Incident,
    Repository,
    Vulnerability,
)
from cto_assistant.store.queries.engineering import delivery_findings
from cto_assistant.sync.freshness import format_age, source_status
from cto_assistant.tools.base import (
    MEMO,
    REGISTRY,
    SourceRef,
    ToolContext,
    ToolResult,
    ToolStatus,
    call_tool,
    no_data,
    ok,
    tool,
)

Status = Literal["Nominal", "Degraded", "Critical"]
Level = Literal["ok", "warn", "critical", "unknown"]
NEW_VULN_DAYS = 7
_RANK: dict[str, int] = {"ok": 0, "unknown": 1, "warn": 2, "critical": 3}


@dataclass
class Signal:
    """One line of the executive summary: a figure, its level and where it comes from."""

    key: str
    label: str
    value: str
    detail: str
    level: Level
    widget: str
    tool: str
    reasons: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "key": self.key,
            "label": self.label,
            "value": self.value,
            "detail": self.detail,
            "level": self.level,
            "widget": self.widget,
            "tool": self.tool,
        }


# ------------------------------------------------------------------------------ helpers


def _get(data: Any, *paths: str, default: Any = None) -> Any:
    """The first present value among dotted `paths` in nested dicts (tool data is JSON-shaped)."""
    for path in paths:
        node: Any = data
        for part in path.split("."):
            if isinstance(node, Mapping) and part in node:
                node = node[part]
            else:
                node = None
                break
        if node is not None:
            return node
    return default


def _rows(data: Any, *keys: str) -> list[dict[str, Any]]:
    """The list of row dicts under one of `keys` (or `data` itself when it is a list)."""
    if isinstance(data, list):
        return [row for row in data if isinstance(row, Mapping)]  # type: ignore[misc]
    found = _get(data, *keys)
    if isinstance(found, list):
        return [row for row in found if isinstance(row, Mapping)]  # type: ignore[misc]
    return []


def call_tool_cached(
    name: str, ctx: ToolContext, arguments: Mapping[str, Any] | None = None
) -> ToolResult:
    """`call_tool`, answered once per context (a dashboard asks some tools twice).

    A `refreshing` (stale) answer is not kept: a computation sharing this context's extras
    must read the current one.
    """
    cache: dict[str, ToolResult] = ctx.extras.setdefault(MEMO, {})
    key = name + repr(sorted((arguments or {}).items()))
    kept = cache.get(key)
    if kept is None or kept.refreshing:
        kept = call_tool(name, ctx, arguments)
        if not kept.refreshing:
            cache[key] = kept
    return kept


def _run(ctx: ToolContext, name: str, **arguments: Any) -> ToolResult | None:
    """Call a registered tool; None when it does not exist (yet)."""
    if name not in REGISTRY:
        return None
    return call_tool_cached(name, ctx, arguments)


def _payload(result: ToolResult | None) -> dict[str, Any] | None:
    """The JSON form of a tool's data (dataclasses and models included)."""
    if result is None or result.status is not ToolStatus.OK:
        return None
    payload = result.payload().get("data")
    return payload if isinstance(payload, dict) else {"rows": payload}


def _measured(result: ToolResult | None) -> bool:
    """Whether a result is a measurement: ok, or 'nothing found' in data that was synced."""
    if result is None:
        return False
    return result.status is ToolStatus.OK or (
        result.status is ToolStatus.NO_DATA and bool(result.sources)
    )


def _unknown(
    key: str, label: str, widget: str, tool_name: str, result: ToolResult | None
) -> Signal:
    detail = "not available yet" if result is None else result.summary
    return Signal(key, label, "—", detail, "unknown", widget, tool_name)


def _money(value: float | None, currency: str = "USD") -> str:
    if value is None:
        return "—"
    symbol = "$" if currency == "USD" else f"{currency} "
    if abs(value) >= 1_000_000:
        return f"{symbol}{value / 1_000_000:.2f}M"
    if abs(value) >= 10_000:
        return f"{symbol}{value / 1_000:.0f}k"
    return f"{symbol}{value:,.0f}"


# ------------------------------------------------------------------------------ signals


def _incidents_signal(ctx: ToolContext) -> tuple[Signal, ToolResult | None]:
    result = _run(ctx, "active_incidents")
    if not _measured(result):
        return _unknown(
            "incidents", "Active incidents", "incidents", "active_incidents", result
        ), result
    rows = _rows(_payload(result), "incidents", "active", "rows")
    if not rows:
        return Signal("incidents", "Active incidents", "0", "none open", "ok", "incidents",
                      "active_incidents"), result  # fmt: skip
    severities = [str(row.get("severity") or "").upper() for row in rows]
    worst = sorted(severities)[0] if severities else ""
    level: Level = "critical" if any(s in ("SEV-1", "SEV1", "P1") for s in severities) else "warn"
    first = rows[0]
    detail = f"{first.get('severity') or ''} on {first.get('service') or '?'}".strip()
    if len(rows) > 1:
        detail += f" (+{len(rows) - 1} more)"
    reason = f"{len(rows)} active incident{'s' if len(rows) > 1 else ''} (worst {worst or '?'})"
    return Signal("incidents", "Active incidents", str(len(rows)), detail, level, "incidents",
                  "active_incidents", [reason]), result  # fmt: skip


def _vulns_signal(ctx: ToolContext) -> tuple[Signal, ToolResult | None]:
    result = _run(ctx, "vulnerabilities", severity="critical")
    if not _measured(result):
        return _unknown(
            "vulns", "New critical vulns", "security", "vulnerabilities", result
        ), result
    # The tool's own "new this week" (open or already fixed), counted over every critical
    # vulnerability: the same figure as the security posture's, not a count of its top rows.
    data = _payload(result) or {}
    new = _rows(data, "new_this_week")  # the first rows of them, for the detail
    count = int(data.get("n_new_this_week", len(new)))
    if not count:
        return Signal("vulns", "New critical vulns", "0", f"last {NEW_VULN_DAYS} days", "ok",
                      "security", "vulnerabilities"), result  # fmt: skip
    exploited = [
        row for row in new
        if row.get("in_kev") and str(row.get("environment") or "").startswith("prod")
    ]  # fmt: skip
    services = sorted({str(row.get("service") or row.get("repo") or "?") for row in new})
    detail = ", ".join(services[:2]) + (f" +{len(services) - 2}" if len(services) > 2 else "")
    reasons = [f"{count} new critical vulnerabilities this week"]
    if exploited:
        reasons = [
            f"{len(exploited)} exploited (KEV) critical vulnerability in production",
            *reasons,
        ]
    level: Level = "critical" if exploited else "warn"
    return Signal("vulns", "New critical vulns", str(count), detail, level, "security",
                  "vulnerabilities", reasons), result  # fmt: skip


def _spend_signal(ctx: ToolContext) -> tuple[Signal, ToolResult | None]:
    result = _run(ctx, "cost_forecast", backtest=False)  # the backtest is for the chat
    data = _payload(result)
    if data is None:
        return _unknown("spend", "Spend vs budget", "cloud_spend", "cost_forecast", result), result
    projected = _get(data, "projection.projected_total", "projected_total", "projected")
    budget = _get(data, "projection.budget", "budget.amount", "budget")
    currency = str(_get(data, "currency", "projection.currency", default="USD"))
    if not isinstance(projected, int | float):
        return _unknown("spend", "Spend vs budget", "cloud_spend", "cost_forecast", result), result
    if isinstance(budget, int | float) and budget > 0:
        share = projected / budget
        value = f"{_money(projected, currency)} / {_money(budget, currency)}"
        over = projected > budget
        detail = f"projected {share:.0%} of budget"
        level: Level = "warn" if over else "ok"
        reasons = [f"month-end spend projected {share - 1:.0%} over budget"] if over else []
    else:
        value, detail, level, reasons = (
            _money(projected, currency),
            "projected, no budget",
            "ok",
            [],
        )
    return Signal("spend", "Spend vs budget", value, detail, level, "cloud_spend",
                  "cost_forecast", reasons), result  # fmt: skip


def _slo_signal(ctx: ToolContext) -> tuple[Signal, ToolResult | None]:
    result = _run(ctx, "slo_status")
    data = _payload(result)
    if data is None:
        return _unknown("slos", "SLOs at risk", "slos", "slo_status", result), result
    rows = _rows(data, "slos", "items", "rows")
    breached = [row for row in rows if row.get("status") == "breached"]
    at_risk = [row for row in rows if row.get("status") in ("burning", "at_risk", "breached")]
    if not at_risk:
        return Signal("slos", "SLOs at risk", "0", f"of {len(rows)}", "ok", "slos",
                      "slo_status"), result  # fmt: skip
    names = [str(row.get("service") or row.get("name")) for row in at_risk]
    detail = ", ".join(names[:2]) + (f" +{len(names) - 2}" if len(names) > 2 else "")
    level: Level = "critical" if breached else "warn"
    reasons = [
        f"{len(at_risk)} SLO{'s' if len(at_risk) > 1 else ''} burning error budget ({detail})"
    ]
    return Signal("slos", "SLOs at risk", str(len(at_risk)), detail, level, "slos",
                  "slo_status", reasons), result  # fmt: skip


def _sources_signal(ctx: ToolContext) -> Signal:
    statuses = source_status(
        ctx.session, configured=list(ctx.settings.sources), now=ctx.now, only_configured=True
    )
    failing = [s.source for s in statuses if s.state in ("failing", "degraded")]
    if not statuses:
        return Signal("sources", "Data sources", "0", "none connected", "unknown", "freshness",
                      "data_freshness", ["no data source is connected"])  # fmt: skip
    if failing:
        return Signal("sources", "Data sources", f"{len(failing)} failing", ", ".join(failing),
                      "warn", "freshness", "data_freshness",
                      [f"sync failing for {', '.join(failing)}"])  # fmt: skip
    return Signal("sources", "Data sources", f"{len(statuses)} ok", "all syncing", "ok",
                  "freshness", "data_freshness")  # fmt: skip


SIGNALS: tuple[Callable[[ToolContext], tuple[Signal, ToolResult | None]], ...] = (
    _incidents_signal,
    _vulns_signal,
    _spend_signal,
    _slo_signal,
)


def _overall(signals: Iterable[Signal]) -> tuple[Status, list[str]]:
    signals = list(signals)
    worst = max((_RANK[s.level] for s in signals), default=0)
    status: Status = "Critical" if worst == 3 else "Degraded" if worst == 2 else "Nominal"
    ordered = sorted(signals, key=lambda s: -_RANK[s.level])
    reasons = [r for s in ordered if s.level in ("critical", "warn") for r in s.reasons]
    if not reasons:
        unknown = [s.label.lower() for s in signals if s.level == "unknown"]
        reasons = ["no incident, exposure, cost or reliability problem found"]
        if unknown:
            reasons.append("not known yet: " + ", ".join(unknown))
    return status, reasons


@tool(domain="summary")
def executive_summary(ctx: ToolContext) -> ToolResult:
    """Overall status (Nominal, Degraded, Critical) with its reasons and the key figures."""
    signals: list[Signal] = []
    sources: dict[str, SourceRef] = {}
    for build in SIGNALS:
        signal, result = build(ctx)
        signals.append(signal)
        for ref in result.sources if result is not None else []:
            sources.setdefault(ref.source, ref)
    signals.append(_sources_signal(ctx))
    if all(s.level == "unknown" for s in signals[:-1]):
        return no_data(
            "No domain data yet: connect and sync sources, or run `cto demo`.",
            data={"status": None, "signals": [s.as_dict() for s in signals]},
        )
    status, reasons = _overall(signals)
    summary = f"System status: {status} — {reasons[0]}."
    return ok(
        {"status": status, "reasons": reasons, "signals": [s.as_dict() for s in signals]},
        summary=summary,
        sources=list(sources.values()),
    )


# ------------------------------------------------------------------------------ freshness

CONNECT_HINTS: dict[str, str] = {
    "auth": "check the credentials in the source's settings",
    "rate_limited": "the vendor is rate limiting; the next sync retries",
    "upstream": "the vendor API is failing; the next sync retries",
    "schema_drift": "the vendor's answer changed shape; update the connector",
}


@tool(domain="summary")
def data_freshness(ctx: ToolContext) -> ToolResult:
    """Per data source: state, last successful sync, age, records and the last error."""
    configured = {
        name: str(section.get("kind", name)) for name, section in ctx.settings.sources.items()
    }
    statuses = source_status(ctx.session, configured=list(configured), now=ctx.now)
    if not statuses:
        return no_data("No data source is configured yet.", data={"sources": []})
    rows = [
        {
            "source": s.source,
            "kind": configured.get(s.source, "removed"),
            "state": s.state,
            "last_success_at": s.last_success_at.isoformat() if s.last_success_at else None,
            "age": format_age(s.age_seconds),
            "age_seconds": s.age_seconds,
            "records": s.records,
            "streams": len(s.streams),
            "failing_streams": [st.stream for st in s.streams if st.last_error],
            "last_error": s.last_error,
            "fix": CONNECT_HINTS.get(s.last_error_kind or "", "") if s.last_error else "",
        }
        for s in statuses
    ]
    failing = [str(row["source"]) for row in rows if row["state"] in ("failing", "degraded")]
    summary = (
        f"{len(failing)} of {len(rows)} sources failing: {', '.join(failing)}."
        if failing
        else f"All {len(rows)} sources synced."
    )
    refs = [
        SourceRef(source=s.source, synced_at=s.as_of, age_seconds=s.age_seconds,
                  failing=s.state in ("failing", "degraded"))
        for s in statuses
    ]  # fmt: skip
    return ok({"sources": rows}, summary=summary, sources=refs)


# ------------------------------------------------------------------------------ timeline

TimelineKind = Literal["deploy", "incident", "slo_burn", "cost_anomaly", "vulnerability"]


@tool(domain="summary")
def timeline(ctx: ToolContext, *, service: str | None = None, days: int = 14) -> ToolResult:
    """Deploys, incidents, SLO burns, cost anomalies and new critical vulns on one time axis."""
    days = max(1, min(days, 180))
    since = ctx.now - timedelta(days=days)
    events: list[dict[str, Any]] = []
    session = ctx.session

    deploy_query = sa.select(Deployment).where(
        Deployment.finished_at >= since, Deployment.finished_at <= ctx.now,
        sa.func.lower(Deployment.environment).in_(("production", "prod", "prd", "live")),
    )  # fmt: skip
    if service:
        deploy_query = deploy_query.where(sa.func.lower(Deployment.service) == service.lower())
    for d in session.scalars(deploy_query.order_by(Deployment.finished_at).limit(2000)):
        failed = d.status not in ("success", "succeeded")
        events.append({
            "kind": "deploy", "at": d.finished_at, "service": d.service,
            "title": f"Deploy {(d.sha or d.source_id)[:10]}" + (" (failed)" if failed else ""),
            "severity": "failed" if failed else None, "ref": d.source_id, "url": d.url,
        })  # fmt: skip

    incident_query = sa.select(Incident).where(Incident.triggered_at >= since)
    if service:
        incident_query = incident_query.where(sa.func.lower(Incident.service) == service.lower())
    for i in session.scalars(incident_query.order_by(Incident.triggered_at)):
        events.append({
            "kind": "incident", "at": i.triggered_at, "service": i.service,
            "title": f"{i.key} {i.title}", "severity": i.severity, "ref": i.key, "url": i.url,
            "end": i.resolved_at,
        })  # fmt: skip

    vuln_query = sa.select(Vulnerability).where(
        Vulnerability.first_seen >= since, Vulnerability.severity == "critical"
    )
    if service:
        vuln_query = vuln_query.where(sa.func.lower(Vulnerability.service) == service.lower())
    for v in session.scalars(vuln_query.order_by(Vulnerability.first_seen)):
        cve = ", ".join(str(c) for c in (v.cve_ids or [])[:1])
        events.append({
            "kind": "vulnerability", "at": v.first_seen, "service": v.service or v.repo,
            "title": f"{cve or v.external_id or 'Critical vuln'} in {v.package or '?'}"
                     + (" (KEV)" if v.in_kev else ""),
            "severity": "critical", "ref": v.source_id, "url": v.url,
        })  # fmt: skip

    if not service:
        for a in session.scalars(
            sa.select(CostAnomaly).where(CostAnomaly.start_day >= since.date())
        ):
            dims = ", ".join(f"{k}={v}" for k, v in (a.dimension or {}).items() if v)
            events.append({
                "kind": "cost_anomaly",
                "at": datetime.combine(a.start_day, datetime.min.time(), tzinfo=ctx.now.tzinfo),
                "service": None, "title": f"Cost anomaly {dims}".strip(),
                "severity": _money(a.impact) + " impact" if a.impact else None,
                "ref": a.source_id, "url": None,
            })  # fmt: skip

    events.extend(_slo_burns(ctx, service))
    events = [e for e in (_with_aware_time(e, ctx.now) for e in events) if e["at"] is not None]
    events.sort(key=lambda e: e["at"])
    for event in events:
        for key in ("at", "end"):
            if isinstance(event.get(key), datetime):
                event[key] = event[key].isoformat()
    counts = {kind: sum(1 for e in events if e["kind"] == kind) for kind in
              ("deploy", "incident", "slo_burn", "cost_anomaly", "vulnerability")}  # fmt: skip
    scope = service or "the company"
    if not events:
        return no_data(f"Nothing happened for {scope} in the last {days} days.",
                       data={"events": [], "counts": counts})  # fmt: skip
    summary = (
        f"{counts['deploy']} deploys, {counts['incident']} incidents, {counts['slo_burn']} SLO "
        f"burns, {counts['cost_anomaly']} cost anomalies and {counts['vulnerability']} new "
        f"critical vulnerabilities for {scope} in the last {days} days."
    )
    return ok(
        {"events": events, "counts": counts, "service": service, "days": days,
         "start": since.isoformat(), "end": ctx.now.isoformat()},
        summary=summary,
        sources=ctx.sources_for("deployment", "incident", "vulnerability"),
        chart=timeline_chart(events, title=f"What happened — {scope}, last {days} days"),
    )  # fmt: skip


TIMELINE_LABELS = {
    "deploy": "Deploys",
    "incident": "Incidents",
    "slo_burn": "SLO burns",
    "cost_anomaly": "Cost anomalies",
    "vulnerability": "Critical vulns",
}


def timeline_chart(events: list[dict[str, Any]], *, title: str) -> dict[str, Any]:
    """A Vega-Lite strip chart: one row per kind of event on a shared time axis."""
    values = [
        {**{k: e.get(k) for k in ("at", "end", "title", "service", "severity", "ref", "kind")},
         "lane": TIMELINE_LABELS[e["kind"]]}
        for e in events
    ]  # fmt: skip
    lanes = list(TIMELINE_LABELS.values())
    encoding_y = {"field": "lane", "type": "nominal", "sort": lanes, "title": None}
    tooltip = [
        {"field": "title", "title": "What"},
        {"field": "service", "title": "Service"},
        {"field": "at", "type": "temporal", "title": "When", "format": "%b %d %H:%M"},
        {"field": "severity", "title": "Severity"},
    ]
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v6.json",
        "title": title,
        "data": {"values": values},
        "height": 230,
        "layer": [
            {
                "transform": [{"filter": "datum.kind === 'incident' && datum.end"}],
                "mark": {"type": "rule", "strokeWidth": 3, "opacity": 0.35},
                "encoding": {
                    "x": {"field": "at", "type": "temporal"},
                    "x2": {"field": "end"},
                    "y": encoding_y,
                    "color": {"value": "#d64545"},
                },
            },
            {
                "mark": {"type": "point", "filled": True, "size": 90, "opacity": 0.85},
                "encoding": {
                    "x": {"field": "at", "type": "temporal", "title": None},
                    "y": encoding_y,
                    "color": {
                        "field": "lane",
                        "type": "nominal",
                        "sort": lanes,
                        "legend": None,
                        "scale": {
                            "domain": lanes,
                            "range": ["#4c78d8", "#d64545", "#e8864a", "#c9a227", "#8e6cd1"],
                        },
                    },
                    "shape": {
                        "field": "lane",
                        "type": "nominal",
                        "legend": None,
                        "scale": {
                            "domain": lanes,
                            "range": ["circle", "diamond", "triangle-up", "square", "cross"],
                        },
                    },
                    "tooltip": tooltip,
                },
            },
        ],
    }


def _with_aware_time(event: dict[str, Any], now: datetime) -> dict[str, Any]:
    """An event whose `at` is an aware datetime (sources hand over ISO text or naive times)."""
    at = event.get("at")
    if isinstance(at, str):
        at = datetime.fromisoformat(at.replace("Z", "+00:00"))
    if isinstance(at, datetime) and at.tzinfo is None:
        at = at.replace(tzinfo=now.tzinfo)
    return {**event, "at": at}


def _slo_burns(ctx: ToolContext, service: str | None) -> list[dict[str, Any]]:
    """SLOs the reliability tool reports as burning, placed at the time of the report."""
    result = _run(ctx, "slo_status", **({"service": service} if service else {}))
    burning = []
    for row in _rows(_payload(result), "slos", "items", "rows"):
        if row.get("status") not in ("burning", "breached", "at_risk"):
            continue
        at = row.get("as_of") or ctx.now  # the JSON payload carries it as an ISO string
        if isinstance(at, str):
            at = datetime.fromisoformat(at)
            at = at if at.tzinfo else at.replace(tzinfo=ctx.now.tzinfo)
        burning.append({
            "kind": "slo_burn", "at": at, "service": row.get("service"),
            "title": f"SLO {row.get('name')} {row.get('status')}: {row.get('reason') or ''}".strip(),
            "severity": row.get("status"), "ref": row.get("name"), "url": None,
        })  # fmt: skip
    return burning


# ------------------------------------------------------------------------------ data health


@tool(domain="summary")
def data_health(ctx: ToolContext, *, days: int = 90) -> ToolResult:
    """Set-up problems that make metrics wrong, each with its count, examples and fix."""
    since = ctx.now - timedelta(days=max(1, days))
    findings = [
        {"check": f.check, "count": f.count, "total": f.total, "examples": f.examples[:5],
         "fix": f.fix}
        for f in delivery_findings(session=ctx.session, since=since)
    ]  # fmt: skip
    repo_total = ctx.session.scalar(sa.select(sa.func.count()).select_from(Repository)) or 0
    loose = list(
        ctx.session.scalars(
            sa.select(Repository.full_name)
            .where(Repository.service.is_(None))
            .order_by(Repository.full_name)
        )
    )
    findings.append({
        "check": "repos_without_service", "count": len(loose), "total": repo_total,
        "examples": loose[:5],
        "fix": "Map the repository to its service in the catalogue (GitHub custom property or "
               "the repo's service setting); its vulnerabilities and PRs reach no service.",
    })  # fmt: skip
    problems = [f for f in findings if f["count"]]
    summary = (
        f"{len(problems)} set-up problem{'s' if len(problems) != 1 else ''} found: "
        + ", ".join(f"{p['count']} {str(p['check']).replace('_', ' ')}" for p in problems)
        + "."
        if problems
        else "No set-up problem found."
    )
    return ok({"findings": findings, "since": since.isoformat()}, summary=summary,
              sources=ctx.sources_for("deployment", "incident"))  # fmt: skip


__all__ = ["call_tool_cached", "data_freshness", "data_health", "executive_summary", "timeline"]
