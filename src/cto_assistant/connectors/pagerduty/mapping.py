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


def severity_from_priority(name: str | None, *, source: str = "pagerduty") -> str | None:
    """'P2' / 'SEV2' / 'Sev-2' → 'SEV-2'; other names → None."""
    name = Reader.of("priority", name, source=source, stream=None, what="incident").text("priority")
    if not name:
        return None
    match = _SEVERITY.match(name.strip())
    return f"SEV-{match.group(1)}" if match else None


def team_key(
    name: str | None, team_keys: Mapping[str, str], *, source: str = "pagerduty"
) -> str | None:
    """Our team key for a vendor team name (configured map first, else the name itself)."""
    name = Reader.of("team", name, source=source, stream=None, what="team").text("team")
    if not name:
        return None
    return _lookup("team_keys", team_keys, source).get(name, name)


def _lookup(name: str, table: Any, source: str) -> Mapping[str, Any]:
    """A mapping the connector hands the mapper (team keys, e-mails by user id), checked."""
    return Reader.of(name, table, source=source, stream=None, what="lookup").child(name).obj


def postmortem_url(texts: list[str], *, source: str = "pagerduty") -> str | None:
    """The first URL in a text that talks about a postmortem."""
    notes = Reader.of("notes", texts, source=source, stream=None, what="incident")
    for index in range(len(notes.items("notes"))):
        text = notes.text(f"notes.{index}")
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
    log = Reader.of("log_entries", log_entries, source=source, stream=stream, what=r.label)
    entries = log.objects("log_entries", "log entry")
    acknowledged_at, acknowledger = _first_acknowledgement(r, entries)
    assignee_id = _assignee(r, entries)
    if assignee_id is None:
        assignee_id = acknowledger
    notes = [
        entry.text("note") or entry.text("channel.summary") or ""
        for entry in entries
        if entry.get("type") == "annotate_log_entry"
    ]
    priority = r.text("priority.name") or r.text("priority.summary")
    known = _lookup("emails", emails, source)
    return {
        "source": source,
        "source_id": incident_id,
        "key": incident_number_key(r.need("incident_number"), key_prefix),
        "service": r.get("service.summary") or r.get("service.name"),
        "team_key": team_key(_team_name(r), team_keys, source=source),
        "title": str(r.get("title") or r.get("summary") or ""),
        "severity": severity_from_priority(priority, source=source),
        "urgency": r.get("urgency"),
        "status": status,
        "triggered_at": triggered,
        "acknowledged_at": acknowledged_at if status != "triggered" else None,
        "resolved_at": r.time("resolved_at") if status == "resolved" else None,
        "assignee": known.get(assignee_id, assignee_id) if assignee_id else None,
        "postmortem_url": postmortem_url(notes, source=source),
        "url": r.get("html_url"),
    }


def _team_name(r: Reader) -> str | None:
    """The name of the first team an object (incident, service, user) belongs to."""
    teams = r.objects("teams", "team", skip_others=True)
    return (teams[0].text("summary") or teams[0].text("name")) if teams else None


def _first_acknowledgement(r: Reader, entries: list[Reader]) -> tuple[datetime | None, str | None]:
    """When an incident was first acknowledged and by whom (acknowledgements, then the log)."""
    found: list[tuple[datetime, str | None]] = [
        (ack.need_time("at"), ack.text("acknowledger.id"))
        for ack in r.objects("acknowledgements", "acknowledgement")
    ]
    found += [
        (entry.need_time("created_at"), entry.text("agent.id"))
        for entry in entries
        if entry.get("type") == "acknowledge_log_entry"
    ]
    first: tuple[datetime | None, str | None] = (None, None)
    for at, who in found:
        if first[0] is None or at < first[0]:
            first = (at, who)
    return first


def _assignee(r: Reader, entries: list[Reader]) -> str | None:
    """The current assignee, else (resolved incidents) the last one the log names."""
    assignee_id = None
    for assignment in r.objects("assignments", "assignment"):
        assignee_id = assignment.text("assignee.id") or assignee_id
    if assignee_id is None:
        for entry in entries:
            if entry.get("type") != "assign_log_entry":
                continue
            assignees = entry.objects("assignees", "assignee")
            if assignees:
                assignee_id = assignees[-1].text("id")
    return assignee_id


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
    agent = r.child("agent")
    agent_id = agent.get("id")
    actor = None
    if agent_id:
        actor = agent.get("summary") or agent_id
        if (agent.text("type") or "").startswith("user"):
            actor = _lookup("emails", emails, source).get(str(agent_id), actor)
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
    return {
        "source": source,
        "source_id": str(r.need("id")),
        "name": str(r.need("name")),
        "team_key": team_key(_team_name(r), team_keys, source=source),
        "description": r.get("description"),
    }


def person(
    item: Any, *, source: str, team_keys: Mapping[str, str], stream: str = "users"
) -> dict[str, Any]:
    """One PagerDuty user → one `person` row keyed on the user id."""
    r = Reader(item, source=source, stream=stream, what="user")
    return {
        "source": source,
        "source_id": str(r.need("id")),
        "name": str(r.need("name")),
        "email": str(r.need("email")).lower(),
        "team_key": team_key(_team_name(r), team_keys, source=source),
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
    level = r.need_integer("escalation_level")
    windows = _override_windows(overrides, str(schedule_id), source)
    is_override = any(
        who == user_id and o_start < end and start < o_end for who, o_start, o_end in windows
    )
    return {
        "source": source,
        "source_id": f"{schedule_id or policy_id}:{policy_id}:{level}:{user_id}:{start.isoformat()}",
        "schedule": str(schedule_name),
        "team_key": _lookup("policy_teams", policy_teams, source).get(policy_id),
        "person": _lookup("emails", emails, source).get(user_id, r.get("user.summary") or user_id),
        "level": level,
        "start_at": start,
        "end_at": end,
        "is_override": is_override,
    }


def _override_windows(
    overrides: Any, schedule_id: str, source: str
) -> list[tuple[Any, datetime, datetime]]:
    """The (user id, start, end) override windows of one schedule, each checked."""
    table = _lookup("overrides", overrides, source)
    what = f"overrides of schedule {schedule_id}"
    listed = Reader.of("windows", table.get(schedule_id), source=source, stream=None, what=what)
    windows = []
    for index in range(len(listed.items("windows"))):
        path = f"windows.{index}"
        if len(listed.need_list(path)) != 3:
            raise listed.drift(path, "is not a (user, start, end) window")
        start, end = listed.need_time(f"{path}.1"), listed.need_time(f"{path}.2")
        windows.append((listed.get(f"{path}.0"), start, end))
    return windows
