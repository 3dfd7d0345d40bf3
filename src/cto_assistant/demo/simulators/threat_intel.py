"""Threat-intel simulator: a CISA KEV feed, a FIRST EPSS CSV and the OSV query API.

Serves the world's `advisory` rows (source ids `kev:<CVE>`, `osv:<id>`, `epss:<CVE>`):
- `GET /kev/known_exploited_vulnerabilities.json` — the real KEV catalogue shape, with an ETag
  (If-None-Match → 304);
- `GET /epss/epss_scores-current.csv.gz` — gzip CSV after a `#model_version:…,score_date:…`
  line, scores of every advisory with an `epss` value, ETag likewise;
- `POST /v1/querybatch`, `POST /v1/query`, `GET /v1/vulns/{id}` — OSV records whose affected
  packages match the query (a listed version, or any version when none is listed).
The feeds are public, so no credentials are needed (as for the real ones); `credentials` is
accepted for symmetry and ignored.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from datetime import UTC, date, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from cto_assistant.demo.simulators.common import new_simulator
from cto_assistant.demo.world import Row, World


def _day(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)[:10]


def _stamp(value: Any) -> str | None:
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    # OSV writes RFC 3339, with fractional seconds when it has them
    spec = "milliseconds" if moment.microsecond else "seconds"
    return moment.astimezone(UTC).isoformat(timespec=spec).replace("+00:00", "Z")


def kev_entry(row: Row) -> dict[str, Any]:
    """A world KEV advisory as a catalogue entry."""
    cve = str(row["source_id"]).removeprefix("kev:")
    return {
        "cveID": cve,
        "vendorProject": row.get("vendor_project") or "Unknown",
        "product": row.get("product") or "Unknown",
        "vulnerabilityName": row.get("title") or cve,
        "dateAdded": _day(row["published"]),
        "shortDescription": row.get("summary") or "",
        "requiredAction": "Apply mitigations per vendor instructions or discontinue use of the product if mitigations are unavailable.",
        "dueDate": _day(row["published"]),
        "knownRansomwareCampaignUse": "Unknown",
        "notes": row.get("url") or "",
        "cwes": [],
    }


def osv_record(row: Row) -> dict[str, Any]:
    """A world OSV advisory as an OSV record."""
    vuln_id = str(row["source_id"]).removeprefix("osv:")
    affected = []
    for item in row.get("affected") or []:
        entry: dict[str, Any] = {
            "package": {"ecosystem": item["ecosystem"], "name": item["package"]},
            "versions": list(item.get("versions") or []),
        }
        events: list[dict[str, str]] = []
        for bound in item.get("ranges") or []:  # the world's flat {introduced, fixed} ranges
            events.append({"introduced": str(bound.get("introduced", "0"))})
            for kind in ("fixed", "last_affected"):
                if bound.get(kind):
                    events.append({kind: str(bound[kind])})
        if item.get("fixed"):
            events += [{"introduced": "0"}, *({"fixed": f} for f in item["fixed"])]
        if events:
            entry["ranges"] = [{"type": "ECOSYSTEM", "events": events}]
        affected.append(entry)
    record: dict[str, Any] = {
        "schema_version": "1.6.0",
        "id": vuln_id,
        "modified": _stamp(row.get("modified") or row.get("published")),
        "published": _stamp(row.get("published")),
        "aliases": [c for c in row.get("cve_ids") or [] if c != vuln_id],
        "summary": row.get("title") or vuln_id,
        "details": row.get("summary") or "",
        "affected": affected,
        "references": [{"type": "ADVISORY", "url": row["url"]}] if row.get("url") else [],
    }
    if row.get("severity"):
        record["database_specific"] = {
            "severity": {"medium": "MODERATE"}.get(row["severity"], row["severity"].upper())
        }
    return record


def _matches(record: dict[str, Any], query: dict[str, Any]) -> bool:
    package = query.get("package") or {}
    version = query.get("version")
    for item in record["affected"]:
        if item["package"]["name"] != package.get("name") or item["package"][
            "ecosystem"
        ] != package.get("ecosystem"):
            continue
        if not version or not item["versions"] or version in item["versions"]:
            return True
    return False


def make_app(
    world: World, *, credentials: dict[str, str] | None = None, osv_page_size: int = 1000
) -> FastAPI:
    """The threat-intel simulator for `world`."""
    app, _state = new_simulator("threat_intel", world, credentials=credentials)
    advisories = list(world.rows("advisory"))
    kev = sorted(
        (kev_entry(r) for r in advisories if r.get("feed") == "kev"),
        key=lambda e: (e["dateAdded"], e["cveID"]),
        reverse=True,
    )
    catalogue = json.dumps(
        {
            "title": "CISA Catalog of Known Exploited Vulnerabilities",
            "catalogVersion": world.today.strftime("%Y.%m.%d"),
            "dateReleased": f"{world.today.isoformat()}T17:04:19.9796Z",
            "count": len(kev),
            "vulnerabilities": kev,
        }
    ).encode()
    scores = sorted(
        {
            (c, float(r["epss"]))
            for r in advisories
            if r.get("epss") is not None
            for c in r.get("cve_ids") or []
        }
    )
    ranked = sorted(p for _, p in scores)
    lines = [
        f"#model_version:v2025.03.14,score_date:{world.today.isoformat()}T00:00:00+0000",
        "cve,epss,percentile",
    ]
    for cve, p in scores:
        percentile = sum(1 for x in ranked if x <= p) / len(ranked)
        lines.append(f"{cve},{p:.5f},{percentile:.5f}")
    epss = gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0)
    records = {
        rec["id"]: rec for rec in (osv_record(r) for r in advisories if r.get("feed") == "osv")
    }

    def conditional(request: Request, body: bytes, media_type: str) -> Response:
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers={"ETag": etag})
        return Response(body, media_type=media_type, headers={"ETag": etag})

    @app.get("/kev/known_exploited_vulnerabilities.json")
    def kev_feed(request: Request) -> Response:
        return conditional(request, catalogue, "application/json")

    @app.get("/epss/epss_scores-current.csv.gz")
    def epss_feed(request: Request) -> Response:
        return conditional(request, epss, "application/gzip")

    def query_ids(query: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
        found = [rec for rec in records.values() if _matches(rec, query)]
        offset = int(query.get("page_token") or 0)
        page = found[offset : offset + osv_page_size]
        nxt = str(offset + osv_page_size) if offset + osv_page_size < len(found) else None
        return page, nxt

    @app.post("/v1/querybatch", response_model=None)
    async def querybatch(request: Request) -> Any:
        body = await request.json()
        results = []
        for query in body.get("queries", []):
            page, nxt = query_ids(query)
            result: dict[str, Any] = (
                {"vulns": [{"id": r["id"], "modified": r["modified"]} for r in page]}
                if page
                else {}
            )
            if nxt:
                result["next_page_token"] = nxt
            results.append(result)
        return {"results": results}

    @app.post("/v1/query", response_model=None)
    async def query(request: Request) -> Any:
        page, nxt = query_ids(await request.json())
        return {"vulns": page, **({"next_page_token": nxt} if nxt else {})} if page else {}

    @app.get("/v1/vulns/{vuln_id}", response_model=None)
    def vuln(vuln_id: str) -> Any:
        record = records.get(vuln_id)
        if record is None:
            return JSONResponse({"code": 5, "message": "Bug not found."}, status_code=404)
        return record

    return app
