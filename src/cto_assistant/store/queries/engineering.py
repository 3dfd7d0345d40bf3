"""Engineering queries: delivery, planning, quality and pull-request rows for the analytics.

Functions take keyword-only arguments and return plain rows (SQLAlchemy `Row` tuples with
attribute access; the large delivery reads stream them, in the order of the analytics' input
fields) or small dataclasses; joins and aggregation that touch large tables run in SQL (lead
time reads the commit and PR facts each deployment change row holds, see `lead_time_facts`).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from cto_assistant.store import lead_time_facts
from cto_assistant.store.models import (
    Commit,
    Deployment,
    DeploymentChange,
    Epic,
    Incident,
    LeadTimeChange,
    PullRequest,
    QualitySnapshot,
    Repository,
    Review,
    Service,
    Sprint,
    Team,
    Ticket,
    TicketTransition,
)

PRODUCTION_NAMES = ("production", "prod", "prd", "live")
AnyRow = sa.Row[*tuple[Any, ...]]  # a row of any width: unpacks into its columns
IN_CHUNK = 500
SAMPLE = 20


# ------------------------------------------------------------------------------ resolution


@dataclass(frozen=True)
class Resolved:
    """An entity name resolved against the store: the canonical value, or close candidates."""

    value: str | None
    label: str
    candidates: list[str] = field(default_factory=list)


def _resolve(name: str, options: dict[str, str], labels: dict[str, str]) -> Resolved:
    """Match `name` case-insensitively against `options` (alias → value); else suggest."""
    wanted = name.strip().lower()
    if wanted in options:
        value = options[wanted]
        return Resolved(value=value, label=labels.get(value, value))
    partial = sorted({v for alias, v in options.items() if wanted and wanted in alias})
    if len(partial) == 1:
        return Resolved(value=partial[0], label=labels.get(partial[0], partial[0]))
    close = difflib.get_close_matches(wanted, list(options), n=8, cutoff=0.5)
    ranked = [labels.get(v, v) for v in partial] + [
        labels.get(options[c], options[c]) for c in close
    ]
    candidates = list(dict.fromkeys(ranked))  # best first, without repeats
    return Resolved(value=None, label=name, candidates=candidates[:8])


def resolve_team(*, session: Session, name: str) -> Resolved:
    """A team by key, name or Jira project, case-insensitively ("PAY", "payments")."""
    options: dict[str, str] = {}
    labels: dict[str, str] = {}
    for key, team_name, project in session.execute(
        sa.select(Team.key, Team.name, Team.jira_project)
    ):
        for alias in (key, team_name, project):
            if alias:
                options.setdefault(alias.lower(), key)
        labels[key] = f"{team_name} ({key})"
    return _resolve(name, options, labels)


def resolve_service(*, session: Session, name: str) -> Resolved:
    """A service by name, case-insensitively (deployments' services count too)."""
    names = set(session.scalars(sa.select(Service.name))) | {
        s for s in session.scalars(sa.select(Deployment.service).distinct()) if s
    }
    return _resolve(name, {n.lower(): n for n in names}, {})


def resolve_repo(*, session: Session, name: str) -> Resolved:
    """A repository by full name or short name ("acme/checkout-service" or "checkout-service")."""
    names = set(session.scalars(sa.select(Repository.full_name))) | set(
        session.scalars(sa.select(QualitySnapshot.repo).distinct())
    )
    options: dict[str, str] = {}
    for full in names:
        options[full.lower()] = full
        options.setdefault(full.rsplit("/", 1)[-1].lower(), full)
    return _resolve(name, options, {})


def resolve_epic(*, session: Session, name: str) -> Resolved:
    """An epic by key or name, case-insensitively ("PAY-31" or "Q2-Payments-Refactor")."""
    options: dict[str, str] = {}
    labels: dict[str, str] = {}
    for key, epic_name in session.execute(sa.select(Epic.key, Epic.name)):
        options[key.lower()] = key
        options.setdefault(epic_name.lower(), key)
        labels[key] = f"{epic_name} ({key})"
    return _resolve(name, options, labels)


# ------------------------------------------------------------------------------- ownership


def team_names(*, session: Session) -> dict[str, str]:
    """Team key → team name."""
    return {key: name for key, name in session.execute(sa.select(Team.key, Team.name))}


def service_teams(*, session: Session) -> dict[str, str | None]:
    """Service name → owning team key (from the service catalogue, else the repository)."""
    found: dict[str, str | None] = {
        name: team for name, team in session.execute(sa.select(Service.name, Service.team_key))
    }
    for service, team in session.execute(
        sa.select(Repository.service, Repository.team_key).where(Repository.service.is_not(None))
    ):
        if service and not found.get(service):
            found[service] = team
    return found


def repo_teams(*, session: Session) -> dict[str, str | None]:
    """Repository full name → owning team key."""
    return {
        name: team
        for name, team in session.execute(sa.select(Repository.full_name, Repository.team_key))
    }


def has_rows(*, session: Session, table: type[Any]) -> bool:
    """Whether any row of a table exists (a source feeds it)."""
    return session.scalar(sa.select(sa.literal(1)).select_from(table).limit(1)) is not None


# ------------------------------------------------------------------------------------ DORA


def _production(environment: Any = Deployment.environment) -> sa.ColumnElement[bool]:
    return sa.func.lower(sa.func.trim(environment)).in_(PRODUCTION_NAMES)


def _table(model: type[Any]) -> sa.Table:
    """A mapped class's table: a select of its columns runs as Core, without the ORM's per-row
    loading (a third of the time of reading ten thousand rows)."""
    table = model.__table__
    assert isinstance(table, sa.Table)
    return table


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), IN_CHUNK):
        yield values[start : start + IN_CHUNK]


