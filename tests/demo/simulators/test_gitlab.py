"""GitLab simulator: documented deployment / compare shapes, paging headers, auth."""

from __future__ import annotations

from typing import Any

import jsonschema
from fastapi.testclient import TestClient

from cto_assistant.demo.simulators import gitlab
from tests.connectors.cicd.worlds import cicd_world, sha

HEADERS = {"PRIVATE-TOKEN": gitlab.DEMO_TOKEN}
PROJECT = "/api/v4/projects/acme%2Fcheckout-service"
STAMP: dict[str, Any] = {"type": "string", "format": "date-time"}
NULLABLE_STAMP: dict[str, Any] = {"type": ["string", "null"]}
USER = {
    "type": "object",
    "required": ["id", "name", "username", "state", "avatar_url", "web_url"],
}
COMMIT = {
    "type": "object",
    "required": ["id", "short_id", "title", "author_name", "author_email", "created_at", "message"],
    "properties": {"id": {"type": "string", "pattern": "^[0-9a-f]{40}$"}},
}
# https://docs.gitlab.com/ee/api/deployments.html#list-project-deployments (example response)
DEPLOYMENT = {
    "type": "object",
    "required": [
        "id",
        "iid",
        "ref",
        "sha",
        "created_at",
        "updated_at",
        "status",
        "user",
        "environment",
        "deployable",
    ],
    "properties": {
        "id": {"type": "integer"},
        "iid": {"type": "integer"},
        "ref": {"type": "string"},
        "sha": {"type": "string"},
        "created_at": STAMP,
        "updated_at": STAMP,
        "status": {"enum": ["created", "running", "success", "failed", "canceled", "blocked"]},
        "user": USER,
        "environment": {
            "type": "object",
            "required": ["id", "name", "external_url"],
            "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
        },
        "deployable": {
            "type": "object",
            "required": [
                "id",
                "status",
                "stage",
                "name",
                "ref",
                "tag",
                "coverage",
                "created_at",
                "started_at",
                "finished_at",
                "project",
                "user",
                "commit",
                "pipeline",
                "runner",
            ],
            "properties": {
                "id": {"type": "integer"},
                "tag": {"type": "boolean"},
                "started_at": NULLABLE_STAMP,
                "finished_at": NULLABLE_STAMP,
                "commit": COMMIT,
                "pipeline": {
                    "type": "object",
                    "required": [
                        "id",
                        "sha",
                        "ref",
                        "status",
                        "created_at",
                        "updated_at",
                        "web_url",
                    ],
                },
            },
        },
    },
}
# https://docs.gitlab.com/ee/api/repositories.html#compare-branches-tags-or-commits
COMPARE = {
    "type": "object",
    "required": ["commit", "commits", "diffs", "compare_timeout", "compare_same_ref"],
    "properties": {
        "commits": {"type": "array", "items": COMMIT},
        "diffs": {"type": "array"},
        "compare_timeout": {"type": "boolean"},
        "compare_same_ref": {"type": "boolean"},
    },
}


def client() -> TestClient:
    return TestClient(gitlab.make_app(cicd_world()))


def test_deployments_match_the_documented_shape() -> None:
    response = client().get(f"{PROJECT}/deployments", headers=HEADERS)
    assert response.status_code == 200
    body = response.json()
    jsonschema.validate(body, {"type": "array", "items": DEPLOYMENT})
    assert [d["id"] for d in body] == [1001, 1002, 1003, 1004, 1005, 1006, 1007]
    assert {d["deployable"]["name"] for d in body} == {"deploy", "rollback"}


def test_paging_headers_and_filters() -> None:
    api = client()
    response = api.get(
        f"{PROJECT}/deployments",
        headers=HEADERS,
        params={"per_page": 3, "page": 2, "order_by": "updated_at"},
    )
    assert [d["id"] for d in response.json()] == [1004, 1005, 1006]
    assert response.headers["X-Next-Page"] == "3"
    assert response.headers["X-Total"] == "7"
    assert response.headers["X-Total-Pages"] == "3"
    assert 'rel="next"' in response.headers["Link"] and "page=3" in response.headers["Link"]
    last = api.get(f"{PROJECT}/deployments", headers=HEADERS, params={"per_page": 3, "page": 3})
    assert last.headers["X-Next-Page"] == ""
    filtered = api.get(
        f"{PROJECT}/deployments",
        headers=HEADERS,
        params={"environment": "staging", "updated_after": "2026-01-06T09:05:00Z"},
    )
    assert [d["id"] for d in filtered.json()] == [1003]  # inclusive bound
    bad = api.get(f"{PROJECT}/deployments", headers=HEADERS, params={"order_by": "nope"})
    assert bad.status_code == 400


def test_compare_lists_the_commits_since_the_previous_success() -> None:
    response = client().get(
        f"{PROJECT}/repository/compare",
        headers=HEADERS,
        params={"from": sha("a1"), "to": sha("b2")},
    )
    body = response.json()
    jsonschema.validate(body, COMPARE)
    assert [c["id"] for c in body["commits"]] == [sha("b1"), sha("b2")]
    assert "See merge request acme/checkout-service!12" in body["commits"][0]["message"]


def test_auth_is_required_and_unknown_projects_404() -> None:
    api = client()
    assert api.get(f"{PROJECT}/deployments").status_code == 401
    assert api.get(f"{PROJECT}/deployments", headers={"PRIVATE-TOKEN": "x"}).status_code == 401
    bearer = {"Authorization": f"Bearer {gitlab.DEMO_TOKEN}"}
    assert api.get(f"{PROJECT}/deployments", headers=bearer).status_code == 200
    assert api.get("/api/v4/projects/acme%2Fnope/deployments", headers=HEADERS).status_code == 404


def test_a_world_without_gitlab_deployments_serves_nothing() -> None:
    from cto_assistant.demo.world import World

    app = gitlab.make_app(World.from_rows({}))
    assert TestClient(app).get(f"{PROJECT}/deployments", headers=HEADERS).status_code == 404
