"""DORA's five keys for any scope (service, team, company) and any window, with their "why".

Definitions (docs/metrics/engineering.md says the same in prose):
- deployment frequency: successful production deployments in the window, per week, plus the
  days with at least one (in the caller's time zone). The level is judged on the typical
  service: the median per-service weekly rate among services that deploy to production.
- change lead time: per change (a pull request, or a commit without one) carried by its first
  successful production deployment, from its first commit to that deployment finishing; split
  into coding (first commit → PR opened), pickup (→ first review), review (→ merged) and deploy
  (→ running in production). A squash-merged PR whose commits are unknown starts at its merge.
- change failure rate: production deployments that needed intervention, over all successful
  production deployments; a deployment fails when an incident links to it (explicitly through
  `caused_by_deployment`, or as the nearest preceding production deployment of the incident's
  service within `link_window`), or when a rollback or hotfix deployment of the same service
  follows it. Each failure lists every signal that flagged it.
- failed deployment recovery time: failed deployment finished → the rollback/hotfix deployment
  that fixed it finished, or (without one) the last of its linked incidents resolved.
- time to restore (for comparison): incident triggered → resolved, for incidents in the window.
- deployment rework rate: rollback and hotfix deployments over all production deployments.

Rates carry their n; without an incident source the stability keys are "N/A: no incident
source", never 0%. Pure: rows and the window in, a `DoraReport` out.
"""

from __future__ import annotations

import bisect
import heapq
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from functools import lru_cache
from operator import attrgetter
from typing import Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from cto_assistant.analytics.dora_benchmarks import (
    LATEST,
    BenchmarkTable,
    Level,
    MetricName,
    overall_level,
)

PRODUCTION_NAMES = frozenset({"production", "prod", "prd", "live"})
DRILL_CAP = 50
NO_INCIDENT_SOURCE = "N/A: no incident source"
Granularity = Literal["day", "week"]
LinkMethod = Literal["explicit", "nearest_preceding", "explicit_unknown", "unlinked"]


@lru_cache(maxsize=256)  # a company has a handful of environment names, met thousands of times
def is_production(environment: str | None) -> bool:
    """Whether an environment name means production."""
    return (environment or "").strip().lower() in PRODUCTION_NAMES


# ----------------------------------------------------------------------------------- inputs
# Named tuples: immutable like frozen dataclasses, and four times cheaper to build (a company
# report reads tens of thousands of rows).


class DeploymentIn(NamedTuple):
    """A deployment row, as the analytics need it."""

    id: str
    service: str | None
    environment: str | None
    status: str
    finished_at: datetime | None
    started_at: datetime | None = None
    is_rollback: bool = False
    is_hotfix: bool = False
    url: str | None = None

    @property
    def counts(self) -> bool:
        """A successful production deployment with a finish time."""
        return (
            self.status == "success"
            and is_production(self.environment)
            and self.finished_at is not None
        )


class ChangeIn(NamedTuple):
    """One change a deployment carried: a PR (with its timestamps) or a lone commit."""

    deployment_id: str
    repo: str | None
    pr_number: int | None
    sha: str | None
    first_commit_at: datetime | None  # earliest authored commit of this change in the deployment
    pr_first_commit_at: datetime | None = None
    pr_created_at: datetime | None = None
    first_review_at: datetime | None = None
    merged_at: datetime | None = None
    squash_only: bool = False  # only the PR's merge commit is known


class IncidentIn(NamedTuple):
    """An incident row, as the analytics need it."""

    key: str
    service: str | None
    triggered_at: datetime
    resolved_at: datetime | None = None
    caused_by_deployment: str | None = None
    severity: str | None = None
    title: str | None = None


# ---------------------------------------------------------------------------------- outputs


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class IncidentLink(_Model):
    """How one incident was tied to a deployment (or why it was not)."""

    incident: str
    service: str | None
    triggered_at: datetime
    deployment: str | None
    method: LinkMethod
    gap_seconds: float | None = Field(default=None, description="Deploy finished → triggered.")
    why: str


class FailureSignal(_Model):
    """One reason a deployment counts as failed."""

    method: Literal["incident_explicit", "incident_nearest", "rollback", "hotfix"]
    evidence: str = Field(description="The incident key or the remedy deployment id.")
    at: datetime
    why: str


class ChangeFailure(_Model):
    """A production deployment that needed intervention, how it was detected and restored."""

    deployment: str
    service: str | None
    finished_at: datetime
    detected_by: list[FailureSignal]
    recovered_at: datetime | None
    recovery_seconds: float | None
    recovered_by: str | None
    url: str | None = None


class ChangeLeadTime(_Model):
    """The lead time of one change, with its split."""

    repo: str | None
    pr_number: int | None
    sha: str | None
    deployment: str
    service: str | None
    deployed_at: datetime
    started_at: datetime
    start_basis: Literal["first_commit", "commit", "merge_squash"]
    lead_seconds: float
    coding_seconds: float | None
    pickup_seconds: float | None
    review_seconds: float | None
    deploy_seconds: float | None


