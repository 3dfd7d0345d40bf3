"""Datadog users → access grants: the world round trip, paging, faults, the recorded payload."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from cto_assistant.connectors.base import ConnectorContext
from cto_assistant.connectors.datadog import DatadogConfig, DatadogConnector, mapping
from cto_assistant.demo.simulators.common import ServedApp, served
from cto_assistant.demo.simulators.datadog import make_app
from cto_assistant.demo.world import World, build_world
from cto_assistant.errors import AuthError, SchemaDriftError, UpstreamError
from tests.connectors.datadog.test_datadog_connector import (
    FakeSleep,
    connector_for,
    datadog_world,
    records,
)

# The user of Datadog's recorded "List all users returns OK response" (datadog-api-client-python,
# tests/v2/cassettes/test_scenarios/test_list_all_users_returns_ok_response.yaml), documented at
# https://docs.datadoghq.com/api/latest/users/#list-all-users — a pending user with no roles.
RECORDED_LIST_USERS: dict[str, Any] = {
    "meta": {"page": {"total_filtered_count": 1, "total_count": 83819}},
    "data": [
        {
            "type": "users",
            "id": "ec5fd754-3f38-11eb-89bd-f799b55e8a66",
            "attributes": {
                "name": None,
                "handle": "datadog-api-client-python-test_list_all_users_returns_ok_response"
                "-1608079927.699412@datadoghq.com",
                "created_at": "2020-12-16T00:52:08.133985+00:00",
                "email": "datadog-api-client-python-test_list_all_users_returns_ok_response"
                "-1608079927.699412@datadoghq.com",
                "icon": "https://secure.gravatar.com/avatar/42ad2580406752d01446ed57cc267691"
                "?s=48&d=retro",
                "title": None,
                "verified": False,
                "service_account": False,
                "disabled": False,
                "allowed_login_methods": [],
                "status": "Pending",
            },
            "relationships": {
                "roles": {"data": []},
                "org": {"data": {"type": "orgs", "id": "4dee724d-00cc-11ea-a77b-570c9d03c6c5"}},
            },
        }
    ],
}


def strip(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(
        ({k: v for k, v in r.items() if k != "source"} for r in rows),
        key=lambda r: r["source_id"],
    )


def datadog_grants(world: World) -> list[dict[str, Any]]:
    return [g for g in world.rows("access_grant") if g["system"] == "datadog"]


def test_users_round_trip_as_access_grants(served_world: tuple[ServedApp, Any, World]) -> None:
    running, sim, world = served_world
    grants, cursors = records(connector_for(running.base_url).pull("users", None))
    assert strip(grants) == strip(datadog_grants(world))
    assert all(g["source"] == "datadog" for g in grants) and cursors == []
    assert sim.request_count("/api/v2/users") == 1 and sim.request_count("/api/v2/roles") == 0


def test_admin_is_privileged_and_missing_mfa_is_reported(
    served_world: tuple[ServedApp, Any, World],
) -> None:
    running, _sim, _world = served_world
    grants, _ = records(connector_for(running.base_url).pull("users", None))
    by_principal = {g["principal"]: g for g in grants}
    assert [p for p, g in by_principal.items() if g["privileged"]] == ["ada@acme.example"]
    assert by_principal["ada@acme.example"]["role"] == "Datadog Admin Role"
    assert [p for p, g in by_principal.items() if g["mfa"] is False] == ["bob@acme.example"]
    service = by_principal["ci-deployer"]
    assert service["principal_type"] == "service" and service["mfa"] is None
    assert service["last_used_at"] is None
    assert by_principal["cara@acme.example"]["role"] == "Datadog Standard Role, Acme Deployers"


def test_configured_custom_roles_count_as_privileged(
    served_world: tuple[ServedApp, Any, World],
) -> None:
    running, _sim, _world = served_world
    connector = connector_for(running.base_url, privileged_roles=["Acme Deployers"])
    grants, _ = records(connector.pull("users", None))
    assert sorted(g["principal"] for g in grants if g["privileged"]) == [
        "ada@acme.example",
        "cara@acme.example",
    ]


def test_users_paging_crosses_page_boundaries(served_world: tuple[ServedApp, Any, World]) -> None:
    running, sim, _world = served_world
    grants, _ = records(connector_for(running.base_url, page_size=3).pull("users", None))
    assert len(grants) == 4 and len({g["source_id"] for g in grants}) == 4
    assert sim.request_count("/api/v2/users") == 2  # 3 + 1, total_count says stop
    numbers = [r.query for r in sim.requests if r.path == "/api/v2/users"]
    assert "page%5Bnumber%5D=0" in numbers[0] and "page%5Bnumber%5D=1" in numbers[1]


def test_roles_are_listed_when_a_page_does_not_include_them(
    served_world: tuple[ServedApp, Any, World],
) -> None:
    running, sim, world = served_world
    sim.add_fault(
        "rename_field", times=1, path_prefix="/api/v2/users", field="included", new_field="x"
    )
    grants, _ = records(connector_for(running.base_url).pull("users", None))
    assert strip(grants) == strip(datadog_grants(world))
    assert sim.request_count("/api/v2/roles") == 1


def test_users_rate_limit_honours_retry_after(served_world: tuple[ServedApp, Any, World]) -> None:
    running, sim, _ = served_world
    sleep = FakeSleep()
    sim.add_fault("rate_limit", times=1, path_prefix="/api/v2/users", retry_after=11)
    grants, _ = records(connector_for(running.base_url, sleep=sleep).pull("users", None))
    assert len(grants) == 4 and sleep.calls == [11.0]


def test_users_5xx_retried_then_upstream_error(served_world: tuple[ServedApp, Any, World]) -> None:
    running, sim, _ = served_world
    sim.add_fault("server_error", times=1, path_prefix="/api/v2/users")
    grants, _ = records(connector_for(running.base_url).pull("users", None))
    assert len(grants) == 4
    sim.add_fault("server_error", times=None, path_prefix="/api/v2/users", status=500)
    sleep = FakeSleep()
    with pytest.raises(UpstreamError, match="datadog/users"):
        records(connector_for(running.base_url, sleep=sleep).pull("users", None))
    assert len(sleep.calls) == 2  # three attempts


def test_users_401_is_an_auth_error(served_world: tuple[ServedApp, Any, World]) -> None:
    running, sim, _ = served_world
    sim.add_fault("auth_revoked", times=1, path_prefix="/api/v2/users")
    with pytest.raises(AuthError, match="datadog/users"):
        records(connector_for(running.base_url).pull("users", None))
    config = DatadogConfig(base_url=running.base_url, api_key="demo-dd-api-key", app_key="no")
    connector = DatadogConnector(ConnectorContext(name="dd-eu", config=config, sleep=FakeSleep()))
    with pytest.raises(AuthError, match="dd-eu/users"):
        records(connector.pull("users", None))


def test_users_schema_drift_names_stream_and_field(
    served_world: tuple[ServedApp, Any, World],
) -> None:
    running, sim, _ = served_world
    sim.add_fault(
        "rename_field", times=1, path_prefix="/api/v2/users", field="handle", new_field="login"
    )
    with pytest.raises(SchemaDriftError, match="datadog/users") as caught:
        records(connector_for(running.base_url).pull("users", None))
    assert caught.value.field == "handle"
    sim.add_fault("malformed", times=1, path_prefix="/api/v2/users")
    with pytest.raises(SchemaDriftError, match="datadog/users"):
        records(connector_for(running.base_url).pull("users", None))


def test_recorded_user_maps_and_disabled_users_hold_no_access() -> None:
    (user,) = RECORDED_LIST_USERS["data"]
    row = mapping.access_grant(user, source="datadog", roles={})
    handle = user["attributes"]["handle"]
    assert row == {
        "source": "datadog",
        "source_id": f"datadog:{handle}",
        "system": "datadog",
        "principal": handle,
        "principal_type": "user",
        "person_email": handle,
        "role": None,
        "privileged": False,
        "mfa": None,  # the 2020 payload has no mfa_enabled: unknown, not off
        "last_used_at": None,
        "granted_at": datetime(2020, 12, 16, 0, 52, 8, 133985, tzinfo=UTC),
        "key_created_at": None,
    }
    assert not mapping.user_is_disabled(user)
    disabled = {**user, "attributes": {**user["attributes"], "disabled": True}}
    assert mapping.user_is_disabled(disabled)
    assert mapping.user_is_disabled(
        {**user, "attributes": {**user["attributes"], "status": "Disabled"}}
    )


def test_generated_world_round_trips_its_datadog_grants() -> None:
    world = build_world(seed=42, today=date(2026, 11, 26))
    expected = datadog_grants(world)
    assert any(g["privileged"] for g in expected)
    with served(make_app(world)) as running:
        grants, _ = records(connector_for(running.base_url).pull("users", None))
    assert strip(grants) == strip(expected)
    admins = {g["principal"] for g in grants if g["privileged"]}
    assert admins and all(g["role"] == "Datadog Admin Role" for g in grants if g["privileged"])


def test_sync_prunes_grants_of_users_gone_from_datadog(sqlite_store: Any) -> None:
    import sqlalchemy as sa

    from cto_assistant.store.models import AccessGrant
    from cto_assistant.sync.engine import SyncEngine

    def principals() -> list[str]:
        with sqlite_store.session() as session:
            return sorted(session.scalars(sa.select(AccessGrant.principal)))

    world = datadog_world()
    with served(make_app(world)) as running:
        SyncEngine(sqlite_store, [connector_for(running.base_url)]).run(streams=["users"])
    assert principals() == [
        "ada@acme.example",
        "bob@acme.example",
        "cara@acme.example",
        "ci-deployer",
    ]
    fewer = World.from_rows(
        {
            "access_grant": [
                g for g in world.rows("access_grant") if g["principal"] != "bob@acme.example"
            ]
        },
        today=world.today,
    )
    with served(make_app(fewer)) as running:
        (result,) = SyncEngine(sqlite_store, [connector_for(running.base_url)]).run(
            streams=["users"]
        )
    assert result.ok and result.records == 3
    assert "bob@acme.example" not in principals()
