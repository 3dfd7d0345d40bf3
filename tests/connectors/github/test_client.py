"""The GitHub connector against the simulator over real HTTP: sync, incremental, faults."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from pydantic import SecretStr

from cto_assistant.connectors.base import Checkpoint, ConnectorContext, Record
from cto_assistant.connectors.github import GitHubConfig, GitHubConnector, mapping
from cto_assistant.connectors.payload import parse_time
from cto_assistant.demo.simulators.common import ServedApp, SimulatorState, served
from cto_assistant.demo.simulators.github import DEMO_TOKEN, make_app
from cto_assistant.demo.world import World
from cto_assistant.errors import AuthError, SchemaDriftError, UpstreamError
from tests.conftest import vendor_spec
from tests.connectors.github.world import CHECKOUT, PAYMENTS, build_world

INCREMENTAL = (
    "pull_requests",
    "deployments",
    "workflow_runs",
    "dependabot_alerts",
    "code_scanning_alerts",
)


class Sleeps:
    """A fake clock that records every wait (not a list: an empty one must stay truthy)."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture(scope="module")
def world() -> World:
    return build_world()


@pytest.fixture
def server(world: World) -> Iterator[tuple[ServedApp, SimulatorState]]:
    app = make_app(world)
    with served(app) as running:
        yield running, app.state.sim


def connect(
    running: ServedApp,
    *,
    token: str = DEMO_TOKEN,
    page_size: int = 100,
    sleeps: Sleeps | None = None,
    **extra: Any,
) -> GitHubConnector:
    config = GitHubConfig(
        base_url=running.base_url,
        token=SecretStr(token),
        org="acme",
        page_size=page_size,
        since_days=3650,
        max_attempts=3,
        **extra,
    )
    return GitHubConnector(
        ConnectorContext(
            name="github", config=config, sleep=sleeps if sleeps is not None else Sleeps()
        )
    )


def pull(
    connector: GitHubConnector, stream: str, since: str | None = None
) -> tuple[dict[str, list[dict[str, Any]]], list[str]]:
    rows: dict[str, list[dict[str, Any]]] = {}
    cursors: list[str] = []
    for item in connector.pull(stream, since):
        if isinstance(item, Record):
            rows.setdefault(item.table, []).append(dict(item.values))
        else:
            assert isinstance(item, Checkpoint)
            cursors.append(item.cursor)
    return rows, cursors


def same_rows(
    got: list[dict[str, Any]], expected: list[dict[str, Any]], columns: list[str] | None = None
) -> None:
    by_id = {row["source_id"]: row for row in got}
    assert sorted(by_id) == sorted(row["source_id"] for row in expected)
    for want in expected:
        have = by_id[want["source_id"]]
        assert have["source"] == "github"
        for column in columns or [c for c in want if c != "source_id"]:
            assert have.get(column) == want.get(column), (
                want["source_id"],
                column,
                have.get(column),
                want.get(column),
            )


def settled(state: SimulatorState) -> int:
    """Requests logged once the server has finished logging (it logs after responding)."""
    count = -1
    while count != len(state.requests):
        count = len(state.requests)
        time.sleep(0.05)
    return count


def rows_of(world: World, table: str, **where: Any) -> list[dict[str, Any]]:
    return [r for r in world.rows(table) if all(r.get(k) == v for k, v in where.items())]


def test_full_sync_round_trips_the_world(
    server: tuple[ServedApp, SimulatorState], world: World
) -> None:
    running, _ = server
    connector = connect(running)
    repos, _ = pull(connector, "repositories")
    same_rows(repos["repository"], rows_of(world, "repository"))

    delivery, cursors = pull(connector, "pull_requests")
    active = {CHECKOUT, PAYMENTS}
    same_rows(
        delivery["pull_request"], [r for r in world.rows("pull_request") if r["repo"] in active]
    )
    same_rows(delivery["review"], rows_of(world, "review"))
    same_rows(delivery["commit"], [c for c in world.rows("commit") if c["pr_number"] is not None])
    newest = max(r["updated_at"] for r in world.rows("pull_request"))
    assert cursors == [newest.isoformat().replace("+00:00", "Z")]

    deployed, _ = pull(connector, "deployments")
    runs, _ = pull(connector, "workflow_runs")
    same_rows(
        deployed["deployment"] + runs["deployment"],
        rows_of(world, "deployment"),
        columns=[
            "service",
            "repo",
            "environment",
            "sha",
            "ref",
            "started_at",
            "finished_at",
            "status",
            "tool",
        ],
    )
    same_rows(
        deployed["deployment_change"] + runs["deployment_change"],
        rows_of(world, "deployment_change"),
    )

    dependabot, _ = pull(connector, "dependabot_alerts")
    code, _ = pull(connector, "code_scanning_alerts")
    same_rows(dependabot["vulnerability"], rows_of(world, "vulnerability", scanner="dependabot"))
    same_rows(code["vulnerability"], rows_of(world, "vulnerability", scanner="code_scanning"))

    sbom, _ = pull(connector, "sbom")
    same_rows(sbom["dependency"], rows_of(world, "dependency"))

    members, _ = pull(connector, "members")
    same_rows(members["access_grant"], rows_of(world, "access_grant"))
    people = {(p["github_login"], p["email"]) for p in members["person"]}
    assert people == {(p["github_login"], p["email"]) for p in world.rows("person")}
    connector.close()


