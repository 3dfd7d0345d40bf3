"""The sandbox: every vendor simulator mounted under one loopback server, and the config to match.

`cto sandbox` and `cto demo` both use it. Each simulator is mounted under `/<vendor>`; the
`[sources.*]` sections returned by `Sandbox.sources()` are exactly what a user would write in
`cto.toml` to sync from those URLs, so the demo runs the real connectors over real HTTP.
The demo credentials below are the simulators' own fixed values — not secrets of anyone.
"""

from __future__ import annotations

import importlib
import multiprocessing
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from fastapi import FastAPI
from starlette.routing import Mount

from cto_assistant.demo.simulators.common import ServedApp, SimulatorState, serve
from cto_assistant.demo.world import World

Section = dict[str, Any]


@dataclass(frozen=True)
class SimulatedVendor:
    """One simulator: where it mounts and the source sections that sync from it."""

    prefix: str
    module: str
    sections: Callable[[str, World], dict[str, Section]]
    make_kwargs: Callable[[World], dict[str, Any]] = field(default=lambda _world: {})


def _repos_deployed_by(world: World, tool: str) -> list[str]:
    """Repositories whose deployments the world runs through `tool`."""
    return sorted(
        {
            row["repo"]
            for row in world.rows("deployment")
            if row.get("tool") == tool and row.get("repo")
        }
    )


def _jira(url: str, world: World) -> dict[str, Section]:
    return {
        "jira": {
            "kind": "jira",
            "base_url": url,
            "email": "cto-assistant@acme.example",
            "token": "acme-jira-demo-token",
        }
    }


def _github(url: str, world: World) -> dict[str, Section]:
    from cto_assistant.demo.simulators import github

    org = (world.extras.get("github") or {}).get("org", "acme")
    # Acme's deploys run in Actions (workflow_runs) or in GitLab/Jenkins/CircleCI, which also
    # mirror them as GitHub deployments: syncing `deployments` too would count them twice.
    streams = [
        "repositories",
        "pull_requests",
        "workflow_runs",
        "dependabot_alerts",
        "code_scanning_alerts",
        "sbom",
        "members",
    ]
    section = {
        "kind": "github",
        "base_url": url,
        "token": github.DEMO_TOKEN,
        "org": org,
        "since_days": 200,  # the world keeps six months of history (a little over 180 days)
    }
    return {"github": {**section, "streams": streams}}


def _gitlab(url: str, world: World) -> dict[str, Section]:
    projects = _repos_deployed_by(world, "gitlab")
    if not projects:
        return {}
    return {
        "gitlab": {
            "kind": "gitlab",
            "base_url": url,
            "token": "gitlab-demo-token",
            "projects": projects,
        }
    }


def _jenkins(url: str, world: World) -> dict[str, Section]:
    if not _repos_deployed_by(world, "jenkins"):
        return {}
    return {
        "jenkins": {
            "kind": "jenkins",
            "base_url": url,
            "user": "deploy-bot",
            "token": "jenkins-demo-token",
        }
    }


def _circleci(url: str, world: World) -> dict[str, Section]:
    projects = [f"gh/{repo}" for repo in _repos_deployed_by(world, "circleci")]
    if not projects:
        return {}
    return {
        "circleci": {
            "kind": "circleci",
            "base_url": url,
            "token": "circleci-demo-token",
            "projects": projects,
        }
    }


def _sonarqube(url: str, world: World) -> dict[str, Section]:
    return {"sonarqube": {"kind": "sonarqube", "base_url": url, "token": "sonarqube-demo-token"}}


def _snyk(url: str, world: World) -> dict[str, Section]:
    from cto_assistant.demo.simulators import snyk

    return {
        "snyk": {
            "kind": "snyk",
            "base_url": url,
            "token": snyk.DEMO_TOKEN,
            "org_ids": [snyk.DEMO_ORG_ID],
        }
    }


def _pagerduty(url: str, world: World) -> dict[str, Section]:
    from cto_assistant.demo.simulators import pagerduty

    return {
        "pagerduty": {
            "kind": "pagerduty",
            "base_url": url,
            "token": pagerduty.DEMO_TOKEN,
            "team_keys": pagerduty.team_keys(world),
            "now": world.now.isoformat(),
        }
    }


def _datadog(url: str, world: World) -> dict[str, Section]:
    from cto_assistant.demo.simulators import datadog

    return {
        "datadog": {
            "kind": "datadog",
            "base_url": url,
            **datadog.DEMO_CREDENTIALS,
            "history_days": 35,  # the world's SLI series
            "now": world.now.isoformat(),
        }
    }


def _aws_ce(url: str, world: World) -> dict[str, Section]:
    from cto_assistant.demo.simulators import aws_ce

    return {
        "aws": {
            "kind": "aws_cost_explorer",
            "base_url": f"{url}/",  # botocore posts to the endpoint itself: keep the mount's slash
            **aws_ce.DEMO_CREDENTIALS,
            "history_days": 400,
            "anomaly_days": 365,
            "now": world.now.isoformat(),
        }
    }


def _aws_iam(url: str, world: World) -> dict[str, Section]:
    from cto_assistant.demo.simulators import aws_iam

    return {
        "aws_iam": {
            "kind": "aws_iam",
            "base_url": f"{url}/",  # botocore posts to the endpoint itself: keep the mount's slash
            **aws_iam.DEMO_CREDENTIALS,
        }
    }


def _threat_intel(url: str, world: World) -> dict[str, Section]:
    return {
        "threat_intel": {
            "kind": "threat_intel",
            "base_url": url,
            "kev_url": f"{url}/kev/known_exploited_vulnerabilities.json",
            "epss_url": f"{url}/epss/epss_scores-current.csv.gz",
        }
    }


