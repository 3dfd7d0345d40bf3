"""The sync engine: runs connector streams into the store, owning cursors, batches and the run log.

For one stream:

    cursor  = sync_cursor[source, stream]            (None on the first run or a full refresh)
    for item in connector.pull(stream, cursor):
        Record      → buffered per table; every `batch_size` records are upserted and committed
        Checkpoint  → buffered records and the new cursor are committed in ONE transaction
    end of stream  → the remaining records are committed (the cursor stays at the last checkpoint)

So the cursor only ever moves together with, or after, the rows it covers: a crash at any point
leaves committed batches in place and a cursor that re-pulls whatever was not committed, and
upserts keyed on (source, source_id) make the re-pull land on the same rows.

Each stream runs in isolation: its failure is recorded in `sync_run` with an `error_kind`
(auth, rate_limited, upstream, schema_drift, config, other) and the next stream starts.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol

import httpx
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from cto_assistant.connectors.base import Checkpoint, Connector, Record, RequestStats, Stream
from cto_assistant.errors import (
    AuthError,
    ConfigError,
    ConnectorError,
    RateLimitedError,
    SchemaDriftError,
    StoreError,
    UpstreamError,
)
from cto_assistant.logging import get_logger, redact_text
from cto_assistant.store import db
from cto_assistant.store.db import Store
from cto_assistant.store.lead_time_facts import forget_facts_of, refresh_stale_lead_time_facts
from cto_assistant.store.models import SOURCED_TABLES, SyncCursor, SyncRun
from cto_assistant.store.queries.security import evaluate_controls
from cto_assistant.store.rollup import bump_data_version, mark_all_cost_dirty, refresh_cost_rollup
from cto_assistant.sync.enrich import enrich_vulnerabilities, prepare_connector
from cto_assistant.sync.locks import stream_lock

log = get_logger("sync")

ErrorKind = Literal["auth", "rate_limited", "upstream", "schema_drift", "config", "other"]
RunStatus = Literal["success", "failed"]
INTERRUPTED = "interrupted: the process running this stream stopped before it finished"
MAX_ERROR_CHARS = 2000
DATA_CHANGED_EVENT = "sync_finished"  # the dashboard refreshes its widgets on it
ALL_STREAMS = "*"  # the stream name recorded when a source fails before any stream starts


@dataclass(frozen=True, slots=True)
class StreamRunResult:
    """What one stream run did: counts, the cursor it left and, if it failed, why."""

    source: str
    stream: str
    status: RunStatus
    started_at: datetime
    finished_at: datetime
    records: int = 0
    pages: int = 0
    requests: int = 0
    cursor: str | None = None
    cursor_moved: bool = False
    error: str | None = None
    error_kind: ErrorKind | None = None

    @property
    def ok(self) -> bool:
        """Whether the stream finished without error."""
        return self.status == "success"

    @property
    def duration_seconds(self) -> float:
        """Wall-clock time of the run."""
        return (self.finished_at - self.started_at).total_seconds()


class SyncProgress(Protocol):
    """What a progress display hears from the engine (the CLI's rich bar implements it)."""

    def stream_started(self, source: str, stream: str) -> None:
        """A stream run begins."""

    def stream_advanced(self, source: str, stream: str, *, records: int, pages: int) -> None:
        """More records were committed (running totals)."""

    def stream_finished(self, result: StreamRunResult) -> None:
        """A stream run ended, successfully or not."""


def error_kind(exc: BaseException) -> ErrorKind:
    """Classify an exception for the run log and the data-health page."""
    if isinstance(exc, AuthError):
        return "auth"
    if isinstance(exc, RateLimitedError):
        return "rate_limited"
    if isinstance(exc, UpstreamError | httpx.TransportError | httpx.HTTPStatusError):
        return "upstream"
    if isinstance(exc, SchemaDriftError):
        return "schema_drift"
    if isinstance(exc, ConfigError):
        return "config"
    return "other"


def error_text(exc: BaseException) -> str:
    """A one-line, redacted, bounded description of an exception."""
    text = str(exc).strip() or exc.__class__.__name__
    if not isinstance(exc, ConnectorError | ConfigError | StoreError):
        text = f"{exc.__class__.__name__}: {text}"
    text = redact_text(" ".join(text.split()))
    return text[:MAX_ERROR_CHARS]


class SyncEngine:
    """Runs the streams of a set of connectors into one store."""

    def __init__(
        self,
        store: Store,
        connectors: Sequence[Connector],
        *,
        now: Callable[[], datetime] = db.utcnow,
        batch_size: int = 500,
        progress: SyncProgress | None = None,
        lock_dir: Path | None = None,
        finish_rounds: bool = True,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        names = [connector.name for connector in connectors]
        if len(set(names)) != len(names):
            raise ValueError(f"two connectors share a source name: {names}")
        self.store = store
        self.connectors = list(connectors)
        self.now = now
        self.batch_size = batch_size
        self.progress = progress
        self.lock_dir = lock_dir
        self.finish_rounds = finish_rounds

    @property
    def source_names(self) -> list[str]:
        """The source names this engine can run, in order."""
        return [connector.name for connector in self.connectors]

    def run(
        self,
        sources: Iterable[str] | None = None,
        streams: Iterable[str] | None = None,
        *,
        full_refresh: bool = False,
    ) -> list[StreamRunResult]:
        """Run every enabled stream of the chosen sources (default all); never raises per stream.

        `streams` filters by stream name (`issues`) or `source/stream`; `full_refresh` ignores
        stored cursors (they still advance at checkpoints).
        """
        chosen = self._choose(sources)
        wanted = set(streams) if streams is not None else None
        results: list[StreamRunResult] = []
        for connector in chosen:
            try:
                enabled = connector.enabled_streams()
            except ConnectorError as exc:
                results.append(self._record_source_failure(connector, exc))
                continue
            with self.store.session() as session:
                prepare_connector(session, connector)
            for stream in enabled:
                if wanted is not None and not (
                    stream.name in wanted or f"{connector.name}/{stream.name}" in wanted
                ):
                    continue
                result = self._run_locked(connector, stream, full_refresh=full_refresh)
                if result is not None:
                    results.append(result)
        if results:
            sources = sorted({result.source for result in results})
            if self.finish_rounds:
                finish_round(self.store, now=self.now, sources=sources)
            else:  # queue mode: the round's finishing job runs the derived steps once
                with self.store.session() as session:
                    bump_data_version(session, at=self.now())
                publish_data_changed(sources, kind="sync")
        return results

    def _choose(self, sources: Iterable[str] | None) -> list[Connector]:
        if sources is None:
            return self.connectors
        wanted = list(dict.fromkeys(sources))
        unknown = [name for name in wanted if name not in self.source_names]
        if unknown:
            raise ConfigError(
                "sources",
                f"no source named {', '.join(unknown)} "
                f"(configured: {', '.join(self.source_names) or 'none'})",
            )
        by_name = {connector.name: connector for connector in self.connectors}
        return [by_name[name] for name in wanted]

    def _run_locked(
        self, connector: Connector, stream: Stream, *, full_refresh: bool
    ) -> StreamRunResult | None:
        """Run a stream under its cross-process lock (when the engine has a lock directory).

        Holding the lock proves that no live process syncs the stream, so any run-log row still
        "running" was left by a process that died (kill -9, power loss): it is closed as failed
        first. A stream another process is syncing is skipped (None): that process records it.
        """
        if self.lock_dir is None:
            return self.run_stream(connector, stream, full_refresh=full_refresh)
        source = connector.name
        with stream_lock(
            self.store, source=source, stream=stream.name, lock_dir=self.lock_dir
        ) as held:
            if not held:
                log.info(
                    "sync skipped: stream busy in another process",
                    source=source,
                    stream=stream.name,
                )
                return None
            closed = close_interrupted_runs(
                self.store, source=source, stream=stream.name, at=self.now()
            )
            if closed:
                log.warning(
                    "closed interrupted runs", source=source, stream=stream.name, runs=closed
                )
            return self.run_stream(connector, stream, full_refresh=full_refresh)

    def run_stream(
        self, connector: Connector, stream: Stream, *, full_refresh: bool = False
    ) -> StreamRunResult:
        """Run one stream to its end or first error; record it in sync_run and return it."""
        source = connector.name
        started = self.now()
        run_id = self._open_run(source, stream.name, started)
        stats = connector.context.stats
        stats.reset()
        if self.progress:
            self.progress.stream_started(source, stream.name)
        batch = _Batch(stream)
        seen: dict[str, set[str]] = {table: set() for table in stream.tables}
        committed = 0
        cursor: str | None = None
        cursor_moved = False
        failure: BaseException | None = None
        clock = time.perf_counter()
        try:
            since = (
                None
                if full_refresh or not stream.incremental
                else self.read_cursor(source, stream.name)
            )
            cursor = since
            items = connector.pull(stream.name, since)
            try:
                for item in items:
                    if isinstance(item, Record):
                        batch.add(item, source=source)
                        if stream.snapshot:
                            seen.setdefault(item.table, set()).add(str(item.values["source_id"]))
                        if len(batch) >= self.batch_size:
                            committed += self._commit(source, stream.name, batch, None)
                            self._advance(source, stream.name, committed, stats.pages)
                    elif isinstance(item, Checkpoint):
                        committed += self._commit(source, stream.name, batch, item.cursor)
                        cursor, cursor_moved = item.cursor, cursor_moved or item.cursor != since
                        self._advance(source, stream.name, committed, stats.pages)
                    else:
                        raise StoreError(
                            f"stream {stream.name} yielded {type(item).__name__}, "
                            "expected Record or Checkpoint"
                        )
                committed += self._commit(source, stream.name, batch, None)
                if stream.snapshot:
                    self._prune(source, seen)
                self._advance(source, stream.name, committed, stats.pages)
            finally:
                close = getattr(items, "close", None)
                if close is not None:
                    close()
        except Exception as exc:  # isolate the stream: record why and let the others run
            failure = exc
        except BaseException as exc:  # interrupted: still close the run log, then re-raise
            self._close_run(
                run_id,
                self._result(source, stream, started, committed, stats, cursor, cursor_moved, exc),
            )
            raise
        result = self._result(
            source, stream, started, committed, stats, cursor, cursor_moved, failure
        )
        self._close_run(run_id, result)
        fields: dict[str, Any] = {
            "source": source,
            "stream": stream.name,
            "status": result.status,
            "records": result.records,
            "pages": result.pages,
            "requests": result.requests,
            "retries": stats.retries,
            "waited_s": round(stats.waited_seconds, 2),
            "duration_ms": round((time.perf_counter() - clock) * 1000),
            "cursor_moved": cursor_moved,
        }
        if failure is not None:
            # No traceback: rendered tracebacks may show local variables, i.e. secrets.
            log.warning("sync stream", **fields, error_kind=result.error_kind, error=result.error)
        else:
            log.info("sync stream", **fields)
        if self.progress:
            self.progress.stream_finished(result)
        return result

    def _result(
        self,
        source: str,
        stream: Stream,
        started: datetime,
        committed: int,
        stats: RequestStats,
        cursor: str | None,
        cursor_moved: bool,
        failure: BaseException | None,
    ) -> StreamRunResult:
        return StreamRunResult(
            source=source,
            stream=stream.name,
            status="success" if failure is None else "failed",
            started_at=started,
            finished_at=self.now(),
            records=committed,
            pages=stats.pages,
            requests=stats.requests,
            cursor=cursor,
            cursor_moved=cursor_moved,
            error=None if failure is None else error_text(failure),
            error_kind=None if failure is None else error_kind(failure),
        )

    def _prune(self, source: str, seen: dict[str, set[str]]) -> None:
        """Delete this source's rows that a complete (snapshot) run did not yield."""
        with self.store.session() as session:
            for table, keys in seen.items():
                model = SOURCED_TABLES[table]
                if table == "cost_daily":
                    mark_all_cost_dirty(session)
                stored = set(
                    session.scalars(sa.select(model.source_id).where(model.source == source))
                )
                gone = sorted(stored - keys)
                for start in range(0, len(gone), 500):
                    doomed = sa.and_(
                        model.source == source, model.source_id.in_(gone[start : start + 500])
                    )
                    forget_facts_of(session, table, stored=doomed)
                    session.execute(sa.delete(model).where(doomed))
                if gone:
                    log.info("snapshot pruned", source=source, table=table, removed=len(gone))

    def _advance(self, source: str, stream: str, records: int, pages: int) -> None:
        if self.progress:
            self.progress.stream_advanced(source, stream, records=records, pages=pages)

    def _commit(self, source: str, stream: str, batch: _Batch, cursor: str | None) -> int:
        """Upsert the buffered records and (if given) store the cursor, in one transaction."""
        if not batch and cursor is None:
            return 0
        count = len(batch)
        stamp = self.now()
        with self.store.session() as session:
            for table, rows in batch.tables.items():
                db.upsert(session, table, rows, synced_at=stamp)
            if cursor is not None:
                save_cursor(session, source=source, stream=stream, cursor=cursor, at=stamp)
        batch.clear()
        return count

    def read_cursor(self, source: str, stream: str) -> str | None:
        """The stored cursor of a stream, or None."""
        with self.store.session() as session:
            return load_cursor(session, source=source, stream=stream)

    def _open_run(self, source: str, stream: str, started: datetime) -> int:
        with self.store.session() as session:
            run = SyncRun(source=source, stream=stream, started_at=started, status="running")
            session.add(run)
            session.flush()
            return int(run.id)

    def _close_run(self, run_id: int, result: StreamRunResult) -> None:
        with self.store.session() as session:
            session.execute(
                sa.update(SyncRun)
                .where(SyncRun.id == run_id)
                .values(
                    finished_at=result.finished_at,
                    status=result.status,
                    records=result.records,
                    pages=result.pages,
                    requests=result.requests,
                    error=result.error,
                    error_kind=result.error_kind,
                )
            )

    def _record_source_failure(self, connector: Connector, exc: ConnectorError) -> StreamRunResult:
        started = self.now()
        run_id = self._open_run(connector.name, ALL_STREAMS, started)
        result = StreamRunResult(
            source=connector.name,
            stream=ALL_STREAMS,
            status="failed",
            started_at=started,
            finished_at=self.now(),
            error=error_text(exc),
            error_kind="config",
        )
        self._close_run(run_id, result)
        log.warning(
            "sync source",
            source=connector.name,
            status="failed",
            error_kind="config",
            error=result.error,
        )
        if self.progress:
            self.progress.stream_finished(result)
        return result


class _Batch:
    """Records buffered per table until the next commit."""

    def __init__(self, stream: Stream) -> None:
        self.stream = stream
        self.tables: dict[str, list[dict[str, Any]]] = {}
        self.count = 0

    def add(self, record: Record, *, source: str) -> None:
        """Buffer a record after checking its table and source."""
        if record.table not in self.stream.tables:
            raise StoreError(
                f"stream {self.stream.name} yielded a {record.table!r} record but declares "
                f"tables {', '.join(self.stream.tables) or 'none'}"
            )
        values = dict(record.values)
        if values.get("source") != source:
            raise StoreError(
                f"stream {self.stream.name} yielded a record of source {values.get('source')!r}"
                f" (expected {source!r})"
            )
        self.tables.setdefault(record.table, []).append(values)
        self.count += 1

    def clear(self) -> None:
        """Forget the buffered records (after a commit)."""
        self.tables.clear()
        self.count = 0

    def __len__(self) -> int:
        return self.count


def record_run(session: Session, result: StreamRunResult) -> None:
    """Add a finished run to the run log inside the caller's transaction (imports, webhooks)."""
    session.add(
        SyncRun(
            source=result.source,
            stream=result.stream,
            started_at=result.started_at,
            finished_at=result.finished_at,
            status=result.status,
            records=result.records,
            pages=result.pages,
            requests=result.requests,
            error=result.error,
            error_kind=result.error_kind,
        )
    )
    bump_data_version(session, at=result.finished_at)


def finish_round(store: Store, *, now: Callable[[], datetime], sources: Sequence[str]) -> None:
    """What follows a round of syncing, once: derived data, the data version, alerts, browsers.

    The deployment changes' lead-time facts, KEV/EPSS enrichment of vulnerabilities, control
    evaluation and the cost rollup are derived from everything synced, so they run once per
    round (not once per stream); the data version bump in the same transaction as the last
    three tells every cache that the answers changed (the facts change no answer, only its
    speed: they are refreshed in transactions of their own, so a first refresh of a large
    store holds no write lock for long).
    """
    refresh_stale_lead_time_facts(store.session)
    with store.session() as session:
        enrich_vulnerabilities(session)
        evaluate_controls(session, now())
        refresh_cost_rollup(session, at=now())
        bump_data_version(session, at=now())
    from cto_assistant.watch.evaluate import after_sync  # watch reads tools, tools read sync

    after_sync(store, now=now)  # early-warning rules; never raises
    publish_data_changed(sources, kind="sync")


def close_interrupted_runs(store: Store, *, source: str, stream: str, at: datetime) -> int:
    """Mark the stream's "running" run-log rows as failed; call only while holding its lock."""
    with store.session() as session:
        result = session.execute(
            sa.update(SyncRun)
            .where(SyncRun.source == source, SyncRun.stream == stream, SyncRun.status == "running")
            .values(status="failed", finished_at=at, error=INTERRUPTED, error_kind="other")
        )
        return int(getattr(result, "rowcount", 0) or 0)


def load_cursor(session: Session, *, source: str, stream: str) -> str | None:
    """The stored cursor of `source/stream`, or None."""
    return session.scalar(
        sa.select(SyncCursor.cursor).where(SyncCursor.source == source, SyncCursor.stream == stream)
    )


def save_cursor(session: Session, *, source: str, stream: str, cursor: str, at: datetime) -> None:
    """Store the cursor of `source/stream` inside the caller's transaction."""
    bind = session.get_bind()
    insert = postgresql.insert if bind.dialect.name == "postgresql" else sqlite.insert
    statement = insert(SyncCursor).values(
        source=source, stream=stream, cursor=cursor, updated_at=at
    )
    statement = statement.on_conflict_do_update(
        index_elements=["source", "stream"],
        set_={"cursor": statement.excluded.cursor, "updated_at": statement.excluded.updated_at},
    )
    session.execute(statement)


def reset_cursors(session: Session, *, source: str, stream: str | None = None) -> int:
    """Forget the cursors of a source (or one stream) so the next run pulls everything."""
    clauses = [SyncCursor.source == source]
    if stream is not None:
        clauses.append(SyncCursor.stream == stream)
    result = session.execute(sa.delete(SyncCursor).where(*clauses))
    return int(getattr(result, "rowcount", 0) or 0)


def publish_data_changed(sources: Sequence[str], *, kind: str) -> None:
    """Tell the dashboard that data of `sources` changed (no-op when the web layer is absent)."""
    try:
        from cto_assistant.web import events
    except ImportError:
        return
    publish = getattr(events, "publish", None)
    if publish is None:
        return
    try:
        publish(DATA_CHANGED_EVENT, {"kind": kind, "sources": list(sources)})
    except Exception as exc:  # a dashboard refresh must never fail a sync or an import
        log.warning("publish failed", topic=DATA_CHANGED_EVENT, error=error_text(exc))


__all__ = [
    "ALL_STREAMS",
    "DATA_CHANGED_EVENT",
    "INTERRUPTED",
    "ErrorKind",
    "RunStatus",
    "StreamRunResult",
    "SyncEngine",
    "SyncProgress",
    "close_interrupted_runs",
    "error_kind",
    "finish_round",
    "load_cursor",
    "publish_data_changed",
    "record_run",
    "reset_cursors",
    "save_cursor",
]
