"""PagerDuty REST v2 payloads → incident, incident_event, oncall_shift, service, person and
access_grant rows. The incident helpers here (severity from a priority, team keys, postmortem
links, timeline kinds) are shared with the Opsgenie connector: one design, two sources.

Choices
- Incident key: `<prefix><incident_number>` (prefix "INC-" by default), the number people quote
  in chat and postmortems; `source_id` stays PagerDuty's incident id.
- Severity: the priority's name, `P1`…`P5` (or `SEV1`, `Sev-2` …) → `SEV-1`…`SEV-5`.
- Team key: the vendor team name looked up in the configured `team_keys` map, else the name.
- Assignee: the current assignment; for resolved incidents (PagerDuty empties `assignments`)
  the last assignee in the log entries, else the acknowledger.
- Postmortem: the first URL in a note (annotate log entry) that mentions a postmortem.
- Timeline kinds: `<kind>_log_entry` → kind, with `annotate` written as `note`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from cto_assistant.connectors.payload import Reader

PRIVILEGED_ROLES = frozenset({"admin", "owner"})
_SEVERITY = re.compile(r"^(?:p|sev)[\s_-]*([1-5])$", re.I)
_URL = re.compile(r"https?://\S+")
_POSTMORTEM = re.compile(r"post[\s-]?mortem|postmortem|post-incident review|retro", re.I)
LOG_KINDS = {"annotate": "note"}


def severity_from_priority(name: str | None) -> str | None:
    """'P2' / 'SEV2' / 'Sev-2' → 'SEV-2'; other names → None."""
    if not name:
        return None
    match = _SEVERITY.match(name.strip())
    return f"SEV-{match.group(1)}" if match else None


def team_key(name: str | None, team_keys: Mapping[str, str]) -> str | None:
    """Our team key for a vendor team name (configured map first, else the name itself)."""
    if not name:
        return None
    return team_keys.get(name, name)


def postmortem_url(texts: list[str]) -> str | None:
    """The first URL in a text that talks about a postmortem."""
    for text in texts:
        if text and _POSTMORTEM.search(text):
            found = _URL.search(text)
            if found:
                return found.group(0).rstrip(").,;")
    return None


def incident_number_key(number: Any, prefix: str) -> str:
    """The incident key people use: prefix + number (e.g. INC-123)."""
    return f"{prefix}{number}"


def incident(
    item: Any,
    *,
    source: str,
    key_prefix: str,
    team_keys: Mapping[str, str],
    emails: Mapping[str, str],
    log_entries: list[dict[str, Any]],
    stream: str = "incidents",
) -> dict[str, Any]:
    """One PagerDuty incident (with its log entries) → one `incident` row."""
    r = Reader(item, source=source, stream=stream, what="incident")
    incident_id = str(r.need("id"))
    status = str(r.need("status"))
    triggered = r.need_time("created_at")
    teams = [t for t in r.get("teams", []) if isinstance(t, dict)]
    team_name = (teams[0].get("summary") or teams[0].get("name")) if teams else None
    acknowledged_at: datetime | None = None
    acknowledger = None
    for ack in r.get("acknowledgements", []):
        at = Reader(ack, source=source, stream=stream, what="acknowledgement").need_time("at")
        if acknowledged_at is None or at < acknowledged_at:
            acknowledged_at = at
            acknowledger = (ack.get("acknowledger") or {}).get("id")
    for entry in log_entries:
        if entry.get("type") == "acknowledge_log_entry":
            at = Reader(entry, source=source, stream=stream, what="log entry").need_time(
                "created_at"
            )
            if acknowledged_at is None or at < acknowledged_at:
                acknowledged_at = at
                acknowledger = (entry.get("agent") or {}).get("id")
    assignee_id = None
    for assignment in r.get("assignments", []):
        assignee_id = (assignment.get("assignee") or {}).get("id") or assignee_id
    if assignee_id is None:
        for entry in log_entries:
            if entry.get("type") == "assign_log_entry" and entry.get("assignees"):
                assignee_id = entry["assignees"][-1].get("id")
    if assignee_id is None:
        assignee_id = acknowledger
    notes = [
        str(entry.get("note") or (entry.get("channel") or {}).get("summary") or "")
        for entry in log_entries
        if entry.get("type") == "annotate_log_entry"
    ]
    priority = r.get("priority.name") or r.get("priority.summary")
    return {
        "source": source,
        "source_id": incident_id,
        "key": incident_number_key(r.need("incident_number"), key_prefix),
        "service": r.get("service.summary") or r.get("service.name"),
        "team_key": team_key(team_name, team_keys),
        "title": str(r.get("title") or r.get("summary") or ""),
        "severity": severity_from_priority(priority),
        "urgency": r.get("urgency"),
        "status": status,
        "triggered_at": triggered,
        "acknowledged_at": acknowledged_at if status != "triggered" else None,
        "resolved_at": r.time("resolved_at") if status == "resolved" else None,
        "assignee": emails.get(assignee_id, assignee_id) if assignee_id else None,
        "postmortem_url": postmortem_url(notes),
        "url": r.get("html_url"),
    }


def incident_event(
    entry: Any,
    *,
    source: str,
    incident_key: str,
    emails: Mapping[str, str],
    stream: str = "incidents",
) -> dict[str, Any]:
    """One log entry → one `incident_event` row."""
    r = Reader(entry, source=source, stream=stream, what="log entry")
    entry_type = str(r.need("type"))
    kind = entry_type.removesuffix("_log_entry").removesuffix("_reference")
    agent = r.get("agent") or {}
    actor = None
    if isinstance(agent, dict) and agent.get("id"):
        if agent.get("type", "").startswith("user"):
            actor = emails.get(agent["id"], agent.get("summary") or agent["id"])
        else:
            actor = agent.get("summary") or agent["id"]
    summary = r.get("note") or r.get("channel.summary") or r.get("summary")
    return {
        "source": source,
        "source_id": str(r.need("id")),
        "incident_key": incident_key,
        "at": r.need_time("created_at"),
        "kind": LOG_KINDS.get(kind, kind),
        "actor": actor,
        "summary": summary,
    }


def service(
    item: Any, *, source: str, team_keys: Mapping[str, str], stream: str = "services"
) -> dict[str, Any]:
    """One PagerDuty service → one `service` row (what PagerDuty knows of it)."""
    r = Reader(item, source=source, stream=stream, what="service")
    teams = [t for t in r.get("teams", []) if isinstance(t, dict)]
    team_name = (teams[0].get("summary") or teams[0].get("name")) if teams else None
    return {
        "source": source,
        "source_id": str(r.need("id")),
        "name": str(r.need("name")),
        "team_key": team_key(team_name, team_keys),
        "description": r.get("description"),
    }


def person(
    item: Any, *, source: str, team_keys: Mapping[str, str], stream: str = "users"
) -> dict[str, Any]:
    """One PagerDuty user → one `person` row keyed on the user id."""
    r = Reader(item, source=source, stream=stream, what="user")
    teams = [t for t in r.get("teams", []) if isinstance(t, dict)]
    team_name = (teams[0].get("summary") or teams[0].get("name")) if teams else None
    return {
        "source": source,
        "source_id": str(r.need("id")),
        "name": str(r.need("name")),
        "email": str(r.need("email")).lower(),
        "team_key": team_key(team_name, team_keys),
        "role": r.get("job_title"),
        "pagerduty_id": str(r.need("id")),
        "timezone": r.get("time_zone"),
    }


def access_grant(
    item: Any, *, source: str, system: str = "pagerduty", stream: str = "users"
) -> dict[str, Any]:
    """One PagerDuty user → one `access_grant` row (principal: the user id; privileged: admin, owner)."""
    r = Reader(item, source=source, stream=stream, what="user")
    role = str(r.get("role") or "user")
    email = str(r.need("email")).lower()
    user_id = str(r.need("id"))
    return {
        "source": source,
        "source_id": f"{system}:{user_id}",
        "system": system,
        "principal": user_id,
        "principal_type": "user",
        "person_email": email,
        "role": role,
        "privileged": role in PRIVILEGED_ROLES,
        "mfa": None,
    }


def oncall_shift(
    item: Any,
    *,
    source: str,
    emails: Mapping[str, str],
    policy_teams: Mapping[str, str | None],
    overrides: Mapping[str, list[tuple[str, datetime, datetime]]],
    stream: str = "oncalls",
) -> dict[str, Any] | None:
    """One on-call entry → one `oncall_shift` row (None for permanent, unscheduled on-calls)."""
    r = Reader(item, source=source, stream=stream, what="oncall")
    start = r.time("start")
    end = r.time("end")
    if start is None or end is None:
        return None
    user_id = str(r.need("user.id"))
    policy_id = str(r.need("escalation_policy.id"))
    schedule_id = r.get("schedule.id")
    schedule_name = r.get("schedule.summary") or r.get("escalation_policy.summary") or policy_id
    level = int(r.need("escalation_level"))
    is_override = any(
        who == user_id and o_start < end and start < o_end
        for who, o_start, o_end in overrides.get(str(schedule_id), [])
    )
    return {
        "source": source,
        "source_id": f"{schedule_id or policy_id}:{policy_id}:{level}:{user_id}:{start.isoformat()}",
        "schedule": str(schedule_name),
        "team_key": policy_teams.get(policy_id),
        "person": emails.get(user_id, r.get("user.summary") or user_id),
        "level": level,
        "start_at": start,
        "end_at": end,
        "is_override": is_override,
    }
