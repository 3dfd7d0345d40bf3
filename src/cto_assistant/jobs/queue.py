"""The sync job queue: Dramatiq over Redis, one job per (source, stream).

    queue = JobQueue(settings)                       # needs CTO_QUEUE_URL
    queue.enqueue("aws", "costs")                    # False when that stream is already queued
    queue.attach_store(store); run a dramatiq Worker  # what `cto worker` does (see worker.py)

A job takes the stream's lock (sync/locks.py) without waiting, closes the run-log rows a dead worker
left "running", and runs that one stream through the SyncEngine, whose cursors move only with
the rows they cover. So:

- two workers never sync one stream at once: the second gets `Retry` and tries again later;
- a worker killed mid-job loses nothing: its PostgreSQL session ends, which frees the lock and
  rolls back the open batch; Redis still lists the message as unacknowledged by that worker, and
  once the worker's heartbeat is older than `queue_heartbeat_timeout_seconds` another worker's
  broker call moves it back onto the queue (Dramatiq's queue maintenance, run on a share of
  broker calls), where the job runs again from the last committed cursor;
- a stream is queued at most once: `enqueue` sets `<namespace>:pending:<source>/<stream>` with
  SET NX (expiring after the job time limit) and the job deletes it when it is done, so a slow
  stream never piles up ticks of the scheduler.

A stream that fails inside the engine (vendor down, bad token) is recorded in the run log and
NOT retried here: the connector already retried its requests, and the next tick runs it again.
Failures outside the engine (database or Redis unreachable) raise, and Dramatiq retries them
with exponential backoff.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.errors import Retry
from sqlalchemy.engine import make_url

from cto_assistant.connectors.base import Connector
from cto_assistant.connectors.registry import configured_connectors
from cto_assistant.errors import ConfigError, ConnectorError
from cto_assistant.logging import get_logger
from cto_assistant.settings import Settings
from cto_assistant.store.db import Store
from cto_assistant.sync.engine import (
    StreamRunResult,
    SyncEngine,
    close_interrupted_runs,
    error_text,
    finish_round,
    record_run,
)
from cto_assistant.sync.locks import stream_lock

log = get_logger("jobs")

QUEUE_NAME = "sync"
ACTOR_NAME = "sync_stream"
FINISH_ACTOR_NAME = "finish_round"
ROUND_LOCK = ("*", "finish-round")  # the stream lock the finishing job holds
JOB_TIME_LIMIT_MS = 2 * 3600 * 1000  # one stream of a very large company, with room to spare
MAX_RETRIES = 8
MIN_BACKOFF_MS = 5_000
MAX_BACKOFF_MS = 300_000
# Share (per million) of broker calls that also requeue dead workers' messages. Dramatiq's
# default (0.1 %) can leave a dead worker's job waiting many minutes; the check is one
# ZRANGEBYSCORE on a small set, so 20 % costs little and finds a dead worker within seconds.
MAINTENANCE_CHANCE = 200_000


@dataclass
class EnqueueReport:
    """What one round of enqueueing did, stream by stream (`source/stream`)."""

    enqueued: list[str] = field(default_factory=list)
    already_queued: list[str] = field(default_factory=list)
    failed_sources: list[str] = field(default_factory=list)


class JobQueue:
    """The broker, the sync actor and the pending-stream markers of one installation."""

    def __init__(self, settings: Settings) -> None:
        if not settings.queue_url:
            raise ConfigError("CTO_QUEUE_URL", "is not set: the job queue needs a Redis URL")
        self.settings = settings
        self.namespace = settings.queue_namespace
        self.broker = RedisBroker(
            url=settings.queue_url,
            namespace=self.namespace,
            heartbeat_timeout=int(settings.queue_heartbeat_timeout_seconds * 1000),
            maintenance_chance=MAINTENANCE_CHANCE,
        )
        self.redis: redis.Redis = self.broker.client
        self.actor: dramatiq.Actor[[str, str, bool], None] = dramatiq.Actor(
            self.run_job,
            broker=self.broker,
            actor_name=ACTOR_NAME,
            queue_name=QUEUE_NAME,
            priority=0,
            options={
                "max_retries": MAX_RETRIES,
                "min_backoff": MIN_BACKOFF_MS,
                "max_backoff": MAX_BACKOFF_MS,
                "time_limit": JOB_TIME_LIMIT_MS,
            },
        )
        self.finisher: dramatiq.Actor[[], None] = dramatiq.Actor(
            self.run_finish,
            broker=self.broker,
            actor_name=FINISH_ACTOR_NAME,
            queue_name=QUEUE_NAME,
            priority=10,  # after the stream jobs already waiting
            options={
                "max_retries": MAX_RETRIES,
                "min_backoff": MIN_BACKOFF_MS,
                "max_backoff": MAX_BACKOFF_MS,
                "time_limit": JOB_TIME_LIMIT_MS,
            },
        )
        self.store: Store | None = None

    def attach_store(self, store: Store) -> None:
        """Give the queue the store its jobs write to (workers and the scheduler)."""
        self.store = store

    def pending_key(self, source: str, stream: str) -> str:
        """The Redis key that marks `source/stream` as queued or running."""
        return f"{self.namespace}:pending:{source}/{stream}"

    @property
    def round_key(self) -> str:
        """The Redis key that marks the round's finishing job as queued."""
        return f"{self.namespace}:pending:finish-round"

    @property
    def round_sources_key(self) -> str:
        """The Redis set of sources synced since the last finishing job started."""
        return f"{self.namespace}:round-sources"

    def enqueue_finish(self, source: str) -> bool:
        """Note `source` as synced and queue the finishing job; False when already queued."""
        self.redis.sadd(self.round_sources_key, source)
        if not self.redis.set(self.round_key, str(time.time()), nx=True, px=JOB_TIME_LIMIT_MS):
            return False
        try:
            self.finisher.send()
        except BaseException:
            self.redis.delete(self.round_key)
            raise
        return True

    def enqueue(self, source: str, stream: str, *, full_refresh: bool = False) -> bool:
        """Queue one stream; False when it is already queued or running."""
        key = self.pending_key(source, stream)
        if not self.redis.set(key, str(time.time()), nx=True, px=JOB_TIME_LIMIT_MS):
            return False
        try:
            self.actor.send(source, stream, full_refresh)
        except BaseException:
            self.redis.delete(key)
            raise
        return True

    def enqueue_sync(
        self,
        *,
        sources: Iterable[str] | None = None,
        streams: Iterable[str] | None = None,
        full_refresh: bool = False,
    ) -> EnqueueReport:
        """Queue every enabled stream of the chosen sources (default all), in settings order.

        `streams` filters by stream name or `source/stream`, as `cto sync --stream` does.
        """
        wanted = set(streams) if streams is not None else None
        report = EnqueueReport()

        def bad_config(name: str, exc: ConfigError) -> None:
            """Log a source that cannot be built; the others are still queued."""
            log.error("source not queued: bad config", source=name, error=str(exc))
            report.failed_sources.append(name)

        connectors = configured_connectors(self.settings, sources=sources, on_error=bad_config)
        try:
            for connector in connectors:
                for name in self._stream_names(connector, report):
                    label = f"{connector.name}/{name}"
                    if wanted is not None and name not in wanted and label not in wanted:
                        continue
                    queued = self.enqueue(connector.name, name, full_refresh=full_refresh)
                    (report.enqueued if queued else report.already_queued).append(label)
        finally:
            for connector in connectors:
                connector.close()
        log.info(
            "sync enqueued",
            enqueued=len(report.enqueued),
            already_queued=len(report.already_queued),
            failed_sources=len(report.failed_sources),
        )
        return report

    def _stream_names(self, connector: Connector, report: EnqueueReport) -> list[str]:
        """The enabled streams of a source; a source that cannot list them is logged and run-logged."""
        try:
            return [stream.name for stream in connector.enabled_streams()]
        except ConnectorError as exc:
            report.failed_sources.append(connector.name)
            log.warning("source not queued", source=connector.name, error=error_text(exc))
            if self.store is not None:
                now = self.settings.now()
                with self.store.session() as session:
                    record_run(
                        session,
                        StreamRunResult(
                            source=connector.name,
                            stream="*",
                            status="failed",
                            started_at=now,
                            finished_at=now,
                            error=error_text(exc),
                            error_kind="config",
                        ),
                    )
            return []

    def run_job(self, source: str, stream: str, full_refresh: bool = False) -> None:
        """The actor: run one stream under its lock (see the module docstring)."""
        store = self.store
        if store is None:
            raise RuntimeError("JobQueue.attach_store() was not called in this worker")
        clock = time.perf_counter()
        lock_dir = self.settings.data_dir / "locks"
        with stream_lock(store, source=source, stream=stream, lock_dir=lock_dir) as held:
            if not held:
                log.info("sync job deferred: stream busy", source=source, stream=stream)
                raise Retry(f"{source}/{stream} is being synced by another worker")
            closed = close_interrupted_runs(
                store, source=source, stream=stream, at=self.settings.now()
            )
            try:
                connectors = configured_connectors(self.settings, sources=[source])
            except ConfigError as exc:  # the source left the config: nothing to retry
                log.error("sync job dropped", source=source, stream=stream, error=str(exc))
                self.redis.delete(self.pending_key(source, stream))
                return
            try:
                engine = SyncEngine(store, connectors, now=self.settings.now, finish_rounds=False)
                results = engine.run([source], [f"{source}/{stream}"], full_refresh=full_refresh)
            finally:
                for connector in connectors:
                    connector.close()
        self.redis.delete(self.pending_key(source, stream))
        if results:
            self.enqueue_finish(source)
        log.info(
            "sync job",
            source=source,
            stream=stream,
            status=",".join(result.status for result in results) or "no_such_stream",
            records=sum(result.records for result in results),
            interrupted_runs_closed=closed,
            pid=os.getpid(),
            duration_ms=round((time.perf_counter() - clock) * 1000),
        )

    def run_finish(self) -> None:
        """The finishing actor: derived data, data version and alerts, once for many streams.

        The marker is cleared before the work starts, so streams that finish meanwhile queue
        another finishing job; the lock keeps two finishing jobs from overlapping.
        """
        store = self.store
        if store is None:
            raise RuntimeError("JobQueue.attach_store() was not called in this worker")
        clock = time.perf_counter()
        lock_dir = self.settings.data_dir / "locks"
        source, stream = ROUND_LOCK
        with stream_lock(store, source=source, stream=stream, lock_dir=lock_dir) as held:
            if not held:
                raise Retry("another worker is finishing a sync round")
            self.redis.delete(self.round_key)
            sources = sorted(
                member.decode() if isinstance(member, bytes) else str(member)
                for member in self.redis.spop(self.round_sources_key, 10_000) or []
            )
            finish_round(store, now=self.settings.now, sources=sources)
        log.info(
            "sync round finished",
            sources=len(sources),
            pid=os.getpid(),
            duration_ms=round((time.perf_counter() - clock) * 1000),
        )


def worker_database_url(settings: Settings, *, role: str) -> str:
    """The store URL with `application_name=cto-<role>-<pid>` on PostgreSQL (seen in pg_stat_activity)."""
    url = make_url(settings.effective_database_url)
    if url.get_backend_name() != "postgresql":
        return settings.effective_database_url
    named = url.update_query_dict({"application_name": f"cto-{role}-{os.getpid()}"})
    return named.render_as_string(hide_password=False)


__all__ = [
    "ACTOR_NAME",
    "QUEUE_NAME",
    "EnqueueReport",
    "JobQueue",
    "worker_database_url",
]
