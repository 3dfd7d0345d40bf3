"""Security tools: prioritized vulnerabilities, posture, threat intel, compliance, access audit.

Each tool queries `store.queries.security`, computes with `analytics`, and returns one envelope
with a number-first summary, sources, the drill-down rows (capped, with the total n) and, where
a picture says more, a Vega-Lite v6 chart. Plain functions for other layers:
`export_compliance_evidence(session, framework, fmt)` (web/CLI auditor bundle) and
`security_summary(ctx)` (the security part of `executive_summary`).

The remediation SLA (critical 7, high 30, medium 90, low 120 days) can be changed per call with
`sla_days={"critical": 5}`, or for the installation through a `security.sla_days` settings
section or `ctx.extras["security"]["sla_days"]`.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy.orm import Session

from cto_assistant.analytics.access import audit_access, snapshot_of, snapshot_since
from cto_assistant.analytics.compliance import ComplianceReport, posture_history
from cto_assistant.analytics.posture import security_posture as posture_of
from cto_assistant.analytics.threat_intel import match_advisories
from cto_assistant.analytics.vulnerabilities import (
    DECISIONS,
    SEVERITIES,
    Inventory,
    Policy,
    PrioritizedVulnerability,
    VulnerabilityReport,
    as_utc,
    normalize_environment,
    policy_with,
)
from cto_assistant.compliance import load_catalogue, normalize_framework
from cto_assistant.errors import ToolError
from cto_assistant.store.queries import security as q
from cto_assistant.tools.base import (
    ToolContext,
    ToolResult,
    ToolStatus,
    no_data,
    ok,
    tool,
)

VEGA_LITE = "https://vega.github.io/schema/vega-lite/v6.json"
VULN_TABLES = ("vulnerability", "deployment", "service", "advisory")
ACCESS_TABLES = ("access_grant", "person")
COMPLIANCE_TABLES = (
    "repository",
    "deployment",
    "access_grant",
    "person",
    "vulnerability",
    "incident",
    "slo",
    "monitor",
    "control_evidence",
)
MAX_ROWS = 50
Severity = Literal["critical", "high", "medium", "low"]
State = Literal["open", "fixed", "all"]


# ----------------------------------------------------------------------------- helpers


def _chart(title: str, values: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {
        "$schema": VEGA_LITE,
        "title": title,
        "data": {"values": values},
        "width": "container",
        **spec,
    }


def _unknown(kind: str, name: str, candidates: Sequence[str]) -> ToolResult:
    hint = f" Did you mean {', '.join(candidates)}?" if candidates else ""
    return ToolResult(
        status=ToolStatus.ERROR,
        summary=f"No {kind} called {name!r}.{hint}",
        data={"candidates": list(candidates)},
        error=f"unknown {kind}",
    )


def _configured_sla(ctx: ToolContext) -> dict[str, int]:
    merged: dict[str, int] = {}
    section = getattr(ctx.settings, "security", None)  # an optional [security] settings section
    configured = getattr(section, "sla_days", None) if section is not None else None
    if isinstance(section, Mapping):
        configured = section.get("sla_days")
    merged.update(dict(configured or {}))
    extra = ctx.extras.get("security") or {}
    merged.update(dict(extra.get("sla_days") or {}))
    return merged


def security_policy(ctx: ToolContext, sla_days: Mapping[str, int] | None = None) -> Policy:
    """The prioritization policy: default SLA, then settings, then the call's `sla_days`."""
    merged = _configured_sla(ctx)
    merged.update(dict(sla_days or {}))
    try:
        return policy_with(merged)
    except ValueError as exc:
        raise ToolError(str(exc)) from exc


def _row(item: PrioritizedVulnerability) -> dict[str, Any]:
    return item.model_dump(mode="json")


def _label(item: PrioritizedVulnerability) -> str:
    ident = (
        item.cve_ids[0] if item.cve_ids else (item.identifiers[0] if item.identifiers else item.key)
    )
    return f"{ident} in {item.package or item.title or '?'}"


