"""Compliance: evaluate the catalogue's checks over collected evidence; status per control.

Pure. Automated checks are evaluated from synced data (repositories, deployments, access grants,
people, vulnerabilities, incidents, SLOs, monitors); each subject checked becomes one evidence
item (pass, fail, pending or n/a) with the facts behind it and the time that data was collected
(its last sync). Evidence-only checks use the latest batch of evidence rows collected by another
source (a GRC export, a file); an automated check whose data is not synced falls back to them.

A check passes when its evidence has no failure and at least one pass; it fails on any failure;
with no evidence it says so. A control fails when any of its checks fails, has "no evidence"
when any check has none, and passes otherwise. Posture % = passing controls / all controls of
the framework (no evidence counts against: what cannot be shown is not demonstrated).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cached_property
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from cto_assistant.analytics.access import Grant, PersonStatus, is_human, privilege_label
from cto_assistant.analytics.vulnerabilities import (
    ServiceFacts,
    VulnerabilityReport,
    as_utc,
    normalize_environment,
)
from cto_assistant.compliance import Catalogue, CheckDef

OWN_SOURCE = "cto-assistant"
CHECKED_SEVERITIES = frozenset({"critical"})  # the vulnerabilities any check reads
CheckStatus = Literal["passing", "failing", "no_evidence"]
EvidenceStatus = Literal["pass", "fail", "pending", "n/a"]


@dataclass(frozen=True, slots=True)
class RepoFacts:
    """What change management needs to know about a repository."""

    full_name: str
    service: str | None = None
    branch_protected: bool | None = None
    required_reviews: int | None = None
    archived: bool = False


@dataclass(frozen=True, slots=True)
class IncidentFacts:
    """What the postmortem check needs to know about an incident."""

    key: str
    severity: str | None
    triggered_at: datetime
    resolved_at: datetime | None = None
    postmortem_url: str | None = None
    service: str | None = None
    title: str | None = None


@dataclass(frozen=True, slots=True)
class StoredEvidence:
    """A `control_evidence` row (collected by us or imported from elsewhere)."""

    source: str
    framework: str
    control_id: str
    check: str
    subject: str | None
    status: str
    evidence: Mapping[str, Any]
    collected_at: datetime


@dataclass(frozen=True)
class ComplianceInputs:
    """Everything the checks read; None means "that data is not synced" (not "none found")."""

    repos: Sequence[RepoFacts] | None = None
    services: Mapping[str, ServiceFacts] | None = None
    grants: Sequence[Grant] | None = None
    people: Sequence[PersonStatus] | None = None
    vulnerabilities: VulnerabilityReport | None = None  # at least the CHECKED_SEVERITIES items
    incidents: Sequence[IncidentFacts] | None = None
    slo_services: frozenset[str] | None = None
    monitor_services: frozenset[str] | None = None
    stored: Sequence[StoredEvidence] = ()
    collected: Mapping[str, datetime] = field(default_factory=dict)  # table → last sync
    business_timezone: str = "UTC"
    production_window_days: int = 90

    @cached_property
    def privileged_grants(self) -> list[tuple[Grant, str]]:
        """The privileged grants with their privilege label, in input order (labelled once)."""
        return [(g, label) for g in self.grants or () if (label := privilege_label(g))]


class EvidenceItem(BaseModel):
    """One subject checked: its result, the facts, when they were collected and by whom."""

    subject: str | None
    status: EvidenceStatus
    detail: dict[str, Any]
    collected_at: datetime
    source: str


class CheckResult(BaseModel):
    """The outcome of one check with all of its evidence."""

    check: str
    title: str
    automated: bool
    status: CheckStatus
    basis: str = Field(description="Where the evidence came from.")
    n_pass: int
    n_fail: int
    n_pending: int
    collected_at: datetime | None
    evidence: list[EvidenceItem]

    def failing(self) -> list[EvidenceItem]:
        """The failing evidence items."""
        return [e for e in self.evidence if e.status == "fail"]


class ControlStatus(BaseModel):
    """One control: its status, why, and the checks behind it."""

    framework: str
    control_id: str
    title: str
    description: str
    status: CheckStatus
    checks: list[str]
    check_status: dict[str, CheckStatus]
    failing_subjects: list[str]
    crosswalk: list[str]
    reason: str


class FrameworkPosture(BaseModel):
    """Posture of one framework: counts, percent and every control."""

    framework: str
    title: str
    passing: int
    failing: int
    no_evidence: int
    total: int
    posture_pct: float = Field(description="Passing controls / all controls, in percent.")
    controls: list[ControlStatus]


class ComplianceReport(BaseModel):
    """Every framework's posture and every check's evidence."""

    now: datetime
    catalogue_version: str
    frameworks: list[FrameworkPosture]
    checks: dict[str, CheckResult]


# ----------------------------------------------------------------------------- helpers


def incident_level(severity: str | None) -> int | None:
    """'SEV-1', 'sev2', 'P1', '1', 'critical' → 1, 2, …; None when unreadable."""
    if not severity:
        return None
    text = severity.strip().lower()
    named = {"critical": 1, "major": 2, "high": 2, "minor": 3, "medium": 3, "low": 4}
    if text in named:
        return named[text]
    match = re.fullmatch(r"(?:sev|p|s)?[-_ ]?(\d)", text)
    return int(match.group(1)) if match else None


def add_business_days(moment: datetime, days: int, timezone: str = "UTC") -> datetime:
    """End of the `days`-th business day after `moment`'s local date (Mon-Fri), as UTC."""
    zone = ZoneInfo(timezone)
    local: date = as_utc(moment).astimezone(zone).date()
    remaining = days
    while remaining > 0:
        local += timedelta(days=1)
        if local.weekday() < 5:
            remaining -= 1
    end = datetime.combine(local + timedelta(days=1), time(0), tzinfo=zone)
    return as_utc(end) - timedelta(microseconds=1)


