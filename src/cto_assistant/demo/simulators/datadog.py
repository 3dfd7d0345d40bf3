"""Datadog simulator: API v1 SLOs, SLO history, monitors, hosts; API v2 incidents, users, roles.

Serves the world's `slo`, `sli_point`, `monitor`, `host_health` and Datadog `incident` rows
(incidents whose key is `IR-<public id>`) in the shapes of Datadog's OpenAPI descriptions, and
the `access_grant` rows of system "datadog" as v2 users (`GET /api/v2/users`, JSON:API with
`relationships.roles` and the page's roles in `included`; `page[size]` (default 10, max 100) /
`page[number]` from 0; `meta.page.total_count`) and their roles (`GET /api/v2/roles`). A user's
handle is the grant's principal, its id a UUID derived from it; `role` may name several roles
joined by ", "; principal_type service/bot/app is a service account; `mfa` None omits
`mfa_enabled`.
Demo credentials: `DD-API-KEY: demo-dd-api-key`, `DD-APPLICATION-KEY: demo-dd-app-key`
(missing keys → 401, wrong keys → 403, as `{"errors": ["Forbidden"]}`).
"""

from __future__ import annotations

import hashlib
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse

from cto_assistant.demo.simulators.common import new_simulator, same
from cto_assistant.demo.world import Row, World

DEMO_CREDENTIALS = {"api_key": "demo-dd-api-key", "app_key": "demo-dd-app-key"}
ORG_ID = 321813
CREATOR = {"name": "Acme SRE", "handle": "sre@acme.example", "email": "sre@acme.example"}
ORG_UUID = "4dee724d-00cc-11ea-a77b-570c9d03c6c5"
ROLES_CREATED = "2019-11-07T16:29:44.476935+00:00"
MACHINE_PRINCIPALS = frozenset({"service", "bot", "app"})


def _epoch(value: Any) -> int:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat()


def _with_tag(tags: list[str], key: str, value: Any) -> list[str]:
    if value is None or any(t.startswith(f"{key}:") for t in tags):
        return tags
    return [*tags, f"{key}:{value}"]


def slo_object(row: Row) -> dict[str, Any]:
    """A world slo row as a Datadog ServiceLevelObjective (metric type)."""
    tags = _with_tag(
        _with_tag(list(row.get("tags") or []), "service", row.get("service")),
        "sli",
        row.get("sli_type"),
    )
    timeframe = f"{int(row.get('window_days') or 30)}d"
    target = round(float(row["target"]) * 100, 6)
    service = row.get("service") or "app"
    return {
        "id": str(row["source_id"]),
        "name": row["name"],
        "tags": tags,
        "monitor_tags": [],
        "thresholds": [{"timeframe": timeframe, "target": target, "target_display": f"{target:g}"}],
        "type": "metric",
        "type_id": 1,
        "description": f"{row['name']} of {service}",
        "timeframe": timeframe,
        "target_threshold": target,
        "query": {
            "numerator": f"sum:trace.http.request.hits{{service:{service},!http.status_class:5xx}}.as_count()",
            "denominator": f"sum:trace.http.request.hits{{service:{service}}}.as_count()",
        },
        "creator": CREATOR,
        "created_at": 1704322488,
        "modified_at": 1704322488,
    }


def monitor_object(row: Row) -> dict[str, Any]:
    """A world monitor row as a Datadog Monitor."""
    tags = _with_tag(list(row.get("tags") or []), "service", row.get("service"))
    changed = _iso(row.get("state_changed_at"))
    obj: dict[str, Any] = {
        "id": int(row["source_id"]),
        "org_id": ORG_ID,
        "type": row.get("type") or "query alert",
        "name": row["name"],
        "message": f"{row['name']} @pagerduty",
        "tags": tags,
        "query": f"avg(last_5m):avg:trace.http.request.errors{{service:{row.get('service') or '*'}}} > 5",
        "options": {"notify_no_data": False, "thresholds": {"critical": 5.0}},
        "multi": False,
        "created": "2025-01-06T10:00:00+00:00",
        "modified": "2025-01-06T10:00:00+00:00",
        "deleted": None,
        "restricted_roles": None,
        "priority": row.get("priority"),
        "overall_state": row["state"],
        "creator": CREATOR,
        "matching_downtimes": [],
    }
    if changed:
        obj["overall_state_modified"] = changed
    return obj


