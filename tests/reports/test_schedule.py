"""The scheduled weekly brief: due time, once per ISO week, e-mail, and both schedulers' hooks."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from cto_assistant.errors import ConfigError
from cto_assistant.reports import schedule
from cto_assistant.reports.schedule import (
    WeeklyReportConfig,
    due_at,
    run_weekly_if_due,
    week_bounds,
    weekly_config,
)
from cto_assistant.settings import Settings
from cto_assistant.store import Store
from cto_assistant.store.models import Report
from cto_assistant.sync.scheduler import SyncScheduler
from cto_assistant.watch.config import watch_config
from tests.watch.receivers import smtp_sink
from tests.web.helpers import make_settings

MONDAY_0600 = datetime(2025, 6, 16, 6, 0, tzinfo=UTC)  # ISO week 2025-W25
MONDAY_0700 = datetime(2025, 6, 16, 7, 0, tzinfo=UTC)
SUNDAY_2359 = datetime(2025, 6, 22, 23, 59, tzinfo=UTC)
NEXT_MONDAY_0800 = datetime(2025, 6, 23, 8, 0, tzinfo=UTC)


def pinned(tmp_path: Path, at: datetime, **weekly: Any) -> Settings:
    """Settings whose clock is pinned at `at`, with `[watch.weekly_report]` = `weekly`."""
    watch = {"weekly_report": weekly} if weekly else {}
    return make_settings(tmp_path, clock=at, watch=watch)


def stored(store: Store) -> list[Report]:
    with store.session() as session:
        return list(session.scalars(sa.select(Report).order_by(Report.id)))


def test_defaults_and_validation(tmp_path: Path) -> None:
    assert weekly_config(make_settings(tmp_path)) == WeeklyReportConfig()
    settings = pinned(tmp_path, MONDAY_0600, weekday="friday", hour=16, email=False)
    assert weekly_config(settings).weekday == "friday"
    watch_config(settings)  # the [watch] section accepts the weekly_report table
    with pytest.raises(ConfigError, match="watch.weekly_report.hour"):
        weekly_config(pinned(tmp_path, MONDAY_0600, hour=24))
    with pytest.raises(ConfigError, match="watch.weekly_report.when"):
        weekly_config(pinned(tmp_path, MONDAY_0600, when="soon"))


def test_due_time_within_the_iso_week() -> None:
    start, end = week_bounds(SUNDAY_2359)
    assert (start, end) == (datetime(2025, 6, 16, tzinfo=UTC), datetime(2025, 6, 23, tzinfo=UTC))
    assert due_at(SUNDAY_2359, WeeklyReportConfig()) == MONDAY_0700
    friday = WeeklyReportConfig(weekday="friday", hour=16)
    assert due_at(MONDAY_0600, friday) == datetime(2025, 6, 20, 16, tzinfo=UTC)


def test_runs_once_per_iso_week_with_a_pinned_clock(tmp_path: Path, sqlite_store: Store) -> None:
    assert run_weekly_if_due(sqlite_store, pinned(tmp_path, MONDAY_0600)) is None  # not due
    assert stored(sqlite_store) == []

    first = run_weekly_if_due(sqlite_store, pinned(tmp_path, MONDAY_0700))
    assert first is not None and first.kind == "weekly"
    assert first.created_at == MONDAY_0700 and first.period_end.isoformat() == "2025-06-16"

    # later ticks of the same week (or a second process) find it and skip
    assert run_weekly_if_due(sqlite_store, pinned(tmp_path, MONDAY_0700)) is None
    assert run_weekly_if_due(sqlite_store, pinned(tmp_path, SUNDAY_2359)) is None
    assert len(stored(sqlite_store)) == 1

    # a late tick next week catches up
    second = run_weekly_if_due(sqlite_store, pinned(tmp_path, NEXT_MONDAY_0800))
    assert second is not None and second.created_at == NEXT_MONDAY_0800
    assert [r.id for r in stored(sqlite_store)] == [first.id, second.id]


def test_a_report_written_earlier_in_the_week_counts(tmp_path: Path, sqlite_store: Store) -> None:
    schedule.generate_report(sqlite_store, pinned(tmp_path, MONDAY_0600))  # "Generate now"
    assert run_weekly_if_due(sqlite_store, pinned(tmp_path, MONDAY_0700)) is None
    assert len(stored(sqlite_store)) == 1


def test_disabled_schedule_writes_nothing(tmp_path: Path, sqlite_store: Store) -> None:
    settings = pinned(tmp_path, SUNDAY_2359, enabled=False)
    assert run_weekly_if_due(sqlite_store, settings) is None
    assert stored(sqlite_store) == []


def test_a_failing_report_never_breaks_the_tick(
    tmp_path: Path, sqlite_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("renderer down")

    monkeypatch.setattr(schedule, "generate_report", boom)
    assert run_weekly_if_due(sqlite_store, pinned(tmp_path, MONDAY_0700)) is None
    assert run_weekly_if_due(sqlite_store, pinned(tmp_path, MONDAY_0700, hour=99)) is None


def test_emailed_when_watch_email_is_configured(tmp_path: Path, sqlite_store: Store) -> None:
    with smtp_sink() as sink:
        settings = make_settings(
            tmp_path,
            clock=MONDAY_0700,
            watch={"email": {"host": "127.0.0.1", "port": sink.port, "to": ["cto@acme.test"]}},
        )
        report = run_weekly_if_due(sqlite_store, settings)
    assert report is not None
    assert len(sink.messages) == 1 and sink.recipients[0] == ["cto@acme.test"]
    message = sink.messages[0]
    assert "Weekly engineering brief" in str(message["Subject"]).replace("\r\n", "")
    names = [part.get_filename() for part in message.walk() if part.get_filename()]
    assert names == ["weekly-brief-2025-06-16.pdf"]


def test_no_email_when_turned_off_or_unconfigured(
    tmp_path: Path, sqlite_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[int] = []
    monkeypatch.setattr(
        "cto_assistant.reports.mail.email_report", lambda report, _s: sent.append(report.id)
    )
    assert run_weekly_if_due(sqlite_store, pinned(tmp_path, MONDAY_0700)) is not None
    settings = make_settings(
        tmp_path,
        clock=NEXT_MONDAY_0800,
        watch={"weekly_report": {"email": False}, "email": {"host": "h", "to": ["a@b.test"]}},
    )
    assert run_weekly_if_due(sqlite_store, settings) is not None
    assert sent == []


class _NoSources:
    """A SyncEngine stand-in with nothing to sync."""

    source_names: list[str] = []
    connectors: list[Any] = []

    def run(self, _names: list[str]) -> list[Any]:
        return []


def test_embedded_scheduler_runs_the_hook_after_each_tick() -> None:
    ticked = threading.Event()
    scheduler = SyncScheduler(
        _NoSources(),  # type: ignore[arg-type]
        interval_seconds=3600,
        after_tick=ticked.set,
    )
    scheduler.start()
    try:
        assert ticked.wait(5)
    finally:
        scheduler.close()
    assert scheduler.ticks == 1


def test_build_scheduler_wires_the_weekly_report(
    tmp_path: Path, sqlite_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cto_assistant.sync import scheduler as scheduler_module

    monkeypatch.setattr(scheduler_module, "configured_connectors", lambda *_a, **_k: [object()])
    monkeypatch.setattr(scheduler_module, "SyncEngine", lambda *_a, **_k: _NoSources())
    settings = make_settings(
        tmp_path, clock=MONDAY_0700, sources={"jira": {"kind": "jira"}}, sync_interval_minutes=5
    )
    built = scheduler_module.build_scheduler(settings, sqlite_store)
    assert built is not None and built.after_tick is not None
    built.after_tick()
    built.after_tick()
    assert len(stored(sqlite_store)) == 1


def test_queue_scheduler_loop_runs_the_weekly_report(
    tmp_path: Path, sqlite_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cto_assistant.jobs import runner

    stop = threading.Event()

    class FakeQueue:
        def __init__(self, _settings: Settings) -> None:
            self.broker = self
            self.namespace = "test"

        def attach_store(self, _store: Store) -> None: ...

        def enqueue_sync(self) -> None:
            stop.set()  # one tick

        def close(self) -> None: ...

    class KeepOpen:
        def __getattr__(self, name: str) -> Any:
            return getattr(sqlite_store, name)

        def dispose(self) -> None: ...

    monkeypatch.setattr(runner, "JobQueue", FakeQueue)
    monkeypatch.setattr(runner, "open_store", lambda _url: KeepOpen())
    runner.run_scheduler(make_settings(tmp_path, clock=MONDAY_0700), stop=stop)
    assert len(stored(sqlite_store)) == 1