def _production_in(
    d: sa.Table, since: datetime, until: datetime | None = None
) -> list[sa.ColumnElement[bool]]:
    """Successful production deployments finished in [since, until) (no end when None)."""
    where = [d.c.status == "success", _production(d.c.environment), d.c.finished_at >= since]
    return where if until is None else [*where, d.c.finished_at < until]


def _per_services(
    session: Session,
    services: Sequence[str] | None,
    query_for: Callable[[sa.ColumnElement[bool]], sa.Executable],
) -> Iterator[AnyRow]:
    """The rows of `query_for(deployment filter)`: of the given services, a chunk of them per
    query, or of all. Streamed (rows are read as they are used, never held in a list)."""
    service = _table(Deployment).c.service
    if services is None:
        yield from session.execute(query_for(sa.true()))
        return
    for chunk in _chunks(list(services)):
        yield from session.execute(query_for(service.in_(chunk)))


def production_deployments(
    *, session: Session, since: datetime, until: datetime, services: Sequence[str] | None = None
) -> Iterator[AnyRow]:
    """Successful production deployments that finished in [since, until), streamed.

    Columns in `DeploymentIn` order: id, service, environment, status, finished_at,
    started_at, is_rollback, is_hotfix, url.
    """
    d = _table(Deployment)
    query = sa.select(
        d.c.source_id.label("id"),
        d.c.service,
        d.c.environment,
        d.c.status,
        d.c.finished_at,
        d.c.started_at,
        d.c.is_rollback,
        d.c.is_hotfix,
        d.c.url,
    ).where(*_production_in(d, since, until))
    return _per_services(session, services, query.where)


