"""Freshness per source and stream, read from the run log (`cto status`, the data-health page)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Literal

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from cto_assistant.store.db import utcnow
from cto_assistant.store.models import SyncCursor, SyncRun

SourceState = Literal["ok", "degraded", "failing", "never_synced"]


class StreamStatus(BaseModel):
    """The latest state of one stream of a source."""

    stream: str
    running: bool = Field(description="A run of this stream has started and not finished.")
    last_run_at: datetime | None = Field(description="Start of the latest run.")
    last_status: Literal["success", "failed"] | None = Field(
        description="Outcome of the latest finished run."
    )
    last_success_at: datetime | None = Field(description="End of the latest successful run.")
    records: int = Field(description="Records committed by the latest successful run.")
    last_error: str | None = Field(description="Error of the latest run, if it failed.")
    last_error_kind: str | None = Field(description="auth, rate_limited, upstream, …")
    cursor: str | None = Field(description="Stored incremental cursor.")


class SourceStatus(BaseModel):
    """Freshness of one source: how old its data is and whether its last runs failed."""

    source: str
    state: SourceState = Field(
        description="ok: every stream's latest run succeeded; degraded: some failed; "
        "failing: all failed; never_synced: no finished run yet."
    )
    last_success_at: datetime | None = Field(
        description="End of the most recent successful stream run."
    )
    as_of: datetime | None = Field(
        description="Data is complete up to here: the oldest last success over its streams."
    )
    age_seconds: float | None = Field(description="Seconds since `as_of`.")
    stale: bool = Field(description="Older than the staleness threshold asked for.")
    records: int = Field(description="Records committed by each stream's latest success.")
    last_error: str | None = Field(description="Most recent error of a currently failing stream.")
    last_error_kind: str | None = None
    last_error_stream: str | None = None
    streams: list[StreamStatus] = Field(default_factory=list)


def _latest(
    session: Session, *conditions: sa.ColumnElement[bool]
) -> dict[tuple[str, str], SyncRun]:
    """The newest sync_run row per (source, stream) matching `conditions`."""
    newest = (
        sa.select(sa.func.max(SyncRun.id).label("id"))
        .where(*conditions)
        .group_by(SyncRun.source, SyncRun.stream)
        .subquery()
    )
    rows = session.scalars(sa.select(SyncRun).join(newest, SyncRun.id == newest.c.id))
    return {(run.source, run.stream): run for run in rows}


def source_status(
    session: Session,
    *,
    configured: Iterable[str] | None = None,
    now: datetime | None = None,
    stale_after: timedelta | None = None,
    only_configured: bool = False,
) -> list[SourceStatus]:
    """Freshness of every source: `configured` ones first (even if never synced), then the rest.

    Sources found only in the run log (e.g. since removed from the config) follow, sorted,
    unless `only_configured`.
    """
    moment = now or utcnow()
    latest = _latest(session)
    finished = _latest(session, SyncRun.status != "running")
    succeeded = _latest(session, SyncRun.status == "success")
    cursors = {
        (row.source, row.stream): row.cursor
        for row in session.execute(
            sa.select(SyncCursor.source, SyncCursor.stream, SyncCursor.cursor)
        )
    }
    keys = set(latest) | set(cursors)
    names = list(dict.fromkeys(configured or ()))
    if not only_configured:
        names += sorted({source for source, _ in keys} - set(names))
    statuses = []
    for name in names:
        streams = sorted(stream for source, stream in keys if source == name)
        stream_statuses = [
            _stream_status(name, stream, latest, finished, succeeded, cursors) for stream in streams
        ]
        statuses.append(_source_status(name, stream_statuses, moment, stale_after))
    return statuses


def _stream_status(
    source: str,
    stream: str,
    latest: dict[tuple[str, str], SyncRun],
    finished: dict[tuple[str, str], SyncRun],
    succeeded: dict[tuple[str, str], SyncRun],
    cursors: dict[tuple[str, str], str | None],
) -> StreamStatus:
    key = (source, stream)
    newest, done, success = latest.get(key), finished.get(key), succeeded.get(key)
    failed = done is not None and done.status == "failed"
    return StreamStatus(
        stream=stream,
        running=newest is not None and newest.status == "running",
        last_run_at=newest.started_at if newest else None,
        last_status=done.status if done and done.status in ("success", "failed") else None,
        last_success_at=success.finished_at if success else None,
        records=success.records if success else 0,
        last_error=done.error if failed and done else None,
        last_error_kind=done.error_kind if failed and done else None,
        cursor=cursors.get(key),
    )


def _source_status(
    name: str,
    streams: list[StreamStatus],
    now: datetime,
    stale_after: timedelta | None,
) -> SourceStatus:
    outcomes = [stream.last_status for stream in streams if stream.last_status is not None]
    if not outcomes:
        state: SourceState = "never_synced"
    elif all(outcome == "success" for outcome in outcomes):
        state = "ok"
    elif all(outcome == "failed" for outcome in outcomes):
        state = "failing"
    else:
        state = "degraded"
    successes = [s.last_success_at for s in streams if s.last_success_at is not None]
    as_of = min(successes) if successes else None
    age = (now - as_of).total_seconds() if as_of else None
    failing = [s for s in streams if s.last_error is not None]
    newest_failure = max(failing, key=lambda s: s.last_run_at or now) if failing else None
    return SourceStatus(
        source=name,
        state=state,
        last_success_at=max(successes) if successes else None,
        as_of=as_of,
        age_seconds=age,
        stale=stale_after is not None and (age is None or age > stale_after.total_seconds()),
        records=sum(s.records for s in streams),
        last_error=newest_failure.last_error if newest_failure else None,
        last_error_kind=newest_failure.last_error_kind if newest_failure else None,
        last_error_stream=newest_failure.stream if newest_failure else None,
        streams=streams,
    )


def format_age(seconds: float | None) -> str:
    """A short human age: '45s', '12m', '3h 05m', '4d 2h', or 'never'."""
    if seconds is None:
        return "never"
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, _ = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"


__all__ = ["SourceState", "SourceStatus", "StreamStatus", "format_age", "source_status"]
