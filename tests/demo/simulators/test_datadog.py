"""The Datadog simulator answers in the shapes of Datadog's OpenAPI descriptions and needs keys."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from cto_assistant.demo.simulators.datadog import DEMO_CREDENTIALS, make_app
from tests.conftest import vendor_spec
from tests.connectors.datadog.test_datadog_connector import NOW, datadog_world
from tests.support.openapi import OpenAPISpec

HEADERS = {
    "DD-API-KEY": DEMO_CREDENTIALS["api_key"],
    "DD-APPLICATION-KEY": DEMO_CREDENTIALS["app_key"],
}


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(make_app(datadog_world()))


def test_v1_endpoints_validate_against_the_description(client: TestClient) -> None:
    v1 = OpenAPISpec.load(vendor_spec("datadog", "datadog-v1.subset.yaml"))
    slos = client.get("/api/v1/slo", headers=HEADERS).json()
    v1.validate("/api/v1/slo", "get", 200, slos)
    slo_id = slos["data"][0]["id"]
    window = {"from_ts": int((NOW - timedelta(days=3)).timestamp()), "to_ts": int(NOW.timestamp())}
    history = client.get(f"/api/v1/slo/{slo_id}/history", params=window, headers=HEADERS).json()
    v1.validate("/api/v1/slo/{slo_id}/history", "get", 200, history)
    assert len(history["data"]["series"]["times"]) == 48
    empty = client.get(
        f"/api/v1/slo/{slos['data'][2]['id']}/history", params=window, headers=HEADERS
    ).json()
    v1.validate("/api/v1/slo/{slo_id}/history", "get", 200, empty)
    assert empty["data"]["overall"]["sli_value"] is None  # Datadog's no-data case
    monitors = client.get(
        "/api/v1/monitor", params={"page": 0, "page_size": 3}, headers=HEADERS
    ).json()
    v1.validate("/api/v1/monitor", "get", 200, monitors)
    assert len(monitors) == 3


def test_v2_incidents_validate_against_the_description(client: TestClient) -> None:
    v2 = OpenAPISpec.load(vendor_spec("datadog", "datadog-v2.subset.yaml"))
    body = client.get(
        "/api/v2/incidents", params={"page[size]": 2, "include": "users"}, headers=HEADERS
    ).json()
    v2.validate("/api/v2/incidents", "get", 200, body)
    assert body["meta"]["pagination"] == {"offset": 0, "size": 2, "next_offset": 2}
    assert {u["attributes"]["email"] for u in body["included"]} == {
        "oncall0@acme.example",
        "oncall1@acme.example",
    }
    last = client.get(
        "/api/v2/incidents", params={"page[size]": 2, "page[offset]": 4}, headers=HEADERS
    ).json()
    v2.validate("/api/v2/incidents", "get", 200, last)
    assert "next_offset" not in last["meta"]["pagination"]


def test_hosts_have_the_documented_shape(client: TestClient) -> None:
    # /api/v1/hosts is not in the subset description: compare with the documented example's keys.
    documented = {
        "name",
        "up",
        "is_muted",
        "last_reported_time",
        "apps",
        "tags_by_source",
        "aws_name",
        "metrics",
        "sources",
        "meta",
        "host_name",
        "id",
        "aliases",
    }
    body = client.get("/api/v1/hosts", params={"start": 0, "count": 2}, headers=HEADERS).json()
    assert set(body) == {"host_list", "total_matching", "total_returned"}
    assert body["total_matching"] == 5 and body["total_returned"] == 2
    for host in body["host_list"]:
        assert set(host) <= documented and set(host["metrics"]) == {"cpu", "iowait", "load"}


def test_keys_are_required(client: TestClient) -> None:
    assert client.get("/api/v1/slo").status_code == 401
    wrong = {**HEADERS, "DD-API-KEY": "nope"}
    response = client.get("/api/v2/incidents", headers=wrong)
    assert response.status_code == 403 and response.json() == {"errors": ["Forbidden"]}


def test_v2_users_validate_against_the_user_schema(client: TestClient) -> None:
    # /api/v2/users is not a path of the subset description, but its User schema is: each user
    # validates against it; the envelope has the keys of Datadog's recorded ListUsers response
    # (datadog-api-client-python tests/v2/cassettes/test_scenarios/
    # test_list_all_users_returns_ok_response.yaml; https://docs.datadoghq.com/api/latest/users/).
    v2 = OpenAPISpec.load(vendor_spec("datadog", "datadog-v2.subset.yaml"))
    user_schema = v2.schema("#/components/schemas/User")
    role_ref = v2.schema("#/components/schemas/RelationshipToRoleData")
    body = client.get(
        "/api/v2/users", params={"page[size]": 3, "page[number]": 0}, headers=HEADERS
    ).json()
    assert set(body) == {"data", "included", "meta"}
    assert body["meta"] == {"page": {"total_count": 4, "total_filtered_count": 4}}
    assert len(body["data"]) == 3
    for user in body["data"]:
        v2.validate_schema(user_schema, user)
        for ref in user["relationships"]["roles"]["data"]:
            v2.validate_schema(role_ref, ref)
    referenced = {r["id"] for u in body["data"] for r in u["relationships"]["roles"]["data"]}
    assert {role["id"] for role in body["included"]} == referenced
    assert all(
        set(r["attributes"]) >= {"name", "created_at", "modified_at"} for r in body["included"]
    )
    last = client.get(
        "/api/v2/users", params={"page[size]": 3, "page[number]": 1}, headers=HEADERS
    ).json()
    assert len(last["data"]) == 1
    admin = next(
        u for u in body["data"] + last["data"] if u["attributes"]["handle"] == "ada@acme.example"
    )
    assert admin["attributes"]["mfa_enabled"] is True and admin["attributes"]["name"] == "Ada Admin"
    service = next(u for u in body["data"] + last["data"] if u["attributes"]["service_account"])
    assert "mfa_enabled" not in service["attributes"]  # the world does not know: not reported


def test_v2_roles_list_every_role(client: TestClient) -> None:
    body = client.get("/api/v2/roles", params={"page[size]": 100}, headers=HEADERS).json()
    assert sorted(r["attributes"]["name"] for r in body["data"]) == [
        "Acme Deployers",
        "Datadog Admin Role",
        "Datadog Read Only Role",
        "Datadog Standard Role",
    ]
    assert body["meta"]["page"]["total_count"] == 4


def test_users_need_keys(client: TestClient) -> None:
    assert client.get("/api/v2/users").status_code == 401
    assert client.get("/api/v2/roles").status_code == 401
