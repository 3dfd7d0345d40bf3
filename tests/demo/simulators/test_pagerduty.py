"""The PagerDuty simulator: auth, paging, and every endpoint validated against PagerDuty's OpenAPI.

The vendored subset (pagerduty-rest.subset.json) references `#/components/schemas/Tag/allOf/0`
(PagerDuty's common object base: id, summary, type, self, html_url) but the subset dropped the
`Tag` schema itself; `pagerduty_spec()` puts that base back, as published in PagerDuty's
api-schema, before validating. And its `Channel` schema is a `oneOf` of five alternatives that
do not exclude each other (every one accepts `{"type": "api"}`), so no real log entry can match
exactly one; the test reads it as `anyOf`. And `AcknowledgeLogEntry` is `allOf` the `LogEntry`
base (type enum `acknowledge_log_entry`, what the API sends) and a part whose enum says
`acknowledgement_log_entry`: no payload can satisfy both, so the test keeps the API's spelling.
Nothing else in the description is changed.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cto_assistant.demo.simulators.pagerduty import DEMO_TOKEN, make_app
from tests.conftest import vendor_spec
from tests.connectors.pagerduty.worlds import incident_world
from tests.support.openapi import OpenAPISpec

AUTH = {
    "Authorization": f"Token token={DEMO_TOKEN}",
    "Accept": "application/vnd.pagerduty+json;version=2",
}
TAG_BASE = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "readOnly": True},
        "summary": {"type": "string", "nullable": True, "readOnly": True},
        "type": {"type": "string", "readOnly": True},
        "self": {"type": "string", "nullable": True, "readOnly": True, "format": "url"},
        "html_url": {"type": "string", "nullable": True, "readOnly": True, "format": "url"},
    },
}


def pagerduty_spec() -> OpenAPISpec:
    """The PagerDuty subset with the dangling Tag base restored."""
    loaded = OpenAPISpec.load(vendor_spec("pagerduty", "pagerduty-rest.subset.json"))
    document: dict[str, Any] = copy.deepcopy(loaded.document)
    schemas = document["components"]["schemas"]
    assert "Tag" not in schemas, "the subset now has Tag: drop the patch"
    schemas["Tag"] = {"allOf": [TAG_BASE]}
    schemas["Channel"]["anyOf"] = schemas["Channel"].pop("oneOf")
    ack_type = schemas["AcknowledgeLogEntry"]["allOf"][1]["properties"]["type"]
    assert ack_type["enum"] == ["acknowledgement_log_entry"]
    ack_type["enum"] = ["acknowledge_log_entry"]
    return OpenAPISpec(document)


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(make_app(incident_world()))


def test_requests_without_the_token_get_401(client: TestClient) -> None:
    assert client.get("/incidents").status_code == 401
    assert client.get("/users", headers={"Authorization": "Token token=wrong"}).status_code == 401


ENDPOINTS = [
    ("/services", "/services", {}),
    ("/users", "/users", {}),
    ("/escalation_policies", "/escalation_policies", {}),
    ("/incidents", "/incidents", {"date_range": "all"}),
    (
        "/incidents",
        "/incidents",
        {
            "since": "2026-01-01T00:00:00Z",
            "until": "2026-01-16T00:00:00Z",
            "statuses[]": "acknowledged",
        },
    ),
    ("/incidents/{id}/log_entries", "/incidents/Q1RESOLV/log_entries", {}),
    ("/incidents/{id}/log_entries", "/incidents/Q2ACKED/log_entries", {}),
    ("/oncalls", "/oncalls", {"since": "2026-01-08T12:00:00Z", "until": "2026-02-12T12:00:00Z"}),
]


@pytest.mark.parametrize(("template", "path", "params"), ENDPOINTS)
def test_every_endpoint_validates_against_the_official_description(
    client: TestClient, template: str, path: str, params: dict[str, str]
) -> None:
    response = client.get(path, params=params, headers=AUTH)
    assert response.status_code == 200
    body = response.json()
    pagerduty_spec().validate(template, "get", 200, body)
    key = template.rstrip("/").split("/")[-1]
    assert body[key], f"{path} served nothing to validate"


def test_schedule_with_overrides_validates(client: TestClient) -> None:
    oncalls = client.get(
        "/oncalls",
        params={"since": "2026-01-08T12:00:00Z", "until": "2026-02-12T12:00:00Z"},
        headers=AUTH,
    ).json()
    schedule_id = next(
        o["schedule"]["id"]
        for o in oncalls["oncalls"]
        if o["schedule"]["summary"] == "Checkout Primary"
    )
    body = client.get(
        f"/schedules/{schedule_id}",
        params={"since": "2026-01-08T12:00:00Z", "until": "2026-02-12T12:00:00Z"},
        headers=AUTH,
    ).json()
    pagerduty_spec().validate("/schedules/{id}", "get", 200, body)
    overrides = body["schedule"]["overrides_subschedule"]["rendered_schedule_entries"]
    assert [o["user"]["summary"] for o in overrides] == ["Bob Owner"]


def test_offset_paging_reports_more_until_the_last_page(client: TestClient) -> None:
    first = client.get(
        "/users", params={"limit": 3, "offset": 0, "total": "true"}, headers=AUTH
    ).json()
    last = client.get("/users", params={"limit": 3, "offset": 3}, headers=AUTH).json()
    assert (len(first["users"]), first["more"], first["total"]) == (3, True, 4)
    assert (len(last["users"]), last["more"], last["total"]) == (1, False, None)


def test_incident_window_longer_than_six_months_is_refused(client: TestClient) -> None:
    response = client.get(
        "/incidents",
        params={"since": "2025-01-01T00:00:00Z", "until": "2026-01-15T00:00:00Z"},
        headers=AUTH,
    )
    assert response.status_code == 400
