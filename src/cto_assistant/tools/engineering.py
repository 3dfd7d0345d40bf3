"""Engineering tools: DORA, sprints, epics, ticket flow, code quality, pull requests, data health.

Each tool queries through `store.queries.engineering`, computes through `analytics/`, and
returns the figure with its n, its level or reason for N/A, the drill-down rows behind it and a
Vega-Lite chart where one helps. `engineering_summary(ctx)` feeds the executive summary.
"""

from __future__ import annotations

import random
import zlib
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from cto_assistant.analytics.delivery_health import CheckIn
from cto_assistant.analytics.delivery_health import delivery_data_quality as grade_checks
from cto_assistant.analytics.dora import (
    ChangeIn,
    DeploymentIn,
    DoraReport,
    IncidentIn,
    LeadTime,
    dora_report,
    grouped_lead_times,
    human_duration,
)
from cto_assistant.analytics.planning import (
    SprintIn,
    TicketIn,
    TransitionIn,
    epic_report,
    sprint_report,
)
from cto_assistant.analytics.planning import (
    ticket_lifecycle as lifecycle_report,
)
from cto_assistant.analytics.pull_requests import PullRequestIn, ReviewIn, pr_report
from cto_assistant.analytics.quality import SnapshotIn, quality_report
from cto_assistant.store.models import Deployment, Epic, Incident, Ticket, TicketTransition
from cto_assistant.store.queries import engineering as q
from cto_assistant.tools.base import ToolContext, ToolResult, no_data, ok, tool

LINK_WINDOW = timedelta(hours=24)
VEGA_SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json"
DELIVERY_TABLES = ("deployment", "deployment_change", "pull_request", "commit", "incident")


# ---------------------------------------------------------------------------- resolution


def _unknown(kind: str, resolved: q.Resolved) -> ToolResult:
    hint = f" Did you mean: {', '.join(resolved.candidates)}?" if resolved.candidates else ""
    return no_data(
        f"No {kind} matches {resolved.label!r}.{hint}",
        data={"unknown": kind, "given": resolved.label, "candidates": resolved.candidates},
    )


def _team(ctx: ToolContext, team: str | None) -> tuple[str | None, ToolResult | None]:
    if team is None:
        return None, None
    resolved = q.resolve_team(session=ctx.session, name=team)
    if resolved.value is None:
        return None, _unknown("team", resolved)
    return resolved.value, None


def _repo(ctx: ToolContext, repo: str | None) -> tuple[str | None, ToolResult | None]:
    if repo is None:
        return None, None
    resolved = q.resolve_repo(session=ctx.session, name=repo)
    if resolved.value is None:
        return None, _unknown("repository", resolved)
    return resolved.value, None


# ------------------------------------------------------------------------------------ DORA


def _squash(pr_number: int | None, carried: int) -> bool:
    """A PR of which the deployment carried nothing but the merge commit (squash-merged)."""
    return pr_number is not None and not carried


def _dora_inputs(
    ctx: ToolContext, *, since: datetime, services: Sequence[str] | None, team: str | None
) -> tuple[list[DeploymentIn], list[ChangeIn], list[IncidentIn], dict[str, str]]:
    """Deployments, changes and incidents since `since`; incident key → team key."""
    window: dict[str, Any] = {"since": since, "until": ctx.now, "services": services}
    deploys = [
        DeploymentIn(key, service, env, status, finished, started, bool(back), bool(fix), url)
        for key, service, env, status, finished, started, back, fix, url in (
            q.production_deployments(session=ctx.session, **window)
        )
    ]
    changes = [
        ChangeIn(
            key, repo, pr, sha, first, pr_first, opened, reviewed, merged, _squash(pr, carried)
        )
        for key, repo, pr, sha, first, pr_first, opened, reviewed, merged, carried in (
            q.deployment_changes(session=ctx.session, deployment_ids=[d.id for d in deploys])
        )
    ]
    incident_rows = q.incidents(session=ctx.session, team=team, **window)
    incidents = [
        IncidentIn(
            key=r.key,
            service=r.service,
            triggered_at=r.triggered_at,
            resolved_at=r.resolved_at,
            caused_by_deployment=r.caused_by_deployment,
            severity=r.severity,
            title=r.title,
        )
        for r in incident_rows
    ]
    return deploys, changes, incidents, {r.key: r.team_key for r in incident_rows}


