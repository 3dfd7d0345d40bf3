"""PagerDuty connector against the PagerDuty simulator (real HTTP on loopback)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from cto_assistant.connectors.base import Checkpoint, ConnectorContext, Record
from cto_assistant.connectors.pagerduty import PagerDutyConfig, PagerDutyConnector, mapping
from cto_assistant.demo.simulators.common import SimulatorState, served
from cto_assistant.demo.simulators.pagerduty import DEMO_TOKEN, make_app, team_keys
from cto_assistant.demo.world import World
from cto_assistant.errors import AuthError, SchemaDriftError, UpstreamError
from cto_assistant.store import Store
from cto_assistant.store.db import upsert
from tests.connectors.pagerduty.worlds import NOW, POSTMORTEM, incident_world, t

INCIDENT_FIELDS = (
    "source_id",
    "key",
    "service",
    "team_key",
    "title",
    "severity",
    "urgency",
    "status",
    "triggered_at",
    "acknowledged_at",
    "resolved_at",
    "assignee",
    "postmortem_url",
)


class Rig:
    """A served simulator plus a connector factory with a fake clock."""

    def __init__(self, world: World, base_url: str, state: SimulatorState) -> None:
        self.world = world
        self.base_url = base_url
        self.state = state
        self.sleeps: list[float] = []

    def connector(self, **overrides: Any) -> PagerDutyConnector:
        settings: dict[str, Any] = {
            "base_url": self.base_url,
            "token": DEMO_TOKEN,
            "now": NOW,
            "team_keys": team_keys(self.world),
            "max_attempts": 3,
        }
        settings.update(overrides)
        context = ConnectorContext(
            name="pagerduty", config=PagerDutyConfig(**settings), sleep=self.sleeps.append
        )
        return PagerDutyConnector(context)


@pytest.fixture
def rig() -> Iterator[Rig]:
    world = incident_world()
    app = make_app(world)
    with served(app) as running:
        yield Rig(world, running.base_url, app.state.sim)


def pull(
    connector: PagerDutyConnector, stream: str, since: str | None = None
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


def test_incidents_round_trip_keeps_every_state_and_timeline(rig: Rig) -> None:
    records, cursor = pull(rig.connector(), "incidents")
    got = {r["source_id"]: r for r in rows(records, "incident")}
    want = {r["source_id"]: r for r in rig.world.rows("incident")}
    assert {k: [got[k][f] for f in INCIDENT_FIELDS] for k in got} == {
        k: [want[k][f] for f in INCIDENT_FIELDS] for k in want
    }
    assert sorted(r["status"] for r in got.values()) == ["acknowledged", "resolved", "triggered"]
    assert got["Q1RESOLV"]["postmortem_url"] == POSTMORTEM
    events = rows(records, "incident_event")
    world_events = {e["source_id"]: e for e in rig.world.rows("incident_event")}
    by_id = {e["source_id"]: e for e in events}
    for source_id, event in world_events.items():
        mine = by_id[source_id]
        assert (mine["incident_key"], mine["at"], mine["kind"], mine["summary"]) == (
            event["incident_key"],
            event["at"],
            event["kind"],
            event["summary"],
        )
        if event["actor"]:
            assert mine["actor"] == event["actor"]
    extra = set(by_id) - set(world_events)
    assert [by_id[e]["summary"] for e in extra] == [f"Postmortem: {POSTMORTEM}"]
    assert json.loads(cursor or "{}")["window_start"] == "2026-01-15T09:00:00Z"


def test_incremental_resync_with_nothing_new_makes_one_request(rig: Rig) -> None:
    _, cursor = pull(rig.connector(), "incidents")
    before = rig.state.request_count()
    records, again = pull(rig.connector(), "incidents", cursor)
    assert records == []
    assert rig.state.request_count() - before == 1
    assert again == cursor


def test_incremental_resync_pulls_only_the_changed_and_new_incidents(rig: Rig) -> None:
    _, cursor = pull(rig.connector(), "incidents")
    tables = {name: [dict(r) for r in rig.world.rows(name)] for name in rig.world.tables()}
    acked = next(i for i in tables["incident"] if i["key"] == "INC-102")
    acked.update(status="resolved", resolved_at=t("2026-01-15 11:45"))
    tables["incident_event"].append(
        {
            "source_id": "Q2ACKEDR",
            "incident_key": "INC-102",
            "at": t("2026-01-15 11:45"),
            "kind": "resolve",
            "actor": "carol@acme.cloud",
            "summary": "Resolved",
        }
    )
    tables["incident"].append(
        {
            "source_id": "Q4NEW",
            "key": "INC-104",
            "service": "checkout-service",
            "team_key": "CHK",
            "title": "Cart timeouts",
            "severity": "SEV-3",
            "urgency": "low",
            "status": "triggered",
            "triggered_at": t("2026-01-15 11:50"),
            "acknowledged_at": None,
            "resolved_at": None,
            "assignee": "carol@acme.cloud",
            "postmortem_url": None,
        }
    )
    later = World.from_rows(tables, today=rig.world.today)
    app = make_app(later)
    with served(app) as running:
        connector = rig.connector(base_url=running.base_url)
        records, again = pull(connector, "incidents", cursor)
        state: SimulatorState = app.state.sim
    got = {r["key"]: r for r in rows(records, "incident")}
    assert set(got) == {"INC-102", "INC-104"}
    assert got["INC-102"]["status"] == "resolved"
    assert got["INC-102"]["resolved_at"] == t("2026-01-15 11:45")
    # one listing, one user directory read, one log-entry page per changed incident
    assert state.request_count("/incidents") == 1 + 2
    assert state.request_count() == 1 + 2 + 1
    assert json.loads(again or "{}")["window_start"] == "2026-01-15T11:30:00Z"


def test_users_map_people_and_privileged_access(rig: Rig) -> None:
    records, _ = pull(rig.connector(), "users")
    people = {r["email"]: r for r in rows(records, "person")}
    assert set(people) == {
        "alice@acme.cloud",
        "bob@acme.cloud",
        "carol@acme.cloud",
        "dave@acme.cloud",
    }
    assert people["carol@acme.cloud"]["team_key"] == "CHK"
    assert people["carol@acme.cloud"]["pagerduty_id"] == "PCAROL1"
    grants = {r["person_email"]: r for r in rows(records, "access_grant")}
    assert {p for p, g in grants.items() if g["privileged"]} == {
        "alice@acme.cloud",
        "bob@acme.cloud",
    }
    assert grants["bob@acme.cloud"]["role"] == "owner"
    assert grants["carol@acme.cloud"]["system"] == "pagerduty"


def test_services_carry_their_team(rig: Rig) -> None:
    records, _ = pull(rig.connector(), "services")
    got = sorted(
        (r["source_id"], r["name"], r["team_key"], r["description"])
        for r in rows(records, "service")
    )
    want = sorted(
        (r["source_id"], r["name"], r["team_key"], r["description"])
        for r in rig.world.rows("service")
    )
    assert got == want


def test_oncalls_across_a_handoff_with_override_flagged(rig: Rig) -> None:
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
    primary = [g for g in got if g[0] == "Checkout Primary" and not g[6]]
    (carol, dave) = primary
    assert (carol[2], dave[2]) == ("carol@acme.cloud", "dave@acme.cloud")
    assert carol[5] == dave[4] == t("2026-01-19 09:00")  # the handoff
    assert [g[2] for g in got if g[6]] == ["bob@acme.cloud"]


def test_pagination_across_page_boundaries(rig: Rig) -> None:
    records, _ = pull(rig.connector(page_size=1), "incidents")
    assert len(rows(records, "incident")) == 3
    assert rig.state.request_count("/incidents") >= 3 + len(list(rig.world.rows("incident_event")))


def test_rate_limit_retry_after_is_honoured(rig: Rig) -> None:
    rig.state.add_fault("rate_limit", times=1, path_prefix="/services", retry_after=7)
    records, _ = pull(rig.connector(), "services")
    assert len(records) == 2
    assert rig.sleeps == [7.0]


def test_server_errors_are_retried_then_raise(rig: Rig) -> None:
    rig.state.add_fault("server_error", times=1, path_prefix="/users")
    assert len(rows(pull(rig.connector(), "users")[0], "person")) == 4
    rig.state.add_fault("server_error", times=None, path_prefix="/users")
    with pytest.raises(UpstreamError) as caught:
        pull(rig.connector(), "users")
    assert caught.value.source == "pagerduty"
    assert len(rig.sleeps) == 1 + 2


def test_bad_token_is_an_auth_error_naming_the_source(rig: Rig) -> None:
    with pytest.raises(AuthError) as caught:
        pull(rig.connector(token="wrong"), "incidents")
    assert "pagerduty" in str(caught.value)


def test_renamed_field_is_schema_drift_naming_stream_and_field(rig: Rig) -> None:
    rig.state.add_fault(
        "rename_field", times=1, path_prefix="/incidents", field="created_at", new_field="createdAt"
    )
    with pytest.raises(SchemaDriftError) as caught:
        pull(rig.connector(), "incidents")
    assert caught.value.stream == "incidents"
    assert caught.value.field == "created_at"


def test_malformed_page_is_schema_drift(rig: Rig) -> None:
    rig.state.add_fault("malformed", times=1, path_prefix="/oncalls")
    with pytest.raises(SchemaDriftError) as caught:
        pull(rig.connector(), "oncalls")
    assert caught.value.stream == "oncalls"


def test_check_reports_each_capability(rig: Rig) -> None:
    results = rig.connector().check()
    assert results and all(r.ok for r in results)
    assert not any(r.ok for r in rig.connector(token="nope").check())


def test_full_sync_lands_in_the_store(rig: Rig, sqlite_store: Store) -> None:
    connector = rig.connector()
    with sqlite_store.session() as session:
        for stream in ("services", "users", "incidents", "oncalls"):
            records, _ = pull(connector, stream)
            for table in {r.table for r in records}:
                upsert(session, table, rows(records, table))
    with sqlite_store.session() as session:
        from sqlalchemy import text

        assert session.execute(text("select count(*) from incident")).scalar() == 3
        assert session.execute(text("select count(*) from oncall_shift")).scalar() == 5


def test_sync_engine_runs_every_stream_and_resyncs_with_one_incident_request(
    rig: Rig, sqlite_store: Store
) -> None:
    from sqlalchemy import text

    from cto_assistant.sync.engine import SyncEngine

    engine = SyncEngine(sqlite_store, [rig.connector()])
    results = engine.run()
    assert [(r.stream, r.ok) for r in results] == [
        ("services", True),
        ("users", True),
        ("incidents", True),
        ("oncalls", True),
    ]
    before = rig.state.request_count("/incidents")
    SyncEngine(sqlite_store, [rig.connector()]).run(streams=["incidents"])
    assert rig.state.request_count("/incidents") - before == 1
    with sqlite_store.session() as session:
        counts = {
            table: session.execute(text(f"select count(*) from {table}")).scalar()  # noqa: S608 - fixed names
            for table in (
                "service",
                "person",
                "access_grant",
                "incident",
                "incident_event",
                "oncall_shift",
            )
        }
    assert counts == {
        "service": 2,
        "person": 4,
        "access_grant": 4,
        "incident": 3,
        "incident_event": len(list(rig.world.rows("incident_event"))) + 1,
        "oncall_shift": 5,
    }


def test_demo_world_round_trips_through_the_simulator() -> None:
    from datetime import date, timedelta

    from cto_assistant.demo.world import build_world

    world = build_world(seed=42, today=date(2026, 1, 15))
    app = make_app(world)
    with served(app) as running:
        connector = Rig(world, running.base_url, app.state.sim).connector()
        incidents = rows(pull(connector, "incidents")[0], "incident")
        shifts = rows(pull(connector, "oncalls")[0], "oncall_shift")
        grants = rows(pull(connector, "users")[0], "access_grant")
    fields = (*INCIDENT_FIELDS, "url")
    assert {r["source_id"]: [r[f] for f in fields] for r in incidents} == {
        r["source_id"]: [r[f] for f in fields] for r in world.rows("incident")
    }
    shift_fields = ("schedule", "team_key", "person", "level", "start_at", "end_at", "is_override")
    since, until = NOW - timedelta(days=7), NOW + timedelta(days=28)
    assert sorted(tuple(r[f] for f in shift_fields) for r in shifts) == sorted(
        tuple(s[f] for f in shift_fields)
        for s in world.rows("oncall_shift")
        if s["start_at"] < until and s["end_at"] > since
    )
    privileged = {(g["principal"], g["person_email"]) for g in grants if g["privileged"]}
    assert privileged == {
        (g["principal"], g["person_email"])
        for g in world.rows("access_grant")
        if g["system"] == "pagerduty" and g["privileged"]
    }


def test_malformed_incident_inputs_are_schema_drift_naming_the_field() -> None:
    item = {"id": "P1", "name": "api", "teams": {"id": "T"}}
    with pytest.raises(SchemaDriftError, match="service P1: 'teams' is an object") as caught:
        mapping.service(item, source="pd", team_keys={})
    assert caught.value.field == "teams"
    with pytest.raises(SchemaDriftError, match="lookup: 'team_keys' is a list, expected an object"):
        mapping.team_key("Payments", ["PAY"], source="pd")  # type: ignore[arg-type]
    with pytest.raises(SchemaDriftError, match="incident: 'notes.1' is a list, expected a string"):
        mapping.postmortem_url(["fine", ["not", "text"]])  # type: ignore[list-item]
    assert mapping.team_key(None, {}) is None  # a user without a team still maps
