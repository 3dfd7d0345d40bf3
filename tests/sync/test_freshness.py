"""Freshness per source from the run log."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from cto_assistant.errors import AuthError
from cto_assistant.store import Store
from cto_assistant.sync.engine import SyncEngine
from cto_assistant.sync.freshness import format_age, source_status
from tests.sync.fakes import FakeConnector

T0 = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)


def at(moment: datetime) -> Callable[[], datetime]:
    """A clock stopped at `moment`."""
    return lambda: moment


def test_synced_source_is_ok_with_age_from_its_stalest_stream(any_store: Store) -> None:
    SyncEngine(any_store, [FakeConnector.named("jira")], now=at(T0)).run(streams=["teams"])
    SyncEngine(any_store, [FakeConnector.named("jira")], now=at(T0 + timedelta(minutes=20))).run(
        streams=["people"]
    )

    with any_store.session() as session:
        [status] = source_status(session, now=T0 + timedelta(hours=1))

    assert status.source == "jira"
    assert status.state == "ok"
    assert status.as_of == T0
    assert status.last_success_at == T0 + timedelta(minutes=20)
    assert status.age_seconds == 3600
    assert status.records == 12
    assert status.last_error is None
    assert [s.stream for s in status.streams] == ["people", "teams"]
    teams = status.streams[1]
    assert (teams.last_status, teams.records, teams.cursor, teams.running) == (
        "success",
        10,
        "10",
        False,
    )


def test_a_failing_stream_degrades_its_source_and_reports_the_error(any_store: Store) -> None:
    SyncEngine(any_store, [FakeConnector.named("jira")], now=at(T0)).run()
    broken = FakeConnector.named("jira")
    broken.fail("teams", after=0, error=AuthError("jira", "HTTP 401 on /myself"))
    SyncEngine(any_store, [broken], now=at(T0 + timedelta(hours=1))).run()

    with any_store.session() as session:
        [status] = source_status(session, now=T0 + timedelta(hours=2))

    assert status.state == "degraded"
    assert (status.last_error_kind, status.last_error_stream) == ("auth", "teams")
    assert "HTTP 401" in (status.last_error or "")
    assert status.as_of == T0  # teams last succeeded at T0
    teams = next(s for s in status.streams if s.stream == "teams")
    assert (teams.last_status, teams.last_success_at, teams.records) == ("failed", T0, 10)


def test_configured_sources_come_first_even_when_never_synced(any_store: Store) -> None:
    SyncEngine(any_store, [FakeConnector.named("old")], now=at(T0)).run()
    with any_store.session() as session:
        statuses = source_status(
            session, configured=["jira", "github"], now=T0, stale_after=timedelta(hours=1)
        )
        only = source_status(session, configured=["jira"], only_configured=True, now=T0)

    assert [(s.source, s.state, s.stale) for s in statuses] == [
        ("jira", "never_synced", True),
        ("github", "never_synced", True),
        ("old", "ok", False),
    ]
    assert statuses[0].age_seconds is None
    assert [s.source for s in only] == ["jira"]


def test_all_streams_failing_is_failing_and_stale(any_store: Store) -> None:
    broken = FakeConnector.named("pd", fail_stream="teams")
    SyncEngine(any_store, [broken], now=at(T0)).run(streams=["teams"])
    with any_store.session() as session:
        [status] = source_status(session, now=T0, stale_after=timedelta(minutes=60))
    assert (status.state, status.stale, status.last_error_kind) == ("failing", True, "upstream")


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (None, "never"),
        (0, "0s"),
        (59, "59s"),
        (60, "1m"),
        (3599, "59m"),
        (3660, "1h 01m"),
        (86400 + 7200, "1d 2h"),
    ],
)
def test_format_age(seconds: float | None, shown: str) -> None:
    assert format_age(seconds) == shown