def _compact(report: DoraReport) -> dict[str, Any]:
    return {
        "scope": report.scope,
        "level": report.overall_level,
        "score": report.overall_score,
        "deployments": report.deployments,
        "deploys_per_week": report.deployment_frequency.value,
        "lead_time_median_seconds": report.change_lead_time.value,
        "change_failure_rate": report.change_failure_rate.value,
        "change_failure_rate_n": report.change_failure_rate.n,
        "change_failure_rate_trend": report.change_failure_rate.trend,
        "change_failure_rate_previous": report.change_failure_rate.previous_value,
        "failed_deployment_recovery_seconds": report.failed_deployment_recovery.value,
        "rework_rate": report.rework_rate.value,
        "levels": {
            m.name: m.level
            for m in (
                report.deployment_frequency,
                report.change_lead_time,
                report.change_failure_rate,
                report.failed_deployment_recovery,
            )
        },
        "na": {
            m.name: m.na_reason
            for m in (
                report.change_lead_time,
                report.change_failure_rate,
                report.failed_deployment_recovery,
                report.time_to_restore,
            )
            if m.na_reason
        },
    }


def dora_by_team(
    ctx: ToolContext, *, days: int = 30
) -> tuple[DoraReport, dict[str, DoraReport]] | None:
    """The company-wide DORA report and one per team (None when no deployment is synced)."""
    if not q.has_rows(session=ctx.session, table=Deployment):
        return None
    start = ctx.now - timedelta(days=days)
    since = start - timedelta(days=days) - LINK_WINDOW
    owners = q.service_teams(session=ctx.session)
    deploys, changes, incidents, incident_teams = _dora_inputs(
        ctx, since=since, services=None, team=None
    )
    has_incidents = q.has_rows(session=ctx.session, table=Incident)
    common = _report_kwargs(ctx, days=days, incident_source=has_incidents)
    team_of_deploy = {d.id: owners.get(d.service or "") or "(no team)" for d in deploys}
    leads, team_leads = grouped_lead_times(deploys, changes, team_of_deploy)
    overall = dora_report(
        scope="company",
        deployments=deploys,
        changes=changes,
        incidents=incidents,
        leads=leads,
        **common,
    )
    teams = _group_reports(
        "team",
        deploys,
        incidents,
        group_of_deploy=team_of_deploy,
        group_of_incident=lambda i: (
            owners.get(i.service or "") or incident_teams.get(i.key) or "(no team)"
        ),
        leads=team_leads,
        common=common,
    )
    return overall, teams


def _group_reports(
    kind: str,
    deploys: Sequence[DeploymentIn],
    incidents: Sequence[IncidentIn],
    *,
    group_of_deploy: dict[str, str],
    group_of_incident: Callable[[IncidentIn], str],
    leads: dict[str, list[LeadTime]],
    common: dict[str, Any],
) -> dict[str, DoraReport]:
    """One DORA report per group that deployed, from each group's deploys, incidents, leads:
    the figures only (breakdowns show them, never a group's drill-down rows)."""
    grouped_d: dict[str, list[DeploymentIn]] = defaultdict(list)
    grouped_i: dict[str, list[IncidentIn]] = defaultdict(list)
    for deployment in deploys:
        grouped_d[group_of_deploy[deployment.id]].append(deployment)
    for incident in incidents:
        grouped_i[group_of_incident(incident)].append(incident)
    return {
        key: dora_report(
            scope=f"{kind} {key}",
            deployments=grouped_d[key],
            changes=[],
            incidents=grouped_i.get(key, []),
            leads=leads.get(key, []),
            drill_down=False,
            **common,
        )
        for key in sorted(grouped_d)
    }


