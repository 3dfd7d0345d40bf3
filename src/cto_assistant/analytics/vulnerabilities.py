"""Vulnerability prioritization: de-duplication, SSVC decision, ordering and remediation SLA.

Pure: scanner rows, the service inventory (with what the deployments say runs in production) and
threat facts (KEV, EPSS) come in; a typed report with every item's reasons in words comes out.

The pipeline (docs/metrics/security.md has the definitions):

1. `dedupe` merges the rows that describe the same problem: same repository, same package and a
   shared identifier (a CVE, else the scanner's id). Snyk and Dependabot reporting one CVE in one
   package of one repo become one item that keeps both rows as provenance.
2. `enrich` adds what the threat feeds know: in CISA KEV, the highest EPSS of its CVEs.
3. Four SSVC decision points are read off the item: exploitation (KEV → active; a public or
   mature exploit → PoC; else none), exposure (production and internet-facing → open; production
   → controlled; else small — production means a recent successful production deployment of the
   repo's service), automatable (CVSS vector: network, no privileges, no user interaction) and
   technical impact (CVSS: confidentiality and integrity both high → total).
4. `SSVC_TABLE` turns them into Act / Attend / Track* / Track (CISA's deployer tree, with our
   exposure standing in for mission and well-being impact).
5. Within a class items are ordered by EPSS (highest first), then by how much of the remediation
   SLA they have used (critical 7, high 30, medium 90, low 120 days by default).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Severity = Literal["critical", "high", "medium", "low"]
Decision = Literal["Act", "Attend", "Track*", "Track"]
Exploitation = Literal["none", "poc", "active"]
Exposure = Literal["small", "controlled", "open"]

SEVERITIES: tuple[Severity, ...] = ("critical", "high", "medium", "low")
SEVERITY_RANK: dict[str, int] = {name: index for index, name in enumerate(SEVERITIES)}
DECISIONS: tuple[Decision, ...] = ("Act", "Attend", "Track*", "Track")
DECISION_RANK: dict[str, int] = {name: index for index, name in enumerate(DECISIONS)}
DEFAULT_SLA_DAYS: dict[str, int] = {"critical": 7, "high": 30, "medium": 90, "low": 120}
PRODUCTION_NAMES = frozenset({"production", "prod", "prd", "live"})
ACTIVE_MATURITY = frozenset({"attacked", "active", "weaponized"})
POC_MATURITY = frozenset({"poc", "proof of concept", "functional", "mature", "high"})

# Our decision table (CISA's deployer tree): (exploitation, automatable, total impact) gives the
# outcome for each exposure level (small, controlled, open).
SSVC_TABLE: dict[tuple[Exploitation, bool, bool], tuple[Decision, Decision, Decision]] = {
    ("none", False, False): ("Track", "Track", "Track"),
    ("none", False, True): ("Track", "Track", "Track*"),
    ("none", True, False): ("Track", "Track", "Attend"),
    ("none", True, True): ("Track", "Track", "Attend"),
    ("poc", False, False): ("Track", "Track", "Track*"),
    ("poc", False, True): ("Track", "Track*", "Attend"),
    ("poc", True, False): ("Track", "Track", "Attend"),
    ("poc", True, True): ("Track", "Track*", "Attend"),
    ("active", False, False): ("Track", "Track", "Attend"),
    ("active", False, True): ("Track", "Attend", "Act"),
    ("active", True, False): ("Attend", "Attend", "Act"),
    ("active", True, True): ("Attend", "Act", "Act"),
}
EXPOSURE_INDEX: dict[Exposure, int] = {"small": 0, "controlled": 1, "open": 2}

SCANNER_NAMES = {
    "snyk": "Snyk",
    "dependabot": "Dependabot",
    "code_scanning": "GitHub code scanning",
}


def ssvc_decision(
    exploitation: Exploitation, automatable: bool, total_impact: bool, exposure: Exposure
) -> Decision:
    """Look up the SSVC outcome for one combination of decision points."""
    return SSVC_TABLE[(exploitation, automatable, total_impact)][EXPOSURE_INDEX[exposure]]


# ----------------------------------------------------------------------------- inputs


@dataclass(frozen=True, slots=True)
class Finding:
    """One scanner row (a `vulnerability` row of the store)."""

    source: str
    source_id: str
    scanner: str
    severity: str
    first_seen: datetime
    state: str = "open"
    external_id: str | None = None
    title: str | None = None
    repo: str | None = None
    service: str | None = None
    environment: str | None = None
    ecosystem: str | None = None
    package: str | None = None
    version: str | None = None
    fixed_version: str | None = None
    cvss: float | None = None
    cvss_vector: str | None = None
    cve_ids: tuple[str, ...] = ()
    epss: float | None = None
    in_kev: bool = False
    exploit_maturity: str | None = None
    fixable: bool | None = None
    fixed_at: datetime | None = None
    url: str | None = None


@dataclass(frozen=True)
class ServiceFacts:
    """What we know about where a service runs."""

    name: str
    team: str | None = None
    tier: int | None = None
    internet_facing: bool = False
    repo: str | None = None
    declared_environments: tuple[str, ...] = ()
    last_deploy: Mapping[str, datetime] = field(default_factory=dict)  # env → last success


@dataclass(frozen=True)
class Inventory:
    """Services, which repo belongs to which service and team, and installed versions."""

    services: Mapping[str, ServiceFacts] = field(default_factory=dict)
    repo_service: Mapping[str, str] = field(default_factory=dict)  # lower-case repo → service
    repo_team: Mapping[str, str] = field(default_factory=dict)  # lower-case repo → team key
    installed: Mapping[tuple[str, str], str] = field(default_factory=dict)  # (repo, pkg) → ver

    def service_of(self, repo: str | None, service: str | None) -> ServiceFacts | None:
        """The service a finding belongs to: its own field, else its repository's service."""
        name = service or (self.repo_service.get(repo.lower()) if repo else None)
        if name is None:
            return None
        return self.services.get(name) or ServiceFacts(name=name)


