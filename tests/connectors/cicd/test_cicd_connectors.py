"""GitLab, Jenkins and CircleCI connectors against their simulators over real loopback HTTP.

Each behaviour runs for the three tools: world → simulator → connector gives back the world,
incremental re-syncs pull only changes, paging crosses page boundaries, and 429 / 5xx / 401 /
malformed / renamed-field faults end as the right typed errors.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from types import ModuleType
from typing import Any

import pytest

from cto_assistant.connectors.base import Connector
from cto_assistant.connectors.cicd import (
    CICD_KINDS,
    CircleCIConnector,
    GitLabConnector,
    JenkinsConnector,
)
from cto_assistant.demo.simulators import circleci, gitlab, jenkins
from cto_assistant.demo.world import Row
from cto_assistant.errors import AuthError, SchemaDriftError, UpstreamError
from tests.connectors.cicd.worlds import (
    CC,
    CIRCLE_IDS,
    GL,
    JK,
    Harness,
    change,
    cicd_world,
    circleci_rows,
    deployment,
    gitlab_rows,
    harness,
    jenkins_rows,
    pull,
    sha,
    world_rows,
)


@dataclass(frozen=True)
class Tool:
    """One CI/CD tool under test: its simulator, connector and the knobs tests need."""

    kind: str
    module: ModuleType
    connector: type[Connector]
    defaults: dict[str, Any]
    list_prefix: str  # path prefix of the listing endpoint (faults aim here)
    renamed: str  # a field the mapper needs, renamed to simulate drift
    drop: tuple[str, ...] = ()  # columns the vendor cannot carry back (see module docs)


TOOLS = [
    Tool(
        "gitlab",
        gitlab,
        GitLabConnector,
        {"token": gitlab.DEMO_TOKEN, "projects": [f"acme/{GL}"]},
        "/api/v4/projects",
        "sha",
    ),
    Tool(
        "jenkins",
        jenkins,
        JenkinsConnector,
        {"user": jenkins.DEMO_USER, "token": jenkins.DEMO_TOKEN},
        "/job/",
        "number",
    ),
    Tool(
        "circleci",
        circleci,
        CircleCIConnector,
        {"token": circleci.DEMO_TOKEN, "projects": [f"gh/acme/{CC}"]},
        "/api/v2/project",
        "created_at",
        drop=("url",),
    ),
]


@pytest.fixture(params=TOOLS, ids=[tool.kind for tool in TOOLS])
def tool(request: pytest.FixtureRequest) -> Tool:
    """Each CI/CD tool in turn."""
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def served_tool(tool: Tool) -> Iterator[Harness]:
    """The tool's simulator serving the tiny CI/CD world."""
    with harness(tool.module.make_app(cicd_world()), tool.connector, tool.kind, tool.defaults) as h:
        yield h


def test_kinds_are_exported_for_the_registry() -> None:
    assert {kind: cls.kind for kind, cls in CICD_KINDS.items()} == {
        "gitlab": "gitlab",
        "jenkins": "jenkins",
        "circleci": "circleci",
    }


def test_full_sync_gives_back_the_world(tool: Tool, served_tool: Harness) -> None:
    world = cicd_world()
    run = pull(served_tool.connector(), "deployments")
    assert run.rows("deployment", drop=tool.drop) == world_rows(
        world, "deployment", tool.kind, drop=tool.drop
    )
    assert run.rows("deployment_change") == world_rows(world, "deployment_change", tool.kind)
    assert all(r.values["source"] == tool.kind for r in run.records)
    assert run.cursor


def test_production_rollback_and_running_deploys_are_recognised(served_tool: Harness) -> None:
    rows = pull(served_tool.connector(), "deployments").rows("deployment")
    assert {row["environment"] for row in rows} == {"production", "staging"}
    assert sum(row["is_rollback"] for row in rows) == 1
    assert {row["status"] for row in rows} >= {"success", "failure"}


def test_configured_environment_names_map_to_production(served_tool: Harness) -> None:
    connector = served_tool.connector(production_environments=["staging"], staging_environments=[])
    envs = {row["environment"] for row in pull(connector, "deployments").rows("deployment")}
    assert envs == {"production"}  # 'staging' now counts as production; 'production' stays