class DurationStats(_Model):
    """Median, p75 and p90 of a set of durations, with n."""

    n: int
    median: float | None
    p75: float | None
    p90: float | None


class Metric(_Model):
    """One key: value, n, level and score, what it was compared with, and the previous window."""

    name: str
    label: str
    value: float | None
    unit: str
    display: str
    n: int = Field(description="How many deployments / changes / incidents the figure rests on.")
    numerator: int | None = None
    level: Level | None = None
    score: float | None = None
    thresholds: str | None = None
    na_reason: str | None = None
    previous_value: float | None = None
    previous_n: int | None = None
    trend: Literal["rising", "falling", "flat"] | None = None
    why: str = ""


class TrendPoint(_Model):
    """One day or week of the window."""

    start: date
    deployments: int
    failures: int
    change_failure_rate: float | None
    lead_time_median_seconds: float | None
    changes: int
    deployment_day: bool


class DoraReport(_Model):
    """The five keys for one scope and window, with their drill-down rows."""

    scope: str
    window_start: datetime
    window_end: datetime
    days: float
    benchmark: str
    granularity: Granularity
    deployments: int
    deployment_days: int
    deployment_days_per_week: float
    deployment_frequency: Metric
    change_lead_time: Metric
    lead_time_stats: DurationStats
    lead_time_split: dict[str, DurationStats]
    change_failure_rate: Metric
    failed_deployment_recovery: Metric
    time_to_restore: Metric
    rework_rate: Metric
    overall_level: Level | None
    overall_score: float | None
    level_basis: str
    trend: list[TrendPoint]
    failures: list[ChangeFailure]
    failures_total: int
    incident_links: list[IncidentLink]
    incident_links_total: int
    slowest_changes: list[ChangeLeadTime]
    changes_total: int
    squash_fallback_changes: int


# --------------------------------------------------------------------------------- helpers


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100) by linear interpolation between closest ranks."""
    return _ranked(sorted(values), q)


def _ranked(ordered: Sequence[float], q: float) -> float | None:
    """`percentile` of values already in ascending order."""
    if not ordered:
        return None
    if len(ordered) == 1:
        return float(ordered[0])
    rank = (len(ordered) - 1) * q / 100.0
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return float(ordered[low] + (ordered[high] - ordered[low]) * (rank - low))


def duration_stats(values: Sequence[float]) -> DurationStats:
    """Median, p75, p90 and n of durations in seconds."""
    ordered = sorted(values)
    return DurationStats(
        n=len(ordered),
        median=_ranked(ordered, 50),
        p75=_ranked(ordered, 75),
        p90=_ranked(ordered, 90),
    )


def human_duration(seconds: float | None) -> str:
    """'45 min', '3.2 h', '2.5 d'."""
    if seconds is None:
        return "N/A"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def _finish(deployment: DeploymentIn) -> datetime:
    """A counted deployment's finish time (counted deployments always have one)."""
    assert deployment.finished_at is not None
    return deployment.finished_at


def _bucket_start(moment: datetime, granularity: Granularity, tz: tzinfo) -> date:
    day = moment.astimezone(tz).date()
    if granularity == "week":
        return day - timedelta(days=day.weekday())
    return day


# ---------------------------------------------------------------------------- incident links


_FINISHED = attrgetter("finished_at")  # of counted deployments: never None
_FINISH_ORDER = attrgetter("finished_at", "id")
_SIGNAL_ORDER = attrgetter("at", "method", "evidence")


class _Deploys:
    """A scope's deployments by id, the counted ones (successful production deployments)
    sorted by finish, and those of each service, for lookups: built once per report."""

    def __init__(self, deployments: Iterable[DeploymentIn]) -> None:
        self.known = {d.id: d for d in deployments}
        self.counted = sorted((d for d in self.known.values() if d.counts), key=_FINISH_ORDER)
        self.counted_finishes = list(map(_FINISHED, self.counted))
        rows: dict[str | None, list[DeploymentIn]] = defaultdict(list)
        for deployment in self.counted:  # in finish order, so each service's rows are too
            rows[deployment.service].append(deployment)
        self.rows = dict(rows)
        self.finishes = {service: list(map(_FINISHED, held)) for service, held in rows.items()}

    def finished_in(self, start: datetime, end: datetime) -> list[DeploymentIn]:
        """The counted deployments that finished in [start, end)."""
        finishes = self.counted_finishes
        return self.counted[bisect.bisect_left(finishes, start) : bisect.bisect_left(finishes, end)]

    def preceding(
        self,
        service: str | None,
        moment: datetime,
        *,
        skip_rollbacks: bool = False,
        exclude: str | None = None,
    ) -> DeploymentIn | None:
        """The last deployment of `service` that finished at or before `moment`."""
        rows = self.rows.get(service)
        if not rows:
            return None
        index = bisect.bisect_right(self.finishes[service], moment)
        for candidate in reversed(rows[:index]):
            if candidate.id == exclude or (skip_rollbacks and candidate.is_rollback):
                continue
            return candidate
        return None


