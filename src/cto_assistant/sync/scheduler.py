"""An in-process scheduler for `cto serve`: sync every source on an interval, one run per source.

    scheduler = build_scheduler(settings, store)      # None when the interval is 0 or no source
    scheduler.start()                                  # background thread, first run right away
    ...
    scheduler.run_now(["jira"])                        # e.g. a "sync now" button; skips busy sources
    scheduler.close()                                  # stop, then close the connectors

A lock per source guarantees that two runs of the same source never overlap, whichever thread
asks (the timer or a request handler); a busy source is skipped, not queued.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import datetime

from cto_assistant.connectors.registry import configured_connectors
from cto_assistant.errors import ConfigError
from cto_assistant.logging import get_logger
from cto_assistant.reports.schedule import run_weekly_if_due
from cto_assistant.settings import Settings
from cto_assistant.store.db import Store, utcnow
from cto_assistant.sync.engine import StreamRunResult, SyncEngine

log = get_logger("sync.scheduler")


class SyncScheduler:
    """Runs a SyncEngine every `interval_seconds` in a daemon thread."""

    def __init__(
        self,
        engine: SyncEngine,
        *,
        interval_seconds: float,
        run_immediately: bool = True,
        on_results: Callable[[list[StreamRunResult]], None] | None = None,
        after_tick: Callable[[], object] | None = None,
    ) -> None:
        if interval_seconds <= 0:
            raise ValueError("interval_seconds must be positive")
        self.engine = engine
        self.interval_seconds = interval_seconds
        self.run_immediately = run_immediately
        self.on_results = on_results
        self.after_tick = after_tick  # e.g. the weekly report, once the tick's syncs are done
        self._locks = {name: threading.Lock() for name in engine.source_names}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_tick_at: datetime | None = None
        self.ticks = 0

    @property
    def running(self) -> bool:
        """Whether the background thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the background thread (idempotent)."""
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="cto-sync", daemon=True)
        self._thread.start()
        log.info(
            "scheduler started",
            interval_s=self.interval_seconds,
            sources=",".join(self.engine.source_names),
        )

    def stop(self, timeout: float | None = 30.0) -> None:
        """Ask the thread to stop after the current source and wait for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("scheduler still finishing a run", timeout_s=timeout)
        self._thread = None

    def close(self) -> None:
        """Stop the thread and release every connector's clients."""
        self.stop()
        for connector in self.engine.connectors:
            connector.close()

    def _loop(self) -> None:
        if not self.run_immediately and self._stop.wait(self.interval_seconds):
            return
        while not self._stop.is_set():
            self.run_now()
            if self.after_tick is not None and not self._stop.is_set():
                self.after_tick()
            if self._stop.wait(self.interval_seconds):
                return

    def run_now(self, sources: Iterable[str] | None = None) -> list[StreamRunResult]:
        """Run the given sources (default all) now, skipping any that is already running."""
        names = list(sources) if sources is not None else self.engine.source_names
        results: list[StreamRunResult] = []
        for name in names:
            if self._stop.is_set() and threading.current_thread() is self._thread:
                break
            lock = self._locks.get(name)
            if lock is None:
                raise ConfigError("sources", f"no source named {name}")
            if not lock.acquire(blocking=False):
                log.info("sync skipped: source already running", source=name)
                continue
            try:
                results.extend(self.engine.run([name]))
            finally:
                lock.release()
        self.ticks += 1
        self.last_tick_at = utcnow()
        if self.on_results is not None and results:
            self.on_results(results)
        return results

    def is_busy(self, source: str) -> bool:
        """Whether a run of `source` is in progress."""
        lock = self._locks.get(source)
        return lock is not None and lock.locked()


def build_scheduler(
    settings: Settings, store: Store, *, run_immediately: bool = True
) -> SyncScheduler | None:
    """The scheduler `cto serve` starts; None when syncing is off or no source is configured.

    Also None when a job queue is configured: then `cto scheduler` enqueues and workers sync.
    """
    if settings.sync_interval_minutes <= 0 or not settings.sources:
        return None
    if settings.queue_url:
        log.info("in-process scheduler off: sync jobs go through the queue")
        return None

    def report(name: str, exc: ConfigError) -> None:
        """Log a source that cannot be built; the others still run."""
        log.error("source not scheduled: bad config", source=name, error=str(exc))

    connectors = configured_connectors(settings, on_error=report)
    if not connectors:
        return None
    engine = SyncEngine(store, connectors, now=settings.now, lock_dir=settings.data_dir / "locks")
    return SyncScheduler(
        engine,
        interval_seconds=settings.sync_interval_minutes * 60,
        run_immediately=run_immediately,
        after_tick=lambda: run_weekly_if_due(store, settings),
    )


__all__ = ["SyncScheduler", "build_scheduler"]