def _report_kwargs(ctx: ToolContext, *, days: int, incident_source: bool) -> dict[str, Any]:
    return {
        "window_start": ctx.now - timedelta(days=days),
        "window_end": ctx.now,
        "incident_source": incident_source,
        "link_window": LINK_WINDOW,
        "granularity": "day" if days <= 31 else "week",
    }


def _dora_sentence(label: str, report: DoraReport) -> str:
    df, lt, cfr, fdr = (
        report.deployment_frequency,
        report.change_lead_time,
        report.change_failure_rate,
        report.failed_deployment_recovery,
    )
    cfr_text = (
        f"{cfr.value:.0%} change failure rate ({cfr.numerator} of {cfr.n}"
        + (f", {cfr.trend}" if cfr.trend and cfr.trend != "flat" else "")
        + ")"
        if cfr.value is not None
        else f"change failure rate {cfr.na_reason}"
    )
    level = (
        f"{report.overall_level} ({report.overall_score}/10)" if report.overall_level else "unrated"
    )
    return (
        f"{df.value:.1f} deploys/week, {human_duration(lt.value)} median lead time, {cfr_text}, "
        f"{human_duration(fdr.value)} recovery: {label} is {level}."
    )


def _dora_chart(report: DoraReport) -> dict[str, Any]:
    values = [
        {
            "date": p.start.isoformat(),
            "deployments": p.deployments,
            "failures": p.failures,
            "cfr": p.change_failure_rate,
        }
        for p in report.trend
    ]
    return {
        "$schema": VEGA_SCHEMA,
        "title": f"Production deployments and failures — {report.scope}",
        "data": {"values": values},
        "layer": [
            {
                "mark": {"type": "bar", "opacity": 0.7},
                "encoding": {
                    "x": {"field": "date", "type": "temporal", "title": None},
                    "y": {"field": "deployments", "type": "quantitative", "title": "deployments"},
                    "tooltip": [
                        {"field": "date", "type": "temporal"},
                        {"field": "deployments"},
                        {"field": "failures"},
                    ],
                },
            },
            {
                "mark": {"type": "bar", "color": "#d62728"},
                "encoding": {
                    "x": {"field": "date", "type": "temporal"},
                    "y": {"field": "failures", "type": "quantitative"},
                },
            },
        ],
    }


