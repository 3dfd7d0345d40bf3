"""Savings opportunities: the provider's recommendations plus what our own data shows.

Our findings, each with an estimated monthly saving and the assumption behind the estimate:
- unowned spend: cost without a team tag; nobody can act on it (assumes 10% of it is waste
  that an owner would remove - the estimate is stated, not measured);
- storage growth without matching request growth: data piling up that nobody reads (assumes
  the new data could sit in an infrequent-access tier at half the price);
- data-transfer growth (assumes half of the growth is avoidable: endpoints, caching, placement);
- idle and underused hosts from host CPU (idle < 5%: the host's whole cost; underused < 20%:
  half of it, one size down); a host's cost is its team's compute spend / the team's hosts.
Growth compares the daily average of the last 7 days with the 28 days before, so a change that
started this week shows at full strength; a month is 30 days.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from cto_assistant.analytics.cost import money, short_service

MONTH_DAYS = 30
UNOWNED_WASTE_SHARE = 0.10
TIERING_SAVING_SHARE = 0.5
TRANSFER_AVOIDABLE_SHARE = 0.5
STORAGE_GROWTH_MIN = 0.10
TRANSFER_GROWTH_MIN = 0.15
IDLE_CPU = 5.0
UNDERUSED_CPU = 20.0

_STORAGE = re.compile(r"storage|bytehrs|data stored", re.I)
_REQUESTS = re.compile(r"request|api", re.I)
_TRANSFER = re.compile(r"datatransfer|data transfer|egress|bytes", re.I)

Kind = Literal[
    "rightsizing",
    "savings_plan",
    "reserved_instance",
    "storage_tiering",
    "idle_resource",
    "unowned_spend",
    "storage_growth",
    "transfer_growth",
    "idle_host",
    "underused_host",
    "other",
]


@dataclass(frozen=True, slots=True)
class Opportunity:
    """One way to save, with the estimate, who found it and the evidence."""

    kind: str
    title: str
    estimated_monthly_saving: float
    found_by: Literal["provider", "ours"]
    evidence: dict[str, Any] = field(default_factory=dict)
    assumption: str | None = None
    account: str | None = None
    region: str | None = None
    resource: str | None = None


@dataclass(frozen=True, slots=True)
class Recommendation:
    """A provider recommendation as stored (Cost Explorer rightsizing, Savings Plans, …)."""

    kind: str
    summary: str
    estimated_monthly_saving: float
    resource: str | None = None
    account: str | None = None
    region: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class UsageTrend:
    """Daily average spend of one usage line: last 7 days vs the 28 days before."""

    service: str | None
    region: str | None
    account: str | None
    project: str | None
    usage_type: str | None
    recent_daily: float
    baseline_daily: float

    @property
    def growth(self) -> float | None:
        """Relative growth of the daily average (None without a baseline)."""
        if self.baseline_daily <= 0:
            return None
        return self.recent_daily / self.baseline_daily - 1


@dataclass(frozen=True, slots=True)
class HostUsage:
    """A host's CPU and the compute cost it stands for."""

    host: str
    service: str | None
    team: str | None
    status: str
    cpu_pct: float | None
    monthly_cost: float | None  # the team's compute spend / the team's hosts


@dataclass(frozen=True, slots=True)
class SavingsReport:
    """Ranked opportunities and their total."""

    opportunities: list[Opportunity]
    total_monthly_saving: float
    by_finder: dict[str, float]


def find_savings(
    *,
    recommendations: Sequence[Recommendation] = (),
    unowned_monthly: float | None = None,
    total_monthly: float | None = None,
    unowned_top: Sequence[tuple[str | None, float]] = (),
    trends: Sequence[UsageTrend] = (),
    hosts: Sequence[HostUsage] = (),
    min_saving: float = 25.0,
) -> SavingsReport:
    """Combine provider recommendations with our findings, largest saving first."""
    found: list[Opportunity] = [_from_recommendation(rec) for rec in recommendations]
    if unowned_monthly and unowned_monthly > 0:
        share = unowned_monthly / total_monthly if total_monthly else None
        found.append(
            Opportunity(
                kind="unowned_spend",
                title=(
                    f"{money(unowned_monthly)}/month has no team tag"
                    + (f" ({share * 100:.1f}% of spend)" if share is not None else "")
                    + ": tag it so an owner can act"
                ),
                estimated_monthly_saving=unowned_monthly * UNOWNED_WASTE_SHARE,
                found_by="ours",
                evidence={
                    "unowned_monthly": unowned_monthly,
                    "total_monthly": total_monthly,
                    "top_services": [
                        {"service": name, "monthly": amount} for name, amount in unowned_top
                    ],
                },
                assumption=f"{UNOWNED_WASTE_SHARE:.0%} of unowned spend is waste an owner removes",
            )
        )
    found.extend(_storage_growth(trends))
    found.extend(_transfer_growth(trends))
    found.extend(_hosts(hosts))
    found = [
        item
        for item in found
        if item.estimated_monthly_saving >= min_saving or item.found_by == "provider"
    ]
    found.sort(key=lambda item: (-item.estimated_monthly_saving, item.kind, item.title))
    by_finder: dict[str, float] = {}
    for item in found:
        by_finder[item.found_by] = by_finder.get(item.found_by, 0.0) + item.estimated_monthly_saving
    return SavingsReport(
        opportunities=found,
        total_monthly_saving=sum(item.estimated_monthly_saving for item in found),
        by_finder=by_finder,
    )