def _no_source(url: str, world: World) -> dict[str, Section]:
    """Served for exploration, but not synced by default (it would double-count incidents)."""
    return {}


VENDORS: tuple[SimulatedVendor, ...] = (
    SimulatedVendor("jira", "cto_assistant.demo.simulators.jira", _jira),
    SimulatedVendor("github", "cto_assistant.demo.simulators.github", _github),
    SimulatedVendor("gitlab", "cto_assistant.demo.simulators.gitlab", _gitlab),
    SimulatedVendor("jenkins", "cto_assistant.demo.simulators.jenkins", _jenkins),
    SimulatedVendor("circleci", "cto_assistant.demo.simulators.circleci", _circleci),
    SimulatedVendor("sonarqube", "cto_assistant.demo.simulators.sonarqube", _sonarqube),
    SimulatedVendor("snyk", "cto_assistant.demo.simulators.snyk", _snyk),
    SimulatedVendor("pagerduty", "cto_assistant.demo.simulators.pagerduty", _pagerduty),
    SimulatedVendor("datadog", "cto_assistant.demo.simulators.datadog", _datadog),
    SimulatedVendor("aws-ce", "cto_assistant.demo.simulators.aws_ce", _aws_ce),
    SimulatedVendor("aws-iam", "cto_assistant.demo.simulators.aws_iam", _aws_iam),
    SimulatedVendor("opsgenie", "cto_assistant.demo.simulators.opsgenie", _no_source),
    # Last: it asks OSV about the inventory the code hosts just synced.
    SimulatedVendor("threat-intel", "cto_assistant.demo.simulators.threat_intel", _threat_intel),
)


@dataclass
class Sandbox:
    """Every simulator mounted in one ASGI app, with each one's state for faults and counts."""

    app: FastAPI
    states: dict[str, SimulatorState]
    vendors: tuple[SimulatedVendor, ...]
    world: World

    def sources(self, base_url: str) -> dict[str, Section]:
        """The `[sources.*]` sections that point the real connectors at this sandbox."""
        return sandbox_sources(self.world, base_url, vendors=self.vendors)

    def request_count(self) -> int:
        """Requests served by every simulator so far."""
        return sum(len(state.requests) for state in self.states.values())


def sandbox_sources(
    world: World, base_url: str, *, vendors: tuple[SimulatedVendor, ...] = VENDORS
) -> dict[str, Section]:
    """The `[sources.*]` sections for a sandbox of `world` served at `base_url`."""
    sections: dict[str, Section] = {}
    for vendor in vendors:
        sections.update(vendor.sections(f"{base_url.rstrip('/')}/{vendor.prefix}", world))
    for section in sections.values():  # the world's clock: "the last N days" of its history
        section.setdefault("now", world.now.isoformat())
    return sections


def build_sandbox(world: World, *, vendors: tuple[SimulatedVendor, ...] = VENDORS) -> Sandbox:
    """Mount every simulator for `world` under its prefix."""
    routes = []
    states: dict[str, SimulatorState] = {}
    for vendor in vendors:
        module = importlib.import_module(vendor.module)
        sim_app: FastAPI = module.make_app(world, **vendor.make_kwargs(world))
        states[vendor.prefix] = sim_app.state.sim
        routes.append(Mount(f"/{vendor.prefix}", app=sim_app))
    app = FastAPI(
        title="CTO Assistant vendor sandbox", docs_url=None, redoc_url=None, openapi_url=None
    )
    app.router.routes.extend(routes)
    return Sandbox(app=app, states=states, vendors=vendors, world=world)


def start_sandbox(world: World, *, port: int = 0) -> tuple[Sandbox, ServedApp]:
    """Build the sandbox and serve it on a loopback port (0: any free one)."""
    sandbox = build_sandbox(world)
    return sandbox, serve(sandbox.app, port=port)


@dataclass
class ServedProcess:
    """The sandbox served by a child process (the vendors' CPU work on its own core)."""

    base_url: str
    process: BaseProcess

    def stop(self) -> None:
        """Terminate the child and wait for it."""
        self.process.terminate()
        self.process.join(timeout=10)


def _serve_in_child(seed: int, today: date, scale: str, port: int, conn: Connection) -> None:
    """Child process: build the same world, serve its sandbox, report the URL, serve forever."""
    from cto_assistant.demo.world import build_world

    world = build_world(seed=seed, today=today, scale=scale)  # type: ignore[arg-type]
    _sandbox, served = start_sandbox(world, port=port)
    conn.send(served.base_url)
    conn.close()
    served.thread.join()


def start_sandbox_process(world: World, *, port: int = 0, timeout: float = 600.0) -> ServedProcess:
    """Serve the sandbox of a generated world from a child process (same seed, today, scale)."""
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe(duplex=False)
    process = context.Process(
        target=_serve_in_child,
        args=(world.seed, world.today, world.scale, port, child),
        name="cto-sandbox",
        daemon=True,
    )
    process.start()
    child.close()
    if not parent.poll(timeout):
        process.terminate()
        raise RuntimeError("the vendor sandbox did not start in time")
    base_url: str = parent.recv()
    return ServedProcess(base_url=base_url, process=process)


def sources_toml(sections: dict[str, Section]) -> str:
    """Render source sections as the `cto.toml` text a user would write."""
    lines: list[str] = []
    for name, section in sections.items():
        lines.append(f"[sources.{name}]")
        for key, value in section.items():
            lines.append(f"{key} = {_toml_value(value)}")
        lines.append("")
    return "\n".join(lines)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