@tool(domain="delivery")
def dora_metrics(
    ctx: ToolContext, *, team: str | None = None, service: str | None = None, days: int = 30
) -> ToolResult:
    """DORA's five keys with levels, n and trend, for a team, a service or the company."""
    days = max(1, min(days, 730))
    team_key, problem = _team(ctx, team)
    if problem:
        return problem
    service_name: str | None = None
    if service is not None:
        resolved = q.resolve_service(session=ctx.session, name=service)
        if resolved.value is None:
            return _unknown("service", resolved)
        service_name = resolved.value
    sources = ctx.sources_for(*DELIVERY_TABLES)
    if not q.has_rows(session=ctx.session, table=Deployment):
        return no_data(
            "No deployments synced yet: connect a CI/CD source to measure DORA.", sources=sources
        )
    has_incidents = q.has_rows(session=ctx.session, table=Incident)
    if service_name is None and team_key is None:
        found = dora_by_team(ctx, days=days)
        assert found is not None
        overall, teams = found
        names = q.team_names(session=ctx.session)
        breakdown = [dict(_compact(r), team=k, name=names.get(k, k)) for k, r in teams.items()]
        return ok(
            {
                "report": overall.model_dump(mode="json"),
                "breakdown_by": "team",
                "breakdown": breakdown,
            },
            summary=_dora_sentence("the company", overall),
            sources=sources,
            chart=_dora_chart(overall),
        )
    owners = q.service_teams(session=ctx.session)
    if service_name is not None:
        services = [service_name]
        label = service_name
    else:
        services = sorted(s for s, t in owners.items() if t == team_key)
        label = q.team_names(session=ctx.session).get(team_key or "", team_key or "")
    start = ctx.now - timedelta(days=days)
    deploys, changes, incidents, _ = _dora_inputs(
        ctx,
        since=start - timedelta(days=days) - LINK_WINDOW,
        services=services,
        team=team_key if service_name is None else None,
    )
    common = _report_kwargs(ctx, days=days, incident_source=has_incidents)
    scope = f"service {service_name}" if service_name else f"team {team_key}"
    service_of_deploy = {d.id: d.service or "" for d in deploys}
    leads, service_leads = grouped_lead_times(deploys, changes, service_of_deploy)
    report = dora_report(
        scope=scope,
        deployments=deploys,
        changes=changes,
        incidents=incidents,
        leads=leads,
        **common,
    )
    breakdown = []
    if service_name is None:
        per_service = _group_reports(
            "service",
            deploys,
            incidents,
            group_of_deploy=service_of_deploy,
            group_of_incident=lambda i: i.service or "",
            leads=service_leads,
            common=common,
        )
        breakdown = [
            dict(_compact(per_service[name]), service=name)
            for name in services
            if name in per_service
        ]
    return ok(
        {
            "report": report.model_dump(mode="json"),
            "breakdown_by": "service",
            "breakdown": breakdown,
            "team": team_key,
            "service": service_name,
        },
        summary=_dora_sentence(label, report),
        sources=sources,
        chart=_dora_chart(report),
    )


# -------------------------------------------------------------------------------- planning


def _ticket_in(row: Ticket) -> TicketIn:
    return TicketIn(
        key=row.key,
        status=row.status,
        status_category=row.status_category,
        points=row.story_points,
        sprints=tuple(str(s) for s in row.sprint_source_ids or ()),
        epic=row.epic_key,
        created_at=row.created_at,
        resolved_at=row.resolved_at,
        summary=row.summary,
        assignee=row.assignee,
        type=row.type,
        labels=tuple(row.labels or ()),
    )


def _transition_in(row: TicketTransition) -> TransitionIn:
    return TransitionIn(
        ticket=row.ticket_key,
        field=row.field,
        from_value=row.from_value,
        to_value=row.to_value,
        at=row.at,
    )


@tool(domain="delivery")
def sprint_status(ctx: ToolContext, *, team: str | None = None) -> ToolResult:
    """Active sprint progress: committed vs done points, scope change, at-risk items."""
    team_key, problem = _team(ctx, team)
    if problem:
        return problem
    sources = ctx.sources_for("sprint", "ticket", "ticket_transition")
    active = q.sprints(session=ctx.session, team=team_key, state="active")
    if not active:
        return no_data(
            f"No active sprint{' for ' + team_key if team_key else ''} in the synced Jira data.",
            sources=sources,
        )
    by_sprint = q.sprints_tickets(session=ctx.session, sprint_ids=[s.source_id for s in active])
    every = sorted({t.key for tickets in by_sprint.values() for t in tickets})
    moves_of: dict[str, list[Any]] = {}
    for move in q.transitions(session=ctx.session, ticket_keys=every):  # oldest first
        moves_of.setdefault(move.ticket_key, []).append(move)
    reports = []
    for sprint in active:
        tickets = by_sprint[sprint.source_id]
        moves = sorted(
            (m for t in tickets for m in moves_of.get(t.key, ())), key=lambda m: (m.at, m.source_id)
        )
        reports.append(
            sprint_report(
                sprint=SprintIn(
                    id=sprint.source_id,
                    name=sprint.name,
                    state=sprint.state,
                    start_at=sprint.start_at,
                    end_at=sprint.end_at,
                    team=sprint.team_key,
                ),
                tickets=[_ticket_in(t) for t in tickets],
                transitions=[_transition_in(m) for m in moves],
                now=ctx.now,
            )
        )
    if len(reports) == 1:
        r = reports[0]
        ratio = f"{r.completion_ratio:.0%}" if r.completion_ratio is not None else "N/A"
        summary = (
            f"{ratio} done ({r.completed_points:g} of {r.scope_points:g} points) in {r.name} after "
            f"{r.days_elapsed:.0f} of {r.days_total:.0f} days; committed {r.committed_points:g}, "
            f"+{r.added_points:g}/-{r.removed_points:g} scope change, {r.at_risk_total} at risk."
        )
        chart = _burndown_chart(r)
    else:
        risky = sum(1 for r in reports if r.on_track is False)
        summary = (
            f"{len(reports)} active sprints, {risky} behind plan; "
            f"{sum(r.at_risk_total for r in reports)} items at risk."
        )
        chart = None
    return ok(
        {"sprints": [r.model_dump(mode="json") for r in reports]},
        summary=summary,
        sources=sources,
        chart=chart,
    )


