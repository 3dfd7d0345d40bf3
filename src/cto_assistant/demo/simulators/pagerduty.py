"""PagerDuty REST v2 simulator: the world's services, people, incidents, timelines and on-calls.

Serves, in the shapes of ../shared/vendor-specs/pagerduty/pagerduty-rest.subset.json:
`GET /services`, `/users`, `/escalation_policies`, `/incidents` (since/until on created_at,
`date_range=all`, `statuses[]`, `sort_by`), `/incidents/{id}/log_entries`, `/oncalls`
(since/until overlap) and `/schedules/{id}` (since/until: final schedule and overrides
subschedule). Offset paging: `limit` (default 25, max 100), `offset`, `more`, `total`.

World → PagerDuty: users are the people with a `pagerduty_id` (everyone when nobody has one),
role `admin`/`owner` from the world's `access_grant` rows of system "pagerduty"; one team per
world team (named by the team's name); one escalation policy per team whose levels target the
team's schedules; schedules are the distinct `oncall_shift.schedule` names; incident numbers
are the digits of the world's incident key (INC-123 → 123); incident events become log
entries (`note` → annotate); a postmortem link is a note "Postmortem: <url>" when no event
carries it already.

Demo credentials: `Authorization: Token token=pd-demo-token`.
"""

from __future__ import annotations

import hashlib
import re
import string
from collections import defaultdict
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI, HTTPException, Request

from cto_assistant.connectors.payload import parse_time
from cto_assistant.demo.simulators.common import new_simulator, require, same
from cto_assistant.demo.world import Row, World

DEMO_TOKEN = "pd-demo-token"  # noqa: S105 - documented demo credential
API = "https://api.pagerduty.com"
WEB = "https://acme.pagerduty.com"
_ALPHABET = string.ascii_uppercase + string.digits
KIND_TYPES = {"note": "annotate"}
USER_ROLES = frozenset(
    {
        "admin",
        "limited_user",
        "observer",
        "owner",
        "read_only_user",
        "restricted_access",
        "read_only_limited_user",
        "user",
    }
)


def pd_id(*parts: object, prefix: str = "P") -> str:
    """A stable PagerDuty-style id (P + 6 characters) for names."""
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return prefix + "".join(_ALPHABET[b % len(_ALPHABET)] for b in digest[:6])


def ts(value: Any) -> str | None:
    """ISO 8601 with Z, seconds precision."""
    moment = parse_time(value)
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def ref(kind: str, obj_id: str, summary: str, path: str) -> dict[str, Any]:
    """A PagerDuty `<kind>_reference` object."""
    return {
        "id": obj_id,
        "type": f"{kind}_reference",
        "summary": summary,
        "self": f"{API}/{path}/{obj_id}",
        "html_url": f"{WEB}/{path}/{obj_id}",
    }


def account_role(role: str | None) -> str:
    """A PagerDuty account role for a world role (team roles such as manager become 'user')."""
    return role if role in USER_ROLES else "user"


def team_keys(world: World) -> dict[str, str]:
    """The `team_keys` setting a PagerDuty/Opsgenie source needs for this world (name → key)."""
    return {str(row["name"]): str(row["key"]) for row in world.rows("team") if row.get("name")}


def incident_number(key: str, fallback: str) -> int:
    """The number in an incident key (INC-123 → 123)."""
    digits = re.findall(r"\d+", key or "")
    if digits:
        return int(digits[-1])
    return int(hashlib.sha256(fallback.encode()).hexdigest()[:6], 16)


