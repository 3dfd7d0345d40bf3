"""CircleCI simulator: v2 pipeline / workflow / job shapes, page tokens, auth."""

from __future__ import annotations

from typing import Any

import jsonschema
from fastapi.testclient import TestClient

from cto_assistant.demo.simulators import circleci
from cto_assistant.demo.world import World
from tests.connectors.cicd.worlds import CIRCLE_IDS, cicd_world, sha

HEADERS = {"Circle-Token": circleci.DEMO_TOKEN}
UUID = {"type": "string", "format": "uuid"}
STAMP: dict[str, Any] = {"type": "string", "format": "date-time"}


def paged(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["items", "next_page_token"],
        "properties": {
            "items": {"type": "array", "items": item},
            "next_page_token": {"type": ["string", "null"]},
        },
    }


# https://circleci.com/docs/api/v2/index.html#operation/listPipelinesForProject
PIPELINES = paged(
    {
        "type": "object",
        "required": ["id", "errors", "project_slug", "number", "state", "created_at", "trigger"],
        "properties": {
            "id": UUID,
            "errors": {"type": "array"},
            "number": {"type": "integer"},
            "state": {"enum": ["created", "errored", "setup-pending", "setup", "pending"]},
            "created_at": STAMP,
            "trigger": {"type": "object", "required": ["type", "received_at", "actor"]},
            "vcs": {
                "type": "object",
                "required": [
                    "provider_name",
                    "origin_repository_url",
                    "target_repository_url",
                    "revision",
                ],
            },
        },
    }
)
# https://circleci.com/docs/api/v2/index.html#operation/listWorkflowsByPipelineId
WORKFLOWS = paged(
    {
        "type": "object",
        "required": [
            "pipeline_id",
            "id",
            "name",
            "project_slug",
            "status",
            "started_by",
            "pipeline_number",
            "created_at",
            "stopped_at",
        ],
        "properties": {
            "status": {
                "enum": [
                    "success",
                    "running",
                    "not_run",
                    "failed",
                    "error",
                    "failing",
                    "on_hold",
                    "canceled",
                    "unauthorized",
                ]
            },
            "stopped_at": {"type": ["string", "null"]},
        },
    }
)
# https://circleci.com/docs/api/v2/index.html#operation/listWorkflowJobs
JOBS = paged(
    {
        "type": "object",
        "required": ["dependencies", "id", "name", "project_slug", "started_at", "status", "type"],
        "properties": {
            "type": {"enum": ["build", "approval"]},
            "job_number": {"type": "integer"},
            "dependencies": {"type": "array", "items": UUID},
            "started_at": {"type": ["string", "null"]},
        },
    }
)


def client(**options: Any) -> TestClient:
    return TestClient(circleci.make_app(cicd_world(), **options))


def test_pipeline_workflow_job_chain_matches_the_documented_shapes() -> None:
    api = client()
    pipelines = api.get("/api/v2/project/gh/acme/mobile-app/pipeline", headers=HEADERS).json()
    jsonschema.validate(pipelines, PIPELINES)
    assert [p["number"] for p in pipelines["items"]] == [4, 3, 2, 1]  # newest first
    newest = pipelines["items"][0]
    assert newest["vcs"]["revision"] == sha("m1")
    workflows = api.get(f"/api/v2/pipeline/{newest['id']}/workflow", headers=HEADERS).json()
    jsonschema.validate(workflows, WORKFLOWS)
    jobs = api.get(f"/api/v2/workflow/{workflows['items'][0]['id']}/job", headers=HEADERS).json()
    jsonschema.validate(jobs, JOBS)
    assert [(j["name"], j["id"]) for j in jobs["items"]][1] == (
        "rollback-production",
        CIRCLE_IDS[3],
    )


def test_page_tokens_walk_every_pipeline() -> None:
    api = client(page_size=3)
    url = "/api/v2/project/gh/acme/mobile-app/pipeline"
    first = api.get(url, headers=HEADERS).json()
    second = api.get(url, headers=HEADERS, params={"page-token": first["next_page_token"]}).json()
    assert len(first["items"]) == 3 and len(second["items"]) == 1
    assert second["next_page_token"] is None
    assert api.get(url, headers=HEADERS, params={"page-token": "%%"}).status_code == 400


def test_auth_is_required() -> None:
    api = client()
    url = "/api/v2/project/gh/acme/mobile-app/pipeline"
    assert api.get(url).status_code == 401
    assert api.get(url, headers={"Circle-Token": "x"}).status_code == 401
    assert (
        api.get(url, headers={"Authorization": f"Bearer {circleci.DEMO_TOKEN}"}).status_code == 200
    )


def test_a_world_without_circleci_deployments_serves_no_projects() -> None:
    api = TestClient(circleci.make_app(World.from_rows({})))
    assert api.get("/api/v2/project/gh/acme/x/pipeline", headers=HEADERS).status_code == 404
