"""`cto import-costs`: load FOCUS exports into `cost_daily`, replacing each file's earlier rows.

A file import is a one-shot bulk load, not a stream sync, so unlike the connectors' streams it
writes to the store itself — through `store.db` only, one transaction per file:

    delete the rows of every earlier import of the same path → insert the new rollup → commit

The import batch is '<path key>:<content hash>', so re-importing a file (changed or not)
replaces its rows and never doubles them; a crash mid-file leaves the previous import intact.
Every file's columns are checked before anything is written: one bad file refuses the lot.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import sqlalchemy as sa

from cto_assistant.connectors.focus.mapping import (
    TagKeys,
    _columns,
    _relation_sql,
    connect,
    find_exports,
    missing_columns,
    rollup_file,
)
from cto_assistant.errors import ImportFileError
from cto_assistant.store.db import Store, utcnow
from cto_assistant.store.models import CostDaily
from cto_assistant.store.rollup import (
    bump_data_version,
    mark_days_of_rows_dirty,
    refresh_cost_rollup,
)

INSERT_CHUNK = 5_000


@dataclass
class FileResult:
    """What importing one file did."""

    path: Path
    import_batch: str
    source_rows: int
    rows_written: int
    rows_replaced: int
    billed_total: dict[str, float]


@dataclass
class ImportResult:
    """What an import run did, file by file."""

    files: list[FileResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def source_rows(self) -> int:
        """FOCUS rows scanned."""
        return sum(f.source_rows for f in self.files)

    @property
    def rows_written(self) -> int:
        """cost_daily rows written."""
        return sum(f.rows_written for f in self.files)


Progress = Callable[[str, Path, int], None]  # (phase, file, rows so far)


def check_files(paths: Sequence[Path]) -> list[Path]:
    """Find the exports and refuse all of them if any lacks a mandatory column."""
    files = find_exports(paths)
    if not files:
        raise ImportFileError(", ".join(str(p) for p in paths), ["no CSV or Parquet export found"])
    problems: list[str] = []
    con = connect()
    try:
        for path in files:
            try:
                present = _columns(con, _relation_sql(path))
            except duckdb.Error as exc:
                problems.append(f"{path}: unreadable ({exc.__class__.__name__})")
                continue
            missing = missing_columns(present)
            if missing:
                problems.append(f"{path}: missing mandatory FOCUS column(s): {', '.join(missing)}")
    finally:
        con.close()
    if problems:
        raise ImportFileError(str(paths[0]) if len(paths) == 1 else f"{len(files)} files", problems)
    return files


def import_focus(
    store: Store,
    paths: Sequence[Path],
    *,
    source: str = "focus",
    tag_keys: TagKeys = TagKeys(),
    progress: Progress | None = None,
) -> ImportResult:
    """Import FOCUS exports (files or folders) into cost_daily; each file replaces its last import."""
    started = time.perf_counter()
    files = check_files(paths)
    result = ImportResult()
    con = connect()
    try:
        for path in files:
            if progress:
                progress("reading", path, 0)
            rollup = rollup_file(path, source=source, tag_keys=tag_keys, con=con)
            if progress:
                progress("writing", path, rollup.source_rows)
            path_key = rollup.import_batch.split(":", 1)[0]
            replaced = write_batch(store, rollup.rows, path_key=path_key, source=source)
            result.files.append(
                FileResult(
                    path=path,
                    import_batch=rollup.import_batch,
                    source_rows=rollup.source_rows,
                    rows_written=len(rollup.rows),
                    rows_replaced=replaced,
                    billed_total=rollup.billed_total(),
                )
            )
            if progress:
                progress("done", path, rollup.source_rows)
    finally:
        con.close()
    result.seconds = time.perf_counter() - started
    return result


def write_batch(store: Store, rows: list[dict[str, object]], *, path_key: str, source: str) -> int:
    """Delete earlier imports of the file at `path_key` and insert `rows`, in one transaction."""
    table: sa.Table = CostDaily.__table__  # type: ignore[assignment]
    stamp = utcnow()
    for row in rows:
        row["synced_at"] = stamp
    replaced = sa.and_(table.c.source == source, table.c.import_batch.like(f"{path_key}:%"))
    with store.session() as session:
        old_days = session.execute(
            sa.select(sa.func.min(table.c.day), sa.func.max(table.c.day)).where(replaced)
        ).one()
        mark_days_of_rows_dirty(session, [*old_days, *(row.get("day") for row in rows)])
        deleted = session.execute(sa.delete(table).where(replaced))
        for start in range(0, len(rows), INSERT_CHUNK):
            session.execute(sa.insert(table), rows[start : start + INSERT_CHUNK])
    with store.session() as session:  # rebuild the rollup of the written months and weeks
        refresh_cost_rollup(session, at=stamp)
        bump_data_version(session, at=stamp)
    return int(getattr(deleted, "rowcount", 0) or 0)
