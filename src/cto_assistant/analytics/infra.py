"""Infrastructure health: hosts and monitors per service, and what changed in the last day.

A service's status is the worst of: a host down ("down"), a monitor in Alert ("alert"), a
monitor in Warn or No Data or a host that stopped reporting ("warn"), else "ok". A host is
stale when it has not reported for `stale_after` (15 minutes). Changes are monitor state
changes, hosts going down or silent, and production deployments within `changes_window`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

Status = Literal["down", "alert", "warn", "ok", "no_data"]
_RANK: dict[str, int] = {"down": 0, "alert": 1, "warn": 2, "ok": 3, "no_data": 4}


@dataclass(frozen=True, slots=True)
class HostRecord:
    """A host as stored."""

    host: str
    service: str | None
    status: str
    cpu_pct: float | None
    mem_pct: float | None
    last_reported_at: datetime | None


@dataclass(frozen=True, slots=True)
class MonitorRecord:
    """A monitor as stored."""

    name: str
    service: str | None
    state: str
    priority: int | None
    state_changed_at: datetime | None


@dataclass(frozen=True, slots=True)
class DeploymentRecord:
    """A deployment as stored (only what health needs)."""

    service: str | None
    environment: str | None
    status: str
    finished_at: datetime | None
    sha: str | None


@dataclass(frozen=True, slots=True)
class Change:
    """Something that changed recently."""

    at: datetime
    service: str | None
    kind: Literal["monitor", "host", "deployment"]
    summary: str


@dataclass(frozen=True, slots=True)
class ServiceHealth:
    """Health of one service's hosts and monitors."""

    service: str
    team: str | None
    status: Status
    reason: str
    hosts: int
    hosts_up: int
    hosts_down: int
    hosts_stale: int
    max_cpu_pct: float | None
    monitors: dict[str, int]
    alerting: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class InfraReport:
    """Every service's health, worst first, and the last day's changes, newest first."""

    services: list[ServiceHealth]
    changes: list[Change]
    counts: dict[str, int]


def health(
    *,
    hosts: Iterable[HostRecord],
    monitors: Iterable[MonitorRecord],
    deployments: Iterable[DeploymentRecord] = (),
    teams: Mapping[str, str | None] | None = None,
    now: datetime,
    stale_after: timedelta = timedelta(minutes=15),
    changes_window: timedelta = timedelta(hours=24),
) -> InfraReport:
    """Summarise hosts and monitors per service at `now`."""
    teams = teams or {}
    by_service_hosts: dict[str, list[HostRecord]] = defaultdict(list)
    by_service_monitors: dict[str, list[MonitorRecord]] = defaultdict(list)
    changes: list[Change] = []
    since = now - changes_window
    for host in hosts:
        by_service_hosts[host.service or "(none)"].append(host)
        if host.status == "down" and host.last_reported_at and host.last_reported_at >= since:
            changes.append(Change(host.last_reported_at, host.service, "host", f"{host.host} down"))
        elif (
            _stale(host, now, stale_after)
            and host.last_reported_at
            and host.last_reported_at >= since
        ):
            changes.append(
                Change(
                    host.last_reported_at, host.service, "host", f"{host.host} stopped reporting"
                )
            )
    for monitor in monitors:
        by_service_monitors[monitor.service or "(none)"].append(monitor)
        if monitor.state_changed_at and monitor.state_changed_at >= since:
            changes.append(
                Change(
                    monitor.state_changed_at,
                    monitor.service,
                    "monitor",
                    f"{monitor.name} → {monitor.state}",
                )
            )
    for deployment in deployments:
        if (
            deployment.finished_at
            and since <= deployment.finished_at <= now
            and (deployment.environment or "production") == "production"
        ):
            changes.append(
                Change(
                    deployment.finished_at,
                    deployment.service,
                    "deployment",
                    f"deployed {(deployment.sha or '')[:7] or 'a build'} to production ({deployment.status})",
                )
            )
    services = []
    for name in sorted(set(by_service_hosts) | set(by_service_monitors)):
        services.append(
            _service(
                name,
                by_service_hosts[name],
                by_service_monitors[name],
                teams.get(name),
                now,
                stale_after,
            )
        )
    services.sort(key=lambda s: (_RANK[s.status], s.service))
    changes.sort(key=lambda c: (c.at, c.kind, c.summary), reverse=True)
    counts: dict[str, int] = defaultdict(int)
    for service in services:
        counts[service.status] += 1
    return InfraReport(services=services, changes=changes, counts=dict(counts))


def _stale(host: HostRecord, now: datetime, stale_after: timedelta) -> bool:
    return host.last_reported_at is None or now - host.last_reported_at > stale_after


def _service(
    name: str,
    hosts: list[HostRecord],
    monitors: list[MonitorRecord],
    team: str | None,
    now: datetime,
    stale_after: timedelta,
) -> ServiceHealth:
    down = [h for h in hosts if h.status == "down"]
    stale = [h for h in hosts if h.status != "down" and _stale(h, now, stale_after)]
    up = [h for h in hosts if h.status == "up" and not _stale(h, now, stale_after)]
    states: dict[str, int] = defaultdict(int)
    for monitor in monitors:
        states[monitor.state] += 1
    alerting = sorted(m.name for m in monitors if m.state == "Alert")
    warning = sorted(m.name for m in monitors if m.state in ("Warn", "No Data"))
    status: Status
    if down:
        status, reason = "down", f"{len(down)} of {len(hosts)} hosts down"
    elif alerting:
        status, reason = "alert", f"{len(alerting)} monitor(s) alerting: {alerting[0]}"
    elif warning or stale:
        status = "warn"
        reason = f"{len(warning)} monitor(s) warning" if warning else f"{len(stale)} host(s) silent"
    elif hosts or monitors:
        status, reason = "ok", "all hosts up, all monitors OK"
    else:
        status, reason = "no_data", "no hosts or monitors"
    cpus = [h.cpu_pct for h in hosts if h.cpu_pct is not None]
    return ServiceHealth(
        service=name,
        team=team,
        status=status,
        reason=reason,
        hosts=len(hosts),
        hosts_up=len(up),
        hosts_down=len(down),
        hosts_stale=len(stale),
        max_cpu_pct=max(cpus) if cpus else None,
        monitors=dict(states),
        alerting=alerting + warning,
    )