def link_incidents(
    deployments: Iterable[DeploymentIn],
    incidents: Iterable[IncidentIn],
    *,
    link_window: timedelta | None = timedelta(hours=24),
) -> list[IncidentLink]:
    """Tie each incident to the deployment that caused it: explicit link, else nearest preceding.

    The nearest preceding deployment is the last successful production deployment of the
    incident's service that finished at or before the trigger, at most `link_window` earlier
    (`None`: any distance, as Apache DevLake does).
    """
    return _link_incidents(_Deploys(deployments), incidents, link_window)


def _link_incidents(
    index: _Deploys, incidents: Iterable[IncidentIn], link_window: timedelta | None
) -> list[IncidentLink]:
    """`link_incidents` over a scope's deployments already indexed."""
    known = index.known
    links: list[IncidentLink] = []
    for incident in incidents:
        if incident.caused_by_deployment:
            target = known.get(incident.caused_by_deployment)
            if target is not None:
                gap = (
                    (incident.triggered_at - target.finished_at).total_seconds()
                    if target.finished_at
                    else None
                )
                links.append(
                    IncidentLink(
                        incident=incident.key,
                        service=incident.service,
                        triggered_at=incident.triggered_at,
                        deployment=target.id,
                        method="explicit",
                        gap_seconds=gap,
                        why=f"{incident.key} names deployment {target.id} as its cause",
                    )
                )
                continue
            links.append(
                IncidentLink(
                    incident=incident.key,
                    service=incident.service,
                    triggered_at=incident.triggered_at,
                    deployment=None,
                    method="explicit_unknown",
                    why=f"{incident.key} names deployment {incident.caused_by_deployment}, "
                    "which is not in the store",
                )
            )
            continue
        if not incident.service:
            links.append(
                IncidentLink(
                    incident=incident.key,
                    service=None,
                    triggered_at=incident.triggered_at,
                    deployment=None,
                    method="unlinked",
                    why=f"{incident.key} has no service",
                )
            )
            continue
        previous = index.preceding(incident.service, incident.triggered_at)
        gap = (
            (incident.triggered_at - previous.finished_at).total_seconds()
            if previous is not None and previous.finished_at is not None
            else None
        )
        if previous is None or (
            link_window is not None and gap is not None and gap > link_window.total_seconds()
        ):
            window_text = (
                ""
                if link_window is None
                else f" within {human_duration(link_window.total_seconds())}"
            )
            links.append(
                IncidentLink(
                    incident=incident.key,
                    service=incident.service,
                    triggered_at=incident.triggered_at,
                    deployment=None,
                    method="unlinked",
                    gap_seconds=gap,
                    why=f"no production deployment of {incident.service}{window_text} before "
                    f"{incident.key}",
                )
            )
            continue
        links.append(
            IncidentLink(
                incident=incident.key,
                service=incident.service,
                triggered_at=incident.triggered_at,
                deployment=previous.id,
                method="nearest_preceding",
                gap_seconds=gap,
                why=f"{previous.id} was the last production deployment of {incident.service}, "
                f"{human_duration(gap)} before {incident.key}",
            )
        )
    return sorted(links, key=lambda link: (link.triggered_at, link.incident))


def detect_failures(
    deployments: Iterable[DeploymentIn],
    incidents: Iterable[IncidentIn],
    links: Iterable[IncidentLink],
) -> dict[str, ChangeFailure]:
    """Every failed production deployment by id, with its signals and recovery."""
    return _detect_failures(_Deploys(deployments), incidents, links)


