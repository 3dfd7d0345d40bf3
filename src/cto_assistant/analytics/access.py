"""Access audit: who holds privileged access where, ranked findings, and drift between snapshots.

Pure. A grant is privileged when the source says so or its role reads as one (AWS admin,
production database superuser or write, GitHub org owner/admin, Datadog or PagerDuty admin).

Findings, most serious first (one per grant and kind):
1. leaver still privileged (critical) — the person is inactive or has a `left_at` date;
2. leaver still has access (high) — the same for a non-privileged grant;
3. privileged without MFA (high) — a human account whose source reports MFA off;
4. access key older than 365 days (high) / 90 days (medium);
5. privileged but unused for 90 days (medium) — or never used since granted 90+ days ago;
6. shared account (medium) — a privileged account that is marked shared, has a generic name
   (root, admin, shared, …) or is a user account that belongs to nobody.

Drift compares two snapshots of privileged access (system, principal, role, person, MFA): grants
added, removed and changed. The store keeps a snapshot whenever privileged access changes (see
store/queries/security.py), so "since the previous sync" is a comparison with the last snapshot
that differs from today's grants.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field

from cto_assistant.analytics.vulnerabilities import as_utc

FindingKind = Literal[
    "leaver_privileged",
    "leaver_access",
    "privileged_without_mfa",
    "access_key_age",
    "unused_privileged",
    "shared_account",
]
FindingSeverity = Literal["critical", "high", "medium", "low"]
KIND_ORDER: dict[str, int] = {
    "leaver_privileged": 0,
    "leaver_access": 1,
    "privileged_without_mfa": 2,
    "access_key_age": 3,
    "unused_privileged": 4,
    "shared_account": 5,
}
SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3}
SYSTEM_ORDER = (
    "aws",
    "gcp",
    "azure",
    "postgres",
    "mysql",
    "github",
    "gitlab",
    "datadog",
    "pagerduty",
)
MACHINE_TYPES = frozenset({"service", "role", "bot", "app"})
GENERIC_NAMES = frozenset(
    {"root", "admin", "administrator", "shared", "team", "ops", "devops", "sa"}
)


@dataclass(frozen=True, slots=True)
class Grant:
    """One `access_grant` row."""

    source: str
    source_id: str
    system: str
    principal: str
    principal_type: str | None = None
    person_email: str | None = None
    role: str | None = None
    privileged: bool = False
    mfa: bool | None = None
    last_used_at: datetime | None = None
    granted_at: datetime | None = None
    key_created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class PersonStatus:
    """Whether a person still works here."""

    email: str
    name: str | None = None
    active: bool = True
    left_at: date | None = None
    team: str | None = None

    def has_left(self, now: datetime) -> bool:
        """Inactive, or a leaving date on or before `now`."""
        return (not self.active) or (
            self.left_at is not None and self.left_at <= as_utc(now).date()
        )


@dataclass(frozen=True)
class AccessPolicy:
    """Thresholds of the audit (shown with the report)."""

    unused_days: int = 90
    key_warn_days: int = 90
    key_critical_days: int = 365


def privilege_label(grant: Grant) -> str | None:
    """What kind of privileged access a grant gives, in words; None when it is not privileged."""
    system = grant.system.lower()
    role = (grant.role or "").lower()
    kind = system.split(":", 1)[0]
    prod_db = kind in ("postgres", "mysql", "rds", "database", "db") and (
        "prod" in system or system == kind
    )
    if kind in ("aws", "gcp", "azure") and ("admin" in role or "owner" in role):
        return f"{kind.upper()} admin"
    if prod_db and ("superuser" in role or "rds_superuser" in role or role in ("owner", "admin")):
        return "production database superuser"
    if prod_db and (re.search(r"(^|_)(rw|write|writer)($|_)", role) or "readwrite" in role):
        return "production database write"
    if kind in ("github", "gitlab") and role in (
        "admin",
        "owner",
        "org_owner",
        "organization owner",
    ):
        return f"{'GitHub' if kind == 'github' else 'GitLab'} org owner"
    if kind == "datadog" and "admin" in role:
        return "Datadog admin"
    if kind == "pagerduty" and role in ("admin", "owner", "account_owner"):
        return "PagerDuty admin"
    if grant.privileged:
        return f"{grant.system} {grant.role or 'privileged'}"
    return None


def is_human(grant: Grant) -> bool:
    """A person's account, not a service, role or bot."""
    return (grant.principal_type or "user").lower() not in MACHINE_TYPES


