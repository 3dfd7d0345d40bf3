"""The sync engine against real stores (SQLite and PostgreSQL) with a fake connector."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from cto_assistant.connectors.base import Connector, Record, Stream
from cto_assistant.errors import (
    AuthError,
    ConfigError,
    RateLimitedError,
    SchemaDriftError,
    UpstreamError,
)
from cto_assistant.logging import register_secret
from cto_assistant.store import Store
from cto_assistant.store.lead_time_facts import stale_deployments
from cto_assistant.store.models import Person, SyncCursor, SyncRun, Team
from cto_assistant.store.queries.engineering import deployment_changes
from cto_assistant.sync.engine import (
    INTERRUPTED,
    StreamRunResult,
    SyncEngine,
    error_kind,
    finish_round,
    load_cursor,
    reset_cursors,
)
from cto_assistant.sync.locks import stream_lock
from tests.sync.fakes import Crash, FakeConnector, FakeVendor


class Clock:
    """A pinned clock that ticks one second per read."""

    def __init__(self) -> None:
        self.moment = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.moment += timedelta(seconds=1)
        return self.moment


def teams(store: Store, source: str = "fake") -> dict[str, str]:
    """source_id → name of the stored teams."""
    with store.session() as session:
        rows = session.execute(sa.select(Team.source_id, Team.name).where(Team.source == source))
        return {source_id: name for source_id, name in rows}


def cursor(store: Store, stream: str = "teams", source: str = "fake") -> str | None:
    """The stored cursor."""
    with store.session() as session:
        return load_cursor(session, source=source, stream=stream)


def runs(store: Store) -> list[SyncRun]:
    """Every sync_run row, oldest first."""
    with store.session() as session:
        return list(session.scalars(sa.select(SyncRun).order_by(SyncRun.id)))


def test_full_sync_writes_every_record_and_logs_the_run(any_store: Store) -> None:
    connector = FakeConnector.named(items=10)
    results = SyncEngine(any_store, [connector], now=Clock()).run()

    assert [(r.stream, r.status, r.records) for r in results] == [
        ("teams", "success", 10),
        ("people", "success", 2),
    ]
    assert len(teams(any_store)) == 10
    assert cursor(any_store) == "10"
    logged = runs(any_store)
    assert [(r.stream, r.status, r.records, r.pages, r.requests) for r in logged] == [
        ("teams", "success", 10, 3, 3),
        ("people", "success", 2, 1, 1),
    ]
    assert all(r.finished_at and r.finished_at > r.started_at for r in logged)
    assert all(r.error is None and r.error_kind is None for r in logged)


def test_cursor_moves_only_after_commit(any_store: Store) -> None:
    connector = FakeConnector.named(items=11, page_size=4)
    vendor = connector.vendor
    seen_cursors: list[str | None] = []

    def cursor_never_passes_uncommitted_rows() -> None:
        stored = cursor(any_store)
        seen_cursors.append(stored)
        committed = teams(any_store)
        covered = [
            key for key, t in vendor.teams.items() if int(str(t["updated"])) <= int(stored or 0)
        ]
        assert set(covered) <= set(committed), "cursor is ahead of committed rows"

    connector.after_each = cursor_never_passes_uncommitted_rows
    SyncEngine(any_store, [connector], batch_size=3).run(streams=["teams"])

    assert seen_cursors[0] is None
    assert {c for c in seen_cursors if c} == {"4", "8"}  # moved at page ends only
    assert cursor(any_store) == "11"


def test_failure_mid_stream_keeps_committed_batches_and_old_cursor(any_store: Store) -> None:
    connector = FakeConnector.named(items=12, page_size=4)
    connector.fail("teams", after=10, error=UpstreamError("fake", "HTTP 503 after 5 attempts"))

    [result] = SyncEngine(any_store, [connector], batch_size=1000).run(streams=["teams"])

    assert result.status == "failed"
    assert result.error_kind == "upstream"
    assert "HTTP 503" in (result.error or "")
    assert result.records == 8  # two whole pages were committed with their checkpoints
    assert sorted(teams(any_store)) == [f"T{n:03d}" for n in range(1, 9)]
    assert cursor(any_store) == "8"
    [logged] = runs(any_store)
    assert (logged.status, logged.records, logged.error_kind) == ("failed", 8, "upstream")


def test_small_batches_commit_rows_but_not_the_cursor_past_them(any_store: Store) -> None:
    connector = FakeConnector.named(items=12, page_size=6)
    connector.fail("teams", after=9, error=SchemaDriftError("fake", "no 'name'", field="name"))

    [result] = SyncEngine(any_store, [connector], batch_size=2).run(streams=["teams"])

    assert result.error_kind == "schema_drift"
    # Rows 7-8 of the unfinished page were committed by a batch, but the cursor stays at 6.
    assert len(teams(any_store)) == 8
    assert cursor(any_store) == "6"


def test_rerun_after_a_crash_ends_with_the_rows_of_one_clean_run(
    any_store: Store, tmp_path: Any
) -> None:
    crashed = FakeConnector.named(items=13, page_size=5)
    crashed.fail("teams", after=7, error=Crash())
    with pytest.raises(Crash):
        SyncEngine(any_store, [crashed], batch_size=3).run()
    assert 0 < len(teams(any_store)) < 13

    again = FakeConnector.named(items=13, page_size=5)
    SyncEngine(any_store, [again], batch_size=3).run()

    clean = FakeConnector.named(items=13, page_size=5)
    expected = {key: str(t["name"]) for key, t in clean.vendor.teams.items()}
    assert teams(any_store) == expected
    with any_store.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Team)) == 13
        assert session.scalar(sa.select(sa.func.count()).select_from(Person)) == 2
    assert again.since_seen[0] == "5"  # resumed from the last committed checkpoint
    crashed_run = runs(any_store)[0]
    assert (crashed_run.status, crashed_run.error_kind) == ("failed", "other")


def test_failing_stream_is_isolated_and_both_are_logged(any_store: Store) -> None:
    broken = FakeConnector.named("jira", items=3)
    broken.fail("teams", after=0, error=AuthError("jira", "HTTP 401 on /rest/api/3/myself"))
    healthy = FakeConnector.named("github", items=3)

    results = SyncEngine(any_store, [broken, healthy]).run()

    outcome = {(r.source, r.stream): (r.status, r.error_kind) for r in results}
    assert outcome == {
        ("jira", "teams"): ("failed", "auth"),
        ("jira", "people"): ("success", None),
        ("github", "teams"): ("success", None),
        ("github", "people"): ("success", None),
    }
    logged = {(r.source, r.stream): (r.status, r.error_kind) for r in runs(any_store)}
    assert logged == outcome
    assert len(teams(any_store, "github")) == 3
    assert teams(any_store, "jira") == {}


def test_second_run_with_nothing_new_pulls_no_records(any_store: Store) -> None:
    vendor = FakeVendor.seeded(9)
    engine = SyncEngine(any_store, [FakeConnector.named(vendor=vendor)])
    engine.run(streams=["teams"])

    connector = FakeConnector.named(vendor=vendor)
    [result] = SyncEngine(any_store, [connector]).run(streams=["teams"])

    assert (result.status, result.records, result.requests) == ("success", 0, 1)
    assert connector.since_seen == ["9"]
    assert cursor(any_store) == "9"
    assert not result.cursor_moved


def test_incremental_run_pulls_only_changes(any_store: Store) -> None:
    vendor = FakeVendor.seeded(6)
    SyncEngine(any_store, [FakeConnector.named(vendor=vendor)]).run(streams=["teams"])
    vendor.put_team("T002", "Payments")
    vendor.put_team("T099", "Brand new")

    [result] = SyncEngine(any_store, [FakeConnector.named(vendor=vendor)]).run(streams=["teams"])

    assert result.records == 2
    stored = teams(any_store)
    assert (stored["T002"], stored["T099"], len(stored)) == ("Payments", "Brand new", 7)
    assert cursor(any_store) == "8"


def test_full_refresh_ignores_the_cursor(any_store: Store) -> None:
    vendor = FakeVendor.seeded(5)
    SyncEngine(any_store, [FakeConnector.named(vendor=vendor)]).run(streams=["teams"])
    connector = FakeConnector.named(vendor=vendor)

    [result] = SyncEngine(any_store, [connector]).run(streams=["teams"], full_refresh=True)

    assert connector.since_seen == [None]
    assert result.records == 5


def test_non_incremental_stream_is_always_pulled_whole(any_store: Store) -> None:
    connector = FakeConnector.named()
    engine = SyncEngine(any_store, [connector])
    engine.run(streams=["fake/people"])
    engine.run(streams=["people"])
    assert connector.since_seen == [None, None]


def test_reset_cursors_makes_the_next_run_pull_everything(any_store: Store) -> None:
    vendor = FakeVendor.seeded(3)
    SyncEngine(any_store, [FakeConnector.named(vendor=vendor)]).run()
    with any_store.session() as session:
        assert reset_cursors(session, source="fake") == 1
    connector = FakeConnector.named(vendor=vendor)
    SyncEngine(any_store, [connector]).run(streams=["teams"])
    assert connector.since_seen == [None]


class _StrayConnector(Connector):
    kind = "stray"
    streams = (Stream("teams", tables=("team",)),)

    def pull_teams(self, since: str | None) -> Any:
        yield self.record("person", "p1", name="Ada", email="ada@example.com")


def test_a_record_for_an_undeclared_table_fails_the_stream(any_store: Store) -> None:
    stray = _StrayConnector(FakeConnector.named("stray").context)
    [result] = SyncEngine(any_store, [stray]).run()
    assert result.status == "failed"
    assert "declares tables team" in (result.error or "")
    with any_store.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Person)) == 0


def test_a_record_of_another_source_fails_the_stream(any_store: Store) -> None:
    class Impostor(FakeConnector):
        def pull_people(self, since: str | None) -> Any:
            yield Record(
                "person",
                {"source": "github", "source_id": "x", "name": "X", "email": "x@example.com"},
            )

    impostor = Impostor.named()
    [result] = SyncEngine(any_store, [impostor]).run(streams=["people"])
    assert result.status == "failed"
    assert "expected 'fake'" in (result.error or "")


def test_stream_filter_and_unknown_source(any_store: Store) -> None:
    engine = SyncEngine(any_store, [FakeConnector.named("a"), FakeConnector.named("b")])
    results = engine.run(sources=["b"], streams=["b/teams", "nope"])
    assert [(r.source, r.stream) for r in results] == [("b", "teams")]
    with pytest.raises(ConfigError, match="no source named zzz"):
        engine.run(sources=["zzz"])


def test_bad_streams_setting_is_recorded_as_a_config_failure(any_store: Store) -> None:
    connector = FakeConnector.named(streams=["teams", "tickets"])
    [result] = SyncEngine(any_store, [connector]).run()
    assert (result.stream, result.status, result.error_kind) == ("*", "failed", "config")
    assert "tickets" in (result.error or "")


def test_error_text_never_carries_a_registered_secret(any_store: Store) -> None:
    secret = "s3cr3t-token-value-123"
    register_secret(secret)
    connector = FakeConnector.named()
    connector.fail("teams", after=0, error=UpstreamError("fake", f"bad header {secret}"))
    [result, _] = SyncEngine(any_store, [connector]).run()
    assert secret not in (result.error or "")
    assert secret not in (runs(any_store)[0].error or "")


class _Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, ...]] = []

    def stream_started(self, source: str, stream: str) -> None:
        self.events.append(("start", source, stream))

    def stream_advanced(self, source: str, stream: str, *, records: int, pages: int) -> None:
        self.events.append(("advance", stream, str(records)))

    def stream_finished(self, result: StreamRunResult) -> None:
        self.events.append(("finish", result.stream, result.status))


def test_progress_hears_every_stream(any_store: Store) -> None:
    recorder = _Recorder()
    SyncEngine(any_store, [FakeConnector.named(items=5)], progress=recorder).run()
    assert recorder.events[0] == ("start", "fake", "teams")
    assert ("advance", "teams", "5") in recorder.events
    assert ("finish", "teams", "success") in recorder.events
    assert recorder.events[-1] == ("finish", "people", "success")


def test_cursor_row_is_one_per_stream(any_store: Store) -> None:
    vendor = FakeVendor.seeded(4)
    for _ in range(3):
        vendor.put_team("T001", "again")
        SyncEngine(any_store, [FakeConnector.named(vendor=vendor)]).run()
    with any_store.session() as session:
        rows = session.execute(sa.select(SyncCursor.stream, SyncCursor.cursor)).all()
    assert [tuple(row) for row in rows] == [("teams", "7")]


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (AuthError("s", "401"), "auth"),
        (RateLimitedError("s", "429", retry_after=3.0), "rate_limited"),
        (UpstreamError("s", "503"), "upstream"),
        (SchemaDriftError("s", "drift"), "schema_drift"),
        (ConfigError("sources.s.x", "bad"), "config"),
        (KeyError("x"), "other"),
    ],
)
def test_error_kind_classifies_the_tree(error: BaseException, kind: str) -> None:
    assert error_kind(error) == kind


def test_a_finished_run_is_published_to_the_dashboard(
    sqlite_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = pytest.importorskip("cto_assistant.web.events")
    published: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(events, "publish", lambda name, data: published.append((name, data)))
    SyncEngine(sqlite_store, [FakeConnector.named()]).run()
    assert published == [("sync_finished", {"kind": "sync", "sources": ["fake"]})]


def test_a_mapper_tripping_on_an_unexpected_shape_is_recorded_as_schema_drift(
    sqlite_store: Store,
) -> None:
    from cto_assistant.connectors.base import Connector, ConnectorConfig, ConnectorContext, Stream

    class Brittle(Connector):
        kind = "brittle"
        streams = (Stream("items", tables=("incident",)),)

        def pull_items(self, since: str | None):  # type: ignore[no-untyped-def]
            payload: dict[str, object] = {"title": None}
            yield self.record("incident", "1", title=payload["title"].upper())  # type: ignore[union-attr]

    config = ConnectorConfig(kind="brittle", base_url="http://unused")
    [result] = SyncEngine(
        sqlite_store, [Brittle(ConnectorContext(name="brittle", config=config))]
    ).run()
    assert result.status == "failed"
    assert result.error_kind == "schema_drift"
    assert "AttributeError" in (result.error or "")


def test_a_run_left_running_by_a_dead_process_is_closed_by_the_next_sync(
    any_store: Store, tmp_path: Any
) -> None:
    """kill -9 leaves a "running" row; the next engine holding the stream's lock closes it."""
    with any_store.session() as session:
        session.add(SyncRun(source="fake", stream="teams", started_at=Clock()(), status="running"))
    SyncEngine(any_store, [FakeConnector.named(items=3)], lock_dir=tmp_path / "locks").run()

    logged = runs(any_store)
    assert [(r.stream, r.status) for r in logged] == [
        ("teams", "failed"),
        ("teams", "success"),
        ("people", "success"),
    ]
    assert logged[0].error == INTERRUPTED and logged[0].finished_at is not None