@dataclass(frozen=True)
class ThreatFacts:
    """Threat-feed knowledge keyed by CVE: KEV membership (with date added) and EPSS."""

    kev: Mapping[str, datetime | None] = field(default_factory=dict)
    epss: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Policy:
    """The knobs of prioritization (all shown in the report)."""

    sla_days: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_SLA_DAYS))
    production_window_days: int = 90
    recent_days: int = 7

    def sla_for(self, severity: str) -> int:
        """Remediation SLA in days for a severity (unknown severities get the low SLA)."""
        return int(self.sla_days.get(severity, self.sla_days.get("low", 120)))


def policy_with(sla_days: Mapping[str, int] | None = None, **kwargs: int) -> Policy:
    """A policy with the default SLA overridden per severity by `sla_days`."""
    merged = dict(DEFAULT_SLA_DAYS)
    for key, value in (sla_days or {}).items():
        name = key.strip().lower()
        if name not in DEFAULT_SLA_DAYS:
            raise ValueError(f"unknown severity {key!r} in SLA (use {', '.join(SEVERITIES)})")
        if int(value) <= 0:
            raise ValueError(f"SLA for {name} must be a positive number of days")
        merged[name] = int(value)
    return Policy(sla_days=merged, **kwargs)


# ----------------------------------------------------------------------------- outputs


class SourceRow(BaseModel):
    """One scanner row behind a de-duplicated item (its provenance)."""

    model_config = ConfigDict(frozen=True)

    scanner: str
    source: str
    source_id: str
    external_id: str | None = None
    state: str
    first_seen: datetime
    url: str | None = None


class DecisionPoint(BaseModel):
    """One SSVC decision point: its value and why."""

    model_config = ConfigDict(frozen=True)

    value: str
    why: str


