"""Threat intel for our stack: recent advisories matched against what we actually run.

Pure. Advisories (KEV additions, OSV/GHSA records) from the last N days are grouped by CVE and
matched against the stack inventory:

- packages: a `dependency` row of the same ecosystem and package whose version falls in an
  affected range ("confirmed"), or whose version cannot be compared ("possible");
- our own findings: a scanner already reports the CVE in one of our repos ("confirmed");
- products: a KEV product name that names one of our packages, languages or cloud services
  ("possible": product names are free text).

Version comparison is per ecosystem: PEP 440 (`packaging`) for PyPI; semantic versioning for npm,
Go, Cargo and NuGet (pre-releases before the release, build metadata ignored); and a Maven-like
comparator for everything else — numeric parts numerically, trailing zeros ignored, qualifiers
ordered alpha < beta < milestone < rc < snapshot < release (= final, ga) < sp < others.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cmp_to_key
from typing import Any, Literal

from packaging.version import InvalidVersion, Version
from pydantic import BaseModel, Field

from cto_assistant.analytics.vulnerabilities import as_utc, normalize_package

ECOSYSTEM_ALIASES = {
    "pip": "pypi",
    "pypi": "pypi",
    "python": "pypi",
    "npm": "npm",
    "node": "npm",
    "yarn": "npm",
    "maven": "maven",
    "gradle": "maven",
    "java": "maven",
    "go": "go",
    "golang": "go",
    "gomod": "go",
    "rubygems": "rubygems",
    "gem": "rubygems",
    "nuget": "nuget",
    "composer": "composer",
    "packagist": "composer",
    "cargo": "cargo",
    "crates.io": "cargo",
    "swift": "swift",
    "swifturl": "swift",
    "cocoapods": "cocoapods",
    "pub": "pub",
    "hex": "hex",
}
SEMVER_ECOSYSTEMS = frozenset({"npm", "go", "cargo", "nuget", "pub", "hex"})
_QUALIFIER_RANK = {
    "alpha": 0,
    "a": 0,
    "beta": 1,
    "b": 1,
    "milestone": 2,
    "m": 2,
    "rc": 3,
    "cr": 3,
    "pre": 3,
    "snapshot": 4,
    "dev": 4,
    "": 5,
    "final": 5,
    "ga": 5,
    "release": 5,
    "sp": 6,
}
_RELEASE = (1, 5, "")


def normalize_ecosystem(name: str | None) -> str:
    """'PyPI', 'pip' → 'pypi'; 'Maven' → 'maven'; 'Go' → 'go'; unknown names lower-cased."""
    if not name:
        return ""
    lowered = name.strip().lower()
    return ECOSYSTEM_ALIASES.get(lowered, lowered)


# ----------------------------------------------------------------------------- versions


def _strip(version: str) -> str:
    text = version.strip()
    if text[:1] in ("v", "V") and text[1:2].isdigit():
        text = text[1:]
    return text.lstrip("=").strip()


def _trim_zeros(numbers: list[int]) -> tuple[int, ...]:
    while numbers and numbers[-1] == 0:
        numbers = numbers[:-1]
    return tuple(numbers)


def maven_key(version: str) -> tuple[tuple[int, ...], tuple[tuple[int, int, str], ...]] | None:
    """Sort key of a Maven-like version; None when it does not start with a digit."""
    text = _strip(version)
    match = re.match(r"^(\d+(?:\.\d+)*)(.*)$", text)
    if not match:
        return None
    release = _trim_zeros([int(p) for p in match.group(1).split(".")])
    rest: list[tuple[int, int, str]] = []
    for token in re.findall(r"\d+|[A-Za-z]+", match.group(2)):
        if token.isdigit():
            rest.append((2, int(token), ""))
        else:
            lowered = token.lower()
            rest.append(
                (
                    1,
                    _QUALIFIER_RANK.get(lowered, 7),
                    lowered if lowered not in _QUALIFIER_RANK else "",
                )
            )
    while rest and rest[-1] == _RELEASE:
        rest.pop()
    return release, tuple(rest)


def _compare_maven(a: str, b: str) -> int | None:
    ka, kb = maven_key(a), maven_key(b)
    if ka is None or kb is None:
        return None
    width = max(len(ka[0]), len(kb[0]))
    ra = ka[0] + (0,) * (width - len(ka[0]))
    rb = kb[0] + (0,) * (width - len(kb[0]))
    if ra != rb:
        return -1 if ra < rb else 1
    qa, qb = list(ka[1]), list(kb[1])
    width = max(len(qa), len(qb))
    qa += [_RELEASE] * (width - len(qa))
    qb += [_RELEASE] * (width - len(qb))
    return (qa > qb) - (qa < qb)


_SEMVER = re.compile(
    r"^(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z.\-]+))?(?:\+[0-9A-Za-z.\-]+)?$"
)


def _compare_semver(a: str, b: str) -> int | None:
    ma, mb = _SEMVER.match(_strip(a)), _SEMVER.match(_strip(b))
    if ma is None or mb is None:
        return _compare_maven(a, b)
    core_a = tuple(int(ma.group(i) or 0) for i in (1, 2, 3))
    core_b = tuple(int(mb.group(i) or 0) for i in (1, 2, 3))
    if core_a != core_b:
        return -1 if core_a < core_b else 1
    pre_a, pre_b = ma.group(4), mb.group(4)
    if pre_a == pre_b:
        return 0
    if pre_a is None:
        return 1
    if pre_b is None:
        return -1
    for x, y in zip(pre_a.split("."), pre_b.split("."), strict=False):
        if x == y:
            continue
        if x.isdigit() and y.isdigit():
            return -1 if int(x) < int(y) else 1
        if x.isdigit() != y.isdigit():
            return -1 if x.isdigit() else 1  # numeric identifiers sort first
        return -1 if x < y else 1
    la, lb = len(pre_a.split(".")), len(pre_b.split("."))
    return (la > lb) - (la < lb)


def compare_versions(a: str, b: str, ecosystem: str) -> int | None:
    """-1, 0 or 1 comparing two versions of one ecosystem; None when either cannot be read."""
    eco = normalize_ecosystem(ecosystem)
    if eco == "pypi":
        try:
            va, vb = Version(a), Version(b)
        except InvalidVersion:
            return _compare_maven(a, b)
        return (va > vb) - (va < vb)
    if eco in SEMVER_ECOSYSTEMS:
        return _compare_semver(a, b)
    return _compare_maven(a, b)


def _is_zero(version: str) -> bool:
    return version.strip() in ("0", "0.0", "0.0.0", "")


def _in_events(version: str, ecosystem: str, events: Sequence[Mapping[str, Any]]) -> bool | None:
    """OSV range evaluation: walk events in version order; the last one at or below decides."""
    flat: list[tuple[str, str]] = []
    for event in events:
        for kind in ("introduced", "fixed", "last_affected", "limit"):
            if event.get(kind) is not None:
                flat.append((kind, str(event[kind])))
    if not flat:
        return None

    def order(x: tuple[str, str], y: tuple[str, str]) -> int:
        if _is_zero(x[1]) or _is_zero(y[1]):
            return (0 if _is_zero(x[1]) else 1) - (0 if _is_zero(y[1]) else 1)
        return compare_versions(x[1], y[1], ecosystem) or 0

    affected = False
    for kind, bound in sorted(flat, key=cmp_to_key(order)):
        if kind == "introduced":
            if _is_zero(bound):
                affected = True
                continue
            cmp = compare_versions(version, bound, ecosystem)
            if cmp is None:
                return None
            if cmp >= 0:
                affected = True
        else:
            cmp = compare_versions(version, bound, ecosystem)
            if cmp is None:
                return None
            if (kind == "last_affected" and cmp > 0) or (kind != "last_affected" and cmp >= 0):
                affected = False
    return affected


_CONSTRAINT = re.compile(r"(<=|>=|==|!=|~=|=|<|>|\^|~)?\s*([^\s,<>=!~^][^\s,]*)")


def in_range_string(version: str, ecosystem: str, expression: str) -> bool | None:
    """Whether `version` satisfies '>= 2.0.0, < 2.17.1' (comma/space = and, '||' = or)."""
    answers: list[bool | None] = []
    for alternative in expression.split("||"):
        ok: bool | None = True
        for op, bound in _CONSTRAINT.findall(alternative):
            cmp = compare_versions(version, bound, ecosystem)
            if cmp is None:
                ok = None
                break
            op = op or "="
            passed = {
                "<": cmp < 0,
                "<=": cmp <= 0,
                ">": cmp > 0,
                ">=": cmp >= 0,
                "=": cmp == 0,
                "==": cmp == 0,
                "!=": cmp != 0,
            }.get(op)
            if passed is None:  # ^ ~ ~= are not used by advisories; refuse to guess
                ok = None
                break
            if not passed:
                ok = False
                break
        answers.append(ok)
    if any(a is True for a in answers):
        return True
    if any(a is None for a in answers):
        return None
    return False


def _fixed_only(version: str, ecosystem: str, fixed: Sequence[str]) -> bool | None:
    """Affected-by-fix-list heuristic: below the highest fix, and not at/after a fix of its line."""
    parsed = [f for f in fixed if f]
    if not parsed:
        return None
    comparisons = [compare_versions(version, f, ecosystem) for f in parsed]
    if any(c is None for c in comparisons):
        return None
    if all(c is not None and c >= 0 for c in comparisons):
        return False
    line = ".".join(_strip(version).split(".")[:2])
    for bound, cmp in zip(parsed, comparisons, strict=True):
        if cmp is not None and cmp >= 0 and ".".join(_strip(bound).split(".")[:2]) == line:
            return False
    return True


def version_affected(
    version: str | None, ecosystem: str, affected: Mapping[str, Any]
) -> bool | None:
    """Whether `version` is affected by one `affected` entry; None when it cannot be told.

    Accepts the shapes our feeds produce: OSV `ranges[].events`, flat `ranges[]` of
    {introduced, fixed | last_affected}, an explicit `versions` list, a `fixed` list only, and a
    GHSA-style `range`/`vulnerable_version_range` string.
    """
    if not version:
        return None
    versions = [str(v) for v in affected.get("versions") or []]
    if versions and any(
        v == version or compare_versions(v, version, ecosystem) == 0 for v in versions
    ):
        return True
    answers: list[bool | None] = []
    for entry in affected.get("ranges") or []:
        if not isinstance(entry, Mapping):
            continue
        if "events" in entry:
            answers.append(_in_events(version, ecosystem, entry.get("events") or []))
        else:
            answers.append(_in_events(version, ecosystem, [entry]))
    expression = affected.get("range") or affected.get("vulnerable_version_range")
    if expression:
        answers.append(in_range_string(version, ecosystem, str(expression)))
    if not answers and affected.get("fixed"):
        fixed = affected["fixed"]
        answers.append(
            _fixed_only(
                version,
                ecosystem,
                [str(f) for f in (fixed if isinstance(fixed, list) else [fixed])],
            )
        )
    if any(a is True for a in answers):
        return True
    if any(a is None for a in answers):
        return None
    if answers:
        return False
    return False if versions else None


# ----------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class InstalledPackage:
    """One package version used by one repository (a `dependency` row)."""

    repo: str
    ecosystem: str
    package: str
    version: str | None


@dataclass(frozen=True)
class AdvisoryRecord:
    """One advisory row (feed kev, osv, ghsa; epss rows are enrichment, not advisories)."""

    source_id: str
    feed: str
    published: datetime | None
    title: str | None = None
    summary: str | None = None
    cve_ids: tuple[str, ...] = ()
    affected: tuple[Mapping[str, Any], ...] = ()
    vendor_project: str | None = None
    product: str | None = None
    kev: bool = False
    epss: float | None = None
    severity: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class StackInventory:
    """What we run: packages, languages (→ repos), cloud services, and CVEs our scanners report."""

    packages: Sequence[InstalledPackage] = ()
    languages: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    cloud_services: tuple[str, ...] = ()
    findings: Mapping[str, tuple[tuple[str, str, str | None], ...]] = field(default_factory=dict)


class StackMatch(BaseModel):
    """Why an advisory touches us, in words."""

    kind: Literal["package", "finding", "product", "language"]
    confidence: Literal["confirmed", "possible"]
    package: str | None = None
    version: str | None = None
    repos: list[str]
    explanation: str


class ThreatItem(BaseModel):
    """One threat (advisories sharing a CVE), with what in our stack it touches."""

    key: str
    title: str | None
    cve_ids: list[str]
    advisory_ids: list[str]
    feeds: list[str]
    kev: bool
    kev_added: datetime | None
    published: datetime | None
    severity: str | None
    epss: float | None
    fixed_versions: list[str]
    matches: list[StackMatch]
    confirmed: bool
    repos: list[str]
    explanation: str
    url: str | None


class ThreatIntelReport(BaseModel):
    """Advisories of the window, the ones that touch our stack first, and a readable summary."""

    now: datetime
    days: int
    since: datetime
    n_advisories: int = Field(description="Advisories published in the window (all feeds).")
    n_kev_additions: int
    n_threats: int = Field(description="Distinct threats (advisories grouped by CVE).")
    items: list[ThreatItem] = Field(description="Threats that touch our stack, most urgent first.")
    not_ours: int = Field(description="Threats in the window that match nothing we run.")
    inventory: dict[str, int]
    summary: str


# ----------------------------------------------------------------------------- matching


def _alnum(text: str | None) -> str:
    return re.sub(r"[^a-z0-9]", "", (text or "").lower())


def _repos_text(repos: Sequence[str], limit: int = 3) -> str:
    names = sorted(set(repos))
    if len(names) <= limit:
        return ", ".join(names)
    return f"{', '.join(names[:limit])} and {len(names) - limit} more"


def _package_matches(
    affected: Mapping[str, Any], packages: Mapping[tuple[str, str], list[InstalledPackage]]
) -> list[StackMatch]:
    eco = normalize_ecosystem(str(affected.get("ecosystem") or ""))
    name = normalize_package(str(affected.get("package") or affected.get("name") or ""))
    installed = packages.get((eco, name), [])
    by_version: dict[tuple[str | None, bool | None], list[str]] = {}
    for pkg in installed:
        verdict = version_affected(pkg.version, eco, affected)
        if verdict is False:
            continue
        by_version.setdefault((pkg.version, verdict), []).append(pkg.repo)
    matches = []
    for (version, verdict), repos in sorted(
        by_version.items(), key=lambda kv: (str(kv[0][0]), str(kv[0][1]))
    ):
        package = str(affected.get("package") or affected.get("name"))
        at = f"{package}@{version}" if version else package
        if verdict:
            text = f"{at} in {_repos_text(repos)} is in the affected range"
        else:
            text = f"{at} in {_repos_text(repos)}: version could not be compared, check by hand"
        matches.append(
            StackMatch(
                kind="package",
                confidence="confirmed" if verdict else "possible",
                package=package,
                version=version,
                repos=sorted(set(repos)),
                explanation=text,
            )
        )
    return matches


def _product_matches(record: AdvisoryRecord, inventory: StackInventory) -> list[StackMatch]:
    product = _alnum(record.product)
    if len(product) < 5:
        return []
    matches: list[StackMatch] = []
    hits: dict[str, list[str]] = {}
    for pkg in inventory.packages:
        if product in _alnum(pkg.package):
            hits.setdefault(pkg.package, []).append(pkg.repo)
    for package, repos in sorted(hits.items()):
        matches.append(
            StackMatch(
                kind="product",
                confidence="possible",
                package=package,
                repos=sorted(set(repos)),
                explanation=f"product '{record.product}' looks like {package} in {_repos_text(repos)}",
            )
        )
    for language, language_repos in sorted(inventory.languages.items()):
        if product == _alnum(language):
            matches.append(
                StackMatch(
                    kind="language",
                    confidence="possible",
                    repos=sorted(set(language_repos)),
                    explanation=f"product '{record.product}' is a language we use ({language}) in {_repos_text(language_repos)}",
                )
            )
    for service in inventory.cloud_services:
        if product == _alnum(service) or (len(product) >= 8 and product in _alnum(service)):
            matches.append(
                StackMatch(
                    kind="product",
                    confidence="possible",
                    package=service,
                    repos=[],
                    explanation=f"product '{record.product}' is a cloud service we pay for ({service})",
                )
            )
    return matches


def _group(records: Sequence[AdvisoryRecord]) -> list[list[AdvisoryRecord]]:
    """Advisories sharing a CVE describe one threat."""
    groups: list[tuple[set[str], list[AdvisoryRecord]]] = []
    for record in sorted(records, key=lambda r: r.source_id):
        ids = {c.upper() for c in record.cve_ids} or {record.source_id}
        touching = [g for g in groups if g[0] & ids]
        if not touching:
            groups.append((set(ids), [record]))
            continue
        keep = touching[0]
        keep[0].update(ids)
        keep[1].append(record)
        for other in touching[1:]:
            keep[0].update(other[0])
            keep[1].extend(other[1])
            groups.remove(other)
    return [g[1] for g in groups]


_SEVERITY_RANK = {"critical": 0, "high": 1, "medium": 2, "moderate": 2, "low": 3}


def match_advisories(
    advisories: Iterable[AdvisoryRecord],
    *,
    inventory: StackInventory,
    now: datetime,
    days: int = 30,
) -> ThreatIntelReport:
    """Advisories published in the last `days` days, matched against the stack and explained."""
    now = as_utc(now)
    since = now - timedelta(days=days)
    window = [
        a
        for a in advisories
        if a.feed != "epss" and a.published is not None and since < as_utc(a.published) <= now
    ]
    packages: dict[tuple[str, str], list[InstalledPackage]] = {}
    for pkg in inventory.packages:
        packages.setdefault(
            (normalize_ecosystem(pkg.ecosystem), normalize_package(pkg.package)), []
        ).append(pkg)
    items: list[ThreatItem] = []
    threats = _group(window)
    for group in threats:
        cves = sorted({c.upper() for a in group for c in a.cve_ids})
        matches: list[StackMatch] = []
        fixed: set[str] = set()
        for record in group:
            for affected in record.affected:
                matches.extend(_package_matches(affected, packages))
                fix = affected.get("fixed")
                fixed.update(str(f) for f in (fix if isinstance(fix, list) else [fix]) if f)
                for rng in affected.get("ranges") or []:
                    if isinstance(rng, Mapping):
                        for event in rng.get("events") or [rng]:
                            if isinstance(event, Mapping) and event.get("fixed"):
                                fixed.add(str(event["fixed"]))
        for cve in cves:
            for repo, package, version in inventory.findings.get(cve, ()):
                already = any(m.package == package and repo in m.repos for m in matches)
                if not already:
                    at = f"{package}@{version}" if version else str(package)
                    matches.append(
                        StackMatch(
                            kind="finding",
                            confidence="confirmed",
                            package=package,
                            version=version,
                            repos=[repo],
                            explanation=f"{cve} already reported by our scanners: {at} in {repo}",
                        )
                    )
        if not any(m.confidence == "confirmed" for m in matches):
            for record in group:
                matches.extend(_product_matches(record, inventory))
        if not matches:
            continue
        kev_records = [a for a in group if a.kev or a.feed == "kev"]
        kev_added = min(
            (as_utc(a.published) for a in kev_records if a.feed == "kev" and a.published),
            default=None,
        )
        severities = [a.severity.lower() for a in group if a.severity]
        severity = min(severities, key=lambda s: _SEVERITY_RANK.get(s, 9)) if severities else None
        epss_values = [a.epss for a in group if a.epss is not None]
        repos = sorted({r for m in matches for r in m.repos})
        title = (
            next((a.title for a in group if a.feed != "kev" and a.title), None) or group[0].title
        )
        fix_text = f"; fixed in {', '.join(sorted(fixed))}" if fixed else ""
        label = cves[0] if cves else group[0].source_id
        kev_text = " (in CISA KEV)" if kev_records else ""
        explanation = (
            f"{label}{kev_text}: " + "; ".join(m.explanation for m in matches[:3]) + fix_text
        )
        items.append(
            ThreatItem(
                key=label,
                title=title,
                cve_ids=cves,
                advisory_ids=sorted(a.source_id for a in group),
                feeds=sorted({a.feed for a in group}),
                kev=bool(kev_records),
                kev_added=kev_added,
                published=min(as_utc(a.published) for a in group if a.published),
                severity=severity,
                epss=max(epss_values) if epss_values else None,
                fixed_versions=sorted(fixed),
                matches=matches,
                confirmed=any(m.confidence == "confirmed" for m in matches),
                repos=repos,
                explanation=explanation,
                url=next((a.url for a in group if a.url), None),
            )
        )
    items.sort(
        key=lambda i: (
            not i.kev,
            not i.confirmed,
            _SEVERITY_RANK.get(i.severity or "", 9),
            -(i.epss or 0.0),
            -len(i.repos),
            i.key,
        )
    )
    kev_additions = sum(1 for a in window if a.feed == "kev")
    return ThreatIntelReport(
        now=now,
        days=days,
        since=since,
        n_advisories=len(window),
        n_kev_additions=kev_additions,
        n_threats=len(threats),
        items=items,
        not_ours=len(threats) - len(items),
        inventory={
            "packages": len(inventory.packages),
            "languages": len(inventory.languages),
            "cloud_services": len(inventory.cloud_services),
        },
        summary=_summary(
            items, n_advisories=len(window), n_threats=len(threats), kev=kev_additions, days=days
        ),
    )


def _summary(
    items: Sequence[ThreatItem], *, n_advisories: int, n_threats: int, kev: int, days: int
) -> str:
    """A paragraph a CTO reads in ten seconds."""
    if n_advisories == 0:
        return f"No advisories were published in the last {days} days."
    head = (
        f"{len(items)} of {n_threats} threats published in the last {days} days "
        f"({n_advisories} advisories, {kev} KEV additions) touch our stack."
    )
    if not items:
        return head + " Nothing in the feeds matches what we run."
    lines = []
    for item in items[:3]:
        kev_text = ", exploited in the wild (CISA KEV)" if item.kev else ""
        top = item.matches[0]
        what = (
            f"{top.package}@{top.version}"
            if top.package and top.version
            else (top.package or "our stack")
        )
        where = f" in {_repos_text(top.repos, 2)}" if top.repos else ""
        fix = f"; fix: upgrade to {item.fixed_versions[-1]}" if item.fixed_versions else ""
        certainty = "" if item.confirmed else " (possible match)"
        lines.append(f"{item.key}{kev_text} affects {what}{where}{fix}{certainty}.")
    more = f" {len(items) - 3} more below." if len(items) > 3 else ""
    return head + " " + " ".join(lines) + more