def deployment_changes(*, session: Session, deployment_ids: Sequence[str]) -> Iterator[AnyRow]:
    """Per (deployment, change) of the given deployments: earliest commit times and the PR's
    timestamps, streamed.

    A change is a pull request, or a commit without one. `first_commit_at` is the earliest
    authored time of the commits the deployment carried for the change, not counting the PR's
    merge commit; `carried` counts them. Columns in `ChangeIn` order: deployment_id, repo,
    pr_number, sha, first_commit_at, pr_first_commit_at, pr_created_at, first_review_at,
    merged_at, then carried.

    The facts are read from `lead_time_change` (`store.lead_time_facts`), from one index; the
    deployments without them there (stale since the last refresh, or carrying no change) are
    computed live from their change rows and the commit and pull_request tables, the same way,
    by a second statement: each deployment's rows come from one statement. The caller has
    the deployments already: their ids cost less than filtering them again.
    """
    facts = _table(LeadTimeChange)
    wanted = _listed(session, list(dict.fromkeys(deployment_ids)))  # each once, as an IN would
    stale = lead_time_facts.stale_deployments()
    fresh = sa.select(
        wanted.c.value.label("deployment_id"),
        facts.c.repo,
        facts.c.pr_number,
        facts.c.sha,
        facts.c.first_commit_at,
        facts.c.pr_first_commit_at,
        facts.c.pr_created_at,
        facts.c.pr_first_review_at.label("first_review_at"),
        facts.c.pr_merged_at.label("merged_at"),
        facts.c.own_commits.label("carried"),
    ).select_from(  # a deployment without facts comes back once, its sha NULL
        wanted.outerjoin(
            facts,
            sa.and_(
                facts.c.deployment_source_id == wanted.c.value,
                facts.c.deployment_source_id.not_in(stale),
            ),
        )
    )
    unknown: list[str] = []
    for row in session.execute(fresh):
        if row.sha is None:
            unknown.append(row.deployment_id)
        else:
            yield row
    if unknown:
        dc = _table(DeploymentChange)
        carried_by = sa.select(_listed(session, unknown).c.value)
        yield from session.execute(
            lead_time_facts.change_facts(dc.c.deployment_source_id.in_(carried_by))
        )


def _listed(session: Session, values: Sequence[str]) -> sa.CTE:
    """`values` as a one-column table (`value`), bound as one JSON parameter: thousands of
    ids cost one bind, not one placeholder each (most of the time of a long IN list)."""
    array = sa.bindparam("listed", json.dumps(list(values)), type_=sa.Text)
    if session.get_bind().dialect.name == "postgresql":
        rows = sa.func.json_array_elements_text(sa.cast(array, sa.JSON))
    else:
        rows = sa.func.json_each(array)
    return sa.select(rows.table_valued("value").c.value).cte("listed")


def incidents(
    *,
    session: Session,
    since: datetime,
    until: datetime,
    services: Sequence[str] | None = None,
    team: str | None = None,
) -> list[sa.Row[Any]]:
    """Incidents triggered in [since, until), of the given services or team (else all)."""
    query = sa.select(
        Incident.key,
        Incident.service,
        Incident.team_key,
        Incident.triggered_at,
        Incident.resolved_at,
        Incident.caused_by_deployment,
        Incident.severity,
        Incident.title,
    ).where(Incident.triggered_at >= since, Incident.triggered_at < until)
    if services is not None or team is not None:
        clauses: list[sa.ColumnElement[bool]] = []
        if services is not None:
            clauses.append(Incident.service.in_(list(services)))
        if team is not None:
            clauses.append(Incident.team_key == team)
        query = query.where(sa.or_(*clauses))
    return list(session.execute(query.order_by(Incident.triggered_at, Incident.key)))


# -------------------------------------------------------------------------------- planning


def sprints(*, session: Session, team: str | None = None, state: str | None = None) -> list[Sprint]:
    """Sprints (of a team, in a state), oldest first."""
    query = sa.select(Sprint)
    if team is not None:
        query = query.where(Sprint.team_key == team)
    if state is not None:
        query = query.where(Sprint.state == state)
    return list(session.scalars(query.order_by(Sprint.start_at, Sprint.source_id)))


def sprint_tickets(*, session: Session, sprint_id: str) -> list[Ticket]:
    """Tickets that are or were in a sprint (its id in `sprint_source_ids`, or a Sprint change)."""
    return sprints_tickets(session=session, sprint_ids=[sprint_id])[sprint_id]