class PrioritizedVulnerability(BaseModel):
    """A de-duplicated vulnerability with its SSVC decision, SLA position and reasons."""

    model_config = ConfigDict(frozen=True)

    rank: int = 0
    key: str = Field(description="Stable id: repo|package|identifier.")
    title: str | None
    identifiers: list[str] = Field(description="CVE, GHSA and scanner ids, CVEs first.")
    cve_ids: list[str]
    repo: str | None
    service: str | None
    team: str | None
    ecosystem: str | None
    package: str | None
    version: str | None
    fixed_version: str | None
    severity: str
    cvss: float | None
    epss: float | None
    in_kev: bool
    exploit_maturity: str | None
    state: str
    environment: str | None = Field(description="Where it runs: from deployments when known.")
    environment_basis: str
    internet_facing: bool
    first_seen: datetime
    fixed_at: datetime | None
    age_days: float = Field(description="Days open (to `now`, or to the fix when fixed).")
    sla_days: int
    due_at: datetime
    days_left: float = Field(description="Days until the SLA due date; negative when over.")
    sla_breached: bool
    decision: Decision
    exploitation: DecisionPoint
    exposure: DecisionPoint
    automatable: DecisionPoint
    technical_impact: DecisionPoint
    reasons: list[str]
    reason: str = Field(description="The reasons joined into one line.")
    sources: list[SourceRow]


class VulnerabilityReport(BaseModel):
    """Every de-duplicated item, ordered, with counts and the week's arrivals and fixes."""

    now: datetime
    policy: dict[str, object]
    items: list[PrioritizedVulnerability]
    n_rows: int = Field(description="Scanner rows before de-duplication.")
    n_items: int = Field(description="Items after de-duplication.")
    by_decision: dict[str, int] = Field(description="Open items per SSVC decision.")
    by_severity: dict[str, int] = Field(description="Open items per severity.")
    sla_breaches: int = Field(description="Open items past their SLA due date.")
    new_this_week: list[str] = Field(description="Keys first seen in the last 7 days.")
    fixed_this_week: list[str] = Field(description="Keys fixed in the last 7 days.")

    def open_items(self) -> list[PrioritizedVulnerability]:
        """The open items, in priority order."""
        return [item for item in self.items if item.state == "open"]


# ----------------------------------------------------------------------------- helpers


def as_utc(moment: datetime) -> datetime:
    """An aware UTC datetime (naive values are taken to be UTC already)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


_PACKAGE_SEPARATORS = re.compile(r"[-_.]+")


def normalize_package(name: str | None) -> str:
    """Package name for matching: lower case; PEP 503 separators folded."""
    if not name:
        return ""
    return _PACKAGE_SEPARATORS.sub("-", name.strip().lower()) if ":" not in name else name.lower()


def package_normalizer() -> Callable[[str | None], str]:
    """`normalize_package` remembering its answers: one per call that reads many rows."""
    seen: dict[str | None, str] = {}

    def normalize(name: str | None) -> str:
        if name not in seen:
            seen[name] = normalize_package(name)
        return seen[name]

    return normalize


def normalize_environment(name: str | None) -> str | None:
    """'prod', 'Production', 'live' → 'production'; others lower-cased."""
    if not name:
        return None
    lowered = name.strip().lower()
    return "production" if lowered in PRODUCTION_NAMES else lowered


_CONCRETE_VERSION = re.compile(r"^v?\d[\w.+\-]*$")


def is_concrete_version(version: str | None) -> bool:
    """Whether `version` names one version (not a range such as '< 2.0')."""
    return bool(version) and bool(_CONCRETE_VERSION.match(str(version).strip()))


def sla_position(
    *, first_seen: datetime, now: datetime, sla_days: int, fixed_at: datetime | None = None
) -> tuple[float, datetime, float, bool]:
    """(age in days, due date, days left, breached) for one finding; time zones normalised.

    Age runs to the fix when fixed; a fixed item is breached when it was fixed after its due date.
    """
    start = as_utc(first_seen)
    end = as_utc(fixed_at) if fixed_at is not None else as_utc(now)
    due = start + timedelta(days=sla_days)
    age = (end - start).total_seconds() / 86400
    days_left = (due - end).total_seconds() / 86400
    return age, due, days_left, end > due


def parse_cvss_vector(vector: str | None) -> dict[str, str]:
    """'CVSS:3.1/AV:N/AC:L/…' → {'AV': 'N', 'AC': 'L', …} (empty when absent)."""
    if not vector:
        return {}
    metrics: dict[str, str] = {}
    for part in vector.split("/"):
        key, _, value = part.partition(":")
        if value and key != "CVSS":
            metrics[key.strip().upper()] = value.strip().upper()
    return metrics


def exploitation_of(in_kev: bool, maturity: str | None) -> tuple[Exploitation, str]:
    """SSVC exploitation from KEV and the scanner's exploit maturity, with why."""
    level = (maturity or "").strip().lower()
    if in_kev:
        return "active", "in CISA KEV"
    if level in ACTIVE_MATURITY:
        return "active", f"exploited in the wild (exploit maturity {level})"
    if level in POC_MATURITY:
        return "poc", f"public exploit (maturity {level})"
    return "none", "no known exploit"


