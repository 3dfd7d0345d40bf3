"""Sprint membership queries on SQLite and PostgreSQL: every sprint asked for in one pass."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cto_assistant.store import Store
from cto_assistant.store.db import upsert
from cto_assistant.store.queries import engineering as q

NOW = datetime(2026, 3, 18, 12, tzinfo=UTC)


def ticket(key: str, *sprints: str) -> dict[str, object]:
    return {"source": "jira", "source_id": key, "key": key, "sprint_source_ids": list(sprints)}


def sprint_change(key: str, n: int, old: str | None, new: str | None) -> dict[str, object]:
    return {
        "source": "jira", "source_id": f"{key}:{n}", "ticket_key": key, "field": "Sprint",
        "from_value": old, "to_value": new, "at": NOW - timedelta(days=n),
    }  # fmt: skip


def test_each_sprint_gets_the_tickets_that_are_or_were_in_it(any_store: Store) -> None:
    with any_store.session() as session:
        upsert(session, "ticket", [
            ticket("A-1", "12"),
            ticket("A-2", "112"),  # another sprint whose id contains "12"
            ticket("A-3", "12", "13"),  # carried over
            ticket("A-4"),  # moved out of 12 (its changelog says so)
            ticket("A-5", "5"),  # moved from 12 to 5, the values spaced as Jira sends them
            ticket("A-6", "7"),
        ])  # fmt: skip
        upsert(session, "ticket_transition", [
            sprint_change("A-4", 1, "12", None),
            sprint_change("A-5", 2, "5, 12", "5"),
            sprint_change("A-6", 3, "112", "7"),
            {"source": "jira", "source_id": "A-6:s", "ticket_key": "A-6", "field": "status",
             "from_value": "12", "to_value": "Done", "at": NOW},  # not a Sprint change
        ])  # fmt: skip
    with any_store.session() as session:
        found = q.sprints_tickets(session=session, sprint_ids=["12", "13", "99"])
        keys = {sprint: [t.key for t in tickets] for sprint, tickets in found.items()}
        assert keys == {"12": ["A-1", "A-3", "A-4", "A-5"], "13": ["A-3"], "99": []}
        assert [t.key for t in q.sprint_tickets(session=session, sprint_id="112")] == [
            "A-2", "A-6"
        ]  # fmt: skip
        assert q.sprints_tickets(session=session, sprint_ids=[]) == {}
