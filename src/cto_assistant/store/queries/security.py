"""Security queries: findings, the inventory behind them, access, evidence; and the one writer.

Read functions take keyword-only arguments and return the plain inputs of `analytics/`
(frozen dataclasses). Aggregations run in SQL where volumes are large (last deploy per service
and environment; distinct cloud services; last sync per table).

`evaluate_controls(session, now)` is the only function here that writes: the sync/watch layer runs
it after a sync. It stores the evaluation of every control (source "cto-assistant") so history is
kept:
- `control` rows `<framework>:<control id>`: the current status (updated in place);
- `control_evidence` rows `<framework>:<control>:<check>:<subject>:<day>`: one per subject checked,
  one summary row per control and check (subject empty), the day's latest evaluation winning;
- a snapshot of privileged access (check `privileged_access_inventory`, status "info"), written
  only when privileged access changed since the latest snapshot: access drift compares with it.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from cto_assistant.analytics.access import (
    Grant,
    PersonStatus,
    SnapshotEntry,
    snapshot_is_new,
    snapshot_of,
)
from cto_assistant.analytics.compliance import (
    CHECKED_SEVERITIES,
    OWN_SOURCE,
    ComplianceInputs,
    ComplianceReport,
    IncidentFacts,
    RepoFacts,
    StoredEvidence,
    assess,
)
from cto_assistant.analytics.threat_intel import AdvisoryRecord, InstalledPackage, StackInventory
from cto_assistant.analytics.vulnerabilities import (
    Finding,
    Inventory,
    Policy,
    ServiceFacts,
    ThreatFacts,
    VulnerabilityReport,
    as_utc,
    package_normalizer,
    prioritize,
)
from cto_assistant.compliance import load_catalogue
from cto_assistant.store.db import upsert
from cto_assistant.store.models import (
    SOURCED_TABLES,
    AccessGrant,
    Advisory,
    Control,
    ControlEvidence,
    CostDaily,
    Dependency,
    Deployment,
    Incident,
    Monitor,
    Person,
    Repository,
    Service,
    Slo,
    Vulnerability,
)

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

R = TypeVar("R", bound="DataclassInstance")
SNAPSHOT_CHECK = "privileged_access_inventory"
SNAPSHOT_CONTROLS = (("soc2", "CC6.3"), ("iso27001", "A.8.2"))


# ----------------------------------------------------------------------------- records


def _records(
    session: Session,
    cls: type[R],
    model: Any,
    *where: Any,
    adjust: Callable[[dict[str, Any]], None] | None = None,
) -> list[R]:
    """Rows of `model` as `cls` dataclasses: one column per field (same names), in id order.

    A Core select of the columns (no ORM instances); `adjust` converts a row's values by name.
    """
    names = tuple(f.name for f in fields(cls))
    columns = model.__table__.c
    query = sa.select(*(columns[name] for name in names)).where(*where).order_by(columns.id)
    rows = session.execute(query).all()
    if adjust is None:
        return [cls(*row) for row in rows]
    out = []
    for row in rows:
        values = dict(zip(names, row, strict=True))
        adjust(values)
        out.append(cls(**values))
    return out


# ----------------------------------------------------------------------------- resolution


@dataclass(frozen=True)
class Match:
    """An entity name resolved against the store: the canonical value, or close candidates."""

    value: str | None
    candidates: list[str] = field(default_factory=list)


def _match(name: str, aliases: dict[str, str]) -> Match:
    wanted = name.strip().lower()
    if wanted in aliases:
        return Match(aliases[wanted])
    partial = sorted({v for alias, v in aliases.items() if wanted and wanted in alias})
    if len(partial) == 1:
        return Match(partial[0])
    close = difflib.get_close_matches(wanted, list(aliases), n=5, cutoff=0.5)
    return Match(None, sorted({aliases[c] for c in close} | set(partial))[:8])


def resolve_repo(*, session: Session, name: str) -> Match:
    """A repository by full name or short name, case-insensitively ('checkout-service')."""
    names = set(session.scalars(sa.select(Repository.full_name)))
    names |= {r for r in session.scalars(sa.select(Vulnerability.repo).distinct()) if r}
    aliases: dict[str, str] = {}
    for full in sorted(names):
        aliases.setdefault(full.split("/")[-1].lower(), full)
        aliases[full.lower()] = full
    return _match(name, aliases)


def resolve_service(*, session: Session, name: str) -> Match:
    """A service by name, case-insensitively."""
    names = set(session.scalars(sa.select(Service.name)))
    names |= {s for s in session.scalars(sa.select(Vulnerability.service).distinct()) if s}
    return _match(name, {n.lower(): n for n in names})


def resolve_system(*, session: Session, name: str) -> Match:
    """An access-grant system ('aws', 'postgres' → 'postgres:prod'), case-insensitively."""
    systems = sorted(set(session.scalars(sa.select(AccessGrant.system).distinct())))
    wanted = name.strip().lower()
    prefixed = [s for s in systems if s.lower().split(":", 1)[0] == wanted]
    if prefixed:
        return Match(",".join(prefixed))
    return _match(name, {s.lower(): s for s in systems})


# ----------------------------------------------------------------------------- freshness


def last_synced(*, session: Session, tables: Sequence[str]) -> dict[str, datetime]:
    """The latest `synced_at` of each table that has rows."""
    out: dict[str, datetime] = {}
    for table in tables:
        model = SOURCED_TABLES[table]
        stamp = session.scalar(sa.select(sa.func.max(model.synced_at)))
        if stamp is not None:
            out[table] = as_utc(stamp)
    return out


def has_rows(*, session: Session, table: str) -> bool:
    """Whether a vendor-fed table holds any row."""
    model = SOURCED_TABLES[table]
    return session.scalar(sa.select(model.id).limit(1)) is not None


# ----------------------------------------------------------------------------- vulnerabilities


def _adjust_finding(values: dict[str, Any]) -> None:
    """Scanner columns → `Finding` values: lower-case severity, CVEs as a tuple."""
    values["severity"] = (values["severity"] or "low").lower()
    values["cve_ids"] = tuple(str(c) for c in (values["cve_ids"] or []))  # `in_kev`: non-null


def vulnerability_findings(*, session: Session, since: datetime) -> list[Finding]:
    """Scanner rows that are open, or were seen or fixed since `since`."""
    v = Vulnerability
    return _records(
        session,
        Finding,
        v,
        sa.or_(v.state == "open", v.fixed_at >= since, v.first_seen >= since),
        adjust=_adjust_finding,
    )


def _latest_per_service_environment(session: Session) -> list[tuple[Any, ...]]:
    """(service, environment, latest successful finished_at) for every pair that has one.

    A loose index scan: recursive CTEs hop from one distinct service to the next, and within it
    from one environment to the next, then read each pair's maximum. With an index on
    (service, environment, status, finished_at) this is a few index seeks per pair instead of
    a scan of every deployment.
    """
    d = aliased(Deployment)
    first = sa.select(sa.func.min(d.service).label("name")).cte("svc", recursive=True)
    following = sa.select(sa.func.min(d.service)).where(d.service > first.c.name)
    services = first.union_all(
        sa.select(following.scalar_subquery()).where(first.c.name.is_not(None))
    )

    def next_environment(service: Any, after: Any = None) -> Any:
        """The smallest environment of `service` (after `after`), as a scalar subquery."""
        wanted = [d.service == service, d.environment.is_not(None)]
        if after is not None:
            wanted.append(d.environment > after)
        return sa.select(sa.func.min(d.environment)).where(*wanted).scalar_subquery()

    start = (
        sa.select(
            services.c.name.label("service"),
            next_environment(services.c.name).label("environment"),
        )
        .where(services.c.name.is_not(None))
        .cte("pair", recursive=True)
    )
    pairs = start.union_all(
        sa.select(start.c.service, next_environment(start.c.service, start.c.environment)).where(
            start.c.environment.is_not(None)
        )
    )
    latest = sa.select(sa.func.max(d.finished_at)).where(
        d.service == pairs.c.service,
        d.environment == pairs.c.environment,
        d.status == "success",
    )
    rows = session.execute(
        sa.select(pairs.c.service, pairs.c.environment, latest.scalar_subquery()).where(
            pairs.c.environment.is_not(None)
        )
    )
    return [tuple(row) for row in rows]


def _latest_of_the_rest(session: Session) -> list[tuple[Any, ...]]:
    """(service, repo, environment, latest) of the successful deploys the loose scan skips.

    Those are the deployments without a service (owned by their repo) and the ones without
    `finished_at` (their start time counts): both are found through an index, and rare.
    """
    d = Deployment
    rows = session.execute(
        sa.select(
            d.service,
            d.repo,
            d.environment,
            sa.func.max(sa.func.coalesce(d.finished_at, d.started_at)),
        )
        .where(
            d.status == "success",
            d.environment.is_not(None),
            sa.or_(d.service.is_(None), d.finished_at.is_(None)),
        )
        .group_by(d.service, d.repo, d.environment)
    )
    return [tuple(row) for row in rows]


def last_deploys(*, session: Session) -> dict[str, dict[str, datetime]]:
    """Service (or repo when the deployment names no service) → environment → last success."""
    rows = [
        (service, None, environment, last)
        for service, environment, last in _latest_per_service_environment(session)
    ]
    rows.extend(_latest_of_the_rest(session))
    out: dict[str, dict[str, datetime]] = {}
    for service, repo, environment, last in rows:
        owner = service or (f"repo:{repo.lower()}" if repo else None)
        if owner is None or last is None:
            continue
        env = str(environment).lower()
        current = out.setdefault(owner, {}).get(env)
        if current is None or as_utc(last) > current:
            out[owner][env] = as_utc(last)
    return out


def service_inventory(*, session: Session) -> Inventory:
    """Services with their deployments, repo → service/team maps and installed versions."""
    deploys = last_deploys(session=session)
    services: dict[str, ServiceFacts] = {}
    repo_service: dict[str, str] = {}
    repo_team: dict[str, str] = {}
    s = Service.__table__.c
    for name, team, tier, internet_facing, repo, environments in session.execute(
        sa.select(s.name, s.team_key, s.tier, s.internet_facing, s.repo, s.environments).order_by(
            s.id
        )
    ):
        envs = dict(deploys.get(name, {}))
        if repo:
            for env, at in deploys.get(f"repo:{repo.lower()}", {}).items():
                if env not in envs or at > envs[env]:
                    envs[env] = at
            repo_service.setdefault(repo.lower(), name)
            if team:
                repo_team.setdefault(repo.lower(), team)
        services[name] = ServiceFacts(
            name=name,
            team=team,
            tier=tier,
            internet_facing=bool(internet_facing),
            repo=repo,
            declared_environments=tuple(str(e) for e in (environments or [])),
            last_deploy=envs,
        )
    r = Repository.__table__.c
    for full_name, service, team in session.execute(
        sa.select(r.full_name, r.service, r.team_key).order_by(r.id)
    ):
        if service:
            repo_service.setdefault(full_name.lower(), service)
        if team:
            repo_team.setdefault(full_name.lower(), team)
    d = Dependency.__table__.c
    normalize = package_normalizer()
    installed = {
        (repo.lower(), normalize(package)): version
        for repo, package, version in session.execute(
            sa.select(d.repo, d.package, d.version).order_by(d.id)
        )
        if version
    }
    return Inventory(
        services=services, repo_service=repo_service, repo_team=repo_team, installed=installed
    )


def threat_facts(*, session: Session) -> ThreatFacts:
    """KEV membership (with date added) and the highest EPSS per CVE from the advisory feeds."""
    a = Advisory
    kev: dict[str, datetime | None] = {}
    epss: dict[str, float] = {}
    rows = session.execute(
        sa.select(a.cve_ids, a.kev, a.feed, a.epss, a.published).where(
            sa.or_(a.kev.is_(True), a.epss.is_not(None))
        )
    )
    for cves, in_kev, feed, score, published in rows:
        for cve in cves or []:
            key = str(cve).upper()
            if in_kev:
                added = as_utc(published) if (feed == "kev" and published) else None
                if key not in kev or (added and (kev[key] is None or added < kev[key])):  # type: ignore[operator]
                    kev[key] = added
            if score is not None:
                epss[key] = max(epss.get(key, 0.0), float(score))
    return ThreatFacts(kev=kev, epss=epss)


def prioritized_vulnerabilities(
    *,
    session: Session,
    now: datetime,
    policy: Policy,
    history_days: int = 180,
    inventory: Inventory | None = None,
    severities: Collection[str] | None = None,
) -> VulnerabilityReport:
    """Every open (and recently seen or fixed) finding, prioritized (pass `inventory` if known).

    `severities` limits the report to items of those severities (see `prioritize`).
    """
    since = as_utc(now) - timedelta(days=history_days)
    return prioritize(
        vulnerability_findings(session=session, since=since),
        now=now,
        inventory=service_inventory(session=session) if inventory is None else inventory,
        threat=threat_facts(session=session),
        policy=policy,
        severities=severities,
    )


# ----------------------------------------------------------------------------- threat intel


def advisories_since(*, session: Session, since: datetime) -> list[AdvisoryRecord]:
    """Advisories published since `since` (EPSS enrichment rows left out)."""
    a = Advisory
    rows = session.scalars(sa.select(a).where(a.published >= since, a.feed != "epss"))
    return [
        AdvisoryRecord(
            source_id=r.source_id,
            feed=r.feed,
            published=r.published,
            title=r.title,
            summary=r.summary,
            cve_ids=tuple(str(c) for c in (r.cve_ids or [])),
            affected=tuple(x for x in (r.affected or []) if isinstance(x, dict)),
            vendor_project=r.vendor_project,
            product=r.product,
            kev=bool(r.kev),
            epss=r.epss,
            severity=r.severity,
            url=r.url,
        )
        for r in rows
    ]


def stack_inventory(*, session: Session, now: datetime, cloud_days: int = 35) -> StackInventory:
    """Packages, languages (→ repos), cloud services billed recently, and CVEs we already see."""
    packages = [
        InstalledPackage(repo=repo, ecosystem=eco, package=pkg, version=ver)
        for repo, eco, pkg, ver in session.execute(
            sa.select(Dependency.repo, Dependency.ecosystem, Dependency.package, Dependency.version)
        )
    ]
    languages: dict[str, list[str]] = {}
    for repo, language in session.execute(
        sa.select(Repository.full_name, Repository.language).where(Repository.language.is_not(None))
    ):
        languages.setdefault(str(language).lower(), []).append(repo)
    since = (as_utc(now) - timedelta(days=cloud_days)).date()
    cloud = sorted(
        s
        for s in session.scalars(
            sa.select(CostDaily.service).where(CostDaily.day >= since).distinct()
        )
        if s
    )
    findings: dict[str, set[tuple[str, str, str | None]]] = {}
    v = Vulnerability
    for cves, repo, package, version in session.execute(
        sa.select(v.cve_ids, v.repo, v.package, v.version).where(v.state == "open")
    ):
        for cve in cves or []:
            if repo and package:
                findings.setdefault(str(cve).upper(), set()).add((repo, package, version))
    return StackInventory(
        packages=packages,
        languages={k: tuple(sorted(v)) for k, v in languages.items()},
        cloud_services=tuple(cloud),
        findings={k: tuple(sorted(v, key=lambda t: (t[0], t[1]))) for k, v in findings.items()},
    )


# ----------------------------------------------------------------------------- access


def access_grants(*, session: Session, systems: Sequence[str] | None = None) -> list[Grant]:
    """Access grants, optionally of some systems only."""
    g = AccessGrant
    wanted = [g.system.in_(list(systems))] if systems else []
    return _records(session, Grant, g, *wanted)  # `privileged` is a non-null boolean


def people(*, session: Session) -> list[PersonStatus]:
    """Everyone the store knows, one entry per e-mail, with whether they still work here.

    Several sources describe the same person (HR roster, catalog, PagerDuty, GitHub); a leaver
    is a leaver if ANY of them says so — a tool that still lists a departed user as active is
    exactly the gap the access audit exists to find.
    """
    merged: dict[str, PersonStatus] = {}
    p = Person
    for raw_email, name, active, left_at, team in session.execute(
        sa.select(p.email, p.name, p.active, p.left_at, p.team_key).order_by(p.id)
    ):
        email = raw_email.lower()
        seen = merged.get(email)
        if seen is None:
            merged[email] = PersonStatus(
                email=email, name=name, active=bool(active), left_at=left_at, team=team
            )
            continue
        left = [d for d in (seen.left_at, left_at) if d is not None]
        merged[email] = PersonStatus(
            email=email,
            name=seen.name or name,
            active=seen.active and bool(active),
            left_at=min(left) if left else None,
            team=seen.team or team,
        )
    return list(merged.values())


def access_snapshots(*, session: Session) -> list[tuple[datetime, list[SnapshotEntry]]]:
    """Stored snapshots of privileged access, oldest first (one per collection time)."""
    e = ControlEvidence
    rows = session.execute(
        sa.select(e.collected_at, e.evidence)
        .where(e.source == OWN_SOURCE, e.check == SNAPSHOT_CHECK)
        .order_by(e.collected_at)
    )
    seen: dict[datetime, list[SnapshotEntry]] = {}
    for at, evidence in rows:
        seen.setdefault(
            as_utc(at),
            [SnapshotEntry.model_validate(x) for x in (evidence or {}).get("grants", [])],
        )
    return sorted(seen.items())


# ----------------------------------------------------------------------------- compliance


def stored_evidence(*, session: Session, framework: str | None = None) -> list[StoredEvidence]:
    """Evidence rows (snapshots left out), optionally of one framework."""
    e = ControlEvidence
    wanted: list[sa.ColumnElement[bool]] = [e.status.in_(["pass", "fail", "pending"])]
    if framework:
        wanted.append(e.framework == framework)
    return _records(session, StoredEvidence, e, *wanted, adjust=_adjust_evidence)


def _adjust_evidence(values: dict[str, Any]) -> None:
    """Evidence columns → `StoredEvidence` values: the evidence as a plain dict."""
    values["evidence"] = dict(values["evidence"] or {})


def compliance_inputs(
    *,
    session: Session,
    now: datetime,
    policy: Policy,
    business_timezone: str = "UTC",
    inventory: Inventory | None = None,
    vulnerabilities: VulnerabilityReport | None = None,
    stored: Sequence[StoredEvidence] | None = None,
) -> ComplianceInputs:
    """Everything the compliance checks read; None for data that is not synced.

    Inputs the caller already computed for the same `now` and `policy` (the service inventory,
    the prioritized vulnerabilities, the stored evidence) are passed in and not read again.
    Computed here, the vulnerabilities hold only the severities the checks read.
    """
    if inventory is None:
        inventory = service_inventory(session=session)
    repos = _records(session, RepoFacts, Repository)  # `archived` is a non-null boolean
    grants = access_grants(session=session)
    staff = people(session=session)
    since = as_utc(now) - timedelta(days=120)
    incidents = _records(session, IncidentFacts, Incident, Incident.triggered_at >= since)
    has_incidents = incidents or has_rows(session=session, table="incident")
    vulns = vulnerabilities
    if vulns is None and has_rows(session=session, table="vulnerability"):
        vulns = prioritized_vulnerabilities(
            session=session,
            now=now,
            policy=policy,
            inventory=inventory,
            severities=CHECKED_SEVERITIES,
        )
    slo_services = frozenset(s for s in session.scalars(sa.select(Slo.service).distinct()) if s)
    monitor_services = frozenset(
        s for s in session.scalars(sa.select(Monitor.service).distinct()) if s
    )
    return ComplianceInputs(
        repos=repos or None,
        services=dict(inventory.services) or None,
        grants=grants or None,
        people=staff or None,
        vulnerabilities=vulns,
        incidents=incidents if has_incidents else None,
        slo_services=slo_services if has_rows(session=session, table="slo") else None,
        monitor_services=monitor_services if has_rows(session=session, table="monitor") else None,
        stored=stored_evidence(session=session) if stored is None else stored,
        collected=last_synced(
            session=session,
            tables=(
                "repository",
                "deployment",
                "service",
                "access_grant",
                "person",
                "vulnerability",
                "incident",
                "slo",
                "monitor",
            ),
        ),
        business_timezone=business_timezone,
        production_window_days=policy.production_window_days,
    )


def assess_compliance(
    *,
    session: Session,
    now: datetime,
    policy: Policy | None = None,
    frameworks: Sequence[str] | None = None,
    inventory: Inventory | None = None,
    vulnerabilities: VulnerabilityReport | None = None,
    stored: Sequence[StoredEvidence] | None = None,
) -> ComplianceReport:
    """Evaluate the catalogue over the store (read only); see `compliance_inputs` for the rest."""
    inputs = compliance_inputs(
        session=session,
        now=now,
        policy=policy or Policy(),
        inventory=inventory,
        vulnerabilities=vulnerabilities,
        stored=stored,
    )
    return assess(inputs, load_catalogue(), now=now, frameworks=frameworks)


# ----------------------------------------------------------------------------- the writer


@dataclass(frozen=True)
class EvaluationWrite:
    """What `evaluate_controls` stored."""

    controls: int
    evidence: int
    snapshot_written: bool


def _stable_id(*parts: str) -> str:
    text = ":".join(parts)
    if len(text) <= 255:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    return f"{text[:230]}~{digest}"


def evaluate_controls(
    session: Session, now: datetime, *, policy: Policy | None = None
) -> EvaluationWrite:
    """Evaluate every control and store the result and its evidence (run after a sync)."""
    now = as_utc(now)
    report = assess_compliance(session=session, now=now, policy=policy)
    day = now.date().isoformat()
    control_rows: list[dict[str, Any]] = []
    evidence_rows: list[dict[str, Any]] = []
    catalogue = load_catalogue()
    for posture in report.frameworks:
        for control in posture.controls:
            definition = next(
                c
                for c in catalogue.controls_of(posture.framework)
                if c.control_id == control.control_id
            )
            control_rows.append(
                {
                    "source": OWN_SOURCE,
                    "source_id": f"{posture.framework}:{control.control_id}",
                    "framework": posture.framework,
                    "control_id": control.control_id,
                    "title": control.title[:255],
                    "description": definition.description,
                    "check": ",".join(control.checks)[:128],
                    "status": control.status,
                    "evaluated_at": now,
                }
            )
            for check_key in control.checks:
                result = report.checks[check_key]
                for item in result.evidence:
                    if item.source != OWN_SOURCE or item.status == "n/a":
                        continue
                    subject = item.subject or "-"
                    evidence_rows.append(
                        {
                            "source": OWN_SOURCE,
                            "source_id": _stable_id(
                                posture.framework, control.control_id, check_key, subject, day
                            ),
                            "framework": posture.framework,
                            "control_id": control.control_id,
                            "check": check_key,
                            "subject": (item.subject or None) and subject[:255],
                            "status": item.status,
                            "evidence": {
                                **item.detail,
                                "data_collected_at": item.collected_at.isoformat(),
                            },
                            "collected_at": now,
                        }
                    )
                evidence_rows.append(
                    {
                        "source": OWN_SOURCE,
                        "source_id": _stable_id(
                            posture.framework, control.control_id, check_key, "summary", day
                        ),
                        "framework": posture.framework,
                        "control_id": control.control_id,
                        "check": check_key,
                        "subject": None,
                        "status": {"passing": "pass", "failing": "fail"}.get(
                            result.status, "no_evidence"
                        ),
                        "evidence": {
                            "status": result.status,
                            "basis": result.basis,
                            "passed": result.n_pass,
                            "failed": result.n_fail,
                            "pending": result.n_pending,
                        },
                        "collected_at": now,
                    }
                )
    written = False
    if has_rows(session=session, table="access_grant"):
        current = snapshot_of(access_grants(session=session))
        snapshots = access_snapshots(session=session)
        latest = snapshots[-1][1] if snapshots else None
        if snapshot_is_new(latest, current):
            written = True
            stamp = now.isoformat(timespec="seconds")
            for framework, control_id in SNAPSHOT_CONTROLS:
                evidence_rows.append(
                    {
                        "source": OWN_SOURCE,
                        "source_id": _stable_id(
                            framework, control_id, SNAPSHOT_CHECK, "snapshot", stamp
                        ),
                        "framework": framework,
                        "control_id": control_id,
                        "check": SNAPSHOT_CHECK,
                        "subject": None,
                        "status": "info",
                        "evidence": {"grants": [e.model_dump() for e in current]},
                        "collected_at": now,
                    }
                )
    upsert(session, "control", control_rows, synced_at=now)
    upsert(session, "control_evidence", evidence_rows, synced_at=now)
    return EvaluationWrite(
        controls=len(control_rows), evidence=len(evidence_rows), snapshot_written=written
    )


def stored_controls(*, session: Session, source: str = OWN_SOURCE) -> list[Control]:
    """The control rows one source stored (ours by default)."""
    return list(session.scalars(sa.select(Control).where(Control.source == source)))


def evidence_rows(
    *, session: Session, framework: str, since: datetime | None = None
) -> Iterable[ControlEvidence]:
    """Stored evidence rows of a framework (for the auditor export), oldest first."""
    e = ControlEvidence
    query = sa.select(e).where(e.framework == framework)
    if since is not None:
        query = query.where(e.collected_at >= since)
    return session.scalars(query.order_by(e.collected_at, e.control_id, e.check, e.subject))