def _detect_failures(
    index: _Deploys, incidents: Iterable[IncidentIn], links: Iterable[IncidentLink]
) -> dict[str, ChangeFailure]:
    """`detect_failures` over a scope's deployments already indexed."""
    known = index.known
    incident_by_key = {i.key: i for i in incidents}
    signals: dict[str, list[FailureSignal]] = defaultdict(list)
    remedies: dict[str, list[DeploymentIn]] = defaultdict(list)
    linked: dict[str, list[IncidentIn]] = defaultdict(list)
    for link in links:
        if link.deployment is None or link.deployment not in known:
            continue
        if not known[link.deployment].counts:
            continue
        incident = incident_by_key.get(link.incident)
        if incident is None:
            continue
        linked[link.deployment].append(incident)
        signals[link.deployment].append(
            FailureSignal(
                method="incident_explicit" if link.method == "explicit" else "incident_nearest",
                evidence=incident.key,
                at=incident.triggered_at,
                why=link.why,
            )
        )
    for remedy in index.counted:
        if not (remedy.is_rollback or remedy.is_hotfix):
            continue
        target = index.preceding(
            remedy.service,
            remedy.started_at or _finish(remedy),
            skip_rollbacks=True,
            exclude=remedy.id,
        )
        if target is None:
            continue
        kind: Literal["rollback", "hotfix"] = "rollback" if remedy.is_rollback else "hotfix"
        remedies[target.id].append(remedy)
        signals[target.id].append(
            FailureSignal(
                method=kind,
                evidence=remedy.id,
                at=_finish(remedy),
                why=f"{kind} deployment {remedy.id} followed it on {remedy.service}",
            )
        )
    failures: dict[str, ChangeFailure] = {}
    for deployment_id, found in signals.items():
        deployment = known[deployment_id]
        finished = deployment.finished_at
        assert finished is not None
        recovered_at: datetime | None = None
        recovered_by: str | None = None
        fixes = remedies.get(deployment_id)
        if fixes:
            fix = min(fixes, key=_FINISH_ORDER)
            recovered_at = fix.finished_at
            recovered_by = f"{'rollback' if fix.is_rollback else 'hotfix'} {fix.id}"
        elif linked.get(deployment_id):
            resolved = [i.resolved_at for i in linked[deployment_id]]
            if all(moment is not None for moment in resolved):
                last = max(linked[deployment_id], key=lambda i: (i.resolved_at or finished, i.key))
                recovered_at = last.resolved_at
                recovered_by = f"incident {last.key} resolved"
        failures[deployment_id] = ChangeFailure(
            deployment=deployment_id,
            service=deployment.service,
            finished_at=finished,
            detected_by=sorted(found, key=_SIGNAL_ORDER) if len(found) > 1 else found,
            recovered_at=recovered_at,
            recovery_seconds=(recovered_at - finished).total_seconds() if recovered_at else None,
            recovered_by=recovered_by,
            url=deployment.url,
        )
    return failures


# ------------------------------------------------------------------------------- lead time

LeadBasis = Literal["first_commit", "commit", "merge_squash"]
ChangeKey = tuple[str | None, object]


class LeadTime(NamedTuple):
    """The lead time of one change, as plain facts (`model()` gives the report's row)."""

    repo: str | None
    pr_number: int | None
    sha: str | None
    deployment: str
    service: str | None
    deployed_at: datetime
    started_at: datetime
    start_basis: LeadBasis
    lead_seconds: float
    coding_seconds: float | None
    pickup_seconds: float | None
    review_seconds: float | None
    deploy_seconds: float | None

    def model(self) -> ChangeLeadTime:
        """This lead time as the report's `ChangeLeadTime`."""
        return ChangeLeadTime(
            repo=self.repo,
            pr_number=self.pr_number,
            sha=self.sha,
            deployment=self.deployment,
            service=self.service,
            deployed_at=self.deployed_at,
            started_at=self.started_at,
            start_basis=self.start_basis,
            lead_seconds=self.lead_seconds,
            coding_seconds=self.coding_seconds,
            pickup_seconds=self.pickup_seconds,
            review_seconds=self.review_seconds,
            deploy_seconds=self.deploy_seconds,
        )


def _lead_order(lead: LeadTime) -> tuple[datetime, str, int, str]:
    """Report order of lead times: by deployment finish, then repo, PR and sha."""
    return (lead.deployed_at, lead.repo or "", lead.pr_number or 0, lead.sha or "")


class _Carried:
    """The counted deployments by id, and per change (repo + PR, or repo + sha) the rows of
    the deployments that carried it, in input order."""

    def __init__(self, deployments: Iterable[DeploymentIn], changes: Iterable[ChangeIn]) -> None:
        self.deployments = {d.id: d for d in deployments if d.counts}
        self.first: dict[ChangeKey, ChangeIn] = {}
        self.more: dict[ChangeKey, list[ChangeIn]] = {}
        for change in changes:
            if change.deployment_id not in self.deployments:
                continue
            key = (change.repo, change.pr_number if change.pr_number is not None else change.sha)
            held = self.first.setdefault(key, change)
            if held is not change:
                self.more.setdefault(key, [held]).append(change)

    def per_change(self) -> Iterator[Sequence[ChangeIn]]:
        """Each change's rows."""
        more = self.more
        for key, change in self.first.items():
            yield more.get(key) or (change,)

    def lead(self, rows: Sequence[ChangeIn]) -> LeadTime | None:
        """A change's lead time to the first of the deployments that carried it."""
        if len(rows) == 1:
            return _lead_time(rows[0], self.deployments[rows[0].deployment_id])
        held: ChangeIn | None = None
        where: DeploymentIn | None = None
        for change in rows:
            deployment = self.deployments[change.deployment_id]
            if held is None or where is None:
                held, where = change, deployment
            elif (_finish(deployment), deployment.id) < (_finish(where), where.id):
                held, where = _merge_starts(change, held), deployment
            else:
                held = _merge_starts(held, change)
        return None if held is None or where is None else _lead_time(held, where)