def _burndown_chart(report: Any) -> dict[str, Any]:
    values = []
    for p in report.burndown:
        values.append(
            {"day": p.day.isoformat(), "series": "remaining", "points": p.remaining_points}
        )
        values.append({"day": p.day.isoformat(), "series": "ideal", "points": p.ideal_remaining})
        values.append({"day": p.day.isoformat(), "series": "scope", "points": p.scope_points})
        values.append(
            {"day": p.day.isoformat(), "series": "completed", "points": p.completed_points}
        )
    return {
        "$schema": VEGA_SCHEMA,
        "title": f"{report.name}: burndown and burnup",
        "data": {"values": values},
        "mark": {"type": "line", "point": True},
        "encoding": {
            "x": {"field": "day", "type": "temporal", "title": None},
            "y": {"field": "points", "type": "quantitative"},
            "color": {"field": "series", "type": "nominal"},
            "strokeDash": {
                "condition": {"test": "datum.series === 'ideal'", "value": [4, 4]},
                "value": [1, 0],
            },
        },
    }


@tool(domain="delivery")
def epic_status(ctx: ToolContext, *, epic: str) -> ToolResult:
    """An epic's progress, remaining work, burnup and Monte Carlo forecast vs its due date."""
    resolved = q.resolve_epic(session=ctx.session, name=epic)
    sources = ctx.sources_for("epic", "ticket")
    if resolved.value is None:
        return _unknown("epic", resolved)
    row = q.epic_by_key(session=ctx.session, key=resolved.value)
    assert row is not None
    tickets = [_ticket_in(t) for t in q.epic_tickets(session=ctx.session, epic_key=row.key)]
    if not tickets:
        return no_data(f"Epic {row.name} ({row.key}) has no tickets yet.", sources=sources)
    team_done = [
        t.resolved_at
        for t in q.team_tickets(session=ctx.session, team=row.team_key)
        if t.status_category == "done" and t.resolved_at is not None
    ]
    report = epic_report(
        key=row.key,
        name=row.name,
        team=row.team_key,
        due_date=row.due_date,
        created_at=row.created_at,
        tickets=tickets,
        team_done_times=team_done,
        now=ctx.now,
        rng=random.Random(zlib.crc32(row.key.encode())),
    )
    f = report.forecast
    when = f"forecast {f.p50_date} (P50) / {f.p85_date} (P85)" if f.p50_date else f.why
    due = f" vs due {report.due_date}" if report.due_date else ""
    summary = (
        f"{report.progress:.0%} done ({report.done_points:g} of {report.total_points:g} points, "
        f"{report.remaining_items} items left) on {report.name}; {when}{due}: {f.verdict.replace('_', ' ')}."
    )
    values = [
        {"week": p.week.isoformat(), "series": s, "points": v}
        for p in report.burnup
        for s, v in (("scope", p.scope_points), ("done", p.done_points))
    ]
    layers: list[dict[str, Any]] = [
        {
            "mark": {"type": "line", "point": True},
            "encoding": {
                "x": {"field": "week", "type": "temporal", "title": None},
                "y": {"field": "points", "type": "quantitative"},
                "color": {"field": "series", "type": "nominal"},
            },
        }
    ]
    marks = [
        (d, label)
        for d, label in ((report.due_date, "due"), (f.p50_date, "P50"), (f.p85_date, "P85"))
        if d
    ]
    if marks:
        layers.append(
            {
                "data": {"values": [{"date": d.isoformat(), "label": label} for d, label in marks]},
                "mark": {"type": "rule", "strokeDash": [4, 4]},
                "encoding": {
                    "x": {"field": "date", "type": "temporal"},
                    "color": {"field": "label", "type": "nominal"},
                },
            }
        )
    chart = {
        "$schema": VEGA_SCHEMA,
        "title": f"{report.name}: burnup and forecast",
        "data": {"values": values},
        "layer": layers,
    }
    return ok(report.model_dump(mode="json"), summary=summary, sources=sources, chart=chart)


