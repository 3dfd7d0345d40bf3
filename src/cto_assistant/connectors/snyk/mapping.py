"""Snyk REST (JSON:API) payloads → `vulnerability` rows.

Shapes follow real `GET /rest/orgs/{org_id}/issues` pages (SCA `package_vulnerability` and Snyk
Code `code` issues) and `GET /rest/orgs/{org_id}/projects` items:

- state: `status: resolved` → fixed (at `resolution.resolved_at`); `ignored: true` → ignored;
  otherwise open.
- severity: `effective_severity_level`; CVSS score/vector from `severities[]`, Snyk's own
  assessment first, then NVD, then any.
- exploit maturity: `exploit_details.maturity_levels` (CVSSv3 wording preferred) → none,
  unproven, poc, functional, mature; `exploit_details.sources` naming CISA → in_kev.
- package@version from `coordinates[].representations[].dependency`; fixed version from
  `coordinates[].remedies[].details.upgrade_package` ("name@version"); fixable when any
  `is_fixable_*`, `is_upgradeable` or `is_patchable` flag is true.
- repo/environment/service from the issue's project (`relationships.scan_item`): repo is the
  project's target display name (or its name before ':'), environment the project tag
  `environment` (else its `lifecycle`), service the project tag `service`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cto_assistant.connectors.payload import Reader

CVSS_SOURCE_ORDER = ("Snyk", "NVD")

MATURITY = {
    "not defined": "none",
    "unreported": "none",
    "no known exploit": "none",
    "unproven": "unproven",
    "proof of concept": "poc",
    "functional": "functional",
    "high": "mature",
    "mature": "mature",
    "attacked": "mature",
}

ECOSYSTEM_BY_KEY = {
    "PYTHON": "pip",
    "JS": "npm",
    "NPM": "npm",
    "JAVA": "maven",
    "GOLANG": "go",
    "RUBY": "rubygems",
    "DOTNET": "nuget",
    "PHP": "composer",
    "RUST": "cargo",
    "SWIFT": "swift",
    "COCOAPODS": "cocoapods",
}

STATES = ("open", "fixed", "ignored")


@dataclass(frozen=True)
class ProjectInfo:
    """What an issue needs from its Snyk project: repo, environment, service, ecosystem."""

    project_id: str
    repo: str | None
    environment: str | None
    service: str | None
    ecosystem: str | None
    name: str


def project_info(item: Any, *, source: str, stream: str | None = "vulnerabilities") -> ProjectInfo:
    """Read one `projects` item into the facts issues are mapped with."""
    r = Reader(item, source=source, stream=stream, what="project")
    project_id = str(r.need("id"))
    name = str(r.need("attributes.name"))
    target_name = r.get("relationships.target.data.attributes.display_name")
    repo = str(target_name) if target_name else repo_from_project_name(name, source=source)
    tags = {
        str(tag.get("key")): str(tag.get("value"))
        for tag in r.objects("attributes.tags", "project tag", skip_others=True)
        if tag.get("key")
    }
    lifecycle = r.items("attributes.lifecycle")
    environment = tags.get("environment") or (str(lifecycle[0]) if lifecycle else None)
    project_type = r.text("attributes.type")
    ecosystem = None if project_type in (None, "sast") else project_type
    return ProjectInfo(
        project_id=project_id,
        repo=repo,
        environment=environment,
        service=tags.get("service"),
        ecosystem=ecosystem,
        name=name,
    )


def repo_from_project_name(name: str, *, source: str = "snyk") -> str | None:
    """'acme/checkout-service(main):pom.xml' → 'acme/checkout-service'."""
    name = Reader.of("name", name, source=source, stream=None, what="project").need_text("name")
    repo = name.split(":", 1)[0].split("(", 1)[0].strip()
    return repo or None


def vulnerability(
    item: Any,
    *,
    source: str,
    project: ProjectInfo | None = None,
    stream: str | None = "vulnerabilities",
    app_url: str = "https://app.snyk.io",
    org_id: str | None = None,
) -> dict[str, Any]:
    """One Snyk issue → one `vulnerability` row (keyed on the issue id)."""
    r = Reader(item, source=source, stream=stream, what="issue")
    issue_id = str(r.need("id"))
    key = str(r.need("attributes.key"))
    status = str(r.need("attributes.status"))
    severity = str(r.need("attributes.effective_severity_level")).lower()
    created = r.need_time("attributes.created_at")
    issue_type = r.get("attributes.type")

    coordinates = r.objects("attributes.coordinates", "coordinate", skip_others=True)
    package, version = _package(coordinates)
    fixed_version = _fixed_version(coordinates)
    fixable_flags = [
        bool(value)
        for coordinate in coordinates
        for flag, value in coordinate.obj.items()
        if flag.startswith("is_fixable_") or flag in ("is_upgradeable", "is_patchable")
    ]
    cvss, vector = _cvss(r.objects("attributes.severities", "severity", skip_others=True))
    cve_ids = _ids(r.objects("attributes.problems", "problem", skip_others=True), "CVE-")
    cwe_ids = _ids(r.objects("attributes.classes", "class", skip_others=True), "CWE-")
    exploit_sources = [str(s) for s in r.items("attributes.exploit_details.sources")]

    if status == "resolved":
        state = "fixed"
        fixed_at = r.time("attributes.resolution.resolved_at") or r.time("attributes.updated_at")
    elif r.get("attributes.ignored") is True:
        state, fixed_at = "ignored", None
    else:
        state, fixed_at = "open", None

    project_id = r.get("relationships.scan_item.data.id")
    ecosystem = project.ecosystem if project else None
    if ecosystem is None and issue_type == "package_vulnerability":
        ecosystem = ecosystem_from_key(key, source=source)
    url = None
    if org_id and project_id:
        url = f"{app_url.rstrip('/')}/org/{org_id}/project/{project_id}#issue-{key}"
    return {
        "source": source,
        "source_id": issue_id,
        "scanner": "snyk",
        "external_id": key,
        "title": r.get("attributes.title"),
        "repo": project.repo if project else None,
        "service": project.service if project else None,
        "environment": project.environment if project else None,
        "ecosystem": ecosystem,
        "package": package,
        "version": version,
        "fixed_version": fixed_version,
        "severity": severity,
        "cvss": cvss,
        "cvss_vector": vector,
        "cve_ids": cve_ids,
        "cwe_ids": cwe_ids,
        "in_kev": any(s.upper() == "CISA" for s in exploit_sources),
        "exploit_maturity": exploit_maturity(
            r.items("attributes.exploit_details.maturity_levels"), source=source
        ),
        "fixable": any(fixable_flags) if fixable_flags else None,
        "first_seen": created,
        "fixed_at": fixed_at,
        "state": state,
        "url": url,
    }


def _package(coordinates: list[Reader]) -> tuple[Any, Any]:
    """(package, version) of the first dependency the coordinates name a package of."""
    package = version = None
    for coordinate in coordinates:
        for representation in coordinate.objects(
            "representations", "representation", skip_others=True
        ):
            if package is None and isinstance(representation.get("dependency"), dict):
                package = representation.get("dependency.package_name")
                version = representation.get("dependency.package_version")
    return package, version


def _fixed_version(coordinates: list[Reader]) -> str | None:
    """The version of the first upgrade a remedy proposes ('name@version' → 'version')."""
    for coordinate in coordinates:
        for remedy in coordinate.objects("remedies", "remedy", skip_others=True):
            upgrade = remedy.child("details").get("upgrade_package")
            if upgrade and (version := str(upgrade).rpartition("@")[2]):
                return version
    return None


def _ids(entries: list[Reader], prefix: str) -> list[str]:
    """The sorted distinct ids with `prefix` (CVE-, CWE-) of problems or classes."""
    return sorted({str(e.get("id")) for e in entries if str(e.get("id", "")).startswith(prefix)})


def _cvss(severities: list[Reader]) -> tuple[float | None, str | None]:
    scored = [s for s in severities if s.get("score") is not None]
    if not scored:
        return None, None
    chosen = next(
        (e for wanted in CVSS_SOURCE_ORDER for e in scored if e.get("source") == wanted), scored[0]
    )
    return chosen.need_number("score"), chosen.get("vector")


def exploit_maturity(levels: list[Any], *, source: str = "snyk") -> str | None:
    """Snyk maturity levels → none/unproven/poc/functional/mature (CVSSv3 wording first)."""
    listed = Reader.of("maturity_levels", levels, source=source, stream=None, what="issue")
    by_format = {
        str(level.get("format")): str(level.get("level", ""))
        for level in listed.objects("maturity_levels", "maturity level", skip_others=True)
    }
    for fmt in ("CVSSv3", "CVSSv4"):
        if fmt in by_format:
            return MATURITY.get(by_format[fmt].lower(), by_format[fmt].lower())
    if by_format:
        value = next(iter(by_format.values()))
        return MATURITY.get(value.lower(), value.lower())
    return None


def ecosystem_from_key(key: str, *, source: str = "snyk") -> str | None:
    """'SNYK-PYTHON-PILLOW-5918878' → 'pip'."""
    parts = (
        Reader.of("key", key, source=source, stream=None, what="issue").need_text("key").split("-")
    )
    if len(parts) < 3 or parts[0] != "SNYK":
        return None
    return ECOSYSTEM_BY_KEY.get(parts[1])
