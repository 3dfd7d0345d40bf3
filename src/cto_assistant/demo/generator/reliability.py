"""Operations: on-call rotations, incidents with timelines, SLOs with SLI series, monitors, hosts.

Planted storylines:
- exactly one active incident: SEV-2 on checkout-service, triggered ~3 hours before `now` by the
  last production deployment, acknowledged and assigned (primary, then the secondary joins);
- `payments-api` availability burns its error budget fast: the last three hours run at a ~2.5-3%
  error rate against a 99.9% target (burn rate > 14.4 over the last hour); other SLOs are healthy
  apart from checkout-service's moderate burn during its incident;
- on-call: weekly rotations (level 1 primary, level 2 secondary) from the start of history to four
  weeks ahead, plus two overrides.

Rows follow what the vendors serve back: automatic PagerDuty log entries (trigger, escalation
assign) have the incident's service as their actor; a postmortem link is a note on the
incident's timeline ("Postmortem: <url>"); an SLO's tags carry `sli:<type>` as Datadog's do.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from cto_assistant.demo.generator import delivery
from cto_assistant.demo.generator.common import (
    Ctx,
    Person,
    Row,
    Team,
    at,
    hex_id,
    pd_id,
    poisson,
    stable_int,
    stream,
    unit,
)

FAST_BURN_SERVICE = "payments-api"
ROTATION_ANCHOR_HOUR = 9  # handoff on Mondays at 09:00 UTC
_SEVERITY_BY_TIER = {1: "SEV-2", 2: "SEV-3", 3: "SEV-4"}


@dataclass
class _Incident:
    service: str
    team_key: str
    title: str
    severity: str
    triggered: datetime
    acknowledged: datetime | None
    resolved: datetime | None
    assignee: Person
    secondary: Person
    caused_by: str | None
    remedy: str | None


# ----------------------------------------------------------------------------------- on-call


def _rotation(ctx: Ctx, team: Team) -> list[Person]:
    members = [p for p in ctx.org.engineers(team.key) if p.role != "Engineering Manager"]
    members = members or ctx.org.engineers(team.key)
    order = members[:]
    stream(ctx.seed, "oncall", team.key).shuffle(order)
    return order


def _week_start(moment: datetime) -> datetime:
    day = moment.date() - timedelta(days=moment.weekday())
    start = at(day, ROTATION_ANCHOR_HOUR)
    return start if start <= moment else start - timedelta(days=7)


def on_call(ctx: Ctx, team: Team, level: int, moment: datetime) -> Person:
    """Who the regular rotation puts on call for `team` at `moment` (overrides aside)."""
    start = _week_start(moment)
    week = (start.date().toordinal() - 1) // 7
    pool = [p for p in _rotation(ctx, team) if p.active_on(start.date())]
    index = (week + (0 if level == 1 else max(1, len(pool) // 2))) % len(pool)
    return pool[index]


def _overrides(ctx: Ctx) -> list[tuple[str, int, datetime, datetime]]:
    """(team key, level, start, end) of the planted overrides."""
    this_week = _week_start(ctx.now)
    return [
        ("PAY", 1, this_week + timedelta(days=9, hours=0), this_week + timedelta(days=10)),
        ("PLAT", 1, this_week - timedelta(days=12), this_week - timedelta(days=11)),
    ]


def oncall_rows(ctx: Ctx) -> Iterator[Row]:
    """Rows of `oncall_shift`: weekly shifts per team and level, plus overrides."""
    first = _week_start(at(ctx.history_start, 12))
    last = ctx.now + timedelta(days=28)
    for team in ctx.org.teams:
        for level, schedule in ((1, team.pd_primary), (2, team.pd_secondary)):
            start = first
            while start < last:
                person = on_call(ctx, team, level, start)
                yield {
                    "source_id": f"{schedule}:{start.strftime('%Y%m%dT%H%M')}:{level}",
                    "schedule": schedule,
                    "team_key": team.key,
                    "person": person.email,
                    "level": level,
                    "start_at": start,
                    "end_at": start + timedelta(days=7),
                    "is_override": False,
                }
                start += timedelta(days=7)
    for key, level, start, end in _overrides(ctx):
        team = ctx.org.team(key)
        regular = on_call(ctx, team, level, start)
        cover = next(
            p for p in _rotation(ctx, team) if p is not regular and p.active_on(start.date())
        )
        schedule = team.pd_primary if level == 1 else team.pd_secondary
        yield {
            "source_id": f"{schedule}:override:{start.strftime('%Y%m%dT%H%M')}",
            "schedule": schedule,
            "team_key": key,
            "person": cover.email,
            "level": level,
            "start_at": start,
            "end_at": end,
            "is_override": True,
        }


# ---------------------------------------------------------------------------------- incidents


def _incidents(ctx: Ctx) -> list[_Incident]:
    if "incidents" in ctx.cache:
        return ctx.cache["incidents"]
    found: list[_Incident] = []
    now = ctx.now
    rng = stream(ctx.seed, "incidents")
    for failure in delivery.failures(ctx):
        service = ctx.org.service(failure.service)
        team = ctx.org.team(failure.team_key)
        severity = _SEVERITY_BY_TIER[service.tier]
        if service.tier == 1 and rng.random() < 0.2:
            severity = "SEV-1"
        triggered = failure.finished_at + timedelta(minutes=rng.uniform(4, 35))
        acknowledged = triggered + timedelta(minutes=rng.uniform(1.5, 12))
        resolved = None
        if failure.restored_at is not None:
            resolved = max(
                failure.restored_at + timedelta(minutes=rng.uniform(5, 25)),
                acknowledged + timedelta(minutes=5),
            )
        if failure.restored_at is None:
            severity = "SEV-2"
        found.append(
            _Incident(
                service=service.name,
                team_key=team.key,
                title=f"Elevated 5xx on {service.name} after deploy",
                severity=severity,
                triggered=triggered,
                acknowledged=acknowledged,
                resolved=resolved,
                assignee=on_call(ctx, team, 1, triggered),
                secondary=on_call(ctx, team, 2, triggered),
                caused_by=failure.deployment_id,
                remedy=failure.remedy,
            )
        )
    causes = [
        "Database connection pool exhausted",
        "Upstream provider latency",
        "Certificate expiry warning",
        "Queue backlog growing",
        "Disk almost full",
        "Memory leak in worker pods",
        "DNS resolution errors",
        "Third-party API rate limited",
    ]
    span_hours = (ctx.delivery_days - 3) * 24
    mttr = {"elite": 0.7, "high": 3.0, "medium": 14.0}
    for service in ctx.org.services:
        team = ctx.org.team(service.team_key)
        srng = stream(ctx.seed, "incidents", service.name)
        count = poisson(srng, ctx.delivery_days / 30 * (0.35 if service.tier == 1 else 0.15))
        for _ in range(count):
            triggered = ctx.now - timedelta(days=3) - timedelta(hours=srng.uniform(0, span_hours))
            severity = srng.choices(["SEV-2", "SEV-3", "SEV-4"], weights=[1, 4, 4])[0]
            acknowledged = triggered + timedelta(minutes=srng.uniform(1, 25))
            resolved = acknowledged + timedelta(
                hours=srng.lognormvariate(math.log(mttr[team.profile]), 0.6)
            )
            found.append(
                _Incident(
                    service=service.name,
                    team_key=team.key,
                    title=f"{srng.choice(causes)} on {service.name}",
                    severity=severity,
                    triggered=triggered,
                    acknowledged=acknowledged,
                    resolved=min(resolved, now - timedelta(hours=1)),
                    assignee=on_call(ctx, team, 1, triggered),
                    secondary=on_call(ctx, team, 2, triggered),
                    caused_by=None,
                    remedy=None,
                )
            )
    found.sort(key=lambda incident: (incident.triggered, incident.service))
    ctx.cache["incidents"] = found
    return found


def _incident_ids(ctx: Ctx, number: int) -> tuple[str, str]:
    return f"INC-{number}", pd_id(stream(ctx.seed, "incident-id", number))


def _postmortems(incidents: list[_Incident]) -> dict[int, str]:
    """Postmortem URL by incident number: every resolved SEV-1/2 but the latest has one."""
    major = [
        number
        for number, inc in enumerate(incidents, start=1)
        if inc.resolved and inc.severity in ("SEV-1", "SEV-2")
    ]
    return {
        number: f"https://acme.atlassian.net/wiki/spaces/PM/pages/{700000 + number}"
        for number in major[:-1]
    }


def incident_rows(ctx: Ctx) -> Iterator[Row]:
    """Rows of `incident` (source_id: PagerDuty id; key: INC-<incident_number>)."""
    incidents = _incidents(ctx)
    postmortems = _postmortems(incidents)
    for number, incident in enumerate(incidents, start=1):
        key, source_id = _incident_ids(ctx, 1000 + number)
        major = incident.severity in ("SEV-1", "SEV-2")
        postmortem = postmortems.get(number)
        yield {
            "source_id": source_id,
            "key": key,
            "service": incident.service,
            "team_key": incident.team_key,
            "title": incident.title,
            "severity": incident.severity,
            "urgency": "high" if major else "low",
            "status": "resolved" if incident.resolved else "acknowledged",
            "triggered_at": incident.triggered,
            "acknowledged_at": incident.acknowledged,
            "resolved_at": incident.resolved,
            "assignee": incident.assignee.email,
            "caused_by_deployment": incident.caused_by,
            "postmortem_url": postmortem,
            "url": f"https://acme.pagerduty.com/incidents/{source_id}",
        }


def incident_event_rows(ctx: Ctx) -> Iterator[Row]:
    """Rows of `incident_event`: the PagerDuty log entries of every incident."""
    incidents = _incidents(ctx)
    postmortems = _postmortems(incidents)
    for number, incident in enumerate(incidents, start=1):
        key, _ = _incident_ids(ctx, 1000 + number)
        rng = stream(ctx.seed, "incident-log", number)
        events: list[tuple[datetime, str, str | None, str]] = [
            (
                incident.triggered,
                "trigger",
                incident.service,
                f"Triggered by Datadog monitor on {incident.service}",
            ),
            (
                incident.triggered + timedelta(seconds=5),
                "assign",
                incident.service,
                f"Assigned to {incident.assignee.name} (level 1)",
            ),
        ]
        if incident.acknowledged:
            events.append(
                (
                    incident.acknowledged,
                    "acknowledge",
                    incident.assignee.email,
                    f"Acknowledged by {incident.assignee.name}",
                )
            )
            end = incident.resolved or ctx.now
            events.append(
                (
                    incident.acknowledged + (end - incident.acknowledged) * 0.2,
                    "note",
                    incident.assignee.email,
                    "Investigating: error rate and recent deploys",
                )
            )
            if incident.severity in ("SEV-1", "SEV-2"):
                events.append(
                    (
                        incident.acknowledged + (end - incident.acknowledged) * 0.35,
                        "assign",
                        incident.assignee.email,
                        f"Added responder {incident.secondary.name} (level 2)",
                    )
                )
                note = (
                    "Suspect the latest deploy; preparing rollback"
                    if incident.caused_by
                    else "Mitigation in progress"
                )
                events.append(
                    (
                        incident.acknowledged + (end - incident.acknowledged) * 0.6,
                        "note",
                        incident.secondary.email,
                        note,
                    )
                )
        if incident.resolved:
            how = {"rollback": "Rolled back the deploy", "hotfix": "Hotfix deployed"}.get(
                incident.remedy or "", "Mitigated"
            )
            events.append(
                (incident.resolved, "resolve", incident.assignee.email, f"Resolved: {how}")
            )
        if number in postmortems and incident.resolved:
            events.append(
                (
                    max(incident.resolved, min(incident.resolved + timedelta(days=2), ctx.now)),
                    "note",
                    incident.assignee.email,
                    f"Postmortem: {postmortems[number]}",
                )
            )
        for moment, kind, actor, summary in events:
            yield {
                "source_id": pd_id(rng, "R", 13),
                "incident_key": key,
                "at": moment,
                "kind": kind,
                "actor": actor,
                "summary": summary,
            }


# -------------------------------------------------------------------------------- SLOs + SLIs


def _slos(ctx: Ctx) -> list[tuple[str, str, str, float, str]]:
    """(slo id, service, name, target, sli type) for every SLO."""
    found = []
    for service in ctx.org.services:
        if service.tier > 2 or service.name.endswith("-app"):
            continue
        target = 0.999 if service.tier == 1 else 0.995
        slo_id = hex_id(stream(ctx.seed, "slo", service.name, "availability"), 32)
        found.append((slo_id, service.name, f"{service.name} availability", target, "availability"))
        if service.name in ("api-gateway", "payments-api", "checkout-service"):
            slo_id = hex_id(stream(ctx.seed, "slo", service.name, "latency"), 32)
            found.append(
                (slo_id, service.name, f"{service.name} p95 latency < 300ms", 0.99, "latency")
            )
    return found


def slo_rows(ctx: Ctx) -> Iterator[Row]:
    """Rows of `slo` (source_id: the Datadog SLO id)."""
    for slo_id, service, name, target, sli_type in _slos(ctx):
        team = ctx.org.service(service).team_key
        yield {
            "source_id": slo_id,
            "service": service,
            "name": name,
            "target": target,
            "window_days": 30,
            "sli_type": sli_type,
            "tags": [f"service:{service}", f"team:{team}", "env:production", f"sli:{sli_type}"],
        }


def sli_rows(ctx: Ctx) -> Iterator[Row]:
    """Rows of `sli_point`: hourly good/total for 35 days, 5-minute buckets for the last day."""
    now = ctx.now
    fine_from = now - timedelta(hours=24)
    start = now - timedelta(days=35)
    incidents = _incidents(ctx)
    for slo_id, service, _name, target, sli_type in _slos(ctx):
        key = stable_int(ctx.seed, "sli", slo_id)
        rate = 4_000 + 60_000 * unit(key, 1)
        baseline = (1 - target) * (0.15 + 0.3 * unit(key, 2))
        budget = 1 - target
        windows = [
            (
                i.triggered,
                i.resolved or now,
                budget * (5 if i.severity in ("SEV-1", "SEV-2") else 2),
            )
            for i in incidents
            if i.service == service and (i.resolved or now) > start
        ]
        moment = start
        step = 0
        while moment < now:
            width = timedelta(minutes=5) if moment >= fine_from else timedelta(hours=1)
            hour_of_day = moment.hour + moment.minute / 60
            diurnal = 0.55 + 0.45 * math.sin((hour_of_day - 8) / 24 * 2 * math.pi) ** 2
            total = round(
                rate * diurnal * (width / timedelta(hours=1)) * (0.9 + 0.2 * unit(key, 3, step))
            )
            error_rate = baseline * (0.5 + unit(key, 4, step))
            for began, ended, elevated in windows:
                if began < moment + width and ended > moment:
                    error_rate = max(
                        error_rate, elevated if sli_type == "availability" else elevated / 2
                    )
            if service == FAST_BURN_SERVICE and sli_type == "availability":
                hours_before = (now - moment) / timedelta(hours=1)
                if hours_before <= 3:
                    error_rate = 0.025 + 0.01 * (1 - hours_before / 3) * unit(key, 5, step)
            good = total - round(total * error_rate)
            yield {
                "source_id": f"{slo_id}:{int(moment.timestamp()) * 1000}",  # epoch ms
                "slo_source_id": slo_id,
                "at": moment,
                "good": float(good),
                "total": float(total),
            }
            moment += width
            step += 1


# ------------------------------------------------------------------------- monitors + hosts


def monitor_rows(ctx: Ctx) -> Iterator[Row]:
    """Rows of `monitor` (source_id: Datadog monitor id)."""
    now = ctx.now
    number = 0
    alerting = {
        ("payments-api", "5xx"): "Alert",
        ("checkout-service", "5xx"): "Alert",
        ("data-pipeline", "disk"): "Warn",
        ("checkout-service", "latency"): "Warn",
        ("incident-bot", "heartbeat"): "No Data",
    }
    for service in ctx.org.services:
        rng = stream(ctx.seed, "monitors", service.name)
        kinds = [
            ("5xx", "metric alert", f"[{service.name}] High 5xx error rate"),
            ("latency", "metric alert", f"[{service.name}] p95 latency above 300ms"),
        ]
        if not service.name.endswith("-app"):
            kinds += [
                ("cpu", "metric alert", f"[{service.name}] CPU above 85% on hosts"),
                ("disk", "metric alert", f"[{service.name}] Disk space below 10%"),
            ]
        if service.name == "incident-bot":
            kinds.append(("heartbeat", "service check", "[incident-bot] Heartbeat"))
        for kind, monitor_type, name in kinds:
            number += 1
            state = alerting.get((service.name, kind), "OK")
            changed = now - timedelta(hours=rng.uniform(1, 24 * 20))
            if state == "Alert" and service.name == "payments-api":
                changed = now - timedelta(hours=2.6)
            elif state == "Alert":
                changed = now - timedelta(hours=2.9)
            yield {
                "source_id": str(10_000_000 + 37 * number),
                "name": name,
                "service": service.name,
                "type": monitor_type,
                "state": state,
                "priority": service.tier,
                "state_changed_at": changed,
                "tags": [f"service:{service.name}", f"team:{service.team_key}", "env:production"],
            }


def host_rows(ctx: Ctx) -> Iterator[Row]:
    """Rows of `host_health` (source_id: Datadog host id)."""
    now = ctx.now
    zones = ["us-east-1a", "us-east-1b", "us-east-1c"]
    number = 0
    for service in ctx.org.services:
        if service.name.endswith("-app"):
            continue
        rng = stream(ctx.seed, "hosts", service.name)
        count = {1: 4, 2: 3, 3: 2}[service.tier]
        for index in range(count):
            number += 1
            zone = zones[index % len(zones)]
            status = "up"
            reported = now - timedelta(seconds=rng.uniform(5, 90))
            cpu = rng.uniform(15, 60)
            if service.name in ("checkout-service", "payments-api"):
                cpu = rng.uniform(78, 93)
            if service.name == "observability-stack" and index == 0:
                status, reported = "down", now - timedelta(hours=2, minutes=10)
            yield {
                "source_id": str(900_000_000 + 101 * number),
                "host": f"{service.name}-prod-{zone.replace('us-east-', 'use')}-{index + 1:02d}",
                "service": service.name,
                "status": status,
                "cpu_pct": round(cpu, 1),
                "mem_pct": round(rng.uniform(35, 82), 1),
                "last_reported_at": reported,
                "tags": [
                    f"service:{service.name}",
                    f"team:{service.team_key}",
                    "env:production",
                    f"availability-zone:{zone}",
                ],
            }
