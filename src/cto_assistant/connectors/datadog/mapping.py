"""Datadog payloads (API v1 SLOs, SLO history, monitors, hosts; v2 incidents, users) → rows.

SLO history → `sli_point`: metric SLOs return `series` with `times` (epoch ms) and per-time
`numerator` (good events) and `denominator` (total events); each time becomes one point with
good/total as given. Monitor and time-slice SLOs return only `overall.sli_value` (a percentage;
`uptime` on older payloads): one point at the window's end with total = the window's length in
seconds and good = total x sli_value / 100 (good seconds of uptime), so good/total is the SLI and
error budgets compute the same way for every SLO type. `sli_value: null` (no data) gives no point.

Users → `access_grant` (system "datadog"): principal is the user's handle (the login, an e-mail
for people), role the names of the user's roles joined by ", ", privileged when a role name
contains "admin" (Datadog Admin Role, custom admin roles) or is configured as privileged, `mfa`
from `mfa_enabled` (None when the payload does not say), last use from `last_login_time`,
granted from `created_at`; service accounts are principal_type "service". Disabled users hold no
access and give no row.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cto_assistant.connectors.payload import LIST, Reader, dig
from cto_assistant.errors import SchemaDriftError

TIMEFRAME_DAYS = {"7d": 7, "30d": 30, "90d": 90}
STATE_TO_STATUS = {
    "active": "triggered",
    "stable": "acknowledged",
    "resolved": "resolved",
    "completed": "resolved",
}


def tag_value(tags: list[Any], key: str, *, source: str = "datadog") -> str | None:
    """The value of the first `key:value` tag."""
    prefix = f"{key}:"
    for tag in Reader.of("tags", tags, source=source, stream=None, what="tag list").items("tags"):
        if isinstance(tag, str) and tag.startswith(prefix):
            return tag[len(prefix) :]
    return None


def slo(obj: Any, *, source: str) -> dict[str, Any]:
    """A ServiceLevelObjective → slo row (target as a fraction, window in days)."""
    r = Reader(obj, source=source, stream="slos", what="SLO")
    tags = r.items("tags")
    thresholds = r.need_objects("thresholds", "SLO threshold")
    if not thresholds:
        raise r.drift("thresholds", "is empty, expected at least one threshold")
    timeframe = r.get("timeframe") or thresholds[0].need("timeframe")
    chosen = next((t for t in thresholds if t.get("timeframe") == timeframe), thresholds[0])
    return {
        "source": source,
        "source_id": str(r.need("id")),
        "service": tag_value(tags, "service", source=source),
        "name": r.need("name"),
        "target": round(chosen.need_number("target") / 100.0, 6),
        "window_days": TIMEFRAME_DAYS.get(str(timeframe), 30),
        "sli_type": tag_value(tags, "sli", source=source) or r.need("type"),
        "tags": tags,
    }


def sli_points(body: Any, *, source: str, slo_id: str) -> list[dict[str, Any]]:
    """An SLO history response → sli_point rows (see the module docstring for the rules)."""
    history = Reader(body, source=source, stream="slo_history", what=f"SLO {slo_id} history")
    data = history.need_child("data")
    if data.get("series"):
        return _series_points(data.need_child("series"), slo_id)
    overall = data.child("overall")
    value = overall.number("sli_value" if "sli_value" in overall.obj else "uptime")
    if value is None:
        return []  # Datadog's no-data case: nothing to say about this window
    start, end = int(data.need_number("from_ts")), int(data.need_number("to_ts"))
    total_seconds = float(max(end - start, 1))
    good = total_seconds * value / 100.0
    return [_point(data, "to_ts", slo_id, end * 1000, good, total_seconds)]


def _series_points(series: Reader, slo_id: str) -> list[dict[str, Any]]:
    """One point per time of a metric SLO's series (times with a null count are skipped)."""
    lengths = {
        len(series.need_list(p)) for p in ("times", "numerator.values", "denominator.values")
    }
    if len(lengths) != 1:
        raise series.drift("times", "and the numerator/denominator values differ in length")
    points = []
    for index in range(lengths.pop()):
        good = series.number(f"numerator.values.{index}")
        total = series.number(f"denominator.values.{index}")
        if good is None or total is None:
            continue
        at_ms = int(series.need_number(f"times.{index}"))
        points.append(_point(series, f"times.{index}", slo_id, at_ms, good, total))
    return points