def _production_services(inputs: ComplianceInputs, now: datetime) -> dict[str, str]:
    """Service → why we consider it in production (deployments first, then the catalogue)."""
    out: dict[str, str] = {}
    window = timedelta(days=inputs.production_window_days)
    for name, facts in (inputs.services or {}).items():
        deploys = {normalize_environment(k): as_utc(v) for k, v in facts.last_deploy.items()}
        production = deploys.get("production")
        if production is not None and as_utc(now) - production <= window:
            out[name] = f"production deploy {production.date().isoformat()}"
        elif not deploys and "production" in {
            normalize_environment(e) for e in facts.declared_environments
        }:
            out[name] = "declared production environment (no deployments recorded)"
    return out


def _item(
    subject: str | None,
    ok: bool | None,
    detail: dict[str, Any],
    at: datetime,
    source: str = OWN_SOURCE,
) -> EvidenceItem:
    status: EvidenceStatus = "n/a" if ok is None else "pass" if ok else "fail"
    return EvidenceItem(
        subject=subject, status=status, detail=detail, collected_at=at, source=source
    )


Evaluator = Callable[[ComplianceInputs, CheckDef, datetime], list[EvidenceItem] | None]


def _by_system_and_principal(labelled: list[tuple[Grant, str]]) -> list[tuple[Grant, str]]:
    """Labelled grants ordered by system, then principal (stable)."""
    return sorted(labelled, key=lambda pair: (pair[0].system, pair[0].principal))


def _when(inputs: ComplianceInputs, now: datetime, *tables: str) -> datetime:
    stamps = [as_utc(inputs.collected[t]) for t in tables if t in inputs.collected]
    return min(stamps) if stamps else as_utc(now)


# ----------------------------------------------------------------------------- automated checks


def check_branch_protection(
    inputs: ComplianceInputs, check: CheckDef, now: datetime
) -> list[EvidenceItem] | None:
    """Production repos protect the default branch and require ≥ 1 approving review."""
    if inputs.repos is None or inputs.services is None:
        return None
    at = _when(inputs, now, "repository", "deployment")
    production = _production_services(inputs, now)
    repo_service = {
        (facts.repo or "").lower(): name for name, facts in inputs.services.items() if facts.repo
    }
    items = []
    for repo in sorted(inputs.repos, key=lambda r: r.full_name):
        service = repo.service or repo_service.get(repo.full_name.lower())
        if repo.archived or service is None or service not in production:
            continue
        reviews = repo.required_reviews or 0
        ok = bool(repo.branch_protected) and reviews >= 1
        items.append(
            _item(
                repo.full_name,
                ok,
                {
                    "service": service,
                    "why_production": production[service],
                    "branch_protected": repo.branch_protected,
                    "required_reviews": repo.required_reviews,
                },
                at,
            )
        )
    if not items:
        items.append(_item(None, True, {"note": "no repository of a production service"}, at))
    return items