def test_pagination_crosses_page_boundaries(tool: Tool) -> None:
    world = cicd_world()
    app = tool.module.make_app(world, **({"page_size": 2} if tool.kind == "circleci" else {}))
    with harness(app, tool.connector, tool.kind, tool.defaults) as h:
        connector = h.connector(page_size=2)
        run = pull(connector, "deployments")
        assert run.rows("deployment", drop=tool.drop) == world_rows(
            world, "deployment", tool.kind, drop=tool.drop
        )
        assert connector.context.stats.pages >= 3


def _updated_world(kind: str) -> tuple[list[Row], list[Row]]:
    """A later state of the tool's deployments: the running one finished, one more deployed."""
    if kind == "gitlab":
        deps, changes = gitlab_rows()
        deps[-1] = {
            **deps[-1],
            "status": "success",
            "finished_at": deps[-1]["started_at"].replace(minute=20),
        }
        deps.append(
            deployment(
                "1008",
                tool="gitlab",
                service=GL,
                env="production",
                sha=sha("d4"),
                start=96,
                url="https://gl/8",
            )
        )
        changes.append(change("1008", GL, sha("d4"), 14))
    elif kind == "jenkins":
        deps, changes = jenkins_rows()
        deps[-1] = {
            **deps[-1],
            "status": "success",
            "finished_at": deps[-1]["started_at"].replace(minute=20),
        }
        job = "deploy-payments-api"
        changes.append(change(f"{job}#4", JK, sha("p3"), 22))
        deps.append(
            deployment(
                f"{job}#5",
                tool="jenkins",
                service=JK,
                env="production",
                sha=sha("p5"),
                start=96,
                url="https://jk/5",
            )
        )
        changes.append(change(f"{job}#5", JK, sha("p5"), 23))
    else:
        deps, changes = circleci_rows()
        deps.append(
            deployment(
                CIRCLE_IDS[4],
                tool="circleci",
                service=CC,
                env="production",
                sha=sha("m5"),
                start=96,
            )
        )
        changes.append(change(CIRCLE_IDS[4], CC, sha("m5"), 35))
    return deps, changes


EXPECTED_CHANGED = {
    "gitlab": ["1007", "1008"],
    "jenkins": ["deploy-payments-api#4", "deploy-payments-api#5"],
    "circleci": [CIRCLE_IDS[4]],
}
# list + previous-success lookup + 2 compares | root + one builds page | pipelines + workflow + jobs
EXPECTED_REQUESTS = {"gitlab": 4, "jenkins": 2, "circleci": 3}


def test_incremental_resync_pulls_only_changes(tool: Tool, served_tool: Harness) -> None:
    first = pull(served_tool.connector(), "deployments")
    deps, changes = _updated_world(tool.kind)
    others = [d for d in cicd_world().rows("deployment") if d["tool"] != tool.kind]
    later = type(cicd_world()).from_rows(
        {"deployment": [*deps, *others], "deployment_change": changes}
    )
    with harness(tool.module.make_app(later), tool.connector, tool.kind, tool.defaults) as h:
        run = pull(h.connector(), "deployments", first.cursor)
        changed = [row["source_id"] for row in run.rows("deployment")]
        assert changed == EXPECTED_CHANGED[tool.kind]
        assert h.state.request_count() == EXPECTED_REQUESTS[tool.kind]
        assert run.rows("deployment", drop=tool.drop) == [
            row
            for row in world_rows(later, "deployment", tool.kind, drop=tool.drop)
            if row["source_id"] in changed
        ]
        assert run.rows("deployment_change") == [
            row
            for row in world_rows(later, "deployment_change", tool.kind)
            if row["deployment_source_id"] in changed
        ]


def test_second_sync_with_nothing_new_makes_one_request(tool: Tool) -> None:
    deps, changes = _updated_world(tool.kind)  # every deployment finished
    world = type(cicd_world()).from_rows({"deployment": deps, "deployment_change": changes})
    with harness(tool.module.make_app(world), tool.connector, tool.kind, tool.defaults) as h:
        first = pull(h.connector(), "deployments")
        before = h.state.request_count()
        again = pull(h.connector(), "deployments", first.cursor)
        assert again.records == []
        assert h.state.request_count() - before == 1
        assert again.cursor == first.cursor


def test_rate_limit_honours_retry_after(tool: Tool, served_tool: Harness) -> None:
    served_tool.state.add_fault("rate_limit", times=2, retry_after=7, path_prefix=tool.list_prefix)
    run = pull(served_tool.connector(), "deployments")
    assert run.rows("deployment")
    assert served_tool.sleeps == [7.0, 7.0]