def test_a_stream_another_process_is_syncing_is_skipped_not_run_twice(
    any_store: Store, tmp_path: Any
) -> None:
    """While another holder has the teams lock, the engine runs only the other streams."""
    lock_dir = tmp_path / "locks"
    with any_store.session() as session:
        session.add(SyncRun(source="fake", stream="teams", started_at=Clock()(), status="running"))
    with stream_lock(any_store, source="fake", stream="teams", lock_dir=lock_dir) as held:
        assert held
        results = SyncEngine(any_store, [FakeConnector.named(items=3)], lock_dir=lock_dir).run()
    assert [r.stream for r in results] == ["people"]
    assert teams(any_store) == {}
    assert [r.status for r in runs(any_store) if r.stream == "teams"] == ["running"]  # not ours


class _DeliveryConnector(Connector):
    """A deployment with the commits it shipped, and the commits' stream, which may lag."""

    kind = "delivery"
    streams = (
        Stream("deployments", tables=("deployment", "deployment_change")),
        Stream("commits", tables=("commit",)),
    )
    shipped = ("a1", "a2")
    finished = datetime(2025, 4, 30, 12, tzinfo=UTC)

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        self.commits: dict[str, datetime] = {}

    def pull_deployments(self, since: str | None) -> Any:
        yield self.record(
            "deployment", "d1", service="api", environment="production", status="success",
            finished_at=self.finished,
        )  # fmt: skip
        for sha in self.shipped:
            yield self.record(
                "deployment_change", f"d1:{sha}", deployment_source_id="d1", repo="acme/api",
                sha=sha,
            )  # fmt: skip

    def pull_commits(self, since: str | None) -> Any:
        for sha, authored in self.commits.items():
            yield self.record("commit", sha, sha=sha, repo="acme/api", authored_at=authored)