def lead_times(deployments: Iterable[DeploymentIn], changes: Iterable[ChangeIn]) -> list[LeadTime]:
    """Each change's lead time to its first successful production deployment, in order."""
    carried = _Carried(deployments, changes)
    found = (carried.lead(rows) for rows in carried.per_change())
    return sorted((lead for lead in found if lead is not None), key=_lead_order)


def grouped_lead_times(
    deployments: Iterable[DeploymentIn],
    changes: Iterable[ChangeIn],
    group_of: Mapping[str, str],
) -> tuple[list[LeadTime], dict[str, list[LeadTime]]]:
    """`lead_times` of all changes, and of each group's (deployment id → group) on its own.

    A change carried within one group has the same lead time in it as overall, so it is
    computed once; only a change that several groups deployed is timed again per group.
    """
    carried = _Carried(deployments, changes)
    overall: list[LeadTime] = []
    shared: set[int] = set()  # the overall leads of changes that several groups deployed
    timed_again: dict[str, list[LeadTime]] = defaultdict(list)
    for rows in carried.per_change():
        lead = carried.lead(rows)
        if lead is not None:
            overall.append(lead)
        if len(rows) == 1:
            continue
        names = {group_of[c.deployment_id] for c in rows}
        if len(names) == 1:
            continue
        if lead is not None:
            shared.add(id(lead))
        for name in sorted(names):
            own = carried.lead([c for c in rows if group_of[c.deployment_id] == name])
            if own is not None:
                timed_again[name].append(own)
    overall.sort(key=_lead_order)
    groups: dict[str, list[LeadTime]] = defaultdict(list)
    for lead in overall:  # in order already: a group's share of it needs no sort of its own
        if id(lead) not in shared:
            groups[group_of[lead.deployment]].append(lead)
    for name, again in timed_again.items():
        groups[name].extend(again)
        groups[name].sort(key=_lead_order)
    return overall, dict(groups)


def change_lead_times(
    deployments: Iterable[DeploymentIn], changes: Iterable[ChangeIn]
) -> list[ChangeLeadTime]:
    """Each change's lead time to its first successful production deployment."""
    return [lead.model() for lead in lead_times(deployments, changes)]


def _merge_starts(keep: ChangeIn, other: ChangeIn) -> ChangeIn:
    starts = [s for s in (keep.first_commit_at, other.first_commit_at) if s is not None]
    if not starts:
        return keep
    return ChangeIn(
        deployment_id=keep.deployment_id,
        repo=keep.repo,
        pr_number=keep.pr_number,
        sha=keep.sha,
        first_commit_at=min(starts),
        pr_first_commit_at=keep.pr_first_commit_at,
        pr_created_at=keep.pr_created_at,
        first_review_at=keep.first_review_at,
        merged_at=keep.merged_at,
        squash_only=keep.squash_only and other.squash_only,
    )


def span_seconds(a: datetime | None, b: datetime | None) -> float | None:
    """Seconds from a to b (never negative), None when either is unknown."""
    if a is None or b is None:
        return None
    return max(0.0, (b - a).total_seconds())


def _lead_time(change: ChangeIn, deployment: DeploymentIn) -> LeadTime | None:
    """A change's lead time to `deployment`, split into its phases when it is a PR.

    It starts at the change's first commit (the PR's, when earlier), the PR's opening without
    either, or the merge of a squash-merged PR whose commits are unknown. Run once per change
    (tens of thousands for a company), so the spans (`span_seconds`) are written out here.
    """
    deployed = deployment.finished_at
    assert deployed is not None
    first = change.first_commit_at
    if change.pr_number is None:
        if first is None or first > deployed:
            return None
        return LeadTime(
            change.repo, None, change.sha, deployment.id, deployment.service, deployed, first,
            "commit", (deployed - first).total_seconds(), None, None, None, None,
        )  # fmt: skip
    pr_first, opened = change.pr_first_commit_at, change.pr_created_at
    reviewed, merged = change.first_review_at, change.merged_at
    squash = change.squash_only and pr_first is None
    if squash:
        start = merged or first
    elif first is None:
        start = pr_first if pr_first is not None else opened
    else:
        start = first if pr_first is None or first <= pr_first else pr_first
    if start is None or start > deployed:
        return None
    coding = None if squash or opened is None else (opened - start).total_seconds()
    pickup = None if opened is None or reviewed is None else (reviewed - opened).total_seconds()
    review = None if reviewed is None or merged is None else (merged - reviewed).total_seconds()
    deploy = None if merged is None else (deployed - merged).total_seconds()
    return LeadTime(  # spans never negative, as `span_seconds` has them
        change.repo, change.pr_number, change.sha, deployment.id, deployment.service, deployed,
        start, "merge_squash" if squash else "first_commit", (deployed - start).total_seconds(),
        None if coding is None else coding if coding > 0.0 else 0.0,
        None if pickup is None else pickup if pickup > 0.0 else 0.0,
        None if review is None else review if review > 0.0 else 0.0,
        None if deploy is None else deploy if deploy > 0.0 else 0.0,
    )  # fmt: skip