def sprints_tickets(*, session: Session, sprint_ids: Sequence[str]) -> dict[str, list[Ticket]]:
    """For each sprint, the tickets that are or were in it, ordered by key.

    A ticket is in a sprint when the sprint's id is in its `sprint_source_ids` or in a Sprint
    change (comma-separated ids). One pass over each table serves every sprint asked for.
    """
    wanted = set(sprint_ids)
    keys: dict[str, set[str]] = {sprint: set() for sprint in wanted}
    if not wanted:
        return {}
    elements = _json_array_elements(session, Ticket.sprint_source_ids)
    member = sa.select(Ticket.key, elements.c.value).join(elements, sa.true())
    for key, sprint in session.execute(member.where(elements.c.value.in_(sorted(wanted)))):
        keys[sprint].add(key)
    # Sprint changes repeat a few thousand distinct values: find those naming a wanted sprint,
    # then read only the changes carrying one of them.
    is_sprint = TicketTransition.field == "Sprint"
    pairs = sa.select(TicketTransition.from_value, TicketTransition.to_value).where(is_sprint)
    values = {value for pair in session.execute(pairs.distinct()) for value in pair}
    naming = sorted(value for value in values if value and _sprint_tokens(value) & wanted)
    changes = sa.select(
        TicketTransition.ticket_key, TicketTransition.from_value, TicketTransition.to_value
    ).where(is_sprint)
    for chunk in _chunks(naming):
        found = changes.where(
            sa.or_(TicketTransition.from_value.in_(chunk), TicketTransition.to_value.in_(chunk))
        )
        for key, old, new in session.execute(found):
            for sprint in (_sprint_tokens(old) | _sprint_tokens(new)) & wanted:
                keys[sprint].add(key)
    every = sorted(set().union(*keys.values()))
    tickets = {ticket.key: ticket for ticket in tickets_by_key(session=session, keys=every)}
    return {
        sprint: [tickets[key] for key in sorted(found) if key in tickets]
        for sprint, found in keys.items()
    }


def _json_array_elements(session: Session, column: Any) -> Any:
    """The text elements of a JSON array column, as a table joinable row by row."""
    if session.get_bind().dialect.name == "postgresql":
        return sa.func.json_array_elements_text(
            sa.case((sa.func.json_typeof(column) == "array", column), else_=sa.null())
        ).table_valued("value")
    return sa.func.json_each(column).table_valued("value")


def _sprint_tokens(value: str | None) -> set[str]:
    """The sprint ids of a Sprint change's value ("12,13")."""
    return {part.strip() for part in (value or "").split(",") if part.strip()}


def tickets_by_key(*, session: Session, keys: Sequence[str]) -> list[Ticket]:
    """Tickets with the given keys."""
    found: list[Ticket] = []
    for chunk in _chunks(list(keys)):
        found.extend(session.scalars(sa.select(Ticket).where(Ticket.key.in_(chunk))))
    return sorted(found, key=lambda t: t.key)


def team_tickets(*, session: Session, team: str | None) -> list[Ticket]:
    """Every ticket of a team (or of every team)."""
    query = sa.select(Ticket)
    if team is not None:
        query = query.where(Ticket.team_key == team)
    return list(session.scalars(query))


def transitions(
    *, session: Session, ticket_keys: Sequence[str] | None = None, field: str | None = None
) -> list[TicketTransition]:
    """Changelog entries of the given tickets (all when None), oldest first."""
    query = sa.select(TicketTransition)
    if field is not None:
        query = query.where(TicketTransition.field == field)
    if ticket_keys is None:
        return list(session.scalars(query.order_by(TicketTransition.at)))
    found: list[TicketTransition] = []
    for chunk in _chunks(list(ticket_keys)):
        found.extend(session.scalars(query.where(TicketTransition.ticket_key.in_(chunk))))
    return sorted(found, key=lambda t: (t.at, t.source_id))


