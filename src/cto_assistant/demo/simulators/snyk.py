"""Snyk REST simulator: the world's Snyk vulnerabilities as JSON:API issue and project pages.

Serves `GET /rest/orgs/{org_id}/issues` and `GET /rest/orgs/{org_id}/projects` in the shapes of
real Snyk pages (../shared/vendor-specs/snyk/defectdojo_fixtures): `jsonapi`, `data`, `links`
with `next` holding a `starting_after` cursor; `limit` (1-100, default 10), `version`
(required), `updated_after`, `expand=target`. Every world `vulnerability` row with
`scanner == "snyk"` is one issue; issues of the same repo, ecosystem and environment share one
project, tagged `environment` and `service` (lifecycle production/development).

Demo credentials: `Authorization: token snyk-demo-token`; the organisation id is
`DEMO_ORG_ID` (any org id in the URL is accepted and serves the same issues).
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from cto_assistant.connectors.payload import parse_time
from cto_assistant.demo.simulators.common import bearer_token, new_simulator, require, same
from cto_assistant.demo.world import Row, World

DEMO_TOKEN = "snyk-demo-token"  # noqa: S105 - documented demo credential
DEMO_ORG_ID = "4a1d2c3b-0000-4000-8000-00000000ac3e"
MEDIA_TYPE = "application/vnd.api+json"

MANIFEST = {
    "pip": "requirements.txt",
    "npm": "package.json",
    "maven": "pom.xml",
    "gradle": "build.gradle",
    "go": "go.mod",
    "gomodules": "go.mod",
    "rubygems": "Gemfile.lock",
    "nuget": "packages.config",
    "cargo": "Cargo.toml",
    "composer": "composer.lock",
    "swift": "Package.swift",
    "cocoapods": "Podfile",
}
MATURITY_V3 = {
    "none": "Not Defined",
    "unproven": "Unproven",
    "poc": "Proof of Concept",
    "functional": "Functional",
    "mature": "High",
}
MATURITY_V4 = {
    "none": "Not Defined",
    "unproven": "Unreported",
    "poc": "Proof of Concept",
    "functional": "Proof of Concept",
    "mature": "Attacked",
}


def _uuid(*parts: object) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "snyk:" + "|".join(str(p) for p in parts)))


def _ts(value: Any) -> str | None:
    moment = parse_time(value)
    if moment is None:
        return None
    # full precision (Snyk writes milliseconds; the world keeps microseconds and must round-trip)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def project_key(row: Mapping[str, Any]) -> tuple[str, str, str]:
    """Which project a vulnerability belongs to: (repo, ecosystem or 'sast', environment)."""
    ecosystem = row.get("ecosystem") or ("sast" if not row.get("package") else "pip")
    return (
        str(row.get("repo") or "unknown/unknown"),
        str(ecosystem),
        str(row.get("environment") or ""),
    )


def project_payload(
    key: tuple[str, str, str], service: str | None, org_id: str, created: str, *, expand: bool
) -> dict[str, Any]:
    """One JSON:API project item."""
    repo, ecosystem, environment = key
    project_id = _uuid("project", *key)
    target_file = "" if ecosystem == "sast" else MANIFEST.get(ecosystem, "manifest")
    tags = []
    if environment:
        tags.append({"key": "environment", "value": environment})
    if service:
        tags.append({"key": "service", "value": service})
    lifecycle = (
        [] if not environment else ["production" if environment == "production" else "development"]
    )
    target: dict[str, Any] = {"id": _uuid("target", repo), "type": "target"}
    if expand:
        target["attributes"] = {"display_name": repo, "url": f"https://github.com/{repo}"}
    return {
        "type": "project",
        "id": project_id,
        "attributes": {
            "name": repo if ecosystem == "sast" else f"{repo}:{target_file}",
            "type": ecosystem,
            "target_file": target_file,
            "target_reference": "main",
            "origin": "github",
            "created": created,
            "status": "active",
            "business_criticality": ["high"] if environment == "production" else ["medium"],
            "environment": ["backend"],
            "lifecycle": lifecycle,
            "tags": tags,
            "read_only": False,
            "settings": {"recurring_tests": {"frequency": "daily"}},
        },
        "relationships": {
            "organization": {"data": {"id": org_id, "type": "org"}},
            "target": {"data": target},
        },
    }


def issue_payload(row: Mapping[str, Any], org_id: str) -> dict[str, Any]:
    """One world vulnerability row → one JSON:API issue item (real SCA or Code shape)."""
    project_id = _uuid("project", *project_key(row))
    created = _ts(row["first_seen"])
    updated = _ts(row.get("fixed_at")) or created
    state = row.get("state") or "open"
    if state == "dismissed":  # Snyk's word for a dismissed issue is "ignored"
        state = "ignored"
    is_code = not row.get("package")
    fixable = bool(row.get("fixable"))
    coordinate: dict[str, Any] = {
        "is_fixable_manually": False,
        "is_fixable_snyk": fixable,
        "is_fixable_upstream": False,
    }
    if is_code:
        coordinate["representations"] = [
            {
                "sourceLocation": {
                    "commit_id": _uuid("commit", row["source_id"]).replace("-", "")[:40],
                    "file": "src/main/app.py",
                    "region": {
                        "end": {"column": 22, "line": 71},
                        "start": {"column": 9, "line": 65},
                    },
                }
            }
        ]
    else:
        coordinate.update(
            {
                "is_patchable": False,
                "is_pinnable": False,
                "is_upgradeable": fixable,
                "reachability": "not-applicable",
            }
        )
        coordinate["representations"] = [
            {
                "dependency": {
                    "package_name": row["package"],
                    "package_version": row.get("version") or "",
                }
            }
        ]
        if row.get("fixed_version"):
            coordinate["remedies"] = [
                {
                    "type": "indeterminate",
                    "description": f"Upgrade {row['package']} to {row['fixed_version']}",
                    "details": {"upgrade_package": f"{row['package']}@{row['fixed_version']}"},
                }
            ]
    problems: list[dict[str, Any]] = [
        {
            "id": row.get("external_id") or row["source_id"],
            "source": "SNYK",
            "type": "vulnerability",
            "updated_at": updated,
        }
    ]
    for cve in row.get("cve_ids") or []:
        problems.append(
            {
                "id": cve,
                "source": "NVD",
                "type": "vulnerability",
                "updated_at": updated,
                "url": f"https://nvd.nist.gov/vuln/detail/{cve}",
            }
        )
    attributes: dict[str, Any] = {
        "classes": [
            {"id": cwe, "source": "CWE", "type": "weakness"} for cwe in row.get("cwe_ids") or []
        ],
        "coordinates": [coordinate],
        "created_at": created,
        "effective_severity_level": row["severity"],
        "ignored": state == "ignored",
        "key": row.get("external_id") or row["source_id"],
        "problems": problems,
        "risk": {
            "factors": [],
            "score": {"model": "v1", "value": int((row.get("cvss") or 5.0) * 80)},
        },
        "status": "resolved" if state == "fixed" else "open",
        "title": row.get("title") or "Vulnerability",
        "type": "code" if is_code else "package_vulnerability",
        "updated_at": updated,
    }
    if is_code:
        attributes["description"] = row.get("title") or ""
        attributes["key_asset"] = _uuid("asset", row["source_id"])
    else:
        maturity = row.get("exploit_maturity") or "none"
        attributes["exploit_details"] = {
            "maturity_levels": [
                {"format": "CVSSv3", "level": MATURITY_V3.get(maturity, "Not Defined")},
                {"format": "CVSSv4", "level": MATURITY_V4.get(maturity, "Not Defined")},
            ],
            "sources": (["CISA"] if row.get("in_kev") else [])
            + (["Snyk"] if maturity not in ("none", "unproven") else []),
        }
        severities = []
        if row.get("cvss") is not None:
            entry: dict[str, Any] = {
                "level": row["severity"],
                "modification_time": created,
                "score": row["cvss"],
                "source": "Snyk",
                "version": "3.1",
            }
            if row.get("cvss_vector"):
                entry["vector"] = row["cvss_vector"]
            severities.append(entry)
        attributes["severities"] = severities
    if state == "fixed":
        attributes["resolution"] = {"details": "", "resolved_at": updated, "type": "fixed"}
    return {
        "id": row["source_id"],
        "type": "issue",
        "attributes": attributes,
        "relationships": {
            "organization": {
                "data": {"id": org_id, "type": "organization"},
                "links": {"related": f"/orgs/{org_id}"},
            },
            "scan_item": {
                "data": {"id": project_id, "type": "project"},
                "links": {"related": f"/orgs/{org_id}/projects/{project_id}"},
            },
        },
    }


def encode_cursor(index: int) -> str:
    """A Snyk-style opaque cursor (v1.<base64 JSON>)."""
    return "v1." + base64.urlsafe_b64encode(json.dumps({"idx": index}).encode()).decode()


def decode_cursor(cursor: str) -> int | None:
    """The index inside a cursor, or None when it is not one of ours."""
    try:
        return int(json.loads(base64.urlsafe_b64decode(cursor.removeprefix("v1.")))["idx"])
    except (ValueError, KeyError, TypeError):
        return None


def _error(status: int, detail: str) -> JSONResponse:
    body = {"jsonapi": {"version": "1.0"}, "errors": [{"status": str(status), "detail": detail}]}
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE)


def make_app(world: World, *, credentials: dict[str, str] | None = None) -> FastAPI:
    """The Snyk simulator app serving `world` (demo token unless `credentials['token']`)."""
    creds = credentials or {"token": DEMO_TOKEN}
    app, _state = new_simulator("snyk", world, credentials=creds)
    rows: list[Row] = [row for row in world.rows("vulnerability") if row.get("scanner") == "snyk"]
    rows.sort(
        key=lambda row: (
            _ts(row.get("fixed_at")) or _ts(row["first_seen"]) or "",
            str(row["source_id"]),
        )
    )
    issue_rows = rows
    updated_at = [
        parse_time(row.get("fixed_at"))
        or parse_time(row["first_seen"])
        or datetime.min.replace(tzinfo=UTC)
        for row in rows
    ]
    issues_by_org: dict[str, list[dict[str, Any]]] = {}
    services: dict[tuple[str, str, str], str | None] = {}
    created: dict[tuple[str, str, str], str] = {}
    for row in rows:
        key = project_key(row)
        services.setdefault(key, row.get("service"))
        first = _ts(row["first_seen"]) or ""
        created[key] = min(created.get(key, first), first)
    project_keys = sorted(services)

    def page(request: Request, org_id: str, items: list[Any], kind: str) -> JSONResponse:
        params = request.query_params
        try:
            limit = int(params.get("limit", "10"))
        except ValueError:
            return _error(400, "limit must be an integer")
        if not 1 <= limit <= 100:
            return _error(400, "limit must be between 1 and 100")
        start = 0
        if params.get("starting_after"):
            index = decode_cursor(params["starting_after"])
            if index is None:
                return _error(400, "invalid starting_after cursor")
            start = index + 1
        chunk = items[start : start + limit]
        # Absolute paths, as Snyk sends them; under a mount (the sandbox's /snyk) they carry
        # its prefix, as a real API behind a path prefix would.
        base = f"{request.scope.get('root_path', '')}/rest/orgs/{org_id}/{kind}"
        keep = [
            (k, v) for k, v in params.multi_items() if k not in ("starting_after", "ending_before")
        ]
        query = "&".join(f"{k}={v}" for k, v in keep)
        links = {"self": f"{base}?{request.url.query}", "first": f"{base}?{query}"}
        if start + limit < len(items):
            links["next"] = f"{base}?{query}&starting_after={encode_cursor(start + limit - 1)}"
        body = {"jsonapi": {"version": "1.0"}, "data": chunk, "links": links}
        return JSONResponse(body, media_type=MEDIA_TYPE)

    def authorized(request: Request) -> None:
        require(same(bearer_token(request), creds.get("token")))

    @app.get("/rest/orgs/{org_id}/issues")
    def list_issues(org_id: str, request: Request) -> JSONResponse:
        authorized(request)
        if not request.query_params.get("version"):
            return _error(400, "version query parameter is required")
        if org_id not in issues_by_org:
            issues_by_org[org_id] = [issue_payload(row, org_id) for row in issue_rows]
        items = issues_by_org[org_id]
        after = parse_time(request.query_params.get("updated_after"))
        if after is not None:
            items = [
                item for item, updated in zip(items, updated_at, strict=True) if updated > after
            ]
        wanted_type = request.query_params.get("type")
        if wanted_type:
            items = [item for item in items if item["attributes"]["type"] == wanted_type]
        return page(request, org_id, items, "issues")

    @app.get("/rest/orgs/{org_id}/projects")
    def list_projects(org_id: str, request: Request) -> JSONResponse:
        authorized(request)
        if not request.query_params.get("version"):
            return _error(400, "version query parameter is required")
        expand = request.query_params.get("expand") == "target"
        items = [
            project_payload(key, services[key], org_id, created[key], expand=expand)
            for key in project_keys
        ]
        return page(request, org_id, items, "projects")

    return app


__all__ = ["DEMO_ORG_ID", "DEMO_TOKEN", "make_app"]