def automatable_of(vector: str | None) -> tuple[bool, str]:
    """SSVC automatable from the CVSS vector: network reachable, no privileges, no user action."""
    metrics = parse_cvss_vector(vector)
    if not metrics:
        return False, "automatable unknown (no CVSS vector), taken as no"
    reachable = metrics.get("AV") == "N"
    unattended = metrics.get("PR") == "N" and metrics.get("UI") in ("N", "NONE")
    if reachable and unattended:
        return True, "automatable (network, no privileges, no user interaction)"
    blockers = []
    if not reachable:
        blockers.append("not network-reachable")
    if metrics.get("PR") != "N":
        blockers.append("needs privileges")
    if metrics.get("UI") not in ("N", "NONE"):
        blockers.append("needs user interaction")
    return False, "not automatable (" + ", ".join(blockers) + ")"


def technical_impact_of(vector: str | None, cvss: float | None, severity: str) -> tuple[bool, str]:
    """SSVC technical impact: total when confidentiality and integrity are both high."""
    metrics = parse_cvss_vector(vector)
    if metrics:
        confidentiality = metrics.get("C") or metrics.get("VC")  # CVSS 3.x, then 4.0 names
        integrity = metrics.get("I") or metrics.get("VI")
        total = confidentiality == "H" and integrity == "H"
        score = f"CVSS {cvss:g}" if cvss is not None else "CVSS vector"
        label = "total" if total else "partial"
        return (
            total,
            f"{label} technical impact ({score}: C:{confidentiality or '?'}/I:{integrity or '?'})",
        )
    if cvss is not None:
        return (
            cvss >= 9.0,
            f"{'total' if cvss >= 9.0 else 'partial'} technical impact (CVSS {cvss:g}, no vector)",
        )
    total = severity == "critical"
    return (
        total,
        f"{'total' if total else 'partial'} technical impact (severity {severity}, no CVSS)",
    )


# ----------------------------------------------------------------------------- de-duplication


@dataclass
class MergedFinding:
    """Scanner rows that describe one problem (same repo, package and identifier)."""

    rows: list[Finding]

    @cached_property
    def identifiers(self) -> list[str]:
        """CVEs first (sorted), then other ids (GHSA, scanner ids) sorted."""
        cves = sorted({c.upper() for row in self.rows for c in row.cve_ids})
        others = sorted({row.external_id for row in self.rows if row.external_id} - set(cves))
        return cves + others

    @cached_property
    def key(self) -> str:
        """repo|package|first identifier: stable across syncs and scanners."""
        first = self.rows[0]
        ident = self.identifiers[0] if self.identifiers else first.source_id
        return f"{first.repo or '-'}|{first.package or '-'}|{ident}"


