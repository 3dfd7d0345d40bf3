"""Opsgenie payloads → the same incident, incident_event, oncall_shift, person and access_grant
rows as PagerDuty (shared helpers from `connectors.pagerduty.mapping`: one design, two sources).

Choices
- Pages are Opsgenie *alerts* (`/v2/alerts`): they carry acknowledgement and closing, which
  Opsgenie's incident objects lack. Key: `<prefix><tinyId>`; status closed → resolved, open and
  acknowledged → acknowledged, else triggered; `report.ackTime`/`closeTime` are milliseconds
  after `createdAt`; assignee is the `owner`; severity from `priority` (P1…P5 → SEV-1…SEV-5).
- Service and team come from alert tags `service:<name>` and `team:<name>` (team names go
  through the configured `team_keys` map).
- Alert logs have no id: an event is keyed `<alert id>:<offset>`. Its kind is the log `type`
  when it names an action, else read from the log text (created, acknowledged, assigned,
  closed …); the text is the summary.
- On-call: periods of a schedule's final timeline; override periods are flagged; the level is
  read from the schedule name (secondary → 2, tertiary → 3, else 1).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from cto_assistant.connectors.pagerduty.mapping import (
    PRIVILEGED_ROLES,
    incident_number_key,
    postmortem_url,
    severity_from_priority,
    team_key,
)
from cto_assistant.connectors.payload import Reader

ACTION_KINDS = {
    "create": "trigger",
    "acknowledge": "acknowledge",
    "unacknowledge": "unacknowledge",
    "assignownership": "assign",
    "addnote": "note",
    "note": "note",
    "escalate": "escalate",
    "close": "resolve",
}
TEXT_KINDS = (
    ("acknowledged", "acknowledge"),
    ("assigned", "assign"),
    ("closed", "resolve"),
    ("created", "trigger"),
    ("escalated", "escalate"),
    ("note", "note"),
)
LEVEL_WORDS = (("tertiary", 3), ("secondary", 2))


def tag_value(tags: list[Any], name: str) -> str | None:
    """The value of a `name:value` tag."""
    prefix = f"{name}:"
    for tag in tags:
        if isinstance(tag, str) and tag.startswith(prefix):
            return tag[len(prefix) :]
    return None


def _after(r: Reader, start: datetime, path: str) -> datetime | None:
    """`start` plus the milliseconds at `path` (None when absent)."""
    millis = r.number(path)
    if millis is None:
        return None
    try:
        return start + timedelta(milliseconds=int(millis))
    except OverflowError:
        raise r.drift(path, f"is out of range: {millis}") from None


def incident(
    item: Any,
    *,
    source: str,
    key_prefix: str,
    team_keys: Mapping[str, str],
    notes: list[str],
    stream: str = "alerts",
) -> dict[str, Any]:
    """One Opsgenie alert → one `incident` row."""
    r = Reader(item, source=source, stream=stream, what="alert")
    created = r.need_time("createdAt")
    status_raw = str(r.need("status"))
    acknowledged = r.get("acknowledged") is True
    if status_raw == "closed":
        status = "resolved"
    elif acknowledged:
        status = "acknowledged"
    else:
        status = "triggered"
    tags = r.items("tags")
    return {
        "source": source,
        "source_id": str(r.need("id")),
        "key": incident_number_key(r.need("tinyId"), key_prefix),
        "service": tag_value(tags, "service"),
        "team_key": team_key(tag_value(tags, "team"), team_keys, source=source),
        "title": str(r.get("message") or ""),
        "severity": severity_from_priority(r.text("priority"), source=source),
        "urgency": None,
        "status": status,
        "triggered_at": created,
        "acknowledged_at": _after(r, created, "report.ackTime") if status != "triggered" else None,
        "resolved_at": _after(r, created, "report.closeTime") if status == "resolved" else None,
        "assignee": r.get("owner") or r.get("report.acknowledgedBy"),
        "postmortem_url": postmortem_url(notes, source=source),
    }


def event_kind(log_type: str, text: str) -> str:
    """An alert log's kind: from its action type, else from its wording."""
    kind = ACTION_KINDS.get(log_type.replace("_", "").lower())
    if kind:
        return kind
    lowered = text.lower()
    for word, found in TEXT_KINDS:
        if word in lowered:
            return found
    return log_type or "log"


def incident_event(
    entry: Any, *, source: str, alert_id: str, incident_key: str, stream: str = "alerts"
) -> dict[str, Any]:
    """One alert log → one `incident_event` row."""
    r = Reader(entry, source=source, stream=stream, what="alert log")
    text = str(r.get("log") or "")
    return {
        "source": source,
        "source_id": f"{alert_id}:{r.need('offset')}",
        "incident_key": incident_key,
        "at": r.need_time("createdAt"),
        "kind": event_kind(str(r.get("type") or ""), text),
        "actor": r.get("owner") or None,
        "summary": text,
    }


def person(item: Any, *, source: str, stream: str = "users") -> dict[str, Any]:
    """One Opsgenie user → one `person` row."""
    r = Reader(item, source=source, stream=stream, what="user")
    return {
        "source": source,
        "source_id": str(r.need("id")),
        "name": str(r.get("fullName") or r.need("username")),
        "email": str(r.need("username")).lower(),
        "active": r.get("blocked") is not True,
        "timezone": r.get("timeZone"),
    }


def access_grant(item: Any, *, source: str, stream: str = "users") -> dict[str, Any]:
    """One Opsgenie user → one `access_grant` row (privileged for owner and admin)."""
    r = Reader(item, source=source, stream=stream, what="user")
    email = str(r.need("username")).lower()
    role = str(r.get("role.name") or r.get("role.id") or "user")
    return {
        "source": source,
        "source_id": f"opsgenie:{r.need('id')}",
        "system": "opsgenie",
        "principal": email,
        "principal_type": "user",
        "person_email": email,
        "role": role,
        "privileged": role.lower() in PRIVILEGED_ROLES,
        "mfa": None,
    }


def schedule_level(name: str) -> int:
    """Escalation level from a schedule's name (secondary → 2, tertiary → 3, else 1)."""
    lowered = name.lower()
    return next((level for word, level in LEVEL_WORDS if word in lowered), 1)


def oncall_shifts(
    body: Any, *, source: str, team: str | None, stream: str = "oncalls"
) -> list[dict[str, Any]]:
    """A schedule timeline response → `oncall_shift` rows of its final timeline."""
    r = Reader(body, source=source, stream=stream, what="timeline response")
    schedule_id = str(r.need("data._parent.id"))
    name = str(r.need("data._parent.name"))
    rows = []
    for rotation in r.get("data.finalTimeline.rotations", []):
        for period in (rotation or {}).get("periods") or []:
            pr = Reader(period, source=source, stream=stream, what="timeline period")
            if pr.get("recipient.type", "user") != "user":
                continue
            start = pr.need_time("startDate")
            person = str(pr.need("recipient.name")).lower()
            rows.append(
                {
                    "source": source,
                    "source_id": f"{schedule_id}:{person}:{start.isoformat()}",
                    "schedule": name,
                    "team_key": team,
                    "person": person,
                    "level": schedule_level(name),
                    "start_at": start,
                    "end_at": pr.need_time("endDate"),
                    "is_override": pr.get("type") == "override",
                }
            )
    return rows
