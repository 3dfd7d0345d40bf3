"""Opsgenie simulator: the world's incidents as alerts (with logs), on-call timelines, users.

Serves, in the shapes of the Opsgenie swagger (../shared/vendor-specs/opsgenie/opsgenie-oas):
`GET /v2/users`, `/v2/alerts` (query `updatedAt>…`/`createdAt>…` in epoch ms, sort, order,
offset/limit, `paging.next`), `/v2/alerts/{id}/logs`, `/v2/schedules` and
`/v2/schedules/{id}/timeline` (date, interval, intervalUnit days/weeks/months).

World → Opsgenie: an incident is an alert with id = the world's source id, tinyId = the digits of
its key, priority P1…P5 from SEV-1…SEV-5, tags `service:<name>` and `team:<team name>`,
`report.ackTime`/`closeTime` in ms after creation; its events are alert logs (types Create,
AssignOwnership, Acknowledge, AddNote, Close); a postmortem link becomes a note. Schedules are
the distinct on-call schedule names, owned by the shifts' team; overrides are `override`
periods. Users are the world's people; roles owner/admin from `access_grant` rows of system
"opsgenie".

Demo credentials: `Authorization: GenieKey og-demo-key`.
"""

from __future__ import annotations

import re
import time
import uuid
from collections import defaultdict
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI, HTTPException, Request

from cto_assistant.connectors.payload import parse_time
from cto_assistant.demo.simulators.common import new_simulator, require, same
from cto_assistant.demo.simulators.pagerduty import incident_number, overlaps, ts
from cto_assistant.demo.world import Row, World

DEMO_KEY = "og-demo-key"
LOG_TYPES = {
    "trigger": "Create",
    "assign": "AssignOwnership",
    "acknowledge": "Acknowledge",
    "note": "AddNote",
    "resolve": "Close",
}
_QUERY = re.compile(r"(updatedAt|createdAt)\s*>\s*(\d+)")


def og_id(*parts: object) -> str:
    """A stable Opsgenie-style UUID."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "opsgenie:" + "|".join(str(p) for p in parts)))


def millis(value: Any) -> int:
    """Epoch milliseconds of a timestamp."""
    moment = parse_time(value)
    return int(moment.timestamp() * 1000) if moment else 0


def envelope(data: Any, **extra: Any) -> dict[str, Any]:
    """Opsgenie's response envelope."""
    return {"data": data, "took": 0.01, "requestId": str(uuid.uuid4()), **extra}