# ------------------------------------------------------------------------------- the report


@dataclass(frozen=True)
class _WindowFigures:
    deploys: list[DeploymentIn]
    failures: list[ChangeFailure]
    changes: list[LeadTime]
    incidents: list[IncidentIn]

    @property
    def cfr(self) -> float | None:
        return len(self.failures) / len(self.deploys) if self.deploys else None

    @property
    def lead_median(self) -> float | None:
        return percentile([c.lead_seconds for c in self.changes], 50)

    @property
    def recovery(self) -> list[float]:
        return [f.recovery_seconds for f in self.failures if f.recovery_seconds is not None]

    @property
    def restore(self) -> list[float]:
        return [
            (i.resolved_at - i.triggered_at).total_seconds()
            for i in self.incidents
            if i.resolved_at is not None
        ]

    @property
    def rework(self) -> list[DeploymentIn]:
        return [d for d in self.deploys if d.is_rollback or d.is_hotfix]


def _figures(
    start: datetime,
    end: datetime,
    index: _Deploys,
    failures: dict[str, ChangeFailure],
    changes: Sequence[LeadTime],
    incidents: Sequence[IncidentIn],
) -> _WindowFigures:
    """The window's share of the counted deployments, failures, changes and incidents."""
    inside = index.finished_in(start, end)
    return _WindowFigures(
        deploys=inside,
        failures=[failures[d.id] for d in inside if d.id in failures],
        changes=[c for c in changes if start <= c.deployed_at < end],
        incidents=[i for i in incidents if start <= i.triggered_at < end],
    )


def _trend(
    now_value: float | None, before: float | None, *, tolerance: float
) -> Literal["rising", "falling", "flat"] | None:
    if now_value is None or before is None:
        return None
    if abs(now_value - before) <= tolerance:
        return "flat"
    return "rising" if now_value > before else "falling"