def lead_time_starts(store: Store) -> dict[str, datetime | None]:
    """sha → first commit time of each change deployment d1 carried."""
    with store.session() as session:
        rows = deployment_changes(session=session, deployment_ids=["d1"])
        return {row.sha: row.first_commit_at for row in rows}


def stale_deployment_ids(store: Store) -> set[str]:
    with store.session() as session:
        return set(session.scalars(stale_deployments()))


def test_a_round_computes_lead_time_facts_and_a_later_commit_refreshes_them(
    any_store: Store,
) -> None:
    clock = Clock()
    connector = _DeliveryConnector(FakeConnector.named("ci").context)
    connector.commits = {"a1": connector.finished - timedelta(hours=30)}
    SyncEngine(any_store, [connector], now=clock).run()
    assert stale_deployment_ids(any_store) == set()
    assert lead_time_starts(any_store) == {
        "a1": connector.finished - timedelta(hours=30),
        "a2": None,
    }

    connector.commits["a2"] = connector.finished - timedelta(hours=40)  # synced a round later
    queue_mode = SyncEngine(any_store, [connector], now=clock, finish_rounds=False)
    queue_mode.run(streams=["commits"])
    assert stale_deployment_ids(any_store) == {"d1"}  # until the round's finishing job
    later = {
        "a1": connector.finished - timedelta(hours=30),
        "a2": connector.finished - timedelta(hours=40),
    }
    assert lead_time_starts(any_store) == later  # exact meanwhile, computed live
    finish_round(any_store, now=clock, sources=["ci"])
    assert stale_deployment_ids(any_store) == set()
    assert lead_time_starts(any_store) == later