class OpsgenieWorld:
    """The world indexed once into Opsgenie objects."""

    def __init__(self, world: World) -> None:
        team_names = {str(t["key"]): str(t.get("name") or t["key"]) for t in world.rows("team")}
        self.team_names = team_names
        roles = {
            str(g.get("person_email") or g.get("principal")).lower(): str(g.get("role") or "user")
            for g in world.rows("access_grant")
            if g.get("system") == "opsgenie"
        }
        self.users = []
        for person in world.rows("person"):
            email = str(person["email"]).lower()
            role = roles.get(email, "user")
            self.users.append(
                {
                    "id": og_id("user", email),
                    "username": email,
                    "fullName": person["name"],
                    "role": {"id": role.capitalize(), "name": role.capitalize()},
                    "timeZone": person.get("timezone") or "UTC",
                    "locale": "en_US",
                    "blocked": not person.get("active", True),
                    "verified": True,
                    "createdAt": "2024-01-01T00:00:00Z",
                    "tags": [],
                }
            )
        events: dict[str, list[Row]] = defaultdict(list)
        for event in world.rows("incident_event"):
            events[str(event["incident_key"])].append(event)
        self.alerts: list[dict[str, Any]] = []
        self.logs: dict[str, list[dict[str, Any]]] = {}
        for row in world.rows("incident"):
            alert, logs = self.alert(
                row, sorted(events.get(str(row["key"]), []), key=lambda e: ts(e["at"]) or "")
            )
            self.alerts.append(alert)
            self.logs[alert["id"]] = logs
        self.alerts.sort(key=lambda a: (a["updatedAt"], a["id"]))
        self.shifts = sorted(
            world.rows("oncall_shift"), key=lambda s: (ts(s["start_at"]) or "", str(s["person"]))
        )
        owners: dict[str, str | None] = {}
        for shift in self.shifts:
            owners.setdefault(str(shift["schedule"]), shift.get("team_key"))
        self.schedules = [
            {
                "id": og_id("schedule", name),
                "name": name,
                "description": f"On-call rotation {name}",
                "timezone": "UTC",
                "enabled": True,
                "ownerTeam": {"id": og_id("team", key), "name": team_names.get(str(key), str(key))}
                if key
                else {},
                "rotations": [],
            }
            for name, key in sorted(owners.items())
        ]

    def alert(
        self, row: Mapping[str, Any], events: list[Row]
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """One world incident → (alert, its logs)."""
        created = millis(row["triggered_at"])
        logs = []
        for index, event in enumerate(events):
            at = millis(event["at"])
            entry = {
                "log": event.get("summary") or "",
                "type": LOG_TYPES.get(str(event["kind"]), str(event["kind"])),
                "createdAt": ts(event["at"]),
                "offset": f"{at}_{index}",
            }
            if event.get("actor"):
                entry["owner"] = event["actor"]
            logs.append(entry)
        url = row.get("postmortem_url")
        if url and not any(url in str(e.get("summary") or "") for e in events):
            at_value = row.get("resolved_at") or row["triggered_at"]
            logs.append(
                {
                    "log": f"Postmortem: {url}",
                    "type": "AddNote",
                    "owner": row.get("assignee") or "",
                    "createdAt": ts(at_value),
                    "offset": f"{millis(at_value)}_{len(logs)}",
                }
            )
        status = str(row["status"])
        severity = str(row.get("severity") or "")
        report: dict[str, Any] = {}
        if row.get("acknowledged_at") and status != "triggered":
            report["ackTime"] = millis(row["acknowledged_at"]) - created
            report["acknowledgedBy"] = row.get("assignee") or ""
        if status == "resolved" and row.get("resolved_at"):
            report["closeTime"] = millis(row["resolved_at"]) - created
            report["closedBy"] = row.get("assignee") or ""
        times = [
            ts(row["triggered_at"]),
            ts(row.get("acknowledged_at")),
            ts(row.get("resolved_at")),
        ]
        times += [entry["createdAt"] for entry in logs]
        tags = []
        if row.get("service"):
            tags.append(f"service:{row['service']}")
        if row.get("team_key"):
            tags.append(f"team:{self.team_names.get(str(row['team_key']), row['team_key'])}")
        alert = {
            "id": str(row["source_id"]),
            "tinyId": str(incident_number(str(row["key"]), str(row["source_id"]))),
            "alias": og_id("alias", row["source_id"]),
            "message": row["title"],
            "status": "closed" if status == "resolved" else "open",
            "acknowledged": status == "acknowledged" or "ackTime" in report,
            "isSeen": True,
            "tags": tags,
            "snoozed": False,
            "count": 1,
            "lastOccurredAt": ts(row["triggered_at"]),
            "createdAt": ts(row["triggered_at"]),
            "updatedAt": max(t for t in times if t),
            "source": "monitoring",
            "owner": row.get("assignee") or "",
            "priority": "P" + severity[-1] if severity[-1:].isdigit() else "P3",
            "responders": [{"type": "team", "id": og_id("team", row.get("team_key"))}]
            if row.get("team_key")
            else [],
            "integration": {"id": og_id("integration"), "name": "Default API", "type": "API"},
            "report": report,
        }
        return alert, logs


def paged(request: Request, items: list[Any], *, total: bool = False) -> dict[str, Any]:
    """offset/limit paging with `paging.next` links."""
    try:
        limit = min(int(request.query_params.get("limit", "20")), 100)
        offset = int(request.query_params.get("offset", "0"))
    except ValueError as exc:
        raise HTTPException(status_code=422, detail="offset and limit must be integers") from exc
    chunk = items[offset : offset + limit]
    base = str(request.url.remove_query_params("offset"))
    join = "&" if "?" in base else "?"
    paging = {"first": f"{base}{join}offset=0"}
    if offset + limit < len(items):
        paging["next"] = f"{base}{join}offset={offset + limit}"
    extra: dict[str, Any] = {"paging": paging}
    if total:
        extra["totalCount"] = len(items)
    return envelope(chunk, **extra)


def make_app(world: World, *, credentials: dict[str, str] | None = None) -> FastAPI:
    """The Opsgenie simulator serving `world` (demo key unless `credentials['key']`)."""
    creds = credentials or {"key": DEMO_KEY}
    app, _state = new_simulator("opsgenie", world, credentials=creds)
    og = OpsgenieWorld(world)
    alert_ids = {a["id"] for a in og.alerts}
    schedules = {s["id"]: s for s in og.schedules}

    def authorized(request: Request) -> None:
        header = request.headers.get("authorization", "")
        key = header.removeprefix("GenieKey ") if header.startswith("GenieKey ") else None
        require(same(key, creds.get("key")))

    @app.get("/v2/users")
    def users(request: Request) -> dict[str, Any]:
        authorized(request)
        return paged(request, og.users, total=True)

    @app.get("/v2/alerts")
    def alerts(request: Request) -> dict[str, Any]:
        authorized(request)
        selected = og.alerts
        for field, bound in _QUERY.findall(request.query_params.get("query", "")):
            selected = [a for a in selected if millis(a[field]) > int(bound)]
        sort = request.query_params.get("sort", "createdAt")
        if sort in ("createdAt", "updatedAt"):
            selected = sorted(
                selected,
                key=lambda a: (a[sort], a["id"]),
                reverse=request.query_params.get("order", "desc") == "desc",
            )
        return paged(request, selected)

    @app.get("/v2/alerts/{alert_id}/logs")
    def logs(alert_id: str, request: Request) -> dict[str, Any]:
        authorized(request)
        if alert_id not in alert_ids:
            raise HTTPException(status_code=404, detail="Alert does not exist")
        return paged(request, og.logs[alert_id])

    @app.get("/v2/schedules")
    def list_schedules(request: Request) -> dict[str, Any]:
        authorized(request)
        return envelope(og.schedules, expandable=["rotation"])

    @app.get("/v2/schedules/{schedule_id}/timeline")
    def timeline(schedule_id: str, request: Request) -> dict[str, Any]:
        authorized(request)
        schedule = schedules.get(schedule_id)
        if schedule is None:
            raise HTTPException(status_code=404, detail="Schedule not found")
        start = parse_time(request.query_params.get("date")) or datetime.fromtimestamp(
            time.time(), UTC
        )
        interval = int(request.query_params.get("interval", "1"))
        unit = {"days": 1, "weeks": 7, "months": 30}.get(
            request.query_params.get("intervalUnit", "weeks"), 7
        )
        end = start + timedelta(days=interval * unit)
        periods = [
            {
                "startDate": ts(s["start_at"]),
                "endDate": ts(s["end_at"]),
                "type": "override" if s.get("is_override") else "default",
                "recipient": {
                    "id": og_id("user", str(s["person"]).lower()),
                    "type": "user",
                    "name": s["person"],
                },
            }
            for s in og.shifts
            if str(s["schedule"]) == schedule["name"]
            and overlaps(s["start_at"], s["end_at"], start, end)
        ]
        rotation = {
            "id": og_id("rotation", schedule["name"]),
            "name": "Rotation",
            "order": 0,
            "periods": periods,
        }
        data = {
            "_parent": {"id": schedule["id"], "name": schedule["name"], "enabled": True},
            "startDate": ts(start),
            "endDate": ts(end),
            "finalTimeline": {"rotations": [rotation]},
        }
        return envelope(data, expandable=["base", "forwarding", "override"])

    return app


__all__ = ["DEMO_KEY", "OpsgenieWorld", "make_app"]