def dora_report(
    *,
    scope: str,
    deployments: Sequence[DeploymentIn],
    changes: Sequence[ChangeIn],
    incidents: Sequence[IncidentIn],
    window_start: datetime,
    window_end: datetime,
    incident_source: bool = True,
    link_window: timedelta | None = timedelta(hours=24),
    granularity: Granularity = "day",
    tz: tzinfo | None = None,
    benchmarks: BenchmarkTable = LATEST,
    leads: Sequence[LeadTime] | None = None,
    drill_down: bool = True,
) -> DoraReport:
    """The five keys for `scope` over [window_start, window_end), versus the window before it.

    Pass deployments, changes and incidents from at least one window length (plus
    `link_window`) before `window_start`, so the previous window and links are complete.
    `leads`, when given, is `lead_times(deployments, changes)` already computed. Without
    `drill_down` the rows behind the figures (trend, failures, incident links, slowest
    changes) are left empty, their totals kept: for breakdowns that show only the figures.
    """
    zone = tz or window_start.tzinfo
    assert zone is not None, "window bounds must be aware datetimes"
    length = window_end - window_start
    days = length.total_seconds() / 86400
    weeks = days / 7
    index = _Deploys(deployments)
    links = _link_incidents(index, incidents, link_window)
    failures = _detect_failures(index, incidents, links) if incident_source else {}
    lead = lead_times(index.counted, changes) if leads is None else leads
    counted = index.counted
    current = _figures(window_start, window_end, index, failures, lead, incidents)
    before = _figures(window_start - length, window_start, index, failures, lead, incidents)

    # deployment frequency
    bands_df = benchmarks.bands("deployment_frequency")
    per_week = len(current.deploys) / weeks if weeks else 0.0
    deploy_days = {_finish(d).astimezone(zone).date() for d in current.deploys}
    services = sorted({d.service or "" for d in counted})
    current_by_service = Counter(d.service or "" for d in current.deploys)
    per_service = sorted(current_by_service[s] / weeks for s in services) if weeks else []
    typical = statistics.median(per_service) if per_service else per_week
    previous_per_week = len(before.deploys) / weeks if weeks else None
    df = Metric(
        name="deployment_frequency",
        label="Deployment frequency",
        value=round(per_week, 3),
        unit="per week",
        display=f"{per_week:.1f}/week ({len(current.deploys)} deploys)",
        n=len(current.deploys),
        level=bands_df.level(typical),
        score=bands_df.score(typical),
        thresholds=bands_df.threshold_text(),
        previous_value=round(previous_per_week, 3) if previous_per_week is not None else None,
        previous_n=len(before.deploys),
        trend=_trend(per_week, previous_per_week, tolerance=0.1 * max(per_week, 1.0)),
        why=(
            f"{len(current.deploys)} successful production deployments in {days:g} days over "
            f"{len(services)} service(s); the level uses the typical service's "
            f"{typical:.2f}/week"
        ),
    )

    # lead time
    bands_lt = benchmarks.bands("change_lead_time")
    lead_values = [c.lead_seconds for c in current.changes]
    stats = duration_stats(lead_values)
    split = {
        part: duration_stats(
            [v for v in map(attrgetter(f"{part}_seconds"), current.changes) if v is not None]
        )
        for part in ("coding", "pickup", "review", "deploy")
    }
    lt = Metric(
        name="change_lead_time",
        label="Change lead time",
        value=stats.median,
        unit="seconds",
        display=f"{human_duration(stats.median)} median" if stats.median is not None else "N/A",
        n=stats.n,
        level=bands_lt.level(stats.median) if stats.median is not None else None,
        score=bands_lt.score(stats.median) if stats.median is not None else None,
        thresholds=bands_lt.threshold_text(),
        na_reason=None if stats.n else "N/A: no changes reached production in the window",
        previous_value=before.lead_median,
        previous_n=len(before.changes),
        trend=_trend(stats.median, before.lead_median, tolerance=0.1 * (before.lead_median or 0.0)),
        why=(
            f"first commit → running in production for {stats.n} change(s); p75 "
            f"{human_duration(stats.p75)}, p90 {human_duration(stats.p90)}"
        ),
    )

    # change failure rate
    bands_cfr = benchmarks.bands("change_failure_rate")
    if not incident_source:
        cfr = _na(
            "change_failure_rate",
            "Change failure rate",
            "share",
            NO_INCIDENT_SOURCE,
            bands_cfr.threshold_text(),
            len(current.deploys),
        )
    elif not current.deploys:
        cfr = _na(
            "change_failure_rate",
            "Change failure rate",
            "share",
            "N/A: no production deployments in the window",
            bands_cfr.threshold_text(),
            0,
        )
    else:
        rate = len(current.failures) / len(current.deploys)
        cfr = Metric(
            name="change_failure_rate",
            label="Change failure rate",
            value=rate,
            unit="share",
            display=f"{rate:.0%} ({len(current.failures)} of {len(current.deploys)})",
            n=len(current.deploys),
            numerator=len(current.failures),
            level=bands_cfr.level(rate),
            score=bands_cfr.score(rate),
            thresholds=bands_cfr.threshold_text(),
            previous_value=before.cfr,
            previous_n=len(before.deploys),
            trend=_trend(rate, before.cfr, tolerance=0.02),
            why=(
                f"{len(current.failures)} of {len(current.deploys)} production deployments "
                "needed intervention (linked incident, rollback or hotfix)"
            ),
        )

    # failed deployment recovery
    bands_fdr = benchmarks.bands("failed_deployment_recovery")
    recovery = current.recovery
    recovery_stats = duration_stats(recovery)
    open_failures = len(current.failures) - len(recovery)
    if not incident_source:
        fdr = _na(
            "failed_deployment_recovery",
            "Failed deployment recovery time",
            "seconds",
            NO_INCIDENT_SOURCE,
            bands_fdr.threshold_text(),
            0,
        )
    elif not recovery:
        reason = (
            f"N/A: {open_failures} failed deployment(s) not yet recovered"
            if open_failures
            else "N/A: no failed deployments in the window"
        )
        fdr = _na(
            "failed_deployment_recovery",
            "Failed deployment recovery time",
            "seconds",
            reason,
            bands_fdr.threshold_text(),
            0,
        )
    else:
        median = recovery_stats.median
        assert median is not None
        previous = percentile(before.recovery, 50)
        fdr = Metric(
            name="failed_deployment_recovery",
            label="Failed deployment recovery time",
            value=median,
            unit="seconds",
            display=f"{human_duration(median)} median",
            n=len(recovery),
            level=bands_fdr.level(median),
            score=bands_fdr.score(median),
            thresholds=bands_fdr.threshold_text(),
            previous_value=previous,
            previous_n=len(before.recovery),
            trend=_trend(median, previous, tolerance=0.1 * (previous or 0.0)),
            why=(
                f"median of {len(recovery)} recovered failure(s)"
                + (f"; {open_failures} still open" if open_failures else "")
            ),
        )

    # time to restore (incidents)
    restore = current.restore
    if not incident_source:
        ttr = _na(
            "time_to_restore", "Time to restore (incidents)", "seconds", NO_INCIDENT_SOURCE, None, 0
        )
    elif not restore:
        ttr = _na(
            "time_to_restore",
            "Time to restore (incidents)",
            "seconds",
            "N/A: no resolved incidents in the window",
            None,
            0,
        )
    else:
        median_restore = percentile(restore, 50)
        ttr = Metric(
            name="time_to_restore",
            label="Time to restore (incidents)",
            value=median_restore,
            unit="seconds",
            display=f"{human_duration(median_restore)} median",
            n=len(restore),
            previous_value=percentile(before.restore, 50),
            previous_n=len(before.restore),
            why=f"triggered → resolved for {len(restore)} incident(s), for comparison",
        )

    # rework
    rework = current.rework
    if current.deploys:
        rework_rate = len(rework) / len(current.deploys)
        previous_rework = len(before.rework) / len(before.deploys) if before.deploys else None
        rw = Metric(
            name="rework_rate",
            label="Deployment rework rate",
            value=rework_rate,
            unit="share",
            display=f"{rework_rate:.0%} ({len(rework)} of {len(current.deploys)})",
            n=len(current.deploys),
            numerator=len(rework),
            thresholds=benchmarks.rework_note,
            previous_value=previous_rework,
            previous_n=len(before.deploys),
            trend=_trend(rework_rate, previous_rework, tolerance=0.02),
            why="rollback and hotfix deployments: unplanned work because production broke",
        )
    else:
        rw = _na(
            "rework_rate",
            "Deployment rework rate",
            "share",
            "N/A: no production deployments in the window",
            benchmarks.rework_note,
            0,
        )

    keyed = (df, lt, cfr, fdr)
    levels = [m.level for m in keyed if m.level is not None]
    scores = [m.score for m in keyed if m.score is not None]
    window_links = (
        [link for link in links if window_start <= link.triggered_at < window_end]
        if incident_source
        else []
    )
    failures_sorted: list[ChangeFailure] = []
    slowest: list[LeadTime] = []
    if drill_down:
        failures_sorted = sorted(
            current.failures, key=lambda f: (f.finished_at, f.deployment), reverse=True
        )
        slowest = heapq.nlargest(
            DRILL_CAP,
            current.changes,
            key=lambda c: (c.lead_seconds, c.repo or "", c.pr_number or 0, c.sha or ""),
        )
    return DoraReport(
        scope=scope,
        window_start=window_start,
        window_end=window_end,
        days=days,
        benchmark=benchmarks.version,
        granularity=granularity,
        deployments=len(current.deploys),
        deployment_days=len(deploy_days),
        deployment_days_per_week=round(len(deploy_days) / weeks, 2) if weeks else 0.0,
        deployment_frequency=df,
        change_lead_time=lt,
        lead_time_stats=stats,
        lead_time_split=split,
        change_failure_rate=cfr,
        failed_deployment_recovery=fdr,
        time_to_restore=ttr,
        rework_rate=rw,
        overall_level=overall_level(levels),
        overall_score=round(sum(scores) / len(scores), 1) if scores else None,
        level_basis=(
            f"{benchmarks.source} ({benchmarks.version}); each key bucketed on its own, overall "
            "= the median of the keys' levels (the worse of the two middle ones)"
        ),
        trend=_trend_points(current, window_start, window_end, granularity, zone)
        if drill_down
        else [],
        failures=failures_sorted[:DRILL_CAP],
        failures_total=len(current.failures),
        incident_links=window_links[:DRILL_CAP] if drill_down else [],
        incident_links_total=len(window_links),
        slowest_changes=[lead.model() for lead in slowest],
        changes_total=len(current.changes),
        squash_fallback_changes=sum(1 for c in current.changes if c.start_basis == "merge_squash"),
    )