def _identity(row: Finding) -> set[str]:
    ids = {c.upper() for c in row.cve_ids}
    if not ids:
        ids = {f"{row.scanner}:{row.external_id or row.source_id}"}
    return ids


def dedupe(findings: Iterable[Finding]) -> list[MergedFinding]:
    """Merge rows of one repo and package that share a CVE (or, without CVE, the same id)."""
    groups: dict[tuple[str, str], list[Finding]] = {}
    normalize = package_normalizer()
    for row in findings:
        groups.setdefault(((row.repo or "").lower(), normalize(row.package)), []).append(row)
    merged: list[MergedFinding] = []
    for _scope, rows in sorted(groups.items()):
        clusters: list[tuple[set[str], list[Finding]]] = []
        for row in sorted(rows, key=lambda r: (as_utc(r.first_seen), r.source, r.source_id)):
            ids = _identity(row)
            touching = [c for c in clusters if c[0] & ids]
            if not touching:
                clusters.append((set(ids), [row]))
                continue
            keep = touching[0]
            keep[0].update(ids)
            keep[1].append(row)
            for other in touching[1:]:  # a row bridging two clusters joins them
                keep[0].update(other[0])
                keep[1].extend(other[1])
                clusters.remove(other)
        merged.extend(MergedFinding(rows=cluster[1]) for cluster in clusters)
    return merged


# ----------------------------------------------------------------------------- prioritization


def _severity_of(rows: Sequence[Finding]) -> str:
    """The most severe of the rows' severities (lower case)."""
    return min((r.severity.lower() for r in rows), key=lambda s: SEVERITY_RANK.get(s, 9))


def _merged_state(rows: Sequence[Finding]) -> tuple[str, datetime | None]:
    states = {row.state for row in rows}
    if "open" in states:
        return "open", None
    if "fixed" in states:
        fixes = [as_utc(r.fixed_at) for r in rows if r.state == "fixed" and r.fixed_at]
        return "fixed", max(fixes) if fixes else None
    return sorted(states)[0], None


def _deploys_of(facts: ServiceFacts | None) -> dict[str, datetime]:
    """A service's last successful deploy per normalized environment."""
    return {
        normalize_environment(env) or env: as_utc(at)
        for env, at in (facts.last_deploy if facts else {}).items()
    }


def _resolve_environment(
    rows: Sequence[Finding],
    facts: ServiceFacts | None,
    now: datetime,
    policy: Policy,
    deploys: Mapping[str, datetime] | None = None,
) -> tuple[str | None, str]:
    """Where the vulnerable code runs, and on what basis (`deploys`: `_deploys_of(facts)`)."""
    tagged: set[str] = {e for r in rows if (e := normalize_environment(r.environment))}
    window = timedelta(days=policy.production_window_days)
    if deploys is None:
        deploys = _deploys_of(facts)
    if deploys:
        production = deploys.get("production")
        recent = production is not None and as_utc(now) - production <= window
        if tagged and "production" not in tagged:
            env = sorted(tagged)[0]
            return env, f"found in the {env} target (scanner project environment)"
        if recent and production is not None:
            return (
                "production",
                f"last successful production deploy {production.date().isoformat()}",
            )
        others = sorted(
            (
                env
                for env, at in deploys.items()
                if env != "production" and as_utc(now) - at <= window
            )
        )
        why = f"no successful production deploy in {policy.production_window_days} days"
        return (others[0] if others else None), why
    if tagged:
        env = "production" if "production" in tagged else sorted(tagged)[0]
        return env, "scanner project environment (no deployments recorded for the service)"
    declared: set[str] = {
        n for e in (facts.declared_environments if facts else ()) if (n := normalize_environment(e))
    }
    if "production" in declared:
        return "production", "service catalogue (no deployments recorded)"
    if declared:
        return sorted(declared)[0], "service catalogue (no deployments recorded)"
    return None, "environment unknown (no deployments, no scanner tag)"


