"""The EVIDENCE connector: evidence-only compliance checks imported from a file."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from cto_assistant.connectors.base import Record
from cto_assistant.connectors.registry import build_connector
from cto_assistant.errors import SchemaDriftError
from cto_assistant.store import Store
from cto_assistant.store.models import ControlEvidence
from cto_assistant.sync.engine import SyncEngine

ENTRY = {
    "framework": "soc2",
    "control_id": "A1.2",
    "check": "restore_test_quarterly",
    "subject": "orders-db",
    "status": "pass",
    "evidence": {"restored_at": "2026-02-20", "minutes": 42},
    "collected_at": "2026-02-21T09:00:00Z",
}


def connector_for(path: Path):  # type: ignore[no-untyped-def]
    return build_connector("grc", {"kind": "evidence", "path": str(path)})


def test_entries_become_control_evidence_rows(tmp_path: Path) -> None:
    path = tmp_path / "grc.json"
    path.write_text(json.dumps([ENTRY]))
    [record] = [r for r in connector_for(path).pull("evidence", None) if isinstance(r, Record)]
    assert record.table == "control_evidence"
    assert record.values["source_id"] == "soc2:A1.2:restore_test_quarterly:orders-db:2026-02-21"
    assert record.values["collected_at"] == datetime(2026, 2, 21, 9, tzinfo=UTC)
    assert record.values["evidence"] == {"restored_at": "2026-02-20", "minutes": 42}


def test_a_bad_entry_is_named_and_nothing_is_yielded(tmp_path: Path) -> None:
    path = tmp_path / "grc.json"
    path.write_text(json.dumps([ENTRY, {**ENTRY, "status": "maybe"}]))
    with pytest.raises(SchemaDriftError, match=r"evidence\[1\]\.status"):
        list(connector_for(path).pull("evidence", None))
    assert connector_for(path).check()[0].ok is False


def test_the_file_is_the_whole_set(tmp_path: Path, sqlite_store: Store) -> None:
    path = tmp_path / "grc.json"
    other = {**ENTRY, "subject": "billing-db"}
    path.write_text(json.dumps([ENTRY, other]))
    engine = SyncEngine(sqlite_store, [connector_for(path)])
    engine.run()
    path.write_text(json.dumps([ENTRY]))
    engine.run()
    with sqlite_store.session() as session:
        subjects = session.scalars(
            sa.select(ControlEvidence.subject).where(ControlEvidence.source == "grc")
        ).all()
    assert subjects == ["orders-db"]
