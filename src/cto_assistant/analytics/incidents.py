"""Incidents: what is open now, how fast teams respond, who gets paged, what we learned.

Definitions (docs/metrics/operations.md):
- active = not resolved; age = now - triggered;
- MTTA = mean of acknowledged - triggered over incidents triggered in the window and
  acknowledged; MTTR = mean of resolved - triggered over incidents triggered in the window and
  resolved (medians are given beside the means: one long incident moves a mean);
- a page = an incident assigned to a person; it is after hours when it was triggered outside
  09:00-18:00 Monday-Friday in that person's own time zone (UTC when unknown);
- responders = the assignee plus everyone who acted on the timeline;
- a postmortem is expected for every resolved SEV-1/SEV-2; its follow-ups are the tickets that
  reference the incident, open while their status category is not done.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from cto_assistant.analytics.timeutil import is_business_hours, zone

MAJOR = ("SEV-1", "SEV-2")


def severity_rank(severity: str | None) -> int:
    """1 for SEV-1 … 5 for SEV-5; 9 when unknown (sorts last)."""
    if severity and severity.upper().startswith("SEV-") and severity[4:].isdigit():
        return int(severity[4:])
    return 9


@dataclass(frozen=True, slots=True)
class IncidentRecord:
    """An incident as stored."""

    key: str
    title: str
    service: str | None
    team: str | None
    severity: str | None
    urgency: str | None
    status: str
    triggered_at: datetime
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None
    assignee: str | None = None
    caused_by_deployment: str | None = None
    postmortem_url: str | None = None
    url: str | None = None


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One entry of an incident's timeline."""

    at: datetime
    kind: str
    actor: str | None
    summary: str | None


@dataclass(frozen=True, slots=True)
class IncidentView:
    """An incident with its age, responders and timeline."""

    key: str
    title: str
    service: str | None
    team: str | None
    severity: str | None
    status: str
    assignee: str | None
    triggered_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    age_minutes: float
    minutes_to_acknowledge: float | None
    minutes_to_resolve: float | None
    responders: list[str]
    timeline: list[TimelineEntry]
    caused_by_deployment: str | None
    postmortem_url: str | None
    url: str | None


def view(
    incident: IncidentRecord, events: Sequence[TimelineEntry], *, now: datetime
) -> IncidentView:
    """An incident with its timeline (oldest first), responders and ages at `now`."""
    timeline = sorted(events, key=lambda e: (e.at, e.kind))
    responders = list(
        dict.fromkeys([a for a in [incident.assignee, *(e.actor for e in timeline)] if a])
    )
    end = incident.resolved_at or now
    return IncidentView(
        key=incident.key,
        title=incident.title,
        service=incident.service,
        team=incident.team,
        severity=incident.severity,
        status=incident.status,
        assignee=incident.assignee,
        triggered_at=incident.triggered_at,
        acknowledged_at=incident.acknowledged_at,
        resolved_at=incident.resolved_at,
        age_minutes=(end - incident.triggered_at).total_seconds() / 60,
        minutes_to_acknowledge=_minutes(incident.triggered_at, incident.acknowledged_at),
        minutes_to_resolve=_minutes(incident.triggered_at, incident.resolved_at),
        responders=responders,
        timeline=timeline,
        caused_by_deployment=incident.caused_by_deployment,
        postmortem_url=incident.postmortem_url,
        url=incident.url,
    )


def _minutes(start: datetime, end: datetime | None) -> float | None:
    return (end - start).total_seconds() / 60 if end is not None else None


def active(
    incidents: Iterable[IncidentRecord],
    events: Mapping[str, Sequence[TimelineEntry]],
    *,
    now: datetime,
) -> list[IncidentView]:
    """Unresolved incidents, most severe first, then oldest first."""
    open_ = [i for i in incidents if i.resolved_at is None and i.status != "resolved"]
    views = [view(i, events.get(i.key, ()), now=now) for i in open_]
    views.sort(key=lambda v: (severity_rank(v.severity), v.triggered_at, v.key))
    return views


@dataclass(frozen=True, slots=True)
class ResponseTimes:
    """Counts and response times of one group of incidents."""

    incidents: int
    acknowledged: int
    resolved: int
    mtta_minutes: float | None
    mttr_minutes: float | None
    median_tta_minutes: float | None
    median_ttr_minutes: float | None