def _vuln_report(
    ctx: ToolContext, sla_days: Mapping[str, int] | None, inventory: Inventory | None = None
) -> VulnerabilityReport:
    return q.prioritized_vulnerabilities(
        session=ctx.session,
        now=ctx.now,
        policy=security_policy(ctx, sla_days),
        inventory=inventory,
    )


# ----------------------------------------------------------------------------- vulnerabilities


@tool(domain="security")
def vulnerabilities(
    ctx: ToolContext,
    *,
    repo: str | None = None,
    service: str | None = None,
    severity: Severity | None = None,
    environment: str | None = None,
    state: State = "open",
    limit: int = 50,
    sla_days: dict[str, int] | None = None,
) -> ToolResult:
    """Prioritized vulnerabilities (SSVC Act/Attend/Track*/Track) with reasons and SLA position."""
    if not q.has_rows(session=ctx.session, table="vulnerability"):
        return no_data("N/A: no vulnerability scanner synced yet (Snyk, Dependabot).")
    scope: list[str] = []
    repo_name = service_name = None
    if repo:
        found = q.resolve_repo(session=ctx.session, name=repo)
        if found.value is None:
            return _unknown("repository", repo, found.candidates)
        repo_name = found.value
        scope.append(repo_name)
    if service:
        found = q.resolve_service(session=ctx.session, name=service)
        if found.value is None:
            return _unknown("service", service, found.candidates)
        service_name = found.value
        scope.append(service_name)
    env = normalize_environment(environment)
    if env:
        scope.append(env)
    report = _vuln_report(ctx, sla_days)

    def wanted(item: PrioritizedVulnerability, *, any_state: bool = False) -> bool:
        if repo_name and (item.repo or "").lower() != repo_name.lower():
            return False
        if service_name and item.service != service_name:
            return False
        if severity and item.severity != severity:
            return False
        if env and item.environment != env:
            return False
        return any_state or state == "all" or item.state == state

    items = [i for i in report.items if wanted(i)]
    new_keys, fixed_keys = set(report.new_this_week), set(report.fixed_this_week)
    new = [i for i in report.items if i.key in new_keys and wanted(i, any_state=True)]
    fixed = [i for i in report.items if i.key in fixed_keys and wanted(i, any_state=True)]
    by_decision = {d: sum(1 for i in items if i.decision == d) for d in DECISIONS}
    by_severity = {s: sum(1 for i in items if i.severity == s) for s in SEVERITIES}
    breaches = sum(1 for i in items if i.sla_breached and i.state == "open")
    where = f" in {' / '.join(scope)}" if scope else ""
    noun = f"{state + ' ' if state != 'all' else ''}{severity + ' ' if severity else ''}vulnerabilit{'y' if len(items) == 1 else 'ies'}"
    summary = f"{len(items)} {noun}{where}"
    if items:
        top = items[0]
        mix = ", ".join(f"{n} {d}" for d, n in by_decision.items() if n)
        summary += f" ({mix}); top: {_label(top)} [{top.decision}] — {'; '.join(top.reasons[:3])}."
    else:
        summary += "."
    if new:
        summary = summary[:-1] + f"; {len(new)} new this week."
    data = {
        "items": [_row(i) for i in items[: max(limit, 0)]],
        "total": len(items),
        "by_decision": by_decision,
        "by_severity": by_severity,
        "sla_breaches": breaches,
        "new_this_week": [_row(i) for i in new[:MAX_ROWS]],
        "fixed_this_week": [_row(i) for i in fixed[:MAX_ROWS]],
        "n_new_this_week": len(new),
        "n_fixed_this_week": len(fixed),
        "policy": report.policy,
        "scanner_rows": report.n_rows,
        "deduplicated_items": report.n_items,
        "filters": {
            "repo": repo_name,
            "service": service_name,
            "severity": severity,
            "environment": env,
            "state": state,
        },
    }
    values = [
        {
            "decision": d,
            "severity": s,
            "count": sum(1 for i in items if i.decision == d and i.severity == s),
        }
        for d in DECISIONS
        for s in SEVERITIES
    ]
    chart = _chart(
        "Vulnerabilities by SSVC decision",
        [v for v in values if v["count"]],
        mark="bar",
        encoding={
            "x": {"field": "decision", "type": "nominal", "sort": list(DECISIONS), "title": None},
            "y": {"field": "count", "type": "quantitative", "title": "items"},
            "color": {"field": "severity", "type": "nominal", "sort": list(SEVERITIES)},
        },
    )
    return ok(data, summary=summary, sources=ctx.sources_for(*VULN_TABLES), chart=chart)