@tool(domain="delivery")
def ticket_lifecycle(ctx: ToolContext, *, team: str | None = None, days: int = 30) -> ToolResult:
    """Time in each status, throughput, WIP and ageing WIP of tickets."""
    days = max(1, min(days, 730))
    team_key, problem = _team(ctx, team)
    if problem:
        return problem
    sources = ctx.sources_for("ticket", "ticket_transition")
    if not q.has_rows(session=ctx.session, table=Ticket):
        return no_data("No Jira tickets synced yet.", sources=sources)
    tickets = q.team_tickets(session=ctx.session, team=team_key)
    moves = q.transitions(
        session=ctx.session,
        ticket_keys=[t.key for t in tickets] if team_key else None,
        field="status",
    )
    report = lifecycle_report(
        tickets=[_ticket_in(t) for t in tickets],
        transitions=[_transition_in(m) for m in moves],
        window_start=ctx.now - timedelta(days=days),
        window_end=ctx.now,
    )
    slowest = max(
        (s for s in report.time_in_status if s.category == "indeterminate"),
        key=lambda s: s.median_seconds or 0,
        default=None,
    )
    summary = (
        f"{report.throughput_per_week:.1f} tickets/week finished ({report.completed} in {days} "
        f"days), cycle time {human_duration(report.cycle_time.median)} median, {report.wip} in "
        f"progress ({report.ageing_over_p85} ageing)"
        + (
            f"; longest wait: {slowest.status} ({human_duration(slowest.median_seconds)})"
            if slowest
            else ""
        )
        + "."
    )
    chart = {
        "$schema": VEGA_SCHEMA,
        "title": "Median time in status",
        "data": {
            "values": [
                {"status": s.status, "hours": (s.median_seconds or 0) / 3600}
                for s in report.time_in_status
            ]
        },
        "mark": "bar",
        "encoding": {
            "y": {"field": "status", "type": "nominal", "sort": None},
            "x": {"field": "hours", "type": "quantitative", "title": "median hours"},
        },
    }
    return ok(report.model_dump(mode="json"), summary=summary, sources=sources, chart=chart)


# --------------------------------------------------------------------------------- quality


