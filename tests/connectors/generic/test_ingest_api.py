"""`POST /api/ingest/deployments|incidents` mounted in a tiny app."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from cto_assistant.settings import Settings
from cto_assistant.store import Store
from cto_assistant.store.models import Deployment, DeploymentChange, Incident
from cto_assistant.web.api.ingest import router

TOKEN = "ingest-token-0123456789"
JENKINS_TOKEN = "jenkins-token-9876543210"
DEPLOYMENT = {
    "id": "build-77",
    "service": "checkout-service",
    "environment": "production",
    "status": "success",
    "started_at": "2025-05-01T10:00:00Z",
    "finished_at": "2025-05-01T10:06:00Z",
    "commit_shas": ["aaaaaaa", "bbbbbbb"],
}
INCIDENT = {
    "id": "INC-9",
    "title": "Errors",
    "status": "triggered",
    "triggered_at": "2025-05-01T10:10:00Z",
    "linked_deployment_id": "build-77",
}


@pytest.fixture
def client(any_store: Store, tmp_path: Path) -> Iterator[TestClient]:
    """A tiny app with the ingest router under /api and two GENERIC sources."""
    app = FastAPI()
    app.include_router(router, prefix="/api")
    app.state.store = any_store
    app.state.settings = Settings(
        data_dir=tmp_path,
        sources={
            "generic": {"kind": "generic", "ingest_token": TOKEN},
            "jenkins": {"kind": "generic", "ingest_token_env": "CTO_TEST_JENKINS_TOKEN"},
            "jira": {"kind": "jira", "base_url": "https://jira.example.com"},
        },
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CTO_TEST_JENKINS_TOKEN", JENKINS_TOKEN)
        with TestClient(app) as test_client:
            yield test_client


def auth(token: str = TOKEN) -> dict[str, str]:
    """The bearer header."""
    return {"Authorization": f"Bearer {token}"}


def rows(
    store: Store, model: type[Deployment | DeploymentChange | Incident]
) -> list[tuple[str, str]]:
    """(source, source_id) of every row."""
    with store.session() as session:
        query = sa.select(model.source, model.source_id)
        return sorted((source, source_id) for source, source_id in session.execute(query))


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong-token-000000000"}, {"Authorization": TOKEN}]
)
def test_without_a_valid_token_it_is_401(
    client: TestClient, any_store: Store, headers: dict[str, str]
) -> None:
    response = client.post("/api/ingest/deployments", json=DEPLOYMENT, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert rows(any_store, Deployment) == []


def test_a_bad_payload_is_422_naming_the_field(client: TestClient, any_store: Store) -> None:
    bad = {**DEPLOYMENT, "status": "exploded"}
    response = client.post("/api/ingest/deployments", json=bad, headers=auth())
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"][-1] == "status"
    assert "unknown status 'exploded'" in error["msg"]

    missing = {k: v for k, v in INCIDENT.items() if k != "title"}
    response = client.post("/api/ingest/incidents", json=[INCIDENT, missing], headers=auth())
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-2:] == [1, "title"]
    assert rows(any_store, Incident) == []


def test_valid_payloads_are_stored_idempotently(client: TestClient, any_store: Store) -> None:
    for _ in range(2):
        response = client.post("/api/ingest/deployments", json=DEPLOYMENT, headers=auth())
        assert response.status_code == 200
        assert response.json() == {
            "source": "generic",
            "kind": "deployments",
            "items": 1,
            "records": {"deployment": 1, "deployment_change": 2},
        }
    assert rows(any_store, Deployment) == [("generic", "build-77")]
    assert len(rows(any_store, DeploymentChange)) == 2

    response = client.post("/api/ingest/incidents", json=[INCIDENT], headers=auth())
    assert response.status_code == 200
    with any_store.session() as session:
        incident = session.scalar(sa.select(Incident))
    assert incident is not None and incident.caused_by_deployment == "build-77"


def test_the_token_decides_the_source(client: TestClient, any_store: Store) -> None:
    response = client.post(
        "/api/ingest/deployments", json=[DEPLOYMENT], headers=auth(JENKINS_TOKEN)
    )
    assert response.status_code == 200
    assert response.json()["source"] == "jenkins"
    assert rows(any_store, Deployment) == [("jenkins", "build-77")]


def test_the_same_id_twice_in_one_call_is_refused(client: TestClient, any_store: Store) -> None:
    response = client.post("/api/ingest/deployments", json=[DEPLOYMENT, DEPLOYMENT], headers=auth())
    assert response.status_code == 422
    assert "sent twice" in response.json()["detail"][0]
    assert rows(any_store, Deployment) == []


def test_the_shapes_are_documented_in_openapi(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    body = schema["paths"]["/api/ingest/deployments"]["post"]["requestBody"]
    assert "DeploymentIn" in str(body)
    fields = schema["components"]["schemas"]["DeploymentIn"]["properties"]
    assert {"id", "service", "environment", "status", "commit_shas"} <= set(fields)
    assert fields["status"]["description"]
    assert "IngestToken" in schema["components"]["securitySchemes"]