# ----------------------------------------------------------------------------- posture


def _compliance_brief(report: ComplianceReport) -> list[dict[str, Any]]:
    return [
        {
            "framework": p.framework,
            "title": load_catalogue().frameworks[p.framework].short,
            "posture_pct": p.posture_pct,
            "passing": p.passing,
            "failing": p.failing,
            "no_evidence": p.no_evidence,
            "total": p.total,
            "failing_controls": [c.control_id for c in p.controls if c.status == "failing"],
        }
        for p in report.frameworks
    ]


@tool(domain="security")
def security_posture(ctx: ToolContext, *, sla_days: dict[str, int] | None = None) -> ToolResult:
    """Critical/high by project and team, SLA breaches, MTTR, trend, risk score, compliance summary."""
    if not q.has_rows(session=ctx.session, table="vulnerability"):
        return no_data("N/A: no vulnerability scanner synced yet (Snyk, Dependabot).")
    policy = security_policy(ctx, sla_days)
    inventory = q.service_inventory(session=ctx.session)
    report = q.prioritized_vulnerabilities(
        session=ctx.session, now=ctx.now, policy=policy, inventory=inventory
    )
    posture = posture_of(report, now=ctx.now)
    compliance = _compliance_brief(
        q.assess_compliance(
            session=ctx.session,
            now=ctx.now,
            policy=policy,
            inventory=inventory,
            vulnerabilities=report,
        )
    )
    data = posture.model_dump(mode="json")
    data["projects"] = data["projects"][:MAX_ROWS]
    data["n_projects"] = len(posture.projects)
    data["compliance"] = compliance
    new_keys = set(report.new_this_week)
    data["new_critical_this_week"] = sum(
        1 for i in report.items if i.key in new_keys and i.severity == "critical"
    )
    summary = (
        f"{posture.open_critical + posture.open_high} open critical/high vulnerabilities "
        f"({posture.open_critical} critical, {posture.open_high} high), {posture.sla_breaches} past SLA"
    )
    if posture.projects:
        riskiest = posture.projects[0]
        summary += f"; riskiest: {riskiest.project} (risk {riskiest.risk_score:g})"
    if compliance:
        summary += "; " + ", ".join(f"{c['title']} {c['posture_pct']:g}%" for c in compliance)
    values = [
        {"project": p.project, "severity": s, "count": p.open_by_severity[s]}
        for p in posture.projects[:15]
        for s in ("critical", "high")
        if p.open_by_severity[s]
    ]
    chart = _chart(
        "Open critical and high vulnerabilities by project",
        values,
        mark="bar",
        encoding={
            "y": {"field": "project", "type": "nominal", "sort": "-x", "title": None},
            "x": {"field": "count", "type": "quantitative", "title": "open items"},
            "color": {"field": "severity", "type": "nominal", "sort": ["critical", "high"]},
        },
    )
    return ok(
        data,
        summary=summary + ".",
        sources=ctx.sources_for(*VULN_TABLES, "control_evidence"),
        chart=chart,
    )


# ----------------------------------------------------------------------------- threat intel