def _point(
    r: Reader, path: str, slo_id: str, at_ms: int, good: float, total: float
) -> dict[str, Any]:
    """One sli_point at epoch milliseconds `at_ms`, read at `path` (out of range → drift)."""
    try:
        at = datetime.fromtimestamp(at_ms / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise r.drift(path, f"is out of range for a timestamp: {at_ms}") from None
    return {
        "source": r.source,
        "source_id": f"{slo_id}:{at_ms}",
        "slo_source_id": slo_id,
        "at": at,
        "good": good,
        "total": total,
    }


def monitor(obj: Any, *, source: str) -> dict[str, Any]:
    """A Monitor → monitor row (overall_state is the state)."""
    r = Reader(obj, source=source, stream="monitors", what="monitor")
    tags = r.items("tags")
    return {
        "source": source,
        "source_id": str(r.need("id")),
        "name": r.need("name"),
        "service": tag_value(tags, "service", source=source),
        "type": r.get("type"),
        "state": r.need("overall_state"),
        "priority": r.get("priority"),
        "state_changed_at": r.time("overall_state_modified"),
        "tags": tags,
    }


def host(obj: Any, *, source: str) -> dict[str, Any]:
    """A host of /api/v1/hosts → host_health row (Datadog reports no memory use here)."""
    r = Reader(obj, source=source, stream="hosts", what="host")
    name = r.get("host_name") or r.need("name")
    tags: list[str] = []
    by_source = r.child("tags_by_source")
    for origin, values in by_source.obj.items():  # origin names may hold dots: not a path
        listed = by_source.expect(str(origin), values, LIST) or []
        tags.extend(str(v) for v in listed if str(v) not in tags)
    host_id = r.get("id") or r.get("aws_id") or name
    up = r.need("up")
    return {
        "source": source,
        "source_id": str(host_id),
        "host": name,
        "service": tag_value(tags, "service", source=source),
        "status": "up" if up else "down",
        "cpu_pct": r.number("metrics.cpu"),
        "mem_pct": None,
        "last_reported_at": r.time("last_reported_time"),
        "tags": tags,
    }


def incident_users(body: Any) -> dict[str, str]:
    """User id → email (or handle) from a response's `included` users."""
    users: dict[str, str] = {}
    included = dig(body, "included")
    for item in included if isinstance(included, list) else []:
        if isinstance(item, dict) and item.get("type") == "users":
            who = dig(item, "attributes.email") or dig(item, "attributes.handle")
            if who:
                users[str(item.get("id"))] = str(who)
    return users


def _first(field: Any) -> str | None:
    if not isinstance(field, dict):
        return None
    value = field.get("value")
    if isinstance(value, list):
        return str(value[0]) if value else None
    return None if value in (None, "") else str(value)


def incident(obj: Any, *, source: str, users: dict[str, str], site: str) -> dict[str, Any]:
    """A v2 incident → incident row (state active/stable/resolved → triggered/acknowledged/resolved)."""
    r = Reader(obj, source=source, stream="incidents", what="incident")
    a = r.need_child("attributes")
    fields = a.child("fields")
    state = (a.text("state") or _first(fields.get("state")) or "active").lower()
    severity = a.get("severity")
    commander = r.get("relationships.commander_user.data.id")
    known = Reader.of("users", users, source=source, stream="incidents", what="incident users")
    by_id = known.child("users").obj
    public_id = a.need("public_id")
    return {
        "source": source,
        "source_id": str(r.need("id")),
        "key": f"IR-{public_id}",
        "service": _first(fields.get("services")),
        "team_key": _first(fields.get("teams")),
        "title": a.need("title"),
        "severity": None if severity in (None, "UNKNOWN") else severity,
        "urgency": None,
        "status": STATE_TO_STATUS.get(state, "triggered"),
        "triggered_at": a.time("detected") or a.need_time("created"),
        "acknowledged_at": None,
        "resolved_at": a.time("resolved"),
        "assignee": str(by_id.get(str(commander), commander)) if commander else None,
        "caused_by_deployment": None,
        "postmortem_url": None,
        "url": f"https://app.{site}/incidents/{public_id}",
    }


def incident_modified(obj: Any, *, source: str) -> datetime | None:
    """When an incident last changed (for the incremental filter)."""
    r = Reader(obj, source=source, stream="incidents")
    return r.time("attributes.modified") or r.time("attributes.created")


# ------------------------------------------------------------------------------- users (v2)

MACHINE_PRINCIPALS = frozenset({"service", "bot", "app"})
"""access_grant.principal_type values a Datadog service account stands for."""


def role_names(body: Any) -> dict[str, str]:
    """Role id → role name from a response's `included` roles (or a /api/v2/roles page)."""
    names: dict[str, str] = {}
    if not isinstance(body, dict):
        return names
    items: list[Any] = []
    for key in ("included", "data"):
        if isinstance(body.get(key), list):
            items.extend(body[key])
    for item in items:
        if isinstance(item, dict) and item.get("type") == "roles":
            name = dig(item, "attributes.name")
            if name:
                names[str(item.get("id"))] = str(name)
    return names


def user_role_ids(obj: Any) -> list[str]:
    """The role ids of a v2 user's `relationships.roles`."""
    roles = dig(obj, "relationships.roles.data")
    if not isinstance(roles, list):
        return []
    return [str(ref["id"]) for ref in roles if isinstance(ref, dict) and ref.get("id")]


def user_is_disabled(obj: Any) -> bool:
    """A disabled user cannot log in: it holds no access."""
    attrs = obj.get("attributes") if isinstance(obj, dict) else None
    if not isinstance(attrs, dict):
        return False
    return bool(attrs.get("disabled")) or str(attrs.get("status") or "").lower() == "disabled"


def _user_time(a: Reader, path: str) -> datetime | None:
    try:
        return a.time(path)
    except (OverflowError, OSError, ValueError) as exc:  # an epoch beyond datetime's range
        raise SchemaDriftError(
            a.source, f"user field '{path}' is out of range", stream=a.stream, field=path
        ) from exc


def access_grant(
    obj: Any,
    *,
    source: str,
    roles: dict[str, str],
    privileged_roles: frozenset[str] = frozenset(),
    system: str = "datadog",
) -> dict[str, Any]:
    """A v2 user → access_grant row (principal: the handle; privileged: an admin role)."""
    r = Reader(obj, source=source, stream="users", what="user")
    a = Reader(r.need("attributes"), source=source, stream="users", what="user attributes")
    principal = str(a.need("handle"))
    email = a.get("email")
    known = roles if isinstance(roles, dict) else {}
    names = [str(known.get(role_id) or role_id) for role_id in user_role_ids(obj)]
    privileged = any("admin" in n.lower() or n in privileged_roles for n in names)
    mfa = a.get("mfa_enabled")  # absent on older payloads: unknown, not "off"
    return {
        "source": source,
        "source_id": f"{system}:{principal}",
        "system": system,
        "principal": principal,
        "principal_type": "service" if a.get("service_account") else "user",
        "person_email": str(email).lower() if email else None,
        "role": ", ".join(names) or None,
        "privileged": privileged,
        "mfa": None if mfa is None else bool(mfa),
        "last_used_at": _user_time(a, "last_login_time"),
        "granted_at": _user_time(a, "created_at"),
        "key_created_at": None,
    }