def _pick_version(rows: Sequence[Finding], inventory: Inventory) -> str | None:
    for row in rows:
        if is_concrete_version(row.version):
            return row.version
    first = rows[0]
    if first.repo and first.package:
        installed = inventory.installed.get((first.repo.lower(), normalize_package(first.package)))
        if installed:
            return installed
    return next((row.version for row in rows if row.version), None)


def _days(value: float) -> str:
    whole = math.floor(abs(value))
    return f"{whole} day{'s' if whole != 1 else ''}"


def _scanners(rows: Sequence[Finding]) -> str:
    names = sorted({SCANNER_NAMES.get(r.scanner, r.scanner) for r in rows})
    return " and ".join(names) if len(names) <= 2 else ", ".join(names)


CvssReading = tuple[tuple[bool, str], tuple[bool, str]]


@dataclass
class _Decider:
    """What deciding a finding reads, with one call's memos of repeated sub-results."""

    now: datetime
    inventory: Inventory
    threat: ThreatFacts
    policy: Policy
    readings: dict[tuple[str | None, float | None, str], CvssReading] = field(default_factory=dict)
    deploys: dict[str | None, dict[str, datetime]] = field(default_factory=dict)
    points: dict[tuple[str, str], DecisionPoint] = field(default_factory=dict)

    def point(self, value: str, why: str) -> DecisionPoint:
        """One (frozen, so shareable) decision point per value and reason."""
        key = (value, why)
        if key not in self.points:
            self.points[key] = DecisionPoint(value=value, why=why)
        return self.points[key]

    def cvss(self, vector: str | None, cvss: float | None, severity: str) -> CvssReading:
        """(automatable, why) and (total impact, why) of a CVSS vector, score and severity."""
        key = (vector, cvss, severity)
        if key not in self.readings:
            self.readings[key] = (
                automatable_of(vector),
                technical_impact_of(vector, cvss, severity),
            )
        return self.readings[key]

    def deploys_of(self, facts: ServiceFacts | None) -> dict[str, datetime]:
        """`_deploys_of(facts)`, once per service."""
        name = facts.name if facts else None
        if name not in self.deploys:
            self.deploys[name] = _deploys_of(facts)
        return self.deploys[name]


def prioritize_one(
    merged: MergedFinding,
    *,
    now: datetime,
    inventory: Inventory,
    threat: ThreatFacts,
    policy: Policy,
) -> PrioritizedVulnerability:
    """Decide one merged finding: enrichment, SSVC, SLA position and reasons."""
    decider = _Decider(now=now, inventory=inventory, threat=threat, policy=policy)
    return PrioritizedVulnerability(**_decide(merged, decider))