@tool(domain="security")
def threat_intel(ctx: ToolContext, *, days: int = 30) -> ToolResult:
    """Advisories (KEV additions, OSV/GHSA) from the last N days that touch our stack, explained."""
    if not q.has_rows(session=ctx.session, table="advisory"):
        return no_data("N/A: no threat-intel feed synced yet (CISA KEV, OSV).")
    days = max(1, days)
    since = as_utc(ctx.now) - timedelta(days=days)
    inventory = q.stack_inventory(session=ctx.session, now=ctx.now)
    report = match_advisories(
        q.advisories_since(session=ctx.session, since=since),
        inventory=inventory,
        now=ctx.now,
        days=days,
    )
    data = report.model_dump(mode="json")
    data["items"] = data["items"][:MAX_ROWS]
    data["total"] = len(report.items)
    data["summary_paragraph"] = report.summary
    warnings = []
    if not inventory.packages:
        warnings.append(
            "no dependency inventory (SBOM) synced: only CVE and product matches are possible"
        )
    data["warnings"] = warnings
    if report.items:
        top = report.items[0]
        summary = (
            f"{len(report.items)} of {report.n_threats} threats from the last {days} days touch our stack; "
            f"top: {top.explanation}."
        )
    else:
        summary = f"0 of {report.n_threats} threats from the last {days} days touch our stack."
    values = [
        {"threat": i.key, "repos": len(i.repos), "kev": "in KEV" if i.kev else "not in KEV"}
        for i in report.items[:15]
    ]
    chart = _chart(
        "Threats touching our stack (repos affected)",
        values,
        mark="bar",
        encoding={
            "y": {"field": "threat", "type": "nominal", "sort": "-x", "title": None},
            "x": {"field": "repos", "type": "quantitative", "title": "repositories"},
            "color": {"field": "kev", "type": "nominal"},
        },
    )
    return ok(
        data,
        summary=summary,
        sources=ctx.sources_for("advisory", "dependency", "vulnerability"),
        chart=chart if values else None,
    )


# ----------------------------------------------------------------------------- compliance


def _framework_arg(framework: str | None) -> tuple[list[str] | None, ToolResult | None]:
    if framework is None:
        return None, None
    key = normalize_framework(framework)
    if key is None:
        return None, _unknown("framework", framework, sorted(load_catalogue().frameworks))
    return [key], None


def _control_detail(
    report: ComplianceReport, control_checks: Sequence[str]
) -> list[dict[str, Any]]:
    out = []
    for key in control_checks:
        result = report.checks[key]
        dumped = result.model_dump(mode="json", exclude={"evidence"})
        dumped["evidence"] = _dump_first(result.evidence)
        dumped["n_evidence"] = len(result.evidence)
        out.append(dumped)
    return out


def _dump_first(models: Iterable[BaseModel], limit: int = MAX_ROWS) -> list[dict[str, Any]]:
    """The JSON form of the first `limit` models (the rest are never dumped)."""
    return [m.model_dump(mode="json") for m in islice(models, limit)]


@tool(domain="security")
def compliance_status(ctx: ToolContext, *, framework: str | None = None) -> ToolResult:
    """SOC 2 / ISO 27001 controls passing, failing or without evidence, with the evidence rows."""
    frameworks, problem = _framework_arg(framework)
    if problem is not None:
        return problem
    stored = q.stored_evidence(session=ctx.session)
    report = q.assess_compliance(
        session=ctx.session,
        now=ctx.now,
        policy=security_policy(ctx),
        frameworks=frameworks,
        stored=stored,
    )
    if all(r.status == "no_evidence" for r in report.checks.values()):
        return no_data(
            "N/A: no compliance evidence yet (sync GitHub, access, scanners or import evidence)."
        )
    history = posture_history(stored)
    if frameworks:
        history = [h for h in history if h.framework in frameworks]
    postures = []
    failing = []
    for posture in report.frameworks:
        controls = []
        for control in posture.controls:
            entry = control.model_dump(mode="json")
            entry["check_results"] = _control_detail(report, control.checks)
            controls.append(entry)
            if control.status == "failing":
                failing.append(
                    {
                        "framework": posture.framework,
                        "control_id": control.control_id,
                        "title": control.title,
                        "reason": control.reason,
                        "evidence": _dump_first(
                            e for c in control.checks for e in report.checks[c].failing()
                        ),
                    }
                )
        dumped = posture.model_dump(mode="json", exclude={"controls"})
        dumped["controls"] = controls
        postures.append(dumped)
    shorts = load_catalogue().frameworks
    parts = [
        f"{shorts[p.framework].short} {p.posture_pct:g}% ({p.passing}/{p.total} controls passing)"
        for p in report.frameworks
    ]
    summary = "; ".join(parts)
    if failing:
        names = ", ".join(f"{f['control_id']} {f['title']}" for f in failing[:4])
        summary += f"; failing: {names}" + (
            f" and {len(failing) - 4} more" if len(failing) > 4 else ""
        )
    data = {
        "frameworks": postures,
        "failing_controls": failing,
        "history": [h.model_dump(mode="json") for h in history][-120:],
        "catalogue_version": report.catalogue_version,
        "evaluated_at": report.now.isoformat(),
    }
    if len({h.day for h in history}) >= 2:
        chart = _chart(
            "Compliance posture over time",
            [h.model_dump(mode="json") for h in history],
            mark={"type": "line", "point": True},
            encoding={
                "x": {"field": "day", "type": "temporal", "title": None},
                "y": {
                    "field": "posture_pct",
                    "type": "quantitative",
                    "title": "% controls passing",
                    "scale": {"domain": [0, 100]},
                },
                "color": {"field": "framework", "type": "nominal"},
            },
        )
    else:
        chart = _chart(
            "Controls by status",
            [
                {"framework": p.framework, "status": s, "count": getattr(p, s)}
                for p in report.frameworks
                for s in ("passing", "failing", "no_evidence")
            ],
            mark="bar",
            encoding={
                "x": {"field": "framework", "type": "nominal", "title": None},
                "y": {"field": "count", "type": "quantitative", "title": "controls"},
                "color": {
                    "field": "status",
                    "type": "nominal",
                    "sort": ["passing", "failing", "no_evidence"],
                },
            },
        )
    return ok(data, summary=summary + ".", sources=ctx.sources_for(*COMPLIANCE_TABLES), chart=chart)