def check_mfa(
    inputs: ComplianceInputs, check: CheckDef, now: datetime
) -> list[EvidenceItem] | None:
    """Every privileged human account has MFA on (accounts whose system reports no MFA: n/a)."""
    if inputs.grants is None:
        return None
    at = _when(inputs, now, "access_grant")
    items = []
    for grant, label in _by_system_and_principal(inputs.privileged_grants):
        if not is_human(grant):
            continue
        items.append(
            _item(
                f"{grant.system}:{grant.principal}",
                grant.mfa,
                {
                    "person": grant.person_email,
                    "role": grant.role,
                    "privilege": label,
                    "mfa": grant.mfa,
                },
                at,
            )
        )
    if not items:
        items.append(_item(None, True, {"note": "no privileged human accounts"}, at))
    return items


def check_offboarding(
    inputs: ComplianceInputs, check: CheckDef, now: datetime
) -> list[EvidenceItem] | None:
    """Nobody who has left still holds a grant."""
    if inputs.grants is None or inputs.people is None:
        return None
    at = _when(inputs, now, "access_grant", "person")
    by_person: dict[str, list[Grant]] = {}
    for grant in inputs.grants:
        if grant.person_email:
            by_person.setdefault(grant.person_email.lower(), []).append(grant)
    items = []
    for person in sorted(inputs.people, key=lambda p: p.email):
        if not person.has_left(now):
            continue
        remaining = by_person.get(person.email.lower(), [])
        items.append(
            _item(
                person.email,
                not remaining,
                {
                    "left_at": person.left_at.isoformat() if person.left_at else None,
                    "active": person.active,
                    "remaining_grants": [f"{g.system}:{g.principal} ({g.role})" for g in remaining],
                },
                at,
            )
        )
    if not items:
        items.append(_item(None, True, {"note": "no leavers recorded"}, at))
    return items


def check_stale_privileged(
    inputs: ComplianceInputs, check: CheckDef, now: datetime
) -> list[EvidenceItem] | None:
    """No privileged grant unused for more than `unused_days` days."""
    if inputs.grants is None:
        return None
    days = int(check.params.get("unused_days", 90))
    at = _when(inputs, now, "access_grant")
    limit = timedelta(days=days)
    items = []
    for grant, label in _by_system_and_principal(inputs.privileged_grants):
        last = grant.last_used_at or grant.granted_at
        ok = None if last is None else as_utc(now) - as_utc(last) <= limit
        items.append(
            _item(
                f"{grant.system}:{grant.principal}",
                ok,
                {
                    "privilege": label,
                    "last_used_at": grant.last_used_at.isoformat() if grant.last_used_at else None,
                    "unused_days_threshold": days,
                },
                at,
            )
        )
    if not items:
        items.append(_item(None, True, {"note": "no privileged grants"}, at))
    return items


def check_critical_vulns(
    inputs: ComplianceInputs, check: CheckDef, now: datetime
) -> list[EvidenceItem] | None:
    """Criticals seen in the lookback are fixed within SLA or still inside it."""
    report = inputs.vulnerabilities
    if report is None:
        return None
    lookback = timedelta(days=int(check.params.get("lookback_days", 90)))
    at = _when(inputs, now, "vulnerability")
    items = []
    for item in report.items:
        if item.severity != "critical" or item.state not in ("open", "fixed"):
            continue
        if item.state == "fixed" and (
            item.fixed_at is None or as_utc(now) - item.fixed_at > lookback
        ):
            continue
        items.append(
            _item(
                item.key,
                not item.sla_breached,
                {
                    "state": item.state,
                    "first_seen": item.first_seen.isoformat(),
                    "due_at": item.due_at.isoformat(),
                    "fixed_at": item.fixed_at.isoformat() if item.fixed_at else None,
                    "sla_days": item.sla_days,
                    "days_left": item.days_left,
                    "decision": item.decision,
                    "scanners": sorted({s.scanner for s in item.sources}),
                },
                at,
            )
        )
    if not items:
        items.append(_item(None, True, {"note": "no critical vulnerabilities in the lookback"}, at))
    return items