def _system_rank(system: str) -> int:
    kind = system.lower().split(":", 1)[0]
    return SYSTEM_ORDER.index(kind) if kind in SYSTEM_ORDER else len(SYSTEM_ORDER)


class PrivilegedAccess(BaseModel):
    """One privileged grant, as listed per system."""

    system: str
    principal: str
    principal_type: str | None
    person: str | None
    person_active: bool | None
    role: str | None
    privilege: str
    mfa: bool | None
    last_used_at: datetime | None
    granted_at: datetime | None
    key_age_days: int | None
    source: str
    source_id: str


class AccessFinding(BaseModel):
    """One ranked finding with its reason in words."""

    rank: int = 0
    kind: FindingKind
    severity: Literal["critical", "high", "medium", "low"]
    system: str
    principal: str
    person: str | None
    role: str | None
    title: str
    reason: str
    source: str
    source_id: str


class SnapshotEntry(BaseModel):
    """One privileged grant as recorded in a snapshot."""

    system: str
    principal: str
    role: str | None = None
    person: str | None = None
    mfa: bool | None = None

    @property
    def key(self) -> tuple[str, str]:
        """Identity of the grant across snapshots."""
        return (self.system, self.principal)


class DriftChange(BaseModel):
    """A grant whose role, person or MFA changed between snapshots."""

    system: str
    principal: str
    changes: dict[str, list[object]] = Field(description="field → [before, after]")


class AccessDrift(BaseModel):
    """Privileged access added, removed and changed since the previous snapshot."""

    previous_at: datetime | None
    current_at: datetime | None
    added: list[SnapshotEntry]
    removed: list[SnapshotEntry]
    changed: list[DriftChange]
    summary: str


class AccessReport(BaseModel):
    """Privileged access per system, ranked findings, and drift."""

    now: datetime
    policy: dict[str, int]
    n_grants: int
    privileged: list[PrivilegedAccess]
    privileged_by_system: dict[str, int]
    findings: list[AccessFinding]
    findings_by_kind: dict[str, int]
    drift: AccessDrift | None