# ----------------------------------------------------------------------------- access


@tool(domain="security")
def access_audit(ctx: ToolContext, *, system: str | None = None) -> ToolResult:
    """Privileged access per system, ranked findings (leavers, no MFA, unused, keys), and drift."""
    if not q.has_rows(session=ctx.session, table="access_grant"):
        return no_data("N/A: no access data synced yet (AWS IAM, GitHub org, databases, tools).")
    systems: list[str] | None = None
    if system:
        found = q.resolve_system(session=ctx.session, name=system)
        if found.value is None:
            return _unknown("system", system, found.candidates)
        systems = found.value.split(",")
    all_grants = q.access_grants(session=ctx.session)
    grants = [g for g in all_grants if systems is None or g.system in systems]
    previous_at, previous = snapshot_since(
        q.access_snapshots(session=ctx.session), snapshot_of(all_grants)
    )
    if previous is not None and systems is not None:
        previous = [e for e in previous if e.system in systems]
    report = audit_access(
        grants,
        q.people(session=ctx.session),
        now=ctx.now,
        previous=previous,
        previous_at=previous_at,
    )
    data = report.model_dump(mode="json")
    data["findings"] = data["findings"][:MAX_ROWS]
    data["n_findings"] = len(report.findings)
    data["privileged"] = data["privileged"][: MAX_ROWS * 2]
    data["n_privileged"] = len(report.privileged)
    data["drift_note"] = (
        "Drift compares today's privileged access with the last stored snapshot that differs "
        "(snapshots are stored after a sync whenever privileged access changed)."
        if previous is not None
        else "No earlier snapshot of privileged access stored yet: drift starts after the next evaluation."
    )
    scope = f" on {system}" if system else ""
    counts = {
        s: sum(1 for f in report.findings if f.severity == s)
        for s in ("critical", "high", "medium")
    }
    summary = (
        f"{len(report.findings)} access findings{scope} ({counts['critical']} critical, {counts['high']} high) "
        f"across {len(report.privileged)} privileged grants"
    )
    if report.findings:
        summary += "; top: " + "; ".join(f.title for f in report.findings[:3])
    if report.drift is not None and (
        report.drift.added or report.drift.removed or report.drift.changed
    ):
        summary += f"; {report.drift.summary.rstrip('.')}"
    chart = _chart(
        "Privileged grants per system",
        [{"system": k, "grants": v} for k, v in report.privileged_by_system.items()],
        mark="bar",
        encoding={
            "y": {"field": "system", "type": "nominal", "sort": "-x", "title": None},
            "x": {"field": "grants", "type": "quantitative", "title": "privileged grants"},
        },
    )
    return ok(data, summary=summary + ".", sources=ctx.sources_for(*ACCESS_TABLES), chart=chart)


