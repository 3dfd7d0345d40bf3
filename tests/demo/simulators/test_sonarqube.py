"""SonarQube simulator: responses have the keys and types of SonarSource's own examples."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient

from cto_assistant.demo.simulators import sonarqube
from tests.conftest import vendor_spec
from tests.connectors.sonarqube.worlds import quality_world

HEADERS = {"Authorization": f"Bearer {sonarqube.DEMO_TOKEN}"}
KEY = "acme:checkout-service"

# From SonarSource/sonarqube (…/project/ws/search-example.json and the web API docs' example of
# api/measures/search_history); the other two examples are read from ../shared/vendor-specs.
PROJECTS_SEARCH_EXAMPLE = {
    "paging": {"pageIndex": 1, "pageSize": 100, "total": 2},
    "components": [
        {
            "key": "project-key-1",
            "name": "Project Name 1",
            "qualifier": "TRK",
            "visibility": "public",
            "lastAnalysisDate": "2017-03-01T11:39:03+0300",
            "revision": "cfb82f55c6ef32e61828c4cb3db2da12795fd767",
        }
    ],
}
SEARCH_HISTORY_EXAMPLE = {
    "paging": {"pageIndex": 1, "pageSize": 100, "total": 3},
    "measures": [
        {"metric": "complexity", "history": [{"date": "2017-01-23T17:00:53+0100", "value": "45"}]}
    ],
}


def official(name: str) -> Any:
    return json.loads(vendor_spec("sonarqube", "official_ws_examples", name).read_text())


def assert_same_shape(actual: Any, example: Any, where: str = "$") -> None:
    """Every key of `actual` exists in `example` with the same JSON type (recursively)."""
    assert type(actual) is type(example), (
        f"{where}: {type(actual).__name__} vs {type(example).__name__}"
    )
    if isinstance(actual, dict):
        for key, value in actual.items():
            assert key in example, f"{where}.{key} is not in the official example"
            assert_same_shape(value, example[key], f"{where}.{key}")
    elif isinstance(actual, list) and actual and example:
        for index, item in enumerate(actual):
            assert_same_shape(item, example[0], f"{where}[{index}]")


def client() -> TestClient:
    return TestClient(sonarqube.make_app(quality_world()))


def test_measures_component_has_the_official_shape() -> None:
    body = (
        client()
        .get(
            "/api/measures/component",
            headers=HEADERS,
            params={"component": KEY, "metricKeys": "coverage,ncloc,sqale_index"},
        )
        .json()
    )
    assert_same_shape(body, official("measures_component-example.json"))
    assert {m["metric"]: m["value"] for m in body["component"]["measures"]} == {
        "coverage": "72.0",
        "ncloc": "12400",
        "sqale_index": "560",
    }


def test_project_status_has_the_official_shape() -> None:
    body = (
        client()
        .get("/api/qualitygates/project_status", headers=HEADERS, params={"projectKey": KEY})
        .json()
    )
    assert_same_shape(body, official("qualitygates_project_status-example.json"))
    assert body["projectStatus"]["status"] == "OK"


def test_projects_search_has_the_official_shape_and_pages() -> None:
    api = client()
    body = api.get("/api/projects/search", headers=HEADERS, params={"ps": 2}).json()
    assert_same_shape(body, PROJECTS_SEARCH_EXAMPLE)
    assert body["paging"] == {"pageIndex": 1, "pageSize": 2, "total": 3}
    second = api.get("/api/projects/search", headers=HEADERS, params={"ps": 2, "p": 2}).json()
    assert [c["key"] for c in second["components"]] == ["acme:payments-api"]
    assert api.get("/api/projects/search", headers=HEADERS, params={"ps": 501}).status_code == 400


def test_search_history_has_the_official_shape_and_filters() -> None:
    api = client()
    params = {"component": KEY, "metrics": "coverage,alert_status", "ps": 2}
    body = api.get("/api/measures/search_history", headers=HEADERS, params=params).json()
    assert_same_shape(body, SEARCH_HISTORY_EXAMPLE)
    assert body["paging"]["total"] == 5
    assert [p["value"] for p in body["measures"][1]["history"]] == ["ERROR", "OK"]
    later = api.get(
        "/api/measures/search_history",
        headers=HEADERS,
        params={**params, "from": "2026-01-08T09:00:00+0000"},
    ).json()
    assert [p["date"] for p in later["measures"][0]["history"]] == [
        "2026-01-08T09:00:00+0000",
        "2026-01-09T09:00:00+0000",
    ]
    unknown = api.get(
        "/api/measures/search_history",
        headers=HEADERS,
        params={"component": KEY, "metrics": "nope"},
    )
    assert unknown.status_code == 404


def test_auth_is_required_as_bearer_or_basic() -> None:
    api = client()
    assert api.get("/api/projects/search").status_code == 401
    assert api.get("/api/projects/search", auth=(sonarqube.DEMO_TOKEN, "")).status_code == 200
    assert api.get("/api/projects/search", auth=("wrong", "")).status_code == 401
    assert (
        api.get(
            "/api/measures/component",
            headers=HEADERS,
            params={"component": "x", "metricKeys": "ncloc"},
        ).status_code
        == 404
    )