def host_object(row: Row) -> dict[str, Any]:
    """A world host_health row as an entry of /api/v1/hosts' host_list."""
    tags = _with_tag(list(row.get("tags") or []), "service", row.get("service"))
    reported = row.get("last_reported_at")
    return {
        "id": int(row["source_id"]) if str(row["source_id"]).isdigit() else row["source_id"],
        "name": row["host"],
        "host_name": row["host"],
        "aliases": [row["host"]],
        "apps": ["agent", "ntp"],
        "sources": ["agent", "aws"],
        "up": row["status"] == "up",
        "is_muted": False,
        "last_reported_time": _epoch(reported) if reported else None,
        "metrics": {"cpu": row.get("cpu_pct"), "iowait": 0.4, "load": 0.8},
        "tags_by_source": {"Datadog": tags},
        "meta": {"agent_version": "7.52.0", "platform": "linux"},
    }


def incident_object(row: Row, user_ids: dict[str, str]) -> dict[str, Any]:
    """A world incident row as a v2 incident (status → state active/stable/resolved)."""
    public_id = int(str(row["key"]).rsplit("-", 1)[-1])
    state = {"triggered": "active", "acknowledged": "stable", "resolved": "resolved"}[row["status"]]
    created = _iso(row["triggered_at"])
    modified = _iso(row.get("resolved_at") or row.get("acknowledged_at") or row["triggered_at"])
    assignee = row.get("assignee")
    relationships: dict[str, Any] = {
        "commander_user": {"data": {"type": "users", "id": user_ids[assignee]}}
        if assignee
        else None,
        "attachments": {"data": []},
        "impacts": {"data": []},
        "integrations": {"data": []},
        "responders": {"data": []},
    }
    return {
        "type": "incidents",
        "id": str(row["source_id"]),
        "attributes": {
            "public_id": public_id,
            "title": row["title"],
            "created": created,
            "modified": modified,
            "detected": created,
            "resolved": _iso(row.get("resolved_at")),
            "customer_impacted": False,
            "customer_impact_scope": None,
            "customer_impact_start": None,
            "customer_impact_end": None,
            "customer_impact_duration": 0,
            "severity": row.get("severity") or "UNKNOWN",
            "state": state,
            "fields": {
                "severity": {"type": "dropdown", "value": row.get("severity") or "UNKNOWN"},
                "state": {"type": "dropdown", "value": state},
                "services": {
                    "type": "autocomplete",
                    "value": [row["service"]] if row.get("service") else None,
                },
                "teams": {
                    "type": "autocomplete",
                    "value": [row["team_key"]] if row.get("team_key") else None,
                },
            },
            "time_to_detect": 0,
            "time_to_internal_response": 0,
            "time_to_repair": 0,
            "time_to_resolve": 0,
            "notification_handles": None,
            "visibility": None,
        },
        "relationships": relationships,
    }