# ----------------------------------------------------------------------------- plain functions


@dataclass(frozen=True)
class EvidenceExport:
    """An auditor bundle: file name, media type and bytes."""

    filename: str
    media_type: str
    content: bytes


_CSV_FIELDS = [
    "framework",
    "control_id",
    "control_title",
    "control_status",
    "check",
    "check_title",
    "check_status",
    "basis",
    "subject",
    "evidence_status",
    "collected_at",
    "source",
    "detail",
]


def _evidence_table(report: ComplianceReport, framework: str) -> list[dict[str, str]]:
    rows = []
    posture = next(p for p in report.frameworks if p.framework == framework)
    for control in posture.controls:
        for key in control.checks:
            result = report.checks[key]
            items: list[Any] = list(result.evidence) or [None]
            for item in items:
                rows.append(
                    {
                        "framework": framework,
                        "control_id": control.control_id,
                        "control_title": control.title,
                        "control_status": control.status,
                        "check": key,
                        "check_title": result.title,
                        "check_status": result.status,
                        "basis": result.basis,
                        "subject": (item.subject or "") if item else "",
                        "evidence_status": item.status if item else "no evidence",
                        "collected_at": item.collected_at.isoformat() if item else "",
                        "source": item.source if item else "",
                        "detail": json.dumps(item.detail, sort_keys=True, default=str)
                        if item
                        else "",
                    }
                )
    return rows


def _csv(rows: Sequence[Mapping[str, Any]], fields: Sequence[str]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(fields), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: row.get(k, "") for k in fields})
    return buffer.getvalue().encode("utf-8")