def _from_recommendation(rec: Recommendation) -> Opportunity:
    return Opportunity(
        kind=rec.kind,
        title=rec.summary,
        estimated_monthly_saving=rec.estimated_monthly_saving,
        found_by="provider",
        evidence=dict(rec.details),
        account=rec.account,
        region=rec.region,
        resource=rec.resource,
    )


def _group_key(trend: UsageTrend) -> tuple[str, str, str, str]:
    return (trend.service or "", trend.region or "", trend.account or "", trend.project or "")


def _sum(trends: Sequence[UsageTrend]) -> tuple[float, float]:
    return sum(t.recent_daily for t in trends), sum(t.baseline_daily for t in trends)


def _storage_growth(trends: Sequence[UsageTrend]) -> list[Opportunity]:
    storage: dict[tuple[str, str, str, str], list[UsageTrend]] = {}
    requests: dict[tuple[str, str, str, str], list[UsageTrend]] = {}
    for trend in trends:
        usage = trend.usage_type or ""
        if _REQUESTS.search(usage):
            requests.setdefault(_group_key(trend), []).append(trend)
        elif _STORAGE.search(usage):
            storage.setdefault(_group_key(trend), []).append(trend)
    found = []
    for key, group in sorted(storage.items()):
        recent, base = _sum(group)
        if base <= 0:
            continue
        growth = recent / base - 1
        request_recent, request_base = _sum(requests.get(key, []))
        request_growth = request_recent / request_base - 1 if request_base > 0 else None
        if growth < STORAGE_GROWTH_MIN:
            continue
        if request_growth is not None and growth - request_growth < STORAGE_GROWTH_MIN:
            continue  # reads grew with the data: it is being used
        extra = (recent - base) * MONTH_DAYS
        service, region, account, project = key
        where = f"{short_service(service)} in {region}" + (
            f" (project={project})" if project else ""
        )
        found.append(
            Opportunity(
                kind="storage_growth",
                title=f"{where}: storage up {growth * 100:.0f}% with requests "
                + (
                    f"up {request_growth * 100:.0f}%"
                    if request_growth is not None
                    else "not measured"
                )
                + "; tier or expire the new data",
                estimated_monthly_saving=extra * TIERING_SAVING_SHARE,
                found_by="ours",
                evidence={
                    "storage_daily_recent": recent,
                    "storage_daily_baseline": base,
                    "storage_growth": growth,
                    "request_growth": request_growth,
                    "extra_monthly": extra,
                },
                assumption="the new data fits an infrequent-access tier at half the price",
                account=account or None,
                region=region or None,
            )
        )
    return found


def _transfer_growth(trends: Sequence[UsageTrend]) -> list[Opportunity]:
    groups: dict[tuple[str, str, str, str], list[UsageTrend]] = {}
    for trend in trends:
        if _TRANSFER.search(trend.usage_type or "") and not _STORAGE.search(trend.usage_type or ""):
            groups.setdefault(_group_key(trend), []).append(trend)
    found = []
    for key, group in sorted(groups.items()):
        recent, base = _sum(group)
        if base <= 0 or recent / base - 1 < TRANSFER_GROWTH_MIN:
            continue
        growth = recent / base - 1
        extra = (recent - base) * MONTH_DAYS
        service, region, account, project = key
        where = f"{short_service(service)} data transfer in {region}" + (
            f" (project={project})" if project else ""
        )
        found.append(
            Opportunity(
                kind="transfer_growth",
                title=f"{where} up {growth * 100:.0f}% ({money(extra)}/month more)",
                estimated_monthly_saving=extra * TRANSFER_AVOIDABLE_SHARE,
                found_by="ours",
                evidence={
                    "daily_recent": recent,
                    "daily_baseline": base,
                    "growth": growth,
                    "extra_monthly": extra,
                    "usage_types": sorted({t.usage_type or "" for t in group}),
                },
                assumption="half of the growth is avoidable (endpoints, caching, placement)",
                account=account or None,
                region=region or None,
            )
        )
    return found


def _hosts(hosts: Sequence[HostUsage]) -> list[Opportunity]:
    found = []
    for host in sorted(hosts, key=lambda h: h.host):
        if host.status != "up" or host.cpu_pct is None or host.monthly_cost is None:
            continue
        if host.cpu_pct < IDLE_CPU:
            kind, share, verb = "idle_host", 1.0, "stop or consolidate"
        elif host.cpu_pct < UNDERUSED_CPU:
            kind, share, verb = "underused_host", 0.5, "downsize one size"
        else:
            continue
        found.append(
            Opportunity(
                kind=kind,
                title=f"Host {host.host} ({host.service}) runs at {host.cpu_pct:.0f}% CPU: {verb}",
                estimated_monthly_saving=host.monthly_cost * share,
                found_by="ours",
                evidence={
                    "cpu_pct": host.cpu_pct,
                    "host_monthly_cost": host.monthly_cost,
                    "team": host.team,
                },
                assumption=(
                    "a host costs its team's compute spend / the team's hosts; "
                    + ("stopping it saves all of it" if share == 1.0 else "one size down halves it")
                ),
                resource=host.host,
            )
        )
    return found