def epic_by_key(*, session: Session, key: str) -> Epic | None:
    """The epic with this key."""
    return session.scalars(sa.select(Epic).where(Epic.key == key).limit(1)).first()


def epic_tickets(*, session: Session, epic_key: str) -> list[Ticket]:
    """The tickets of an epic."""
    return list(session.scalars(sa.select(Ticket).where(Ticket.epic_key == epic_key)))


# --------------------------------------------------------------------------------- quality


def quality_snapshots(
    *, session: Session, since: datetime, repos: Sequence[str] | None = None
) -> list[sa.Row[Any]]:
    """Quality snapshots taken at or after `since` (of the given repos), oldest first."""
    query = sa.select(
        QualitySnapshot.repo,
        QualitySnapshot.at,
        QualitySnapshot.coverage,
        QualitySnapshot.tech_debt_minutes,
        QualitySnapshot.code_smells,
        QualitySnapshot.bugs,
        QualitySnapshot.vulnerabilities,
        QualitySnapshot.duplicated_lines_density,
        QualitySnapshot.ncloc,
        QualitySnapshot.quality_gate,
    ).where(QualitySnapshot.at >= since)
    if repos is not None:
        query = query.where(QualitySnapshot.repo.in_(list(repos)))
    return list(session.execute(query.order_by(QualitySnapshot.repo, QualitySnapshot.at)))


# ----------------------------------------------------------------------------- pull requests


def pull_requests(
    *, session: Session, since: datetime, repos: Sequence[str] | None = None
) -> Iterator[AnyRow]:
    """PRs created, merged or closed since `since`, plus every PR still open, streamed.

    Columns in `PullRequestIn` order: repo, number, state, created_at, first_commit_at,
    first_review_at, merged_at, closed_at, additions, deletions, author, title, draft, url.
    """
    pr = _table(PullRequest)
    query = sa.select(
        pr.c.repo,
        pr.c.number,
        pr.c.state,
        pr.c.created_at,
        pr.c.first_commit_at,
        pr.c.first_review_at,
        pr.c.merged_at,
        pr.c.closed_at,
        pr.c.additions,
        pr.c.deletions,
        pr.c.author,
        pr.c.title,
        pr.c.draft,
        pr.c.url,
    ).where(
        sa.or_(
            pr.c.created_at >= since,
            pr.c.merged_at >= since,
            pr.c.closed_at >= since,
            pr.c.state == "open",
        )
    )
    if repos is not None:
        query = query.where(pr.c.repo.in_(list(repos)))
    yield from session.execute(query)


def reviews(
    *, session: Session, since: datetime, until: datetime, repos: Sequence[str] | None = None
) -> Iterator[AnyRow]:
    """Reviews submitted in [since, until), streamed: repo, pr_number, reviewer, submitted_at."""
    review = _table(Review)
    query = sa.select(
        review.c.repo, review.c.pr_number, review.c.reviewer, review.c.submitted_at
    ).where(review.c.submitted_at >= since, review.c.submitted_at < until)
    if repos is not None:
        query = query.where(review.c.repo.in_(list(repos)))
    yield from session.execute(query)


def first_production_deploys(
    *, session: Session, since: datetime, repos: Sequence[str] | None = None
) -> dict[tuple[str, int], datetime]:
    """(repo, PR number) → when a production deployment carrying it first finished."""
    d, dc = _table(Deployment), _table(DeploymentChange)
    query = (
        sa.select(dc.c.repo, dc.c.pr_number, sa.func.min(d.c.finished_at))
        .select_from(dc.join(d, d.c.source_id == dc.c.deployment_source_id))
        .where(*_production_in(d, since), dc.c.pr_number.is_not(None))
        .group_by(dc.c.repo, dc.c.pr_number)
    )
    if repos is not None:
        query = query.where(dc.c.repo.in_(list(repos)))
    return {
        (repo, number): at
        for repo, number, at in session.execute(query)
        if repo and number is not None and at is not None
    }