def export_compliance_evidence(
    session: Session,
    framework: str,
    fmt: Literal["json", "csv", "zip"] = "zip",
    *,
    now: datetime | None = None,
    history_days: int = 365,
    policy: Policy | None = None,
) -> EvidenceExport:
    """The evidence of one framework for an auditor: CSV, JSON, or a zip bundle of both."""
    key = normalize_framework(framework)
    if key is None:
        raise ToolError(f"unknown framework {framework!r} (soc2, iso27001)")
    from cto_assistant.store.db import utcnow

    moment = as_utc(now or utcnow())
    report = q.assess_compliance(session=session, now=moment, policy=policy, frameworks=[key])
    posture = report.frameworks[0]
    current = _evidence_table(report, key)
    history = [
        {
            "framework": r.framework,
            "control_id": r.control_id,
            "check": r.check,
            "subject": r.subject or "",
            "status": r.status,
            "collected_at": as_utc(r.collected_at).isoformat(),
            "source": r.source,
            "source_id": r.source_id,
            "detail": json.dumps(r.evidence, sort_keys=True, default=str),
        }
        for r in q.evidence_rows(
            session=session, framework=key, since=moment - timedelta(days=history_days)
        )
    ]
    stamp = moment.strftime("%Y%m%dT%H%MZ")
    document = {
        "framework": key,
        "title": posture.title,
        "generated_at": moment.isoformat(),
        "catalogue_version": report.catalogue_version,
        "posture": posture.model_dump(mode="json", exclude={"controls"}),
        "controls": [c.model_dump(mode="json") for c in posture.controls],
        "checks": {
            k: report.checks[k].model_dump(mode="json")
            for k in sorted({c for control in posture.controls for c in control.checks})
        },
        "history": history,
        "note": "Evidence evaluated by CTO Assistant from synced data, or collected by the named source.",
    }
    if fmt == "json":
        body = json.dumps(document, indent=2, sort_keys=True, default=str).encode("utf-8")
        return EvidenceExport(f"{key}-evidence-{stamp}.json", "application/json", body)
    if fmt == "csv":
        return EvidenceExport(f"{key}-evidence-{stamp}.csv", "text/csv", _csv(current, _CSV_FIELDS))
    files = {
        "evidence.csv": _csv(current, _CSV_FIELDS),
        "history.csv": _csv(
            history,
            [
                "framework",
                "control_id",
                "check",
                "subject",
                "status",
                "collected_at",
                "source",
                "source_id",
                "detail",
            ],
        ),
        "report.json": json.dumps(document, indent=2, sort_keys=True, default=str).encode("utf-8"),
    }
    manifest = {
        "framework": key,
        "generated_at": moment.isoformat(),
        "files": {name: hashlib.sha256(content).hexdigest() for name, content in files.items()},
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, content in files.items():
            info = zipfile.ZipInfo(name, date_time=moment.timetuple()[:6])
            bundle.writestr(info, content)
        info = zipfile.ZipInfo("manifest.json", date_time=moment.timetuple()[:6])
        bundle.writestr(info, json.dumps(manifest, indent=2, sort_keys=True))
    return EvidenceExport(f"{key}-evidence-{stamp}.zip", "application/zip", buffer.getvalue())


def security_summary(ctx: ToolContext) -> dict[str, Any]:
    """The security part of `executive_summary`: status, reasons and the headline figures."""
    out: dict[str, Any] = {"status": "nominal", "reasons": [], "available": []}
    level = 0

    def raise_to(value: int, reason: str) -> None:
        nonlocal level
        level = max(level, value)
        out["reasons"].append(reason)

    inventory = q.service_inventory(session=ctx.session)
    report: VulnerabilityReport | None = None
    if q.has_rows(session=ctx.session, table="vulnerability"):
        out["available"].append("vulnerabilities")
        report = _vuln_report(ctx, None, inventory)
        new = set(report.new_this_week)
        new_critical = [i for i in report.items if i.key in new and i.severity == "critical"]
        kev_prod = [i for i in report.open_items() if i.in_kev and i.environment == "production"]
        act = [i for i in report.open_items() if i.decision == "Act"]
        out["vulnerabilities"] = {
            "new_critical_this_week": len(new_critical),
            "new_critical": [
                {
                    "key": i.key,
                    "service": i.service,
                    "repo": i.repo,
                    "decision": i.decision,
                    "reason": i.reason,
                }
                for i in new_critical[:5]
            ],
            "act": len(act),
            "kev_in_production": len(kev_prod),
            "sla_breaches": report.sla_breaches,
            "open_by_severity": report.by_severity,
        }
        if kev_prod:
            raise_to(
                2,
                f"{len(kev_prod)} exploited (KEV) vulnerabilit{'y' if len(kev_prod) == 1 else 'ies'} in production",
            )
        if new_critical:
            raise_to(1, f"{len(new_critical)} new critical vulnerabilities this week")
        if report.sla_breaches:
            raise_to(1, f"{report.sla_breaches} vulnerabilities past SLA")
    if q.has_rows(session=ctx.session, table="access_grant"):
        out["available"].append("access")
        access = audit_access(
            q.access_grants(session=ctx.session), q.people(session=ctx.session), now=ctx.now
        )
        critical = [f for f in access.findings if f.severity == "critical"]
        high = [f for f in access.findings if f.severity == "high"]
        out["access"] = {
            "critical": len(critical),
            "high": len(high),
            "top": [f.title for f in access.findings[:3]],
        }
        if critical:
            raise_to(2, critical[0].title)
        elif high:
            raise_to(1, f"{len(high)} high access findings")
    compliance = q.assess_compliance(
        session=ctx.session,
        now=ctx.now,
        policy=security_policy(ctx),
        inventory=inventory,
        vulnerabilities=report,
    )
    if not all(r.status == "no_evidence" for r in compliance.checks.values()):
        out["available"].append("compliance")
        out["compliance"] = {p.framework: p.posture_pct for p in compliance.frameworks}
        failing = [
            f"{p.framework}:{c.control_id}"
            for p in compliance.frameworks
            for c in p.controls
            if c.status == "failing"
        ]
        out["failing_controls"] = failing
        if failing:
            raise_to(1, f"{len(failing)} failing controls")
    out["status"] = ("nominal", "degraded", "critical")[level]
    return out
