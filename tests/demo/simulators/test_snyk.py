"""The Snyk simulator: auth, cursor links, and payload shapes equal to real recorded Snyk pages.

No OpenAPI description of Snyk's REST API is available here, so the shape check compares the
simulator's pages with the real pages in ../shared/vendor-specs/snyk/defectdojo_fixtures: every
(path, JSON type) a real issue of the same kind has, the simulated one has too, and the
simulator adds nothing real pages lack except `coordinates[].remedies` (documented by Snyk for
fixable issues; the recorded issues simply have none).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cto_assistant.demo.simulators.snyk import DEMO_ORG_ID, DEMO_TOKEN, make_app
from tests.conftest import vendor_spec
from tests.connectors.snyk.test_snyk import snyk_world

AUTH = {"Authorization": f"token {DEMO_TOKEN}"}
ISSUES = f"/rest/orgs/{DEMO_ORG_ID}/issues"
ALLOWED_EXTRA = ("data.[].attributes.coordinates.[].remedies",)


def shape(value: Any, path: str = "") -> set[tuple[str, str]]:
    """Every (path, JSON type) in a document, list items merged under `[]`."""
    kind = {
        dict: "object",
        list: "array",
        str: "string",
        bool: "boolean",
        int: "number",
        float: "number",
    }.get(type(value), "null")
    found = {(path, kind)}
    if isinstance(value, dict):
        for key, child in value.items():
            found |= shape(child, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for child in value:
            found |= shape(child, f"{path}.[]")
    return found


def real(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(vendor_spec("snyk", "defectdojo_fixtures", name).read_text())
    return data


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(make_app(snyk_world()))


def issues_of(client: TestClient, kind: str) -> dict[str, Any]:
    body: dict[str, Any] = client.get(
        ISSUES, params={"version": "2024-10-15", "limit": 100, "type": kind}, headers=AUTH
    ).json()
    assert body["data"]
    return body


def test_requests_without_the_token_get_401(client: TestClient) -> None:
    assert client.get(ISSUES, params={"version": "2024-10-15"}).status_code == 401
    assert (
        client.get(
            ISSUES, params={"version": "2024-10-15"}, headers={"Authorization": "token x"}
        ).status_code
        == 401
    )


def test_version_parameter_is_required(client: TestClient) -> None:
    response = client.get(ISSUES, headers=AUTH)
    assert response.status_code == 400
    assert response.json()["errors"][0]["status"] == "400"


@pytest.mark.parametrize(
    ("kind", "fixture"),
    [
        ("package_vulnerability", "snyk_sca_scan_api_many_vuln.json"),
        ("code", "snyk_code_scan_api_many_vuln.json"),
    ],
)
def test_issue_pages_have_the_real_pages_shape(client: TestClient, kind: str, fixture: str) -> None:
    mine = shape(issues_of(client, kind))
    theirs = shape(real(fixture)) | shape(
        real("snyk_sca_scan_api_single_vuln.json") if kind != "code" else {}
    )
    item_paths = {p for p in theirs if p[0].startswith("data.[]")}
    missing = item_paths - mine
    assert not missing, f"simulated {kind} issues lack {sorted(missing)}"
    extra = {
        p
        for p in mine - theirs
        if p[0].startswith("data.[]") and not p[0].startswith(ALLOWED_EXTRA)
    }
    assert not extra, f"simulated {kind} issues have fields real pages lack: {sorted(extra)}"
    assert {"jsonapi", "data", "links"} <= {p[0] for p in mine}


def test_links_next_carries_a_starting_after_cursor_until_the_end(client: TestClient) -> None:
    seen: list[str] = []
    url: str | None = f"{ISSUES}?version=2024-10-15&limit=4"
    pages = 0
    while url:
        body = client.get(url, headers=AUTH).json()
        seen += [item["id"] for item in body["data"]]
        url = body["links"].get("next")
        assert url is None or "starting_after=" in url
        pages += 1
    assert pages == 3
    assert len(seen) == len(set(seen)) == 11


def test_projects_expand_target_names_the_repository(client: TestClient) -> None:
    body = client.get(
        f"/rest/orgs/{DEMO_ORG_ID}/projects",
        params={"version": "2024-10-15", "expand": "target"},
        headers=AUTH,
    ).json()
    repos = {
        p["relationships"]["target"]["data"]["attributes"]["display_name"] for p in body["data"]
    }
    assert repos == {"acme/checkout-service", "acme/payments-api", "acme/terraform-live"}
    tags = [t for p in body["data"] for t in p["attributes"]["tags"] if t["key"] == "environment"]
    assert {t["value"] for t in tags} == {"production", "staging"}


def test_next_links_under_a_mount_keep_its_prefix() -> None:
    """More than one page of projects behind the sandbox's /snyk prefix: every link resolves."""
    from starlette.applications import Starlette
    from starlette.routing import Mount

    mounted = Starlette(routes=[Mount("/snyk", app=make_app(snyk_world()))])
    with TestClient(mounted, base_url="http://sandbox") as client:
        url: str | None = f"/snyk/rest/orgs/{DEMO_ORG_ID}/issues?version=2024-10-15&limit=4"
        pages = 0
        while url:
            response = client.get(url, headers=AUTH)
            assert response.status_code == 200, (url, response.text[:200])
            url = response.json()["links"].get("next")
            assert url is None or url.startswith(f"/snyk/rest/orgs/{DEMO_ORG_ID}/issues?")
            pages += 1
    assert pages == 3