def role_id(name: str) -> str:
    """A stable role UUID for a role name."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"datadog-role:{name}"))


def grant_role_names(row: Row) -> list[str]:
    """The role names a world grant stands for ("A, B" → two roles)."""
    return [n.strip() for n in str(row.get("role") or "").split(",") if n.strip()]


def user_object(row: Row, names: dict[str, Any]) -> dict[str, Any]:
    """A world access_grant row of system datadog as a v2 User (JSON:API resource)."""
    handle = str(row["principal"])
    email = str(row.get("person_email") or handle)
    uid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"datadog-user:{handle}"))
    created = _iso(row.get("granted_at")) or ROLES_CREATED
    attributes: dict[str, Any] = {
        "name": names.get(email.lower()),
        "handle": handle,
        "created_at": created,
        "modified_at": created,
        "email": email,
        "icon": "https://secure.gravatar.com/avatar/"
        + hashlib.md5(email.lower().encode(), usedforsecurity=False).hexdigest()
        + "?s=48&d=retro",
        "title": None,
        "verified": True,
        "service_account": row.get("principal_type") in MACHINE_PRINCIPALS,
        "disabled": False,
        "status": "Active",
        "last_login_time": _iso(row.get("last_used_at")),
    }
    if row.get("mfa") is not None:
        attributes["mfa_enabled"] = bool(row["mfa"])
    return {
        "type": "users",
        "id": uid,
        "attributes": attributes,
        "relationships": {
            "roles": {"data": [{"type": "roles", "id": role_id(n)} for n in grant_role_names(row)]},
            "org": {"data": {"type": "orgs", "id": ORG_UUID}},
        },
    }


def role_object(name: str, user_count: int) -> dict[str, Any]:
    """A v2 Role resource (as `included` in the users listing and served by /api/v2/roles)."""
    return {
        "type": "roles",
        "id": role_id(name),
        "attributes": {
            "name": name,
            "created_at": ROLES_CREATED,
            "modified_at": ROLES_CREATED,
            "user_count": user_count,
        },
        "relationships": {"permissions": {"data": []}},
    }


def is_datadog_incident(row: Row) -> bool:
    """Datadog incidents are keyed IR-<public id> in the world."""
    return str(row.get("key", "")).startswith("IR-")


def make_app(world: World, *, credentials: dict[str, str] | None = None) -> FastAPI:
    """The Datadog simulator app for `world` (demo keys unless `credentials` given)."""
    creds = credentials or DEMO_CREDENTIALS
    app, _state = new_simulator("datadog", world, credentials=creds)

    slos = [slo_object(row) for row in world.rows("slo")]
    points: dict[str, list[tuple[int, float, float]]] = defaultdict(list)
    for row in world.rows("sli_point"):
        at_ms = _epoch(row["at"]) * 1000
        points[str(row["slo_source_id"])].append((at_ms, float(row["good"]), float(row["total"])))
    for series in points.values():
        series.sort()
    slo_by_id = {obj["id"]: obj for obj in slos}
    monitors = sorted((monitor_object(row) for row in world.rows("monitor")), key=lambda m: m["id"])
    hosts = [host_object(row) for row in world.rows("host_health")]
    incident_rows = [row for row in world.rows("incident") if is_datadog_incident(row)]
    emails = sorted({str(row["assignee"]) for row in incident_rows if row.get("assignee")})
    user_ids = {email: str(uuid.uuid5(uuid.NAMESPACE_URL, email)) for email in emails}
    incidents = [incident_object(row, user_ids) for row in incident_rows]
    users = [
        {
            "type": "users",
            "id": uid,
            "attributes": {
                "email": email,
                "handle": email,
                "uuid": uid,
                "name": email.split("@")[0],
            },
        }
        for email, uid in user_ids.items()
    ]

    names = {str(p["email"]).lower(): p.get("name") for p in world.rows("person")}
    grants = [g for g in world.rows("access_grant") if g.get("system") == "datadog"]
    dd_users = sorted(
        (user_object(g, names) for g in grants),
        key=lambda u: (u["attributes"]["name"] or u["attributes"]["handle"]).lower(),
    )
    role_counts: dict[str, int] = defaultdict(int)
    for g in grants:
        for name in grant_role_names(g):
            role_counts[name] += 1
    roles = {role_id(n): role_object(n, c) for n, c in sorted(role_counts.items())}

    def auth(request: Request) -> JSONResponse | None:
        api_key = request.headers.get("dd-api-key")
        app_key = request.headers.get("dd-application-key")
        if not api_key or not app_key:
            return JSONResponse({"errors": ["Unauthorized"]}, status_code=401)
        if not (same(api_key, creds["api_key"]) and same(app_key, creds["app_key"])):
            return JSONResponse({"errors": ["Forbidden"]}, status_code=403)
        return None

    @app.get("/api/v1/slo", response_model=None)
    def list_slos(
        request: Request, limit: int = 1000, offset: int = 0, ids: str | None = None
    ) -> Any:
        if (denied := auth(request)) is not None:
            return denied
        chosen = slos
        if ids:
            wanted = {i.strip() for i in ids.split(",")}
            chosen = [s for s in slos if s["id"] in wanted]
        return {"data": chosen[offset : offset + limit], "errors": []}

    @app.get("/api/v1/slo/{slo_id}/history", response_model=None)
    def slo_history(request: Request, slo_id: str, from_ts: int, to_ts: int) -> Any:
        if (denied := auth(request)) is not None:
            return denied
        obj = slo_by_id.get(slo_id)
        if obj is None:
            return JSONResponse({"errors": ["SLO not found"]}, status_code=404)
        window = [p for p in points.get(slo_id, []) if from_ts * 1000 <= p[0] <= to_ts * 1000]
        good = [p[1] for p in window]
        total = [p[2] for p in window]
        sli = round(100 * sum(good) / sum(total), 4) if window and sum(total) else None
        interval = (window[1][0] - window[0][0]) // 1000 if len(window) > 1 else 3600
        overall: dict[str, Any] = {
            "sli_value": sli,
            "span_precision": 2,
            "precision": {obj["timeframe"]: 2},
            "uptime": sli,
            "corrections": [],
        }
        if sli is None:
            overall["errors"] = [
                {
                    "error_message": "The denominator is zero valued",
                    "error_type": "ZERO_VALUED_DENOMINATOR",
                }
            ]
            overall["state"] = "no_data"
        series_meta = {"aggr": "sum", "unit": None}
        return {
            "data": {
                "thresholds": {obj["timeframe"]: obj["thresholds"][0]},
                "from_ts": from_ts,
                "to_ts": to_ts,
                "type": "metric",
                "type_id": 1,
                "slo": obj,
                "group_by": [],
                "series": {
                    "res_type": "time_series",
                    "resp_version": 2,
                    "interval": interval,
                    "message": "",
                    "query": f"{obj['query']['numerator']}, {obj['query']['denominator']}",
                    "from_date": from_ts * 1000,
                    "to_date": to_ts * 1000,
                    "times": [float(p[0]) for p in window],
                    "numerator": {
                        "values": good,
                        "sum": sum(good),
                        "count": len(good),
                        "metadata": {**series_meta, "query_index": 0},
                    },
                    "denominator": {
                        "values": total,
                        "sum": sum(total),
                        "count": len(total),
                        "metadata": {**series_meta, "query_index": 1},
                    },
                },
                "overall": overall,
            },
            "errors": None,
        }

    @app.get("/api/v1/monitor", response_model=None)
    def list_monitors(request: Request, page: int | None = None, page_size: int = 100) -> Any:
        if (denied := auth(request)) is not None:
            return denied
        if page is None:
            return monitors
        return monitors[page * page_size : (page + 1) * page_size]

    @app.get("/api/v1/hosts", response_model=None)
    def list_hosts(request: Request, start: int = 0, count: int = 100) -> Any:
        if (denied := auth(request)) is not None:
            return denied
        count = min(count, 1000)
        chosen = hosts[start : start + count]
        return {"host_list": chosen, "total_matching": len(hosts), "total_returned": len(chosen)}

    @app.get("/api/v2/incidents", response_model=None)
    def list_incidents(
        request: Request,
        page_size: int = Query(10, alias="page[size]"),
        page_offset: int = Query(0, alias="page[offset]"),
        include: str | None = None,
    ) -> Any:
        if (denied := auth(request)) is not None:
            return denied
        page_size = min(page_size, 100)
        chosen = incidents[page_offset : page_offset + page_size]
        pagination: dict[str, int] = {"offset": page_offset, "size": len(chosen)}
        if page_offset + page_size < len(incidents):
            pagination["next_offset"] = page_offset + page_size
        body: dict[str, Any] = {"data": chosen, "meta": {"pagination": pagination}}
        if include and "users" in include.split(","):
            wanted = {
                i["relationships"]["commander_user"]["data"]["id"]
                for i in chosen
                if i["relationships"]["commander_user"]
            }
            body["included"] = [u for u in users if u["id"] in wanted]
        return body

    @app.get("/api/v2/users", response_model=None)
    def list_users(
        request: Request,
        page_size: int = Query(10, alias="page[size]"),
        page_number: int = Query(0, alias="page[number]"),
    ) -> Any:
        if (denied := auth(request)) is not None:
            return denied
        page_size = max(1, min(page_size, 100))
        chosen = dd_users[page_number * page_size : (page_number + 1) * page_size]
        wanted = {ref["id"] for u in chosen for ref in u["relationships"]["roles"]["data"]}
        return {
            "data": chosen,
            "included": [roles[r] for r in sorted(wanted) if r in roles],
            "meta": {"page": {"total_count": len(dd_users), "total_filtered_count": len(dd_users)}},
        }

    @app.get("/api/v2/roles", response_model=None)
    def list_roles(
        request: Request,
        page_size: int = Query(10, alias="page[size]"),
        page_number: int = Query(0, alias="page[number]"),
    ) -> Any:
        if (denied := auth(request)) is not None:
            return denied
        page_size = max(1, min(page_size, 100))
        every = list(roles.values())
        chosen = every[page_number * page_size : (page_number + 1) * page_size]
        return {
            "data": chosen,
            "meta": {"page": {"total_count": len(every), "total_filtered_count": len(every)}},
        }

    return app