def test_server_errors_are_retried_then_raised(tool: Tool, served_tool: Harness) -> None:
    served_tool.state.add_fault("server_error", times=2, path_prefix=tool.list_prefix)
    assert pull(served_tool.connector(), "deployments").rows("deployment")
    assert len(served_tool.sleeps) == 2
    served_tool.state.add_fault("server_error", times=None, path_prefix=tool.list_prefix)
    with pytest.raises(UpstreamError) as caught:
        pull(served_tool.connector(max_attempts=3), "deployments")
    assert caught.value.source == tool.kind
    assert caught.value.stream == "deployments"


def test_wrong_token_is_an_auth_error_naming_the_source(tool: Tool, served_tool: Harness) -> None:
    connector = served_tool.connector(token="wrong-token")
    with pytest.raises(AuthError) as caught:
        pull(connector, "deployments")
    assert caught.value.source == tool.kind
    assert "wrong-token" not in str(caught.value)
    assert [check.ok for check in connector.check()] == [False]
    assert all(check.ok for check in served_tool.connector().check())


def test_malformed_page_is_schema_drift_naming_the_stream(tool: Tool, served_tool: Harness) -> None:
    served_tool.state.add_fault("malformed", path_prefix=tool.list_prefix)
    with pytest.raises(SchemaDriftError) as caught:
        pull(served_tool.connector(), "deployments")
    assert caught.value.stream == "deployments"


def test_renamed_field_is_schema_drift_naming_the_field(tool: Tool, served_tool: Harness) -> None:
    served_tool.state.add_fault(
        "rename_field",
        path_prefix=tool.list_prefix,
        field=tool.renamed,
        new_field=f"{tool.renamed}_v2",
    )
    with pytest.raises(SchemaDriftError) as caught:
        pull(served_tool.connector(), "deployments")
    assert caught.value.stream == "deployments"
    assert tool.renamed in str(caught.value)


def test_sync_engine_runs_every_tool_into_the_store(sqlite_store: Any) -> None:
    from cto_assistant.store.models import Deployment, DeploymentChange
    from cto_assistant.sync.engine import SyncEngine

    world = cicd_world()
    with (
        harness(gitlab.make_app(world), GitLabConnector, "gitlab", TOOLS[0].defaults) as gl,
        harness(jenkins.make_app(world), JenkinsConnector, "jenkins", TOOLS[1].defaults) as jk,
        harness(circleci.make_app(world), CircleCIConnector, "circleci", TOOLS[2].defaults) as cc,
    ):
        connectors = [gl.connector(), jk.connector(), cc.connector()]
        results = SyncEngine(sqlite_store, connectors).run()
        assert [(r.source, r.ok) for r in results] == [
            ("gitlab", True),
            ("jenkins", True),
            ("circleci", True),
        ]
        again = SyncEngine(sqlite_store, connectors).run()
        assert [r.requests for r in again] == [1, 2, 1]  # jenkins re-reads its running build
    with sqlite_store.session() as session:
        assert session.query(Deployment).count() == 15
        assert session.query(DeploymentChange).count() == 11


def _to_ms(row: Row) -> Row:
    """Vendors carry milliseconds: the generated world's microseconds are truncated."""
    return {
        key: value.replace(microsecond=value.microsecond // 1000 * 1000)
        if isinstance(value, datetime)
        else value
        for key, value in row.items()
    }


def test_generated_demo_world_deployments_round_trip(tool: Tool) -> None:
    from cto_assistant.demo.world import build_world

    world = build_world(seed=42, today=date(2026, 1, 15))
    expected = [_to_ms(row) for row in world_rows(world, "deployment", tool.kind, drop=tool.drop)]
    repos = sorted({row["repo"] for row in expected})
    config = dict(tool.defaults)
    if "projects" in config:
        config["projects"] = [f"gh/{r}" if tool.kind == "circleci" else r for r in repos]
    with harness(tool.module.make_app(world), tool.connector, tool.kind, config) as h:
        run = pull(h.connector(), "deployments")
    assert expected and run.rows("deployment", drop=tool.drop) == expected
    if tool.kind == "jenkins":  # change sets carry every commit the world has
        assert run.rows("deployment_change") == world_rows(world, "deployment_change", "jenkins")