class PagerDutyWorld:
    """The world indexed once into PagerDuty objects."""

    def __init__(self, world: World) -> None:
        self.teams = {str(t["key"]): t for t in world.rows("team")}
        people = list(world.rows("person"))
        with_pd = [p for p in people if p.get("pagerduty_id")]
        roles = {
            str(g.get("person_email") or g.get("principal")).lower(): str(g.get("role") or "user")
            for g in world.rows("access_grant")
            if g.get("system") == "pagerduty"
        }
        self.users: list[dict[str, Any]] = []
        self.user_by_email: dict[str, dict[str, Any]] = {}
        for person in with_pd or people:
            email = str(person["email"]).lower()
            user_id = str(person.get("pagerduty_id") or pd_id("user", email))
            user = {
                "id": user_id,
                "type": "user",
                "summary": person["name"],
                "self": f"{API}/users/{user_id}",
                "html_url": f"{WEB}/users/{user_id}",
                "name": person["name"],
                "email": email,
                "time_zone": person.get("timezone") or "UTC",
                "color": "green",
                "role": account_role(roles.get(email)),
                "avatar_url": "https://pd-static-assets.pagerduty.com/users/blank-avatar.png",
                "description": None,
                "invitation_sent": False,
                "job_title": person.get("role") or "",
                "teams": [self.team_ref(person["team_key"])] if person.get("team_key") else [],
                "contact_methods": [],
                "notification_rules": [],
            }
            self.users.append(user)
            self.user_by_email[email] = user
        self.shifts = sorted(
            world.rows("oncall_shift"),
            key=lambda s: (ts(s["start_at"]) or "", int(s.get("level") or 1), str(s["person"])),
        )
        schedule_team: dict[str, str | None] = {}
        for shift in self.shifts:
            schedule_team.setdefault(str(shift["schedule"]), shift.get("team_key"))
        self.schedule_team = schedule_team
        self.schedule_ids = {name: pd_id("schedule", name) for name in schedule_team}
        levels: dict[str | None, dict[int, set[str]]] = defaultdict(lambda: defaultdict(set))
        for shift in self.shifts:
            levels[shift.get("team_key")][int(shift.get("level") or 1)].add(str(shift["schedule"]))
        self.policies: list[dict[str, Any]] = []
        self.policy_by_team: dict[str | None, dict[str, Any]] = {}
        for team_key in sorted({*self.teams, *levels}, key=lambda k: str(k)):
            name = f"{self.team_name(team_key)} Escalation Policy"
            policy_id = pd_id("policy", team_key)
            rules = [
                {
                    "id": pd_id("rule", team_key, level),
                    "escalation_delay_in_minutes": 30,
                    "targets": [
                        ref("schedule", self.schedule_ids[s], s, "schedules")
                        for s in sorted(schedules)
                    ],
                }
                for level, schedules in sorted(levels.get(team_key, {}).items())
            ]
            policy: dict[str, Any] = {
                "id": policy_id,
                "type": "escalation_policy",
                "summary": name,
                "self": f"{API}/escalation_policies/{policy_id}",
                "html_url": f"{WEB}/escalation_policies/{policy_id}",
                "name": name,
                "num_loops": 0,
                "on_call_handoff_notifications": "if_has_services",
                "escalation_rules": rules,
                "services": [],
                "teams": [self.team_ref(team_key)] if team_key else [],
            }
            self.policies.append(policy)
            self.policy_by_team[team_key] = policy
        self.services: list[dict[str, Any]] = []
        self.service_by_name: dict[str, dict[str, Any]] = {}
        for row in world.rows("service"):
            service_id = str(row["source_id"])
            owner = self.policy_by_team.get(row.get("team_key"))
            service = {
                "id": service_id,
                "type": "service",
                "summary": row["name"],
                "self": f"{API}/services/{service_id}",
                "html_url": f"{WEB}/service-directory/{service_id}",
                "name": row["name"],
                "description": row.get("description") or "",
                "auto_resolve_timeout": 14400,
                "acknowledgement_timeout": 600,
                "created_at": "2024-01-01T00:00:00Z",
                "status": "active",
                "alert_creation": "create_alerts_and_incidents",
                "escalation_policy": ref(
                    "escalation_policy", owner["id"], owner["name"], "escalation_policies"
                )
                if owner
                else ref(
                    "escalation_policy", pd_id("policy", None), "Default", "escalation_policies"
                ),
                "teams": [self.team_ref(row["team_key"])] if row.get("team_key") else [],
                "integrations": [],
            }
            self.services.append(service)
            self.service_by_name[str(row["name"])] = service
            if owner:
                owner["services"].append(ref("service", service_id, row["name"], "services"))
        events: dict[str, list[Row]] = defaultdict(list)
        for event in world.rows("incident_event"):
            events[str(event["incident_key"])].append(event)
        self.incidents: list[dict[str, Any]] = []
        self.log_entries: dict[str, list[dict[str, Any]]] = {}
        for row in sorted(
            world.rows("incident"), key=lambda r: (ts(r["triggered_at"]) or "", str(r["source_id"]))
        ):
            incident, entries = self.incident(
                row, sorted(events.get(str(row["key"]), []), key=lambda e: ts(e["at"]) or "")
            )
            self.incidents.append(incident)
            self.log_entries[incident["id"]] = entries

    def team_name(self, key: str | None) -> str:
        """The PagerDuty team name of a world team key."""
        team = self.teams.get(str(key))
        return str(team["name"]) if team and team.get("name") else str(key)

    def team_ref(self, key: str) -> dict[str, Any]:
        """A team reference for a world team key."""
        return ref("team", pd_id("team", key), self.team_name(key), "teams")

    def user_ref(self, who: str | None) -> dict[str, Any] | None:
        """A user reference for an email (None when not a PagerDuty user)."""
        user = self.user_by_email.get(str(who or "").lower())
        if user is None:
            return None
        return ref("user", user["id"], user["name"], "users")

    def incident(
        self, row: Mapping[str, Any], events: list[Row]
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """One world incident → (incident object, its log entries)."""
        incident_id = str(row["source_id"])
        number = incident_number(str(row["key"]), incident_id)
        status = str(row["status"])
        service = self.service_by_name.get(str(row.get("service")))
        service_ref = (
            ref("service", service["id"], service["name"], "services")
            if service
            else ref(
                "service",
                pd_id("service", row.get("service")),
                str(row.get("service") or "unknown"),
                "services",
            )
        )
        policy = self.policy_by_team.get(row.get("team_key"))
        incident_ref = ref("incident", incident_id, f"[#{number}] {row['title']}", "incidents")
        assignee = self.user_ref(row.get("assignee"))
        entries: list[dict[str, Any]] = []
        for event in events:
            kind = str(event["kind"])
            agent = self.user_ref(event.get("actor"))
            if agent is None:
                agent = dict(service_ref)
            entry: dict[str, Any] = {
                "id": str(event["source_id"]),
                "type": f"{KIND_TYPES.get(kind, kind)}_log_entry",
                "summary": event.get("summary") or kind,
                "self": f"{API}/log_entries/{event['source_id']}",
                "html_url": f"{WEB}/incidents/{incident_id}/log_entries/{event['source_id']}",
                "created_at": ts(event["at"]),
                "agent": agent,
                "channel": {
                    "type": "note"
                    if kind == "note"
                    else ("api" if agent["type"] == "service_reference" else "website")
                },
                "service": service_ref,
                "incident": incident_ref,
                "teams": [self.team_ref(row["team_key"])] if row.get("team_key") else [],
                "contexts": [],
                "event_details": {"description": str(row["title"])},
            }
            if kind == "note":
                entry["note"] = event.get("summary") or ""
            if kind == "assign" and assignee:
                entry["assignees"] = [assignee]
            if kind == "acknowledge":
                entry["acknowledgement_timeout"] = 1800
            entries.append(entry)
        url = row.get("postmortem_url")
        if url and not any(url in str(e.get("summary") or "") for e in events):
            at = row.get("resolved_at") or row["triggered_at"]
            entries.append(
                {
                    "id": pd_id("postmortem", incident_id, prefix="R"),
                    "type": "annotate_log_entry",
                    "summary": "Note added",
                    "created_at": ts(at),
                    "agent": assignee or dict(service_ref),
                    "channel": {"type": "note"},
                    "note": f"Postmortem: {url}",
                    "service": service_ref,
                    "incident": incident_ref,
                    "teams": [],
                    "contexts": [],
                }
            )
        times = [
            ts(row["triggered_at"]),
            ts(row.get("acknowledged_at")),
            ts(row.get("resolved_at")),
        ]
        times += [e["created_at"] for e in entries]
        updated = max(t for t in times if t)
        last_change = max(t for t in times[:3] if t)
        urgency = row.get("urgency") or "high"
        severity = str(row.get("severity") or "")
        priority_name = "P" + severity[-1] if severity[-1:].isdigit() else "P3"
        incident: dict[str, Any] = {
            "id": incident_id,
            "type": "incident",
            "summary": f"[#{number}] {row['title']}",
            "self": f"{API}/incidents/{incident_id}",
            "html_url": row.get("url") or f"{WEB}/incidents/{incident_id}",
            "incident_number": number,
            "title": row["title"],
            "created_at": ts(row["triggered_at"]),
            "updated_at": updated,
            "status": status,
            "incident_key": pd_id("dedup", incident_id, prefix="k").lower(),
            "service": service_ref,
            "assignments": [{"at": ts(row["triggered_at"]), "assignee": assignee}]
            if assignee and status != "resolved"
            else [],
            "assigned_via": "escalation_policy",
            "last_status_change_at": last_change,
            "first_trigger_log_entry": {
                "id": entries[0]["id"] if entries else pd_id("trigger", incident_id, prefix="R"),
                "type": "trigger_log_entry_reference",
                "summary": "Triggered",
                "self": f"{API}/log_entries/{entries[0]['id'] if entries else 'none'}",
                "html_url": None,
            },
            "alert_counts": {
                "all": 1,
                "triggered": 0 if status == "resolved" else 1,
                "resolved": 1 if status == "resolved" else 0,
            },
            "is_mergeable": True,
            "escalation_policy": ref(
                "escalation_policy", policy["id"], policy["name"], "escalation_policies"
            )
            if policy
            else ref("escalation_policy", pd_id("policy", None), "Default", "escalation_policies"),
            "teams": [self.team_ref(row["team_key"])] if row.get("team_key") else [],
            "pending_actions": [],
            "acknowledgements": [],
            "priority": {
                "id": pd_id("priority", priority_name),
                "type": "priority",
                "summary": priority_name,
                "self": f"{API}/priorities/{pd_id('priority', priority_name)}",
                "html_url": None,
                "name": priority_name,
                "description": f"Severity {priority_name[1:]}",
            },
            "urgency": urgency,
        }
        if status == "acknowledged" and row.get("acknowledged_at"):
            acker = self.user_ref(row.get("assignee")) or dict(service_ref)
            incident["acknowledgements"] = [
                {"at": ts(row["acknowledged_at"]), "acknowledger": acker}
            ]
        if status == "resolved":
            incident["resolved_at"] = ts(row.get("resolved_at"))
        return incident, entries

    def oncall(self, shift: Mapping[str, Any]) -> dict[str, Any]:
        """One world on-call shift → one PagerDuty on-call entry."""
        policy = self.policy_by_team.get(shift.get("team_key"))
        schedule = str(shift["schedule"])
        user = self.user_ref(shift["person"]) or ref(
            "user", pd_id("user", shift["person"]), str(shift["person"]), "users"
        )
        return {
            "escalation_policy": ref(
                "escalation_policy", policy["id"], policy["name"], "escalation_policies"
            )
            if policy
            else ref("escalation_policy", pd_id("policy", None), "Default", "escalation_policies"),
            "user": user,
            "schedule": ref("schedule", self.schedule_ids[schedule], schedule, "schedules"),
            "escalation_level": int(shift.get("level") or 1),
            "start": ts(shift["start_at"]),
            "end": ts(shift["end_at"]),
        }


def paged(request: Request, key: str, items: list[Any]) -> dict[str, Any]:
    """PagerDuty classic offset pagination."""
    try:
        limit = min(int(request.query_params.get("limit", "25")), 100)
        offset = int(request.query_params.get("offset", "0"))
    except ValueError as exc:
        raise HTTPException(status_code=400, detail="limit and offset must be integers") from exc
    chunk = items[offset : offset + limit]
    total = len(items) if request.query_params.get("total") == "true" else None
    return {
        key: chunk,
        "limit": limit,
        "offset": offset,
        "more": offset + len(chunk) < len(items),
        "total": total,
    }


def overlaps(start: Any, end: Any, since: datetime | None, until: datetime | None) -> bool:
    """Whether [start, end) overlaps [since, until)."""
    s, e = parse_time(start), parse_time(end)
    if s is None or e is None:
        return True
    return (until is None or s < until) and (since is None or e > since)


def make_app(world: World, *, credentials: dict[str, str] | None = None) -> FastAPI:
    """The PagerDuty simulator serving `world` (demo token unless `credentials['token']`)."""
    creds = credentials or {"token": DEMO_TOKEN}
    app, _state = new_simulator("pagerduty", world, credentials=creds)
    pd = PagerDutyWorld(world)
    incidents_by_id = {i["id"]: i for i in pd.incidents}
    schedules_by_id = {sid: name for name, sid in pd.schedule_ids.items()}

    def authorized(request: Request) -> None:
        header = request.headers.get("authorization", "")
        token = header.removeprefix("Token token=") if header.startswith("Token token=") else None
        require(same(token, creds.get("token")))

    @app.get("/services")
    def services(request: Request) -> dict[str, Any]:
        authorized(request)
        return paged(request, "services", pd.services)

    @app.get("/users")
    def users(request: Request) -> dict[str, Any]:
        authorized(request)
        return paged(request, "users", pd.users)

    @app.get("/escalation_policies")
    def policies(request: Request) -> dict[str, Any]:
        authorized(request)
        return paged(request, "escalation_policies", pd.policies)

    @app.get("/incidents")
    def incidents(request: Request) -> dict[str, Any]:
        authorized(request)
        params = request.query_params
        selected = pd.incidents
        if params.get("date_range") != "all":
            until = parse_time(params.get("until")) or datetime.now(UTC)
            since = parse_time(params.get("since")) or until - timedelta(days=30)
            if until - since > timedelta(days=183):
                raise HTTPException(status_code=400, detail="Maximum range is 6 months")
            selected = [i for i in selected if since <= parse_time(i["created_at"]) < until]  # type: ignore[operator]
        statuses = params.getlist("statuses[]")
        if statuses:
            selected = [i for i in selected if i["status"] in statuses]
        if params.get("sort_by", "").endswith(":desc"):
            selected = list(reversed(selected))
        return paged(request, "incidents", selected)

    @app.get("/incidents/{incident_id}/log_entries")
    def log_entries(incident_id: str, request: Request) -> dict[str, Any]:
        authorized(request)
        if incident_id not in incidents_by_id:
            raise HTTPException(status_code=404, detail="Not Found")
        return paged(request, "log_entries", pd.log_entries[incident_id])

    @app.get("/oncalls")
    def oncalls(request: Request) -> dict[str, Any]:
        authorized(request)
        now = datetime.now(UTC)
        since = parse_time(request.query_params.get("since")) or now
        until = parse_time(request.query_params.get("until")) or now
        selected = [
            pd.oncall(s) for s in pd.shifts if overlaps(s["start_at"], s["end_at"], since, until)
        ]
        return paged(request, "oncalls", selected)

    @app.get("/schedules/{schedule_id}")
    def schedule(schedule_id: str, request: Request) -> dict[str, Any]:
        authorized(request)
        name = schedules_by_id.get(schedule_id)
        if name is None:
            raise HTTPException(status_code=404, detail="Not Found")
        since = parse_time(request.query_params.get("since"))
        until = parse_time(request.query_params.get("until"))
        shifts = [
            s
            for s in pd.shifts
            if str(s["schedule"]) == name and overlaps(s["start_at"], s["end_at"], since, until)
        ]

        def entry(shift: Mapping[str, Any]) -> dict[str, Any]:
            return {
                "user": pd.oncall(shift)["user"],
                "start": ts(shift["start_at"]),
                "end": ts(shift["end_at"]),
            }

        team_key = pd.schedule_team.get(name)
        policy = pd.policy_by_team.get(team_key)
        user_refs = {pd.oncall(s)["user"]["id"]: pd.oncall(s)["user"] for s in shifts}
        body = {
            "id": schedule_id,
            "type": "schedule",
            "summary": name,
            "self": f"{API}/schedules/{schedule_id}",
            "html_url": f"{WEB}/schedules/{schedule_id}",
            "name": name,
            "time_zone": "UTC",
            "description": f"On-call rotation {name}",
            "escalation_policies": [
                ref("escalation_policy", policy["id"], policy["name"], "escalation_policies")
            ]
            if policy
            else [],
            "users": list(user_refs.values()),
            "teams": [pd.team_ref(team_key)] if team_key else [],
            "schedule_layers": [],
            "final_schedule": {
                "name": "Final Schedule",
                "rendered_schedule_entries": [entry(s) for s in shifts],
            },
            "overrides_subschedule": {
                "name": "Overrides",
                "rendered_schedule_entries": [entry(s) for s in shifts if s.get("is_override")],
            },
        }
        return {"schedule": body}

    return app


__all__ = ["DEMO_TOKEN", "PagerDutyWorld", "make_app", "pd_id", "team_keys"]