def _na(
    name: MetricName | str, label: str, unit: str, reason: str, thresholds: str | None, n: int
) -> Metric:
    return Metric(
        name=name,
        label=label,
        value=None,
        unit=unit,
        display=reason,
        n=n,
        na_reason=reason,
        thresholds=thresholds,
        why=reason,
    )


def _trend_points(
    figures: _WindowFigures,
    start: datetime,
    end: datetime,
    granularity: Granularity,
    zone: tzinfo,
) -> list[TrendPoint]:
    buckets: dict[date, dict[str, list[object]]] = {}
    cursor = _bucket_start(start, granularity, zone)
    last = _bucket_start(end - timedelta(microseconds=1), granularity, zone)
    step = timedelta(days=7 if granularity == "week" else 1)
    while cursor <= last:
        buckets[cursor] = {"deploys": [], "failures": [], "changes": []}
        cursor += step
    failed = {f.deployment for f in figures.failures}
    for deployment in figures.deploys:
        key = _bucket_start(_finish(deployment), granularity, zone)
        if key in buckets:
            buckets[key]["deploys"].append(deployment)
            if deployment.id in failed:
                buckets[key]["failures"].append(deployment)
    for change in figures.changes:
        key = _bucket_start(change.deployed_at, granularity, zone)
        if key in buckets:
            buckets[key]["changes"].append(change.lead_seconds)
    points = []
    for key, held in buckets.items():
        deploys, fails, leads = held["deploys"], held["failures"], held["changes"]
        points.append(
            TrendPoint(
                start=key,
                deployments=len(deploys),
                failures=len(fails),
                change_failure_rate=len(fails) / len(deploys) if deploys else None,
                lead_time_median_seconds=percentile(leads, 50),  # type: ignore[arg-type]
                changes=len(leads),
                deployment_day=bool(deploys),
            )
        )
    return points
