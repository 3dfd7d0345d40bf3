"""The Jira simulator serves the official shapes (validated against Atlassian's descriptions)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from cto_assistant.demo.simulators.common import served
from cto_assistant.demo.simulators.jira import DEMO_EMAIL, DEMO_TOKEN, make_app
from tests.conftest import vendor_spec
from tests.connectors.jira.world import tiny_world
from tests.support.openapi import OpenAPISpec

AUTH = (DEMO_EMAIL, DEMO_TOKEN)
FIELDS = [
    "summary",
    "issuetype",
    "status",
    "priority",
    "assignee",
    "project",
    "parent",
    "labels",
    "created",
    "updated",
    "resolutiondate",
    "duedate",
    "description",
    "attachment",
    "customfield_10016",
    "customfield_10020",
]


@pytest.fixture(scope="module")
def platform() -> OpenAPISpec:
    return OpenAPISpec.load(vendor_spec("jira", "jira-platform-v3.subset.json"))


@pytest.fixture(scope="module")
def agile() -> OpenAPISpec:
    return OpenAPISpec.load(vendor_spec("jira", "jira-software-agile-v1.full.json"))


@contextmanager
def running(world: Any = None, **client: Any) -> Iterator[httpx.Client]:
    """An HTTP client for a simulator served on loopback."""
    with (
        served(make_app(world or tiny_world())) as app,
        httpx.Client(base_url=app.base_url, timeout=10, **client) as http,
    ):
        yield http


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with running(auth=AUTH) as http:
        yield http


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text[:300]
    return response.json()


def example(spec: OpenAPISpec, path: str) -> dict[str, Any]:
    media = spec.document["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
    return dict(json.loads(media["example"]))


def test_platform_endpoints_validate(platform: OpenAPISpec, client: httpx.Client) -> None:
    platform.validate("/rest/api/3/myself", "get", 200, ok(client.get("/rest/api/3/myself")))
    platform.validate("/rest/api/3/field", "get", 200, ok(client.get("/rest/api/3/field")))
    platform.validate("/rest/api/3/priority", "get", 200, ok(client.get("/rest/api/3/priority")))
    projects = ok(client.get("/rest/api/3/project/search", params={"maxResults": 1}))
    platform.validate("/rest/api/3/project/search", "get", 200, projects)
    assert projects["isLast"] is False and projects["values"][0]["key"] == "CHK"


def test_search_issue_and_changelog_validate(platform: OpenAPISpec, client: httpx.Client) -> None:
    body: dict[str, Any] = {
        "jql": 'updated >= "1970-01-01 00:00" ORDER BY updated ASC',
        "fields": FIELDS,
        "expand": "changelog",
        "maxResults": 5,
    }
    first = ok(client.post("/rest/api/3/search/jql", json=body))
    platform.validate("/rest/api/3/search/jql", "post", 200, first)
    assert len(first["issues"]) == 5 and first["isLast"] is False
    second = ok(
        client.get(
            "/rest/api/3/search/jql",
            params={
                "jql": body["jql"],
                "fields": ",".join(FIELDS),
                "expand": "changelog",
                "maxResults": 100,
                "nextPageToken": first["nextPageToken"],
            },
        )
    )
    platform.validate("/rest/api/3/search/jql", "get", 200, second)
    assert second["isLast"] is True and "nextPageToken" not in second
    assert len(first["issues"]) + len(second["issues"]) == 16
    only_ids = ok(client.get("/rest/api/3/search/jql", params={"jql": "project = PAY"}))
    assert set(only_ids["issues"][0]) == {"expand", "id", "self", "key", "fields"}
    assert only_ids["issues"][0]["fields"] == {}
    issue = ok(client.get("/rest/api/3/issue/PAY-2", params={"expand": "changelog"}))
    platform.validate("/rest/api/3/issue/{issueIdOrKey}", "get", 200, issue)
    assert issue["fields"]["parent"]["key"] == "PAY-1"
    changelog = ok(
        client.get(f"/rest/api/3/issue/{issue['id']}/changelog", params={"maxResults": 1})
    )
    platform.validate("/rest/api/3/issue/{issueIdOrKey}/changelog", "get", 200, changelog)
    assert (changelog["total"], changelog["isLast"]) == (2, False)
    assert changelog["nextPage"].endswith("startAt=1&maxResults=1")


def test_create_issue_attachment_and_user_search_validate(
    platform: OpenAPISpec, client: httpx.Client
) -> None:
    fields = {
        "project": {"key": "CHK"},
        "issuetype": {"name": "Task"},
        "summary": "Chart",
        "description": {"type": "doc", "version": 1, "content": []},
        "priority": {"name": "High"},
        "assignee": {"accountId": "5b10a2844c20165700ede21g"},
    }
    created = ok(client.post("/rest/api/3/issue", json={"fields": fields}), 201)
    platform.validate("/rest/api/3/issue", "post", 201, created)
    refused = client.post(
        f"/rest/api/3/issue/{created['key']}/attachments",
        files={"file": ("c.png", b"\x89PNG", "image/png")},
    )
    assert refused.status_code == 403  # the XSRF header is required
    attached = ok(
        client.post(
            f"/rest/api/3/issue/{created['key']}/attachments",
            files={"file": ("c.png", b"\x89PNG", "image/png")},
            headers={"X-Atlassian-Token": "no-check"},
        )
    )
    # Not in the subset: the documented Attachment model (developer.atlassian.com, REST v3).
    attachment = {
        "type": "object",
        "additionalProperties": False,
        "required": ["id"],
        "properties": {
            "self": {"type": "string"},
            "id": {"type": "string"},
            "filename": {"type": "string"},
            "author": platform.schema("#/components/schemas/UserDetails"),
            "created": {"type": "string", "format": "date-time"},
            "size": {"type": "integer"},
            "mimeType": {"type": "string"},
            "content": {"type": "string"},
            "thumbnail": {"type": "string"},
        },
    }
    platform.validate_schema({"type": "array", "items": attachment}, attached)
    issue = ok(client.get(f"/rest/api/3/issue/{created['key']}"))
    platform.validate("/rest/api/3/issue/{issueIdOrKey}", "get", 200, issue)
    found = ok(client.get("/rest/api/3/user/search", params={"query": "ben@"}))
    platform.validate_schema(
        {"type": "array", "items": platform.schema("#/components/schemas/User")}, found
    )
    assert [u["accountId"] for u in found] == ["5b10a2844c20165700ede21g"]


def test_agile_endpoints_validate(agile: OpenAPISpec, client: httpx.Client) -> None:
    boards = ok(client.get("/rest/agile/1.0/board", params={"maxResults": 1}))
    agile.validate("/rest/agile/1.0/board", "get", 200, boards)
    assert boards["isLast"] is False
    board_id = boards["values"][0]["id"]
    # Sprints and epics are documented by example only: the page wrapper of boards, SprintBean
    # items, and epics with the example's fields (plus `key`, which Jira Cloud returns).
    page = agile.response_schema("/rest/agile/1.0/board", "get", 200)
    sprint_page = {
        **page,
        "properties": {
            **page["properties"],
            "values": {"type": "array", "items": agile.schema("#/components/schemas/SprintBean")},
        },
    }
    sprints = ok(client.get(f"/rest/agile/1.0/board/{board_id}/sprint"))
    agile.validate_schema(sprint_page, sprints)
    documented = example(agile, "/rest/agile/1.0/board/{boardId}/sprint")
    assert set(sprints) == set(documented)
    assert {k for s in sprints["values"] for k in s} <= {k for s in documented["values"] for k in s}
    epic_item = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "id": {"type": "integer"},
            "key": {"type": "string"},
            "self": {"type": "string"},
            "name": {"type": "string"},
            "summary": {"type": "string"},
            "color": agile.schema("#/components/schemas/ColorBean"),
            "done": {"type": "boolean"},
        },
    }
    epics = ok(client.get(f"/rest/agile/1.0/board/{board_id}/epic"))
    agile.validate_schema(
        {
            **page,
            "properties": {**page["properties"], "values": {"type": "array", "items": epic_item}},
        },
        epics,
    )
    documented = example(agile, "/rest/agile/1.0/board/{boardId}/epic")
    assert set(epics) == set(documented)
    assert {k for e in epics["values"] for k in e} == {
        k for e in documented["values"] for k in e
    } | {"key"}


@pytest.mark.parametrize(
    "path",
    [
        "/rest/api/3/myself",
        "/rest/api/3/search/jql?jql=project=PAY",
        "/rest/agile/1.0/board",
        "/rest/api/3/issue/PAY-2",
    ],
)
def test_every_endpoint_requires_credentials(path: str) -> None:
    with running() as http:
        assert http.get(path).status_code == 401
        assert http.get(path, auth=(DEMO_EMAIL, "nope")).status_code == 401
        assert http.get(path, headers={"Authorization": f"Bearer {DEMO_TOKEN}"}).status_code == 200


def test_unbounded_or_unknown_jql_is_a_400(client: httpx.Client) -> None:
    assert client.get("/rest/api/3/search/jql", params={"jql": "ORDER BY key"}).status_code == 400
    bad = client.get("/rest/api/3/search/jql", params={"jql": "flavour = sour"})
    assert bad.status_code == 400 and "flavour" in bad.json()["errorMessages"][0]


def test_boards_derive_from_teams_or_come_from_extras() -> None:
    world = tiny_world()
    world.extras["jira"] = {"boards": [{"id": 42, "name": "Payments Scrum", "project": "PAY"}]}
    with running(world, auth=AUTH) as http:
        boards = ok(http.get("/rest/agile/1.0/board"))
    assert [(b["id"], b["name"], b["location"]["projectKey"]) for b in boards["values"]] == [
        (42, "Payments Scrum", "PAY")
    ]
    with running(auth=AUTH) as http:
        derived = ok(http.get("/rest/agile/1.0/board"))
    assert [b["name"] for b in derived["values"]] == ["CHK board", "PAY board"]
