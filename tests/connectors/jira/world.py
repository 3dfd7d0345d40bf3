"""A tiny Jira world for tests: two teams, three people, sprints, epics, tickets, transitions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from cto_assistant.connectors.base import ConnectorContext, Record
from cto_assistant.connectors.jira import JiraConfig, JiraConnector
from cto_assistant.demo.simulators.common import SimulatorState, served
from cto_assistant.demo.simulators.jira import DEMO_EMAIL, DEMO_TOKEN, JiraWorld, make_app
from cto_assistant.demo.world import World

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
JIRA_TABLES = ("sprint", "epic", "ticket", "ticket_transition")


def at(hours: float) -> datetime:
    """A whole-second UTC time `hours` after T0."""
    return T0 + timedelta(hours=hours)


def tiny_world(*, tickets_per_team: int = 7) -> World:
    """PAY and CHK teams, each with a board, two sprints, one epic and `tickets_per_team` tickets."""
    people = [
        {
            "source_id": "p1",
            "name": "Ada Payne",
            "email": "ada@acme.example",
            "team_key": "PAY",
            "jira_account_id": "5b10ac8d82e05b22cc7d4ef5",
            "active": True,
        },
        {
            "source_id": "p2",
            "name": "Ben Check",
            "email": "ben@acme.example",
            "team_key": "CHK",
            "jira_account_id": "5b10a2844c20165700ede21g",
            "active": True,
        },
        {
            "source_id": "p3",
            "name": "Cy Old",
            "email": "cy@acme.example",
            "team_key": "CHK",
            "jira_account_id": "5b10a0effa615349cb016cd8",
            "active": False,
        },
    ]
    teams = [
        {"source_id": "t-pay", "key": "PAY", "name": "Payments", "jira_project": "PAY"},
        {"source_id": "t-chk", "key": "CHK", "name": "Checkout", "jira_project": "CHK"},
    ]
    sprints: list[dict[str, Any]] = []
    epics: list[dict[str, Any]] = []
    tickets: list[dict[str, Any]] = []
    transitions: list[dict[str, Any]] = []
    history = 50000
    for t, team in enumerate(("PAY", "CHK")):
        closed_id, active_id = 100 + 10 * t, 101 + 10 * t
        sprints += [
            {
                "source_id": str(closed_id),
                "team_key": team,
                "board": f"{team} board",
                "name": f"{team} Sprint 1",
                "goal": "Ship the refactor",
                "state": "closed",
                "start_at": at(-336),
                "end_at": at(0),
                "complete_at": at(1),
            },
            {
                "source_id": str(active_id),
                "team_key": team,
                "board": f"{team} board",
                "name": f"{team} Sprint 2",
                "goal": None,
                "state": "active",
                "start_at": at(2),
                "end_at": at(338),
                "complete_at": None,
            },
        ]
        epic_id = 10000 + 1000 * t
        epic_key = f"{team}-1"
        epics.append(
            {
                "source_id": str(epic_id),
                "key": epic_key,
                "name": "Q2-Payments-Refactor" if team == "PAY" else "Checkout v2",
                "team_key": team,
                "status": "In Progress",
                "done": False,
                "due_date": date(2026, 1, 31),
                "created_at": at(-700),
            }
        )
        assignee = people[t]["jira_account_id"]
        for n in range(tickets_per_team):
            key = f"{team}-{n + 2}"
            done = n % 3 == 0
            created = at(-200 + n)
            updated = at(10 + n + 0.25 * t)
            tickets.append(
                {
                    "source_id": str(epic_id + n + 1),
                    "key": key,
                    "type": "Bug" if n % 4 == 1 else "Story",
                    "summary": f"{team} work item {n}",
                    "status": "Done" if done else "In Progress",
                    "status_category": "done" if done else "indeterminate",
                    "priority": ["High", "Medium", "Low"][n % 3],
                    "assignee": assignee if n % 5 else None,
                    "team_key": team,
                    "project": team,
                    "epic_key": epic_key if n % 2 == 0 else None,
                    "sprint_source_ids": [str(closed_id), str(active_id)]
                    if n % 2
                    else [str(active_id)],
                    "story_points": float(n % 5 + 1) if n % 6 else None,
                    "labels": ["backend"] if n % 2 else [],
                    "created_at": created,
                    "updated_at": updated,
                    "resolved_at": updated if done else None,
                    "due_date": date(2026, 1, 20) if n == 0 else None,
                }
            )
            history += 1
            transitions.append(
                {
                    "source_id": f"{history}:status",
                    "ticket_key": key,
                    "field": "status",
                    "from_value": "To Do",
                    "to_value": "In Progress",
                    "at": created + timedelta(hours=1),
                    "author": assignee,
                }
            )
            if n % 2:
                transitions.append(
                    {
                        "source_id": f"{history}:Sprint",
                        "ticket_key": key,
                        "field": "Sprint",
                        "from_value": str(closed_id),
                        "to_value": f"{closed_id},{active_id}",
                        "at": created + timedelta(hours=1),
                        "author": assignee,
                    }
                )
            if done:
                history += 1
                transitions.append(
                    {
                        "source_id": f"{history}:status",
                        "ticket_key": key,
                        "field": "status",
                        "from_value": "In Progress",
                        "to_value": "Done",
                        "at": updated,
                        "author": assignee,
                    }
                )
            if n == 4:
                history += 1
                transitions.append(
                    {
                        "source_id": f"{history}:points",
                        "ticket_key": key,
                        "field": "points",
                        "from_value": "3",
                        "to_value": "5",
                        "at": created + timedelta(hours=2),
                        "author": None,
                    }
                )
    return World.from_rows(
        {
            "team": teams,
            "person": people,
            "sprint": sprints,
            "epic": epics,
            "ticket": tickets,
            "ticket_transition": transitions,
        },
        today=date(2026, 1, 15),
    )


class FakeSleep:
    """Records requested waits instead of sleeping."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def connector(base_url: str, *, sleep: FakeSleep | None = None, **options: Any) -> JiraConnector:
    """A Jira connector pointed at a simulator, with demo credentials unless overridden."""
    settings: dict[str, Any] = {
        "base_url": base_url,
        "email": DEMO_EMAIL,
        "token": DEMO_TOKEN,
        "timezone": "UTC",
        "max_attempts": 3,
    }
    settings.update(options)
    config = JiraConfig.model_validate(settings)
    return JiraConnector(ConnectorContext(name="jira", config=config, sleep=sleep or FakeSleep()))


@dataclass
class Sim:
    """A running Jira simulator: where it listens, its state (faults, log) and its issues."""

    base_url: str
    state: SimulatorState
    jira: JiraWorld


@contextmanager
def simulator(world: World | None = None, **options: Any) -> Iterator[Sim]:
    """Serve the Jira simulator for `world` (the tiny one by default) on loopback."""
    app = make_app(world or tiny_world(), **options)
    with served(app) as running:
        yield Sim(running.base_url, app.state.sim, app.state.jira)


def rows(records: Iterator[Any]) -> dict[str, list[dict[str, Any]]]:
    """Records grouped by table, `source` dropped (so they compare with world rows)."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for item in records:
        if isinstance(item, Record):
            values = dict(item.values)
            assert values.pop("source") == "jira"
            grouped.setdefault(item.table, []).append(values)
    return grouped