@tool(domain="delivery")
def code_quality(
    ctx: ToolContext, *, repo: str | None = None, team: str | None = None
) -> ToolResult:
    """Coverage, debt, smells, bugs and quality gates per repo and team, with 30-day deltas."""
    repo_name, problem = _repo(ctx, repo)
    if problem:
        return problem
    team_key, problem = _team(ctx, team)
    if problem:
        return problem
    sources = ctx.sources_for("quality_snapshot")
    owners = q.repo_teams(session=ctx.session)
    repos = None
    if repo_name is not None:
        repos = [repo_name]
    elif team_key is not None:
        repos = sorted(r for r, t in owners.items() if t == team_key)
    rows = q.quality_snapshots(session=ctx.session, since=ctx.now - timedelta(days=75), repos=repos)
    snapshots = [
        SnapshotIn(
            repo=r.repo,
            at=r.at,
            coverage=r.coverage,
            tech_debt_minutes=r.tech_debt_minutes,
            code_smells=r.code_smells,
            bugs=r.bugs,
            vulnerabilities=r.vulnerabilities,
            duplicated_lines_density=r.duplicated_lines_density,
            ncloc=r.ncloc,
            quality_gate=r.quality_gate,
        )
        for r in rows
    ]
    report = quality_report(snapshots, repo_teams=owners, now=ctx.now)
    if not report.repos_total:
        scope = repo_name or team_key or "any repository"
        return no_data(
            f"No code-quality analyses for {scope} in the last 75 days.", sources=sources
        )
    o = report.overall
    delta = f" ({o.coverage_delta:+.1f} pts in 30 days)" if o.coverage_delta is not None else ""
    label = repo_name or (f"team {team_key}" if team_key else "all repositories")
    summary = (
        f"{o.coverage:.1f}% coverage{delta}, {o.failing_gates} failing quality gate(s), "
        f"{o.tech_debt_minutes / 480:.0f} days of debt, {o.bugs} bugs across {report.repos_total} "
        f"repo(s) ({label})."
    )
    chart = {
        "$schema": VEGA_SCHEMA,
        "title": "Coverage by repository",
        "data": {
            "values": [
                {"repo": r.repo, "coverage": r.coverage, "gate": r.quality_gate}
                for r in report.repos
            ]
        },
        "mark": "bar",
        "encoding": {
            "y": {"field": "repo", "type": "nominal", "sort": "x"},
            "x": {"field": "coverage", "type": "quantitative", "title": "coverage %"},
            "color": {"field": "gate", "type": "nominal"},
        },
    }
    return ok(report.model_dump(mode="json"), summary=summary, sources=sources, chart=chart)


# --------------------------------------------------------------------------- pull requests


@tool(domain="delivery")
def pr_insights(
    ctx: ToolContext, *, team: str | None = None, repo: str | None = None, days: int = 30
) -> ToolResult:
    """PR cycle time split, merge and abandon rates, review load and PRs waiting on review."""
    days = max(1, min(days, 730))
    team_key, problem = _team(ctx, team)
    if problem:
        return problem
    repo_name, problem = _repo(ctx, repo)
    if problem:
        return problem
    sources = ctx.sources_for("pull_request", "review")
    owners = q.repo_teams(session=ctx.session)
    repos = None
    if repo_name is not None:
        repos = [repo_name]
    elif team_key is not None:
        repos = sorted(r for r, t in owners.items() if t == team_key)
    start = ctx.now - timedelta(days=days)
    prs = [
        PullRequestIn(*row)
        for row in q.pull_requests(session=ctx.session, since=start, repos=repos)
    ]
    if not prs:
        return no_data("No pull requests in the window.", sources=sources)
    reviews = [
        ReviewIn(*row)
        for row in q.reviews(session=ctx.session, since=start, until=ctx.now, repos=repos)
    ]
    deployed = q.first_production_deploys(session=ctx.session, since=start, repos=repos)
    report = pr_report(
        prs,
        reviews,
        repo_teams=owners,
        window_start=start,
        window_end=ctx.now,
        now=ctx.now,
        deployed_at=deployed,
    )
    o = report.overall
    share = f"{o.top20_review_share:.0%}" if o.top20_review_share is not None else "N/A"
    merge = f"{o.merge_rate.value:.0%}" if o.merge_rate.value is not None else "N/A"
    summary = (
        f"{human_duration(o.cycle_time.median)} median PR cycle time over {o.merged} merged PRs "
        f"(coding {human_duration(o.coding.median)}, pickup {human_duration(o.pickup.median)}, "
        f"review {human_duration(o.review.median)}); {merge} merged, top 20% of reviewers do "
        f"{share} of reviews, {report.waiting_total} waiting on review."
    )
    split = [
        {"group": f.group, "phase": phase, "hours": (getattr(f, phase).median or 0) / 3600}
        for f in (report.teams if repo_name is None else report.repos)
        for phase in ("coding", "pickup", "review", "deploy")
    ]
    chart = {
        "$schema": VEGA_SCHEMA,
        "title": "PR cycle time split (median hours)",
        "data": {"values": split},
        "mark": "bar",
        "encoding": {
            "y": {"field": "group", "type": "nominal"},
            "x": {"field": "hours", "type": "quantitative", "stack": "zero"},
            "color": {
                "field": "phase",
                "type": "nominal",
                "sort": ["coding", "pickup", "review", "deploy"],
            },
        },
    }
    return ok(report.model_dump(mode="json"), summary=summary, sources=sources, chart=chart)


