"""The Opsgenie simulator: auth, and every endpoint validated against Opsgenie's own swagger.

The Opsgenie description is swagger 2.0 split over files (swagger.yaml lists paths/*.yaml,
definitions/*.yaml …, and every `$ref` inside them is a local `#/definitions/Name`).
`OpsgenieSwagger` resolves that layout: it merges every paths file and every definitions file
into one document, then validates a response body against the documented 200 schema with
jsonschema's Draft 4 validator (swagger 2.0 schemas are a Draft 4 dialect; `x-` and
`discriminator` keywords are annotations there). Full validation, not a key check.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from jsonschema import Draft4Validator, ValidationError
from referencing import Registry
from referencing.jsonschema import DRAFT4

from cto_assistant.demo.simulators.opsgenie import DEMO_KEY, make_app
from tests.conftest import vendor_spec
from tests.connectors.opsgenie.test_opsgenie import opsgenie_world

AUTH = {"Authorization": f"GenieKey {DEMO_KEY}"}
URI = "urn:opsgenie-swagger"


class OpsgenieSwagger:
    """Opsgenie's multi-file swagger 2.0 merged into one document."""

    def __init__(self, root: Path) -> None:
        index = yaml.safe_load((root / "swagger.yaml").read_text())
        self.document: dict[str, Any] = {"paths": {}, "definitions": {}}
        for section in ("paths", "definitions"):
            for entry in index.get(section, []):
                part = yaml.safe_load((root / entry["$ref"]).read_text()) or {}
                self.document[section].update(part)
            if section == "definitions":
                for extra in sorted((root / "definitions").glob("*.yaml")):
                    self.document["definitions"].update(yaml.safe_load(extra.read_text()) or {})
        self.registry = Registry().with_resource(URI, DRAFT4.create_resource(self.document))

    def validate(self, path: str, status: int, body: Any) -> None:
        """Validate a GET response body against its documented schema."""
        response = self.document["paths"][path]["get"]["responses"][str(status)]
        schema = {"$ref": URI + "#/__schema__"}
        document = dict(self.document, __schema__=response["schema"])
        registry = Registry().with_resource(URI, DRAFT4.create_resource(document))
        Draft4Validator(schema, registry=registry).validate(body)


@cache
def swagger() -> OpsgenieSwagger:
    return OpsgenieSwagger(vendor_spec("opsgenie", "opsgenie-oas"))


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(make_app(opsgenie_world()))


def test_requests_without_the_key_get_401(client: TestClient) -> None:
    assert client.get("/v2/alerts").status_code == 401
    assert client.get("/v2/users", headers={"Authorization": "GenieKey wrong"}).status_code == 401


def test_every_endpoint_validates_against_the_swagger(client: TestClient) -> None:
    alerts = client.get("/v2/alerts", params={"limit": 100}, headers=AUTH).json()
    schedules = client.get("/v2/schedules", headers=AUTH).json()
    calls = [
        ("/v2/users", "/v2/users", {}),
        ("/v2/alerts", "/v2/alerts", {"query": "updatedAt>0", "sort": "updatedAt", "order": "asc"}),
        ("/v2/alerts/{identifier}/logs", f"/v2/alerts/{alerts['data'][0]['id']}/logs", {}),
        ("/v2/schedules", "/v2/schedules", {}),
        (
            "/v2/schedules/{identifier}/timeline",
            f"/v2/schedules/{schedules['data'][0]['id']}/timeline",
            {"date": "2026-01-08T12:00:00Z", "interval": 35, "intervalUnit": "days"},
        ),
    ]
    for template, path, params in calls:
        response = client.get(path, params=params, headers=AUTH)
        assert response.status_code == 200, path
        body = response.json()
        swagger().validate(template, 200, body)
        assert body["data"], f"{path} served nothing to validate"


def test_a_broken_body_fails_the_swagger_check() -> None:
    with pytest.raises(ValidationError, match="requestId"):
        swagger().validate("/v2/alerts", 200, {"data": [], "took": 0.1})


def test_paging_next_until_the_last_page(client: TestClient) -> None:
    first = client.get("/v2/alerts", params={"limit": 4}, headers=AUTH).json()
    second = client.get(first["paging"]["next"].split("testserver")[-1], headers=AUTH).json()
    assert len(first["data"]) == 4 and len(second["data"]) == 2
    assert "next" not in second["paging"]