def response_times(incidents: Sequence[IncidentRecord]) -> ResponseTimes:
    """MTTA and MTTR (means and medians, in minutes) of `incidents`."""
    tta = [m for i in incidents if (m := _minutes(i.triggered_at, i.acknowledged_at)) is not None]
    ttr = [m for i in incidents if (m := _minutes(i.triggered_at, i.resolved_at)) is not None]
    return ResponseTimes(
        incidents=len(incidents),
        acknowledged=len(tta),
        resolved=len(ttr),
        mtta_minutes=statistics.fmean(tta) if tta else None,
        mttr_minutes=statistics.fmean(ttr) if ttr else None,
        median_tta_minutes=statistics.median(tta) if tta else None,
        median_ttr_minutes=statistics.median(ttr) if ttr else None,
    )


def grouped_response_times(
    incidents: Sequence[IncidentRecord], key: Callable[[IncidentRecord], str | None]
) -> dict[str, ResponseTimes]:
    """Response times per group (groups sorted by name; None becomes '(none)')."""
    groups: dict[str, list[IncidentRecord]] = defaultdict(list)
    for incident in incidents:
        groups[key(incident) or "(none)"].append(incident)
    return {name: response_times(groups[name]) for name in sorted(groups, key=_group_sort)}


def _group_sort(name: str) -> tuple[int, str]:
    return severity_rank(name), name


@dataclass(frozen=True, slots=True)
class PagerLoad:
    """Pages one person received and how many came after their working hours."""

    person: str
    name: str | None
    team: str | None
    timezone: str | None
    pages: int
    after_hours: int
    after_hours_share: float
    incidents: list[str] = field(default_factory=list)


def pager_load(
    incidents: Sequence[IncidentRecord],
    *,
    people: Mapping[str, tuple[str | None, str | None, str | None]],
) -> list[PagerLoad]:
    """Pages per assignee with after-hours pages in each person's time zone, busiest first.

    `people` maps an assignee (e-mail) to (name, team, IANA time zone).
    """
    by_person: dict[str, list[IncidentRecord]] = defaultdict(list)
    for incident in incidents:
        if incident.assignee:
            by_person[incident.assignee].append(incident)
    loads = []
    for person, pages in by_person.items():
        name, team, tz_name = people.get(person, (None, None, None))
        tz = zone(tz_name)
        after = [i for i in pages if not is_business_hours(i.triggered_at, tz)]
        loads.append(
            PagerLoad(
                person=person,
                name=name,
                team=team,
                timezone=tz_name if tz is not None else None,
                pages=len(pages),
                after_hours=len(after),
                after_hours_share=len(after) / len(pages),
                incidents=sorted(i.key for i in pages),
            )
        )
    loads.sort(key=lambda load: (-load.pages, -load.after_hours, load.person))
    return loads


@dataclass(frozen=True, slots=True)
class FollowUp:
    """A ticket that follows up an incident."""

    key: str
    summary: str | None
    status: str | None
    done: bool
    assignee: str | None


@dataclass(frozen=True, slots=True)
class PostmortemItem:
    """A resolved incident that needs (or has) a postmortem, with its follow-ups."""

    key: str
    title: str
    service: str | None
    team: str | None
    severity: str | None
    resolved_at: datetime | None
    postmortem_url: str | None
    missing: bool
    follow_ups: list[FollowUp]
    open_follow_ups: int


def postmortems(
    incidents: Sequence[IncidentRecord], follow_ups: Mapping[str, Sequence[FollowUp]]
) -> list[PostmortemItem]:
    """Resolved incidents with a postmortem, and major ones missing it; newest first."""
    items = []
    for incident in incidents:
        if incident.resolved_at is None:
            continue
        major = incident.severity in MAJOR
        if incident.postmortem_url is None and not major:
            continue
        tickets = list(follow_ups.get(incident.key, ()))
        items.append(
            PostmortemItem(
                key=incident.key,
                title=incident.title,
                service=incident.service,
                team=incident.team,
                severity=incident.severity,
                resolved_at=incident.resolved_at,
                postmortem_url=incident.postmortem_url,
                missing=incident.postmortem_url is None,
                follow_ups=tickets,
                open_follow_ups=sum(not t.done for t in tickets),
            )
        )
    items.sort(key=lambda item: (item.resolved_at or datetime.min, item.key), reverse=True)
    return items
