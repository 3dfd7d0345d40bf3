"""The Jira connector against the Jira simulator over real loopback HTTP."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
import sqlalchemy as sa

from cto_assistant.connectors.base import Checkpoint, ConnectorContext
from cto_assistant.connectors.jira import JiraConfig, JiraConnector
from cto_assistant.demo.simulators.jira import DEMO_TOKEN
from cto_assistant.errors import AuthError, SchemaDriftError, UpstreamError
from cto_assistant.store.db import Store
from cto_assistant.sync.engine import SyncEngine
from tests.connectors.jira.world import (
    JIRA_TABLES,
    FakeSleep,
    connector,
    rows,
    simulator,
    tiny_world,
)

SEARCH = "/rest/api/3/search/jql"


def by_id(items: list[dict]) -> list[dict]:
    return sorted(items, key=lambda row: row["source_id"])


def test_full_sync_gives_back_the_world_rows_across_page_boundaries() -> None:
    world = tiny_world()
    with simulator(world) as sim:
        jira = connector(sim.base_url, page_size=3)
        pulled: dict[str, list[dict]] = {}
        for stream in ("sprints", "epics", "issues"):
            for table, found in rows(jira.pull(stream, None)).items():
                pulled.setdefault(table, []).extend(found)
    # Read the simulator's log once it has stopped: it logs a request after answering it.
    issues_in_search = world.count("ticket") + world.count("epic")
    assert sim.state.request_count(SEARCH) == math.ceil(issues_in_search / 3) + 1  # +1: epics
    for table in JIRA_TABLES:
        assert by_id(pulled[table]) == by_id(list(world.rows(table))), table


def test_issues_stream_checkpoints_after_every_page_and_never_goes_back() -> None:
    with simulator() as sim:
        items = list(connector(sim.base_url, page_size=4).pull("issues", None))
    cursors = [item.cursor for item in items if isinstance(item, Checkpoint)]
    assert len(cursors) == 4  # 16 issues (14 tickets + 2 epics) in pages of 4
    assert cursors == sorted(cursors)
    assert isinstance(items[-1], Checkpoint)
    assert cursors[-1] == "2026-01-06T01:15:00Z"  # the latest `updated` of the world


def test_incremental_resync_pulls_only_changed_issues_in_one_request() -> None:
    with simulator() as sim:
        jira = connector(sim.base_url)
        cursor = [i for i in jira.pull("issues", None) if isinstance(i, Checkpoint)][-1].cursor
        changed = sim.jira.by_key["PAY-3"]
        assert changed.updated is not None
        changed.updated = changed.updated + timedelta(days=1)
        changed.status, changed.status_category = "Done", "done"
        jira.context.stats.reset()
        again = list(jira.pull("issues", cursor))
        assert jira.context.stats.requests == 1
    tickets = rows(iter(again))["ticket"]
    # The changed ticket plus the boundary minute of the cursor (the last-updated issue).
    assert {t["key"] for t in tickets} == {"PAY-3", "CHK-8"}
    assert next(t for t in tickets if t["key"] == "PAY-3")["status"] == "Done"
    assert again[-1] == Checkpoint("2026-01-06T20:00:00Z")


def test_second_sync_with_nothing_new_makes_one_request() -> None:
    with simulator() as sim:
        jira = connector(sim.base_url)
        cursor = [i for i in jira.pull("issues", None) if isinstance(i, Checkpoint)][-1].cursor
        jira.context.stats.reset()
        again = list(jira.pull("issues", cursor))
    assert jira.context.stats.requests == 1
    assert sim.state.request_count() == 2  # the full sync's single page, then this one
    assert again[-1] == Checkpoint(cursor)  # the cursor holds still


def test_cursor_is_read_in_the_jira_users_time_zone() -> None:
    """JQL dates are local to the user: a UTC cursor sent as-is would skip 5 hours of changes."""
    with simulator(time_zone="America/New_York") as sim:
        jira = connector(sim.base_url, timezone=None)
        cursor = [i for i in jira.pull("issues", None) if isinstance(i, Checkpoint)][-1].cursor
        changed = sim.jira.by_key["CHK-2"]
        assert changed.updated is not None
        changed.updated = changed.updated + timedelta(hours=7)  # 02:15 UTC, after the cursor
        again = rows(jira.pull("issues", cursor))
    assert sim.state.request_count("/rest/api/3/myself") == 1  # looked up once, then cached
    assert "CHK-2" in {t["key"] for t in again["ticket"]}
    assert cursor == "2026-01-06T01:15:00Z"
    assert jira.issues_jql(cursor).startswith('updated >= "2026-01-05 20:15"')


def test_changelogs_longer_than_the_inline_page_are_read_from_the_changelog_endpoint() -> None:
    world = tiny_world()
    with simulator(world, changelog_inline_limit=1) as sim:
        pulled = rows(connector(sim.base_url).pull("issues", None))
    long_ones = sim.state.request_count("/rest/api/3/issue/")
    assert by_id(pulled["ticket_transition"]) == by_id(list(world.rows("ticket_transition")))
    assert long_ones == 8  # the tickets with more than one changelog history


def test_project_filter_and_extra_jql_reach_the_search() -> None:
    with simulator() as sim:
        jira = connector(sim.base_url, projects=["CHK"], jql_extra="issuetype = Bug")
        tickets = rows(jira.pull("issues", None))["ticket"]
        sprints = rows(jira.pull("sprints", None))["sprint"]
    boards_query = sim.state.requests[-2].query
    assert {t["key"] for t in tickets} == {"CHK-3", "CHK-7"}
    assert {s["team_key"] for s in sprints} == {"CHK"}
    assert "startAt=0" in boards_query
    assert jira.issues_jql(None) == (
        'project in (CHK) AND updated >= "1970-01-01 00:00" AND (issuetype = Bug) '
        "ORDER BY updated ASC, key ASC"
    )


def test_project_teams_maps_project_keys_to_team_keys() -> None:
    with simulator() as sim:
        jira = connector(sim.base_url, project_teams={"PAY": "payments"})
        tickets = rows(jira.pull("issues", None))["ticket"]
        epics = rows(jira.pull("epics", None))["epic"]
    assert {t["team_key"] for t in tickets if t["project"] == "PAY"} == {"payments"}
    assert {e["team_key"] for e in epics} == {"payments", "CHK"}


def test_rate_limit_waits_for_retry_after() -> None:
    sleep = FakeSleep()
    with simulator() as sim:
        sim.state.add_fault("rate_limit", times=1, path_prefix=SEARCH, retry_after=7)
        pulled = rows(connector(sim.base_url, sleep=sleep).pull("issues", None))
    assert sleep.waits == [7.0]
    assert len(pulled["ticket"]) == 14


def test_server_errors_are_retried_then_raised_as_upstream_errors() -> None:
    sleep = FakeSleep()
    with simulator() as sim:
        sim.state.add_fault("server_error", times=2, path_prefix="/rest/agile/1.0/board")
        assert len(rows(connector(sim.base_url, sleep=sleep).pull("sprints", None))["sprint"]) == 4
        assert len(sleep.waits) == 2
        sim.state.add_fault("server_error", times=None, path_prefix="/rest/agile/1.0/board")
        with pytest.raises(UpstreamError) as failure:
            list(connector(sim.base_url).pull("sprints", None))
    assert failure.value.source == "jira"
    assert failure.value.stream == "sprints"
    assert "after 3 attempts" in str(failure.value)


def test_wrong_token_is_an_auth_error_naming_the_source() -> None:
    with simulator() as sim:
        with pytest.raises(AuthError) as failure:
            list(connector(sim.base_url, token="not-the-token-4711").pull("issues", None))
        results = connector(sim.base_url, token="not-the-token-4711").check()
    assert failure.value.source == "jira"
    assert str(failure.value).startswith("jira/issues: HTTP 401")
    assert "not-the-token-4711" not in str(failure.value)
    assert [r.ok for r in results] == [False, False, False]


def test_bearer_personal_access_token_is_accepted() -> None:
    with simulator() as sim:
        jira = connector(sim.base_url, email=None, token=DEMO_TOKEN)
        assert [r.ok for r in jira.check()] == [True, True, True]
        assert len(rows(jira.pull("epics", None))["epic"]) == 2


@pytest.mark.parametrize(
    ("fault", "field"),
    [
        ({"kind": "malformed"}, None),
        ({"kind": "truncate"}, None),
        ({"kind": "rename_field", "field": "issues", "new_field": "values"}, "issues"),
        (
            {"kind": "rename_field", "field": "updated", "new_field": "lastUpdated"},
            "fields.updated",
        ),
    ],
)
def test_a_damaged_search_page_is_schema_drift_naming_stream_and_field(
    fault: dict, field: str | None
) -> None:
    with simulator() as sim:
        sim.state.add_fault(fault.pop("kind"), path_prefix=SEARCH, skip=1, **fault)
        pulled = []
        with pytest.raises(SchemaDriftError) as failure:
            for item in connector(sim.base_url, page_size=5).pull("issues", None):
                pulled.append(item)
    assert failure.value.stream == "issues"
    assert failure.value.field == field
    if field:
        assert field in str(failure.value)
    # The first page made it through, up to its checkpoint.
    assert sum(isinstance(i, Checkpoint) for i in pulled) == 1


def test_sync_engine_runs_the_connector_and_a_quiet_resync_is_one_request(
    sqlite_store: Store,
) -> None:
    world = tiny_world()
    with simulator(world) as sim:
        engine = SyncEngine(sqlite_store, [connector(sim.base_url, page_size=5)])
        first = {r.stream: r for r in engine.run()}
        assert all(r.ok for r in first.values()), [r.error for r in first.values()]
        second = {r.stream: r for r in engine.run()}
    requests_total = sum(r.requests for r in first.values())
    with sqlite_store.session() as session:
        for table in JIRA_TABLES:
            query = sa.text(f"select count(*) from {table}")  # noqa: S608 - fixed table names
            count = session.execute(query).scalar_one()
            assert count == world.count(table), table
    assert second["issues"].requests == 1
    assert second["issues"].cursor == first["issues"].cursor
    records = sum(r.records for r in first.values())
    assert records == sum(world.count(t) for t in JIRA_TABLES)
    assert requests_total == sim.state.request_count() - sum(r.requests for r in second.values())


def test_config_refuses_bad_project_keys_and_zones() -> None:
    base = {"base_url": "http://127.0.0.1:9", "token": "s3cr3t-value"}
    with pytest.raises(ValueError, match="project key"):
        JiraConfig.model_validate(base | {"projects": ["pay; drop"]})
    with pytest.raises(ValueError, match="time zone"):
        JiraConfig.model_validate(base | {"timezone": "Mars/Olympus"})
    config = JiraConfig.model_validate(base)
    assert config.kind == "jira" and config.story_points_field == "customfield_10016"
    assert "s3cr3t" not in repr(JiraConnector(ConnectorContext("jira", config)).settings.token)


def test_registry_builds_the_connector_from_a_settings_section() -> None:
    from cto_assistant.connectors.registry import build_connector

    with simulator() as sim:
        built = build_connector(
            "jira",
            {
                "base_url": sim.base_url,
                "email": "cto-assistant@acme.example",
                "token_env": "JIRA_TOKEN",
                "timezone": "UTC",
                "projects": ["PAY"],
            },
            environ={"JIRA_TOKEN": DEMO_TOKEN},
        )
        assert isinstance(built, JiraConnector)
        assert [r.ok for r in built.check()] == [True, True, True]
        assert {s["team_key"] for s in rows(built.pull("sprints", None))["sprint"]} == {"PAY"}