def check_postmortems(
    inputs: ComplianceInputs, check: CheckDef, now: datetime
) -> list[EvidenceItem] | None:
    """SEV-1/2 incidents resolved in the lookback have a postmortem within N business days."""
    if inputs.incidents is None:
        return None
    lookback = timedelta(days=int(check.params.get("lookback_days", 90)))
    business_days = int(check.params.get("business_days", 5))
    at = _when(inputs, now, "incident")
    items = []
    for incident in sorted(inputs.incidents, key=lambda i: i.triggered_at):
        level = incident_level(incident.severity)
        if level is None or level > 2 or incident.resolved_at is None:
            continue
        if as_utc(now) - as_utc(incident.resolved_at) > lookback:
            continue
        due = add_business_days(incident.resolved_at, business_days, inputs.business_timezone)
        detail = {
            "severity": incident.severity,
            "service": incident.service,
            "resolved_at": as_utc(incident.resolved_at).isoformat(),
            "postmortem_due": due.isoformat(),
            "postmortem_url": incident.postmortem_url,
        }
        if incident.postmortem_url:
            items.append(_item(incident.key, True, detail, at))
        elif as_utc(now) > due:
            items.append(_item(incident.key, False, detail, at))
        else:
            items.append(
                EvidenceItem(
                    subject=incident.key,
                    status="pending",
                    detail=detail,
                    collected_at=at,
                    source=OWN_SOURCE,
                )
            )
    if not items:
        items.append(
            _item(None, True, {"note": "no SEV-1/SEV-2 incident resolved in the lookback"}, at)
        )
    return items


def check_tier1_monitoring(
    inputs: ComplianceInputs, check: CheckDef, now: datetime
) -> list[EvidenceItem] | None:
    """Every tier-1 service has an SLO and a monitor."""
    if inputs.services is None or (inputs.slo_services is None and inputs.monitor_services is None):
        return None
    slos = inputs.slo_services or frozenset()
    monitors = inputs.monitor_services or frozenset()
    at = _when(inputs, now, "service", "slo", "monitor")
    items = []
    for name, facts in sorted(inputs.services.items()):
        if facts.tier != 1:
            continue
        has_slo, has_monitor = name in slos, name in monitors
        items.append(
            _item(
                name,
                has_slo and has_monitor,
                {"tier": 1, "slo": has_slo, "monitor": has_monitor},
                at,
            )
        )
    if not items:
        items.append(_item(None, True, {"note": "no tier-1 services"}, at))
    return items


EVALUATORS: dict[str, Evaluator] = {
    "branch_protection_on_production_repos": check_branch_protection,
    "mfa_for_admins": check_mfa,
    "offboarding_revokes_access": check_offboarding,
    "stale_privileged_access": check_stale_privileged,
    "critical_vulns_remediated": check_critical_vulns,
    "postmortems_for_sev1_sev2": check_postmortems,
    "slos_and_monitors_on_tier1": check_tier1_monitoring,
}


# ----------------------------------------------------------------------------- evaluation


def _collected_evidence(stored: Sequence[StoredEvidence], check: str) -> list[EvidenceItem]:
    """The latest batch of evidence another source collected for a check."""
    rows = [
        s
        for s in stored
        if s.check == check and s.source != OWN_SOURCE and s.status in ("pass", "fail")
    ]
    if not rows:
        return []
    latest = max(as_utc(r.collected_at) for r in rows)
    batch = [r for r in rows if as_utc(r.collected_at) == latest]
    seen: dict[str | None, StoredEvidence] = {}
    for row in sorted(batch, key=lambda r: (r.subject or "", r.source)):
        seen.setdefault(row.subject, row)
    return [
        EvidenceItem(
            subject=row.subject,
            status="pass" if row.status == "pass" else "fail",
            detail=dict(row.evidence),
            collected_at=as_utc(row.collected_at),
            source=row.source,
        )
        for row in seen.values()
    ]


def _result(check: CheckDef, items: list[EvidenceItem], basis: str) -> CheckResult:
    n_pass = sum(1 for e in items if e.status == "pass")
    n_fail = sum(1 for e in items if e.status == "fail")
    n_pending = sum(1 for e in items if e.status == "pending")
    status: CheckStatus = (
        "failing" if n_fail else "passing" if n_pass or n_pending else "no_evidence"
    )
    stamps = [e.collected_at for e in items]
    return CheckResult(
        check=check.key,
        title=check.title,
        automated=check.automated,
        status=status,
        basis=basis,
        n_pass=n_pass,
        n_fail=n_fail,
        n_pending=n_pending,
        collected_at=min(stamps) if stamps else None,
        evidence=sorted(
            items,
            key=lambda e: (
                {"fail": 0, "pending": 1, "pass": 2, "n/a": 3}[e.status],
                e.subject or "",
            ),
        ),
    )


