"""Jenkins simulator: remote-access JSON shapes, tree ranges, basic auth."""

from __future__ import annotations

import jsonschema
from fastapi.testclient import TestClient

from cto_assistant.demo.simulators import jenkins
from cto_assistant.demo.world import World
from tests.connectors.cicd.worlds import cicd_world

AUTH = (jenkins.DEMO_USER, jenkins.DEMO_TOKEN)
# https://www.jenkins.io/doc/book/using/remote-access-api/ — JSON API with `tree`; a build's
# fields (hudson.model.Run: number, result, timestamp, duration, url), ParametersAction,
# the git plugin's BuildData (lastBuiltRevision.SHA1, remoteUrls) and GitChangeSetList items.
BUILD = {
    "type": "object",
    "required": [
        "_class",
        "number",
        "result",
        "timestamp",
        "duration",
        "url",
        "actions",
        "changeSets",
    ],
    "properties": {
        "number": {"type": "integer"},
        "result": {"enum": ["SUCCESS", "FAILURE", "UNSTABLE", "ABORTED", "NOT_BUILT", None]},
        "timestamp": {"type": "integer"},
        "duration": {"type": "integer"},
        "url": {"type": "string"},
        "actions": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["_class"],
                "properties": {
                    "parameters": {
                        "type": "array",
                        "items": {"type": "object", "required": ["_class", "name", "value"]},
                    },
                    "lastBuiltRevision": {"type": "object", "required": ["SHA1", "branch"]},
                    "remoteUrls": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
        "changeSets": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["_class", "items", "kind"],
                "properties": {
                    "items": {
                        "type": "array",
                        "items": {"type": "object", "required": ["commitId", "timestamp", "msg"]},
                    }
                },
            },
        },
    },
}
ROOT = {
    "type": "object",
    "required": ["_class", "jobs"],
    "properties": {
        "jobs": {
            "type": "array",
            "items": {"type": "object", "required": ["_class", "name", "url", "lastBuild"]},
        }
    },
}


def client() -> TestClient:
    return TestClient(jenkins.make_app(cicd_world()))


def test_root_lists_deploy_jobs_with_their_last_build() -> None:
    body = (
        client()
        .get("/api/json", params={"tree": "jobs[name,url,lastBuild[number]]"}, auth=AUTH)
        .json()
    )
    jsonschema.validate(body, ROOT)
    assert [(j["name"], j["lastBuild"]["number"]) for j in body["jobs"]] == [
        ("deploy-payments-api", 4)
    ]


def test_builds_match_the_documented_shape_and_tree_ranges_page() -> None:
    api = client()
    url = "/job/deploy-payments-api/api/json"
    body = api.get(url, params={"tree": "builds[number,result]{0,2}"}, auth=AUTH).json()
    jsonschema.validate(body["builds"], {"type": "array", "items": BUILD})
    assert [b["number"] for b in body["builds"]] == [4, 3]
    assert body["builds"][0]["result"] is None  # still building
    rest = api.get(url, params={"tree": "builds[number]{2,}"}, auth=AUTH).json()["builds"]
    assert [b["number"] for b in rest] == [2, 1]
    one = api.get(url, params={"tree": "builds[number]{1}"}, auth=AUTH).json()["builds"]
    assert [b["number"] for b in one] == [3]


def test_auth_is_required() -> None:
    api = client()
    assert api.get("/api/json").status_code == 401
    assert api.get("/api/json", auth=(jenkins.DEMO_USER, "wrong")).status_code == 401
    assert api.get("/job/nope/api/json", auth=AUTH).status_code == 404


def test_a_world_without_jenkins_builds_serves_no_jobs() -> None:
    api = TestClient(jenkins.make_app(World.from_rows({})))
    assert api.get("/api/json", auth=AUTH).json()["jobs"] == []
