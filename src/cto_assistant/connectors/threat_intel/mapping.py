"""Threat-intel feeds → advisory rows, and the enrichment of vulnerabilities with KEV and EPSS.

Advisory ids are namespaced by feed so one CVE can be both a KEV entry and an OSV record:
`kev:<CVE id>`, `osv:<OSV id>`, `epss:<CVE id>`. KEV dates are taken as given: 15 real entries
have a dueDate before their dateAdded, and neither date is checked against the other.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from cto_assistant.connectors.payload import Reader
from cto_assistant.errors import SchemaDriftError

SEVERITIES = {
    "CRITICAL": "critical",
    "HIGH": "high",
    "MODERATE": "medium",
    "MEDIUM": "medium",
    "LOW": "low",
}


@dataclass(frozen=True)
class PackageRef:
    """One package version of the stack inventory to ask OSV about."""

    ecosystem: str
    name: str
    version: str | None = None


def inventory_from_rows(rows: Iterable[Mapping[str, Any]]) -> list[PackageRef]:
    """Distinct packages of `dependency` rows (the stack inventory), for OSV queries."""
    seen = {PackageRef(str(r["ecosystem"]), str(r["package"]), r.get("version")) for r in rows}
    return sorted(seen, key=lambda p: (p.ecosystem, p.name, p.version or ""))


def _midnight(day: date | None) -> datetime | None:
    """The start of a day in UTC (advisories are published on dates)."""
    return None if day is None else datetime.combine(day, datetime.min.time(), tzinfo=UTC)


def kev_entries(body: Any, *, source: str) -> list[dict[str, Any]]:
    """The KEV catalogue → advisory rows (feed 'kev', kev=True)."""
    catalogue = Reader(body, source=source, stream="kev", what="KEV catalogue")
    rows = []
    for r in catalogue.need_objects("vulnerabilities", "KEV entry"):
        cve = str(r.need("cveID"))
        rows.append(
            {
                "source": source,
                "source_id": f"kev:{cve}",
                "feed": "kev",
                "title": r.get("vulnerabilityName"),
                "summary": r.get("shortDescription"),
                "published": _midnight(r.need_day("dateAdded")),
                "modified": None,
                "cve_ids": [cve],
                "affected": [],
                "vendor_project": r.get("vendorProject"),
                "product": r.get("product"),
                "kev": True,
                "epss": None,
                "severity": None,
                "url": f"https://nvd.nist.gov/vuln/detail/{cve}",
            }
        )
    return rows


@dataclass(frozen=True)
class EpssScores:
    """One day's EPSS scores: CVE → (probability, percentile)."""

    score_date: str
    model_version: str
    scores: dict[str, tuple[float, float]]


def parse_epss(content: bytes, *, source: str) -> EpssScores:
    """The EPSS CSV (gzip or not): a '#model_version:…,score_date:…' line, then cve,epss,percentile."""
    if content[:2] == b"\x1f\x8b":
        content = gzip.decompress(content)
    lines = io.StringIO(content.decode("utf-8"))
    first = lines.readline().strip()
    meta: dict[str, str] = {}
    if first.startswith("#"):
        for part in first.lstrip("#").split(","):
            key, _, value = part.partition(":")
            meta[key.strip()] = value.strip()
    else:
        lines.seek(0)
    reader = csv.DictReader(lines)
    if not reader.fieldnames or not {"cve", "epss", "percentile"} <= set(reader.fieldnames):
        raise SchemaDriftError(
            source,
            f"EPSS CSV header is {reader.fieldnames}, expected cve,epss,percentile",
            stream="epss",
            field="cve,epss,percentile",
        )
    scores = _scores(reader, source)
    return EpssScores(
        score_date=meta.get("score_date", "")[:10],
        model_version=meta.get("model_version", ""),
        scores=scores,
    )


def _score_day(score_date: str) -> date | None:
    """The EPSS score date ('' when the file did not say; not a date → None)."""
    try:
        return date.fromisoformat(score_date[:10]) if score_date else None
    except ValueError:
        return None


def _scores(rows: csv.DictReader[str], source: str) -> dict[str, tuple[float, float]]:
    """CVE → (epss, percentile) of the CSV rows; a row without two numbers is schema drift."""
    scores = {}
    for row in rows:
        try:
            scores[row["cve"]] = (float(row["epss"]), float(row["percentile"]))
        except (TypeError, ValueError):
            raise SchemaDriftError(
                source,
                f"EPSS CSV line {rows.line_num}: epss/percentile is not a number: {row}"[:200],
                stream="epss",
                field="epss,percentile",
            ) from None
    return scores