def test_rest_pull_requests_page_across_boundaries(
    server: tuple[ServedApp, SimulatorState], world: World
) -> None:
    running, state = server
    connector = connect(running, page_size=5, pull_requests_api="rest")
    rows, _ = pull(connector, "pull_requests")
    assert len(rows["pull_request"]) == 15
    listing = [r for r in state.requests if r.path == f"/repos/{CHECKOUT}/pulls"]
    pages = [dict(p.split("=", 1) for p in r.query.split("&")).get("page") for r in listing]
    assert pages == [None, "2", "3"]  # 12 PRs at 5 a page
    assert connector.context.stats.pages >= 3


@pytest.mark.parametrize(("api", "pull_request_requests"), [("graphql", 1), ("rest", 2)])
def test_second_sync_with_nothing_new_reads_one_page_per_repo(
    server: tuple[ServedApp, SimulatorState], api: str, pull_request_requests: int
) -> None:
    running, state = server
    connector = connect(running, pull_requests_api=api)
    cursors = {stream: pull(connector, stream)[1][-1] for stream in INCREMENTAL}
    before = settled(state)
    counts = {}
    for stream in INCREMENTAL:
        start = settled(state)
        rows, new_cursors = pull(connector, stream, cursors[stream])
        assert rows == {} and new_cursors == [], stream
        counts[stream] = settled(state) - start
    # Repos are cached by the connector: 2 active repos → one listing page each (GraphQL: one
    # query asks both repos for their newest PR); one workflow each; the org-wide alert
    # listings are one request each.
    assert counts == {
        "pull_requests": pull_request_requests,
        "deployments": 2,
        "workflow_runs": 2 + 1,
        "dependabot_alerts": 1,
        "code_scanning_alerts": 1,
    }
    assert settled(state) - before == sum(counts.values())


@pytest.mark.parametrize(("api", "requests"), [("graphql", 1 + 1), ("rest", 2 + 3)])
def test_incremental_sync_pulls_only_the_changed_pull_request(api: str, requests: int) -> None:
    app = make_app(build_world())  # its own world: this test changes a pull request
    state = app.state.sim
    with served(app) as running:
        connector = connect(running, pull_requests_api=api)
        _, cursors = pull(connector, "pull_requests")
        cursor = parse_time(cursors[-1])
        assert cursor is not None
        changed = app.state.github.pull_by_number[(PAYMENTS, 2)]
        changed["updated_at"] = cursor + timedelta(hours=1)
        start = settled(state)
        rows, new_cursors = pull(connector, "pull_requests", cursors[-1])
    assert [r["number"] for r in rows["pull_request"]] == [2]
    assert {r["pr_number"] for r in rows["review"]} == {2}
    # GraphQL: the newest-PR query for both repos + one page of the changed repo's PRs (the
    # changed PR's commits and reviews come with it); REST: one listing page per repo + detail,
    # commits and reviews of the one changed PR.
    assert settled(state) - start == requests
    assert new_cursors == [changed["updated_at"].isoformat().replace("+00:00", "Z")]


def test_rate_limit_retry_after_is_honoured(server: tuple[ServedApp, SimulatorState]) -> None:
    running, state = server
    sleeps = Sleeps()
    connector = connect(running, sleeps=sleeps)
    state.add_fault("rate_limit", times=1, path_prefix="/orgs/acme/dependabot", retry_after=7)
    rows, _ = pull(connector, "dependabot_alerts")
    assert len(rows["vulnerability"]) == 3
    assert sleeps.calls == [7.0]


def test_server_errors_are_retried_then_raised(server: tuple[ServedApp, SimulatorState]) -> None:
    running, state = server
    sleeps = Sleeps()
    connector = connect(running, sleeps=sleeps)
    state.add_fault("server_error", times=2, path_prefix="/orgs/acme/code-scanning")
    rows, _ = pull(connector, "code_scanning_alerts")
    assert len(rows["vulnerability"]) == 1 and len(sleeps.calls) == 2
    state.add_fault("server_error", times=None, path_prefix="/orgs/acme/code-scanning", status=502)
    with pytest.raises(UpstreamError) as caught:
        pull(connector, "code_scanning_alerts")
    assert caught.value.source == "github" and caught.value.stream == "code_scanning_alerts"
    assert "502" in str(caught.value)


