"""Pull requests through GitHub's GraphQL API, against the simulator over real HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from pydantic import SecretStr

from cto_assistant.connectors.base import Checkpoint, ConnectorContext, Record
from cto_assistant.connectors.github import GitHubConfig, GitHubConnector
from cto_assistant.connectors.github.client import PULL_REQUEST_PAGE_QUERY, probe_query
from cto_assistant.connectors.payload import parse_time
from cto_assistant.demo.simulators.common import ServedApp, SimulatorState, served
from cto_assistant.demo.simulators.github import GraphQLEndpoint, make_app
from cto_assistant.demo.world import World
from cto_assistant.errors import AuthError, RateLimitedError, SchemaDriftError, UpstreamError
from tests.connectors.github.test_client import Sleeps, connect, pull, same_rows, settled
from tests.connectors.github.world import ARCHIVED, CHECKOUT, PAYMENTS, build_world

STREAM = "pull_requests"


@pytest.fixture(scope="module")
def world() -> World:
    return build_world()


@pytest.fixture
def server(world: World) -> Iterator[tuple[ServedApp, SimulatorState, GraphQLEndpoint]]:
    app = make_app(world)
    with served(app) as running:
        yield running, app.state.sim, app.state.github_graphql


def graphql_requests(state: SimulatorState) -> int:
    settled(state)
    return state.request_count("/graphql")


def by_table(rows: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, dict[str, Any]]]:
    return {table: {r["source_id"]: r for r in found} for table, found in rows.items()}


def test_graphql_rows_equal_the_rest_rows_and_the_world(
    server: tuple[ServedApp, SimulatorState, GraphQLEndpoint], world: World
) -> None:
    running, state, _ = server
    via_graphql, graphql_cursors = pull(connect(running), STREAM)
    via_rest, rest_cursors = pull(connect(running, pull_requests_api="rest"), STREAM)
    assert by_table(via_graphql) == by_table(via_rest)
    assert graphql_cursors == rest_cursors
    active = {CHECKOUT, PAYMENTS}
    same_rows(
        via_graphql["pull_request"], [r for r in world.rows("pull_request") if r["repo"] in active]
    )
    same_rows(via_graphql["review"], list(world.rows("review")))
    same_rows(via_graphql["commit"], [c for c in world.rows("commit") if c["pr_number"]])
    # The archived repo is not asked for; REST used 3 requests per PR, GraphQL one query to
    # find the repos with new PRs and one page of up to 50 PRs per repo.
    assert not [r for r in state.requests if ARCHIVED in r.path]
    assert state.request_count("/graphql") == 1 + 2


def test_graphql_pages_across_page_boundaries(
    server: tuple[ServedApp, SimulatorState, GraphQLEndpoint], world: World
) -> None:
    running, state, _ = server
    rows, cursors = pull(connect(running, page_size=5), STREAM)
    assert len(rows["pull_request"]) == 15 and len(rows["review"]) == 30
    # newest-PR query + checkout 5+5+2 + payments 3; 2 commits and reviews fit in a page of 5
    assert graphql_requests(state) == 1 + 3 + 1
    newest = max(r["updated_at"] for r in world.rows("pull_request"))
    assert cursors == [newest.isoformat().replace("+00:00", "Z")]


def test_graphql_pages_nested_commits_and_reviews_only_when_there_are_more(
    server: tuple[ServedApp, SimulatorState, GraphQLEndpoint], world: World
) -> None:
    running, state, _ = server
    connector = connect(running, page_size=1)
    rows, _ = pull(connector, STREAM)
    same_rows(rows["review"], list(world.rows("review")))
    same_rows(rows["commit"], [c for c in world.rows("commit") if c["pr_number"]])
    pr = next(r for r in rows["pull_request"] if (r["repo"], r["number"]) == (CHECKOUT, 3))
    expected = next(
        r for r in world.rows("pull_request") if (r["repo"], r["number"]) == (CHECKOUT, 3)
    )
    assert (pr["first_commit_at"], pr["first_review_at"], pr["approved_at"]) == (
        expected["first_commit_at"],
        expected["first_review_at"],
        expected["approved_at"],
    )
    # 15 PRs one a page; each PR's second commit and second review need one more query each
    assert graphql_requests(state) == 1 + 15 + 15 + 15
    repo_listing = state.request_count("/orgs/acme/repos")  # 3 repos at 1 a page
    assert connector.context.stats.pages == repo_listing + 1 + 15 + 15 + 15


def test_second_sync_with_nothing_new_is_one_query_for_the_whole_org(
    server: tuple[ServedApp, SimulatorState, GraphQLEndpoint],
) -> None:
    running, state, endpoint = server
    connector = connect(running)
    _, cursors = pull(connector, STREAM)
    before_points = endpoint.points_used
    start = settled(state)
    rows, again = pull(connector, STREAM, cursors[-1])
    assert rows == {} and again == []
    assert settled(state) - start == 1  # the repository list is cached
    assert endpoint.points_used - before_points == 1


def test_incremental_sync_reads_only_the_repo_with_the_changed_pull_request() -> None:
    app = make_app(build_world())  # its own world: this test changes a pull request
    state = app.state.sim
    with served(app) as running:
        connector = connect(running)
        _, cursors = pull(connector, STREAM)
        cursor = parse_time(cursors[-1])
        assert cursor is not None
        changed = app.state.github.pull_by_number[(CHECKOUT, 5)]
        changed["updated_at"] = cursor + timedelta(minutes=30)
        changed["additions"] = 999
        start = settled(state)
        rows, new_cursors = pull(connector, STREAM, cursors[-1])
        requests = settled(state) - start
    assert [(r["repo"], r["number"], r["additions"]) for r in rows["pull_request"]] == [
        (CHECKOUT, 5, 999)
    ]
    assert {r["pr_number"] for r in rows["review"]} == {5}
    assert {r["pr_number"] for r in rows["commit"]} == {5}
    assert requests == 2  # which repos changed + the first page of checkout's PRs
    assert [r.path for r in state.requests[start:]] == ["/graphql", "/graphql"]
    assert new_cursors == [changed["updated_at"].isoformat().replace("+00:00", "Z")]


def test_rate_limited_answer_waits_for_the_reset_then_succeeds(
    server: tuple[ServedApp, SimulatorState, GraphQLEndpoint],
) -> None:
    running, _, endpoint = server
    sleeps = Sleeps()
    endpoint.points_used = 5000  # budget spent: GitHub answers 200 with a RATE_LIMITED error
    endpoint.reset_at = int(time.time()) + 30

    def reset(seconds: float) -> None:
        sleeps(seconds)
        endpoint.points_used = 0  # the hour rolled over while we waited

    connector = connect(running, sleeps=Sleeps())
    connector.context.sleep = reset
    rows, _ = pull(connector, STREAM)
    assert len(rows["pull_request"]) == 15
    assert len(sleeps.calls) == 1 and 25 <= sleeps.calls[0] <= 30
    assert connector.context.stats.retries == 1


def test_rate_limit_far_from_reset_is_a_rate_limited_error_naming_the_stream(
    server: tuple[ServedApp, SimulatorState, GraphQLEndpoint],
) -> None:
    running, _, endpoint = server
    sleeps = Sleeps()
    endpoint.points_used = 5000
    endpoint.reset_at = int(time.time()) + 3000
    with pytest.raises(RateLimitedError) as caught:
        pull(connect(running, sleeps=sleeps), STREAM)
    assert caught.value.source == "github" and caught.value.stream == STREAM
    assert caught.value.retry_after is not None and caught.value.retry_after > 2900
    assert "rate limit" in str(caught.value) and sleeps.calls == []


def test_field_removed_from_the_schema_is_schema_drift_naming_the_field(
    server: tuple[ServedApp, SimulatorState, GraphQLEndpoint],
) -> None:
    running, _, endpoint = server
    endpoint.drop_field("PullRequest", "changedFiles")
    with pytest.raises(SchemaDriftError) as caught:
        pull(connect(running), STREAM)
    assert caught.value.stream == STREAM and caught.value.field == "changedFiles"
    assert "doesn't exist on type 'PullRequest'" in str(caught.value)


def test_renamed_response_field_is_schema_drift_naming_the_field(
    server: tuple[ServedApp, SimulatorState, GraphQLEndpoint],
) -> None:
    running, state, _ = server
    state.add_fault(
        "rename_field", times=1, path_prefix="/graphql", field="updatedAt", new_field="modifiedAt"
    )
    with pytest.raises(SchemaDriftError) as caught:
        pull(connect(running), STREAM)
    assert caught.value.stream == STREAM and caught.value.field == "updatedAt"


def test_malformed_body_is_schema_drift(
    server: tuple[ServedApp, SimulatorState, GraphQLEndpoint],
) -> None:
    running, state, _ = server
    state.add_fault("malformed", times=1, path_prefix="/graphql")
    with pytest.raises(SchemaDriftError) as caught:
        pull(connect(running), STREAM)
    assert caught.value.stream == STREAM


def test_bad_token_is_an_auth_error(
    server: tuple[ServedApp, SimulatorState, GraphQLEndpoint],
) -> None:
    running, _, _ = server
    connector = connect(running)
    connector.repositories(STREAM)  # the repo list is read; then the token is revoked
    connector.close()
    connector.settings.token = SecretStr("ghp_revoked")
    with pytest.raises(AuthError) as caught:
        pull(connector, STREAM)
    assert caught.value.source == "github" and caught.value.stream == STREAM
    assert "ghp_revoked" not in str(caught.value)


def test_server_errors_are_retried_then_raised(
    server: tuple[ServedApp, SimulatorState, GraphQLEndpoint],
) -> None:
    running, state, _ = server
    sleeps = Sleeps()
    state.add_fault("server_error", times=2, path_prefix="/graphql", status=502)
    rows, _ = pull(connect(running, sleeps=sleeps), STREAM)
    assert len(rows["pull_request"]) == 15 and len(sleeps.calls) == 2
    state.add_fault("server_error", times=None, path_prefix="/graphql", status=502)
    with pytest.raises(UpstreamError) as caught:
        pull(connect(running, sleeps=Sleeps()), STREAM)
    assert caught.value.stream == STREAM and "502" in str(caught.value)


def test_429_from_the_secondary_rate_limit_honours_retry_after(
    server: tuple[ServedApp, SimulatorState, GraphQLEndpoint],
) -> None:
    running, state, _ = server
    sleeps = Sleeps()
    state.add_fault("rate_limit", times=1, path_prefix="/graphql", retry_after=9)
    rows, _ = pull(connect(running, sleeps=sleeps), STREAM)
    assert len(rows["pull_request"]) == 15 and sleeps.calls == [9.0]


def test_repository_gone_since_it_was_listed_is_skipped(
    server: tuple[ServedApp, SimulatorState, GraphQLEndpoint],
) -> None:
    running, _, endpoint = server
    connector = connect(running)
    connector.repositories(STREAM)
    del endpoint.gh.repos[PAYMENTS]  # deleted between the listing and the query
    rows, _ = pull(connector, STREAM)
    assert {r["repo"] for r in rows["pull_request"]} == {CHECKOUT}


def test_queries_fit_githubs_node_limit_and_cost_one_point_a_page(world: World) -> None:
    endpoint = GraphQLEndpoint(make_app(world).state.github)
    status, body = endpoint.execute(
        {
            "query": PULL_REQUEST_PAGE_QUERY,
            "variables": {"owner": "acme", "name": "checkout-service", "first": 50, "nested": 100},
        }
    )
    assert status == 200 and "errors" not in body
    # 50 PRs + 50 x 100 commits + 50 x 100 reviews; 1 + 50 + 50 connection requests → 1 point
    assert body["data"]["rateLimit"]["cost"] == 1
    assert endpoint.points_used == 1
    status, body = endpoint.execute({"query": probe_query(100), "variables": {}})
    assert "errors" in body  # variables missing: GitHub's validation, not a crash
    variables = {f"o{i}": "acme" for i in range(100)} | {
        f"n{i}": "checkout-service" for i in range(100)
    }
    status, body = endpoint.execute({"query": probe_query(100), "variables": variables})
    assert "errors" not in body and body["data"]["rateLimit"]["cost"] == 1


def test_graphql_url_follows_the_rest_base_url() -> None:
    def url(base: str, **extra: Any) -> str:
        config = GitHubConfig(base_url=base, token=SecretStr("t"), org="acme", **extra)
        return GitHubConnector(ConnectorContext(name="github", config=config)).graphql_url

    assert url("https://api.github.com") == "https://api.github.com/graphql"
    assert url("https://ghe.acme.example/api/v3/") == "https://ghe.acme.example/api/graphql"
    assert url("https://x", graphql_url="https://y/graphql") == "https://y/graphql"


def test_check_reads_pull_requests_through_graphql(
    server: tuple[ServedApp, SimulatorState, GraphQLEndpoint],
) -> None:
    running, state, _ = server
    results = connect(running).check()
    assert all(r.ok for r in results), results
    assert state.request_count("/graphql") == 1


def test_pull_request_updated_during_the_sync_is_read_by_the_next_one() -> None:
    app = make_app(build_world())  # its own world: this test changes pull requests mid-sync
    gh = app.state.github
    with served(app) as running:
        connector = connect(running)
        _, cursors = pull(connector, STREAM)
        cursor = parse_time(cursors[-1])
        assert cursor is not None
        gh.pull_by_number[(CHECKOUT, 4)]["updated_at"] = cursor + timedelta(hours=1)
        gh.pull_by_number[(PAYMENTS, 1)]["updated_at"] = cursor + timedelta(minutes=30)
        items = connector.pull(STREAM, cursors[-1])
        first = next(items)  # checkout is read first; payments' page is asked for next
        assert isinstance(first, Record) and first.values["number"] == 4
        # meanwhile checkout #7 (its repo already read) and payments #2 (not yet) change
        gh.pull_by_number[(CHECKOUT, 7)]["updated_at"] = cursor + timedelta(hours=2)
        gh.pull_by_number[(PAYMENTS, 2)]["updated_at"] = cursor + timedelta(hours=3)
        rest = list(items)
        read = [
            (r.values["repo"], r.values["number"])
            for r in rest
            if isinstance(r, Record) and r.table == "pull_request"
        ]
        assert read == [(PAYMENTS, 2), (PAYMENTS, 1)]
        checkpoints = [r.cursor for r in rest if isinstance(r, Checkpoint)]
        # not payments #2's +3h: checkout #7's +2h would then be skipped for good
        assert checkpoints == [(cursor + timedelta(hours=1)).isoformat().replace("+00:00", "Z")]
        again, _ = pull(connector, STREAM, checkpoints[-1])
    assert sorted((r["repo"], r["number"]) for r in again["pull_request"]) == [
        (CHECKOUT, 7),
        (PAYMENTS, 2),
    ]
