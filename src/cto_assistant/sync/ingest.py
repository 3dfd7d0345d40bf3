"""The push path of sync: GENERIC deployments and incidents from files and webhooks into the store.

The connector (`connectors.generic`) knows the shapes and maps them to records; this module owns
the writing, like the engine does for pulled streams: every item is validated first, then all
records are written in ONE transaction together with a run-log entry, so a file is applied
entirely or not at all. Child rows (a deployment's commits, an incident's timeline) are replaced
per item, so re-sending an item with fewer commits leaves no stale ones behind; the written
deployments' lead-time facts are computed in the same transaction (no sync round follows).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError

from cto_assistant.connectors.generic.files import Row, read_rows
from cto_assistant.connectors.generic.mapping import (
    KINDS,
    SHAPES,
    DeploymentIn,
    IncidentIn,
    Kind,
    records_for,
)
from cto_assistant.errors import ImportFileError
from cto_assistant.logging import get_logger
from cto_assistant.store import db
from cto_assistant.store.db import Store
from cto_assistant.store.lead_time_facts import forget_facts_of, refresh_lead_time_facts
from cto_assistant.store.models import DeploymentChange, IncidentEvent
from cto_assistant.sync.engine import StreamRunResult, publish_data_changed, record_run

log = get_logger("sync.ingest")

DEFAULT_SOURCE = "generic"
Item = DeploymentIn | IncidentIn


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What an import or webhook call wrote."""

    source: str
    kind: Kind
    items: int
    records: dict[str, int]

    @property
    def total_records(self) -> int:
        """Rows written across every table."""
        return sum(self.records.values())


def check_kind(kind: str, *, where: str) -> Kind:
    """Return `kind` if it is 'deployments' or 'incidents', else raise ImportFileError."""
    if kind not in KINDS:
        raise ImportFileError(where, [f"unknown kind {kind!r} (use {' or '.join(KINDS)})"])
    return kind


def problem_text(exc: ValidationError) -> list[str]:
    """One 'field: reason' line per pydantic error, in the words of the documented shape."""
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        field = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown field (see docs/connectors.md for the shape)"
        elif error["type"] == "missing":
            message = "is required"
        problems.append(f"{field}: {message}" if field else message)
    return problems


def validate_rows(kind: Kind, rows: Sequence[Row], *, where: str) -> list[Item]:
    """Validate every row; raise ImportFileError listing each bad row's line and reason."""
    shape = SHAPES[kind]
    items: list[Item] = []
    problems: list[str] = []
    first_line: dict[str, int] = {}
    for row in rows:
        try:
            item = shape.model_validate(row.values)
        except ValidationError as exc:
            problems.extend(f"line {row.line}: {text}" for text in problem_text(exc))
            continue
        if item.id in first_line:
            problems.append(
                f"line {row.line}: id {item.id!r} is already used on line {first_line[item.id]}"
            )
            continue
        first_line[item.id] = row.line
        items.append(item)
    if problems:
        raise ImportFileError(where, problems)
    return items


def write_items(
    store: Store,
    kind: Kind,
    items: Sequence[Item],
    *,
    source: str = DEFAULT_SOURCE,
    now: Callable[[], datetime] = db.utcnow,
    stream: str | None = None,
) -> IngestResult:
    """Write validated items and a run-log entry in one transaction; return the counts."""
    started = now()
    tables: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        for record in records_for(kind, item, source=source):
            tables.setdefault(record.table, []).append(dict(record.values))
    written: dict[str, int] = {}
    with store.session() as session:
        _delete_children(session, kind, items, source=source)
        for table, rows in tables.items():
            written[table] = db.upsert(session, table, rows, synced_at=started)
        if kind == "deployments":
            refresh_lead_time_facts(session, deployments=[item.id for item in items])
        record_run(
            session,
            StreamRunResult(
                source=source,
                stream=stream or kind,
                status="success",
                started_at=started,
                finished_at=now(),
                records=sum(written.values()),
            ),
        )
    result = IngestResult(source=source, kind=kind, items=len(items), records=written)
    log.info(
        "generic ingest",
        source=source,
        kind=kind,
        items=len(items),
        records=result.total_records,
        via=stream or kind,
    )
    publish_data_changed([source], kind="import")
    return result


def _delete_children(session: Any, kind: Kind, items: Iterable[Item], *, source: str) -> None:
    ids = [item.id for item in items]
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        if kind == "deployments":
            replaced = sa.and_(
                DeploymentChange.source == source, DeploymentChange.deployment_source_id.in_(chunk)
            )
            forget_facts_of(session, "deployment_change", stored=replaced)
            session.execute(sa.delete(DeploymentChange).where(replaced))
        else:
            event_ids = [
                f"{id_}:{step}" for id_ in chunk for step in ("trigger", "acknowledge", "resolve")
            ]
            session.execute(
                sa.delete(IncidentEvent).where(
                    IncidentEvent.source == source, IncidentEvent.source_id.in_(event_ids)
                )
            )


def import_file(
    store: Store,
    kind: str,
    path: Path,
    *,
    source: str = DEFAULT_SOURCE,
    now: Callable[[], datetime] = db.utcnow,
) -> IngestResult:
    """Import a CSV/JSON file of deployments or incidents: all rows or none."""
    where = str(path)
    checked = check_kind(kind, where=where)
    rows = read_rows(path)
    if not rows:
        raise ImportFileError(where, ["the file has no rows"])
    items = validate_rows(checked, rows, where=where)
    return write_items(store, checked, items, source=source, now=now, stream=checked)


def ingest_items(
    store: Store,
    kind: Kind,
    items: Sequence[Item],
    *,
    source: str = DEFAULT_SOURCE,
    now: Callable[[], datetime] = db.utcnow,
) -> IngestResult:
    """Write items already validated by the webhook's pydantic models (ids unique per call)."""
    seen: set[str] = set()
    for index, item in enumerate(items):
        if item.id in seen:
            raise ImportFileError("request", [f"item {index}: id {item.id!r} is sent twice"])
        seen.add(item.id)
    return write_items(store, kind, items, source=source, now=now, stream=kind)


__all__ = [
    "DEFAULT_SOURCE",
    "IngestResult",
    "check_kind",
    "import_file",
    "ingest_items",
    "problem_text",
    "validate_rows",
    "write_items",
]
