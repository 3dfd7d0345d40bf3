"""Tiny CI/CD worlds and a harness that runs a connector against a served simulator."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI

from cto_assistant.connectors.base import Checkpoint, Connector, ConnectorContext, Record
from cto_assistant.demo.simulators.common import SimulatorState, served
from cto_assistant.demo.world import Row, World

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def at(hours: float) -> datetime:
    """A moment `hours` after T0."""
    return T0 + timedelta(hours=hours)


def deployment(
    source_id: str,
    *,
    tool: str,
    service: str,
    env: str | None,
    sha: str,
    start: float,
    status: str = "success",
    minutes: float = 5,
    ref: str = "main",
    rollback: bool = False,
    url: str | None = None,
) -> Row:
    """One world deployment row."""
    started = at(start)
    return {
        "source_id": source_id,
        "service": service,
        "repo": f"acme/{service}",
        "environment": env,
        "sha": sha,
        "ref": ref,
        "started_at": started,
        "finished_at": None if status == "in_progress" else started + timedelta(minutes=minutes),
        "status": status,
        "tool": tool,
        "is_rollback": rollback,
        "is_hotfix": "hotfix" in ref,
        "url": url,
    }


def change(deployment_source_id: str, service: str, sha: str, pr: int | None) -> Row:
    """One world deployment_change row (successful deployments only carry changes)."""
    return {
        "source_id": f"{deployment_source_id}:{sha}",
        "deployment_source_id": deployment_source_id,
        "repo": f"acme/{service}",
        "sha": sha,
        "pr_number": pr,
    }


def sha(name: str) -> str:
    """A 40-hex sha made from a short name."""
    return (name.encode().hex() * 40)[:40]


GL = "checkout-service"
JK = "payments-api"
CC = "mobile-app"


def gitlab_rows() -> tuple[list[Row], list[Row]]:
    """GitLab deployments: first deploys, a failed one retried, a rollback, a running hotfix."""
    url = "https://gitlab.acme.example/acme/checkout-service/-/pipelines/{}"
    a1, b1, b2, c3 = sha("a1"), sha("b1"), sha("b2"), sha("c3")
    deps = [
        deployment(
            "1001", tool="gitlab", service=GL, env="staging", sha=a1, start=0, url=url.format(1)
        ),
        deployment(
            "1002", tool="gitlab", service=GL, env="production", sha=a1, start=1, url=url.format(2)
        ),
        deployment(
            "1003", tool="gitlab", service=GL, env="staging", sha=b2, start=24, url=url.format(3)
        ),
        deployment(
            "1004",
            tool="gitlab",
            service=GL,
            env="production",
            sha=b2,
            start=25,
            status="failure",
            url=url.format(4),
        ),
        deployment(
            "1005", tool="gitlab", service=GL, env="production", sha=b2, start=26, url=url.format(5)
        ),
        deployment(
            "1006",
            tool="gitlab",
            service=GL,
            env="production",
            sha=a1,
            start=48,
            rollback=True,
            url=url.format(6),
        ),
        deployment(
            "1007",
            tool="gitlab",
            service=GL,
            env="production",
            sha=c3,
            start=72,
            status="in_progress",
            ref="hotfix/login",
            url=url.format(7),
        ),
    ]
    changes = [
        change("1001", GL, a1, 11),
        change("1002", GL, a1, 11),
        change("1003", GL, b1, 12),
        change("1003", GL, b2, 13),
        change("1005", GL, b1, 12),
        change("1005", GL, b2, 13),
    ]
    return deps, changes


def jenkins_rows() -> tuple[list[Row], list[Row]]:
    """Jenkins builds of deploy-payments-api: success, staging failure, rollback, running."""
    job = "deploy-payments-api"
    p1, p2, p3 = sha("p1"), sha("p2"), sha("p3")
    url = "https://jenkins.acme.example/job/deploy-payments-api/{}/"
    deps = [
        deployment(
            f"{job}#1",
            tool="jenkins",
            service=JK,
            env="production",
            sha=p1,
            start=2,
            url=url.format(1),
        ),
        deployment(
            f"{job}#2",
            tool="jenkins",
            service=JK,
            env="staging",
            sha=p2,
            start=30,
            status="failure",
            url=url.format(2),
        ),
        deployment(
            f"{job}#3",
            tool="jenkins",
            service=JK,
            env="production",
            sha=p1,
            start=50,
            rollback=True,
            url=url.format(3),
        ),
        deployment(
            f"{job}#4",
            tool="jenkins",
            service=JK,
            env="production",
            sha=p3,
            start=70,
            status="in_progress",
            url=url.format(4),
        ),
    ]
    changes = [
        change(f"{job}#1", JK, p1, 21),
        change(f"{job}#3", JK, p1, 21),
    ]
    return deps, changes


CIRCLE_IDS = [f"0b6f3c1e-0000-4000-8000-00000000000{i}" for i in range(1, 6)]


def circleci_rows() -> tuple[list[Row], list[Row]]:
    """CircleCI deploy jobs of gh/acme/mobile-app: staging, production, failure, rollback."""
    m1, m2 = sha("m1"), sha("m2")
    a, b, c, d = CIRCLE_IDS[:4]  # c failed: failed deployments ship nothing
    deps = [
        deployment(a, tool="circleci", service=CC, env="staging", sha=m1, start=3),
        deployment(b, tool="circleci", service=CC, env="production", sha=m1, start=4),
        deployment(
            c, tool="circleci", service=CC, env="production", sha=m2, start=28, status="failure"
        ),
        deployment(
            d, tool="circleci", service=CC, env="production", sha=m1, start=29, rollback=True
        ),
    ]
    changes = [
        change(a, CC, m1, 31),
        change(b, CC, m1, 31),
        change(d, CC, m1, 31),
    ]
    return deps, changes


def cicd_world(*extra: tuple[list[Row], list[Row]]) -> World:
    """A world with the GitLab, Jenkins and CircleCI deployments (plus `extra` pairs)."""
    deps: list[Row] = []
    changes: list[Row] = []
    for more_deps, more_changes in (gitlab_rows(), jenkins_rows(), circleci_rows(), *extra):
        deps += more_deps
        changes += more_changes
    github = deployment(
        "gh-1", tool="github_actions", service="web", env="production", sha=sha("w1"), start=5
    )
    return World.from_rows({"deployment": [*deps, github], "deployment_change": changes})


@dataclass
class Run:
    """What one pull produced."""

    records: list[Record] = field(default_factory=list)
    cursor: str | None = None

    def rows(self, table: str, *, drop: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        """The rows of `table` without `source` (and without `drop` columns), sorted by id."""
        found = [
            {k: v for k, v in r.values.items() if k != "source" and k not in drop}
            for r in self.records
            if r.table == table
        ]
        return sorted(found, key=lambda row: str(row["source_id"]))


def pull(connector: Connector, stream: str, since: str | None = None) -> Run:
    """Drain one stream of a connector."""
    run = Run()
    for item in connector.pull(stream, since):
        if isinstance(item, Checkpoint):
            run.cursor = item.cursor
        else:
            run.records.append(item)
    return run


def world_rows(
    world: World, table: str, tool: str | None = None, *, drop: tuple[str, ...] = ()
) -> list[Row]:
    """A world's rows of `table` (of one tool's deployments), sorted by source_id."""
    rows = list(world.rows(table))
    if tool is not None and table == "deployment":
        rows = [row for row in rows if row.get("tool") == tool]
    elif tool is not None:
        ids = {str(d["source_id"]) for d in world.rows("deployment") if d.get("tool") == tool}
        rows = [row for row in rows if str(row["deployment_source_id"]) in ids]
    return sorted(
        ({k: v for k, v in row.items() if k not in drop} for row in rows),
        key=lambda row: str(row["source_id"]),
    )


@dataclass
class Harness:
    """A served simulator and a way to build connectors pointed at it."""

    base_url: str
    state: SimulatorState
    sleeps: list[float]
    build: Callable[..., Connector]

    def connector(self, **config: Any) -> Connector:
        """A connector for the served simulator (config overrides the defaults)."""
        return self.build(self.base_url, self.sleeps, **config)


@contextmanager
def harness(
    app: FastAPI,
    connector_cls: type[Connector],
    name: str,
    defaults: dict[str, Any],
) -> Iterator[Harness]:
    """Serve `app` on loopback and build `connector_cls` sources against it (fake sleep)."""
    sleeps: list[float] = []

    def build(base_url: str, sleeps: list[float], **config: Any) -> Connector:
        values = {**defaults, "base_url": base_url, **config}
        model = connector_cls.config_model.model_validate(values)
        return connector_cls(ConnectorContext(name=name, config=model, sleep=sleeps.append))

    with served(app) as running:
        yield Harness(running.base_url, app.state.sim, sleeps, build)
