"""Opsgenie connector against the Opsgenie simulator (real HTTP on loopback)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from cto_assistant.connectors.base import Checkpoint, ConnectorContext, Record
from cto_assistant.connectors.opsgenie import OpsgenieConfig, OpsgenieConnector
from cto_assistant.demo.simulators.common import SimulatorState, served
from cto_assistant.demo.simulators.opsgenie import DEMO_KEY, make_app
from cto_assistant.demo.simulators.pagerduty import team_keys
from cto_assistant.demo.world import World
from cto_assistant.errors import AuthError, SchemaDriftError, UpstreamError
from tests.connectors.pagerduty.worlds import NOW, POSTMORTEM, incident_world

FIELDS = (
    "source_id",
    "key",
    "service",
    "team_key",
    "title",
    "severity",
    "status",
    "triggered_at",
    "acknowledged_at",
    "resolved_at",
    "assignee",
    "postmortem_url",
)


def opsgenie_world() -> World:
    base = incident_world(extra_incidents=3)
    tables = {name: [dict(r) for r in base.rows(name)] for name in base.tables()}
    tables["access_grant"].append(
        {
            "source_id": "og-carol",
            "system": "opsgenie",
            "principal": "carol@acme.cloud",
            "person_email": "carol@acme.cloud",
            "role": "admin",
            "privileged": True,
        }
    )
    return World.from_rows(tables, today=base.today)


class Rig:
    def __init__(self, world: World, base_url: str, state: SimulatorState) -> None:
        self.world, self.base_url, self.state = world, base_url, state
        self.sleeps: list[float] = []

    def connector(self, **overrides: Any) -> OpsgenieConnector:
        settings: dict[str, Any] = {
            "base_url": self.base_url,
            "token": DEMO_KEY,
            "now": NOW,
            "team_keys": team_keys(self.world),
            "max_attempts": 3,
        }
        settings.update(overrides)
        return OpsgenieConnector(
            ConnectorContext(
                name="opsgenie", config=OpsgenieConfig(**settings), sleep=self.sleeps.append
            )
        )


@pytest.fixture
def rig() -> Iterator[Rig]:
    world = opsgenie_world()
    app = make_app(world)
    with served(app) as running:
        yield Rig(world, running.base_url, app.state.sim)


def pull(
    connector: OpsgenieConnector, stream: str, since: str | None = None
) -> tuple[list[Record], str | None]:
    records: list[Record] = []
    cursor = None
    for item in connector.pull(stream, since):
        if isinstance(item, Checkpoint):
            cursor = item.cursor
        else:
            records.append(item)
    return records, cursor


def rows(records: list[Record], table: str) -> list[dict[str, Any]]:
    return [dict(r.values) for r in records if r.table == table]


def test_alerts_round_trip_into_the_same_incident_rows_as_pagerduty(rig: Rig) -> None:
    records, cursor = pull(rig.connector(), "alerts")
    got = {r["source_id"]: tuple(r[f] for f in FIELDS) for r in rows(records, "incident")}
    want = {r["source_id"]: tuple(r[f] for f in FIELDS) for r in rig.world.rows("incident")}
    assert got == want
    statuses = {r["key"]: r["status"] for r in rows(records, "incident")}
    assert (statuses["INC-101"], statuses["INC-102"], statuses["INC-103"]) == (
        "resolved",
        "acknowledged",
        "triggered",
    )
    events = {
        (e["incident_key"], e["at"], e["kind"], e["summary"])
        for e in rows(records, "incident_event")
    }
    world_events = {
        (e["incident_key"], e["at"], e["kind"], e["summary"])
        for e in rig.world.rows("incident_event")
    }
    assert world_events <= events
    assert {e[3] for e in events - world_events} == {f"Postmortem: {POSTMORTEM}"}
    assert cursor == "2026-01-15T11:30:00Z"


def test_second_sync_with_nothing_new_makes_one_request(rig: Rig) -> None:
    _, cursor = pull(rig.connector(), "alerts")
    before = rig.state.request_count()
    records, again = pull(rig.connector(), "alerts", cursor)
    assert records == []
    assert rig.state.request_count() - before == 1
    assert again == cursor


def test_pagination_across_page_boundaries(rig: Rig) -> None:
    records, _ = pull(rig.connector(page_size=2), "alerts")
    assert len(rows(records, "incident")) == 6
    assert rig.state.request_count("/v2/alerts") - 6 >= 3  # 3 alert pages besides log pages


def test_oncalls_across_a_handoff(rig: Rig) -> None:
    records, _ = pull(rig.connector(), "oncalls")
    got = sorted(
        (
            r["schedule"],
            r["team_key"],
            r["person"],
            r["level"],
            r["start_at"],
            r["end_at"],
            r["is_override"],
        )
        for r in rows(records, "oncall_shift")
    )
    window_start = NOW.replace(day=8)
    want = sorted(
        (
            s["schedule"],
            s["team_key"],
            s["person"],
            s["level"],
            s["start_at"],
            s["end_at"],
            s["is_override"],
        )
        for s in rig.world.rows("oncall_shift")
        if s["end_at"] > window_start
    )
    assert got == want


def test_users_with_admin_role_are_privileged(rig: Rig) -> None:
    records, _ = pull(rig.connector(), "users")
    assert len(rows(records, "person")) == 4
    grants = {g["principal"]: g for g in rows(records, "access_grant")}
    assert [p for p, g in grants.items() if g["privileged"]] == ["carol@acme.cloud"]
    assert grants["carol@acme.cloud"]["system"] == "opsgenie"


def test_rate_limit_retry_after_is_honoured(rig: Rig) -> None:
    rig.state.add_fault("rate_limit", times=1, path_prefix="/v2/users", retry_after=3)
    assert len(rows(pull(rig.connector(), "users")[0], "person")) == 4
    assert rig.sleeps == [3.0]


def test_persistent_server_error_raises(rig: Rig) -> None:
    rig.state.add_fault("server_error", times=None, path_prefix="/v2/schedules")
    with pytest.raises(UpstreamError) as caught:
        pull(rig.connector(), "oncalls")
    assert caught.value.stream == "oncalls"


def test_bad_key_is_an_auth_error(rig: Rig) -> None:
    with pytest.raises(AuthError) as caught:
        pull(rig.connector(token="nope"), "alerts")
    assert "opsgenie" in str(caught.value)


def test_renamed_field_is_schema_drift(rig: Rig) -> None:
    rig.state.add_fault(
        "rename_field", times=1, path_prefix="/v2/alerts", field="tinyId", new_field="tiny_id"
    )
    with pytest.raises(SchemaDriftError) as caught:
        pull(rig.connector(), "alerts")
    assert (caught.value.stream, caught.value.field) == ("alerts", "tinyId")


def test_check_reports_each_capability(rig: Rig) -> None:
    assert all(r.ok for r in rig.connector().check())