# ------------------------------------------------------------------------------ data quality


@dataclass(frozen=True)
class Finding:
    """A set-up problem that makes delivery metrics wrong: how many, examples, and the fix."""

    check: str
    count: int
    total: int
    examples: list[str]
    fix: str


def _count(session: Session, query: sa.Select[Any]) -> int:
    """Rows a select would return."""
    return session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0


def _finding(
    session: Session,
    *,
    check: str,
    problems: sa.Select[Any],
    total: int,
    order: Any,
    example: Callable[[Any], str],
    fix: str,
) -> Finding:
    """How many rows of `problems`, out of `total`, with the first few as examples."""
    return Finding(
        check=check,
        count=_count(session, problems),
        total=total,
        examples=[example(row) for row in session.scalars(problems.order_by(order).limit(SAMPLE))],
        fix=fix,
    )


def delivery_findings(*, session: Session, since: datetime) -> list[Finding]:
    """Counts and examples of the delivery set-up problems since `since`."""
    deploys = sa.select(Deployment).where(Deployment.finished_at >= since)
    prod = deploys.where(
        Deployment.status == "success", _production(), Deployment.is_rollback.is_(False)
    )
    has_change = sa.exists().where(DeploymentChange.deployment_source_id == Deployment.source_id)
    incidents = sa.select(Incident).where(Incident.triggered_at >= since)
    merged = sa.select(PullRequest).where(PullRequest.merged_at >= since)
    has_other_commit = sa.exists().where(
        Commit.repo == PullRequest.repo,
        Commit.pr_number == PullRequest.number,
        Commit.sha != sa.func.coalesce(PullRequest.merge_commit_sha, ""),
    )
    services = sa.select(Service)

    def deploy_label(d: Deployment) -> str:
        return f"{d.service or '?'} {d.source_id}"

    return [
        _finding(
            session,
            check="deployments_without_environment",
            problems=deploys.where(
                sa.or_(Deployment.environment.is_(None), sa.func.trim(Deployment.environment) == "")
            ),
            total=_count(session, deploys),
            order=Deployment.finished_at.desc(),
            example=deploy_label,
            fix="Set the environment on the CI/CD deployment (GitHub environment, GitLab "
            "environment, Jenkins/CircleCI parameter); these deploys are left out of DORA.",
        ),
        _finding(
            session,
            check="production_deploys_without_commits",
            problems=prod.where(~has_change),
            total=_count(session, prod),
            order=Deployment.finished_at.desc(),
            example=deploy_label,
            fix="Report the commits each deployment carries (deployment payload sha + compare, or "
            "the generic webhook's `commits`); without them lead time cannot be measured.",
        ),
        _finding(
            session,
            check="incidents_without_service",
            problems=incidents.where(Incident.service.is_(None)),
            total=_count(session, incidents),
            order=Incident.triggered_at.desc(),
            example=lambda i: f"{i.key} {i.title[:60]}",
            fix="Map PagerDuty/Datadog services to catalogue services; an incident without a "
            "service cannot be tied to a deployment, so change failure rate misses it.",
        ),
        _finding(
            session,
            check="squash_merged_prs_lead_time_from_merge",
            problems=merged.where(PullRequest.first_commit_at.is_(None), ~has_other_commit),
            total=_count(session, merged),
            order=PullRequest.merged_at.desc(),
            example=lambda p: f"{p.repo}#{p.number}",
            fix="Sync the PR's commit list (GitHub pulls/{n}/commits); for squash merges without "
            "it, lead time starts at the merge and reads shorter than it was.",
        ),
        _finding(
            session,
            check="services_without_team",
            problems=services.where(Service.team_key.is_(None)),
            total=_count(session, services),
            order=Service.name,
            example=lambda s: str(s.name),
            fix="Give the service an owning team in the catalogue; its deploys count for no team.",
        ),
    ]