# ----------------------------------------------------------------------------- data health


@tool(domain="delivery")
def delivery_data_quality(ctx: ToolContext) -> ToolResult:
    """Delivery set-up problems that make DORA wrong, each with examples and the fix."""
    sources = ctx.sources_for("deployment", "incident", "pull_request")
    if not q.has_rows(session=ctx.session, table=Deployment) and not q.has_rows(
        session=ctx.session, table=Incident
    ):
        return no_data("No deployments or incidents synced yet.", sources=sources)
    findings = q.delivery_findings(session=ctx.session, since=ctx.now - timedelta(days=90))
    report = grade_checks(
        [
            CheckIn(check=f.check, count=f.count, total=f.total, examples=f.examples, fix=f.fix)
            for f in findings
        ]
    )
    summary = (
        f"{report.problems} delivery data problem(s) in the last 90 days: {report.why}."
        if report.problems
        else "0 delivery data problems in the last 90 days."
    )
    return ok(report.model_dump(mode="json"), summary=summary, sources=sources)


# ---------------------------------------------------------------------------------- summary


def engineering_summary(ctx: ToolContext) -> dict[str, Any]:
    """The engineering part of the executive summary: DORA per team, rising CFR, slipping epics."""
    out: dict[str, Any] = {
        "dora": None,
        "teams": [],
        "rising_change_failure": [],
        "epics_at_risk": [],
        "failing_quality_gates": None,
    }
    found = dora_by_team(ctx, days=30)
    if found is not None:
        overall, teams = found
        out["dora"] = _compact(overall)
        out["teams"] = [dict(_compact(r), team=k) for k, r in teams.items()]
        out["rising_change_failure"] = [
            k for k, r in teams.items() if r.change_failure_rate.trend == "rising"
        ]
    horizon = ctx.now.date() + timedelta(days=60)
    epics = ctx.session.scalars(
        sa.select(Epic).where(
            Epic.done.is_(False), Epic.due_date.is_not(None), Epic.due_date <= horizon
        )
    ).all()
    for epic in epics:
        result = epic_status(ctx, epic=epic.key)
        if result.status == "ok" and result.data["forecast"]["verdict"] in ("late", "at_risk"):
            out["epics_at_risk"].append(
                {
                    "epic": epic.name,
                    "key": epic.key,
                    "team": epic.team_key,
                    "due_date": result.data["due_date"],
                    "verdict": result.data["forecast"]["verdict"],
                    "p50_date": result.data["forecast"]["p50_date"],
                    "p85_date": result.data["forecast"]["p85_date"],
                    "progress": result.data["progress"],
                }
            )
    quality = code_quality(ctx)
    if quality.status == "ok":
        out["failing_quality_gates"] = quality.data["overall"]["failing_gates"]
    return out


__all__ = [
    "code_quality",
    "delivery_data_quality",
    "dora_by_team",
    "dora_metrics",
    "engineering_summary",
    "epic_status",
    "pr_insights",
    "sprint_status",
    "ticket_lifecycle",
]
