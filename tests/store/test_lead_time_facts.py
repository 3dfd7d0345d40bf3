"""Lead-time facts on SQLite and PostgreSQL: computed once per deployment, made stale by every
write they read, and read exactly like the commit ↔ PR join they replace (the oracle below)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from alembic import command

from cto_assistant.connectors.generic.files import Row
from cto_assistant.store import Store
from cto_assistant.store.db import alembic_config, delete_where, upsert
from cto_assistant.store.lead_time_facts import (
    FACT_COLUMNS,
    forget_all_lead_time_facts,
    refresh_stale_lead_time_facts,
    stale_deployments,
)
from cto_assistant.store.models import (
    SOURCED_TABLES,
    Commit,
    DeploymentChange,
    LeadTimeChange,
    PullRequest,
)
from cto_assistant.store.queries import engineering as q
from cto_assistant.sync.ingest import validate_rows, write_items
from tests.store.delivery_rows import D1, NOW, REPO, H, carried, deployment, pull_request

D2, D3 = NOW - 10 * H, NOW - 5 * H
OTHER = "acme/web"


def commit(sha: str, authored: datetime, repo: str = REPO) -> dict[str, Any]:
    return {"source_id": f"{repo}:{sha}", "sha": sha, "repo": repo, "authored_at": authored}


def world() -> dict[str, list[dict[str, Any]]]:
    """Every shape the facts must get right."""
    return {
        "deployment": [deployment("d1", D1), deployment("d2", D2), deployment("d3", D3)],
        "deployment_change": [
            carried("d1", "a1", 1),
            carried("d1", "a2", 1),
            carried("d1", "m1", 1),  # PR 1's merge commit: not one of its own
            carried("d1", "lone", None),
            carried("d1", "same", None),  # the same sha in two repos: two changes
            carried("d1", "same", None, repo=OTHER) | {"source_id": "d1:web:same"},
            carried("d2", "m2", 2),  # squash-merged PR 2: only its merge commit
            carried("d2", "gone", 3),  # a commit the store does not hold
            carried("d3", "b1", 4),  # PR 4 has two stored copies (two sources)
            carried("d3", "b2", 4),
            carried("d3", "b1", 4) | {"source": "u"},  # d3 from a second source too
        ],
        "commit": [
            commit("a1", D1 - 40 * H),
            commit("a2", D1 - 45 * H),
            commit("m1", D1 - 11 * H),
            commit("lone", D1 - 5 * H),
            commit("same", D1 - 6 * H),
            commit("same", D1 - 7 * H, repo=OTHER),
            commit("m2", D2 - 3 * H),
            commit("b1", D3 - 30 * H),
            commit("b2", D3 - 31 * H),
            commit("b2", D3 - 33 * H) | {"source": "u"},  # an earlier copy of b2
        ],
        "pull_request": [
            pull_request(1, "m1"),
            pull_request(2, "m2", first_commit_at=None),
            pull_request(3, None, state="open", merged_at=None),
            pull_request(4, "b2", merged_at=D3 - H),  # names b2 as its merge commit …
            pull_request(4, "x9", created_at=D3 - 40 * H) | {"source": "u"},  # … this copy not
        ],
    }


def load(store: Store, tables: dict[str, list[dict[str, Any]]]) -> None:
    with store.session() as session:
        for table, rows in tables.items():
            upsert(session, table, [{"source": "t"} | row for row in rows])


def joined(session: Any, ids: list[str]) -> list[tuple[Any, ...]]:
    """The oracle: the deployment ↔ commit ↔ PR join the facts replace, as it was."""
    dc, c, pr = (m.__table__ for m in (DeploymentChange, Commit, PullRequest))
    not_merge = dc.c.sha != sa.func.coalesce(pr.c.merge_commit_sha, "")
    query = (
        sa.select(
            dc.c.deployment_source_id,
            dc.c.repo,
            dc.c.pr_number,
            sa.func.min(dc.c.sha),
            sa.func.min(sa.case((not_merge, c.c.authored_at))),
            sa.func.min(pr.c.first_commit_at),
            sa.func.min(pr.c.created_at),
            sa.func.min(pr.c.first_review_at),
            sa.func.min(pr.c.merged_at),
            sa.func.sum(sa.case((not_merge, 1), else_=0)),
        )
        .select_from(
            dc.outerjoin(c, sa.and_(c.c.sha == dc.c.sha, c.c.repo == dc.c.repo)).outerjoin(
                pr, sa.and_(pr.c.repo == dc.c.repo, pr.c.number == dc.c.pr_number)
            )
        )
        .where(dc.c.deployment_source_id.in_(ids))
        .group_by(
            dc.c.deployment_source_id,
            dc.c.repo,
            dc.c.pr_number,
            sa.case((dc.c.pr_number.is_(None), dc.c.sha)),
        )
    )
    return _comparable(session.execute(query))


def _comparable(rows: Any) -> list[tuple[Any, ...]]:
    """Rows sorted, with `carried` as what the analytics use of it: whether it is zero."""
    return sorted(((*row[:9], bool(row[9])) for row in rows), key=lambda r: repr(r[:4]))


def read(store: Store, ids: tuple[str, ...] = ("d1", "d2", "d3")) -> list[tuple[Any, ...]]:
    with store.session() as session:
        return _comparable(q.deployment_changes(session=session, deployment_ids=list(ids)))


def oracle(store: Store, ids: tuple[str, ...] = ("d1", "d2", "d3")) -> list[tuple[Any, ...]]:
    with store.session() as session:
        return joined(session, list(ids))


def stale(store: Store) -> set[str]:
    with store.session() as session:
        return set(session.scalars(stale_deployments()))


def refresh(store: Store) -> None:
    refresh_stale_lead_time_facts(store.session)


def stored_facts(store: Store) -> list[tuple[Any, ...]]:
    with store.session() as session:
        facts = LeadTimeChange.__table__.c
        keys = (facts.deployment_source_id, facts.repo, facts.pr_number)
        return _comparable(session.execute(sa.select(*keys, *(facts[n] for n in FACT_COLUMNS))))


def test_refreshed_facts_read_like_the_join_they_replace(any_store: Store) -> None:
    load(any_store, world())
    assert stale(any_store) == {"d1", "d2", "d3"}
    live = read(any_store)  # every deployment stale: computed live
    assert live == oracle(any_store)
    assert len(live) == 7
    refresh(any_store)
    assert stale(any_store) == set()
    assert stored_facts(any_store) == live  # one row per deployment and change
    assert read(any_store) == live  # now from them alone


def test_rows_loaded_around_the_store_are_read_live_until_forgotten(any_store: Store) -> None:
    tables = world()
    load(any_store, {name: rows for name, rows in tables.items() if name != "deployment"})
    refresh(any_store)
    with any_store.engine.begin() as connection:  # a bulk load: no facts, nothing stale
        connection.execute(
            sa.insert(DeploymentChange.__table__), [{"source": "bulk"} | carried("d4", "a1", 1)]
        )
    assert stale(any_store) == set()
    assert read(any_store, ("d4",)) == oracle(any_store, ("d4",)) != []
    with any_store.session() as session:
        forget_all_lead_time_facts(session)
    assert stale(any_store) == {"d1", "d2", "d3", "d4"}
    refresh(any_store)
    assert read(any_store, ("d1", "d2", "d3", "d4")) == oracle(any_store, ("d1", "d2", "d3", "d4"))


def test_a_commit_synced_after_its_deployment_makes_its_facts_stale(any_store: Store) -> None:
    tables = world()
    tables["commit"] = [c for c in tables["commit"] if c["sha"] != "a2"]
    load(any_store, tables)
    refresh(any_store)
    first_of_pr_1 = read(any_store)[0][4]
    assert first_of_pr_1 == D1 - 40 * H  # a1: a2 is not known yet
    load(any_store, {"commit": [commit("a2", D1 - 45 * H)]})
    assert stale(any_store) == {"d1"}
    assert read(any_store)[0][4] == D1 - 45 * H  # live, before any refresh
    refresh(any_store)
    assert stale(any_store) == set()
    assert read(any_store) == oracle(any_store)
    assert read(any_store)[0][4] == D1 - 45 * H


def test_a_pull_request_synced_or_changed_later_makes_its_facts_stale(any_store: Store) -> None:
    tables = world()
    tables["pull_request"] = [pr for pr in tables["pull_request"] if pr["number"] != 1]
    load(any_store, tables)
    refresh(any_store)
    before = read(any_store)[0]
    assert before[4] == D1 - 45 * H and before[5:9] == (None, None, None, None)
    load(any_store, {"pull_request": [pull_request(1, "a2")]})  # a2 turns out to be the merge
    assert stale(any_store) == {"d1"}
    assert read(any_store)[0][4] == D1 - 40 * H
    refresh(any_store)
    load(any_store, {"pull_request": [pull_request(1, "m1", first_review_at=D1 - 19 * H)]})
    assert stale(any_store) == {"d1"}
    refresh(any_store)
    assert read(any_store) == oracle(any_store)
    assert read(any_store)[0][4:8] == (D1 - 45 * H, D1 - 30 * H, D1 - 20 * H, D1 - 19 * H)


def test_a_renamed_pull_request_makes_the_facts_under_its_old_name_stale(
    any_store: Store,
) -> None:
    load(any_store, world())
    refresh(any_store)
    load(any_store, {"pull_request": [pull_request(1, "m1") | {"repo": "acme/renamed"}]})
    assert stale(any_store) == {"d1"}  # its stored copy no longer matches d1's rows
    refresh(any_store)
    assert read(any_store) == oracle(any_store)


def test_changing_or_deleting_a_change_row_makes_its_deployment_stale(any_store: Store) -> None:
    load(any_store, world())
    refresh(any_store)
    load(any_store, {"deployment_change": [carried("d2", "m0", 2)]})  # d2 carried more
    assert stale(any_store) == {"d2"}
    refresh(any_store)
    with any_store.session() as session:
        delete_where(session, "deployment_change", source="t", source_id="d1:a1")  # PR 1's first
    assert stale(any_store) == {"d1"}
    assert read(any_store) == oracle(any_store)
    refresh(any_store)
    assert read(any_store) == oracle(any_store)


def test_an_import_computes_the_facts_of_the_deployments_it_writes(sqlite_store: Store) -> None:
    load(sqlite_store, {"commit": [commit("a1a1a1a1", D1 - 40 * H), commit("a2a2a2a2", D1)]})
    item = {
        "id": "g1",
        "service": "api",
        "environment": "production",
        "status": "success",
        "finished_at": D2.isoformat(),
        "repo": REPO,
        "commit_shas": ["a2a2a2a2", "a1a1a1a1"],
    }
    for shas in (["a2a2a2a2", "a1a1a1a1"], ["a2a2a2a2"]):  # then re-sent with fewer commits
        rows = [Row(line=1, values=item | {"commit_shas": shas})]
        write_items(sqlite_store, "deployments", validate_rows("deployments", rows, where="t"))
        assert stale(sqlite_store) == set()  # computed in the import's transaction
        assert read(sqlite_store, ("g1",)) == oracle(sqlite_store, ("g1",))
        assert {change[3] for change in read(sqlite_store, ("g1",))} == set(shas)


def test_a_store_from_before_the_facts_reads_the_same_then_refreshes(any_store: Store) -> None:
    config = alembic_config(str(any_store.url))
    with any_store.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0002")
    assert "lead_time_change" not in sa.inspect(any_store.engine).get_table_names()
    with any_store.engine.begin() as connection:  # rows written by the previous version
        for name, rows in world().items():
            connection.execute(
                sa.insert(SOURCED_TABLES[name].__table__),  # type: ignore[attr-defined]
                [{"source": "t"} | row for row in rows],
            )
    any_store.migrate()
    assert stale(any_store) == {"d1", "d2", "d3"}
    assert read(any_store) == oracle(any_store)
    refresh(any_store)  # what the first sync round after the upgrade does
    assert stale(any_store) == set()
    assert read(any_store) == oracle(any_store)
