"""The in-process scheduler: runs on an interval, one run per source at a time."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from cto_assistant.settings import Settings
from cto_assistant.store import Store
from cto_assistant.sync.engine import SyncEngine
from cto_assistant.sync.scheduler import SyncScheduler, build_scheduler
from tests.sync.fakes import FakeConnector


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll until `condition()` is true."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


def test_runs_every_interval_until_stopped(sqlite_store: Store) -> None:
    connector = FakeConnector.named()
    scheduler = SyncScheduler(SyncEngine(sqlite_store, [connector]), interval_seconds=0.05)
    scheduler.start()
    scheduler.start()  # idempotent
    wait_for(lambda: scheduler.ticks >= 2)
    scheduler.stop()

    assert not scheduler.running
    assert len(connector.since_seen) >= 4  # two streams per tick
    assert connector.since_seen[:2] == [None, None]


def test_a_busy_source_is_skipped_not_run_twice(sqlite_store: Store) -> None:
    slow = FakeConnector.named("slow")
    other = FakeConnector.named("other")
    entered, release = threading.Event(), threading.Event()

    def block() -> None:
        entered.set()
        release.wait(10)

    slow.after_each = block
    scheduler = SyncScheduler(SyncEngine(sqlite_store, [slow, other]), interval_seconds=3600)
    worker = threading.Thread(target=scheduler.run_now, args=(["slow"],))
    worker.start()
    entered.wait(10)
    try:
        assert scheduler.is_busy("slow")
        assert scheduler.run_now(["slow"]) == []  # skipped while the first run holds the lock
        assert {r.source for r in scheduler.run_now(["other"])} == {"other"}
    finally:
        slow.after_each = None
        release.set()
        worker.join(10)
    assert not scheduler.is_busy("slow")
    assert len(scheduler.run_now(["slow"])) == 2


def test_close_stops_and_closes_connectors(sqlite_store: Store) -> None:
    connector = FakeConnector.named()
    scheduler = SyncScheduler(
        SyncEngine(sqlite_store, [connector]), interval_seconds=3600, run_immediately=False
    )
    scheduler.start()
    scheduler.close()
    assert connector.closed and not scheduler.running
    assert connector.since_seen == []


def test_build_scheduler_is_off_without_interval_or_sources(
    sqlite_store: Store, tmp_path: Path
) -> None:
    assert build_scheduler(Settings(data_dir=tmp_path, sources={}), sqlite_store) is None
    generic = {"generic": {"kind": "generic"}}
    off = Settings(data_dir=tmp_path, sync_interval_minutes=0, sources=generic)
    assert build_scheduler(off, sqlite_store) is None
    on = build_scheduler(Settings(data_dir=tmp_path, sources=generic), sqlite_store)
    assert on is not None and on.interval_seconds == 30 * 60


def test_interval_must_be_positive(sqlite_store: Store) -> None:
    with pytest.raises(ValueError, match="positive"):
        SyncScheduler(SyncEngine(sqlite_store, []), interval_seconds=0)