def _decide(merged: MergedFinding, decider: _Decider) -> dict[str, Any]:
    """The fields of `prioritize_one`'s item (all but its rank), with the memos of `decider`."""
    now, inventory, threat, policy = (
        decider.now,
        decider.inventory,
        decider.threat,
        decider.policy,
    )
    rows = merged.rows
    first = rows[0]
    identifiers = merged.identifiers
    cves = [i for i in identifiers if i.startswith("CVE-")]
    severity = _severity_of(rows)
    cvss_values = [r.cvss for r in rows if r.cvss is not None]
    cvss = max(cvss_values) if cvss_values else None
    vector = next(
        (r.cvss_vector for r in rows if r.cvss_vector and (r.cvss == cvss)), None
    ) or next((r.cvss_vector for r in rows if r.cvss_vector), None)
    kev_added = [threat.kev[c] for c in cves if c in threat.kev]
    in_kev = any(r.in_kev for r in rows) or bool(kev_added) or any(c in threat.kev for c in cves)
    epss_values = [r.epss for r in rows if r.epss is not None] + [
        threat.epss[c] for c in cves if c in threat.epss
    ]
    epss = max(epss_values) if epss_values else None
    maturities = [r.exploit_maturity for r in rows if r.exploit_maturity]
    maturity = (
        next((m for m in maturities if m.lower() in ACTIVE_MATURITY), None)
        or next((m for m in maturities if m.lower() in POC_MATURITY), None)
        or (maturities[0] if maturities else None)
    )
    fixed_version = next((r.fixed_version for r in rows if r.fixed_version), None)
    state, fixed_at = _merged_state(rows)
    first_seen = min(as_utc(r.first_seen) for r in rows)
    facts = inventory.service_of(first.repo, next((r.service for r in rows if r.service), None))
    team = (facts.team if facts else None) or (
        inventory.repo_team.get(first.repo.lower()) if first.repo else None
    )
    environment, env_basis = _resolve_environment(
        rows, facts, now, policy, decider.deploys_of(facts)
    )
    internet_facing = bool(facts and facts.internet_facing)

    exploitation, exploitation_why = exploitation_of(in_kev, maturity)
    if in_kev and kev_added and kev_added[0] is not None:
        exploitation_why = f"in CISA KEV (added {as_utc(kev_added[0]).date().isoformat()})"
    if environment == "production":
        exposure: Exposure = "open" if internet_facing else "controlled"
        where = "an internet-facing" if internet_facing else "an internal"
        exposure_why = f"running in production on {where} service ({env_basis})"
    else:
        exposure = "small"
        exposure_why = (
            f"not in production ({env_basis})"
            if environment
            else f"not known to run in production ({env_basis})"
        )
    (automatable, automatable_why), (total, impact_why) = decider.cvss(vector, cvss, severity)
    decision = ssvc_decision(exploitation, automatable, total, exposure)

    sla = policy.sla_for(severity)
    age, due, days_left, breached = sla_position(
        first_seen=first_seen,
        now=now,
        sla_days=sla,
        fixed_at=fixed_at if state == "fixed" else None,
    )
    if state != "open" and state != "fixed":
        breached = False

    reasons = [exploitation_why, exposure_why, f"{automatable_why}; {impact_why}"]
    if fixed_version:
        reasons.append(f"fix available in {fixed_version}")
    elif any(r.fixable is False for r in rows):
        reasons.append("no fix available yet")
    if state == "fixed":
        verdict = f"over SLA by {_days(-days_left)}" if breached else "within SLA"
        reasons.append(f"fixed after {_days(age)}, SLA {sla} ({verdict})")
    elif state == "open":
        position = f"{_days(-days_left)} over" if breached else f"{_days(days_left)} left"
        reasons.append(f"{_days(age)} open, SLA {sla} ({position})")
    else:
        reasons.append(f"{state}")
    if epss is not None:
        reasons.append(f"EPSS {epss * 100:.1f}%")
    reasons.append(f"reported by {_scanners(rows)}")
    states = {r.scanner: r.state for r in rows}
    if len(set(states.values())) > 1:
        reasons.append(
            "scanners disagree: "
            + ", ".join(f"{SCANNER_NAMES.get(s, s)} {v}" for s, v in sorted(states.items()))
        )
    return dict(
        key=merged.key,
        title=next((r.title for r in rows if r.title), None),
        identifiers=identifiers,
        cve_ids=cves,
        repo=first.repo,
        service=facts.name if facts else None,
        team=team,
        ecosystem=next((r.ecosystem for r in rows if r.ecosystem), None),
        package=first.package,
        version=_pick_version(rows, inventory),
        fixed_version=fixed_version,
        severity=severity,
        cvss=cvss,
        epss=epss,
        in_kev=in_kev,
        exploit_maturity=maturity,
        state=state,
        environment=environment,
        environment_basis=env_basis,
        internet_facing=internet_facing,
        first_seen=first_seen,
        fixed_at=fixed_at,
        age_days=round(age, 2),
        sla_days=sla,
        due_at=due,
        days_left=round(days_left, 2),
        sla_breached=breached,
        decision=decision,
        exploitation=decider.point(exploitation, exploitation_why),
        exposure=decider.point(exposure, exposure_why),
        automatable=decider.point("yes" if automatable else "no", automatable_why),
        technical_impact=decider.point("total" if total else "partial", impact_why),
        reasons=reasons,
        reason="; ".join(reasons),
        sources=[
            SourceRow(
                scanner=r.scanner,
                source=r.source,
                source_id=r.source_id,
                external_id=r.external_id,
                state=r.state,
                first_seen=as_utc(r.first_seen),
                url=r.url,
            )
            for r in rows
        ],
    )


