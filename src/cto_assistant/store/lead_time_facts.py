"""Lead-time facts: kept at write time in `lead_time_change`, read by the DORA query.

A change is a pull request, or a commit without one; a deployment carries one
`deployment_change` row per commit. Per (deployment, change), `lead_time_change` holds what
lead time needs, derived from those rows, `commit` and `pull_request`:

    sha                  the change's first sha in the deployment
    first_commit_at      the earliest authored time of the change's own commits there (not
                         its PR's merge commit; the earliest stored copy of each commit)
    own_commits          how many of the deployment's rows are the change's own commits
    pr_first_commit_at   the PR's first commit, opening, first review and merge (the earliest
    pr_created_at        of the PR's stored copies)
    pr_first_review_at
    pr_merged_at

so the company-wide DORA query reads ~11k rows from one index instead of joining ~45k change
rows to their commits and PRs on every call. Staleness is made impossible rather than unlikely
(as for the cost rollup), per deployment:

    write deployment_change        ─same transaction─▶  its deployment stale (before and after)
    delete deployment_change       ─same transaction─▶  its deployment stale
    write or delete commit / PR    ─same transaction─▶  the deployments that carry it stale
    end of a sync round / import                   ▶  refresh: recompute stale deployments
    query                                          ▶  a deployment with facts and not stale
                                                      from them; any other computed live,
                                                      the same way

A stale deployment has a `lead_time_stale` row and its facts deleted (a deployment without
facts reads live too, stale or not). A commit or PR that arrives after its deployment, and a
store migrated from before the facts (every deployment stale: its first refresh computes them
all), read exactly, only slower, until the next refresh.
`change_rows` and `change_facts` are the one definition of the facts, for the refresh and the
query. Rows written around the store's functions (a bulk load) must be followed by
`forget_all_lead_time_facts`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from cto_assistant.store.models import (
    Commit,
    DeploymentChange,
    LeadTimeChange,
    LeadTimeStale,
    PullRequest,
)

FACT_COLUMNS = (  # in the order of the analytics' `ChangeIn`, then `own_commits`
    "sha",
    "first_commit_at",
    "pr_first_commit_at",
    "pr_created_at",
    "pr_first_review_at",
    "pr_merged_at",
    "own_commits",
)
FED_BY = ("deployment_change", "commit", "pull_request")  # the tables the facts are read from
CHUNK = 500
BATCH = 5000  # deployments refreshed per transaction


def _table(model: type[Any]) -> sa.Table:
    table = model.__table__
    assert isinstance(table, sa.Table)
    return table


def change_rows(carried_by: sa.ColumnElement[bool]) -> sa.Subquery:
    """The deployment_change rows matching `carried_by`, each with its commit's and PR's facts:
    `authored` (the earliest stored copy of the commit; NULL when it is its PR's merge commit),
    `own` (1 when it is one of the change's own commits: a stored copy of its PR names another
    merge commit; without a PR, when its sha is not empty, as lead time always decided) and
    the PR's timestamps (their earliest stored copies)."""
    change, commit, pr = (_table(m) for m in (DeploymentChange, Commit, PullRequest))
    not_merge = change.c.sha != sa.func.coalesce(pr.c.merge_commit_sha, "")
    return (
        sa.select(
            change.c.id,
            change.c.deployment_source_id,
            change.c.repo,
            change.c.pr_number,
            change.c.sha,
            sa.func.min(sa.case((not_merge, commit.c.authored_at))).label("authored"),
            sa.func.max(sa.case((not_merge, 1), else_=0)).label("own"),
            sa.func.min(pr.c.first_commit_at).label("pr_first_commit_at"),
            sa.func.min(pr.c.created_at).label("pr_created_at"),
            sa.func.min(pr.c.first_review_at).label("pr_first_review_at"),
            sa.func.min(pr.c.merged_at).label("pr_merged_at"),
        )
        .select_from(
            change.outerjoin(
                commit, sa.and_(commit.c.sha == change.c.sha, commit.c.repo == change.c.repo)
            ).outerjoin(pr, sa.and_(pr.c.repo == change.c.repo, pr.c.number == change.c.pr_number))
        )
        .where(carried_by)
        .group_by(change.c.id)
        .subquery()
    )


def change_facts(carried_by: sa.ColumnElement[bool]) -> sa.Select[Any]:
    """Per (deployment, change) of the deployment_change rows matching `carried_by`: the
    deployment id, repo, PR number and the `FACT_COLUMNS`, computed from the rows."""
    rows = change_rows(carried_by)
    computed = {
        "sha": sa.func.min(rows.c.sha),
        "first_commit_at": sa.func.min(rows.c.authored),
        "own_commits": sa.func.sum(rows.c.own),
        **{name: sa.func.min(rows.c[name]) for name in FACT_COLUMNS if name.startswith("pr_")},
    }
    return sa.select(
        rows.c.deployment_source_id,
        rows.c.repo,
        rows.c.pr_number,
        *(computed[name].label(name) for name in FACT_COLUMNS),
    ).group_by(
        rows.c.deployment_source_id,
        rows.c.repo,
        rows.c.pr_number,
        sa.case((rows.c.pr_number.is_(None), rows.c.sha)),
    )


def stale_deployments() -> sa.Select[Any]:
    """The ids of the deployments whose facts are stale."""
    return sa.select(_table(LeadTimeStale).c.deployment_source_id)


def refresh_lead_time_facts(
    session: Session, *, deployments: Sequence[str] | None = None, limit: int | None = None
) -> int:
    """Recompute the facts of the stale deployments (those among `deployments`, or up to
    `limit` of them, in id order); return how many. Each is claimed by deleting its stale row,
    so processes refreshing side by side never compute one twice."""
    stale = _table(LeadTimeStale)
    ids = stale.c.deployment_source_id
    claimed: list[str] = []
    if deployments is not None:
        for chunk in _chunks(sorted(set(deployments))):
            claimed += session.scalars(sa.delete(stale).where(ids.in_(chunk)).returning(ids))
    else:
        first = sa.select(ids).order_by(ids).limit(limit)
        claimed += session.scalars(sa.delete(stale).where(ids.in_(first)).returning(ids))
    facts = _table(LeadTimeChange)
    for chunk in _chunks(sorted(claimed)):
        session.execute(sa.delete(facts).where(facts.c.deployment_source_id.in_(chunk)))
        computed = change_facts(_table(DeploymentChange).c.deployment_source_id.in_(chunk))
        session.execute(
            sa.insert(facts).from_select(
                ["deployment_source_id", "repo", "pr_number", *FACT_COLUMNS], computed
            )
        )
    return len(claimed)


def refresh_stale_lead_time_facts(sessions: Callable[[], AbstractContextManager[Session]]) -> int:
    """Recompute every stale deployment's facts, `BATCH` deployments per transaction (a store
    migrated from before the facts has them all stale: no write lock held for minutes);
    return how many deployments."""
    done = 0
    while True:
        with sessions() as session:
            batch = refresh_lead_time_facts(session, limit=BATCH)
        done += batch
        if batch < BATCH:
            return done


def forget_facts_of(
    session: Session,
    table: str,
    *,
    stored: sa.ColumnElement[bool] | None = None,
    rows: Iterable[Mapping[str, Any]] = (),
) -> None:
    """Make stale the deployments whose facts read rows of `table` (deployment_change, commit
    or pull_request; other tables: nothing to do): the `stored` rows matching that clause (as
    they are before a write or a delete) and the new `rows`. Call in the writing transaction,
    before the write."""
    if table not in FED_BY:
        return
    change = _table(DeploymentChange)
    carrying: list[sa.ColumnElement[bool]] = []
    if table == "deployment_change":
        ids = {str(r["deployment_source_id"]) for r in rows if r.get("deployment_source_id")}
        if stored is not None:
            ids.update(session.scalars(sa.select(change.c.deployment_source_id).where(stored)))
        _make_stale(session, sorted(ids))
        return
    if table == "commit":
        shas = {row["sha"] for row in rows if row.get("sha")}
        if stored is not None:
            shas.update(session.scalars(sa.select(Commit.sha).where(stored)))
        carrying = [change.c.sha.in_(chunk) for chunk in _chunks(sorted(shas))]
    else:
        numbers: dict[str, set[int]] = defaultdict(set)
        for row in rows:
            if row.get("repo") and row.get("number") is not None:
                numbers[row["repo"]].add(int(row["number"]))
        if stored is not None:
            for repo, number in session.execute(
                sa.select(PullRequest.repo, PullRequest.number).where(stored)
            ):
                numbers[repo].add(number)
        carrying = [  # per repo: an index range each, no tuple IN
            sa.and_(change.c.repo == repo, change.c.pr_number.in_(chunk))
            for repo, held in sorted(numbers.items())
            for chunk in _chunks(sorted(held))
        ]
    for clause in carrying:
        held = sa.select(change.c.deployment_source_id).where(clause).distinct()
        _make_stale(session, list(session.scalars(held)))


def forget_all_lead_time_facts(session: Session) -> None:
    """Make every deployment that carried a change stale (after rows written around the store's
    functions, e.g. a bulk load)."""
    carried = sa.select(_table(DeploymentChange).c.deployment_source_id).distinct()
    session.execute(sa.delete(_table(LeadTimeChange)))
    session.execute(sa.delete(_table(LeadTimeStale)))
    session.execute(sa.insert(_table(LeadTimeStale)).from_select(["deployment_source_id"], carried))


def _make_stale(session: Session, deployment_ids: Sequence[str]) -> None:
    """Mark deployments stale and drop their facts."""
    stale, facts = _table(LeadTimeStale), _table(LeadTimeChange)
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    for chunk in _chunks(deployment_ids):
        session.execute(sa.delete(facts).where(facts.c.deployment_source_id.in_(chunk)))
        session.execute(
            insert(stale)
            .values([{"deployment_source_id": deployment} for deployment in chunk])
            .on_conflict_do_nothing(index_elements=["deployment_source_id"])
        )


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


__all__ = [
    "FACT_COLUMNS",
    "FED_BY",
    "change_facts",
    "change_rows",
    "forget_all_lead_time_facts",
    "forget_facts_of",
    "refresh_lead_time_facts",
    "refresh_stale_lead_time_facts",
    "stale_deployments",
]
