"""The documented GENERIC shapes: normalization, consistency and mapping to records."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from cto_assistant.connectors.generic.mapping import (
    DeploymentIn,
    IncidentIn,
    deployment_records,
    incident_records,
)

DEPLOYED = {
    "id": "d1",
    "service": "checkout",
    "status": "succeeded",
    "finished_at": "2025-05-01T10:00:00Z",
}
INCIDENT = {
    "id": "i1",
    "title": "Checkout errors",
    "status": "open",
    "triggered_at": "2025-05-01T11:00:00+02:00",
}


@pytest.mark.parametrize(
    ("given", "status"),
    [
        ("succeeded", "success"),
        ("FAILED", "failure"),
        ("running", "in_progress"),
        ("canceled", "cancelled"),
        ("in-progress", "in_progress"),
    ],
)
def test_deployment_status_words_are_normalized(given: str, status: str) -> None:
    extra = {} if status in ("success", "failure") else {"finished_at": None}
    assert DeploymentIn.model_validate({**DEPLOYED, "status": given, **extra}).status == status


def test_deployment_environment_and_shas() -> None:
    item = DeploymentIn.model_validate(
        {**DEPLOYED, "environment": "Prod", "sha": "ABCDEF1", "shas": "abcdef1, 1234567;89abcde"}
    )
    assert item.environment == "production"
    assert item.shipped_shas == ["abcdef1", "1234567", "89abcde"]


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        ({"status": "exploded"}, "status", "unknown status 'exploded'"),
        ({"service": None}, "service", "Input should be a valid string"),
        ({"finished_at": None}, "", "finished_at is required when status is success"),
        ({"finished_at": "2025-05-01T10:00:00"}, "finished_at", "timezone"),
        ({"started_at": "2025-05-01T11:00:00Z"}, "", "finished_at is before started_at"),
        ({"sha": "not-a-sha"}, "sha", "should match pattern"),
        ({"url": "javascript:alert(1)"}, "url", "should match pattern"),
        ({"colour": "red"}, "colour", "Extra inputs"),
    ],
)
def test_bad_deployments_name_the_field(change: dict[str, object], field: str, reason: str) -> None:
    with pytest.raises(ValidationError) as caught:
        DeploymentIn.model_validate({**DEPLOYED, **change})
    error = caught.value.errors()[0]
    assert ".".join(str(p) for p in error["loc"]) == field
    assert reason in error["msg"]


def test_deployment_records_carry_the_commits() -> None:
    item = DeploymentIn.model_validate(
        {**DEPLOYED, "repo": "acme/checkout", "commit_shas": ["aaaaaaa", "bbbbbbb"]}
    )
    deployment, *changes = deployment_records(item, source="generic")
    assert deployment.table == "deployment"
    assert deployment.values["source_id"] == "d1"
    assert deployment.values["sha"] == "aaaaaaa"
    assert deployment.values["tool"] == "generic"
    assert [(c.values["source_id"], c.values["deployment_source_id"]) for c in changes] == [
        ("d1@aaaaaaa", "d1"),
        ("d1@bbbbbbb", "d1"),
    ]


@pytest.mark.parametrize(
    ("given", "severity"),
    [
        ("SEV-1", "SEV-1"),
        ("sev2", "SEV-2"),
        ("3", "SEV-3"),
        (4, "SEV-4"),
        ("P1", "SEV-1"),
        ("critical", "SEV-1"),
        ("low", "SEV-4"),
        ("", None),
    ],
)
def test_incident_severity_is_normalized(given: object, severity: str | None) -> None:
    assert IncidentIn.model_validate({**INCIDENT, "severity": given}).severity == severity


def test_incident_rules_and_timeline() -> None:
    with pytest.raises(ValidationError, match="resolved_at is required"):
        IncidentIn.model_validate({**INCIDENT, "status": "closed"})
    with pytest.raises(ValidationError, match="acknowledged_at is before triggered_at"):
        IncidentIn.model_validate({**INCIDENT, "acknowledged_at": "2025-05-01T08:00:00Z"})

    item = IncidentIn.model_validate(
        {
            **INCIDENT,
            "status": "mitigated",
            "acknowledged_at": "2025-05-01T09:05:00Z",
            "assignee": "ada@example.com",
            "linked_deployment_id": "d1",
            "severity": "sev-2",
        }
    )
    incident, *timeline = incident_records(item, source="generic")
    assert incident.values["status"] == "acknowledged"
    assert incident.values["key"] == "i1"
    assert incident.values["caused_by_deployment"] == "d1"
    assert incident.values["triggered_at"] == datetime(2025, 5, 1, 9, 0, tzinfo=UTC)
    assert [(e.values["kind"], e.values["actor"]) for e in timeline] == [
        ("trigger", None),
        ("acknowledge", "ada@example.com"),
    ]