def epss_rows(scores: EpssScores, cves: Iterable[str], *, source: str) -> Iterator[dict[str, Any]]:
    """Advisory rows (feed 'epss') carrying the score of each CVE in `cves` that has one."""
    published = _midnight(_score_day(scores.score_date))
    for cve in sorted(set(cves)):
        found = scores.scores.get(cve)
        if found is None:
            continue
        yield {
            "source": source,
            "source_id": f"epss:{cve}",
            "feed": "epss",
            "title": f"EPSS {cve}",
            "summary": f"EPSS {found[0]:.5f} (percentile {found[1]:.5f}) on {scores.score_date}",
            "published": published,
            "modified": published,
            "cve_ids": [cve],
            "affected": [],
            "vendor_project": None,
            "product": None,
            "kev": False,
            "epss": found[0],
            "severity": None,
            "url": f"https://api.first.org/data/v1/epss?cve={cve}",
        }


def flat_ranges(ranges: Any, *, source: str = "threat_intel") -> list[dict[str, str]]:
    """OSV `ranges[].events` (introduced / fixed / last_affected, in order) → flat bounds.

    Each `introduced` opens a bound that the next `fixed` or `last_affected` closes; an open
    bound at the end means every later version is affected.
    """
    bounds: list[dict[str, str]] = []
    listed = Reader.of("ranges", ranges, source=source, stream="osv", what="OSV affected package")
    for rng in listed.objects("ranges", "OSV range"):
        current: dict[str, str] | None = None
        for event in rng.objects("events", "OSV range event"):
            if "introduced" in event.obj:
                if current is not None:
                    bounds.append(current)
                current = {"introduced": str(event.obj["introduced"])}
            for kind in ("fixed", "last_affected"):
                if kind in event.obj:
                    bounds.append({**(current or {"introduced": "0"}), kind: str(event.obj[kind])})
                    current = None
        if current is not None:
            bounds.append(current)
    return bounds


def osv_advisory(obj: Any, *, source: str) -> dict[str, Any]:
    """An OSV record → advisory row (feed 'osv') with its affected packages."""
    r = Reader(obj, source=source, stream="osv", what="OSV record")
    vuln_id = str(r.need("id"))
    aliases = r.items("aliases")
    cves = sorted({str(a) for a in [vuln_id, *aliases] if str(a).startswith("CVE-")})
    severity = SEVERITIES.get(str(r.get("database_specific.severity", "")).upper())
    url = next(
        (
            ref.get("url")
            for ref in r.objects("references", "reference")
            if ref.get("type") == "ADVISORY"
        ),
        None,
    )
    return {
        "source": source,
        "source_id": f"osv:{vuln_id}",
        "feed": "osv",
        "title": r.get("summary") or vuln_id,
        "summary": r.get("details"),
        "published": r.time("published"),
        "modified": r.need_time("modified"),
        "cve_ids": cves,
        "affected": [_affected(item) for item in r.objects("affected", "OSV affected package")],
        "vendor_project": None,
        "product": None,
        "kev": False,
        "epss": None,
        "severity": severity,
        "url": url or f"https://osv.dev/vulnerability/{vuln_id}",
    }


def _affected(item: Reader) -> dict[str, Any]:
    """One `affected` entry: ecosystem, package, flat version ranges, listed versions."""
    package = item.child("package")
    entry: dict[str, Any] = {
        "ecosystem": package.get("ecosystem"),
        "package": package.get("name"),
        "ranges": flat_ranges(item.get("ranges") or [], source=item.source),
    }
    versions = item.items("versions") if item.get("versions") else []
    if versions:
        entry["versions"] = [str(v) for v in versions]
    return entry


def enrich_vulnerabilities(
    vulns: Iterable[Mapping[str, Any]],
    kev_cves: set[str],
    epss_scores: Mapping[str, float],
) -> list[dict[str, Any]]:
    """Copies of `vulns` with `in_kev` and `epss` set from their CVE ids (highest EPSS wins).

    A vulnerability keeps its own EPSS when none of its CVEs has a score; `in_kev` is True when
    any of its CVEs is in the catalogue (and never turned off by a feed that lacks it).
    """
    enriched = []
    for vuln in vulns:
        cves = [str(c).upper() for c in vuln.get("cve_ids") or []]
        scores = [epss_scores[c] for c in cves if c in epss_scores]
        row = dict(vuln)
        row["in_kev"] = bool(vuln.get("in_kev")) or any(c in kev_cves for c in cves)
        row["epss"] = max(scores) if scores else vuln.get("epss")
        enriched.append(row)
    return enriched