def test_bad_token_is_an_auth_error_naming_the_source(
    server: tuple[ServedApp, SimulatorState],
) -> None:
    running, _ = server
    connector = connect(running, token="ghp_wrong")
    with pytest.raises(AuthError) as caught:
        pull(connector, "repositories")
    assert caught.value.source == "github"
    assert "github" in str(caught.value) and "ghp_wrong" not in str(caught.value)


def test_malformed_page_is_schema_drift_naming_the_stream(
    server: tuple[ServedApp, SimulatorState],
) -> None:
    running, state = server
    connector = connect(running)
    state.add_fault("malformed", times=1, path_prefix="/orgs/acme/dependabot")
    with pytest.raises(SchemaDriftError) as caught:
        pull(connector, "dependabot_alerts")
    assert caught.value.stream == "dependabot_alerts"


def test_renamed_field_is_schema_drift_naming_the_field(
    server: tuple[ServedApp, SimulatorState],
) -> None:
    running, state = server
    connector = connect(running, pull_requests_api="rest")
    state.add_fault(
        "rename_field",
        times=1,
        path_prefix=f"/repos/{CHECKOUT}/pulls",
        field="updated_at",
        new_field="modified_at",
    )
    with pytest.raises(SchemaDriftError) as caught:
        pull(connector, "pull_requests")
    assert caught.value.stream == "pull_requests" and caught.value.field == "updated_at"


def test_check_reports_each_capability(server: tuple[ServedApp, SimulatorState]) -> None:
    running, _ = server
    results = connect(running).check()
    assert [r.capability for r in results if r.ok] == [r.capability for r in results]
    assert len(results) == 6
    refused = connect(running, token="nope").check()
    assert not any(r.ok for r in refused)


def test_first_sync_reads_back_only_since_days(world: World) -> None:
    app = make_app(world)
    with served(app) as running:
        connector = connect(running)
        connector.settings.since_days = 1  # everything in the tiny world is older than a day
        rows, cursors = pull(connector, "pull_requests")
    assert rows == {} and cursors == []


def test_real_code_scanning_payloads_parse_into_vulnerabilities() -> None:
    alerts = json.loads(
        vendor_spec(
            "github", "defectdojo_fixtures", "code_scanning_github_sast_many_vul.json"
        ).read_text()
    )
    rows = [
        mapping.code_scanning_alert(a, source="github", stream="code_scanning_alerts")
        for a in alerts
    ]
    assert [r["source_id"] for r in rows] == [
        "OWASP/test-repository/code-scanning/35",
        "OWASP/test-repository/code-scanning/34",
    ]
    first = rows[0]
    assert first["scanner"] == "code_scanning" and first["severity"] == "high"
    assert first["external_id"] == "py/clear-text-storage-sensitive-data"
    assert first["cwe_ids"] == ["CWE-312", "CWE-315", "CWE-359"]
    assert first["package"] == "src/file.py" and first["state"] == "open"
    assert first["fixed_at"] is None  # the export writes "None" for null
    assert first["first_seen"] == datetime.fromisoformat("2024-01-19T14:11:18+00:00")
    one = json.loads(
        vendor_spec(
            "github", "defectdojo_fixtures", "code_scanning_github_sast_one_vul.json"
        ).read_text()
    )
    assert mapping.code_scanning_alert(one[0], source="github", stream="x")["title"] == (
        "Clear-text storage of sensitive information"
    )


def test_sync_engine_runs_every_stream_into_the_store(
    server: tuple[ServedApp, SimulatorState], sqlite_store: Any, world: World
) -> None:
    from sqlalchemy import func, select

    from cto_assistant.store.models import PullRequest, SyncRun, Vulnerability
    from cto_assistant.sync.engine import SyncEngine

    running, state = server
    engine = SyncEngine(sqlite_store, [connect(running)])
    results = engine.run()
    assert all(r.ok for r in results), [r.error for r in results]
    with sqlite_store.session() as session:
        assert session.scalar(select(func.count()).select_from(PullRequest)) == 15
        assert session.scalar(select(func.count()).select_from(Vulnerability)) == 4
        assert session.scalar(select(func.count()).select_from(SyncRun)) == 8
    start = settled(state)
    again = engine.run(streams=list(INCREMENTAL))
    assert all(r.ok and r.records == 0 for r in again)
    assert settled(state) - start <= 2 + 2 + 3 + 1 + 1 + 1  # + the repo list once
