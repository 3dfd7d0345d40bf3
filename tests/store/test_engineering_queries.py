"""Delivery queries on SQLite and PostgreSQL: changes per deployment, and rows in the analytics'
field order (the tools build `DeploymentIn`, `ChangeIn`, `PullRequestIn`, `ReviewIn` from them)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cto_assistant.analytics.dora import ChangeIn, DeploymentIn
from cto_assistant.analytics.pull_requests import PullRequestIn, ReviewIn
from cto_assistant.store import Store
from cto_assistant.store.db import upsert
from cto_assistant.store.queries import engineering as q
from tests.store.delivery_rows import D1, NOW, REPO, H, carried, deployment, pull_request

D2, OLD = NOW - 10 * H, NOW - 40 * 24 * H


def commit(sha: str, authored: datetime) -> dict[str, Any]:
    return {"source_id": sha, "sha": sha, "repo": REPO, "authored_at": authored}


def load(store: Store) -> None:
    tables: dict[str, list[dict[str, Any]]] = {
        "deployment": [
            deployment("d1", D1),
            deployment("d2", D2, service="web", is_hotfix=True),
            deployment("staging", D2, environment="staging"),
            deployment("failed", D2, status="failure"),
            deployment("old", OLD),
        ],
        "deployment_change": [
            carried("d1", "a1", 1),
            carried("d1", "a2", 1),
            carried("d1", "m1", 1),  # PR 1's merge commit: not a commit of the change
            carried("d1", "lone", None),
            carried("d1", "lone2", None),
            carried("d2", "m2", 2),  # squash-merged PR 2: only its merge commit
            carried("d2", "gone", 3),  # a commit the store does not hold
            carried("staging", "a1", 1),
            carried("old", "a1", 1),
        ],
        "commit": [
            commit("a1", D1 - 40 * H),
            commit("a2", D1 - 45 * H),
            commit("m1", D1 - 11 * H),
            commit("lone", D1 - 5 * H),
            commit("lone2", D1 - 6 * H),
            commit("m2", D2 - 3 * H),
        ],
        "pull_request": [
            pull_request(1, "m1"),
            pull_request(2, "m2", first_commit_at=None),
            pull_request(3, None, state="open", merged_at=None, closed_at=None),
        ],
        "review": [
            {
                "source_id": "r1",
                "repo": REPO,
                "pr_number": 1,
                "reviewer": "ann",
                "state": "APPROVED",
                "submitted_at": D1 - 18 * H,
            },
            {
                "source_id": "r0",
                "repo": REPO,
                "pr_number": 1,
                "reviewer": "bob",
                "state": "COMMENTED",
                "submitted_at": OLD,
            },
        ],
    }
    with store.session() as session:
        for table, rows in tables.items():
            upsert(session, table, [dict(row, source="t") for row in rows])


def production_ids(session: Any, **only: Any) -> list[str]:
    return [row[0] for row in q.production_deployments(session=session, until=NOW, **only)]


def test_changes_per_deployment_in_change_order(any_store: Store) -> None:
    load(any_store)
    with any_store.session() as session:
        ids = production_ids(session, since=NOW - 60 * H)
        rows = q.deployment_changes(session=session, deployment_ids=ids)
        found = sorted(  # (change, commits carried besides a merge commit)
            ((ChangeIn(*row[:9]), row[9]) for row in rows),
            key=lambda pair: (pair[0].deployment_id, pair[0].sha or ""),
        )
        web = production_ids(session, since=NOW - 60 * H, services=["web"])
        only_web = list(q.deployment_changes(session=session, deployment_ids=web))
    pr_times = (D1 - 30 * H, D1 - 20 * H, D1 - 18 * H, D1 - 10 * H)
    assert found == [
        (ChangeIn("d1", REPO, 1, "a1", D1 - 45 * H, *pr_times), 2),
        (ChangeIn("d1", REPO, None, "lone", D1 - 5 * H), 1),
        (ChangeIn("d1", REPO, None, "lone2", D1 - 6 * H), 1),
        (ChangeIn("d2", REPO, 3, "gone", None, *pr_times[:3], None), 1),
        (ChangeIn("d2", REPO, 2, "m2", None, None, *pr_times[1:]), 0),
    ]
    assert sorted(row[3] for row in only_web) == ["gone", "m2"]


def test_production_deployments_in_deployment_order(any_store: Store) -> None:
    load(any_store)
    with any_store.session() as session:
        rows = [
            DeploymentIn(*row)
            for row in q.production_deployments(session=session, since=NOW - 60 * H, until=NOW)
        ]
        api = list(
            q.production_deployments(session=session, since=OLD, until=NOW, services=["api"])
        )
    assert sorted(d.id for d in rows) == ["d1", "d2"]
    d2 = next(d for d in rows if d.id == "d2")
    assert (d2.service, d2.finished_at, d2.started_at, bool(d2.is_hotfix)) == (
        "web",
        D2,
        D2 - H,
        True,
    )
    assert d2.counts
    assert sorted(row[0] for row in api) == ["d1", "old"]


def test_pull_requests_reviews_and_first_deploys(any_store: Store) -> None:
    load(any_store)
    since = NOW - 30 * 24 * H
    with any_store.session() as session:
        prs = {
            p.number: p
            for p in map(PullRequestIn._make, q.pull_requests(session=session, since=since))
        }
        reviews = [ReviewIn(*row) for row in q.reviews(session=session, since=since, until=NOW)]
        deployed = q.first_production_deploys(session=session, since=since)
    assert prs[1].merged_at == D1 - 10 * H and prs[1].additions == 10 and prs[1].title == "PR 1"
    assert prs[3].state == "open" and prs[3].draft is False
    assert reviews == [ReviewIn(REPO, 1, "ann", D1 - 18 * H)]
    assert deployed == {(REPO, 1): D1, (REPO, 2): D2, (REPO, 3): D2}
