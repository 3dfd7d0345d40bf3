"""`import_file`: GENERIC deployments and incidents from files, all rows or none."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from cto_assistant.errors import ImportFileError
from cto_assistant.store import Store
from cto_assistant.store.models import (
    Deployment,
    DeploymentChange,
    Incident,
    IncidentEvent,
    SyncRun,
)
from cto_assistant.sync.freshness import source_status
from cto_assistant.sync.ingest import import_file

DEPLOYMENTS_CSV = """\
id,service,environment,status,started_at,finished_at,commit_shas,repo,url
dep-1,checkout-service,production,success,2025-05-01T10:00:00Z,2025-05-01T10:07:00Z,aaaaaaa bbbbbbb,acme/checkout,https://ci.example.com/1
dep-2,payments-api,staging,failed,2025-05-01T11:00:00Z,2025-05-01T11:03:00Z,ccccccc,acme/payments,
dep-3,payments-api,prod,running,2025-05-01T12:00:00Z,,,acme/payments,
"""

INCIDENTS = [
    {
        "id": "INC-1",
        "service": "checkout-service",
        "title": "Checkout 500s",
        "severity": "SEV-2",
        "status": "acknowledged",
        "triggered_at": "2025-05-01T10:20:00Z",
        "acknowledged_at": "2025-05-01T10:25:00Z",
        "assignee": "ada@example.com",
        "deployment_id": "dep-1",
    },
    {
        "id": "INC-2",
        "service": "payments-api",
        "title": "Latency",
        "severity": "P3",
        "status": "resolved",
        "triggered_at": "2025-04-20T08:00:00Z",
        "resolved_at": "2025-04-20T09:00:00Z",
    },
]


def count(store: Store, model: type) -> int:
    """Rows of a table."""
    with store.session() as session:
        return int(session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


def write(tmp_path: Path, name: str, text: str) -> Path:
    """Write a file and return its path."""
    path = tmp_path / name
    path.write_text(text)
    return path


def test_good_csv_imports_deployments_with_their_commits(any_store: Store, tmp_path: Path) -> None:
    result = import_file(any_store, "deployments", write(tmp_path, "d.csv", DEPLOYMENTS_CSV))

    assert (result.source, result.items) == ("generic", 3)
    assert result.records == {"deployment": 3, "deployment_change": 3}
    with any_store.session() as session:
        rows = {d.source_id: d for d in session.scalars(sa.select(Deployment))}
        changes = session.execute(
            sa.select(DeploymentChange.deployment_source_id, DeploymentChange.sha)
        ).all()
    assert rows["dep-1"].environment == "production"
    assert rows["dep-1"].sha == "aaaaaaa"
    assert rows["dep-2"].status == "failure"
    assert (rows["dep-3"].status, rows["dep-3"].environment) == ("in_progress", "production")
    assert all(d.source == "generic" for d in rows.values())
    assert sorted(tuple(c) for c in changes) == [
        ("dep-1", "aaaaaaa"),
        ("dep-1", "bbbbbbb"),
        ("dep-2", "ccccccc"),
    ]


def test_good_json_imports_incidents_with_a_timeline(any_store: Store, tmp_path: Path) -> None:
    path = write(tmp_path, "i.json", json.dumps(INCIDENTS, indent=2))
    result = import_file(any_store, "incidents", path)

    assert result.records == {"incident": 2, "incident_event": 4}
    with any_store.session() as session:
        incidents = {i.source_id: i for i in session.scalars(sa.select(Incident))}
    assert incidents["INC-1"].caused_by_deployment == "dep-1"
    assert incidents["INC-2"].severity == "SEV-3"
    assert incidents["INC-2"].status == "resolved"


def test_reimport_is_idempotent_and_applies_changes(any_store: Store, tmp_path: Path) -> None:
    path = write(tmp_path, "d.csv", DEPLOYMENTS_CSV)
    import_file(any_store, "deployments", path)
    import_file(any_store, "deployments", path)
    assert (count(any_store, Deployment), count(any_store, DeploymentChange)) == (3, 3)

    changed = DEPLOYMENTS_CSV.replace("aaaaaaa bbbbbbb", "aaaaaaa").replace(
        "running,2025-05-01T12:00:00Z,", "success,2025-05-01T12:00:00Z,2025-05-01T12:09:00Z"
    )
    import_file(any_store, "deployments", write(tmp_path, "d2.csv", changed))
    assert (count(any_store, Deployment), count(any_store, DeploymentChange)) == (3, 2)
    with any_store.session() as session:
        dep3 = session.scalar(sa.select(Deployment).where(Deployment.source_id == "dep-3"))
    assert dep3 is not None and dep3.status == "success"


def test_a_bad_row_refuses_the_whole_file(any_store: Store, tmp_path: Path) -> None:
    bad = DEPLOYMENTS_CSV + "dep-4,,production,success,,2025-05-01T13:00:00Z,,,\n"
    bad += "dep-5,web,production,exploded,,2025-05-01T13:00:00Z,,,\n"
    with pytest.raises(ImportFileError) as caught:
        import_file(any_store, "deployments", write(tmp_path, "bad.csv", bad))

    assert caught.value.problems == [
        "line 5: service: is required",
        "line 6: status: unknown status 'exploded' (use one of: cancelled, failure, "
        "in_progress, success)",
    ]
    assert count(any_store, Deployment) == 0
    assert count(any_store, DeploymentChange) == 0
    assert count(any_store, SyncRun) == 0


def test_a_bad_json_object_is_reported_with_its_line(any_store: Store, tmp_path: Path) -> None:
    broken = [*INCIDENTS, {"id": "INC-3", "title": "x", "status": "open"}]
    path = write(tmp_path, "i.json", json.dumps(broken, indent=2))
    with pytest.raises(ImportFileError) as caught:
        import_file(any_store, "incidents", path)
    starts = [
        n for n, text in enumerate(json.dumps(broken, indent=2).splitlines(), 1) if text == "  {"
    ]
    line = starts[2]
    assert caught.value.problems == [f"line {line}: triggered_at: is required"]
    assert count(any_store, Incident) == 0


def test_repeated_ids_in_one_file_are_refused(any_store: Store, tmp_path: Path) -> None:
    text = DEPLOYMENTS_CSV + DEPLOYMENTS_CSV.splitlines()[1] + "\n"
    with pytest.raises(ImportFileError) as caught:
        import_file(any_store, "deployments", write(tmp_path, "dup.csv", text))
    assert caught.value.problems == ["line 5: id 'dep-1' is already used on line 2"]
    assert count(any_store, Deployment) == 0


def test_unknown_kind_and_empty_file(any_store: Store, tmp_path: Path) -> None:
    path = write(tmp_path, "d.csv", "id,service\n")
    with pytest.raises(ImportFileError, match="unknown kind 'builds'"):
        import_file(any_store, "builds", path)
    with pytest.raises(ImportFileError, match="no rows"):
        import_file(any_store, "deployments", path)


def test_an_import_counts_as_a_successful_run_of_its_source(
    any_store: Store, tmp_path: Path
) -> None:
    import_file(
        any_store, "deployments", write(tmp_path, "d.csv", DEPLOYMENTS_CSV), source="jenkins"
    )
    with any_store.session() as session:
        [status] = source_status(session)
    assert (status.source, status.state, status.records) == ("jenkins", "ok", 6)
    assert [s.stream for s in status.streams] == ["deployments"]
    assert count(any_store, IncidentEvent) == 0