ORDER_FIELDS = ("state", "decision", "epss", "age_days", "sla_days", "severity", "key")
OrderKey = tuple[int, int, float, float, int, str]


def order_key(item: PrioritizedVulnerability) -> OrderKey:
    """Open before closed; then SSVC class; then EPSS (high first); then SLA used; severity; key."""
    return _order_of(*(getattr(item, name) for name in ORDER_FIELDS))


def _order_of(
    state: str,
    decision: str,
    epss: float | None,
    age_days: float,
    sla_days: int,
    severity: str,
    key: str,
) -> OrderKey:
    """`order_key` from the values of `ORDER_FIELDS`."""
    used = age_days / sla_days if sla_days else 0.0
    return (
        0 if state == "open" else 1,
        DECISION_RANK[decision],
        -(epss or 0.0),
        -used,
        SEVERITY_RANK.get(severity, 9),
        key,
    )


def prioritize(
    findings: Iterable[Finding],
    *,
    now: datetime,
    inventory: Inventory | None = None,
    threat: ThreatFacts | None = None,
    policy: Policy | None = None,
    severities: Collection[str] | None = None,
) -> VulnerabilityReport:
    """De-duplicate, enrich, decide and order every finding; count the week's new and fixed.

    With `severities`, only the items of those severities are decided and reported (ranks and
    counts are then among them) — for readers that look at no other item.
    """
    policy = policy or Policy()
    inventory = inventory or Inventory()
    threat = threat or ThreatFacts()
    now = as_utc(now)
    rows = list(findings)
    merged = dedupe(rows)
    if severities is not None:
        merged = [m for m in merged if _severity_of(m.rows) in severities]
    decider = _Decider(now=now, inventory=inventory, threat=threat, policy=policy)
    decided = [_decide(m, decider) for m in merged]
    decided.sort(key=lambda values: _order_of(*(values[name] for name in ORDER_FIELDS)))
    items = [
        PrioritizedVulnerability(rank=index + 1, **values) for index, values in enumerate(decided)
    ]
    open_items = [i for i in items if i.state == "open"]
    since = now - timedelta(days=policy.recent_days)
    return VulnerabilityReport(
        now=now,
        policy={
            "sla_days": dict(policy.sla_days),
            "production_window_days": policy.production_window_days,
            "recent_days": policy.recent_days,
        },
        items=items,
        n_rows=len(rows),
        n_items=len(items),
        by_decision={d: sum(1 for i in open_items if i.decision == d) for d in DECISIONS},
        by_severity={s: sum(1 for i in open_items if i.severity == s) for s in SEVERITIES},
        sla_breaches=sum(1 for i in open_items if i.sla_breached),
        new_this_week=[
            i.key for i in items if i.first_seen > since and i.state in ("open", "fixed")
        ],
        fixed_this_week=[
            i.key
            for i in items
            if i.state == "fixed" and i.fixed_at is not None and i.fixed_at > since
        ],
    )