def evaluate_checks(
    inputs: ComplianceInputs, catalogue: Catalogue, *, now: datetime
) -> dict[str, CheckResult]:
    """Evaluate every check of the catalogue once (controls share checks)."""
    results: dict[str, CheckResult] = {}
    for key, check in catalogue.checks.items():
        evaluator = EVALUATORS.get(key) if check.automated else None
        items = evaluator(inputs, check, now) if evaluator else None
        if items is not None:
            results[key] = _result(check, items, "evaluated by CTO Assistant from synced data")
            continue
        collected = _collected_evidence(inputs.stored, key)
        if collected:
            sources = ", ".join(sorted({e.source for e in collected}))
            results[key] = _result(check, collected, f"evidence collected by {sources}")
        else:
            why = (
                "its data is not synced and no evidence was collected"
                if check.automated
                else "no evidence collected"
            )
            results[key] = _result(check, [], why)
    return results


def _control_status(statuses: list[CheckStatus]) -> CheckStatus:
    if "failing" in statuses:
        return "failing"
    if "no_evidence" in statuses or not statuses:
        return "no_evidence"
    return "passing"


def assess(
    inputs: ComplianceInputs,
    catalogue: Catalogue,
    *,
    now: datetime,
    frameworks: Sequence[str] | None = None,
) -> ComplianceReport:
    """Status per control and posture per framework, with every check's evidence."""
    checks = evaluate_checks(inputs, catalogue, now=now)
    postures = []
    for key, framework in catalogue.frameworks.items():
        if frameworks is not None and key not in frameworks:
            continue
        controls = []
        for control in catalogue.controls_of(key):
            per_check = {c: checks[c].status for c in control.checks}
            status = _control_status(list(per_check.values()))
            failing = [
                f"{c}: {e.subject}" if e.subject else c
                for c in control.checks
                for e in checks[c].failing()
            ]
            if status == "failing":
                names = [checks[c].title for c, s in per_check.items() if s == "failing"]
                reason = f"{'; '.join(names)} — {len(failing)} failing: " + ", ".join(
                    f.split(": ", 1)[-1] for f in failing[:5]
                )
            elif status == "no_evidence":
                names = [checks[c].title for c, s in per_check.items() if s == "no_evidence"]
                reason = "no evidence for: " + "; ".join(names)
            else:
                reason = "all checks pass"
            controls.append(
                ControlStatus(
                    framework=key,
                    control_id=control.control_id,
                    title=control.title,
                    description=control.description,
                    status=status,
                    checks=list(control.checks),
                    check_status=per_check,
                    failing_subjects=failing,
                    crosswalk=list(control.crosswalk),
                    reason=reason,
                )
            )
        passing = sum(1 for c in controls if c.status == "passing")
        failing_n = sum(1 for c in controls if c.status == "failing")
        missing = sum(1 for c in controls if c.status == "no_evidence")
        total = len(controls)
        postures.append(
            FrameworkPosture(
                framework=key,
                title=framework.title,
                passing=passing,
                failing=failing_n,
                no_evidence=missing,
                total=total,
                posture_pct=round(100.0 * passing / total, 1) if total else 0.0,
                controls=controls,
            )
        )
    return ComplianceReport(
        now=as_utc(now), catalogue_version=catalogue.version, frameworks=postures, checks=checks
    )


class PosturePoint(BaseModel):
    """Posture of one framework on one collection day (from stored summaries)."""

    day: date
    framework: str
    passing: int
    evaluated: int
    posture_pct: float


def posture_history(stored: Sequence[StoredEvidence]) -> list[PosturePoint]:
    """Per day and framework: controls whose stored evidence that day had no failure."""
    by_day: dict[tuple[date, str], dict[str, bool]] = {}
    for row in stored:
        if row.status not in ("pass", "fail"):
            continue
        controls = by_day.setdefault((as_utc(row.collected_at).date(), row.framework), {})
        controls[row.control_id] = controls.get(row.control_id, True) and row.status == "pass"
    points = []
    for (day, framework), controls in sorted(by_day.items()):
        passing = sum(1 for ok in controls.values() if ok)
        points.append(
            PosturePoint(
                day=day,
                framework=framework,
                passing=passing,
                evaluated=len(controls),
                posture_pct=round(100.0 * passing / len(controls), 1) if controls else 0.0,
            )
        )
    return points