def _days(later: datetime, earlier: datetime | None) -> int | None:
    if earlier is None:
        return None
    return int((as_utc(later) - as_utc(earlier)).total_seconds() // 86400)


def _who(grant: Grant, person: PersonStatus | None) -> str:
    if person and person.name:
        return (
            f"{person.name} ({grant.principal})" if grant.principal != person.email else person.name
        )
    return grant.person_email or grant.principal


def findings_for(
    grant: Grant, person: PersonStatus | None, *, now: datetime, policy: AccessPolicy
) -> list[AccessFinding]:
    """Every finding one grant raises."""
    label = privilege_label(grant)
    who = _who(grant, person)
    out: list[AccessFinding] = []

    def add(kind: FindingKind, severity: FindingSeverity, title: str, reason: str) -> None:
        out.append(
            AccessFinding(
                kind=kind,
                severity=severity,
                system=grant.system,
                principal=grant.principal,
                person=grant.person_email,
                role=grant.role,
                title=title,
                reason=reason,
                source=grant.source,
                source_id=grant.source_id,
            )
        )

    if person is not None and person.has_left(now):
        left = f"left {person.left_at.isoformat()}" if person.left_at else "marked inactive"
        used = (
            f"; last used {as_utc(grant.last_used_at).date().isoformat()}"
            if grant.last_used_at
            else ""
        )
        if label:
            add(
                "leaver_privileged",
                "critical",
                f"Departed {who} still holds {label}",
                f"{who} {left} but still holds {grant.role} on {grant.system}{used}",
            )
        else:
            add(
                "leaver_access",
                "high",
                f"Departed {who} still has {grant.system} access",
                f"{who} {left} but still holds {grant.role or 'access'} on {grant.system}{used}",
            )
    if label and is_human(grant) and grant.mfa is False:
        add(
            "privileged_without_mfa",
            "high",
            f"{who}: {label} without MFA",
            f"{grant.system} reports MFA off for {grant.principal} ({grant.role})",
        )
    key_age = _days(now, grant.key_created_at)
    if key_age is not None and key_age > policy.key_warn_days:
        severity: FindingSeverity = "high" if key_age > policy.key_critical_days else "medium"
        add(
            "access_key_age",
            severity,
            f"{grant.principal}: access key {key_age} days old",
            f"access key on {grant.system} created {key_age} days ago (rotate within {policy.key_warn_days})"
            + (f"; {label}" if label else ""),
        )
    if label:
        idle = _days(now, grant.last_used_at)
        granted_days = _days(now, grant.granted_at)
        if (idle is not None and idle > policy.unused_days) or (
            idle is None and granted_days is not None and granted_days > policy.unused_days
        ):
            why = (
                f"last used {idle} days ago"
                if idle is not None
                else f"never used since granted {granted_days} days ago"
            )
            add(
                "unused_privileged",
                "medium",
                f"{who}: {label} unused for {policy.unused_days}+ days",
                f"{why} (threshold {policy.unused_days} days)",
            )
        shared_name = grant.principal.split("/")[-1].split(":")[-1].lower() in GENERIC_NAMES
        orphan_user = is_human(grant) and grant.person_email is None
        if (grant.principal_type or "").lower() == "shared" or shared_name or orphan_user:
            why = (
                "marked as a shared account"
                if (grant.principal_type or "").lower() == "shared"
                else "generic account name"
                if shared_name
                else "user account that belongs to no person"
            )
            add(
                "shared_account",
                "medium",
                f"{grant.principal}: shared {label}",
                f"{why}; actions cannot be traced to one person",
            )
    return out


def snapshot_of(grants: Iterable[Grant]) -> list[SnapshotEntry]:
    """The privileged part of `grants`, as a sorted snapshot."""
    entries = [
        SnapshotEntry(
            system=g.system, principal=g.principal, role=g.role, person=g.person_email, mfa=g.mfa
        )
        for g in grants
        if privilege_label(g)
    ]
    return sorted(entries, key=lambda e: e.key)


def diff_snapshots(
    previous: Sequence[SnapshotEntry],
    current: Sequence[SnapshotEntry],
    *,
    previous_at: datetime | None,
    current_at: datetime | None,
) -> AccessDrift:
    """Grants added, removed and changed between two snapshots."""
    before = {e.key: e for e in previous}
    after = {e.key: e for e in current}
    added = [after[k] for k in sorted(after.keys() - before.keys())]
    removed = [before[k] for k in sorted(before.keys() - after.keys())]
    changed = []
    for key in sorted(before.keys() & after.keys()):
        diffs: dict[str, list[object]] = {}
        for name in ("role", "person", "mfa"):
            old, new = getattr(before[key], name), getattr(after[key], name)
            if old != new:
                diffs[name] = [old, new]
        if diffs:
            changed.append(DriftChange(system=key[0], principal=key[1], changes=diffs))
    when = f" since {as_utc(previous_at).isoformat(timespec='minutes')}" if previous_at else ""
    if not (added or removed or changed):
        summary = f"No change in privileged access{when}."
    else:
        parts = []
        if added:
            parts.append(
                f"{len(added)} added ({', '.join(f'{e.principal} on {e.system}' for e in added[:3])})"
            )
        if removed:
            parts.append(f"{len(removed)} removed")
        if changed:
            parts.append(f"{len(changed)} changed")
        summary = f"Privileged access{when}: " + ", ".join(parts) + "."
    return AccessDrift(
        previous_at=previous_at,
        current_at=current_at,
        added=added,
        removed=removed,
        changed=changed,
        summary=summary,
    )


def audit_access(
    grants: Iterable[Grant],
    people: Iterable[PersonStatus],
    *,
    now: datetime,
    policy: AccessPolicy | None = None,
    previous: Sequence[SnapshotEntry] | None = None,
    previous_at: datetime | None = None,
) -> AccessReport:
    """List privileged access, rank the findings and, given a previous snapshot, the drift."""
    policy = policy or AccessPolicy()
    now = as_utc(now)
    rows = list(grants)
    by_email: Mapping[str, PersonStatus] = {p.email.lower(): p for p in people}
    privileged: list[PrivilegedAccess] = []
    findings: list[AccessFinding] = []
    for grant in rows:
        person = by_email.get((grant.person_email or "").lower())
        label = privilege_label(grant)
        if label:
            privileged.append(
                PrivilegedAccess(
                    system=grant.system,
                    principal=grant.principal,
                    principal_type=grant.principal_type,
                    person=grant.person_email,
                    person_active=None if person is None else not person.has_left(now),
                    role=grant.role,
                    privilege=label,
                    mfa=grant.mfa,
                    last_used_at=grant.last_used_at,
                    granted_at=grant.granted_at,
                    key_age_days=_days(now, grant.key_created_at),
                    source=grant.source,
                    source_id=grant.source_id,
                )
            )
        findings.extend(findings_for(grant, person, now=now, policy=policy))
    findings.sort(
        key=lambda f: (
            SEVERITY_ORDER[f.severity],
            KIND_ORDER[f.kind],
            _system_rank(f.system),
            f.system,
            f.principal,
        )
    )
    ranked = [f.model_copy(update={"rank": i + 1}) for i, f in enumerate(findings)]
    privileged.sort(key=lambda p: (_system_rank(p.system), p.system, p.principal))
    by_system: dict[str, int] = {}
    for item in privileged:
        by_system[item.system] = by_system.get(item.system, 0) + 1
    drift = None
    if previous is not None:
        drift = diff_snapshots(previous, snapshot_of(rows), previous_at=previous_at, current_at=now)
    kinds: dict[str, int] = {}
    for f in ranked:
        kinds[f.kind] = kinds.get(f.kind, 0) + 1
    return AccessReport(
        now=now,
        policy={
            "unused_days": policy.unused_days,
            "key_warn_days": policy.key_warn_days,
            "key_critical_days": policy.key_critical_days,
        },
        n_grants=len(rows),
        privileged=privileged,
        privileged_by_system=by_system,
        findings=ranked,
        findings_by_kind=kinds,
        drift=drift,
    )


def snapshot_since(
    snapshots: Sequence[tuple[datetime, Sequence[SnapshotEntry]]], current: Sequence[SnapshotEntry]
) -> tuple[datetime | None, list[SnapshotEntry] | None]:
    """The snapshot to compare `current` with: the latest one that differs from it.

    Snapshots are only stored when privileged access changed, so when the latest stored snapshot
    equals today's grants the change happened at that snapshot, and the one before is "previous".
    """
    ordered = sorted(snapshots, key=lambda s: s[0], reverse=True)
    current_keyed = [e.model_dump() for e in current]
    for at, entries in ordered:
        if [e.model_dump() for e in entries] != current_keyed:
            return at, list(entries)
    if ordered:
        return ordered[0][0], list(ordered[0][1])
    return None, None


def snapshot_is_new(
    latest: Sequence[SnapshotEntry] | None, current: Sequence[SnapshotEntry]
) -> bool:
    """Whether `current` differs from the latest stored snapshot (so it should be stored)."""
    if latest is None:
        return True
    return [e.model_dump() for e in latest] != [e.model_dump() for e in current]


def older_than(moment: datetime | None, now: datetime, days: int) -> bool:
    """Whether `moment` is more than `days` days before `now` (None counts as not older)."""
    return moment is not None and as_utc(now) - as_utc(moment) > timedelta(days=days)
