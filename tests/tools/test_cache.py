"""The per-sync tool cache: reused until a sync or import commits, never for writes."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta

import pytest

from cto_assistant.settings import Settings
from cto_assistant.store import Store
from cto_assistant.store.db import upsert
from cto_assistant.store.rollup import bump_data_version
from cto_assistant.sync.engine import StreamRunResult, record_run
from cto_assistant.tools import operations  # noqa: F401  (registers the tools)
from cto_assistant.tools.base import REGISTRY, ToolContext, ToolResult, call_tool
from cto_assistant.tools.cache import ToolCache

NOW = datetime(2026, 3, 18, 12, tzinfo=UTC)


def cost(i: int, amount: float) -> dict[str, object]:
    return {
        "source": "aws", "source_id": f"c{i}", "day": date(2026, 3, 10), "provider": "aws",
        "service": "S3", "amortized_cost": amount, "unblended_cost": amount, "tags": {},
    }  # fmt: skip


def spend(store: Store, cache: ToolCache, now: datetime = NOW) -> float:
    with store.session() as session:
        ctx = ToolContext(session=session, settings=SETTINGS, now=now, cache=cache)
        result = call_tool("cloud_spend", ctx, {"start": "2026-03-01", "end": "2026-03-17"})
        return float(result.data["report"]["total"])


SETTINGS = Settings(demo=True)


def test_answers_are_reused_until_a_sync_commits(sqlite_store: Store) -> None:
    cache = ToolCache()
    with sqlite_store.session() as session:
        upsert(session, "cost_daily", [cost(1, 10.0)])
    assert spend(sqlite_store, cache) == 10.0
    with sqlite_store.session() as session:  # a write that no sync has committed yet
        upsert(session, "cost_daily", [cost(2, 5.0)])
    assert spend(sqlite_store, cache) == 10.0 and cache.hits == 1
    with sqlite_store.session() as session:  # the run log entry of an import bumps the version
        record_run(
            session,
            StreamRunResult(source="aws", stream="costs", status="success",
                            started_at=NOW, finished_at=NOW, records=1),
        )  # fmt: skip
    assert spend(sqlite_store, cache) == 15.0


def test_answers_live_max_age_and_the_data_version_is_part_of_the_key(
    sqlite_store: Store,
) -> None:
    cache = ToolCache(max_age_seconds=60)
    with sqlite_store.session() as session:
        upsert(session, "cost_daily", [cost(1, 10.0)])
    spend(sqlite_store, cache)
    spend(sqlite_store, cache, NOW + timedelta(seconds=59))
    assert cache.hits == 1
    spend(sqlite_store, cache, NOW - timedelta(seconds=1))  # never served to an earlier clock
    assert cache.hits == 1
    spend(sqlite_store, cache, NOW + timedelta(minutes=2))  # too old: computed again
    assert cache.hits == 1 and len(cache) == 1
    spend(sqlite_store, cache, NOW + timedelta(minutes=2, seconds=30))
    assert cache.hits == 2
    with sqlite_store.session() as session:
        bump_data_version(session)
    spend(sqlite_store, cache, NOW + timedelta(minutes=2, seconds=30))
    assert cache.hits == 2 and len(cache) == 2


def test_a_context_without_a_cache_always_reads_the_store(sqlite_store: Store) -> None:
    with sqlite_store.session() as session:
        upsert(session, "cost_daily", [cost(1, 10.0)])
        ctx = ToolContext(session=session, settings=SETTINGS, now=NOW)
        assert call_tool("cloud_spend", ctx, {}).status.value == "ok"
        upsert(session, "cost_daily", [cost(1, 20.0)])
        assert call_tool("cloud_spend", ctx, {}).data["report"]["total"] == 20.0


def test_writing_tools_and_unsynced_state_are_never_cached() -> None:
    from cto_assistant.tools.catalog import load_tools

    load_tools()
    assert not ToolCache.cacheable(REGISTRY["create_jira_ticket"])
    assert not ToolCache.cacheable(REGISTRY["alerts"])
    assert ToolCache.cacheable(REGISTRY["cloud_spend"])


def test_concurrent_askers_of_one_answer_compute_it_once(
    sqlite_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Eight threads ask a slow tool at once: one computes, seven wait and get its answer."""
    calls: list[str] = []
    spec = REGISTRY["cloud_spend"]
    original = spec.function

    def slow(ctx: ToolContext, **arguments: object) -> ToolResult:
        calls.append(threading.current_thread().name)
        time.sleep(0.3)
        return original(ctx, **arguments)

    monkeypatch.setitem(REGISTRY, "cloud_spend", dataclasses.replace(spec, function=slow))
    with sqlite_store.session() as session:
        upsert(session, "cost_daily", [cost(1, 10.0)])
    cache = ToolCache()
    with ThreadPoolExecutor(max_workers=8) as pool:
        totals = list(pool.map(lambda _: spend(sqlite_store, cache), range(8)))
    assert totals == [10.0] * 8
    assert len(calls) == 1 and cache.hits == 7


def add_cost_and_sync(store: Store, i: int, amount: float) -> None:
    """A new cost row and the data version bump a finished sync commits with it."""
    with store.session() as session:
        upsert(session, "cost_daily", [cost(i, amount)])
        bump_data_version(session)


def stale_ok_spend(store: Store, cache: ToolCache, now: datetime = NOW) -> ToolResult:
    with store.session() as session:
        ctx = ToolContext(session=session, settings=SETTINGS, now=now, cache=cache, stale_ok=True)
        return call_tool("cloud_spend", ctx, {"start": "2026-03-01", "end": "2026-03-17"})


def test_after_a_sync_a_stale_ok_asker_gets_the_previous_answer_while_it_is_recomputed(
    sqlite_store: Store,
) -> None:
    cache = ToolCache()
    add_cost_and_sync(sqlite_store, 1, 10.0)
    assert spend(sqlite_store, cache) == 10.0
    add_cost_and_sync(sqlite_store, 2, 5.0)

    stale = stale_ok_spend(sqlite_store, cache)
    assert stale.refreshing and stale.data["report"]["total"] == 10.0
    assert cache.wait_revalidated(30), "the new answer is computed in the background"
    fresh = stale_ok_spend(sqlite_store, cache)
    assert not fresh.refreshing and fresh.data["report"]["total"] == 15.0
    assert cache.stale_served == 1


def test_callers_that_did_not_opt_in_never_see_a_stale_answer(sqlite_store: Store) -> None:
    cache = ToolCache()
    add_cost_and_sync(sqlite_store, 1, 10.0)
    spend(sqlite_store, cache)
    add_cost_and_sync(sqlite_store, 2, 5.0)
    assert spend(sqlite_store, cache) == 15.0 and cache.stale_served == 0


def test_a_stale_answer_is_never_older_than_the_max_age(sqlite_store: Store) -> None:
    cache = ToolCache(max_age_seconds=60)
    add_cost_and_sync(sqlite_store, 1, 10.0)
    spend(sqlite_store, cache)
    add_cost_and_sync(sqlite_store, 2, 5.0)
    late = stale_ok_spend(sqlite_store, cache, NOW + timedelta(seconds=61))
    assert not late.refreshing and late.data["report"]["total"] == 15.0


@pytest.fixture
def summing_tool() -> Iterator[str]:
    """A `t_total` tool that reads another cached tool, as the executive summary does."""
    from cto_assistant.tools.base import ok, tool
    from cto_assistant.tools.summary import call_tool_cached

    saved = dict(REGISTRY)

    def t_total(ctx: ToolContext) -> ToolResult:
        """Reads another cached tool, as the executive summary does."""
        inner = call_tool_cached("cloud_spend", ctx, {"start": "2026-03-01", "end": "2026-03-17"})
        return ok({"total": inner.data["report"]["total"]}, summary="total")

    tool(domain="summary")(t_total)
    yield "t_total"
    REGISTRY.clear()
    REGISTRY.update(saved)


def test_an_answer_computed_for_a_stale_ok_asker_reads_no_stale_answers(
    sqlite_store: Store, summing_tool: str
) -> None:
    """A summary-like tool computed after a sync must not be built from the old version."""
    cache = ToolCache()
    add_cost_and_sync(sqlite_store, 1, 10.0)
    spend(sqlite_store, cache)  # cloud_spend cached at the old version
    add_cost_and_sync(sqlite_store, 2, 5.0)
    with sqlite_store.session() as session:
        ctx = ToolContext(session=session, settings=SETTINGS, now=NOW, cache=cache, stale_ok=True)
        result = call_tool(summing_tool, ctx, {})
    assert not result.refreshing and result.data == {"total": 15.0}
    assert spend(sqlite_store, cache) == 15.0


def test_a_stale_answer_cannot_be_stored(sqlite_store: Store) -> None:
    cache = ToolCache()
    add_cost_and_sync(sqlite_store, 1, 10.0)
    spend(sqlite_store, cache)
    add_cost_and_sync(sqlite_store, 2, 5.0)
    stale = stale_ok_spend(sqlite_store, cache)
    cache.wait_revalidated(30)
    with pytest.raises(ValueError, match="stale"):
        cache.put(next(iter(cache._entries)), stale, NOW)


# ------------------------------------------------------------------ answers shared by processes


def other_process(store: Store) -> Store:
    """Another process's view of `store`: its own engine and connections on the same database."""
    from cto_assistant.store import open_store

    return open_store(str(store.engine.url.render_as_string(hide_password=False)))


def shared_spend(
    store: Store, cache: ToolCache, now: datetime = NOW, *, stale_ok: bool = False
) -> ToolResult:
    with store.session() as session:
        ctx = ToolContext(
            session=session, settings=SETTINGS, now=now, cache=cache, stale_ok=stale_ok,
            shared=True,
        )  # fmt: skip
        return call_tool("cloud_spend", ctx, {"start": "2026-03-01", "end": "2026-03-17"})


def shared_rows(store: Store) -> list[tuple[str, int]]:
    import sqlalchemy as sa

    from cto_assistant.store.models import ToolAnswer

    with store.session() as session:
        return [tuple(row) for row in session.execute(
            sa.select(ToolAnswer.tool, ToolAnswer.data_version).order_by(ToolAnswer.tool)
        )]  # fmt: skip


def test_a_process_with_an_empty_cache_serves_the_answer_another_process_shared(
    any_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_cost_and_sync(any_store, 1, 10.0)
    first = ToolCache()
    computed = shared_spend(any_store, first)
    assert first.wait_shared(30)
    assert shared_rows(any_store) == [("cloud_spend", 1)]

    started = other_process(any_store)
    try:
        fresh_cache = ToolCache()
        spec = REGISTRY["cloud_spend"]
        monkeypatch.setitem(
            REGISTRY, "cloud_spend", dataclasses.replace(spec, function=_must_not_run)
        )
        recalled = shared_spend(started, fresh_cache)
        assert fresh_cache.recalled == 1 and fresh_cache.hits == 1
        assert recalled.payload() == computed.payload()
        again = shared_spend(started, fresh_cache)  # now from its own memory: no second read
        assert fresh_cache.recalled == 1 and again.payload() == computed.payload()
    finally:
        started.dispose()


def _must_not_run(ctx: ToolContext, **_: object) -> ToolResult:
    raise AssertionError("computed although another process had shared the answer")


def test_after_a_sync_a_started_process_shows_the_shared_previous_answer_as_updating(
    any_store: Store,
) -> None:
    add_cost_and_sync(any_store, 1, 10.0)
    first = ToolCache()
    shared_spend(any_store, first)
    assert first.wait_shared(30)
    add_cost_and_sync(any_store, 2, 5.0)

    started = other_process(any_store)
    try:
        cache = ToolCache()
        stale = shared_spend(started, cache, stale_ok=True)
        assert stale.refreshing and stale.data["report"]["total"] == 10.0
        assert cache.wait_revalidated(30) and cache.wait_shared(30)
        assert shared_spend(started, cache, stale_ok=True).data["report"]["total"] == 15.0
        # the new version was shared too: the first process's next ask reads it, not computes it
        assert shared_rows(any_store) == [("cloud_spend", 2)]
        assert shared_spend(any_store, first).data["report"]["total"] == 15.0
        assert first.recalled == 1
        # a caller that cannot show "updating" never gets the old version from the store
        late = ToolCache()
        add_cost_and_sync(any_store, 3, 1.0)
        assert shared_spend(started, late).data["report"]["total"] == 16.0
    finally:
        started.dispose()


def test_an_older_version_never_overwrites_a_newer_shared_answer(sqlite_store: Store) -> None:
    add_cost_and_sync(sqlite_store, 1, 10.0)
    old_cache = ToolCache()
    shared_spend(sqlite_store, old_cache)
    old_key = next(iter(old_cache._entries))
    add_cost_and_sync(sqlite_store, 2, 5.0)
    new_cache = ToolCache()
    shared_spend(sqlite_store, new_cache)
    assert new_cache.wait_shared(30) and old_cache.wait_shared(30)
    import sqlalchemy as sa

    from cto_assistant.store.models import ToolAnswer

    with sqlite_store.session() as session:
        stored_key = session.scalar(sa.select(ToolAnswer.call_hash))
    assert stored_key is not None
    old_cache._shared.discard(old_key)
    old_cache.share(sqlite_store.engine, stored_key, old_key)  # a late writer of the old one
    assert old_cache.wait_shared(30)
    assert shared_rows(sqlite_store) == [("cloud_spend", 2)]


def test_shared_answers_respect_the_max_age_and_survive_a_bad_row(sqlite_store: Store) -> None:
    import sqlalchemy as sa

    from cto_assistant.store.models import ToolAnswer

    add_cost_and_sync(sqlite_store, 1, 10.0)
    first = ToolCache(max_age_seconds=60)
    shared_spend(sqlite_store, first)
    assert first.wait_shared(30)
    late = ToolCache(max_age_seconds=60)
    assert shared_spend(sqlite_store, late, NOW + timedelta(seconds=61)).data is not None
    assert late.recalled == 0  # too old to serve: computed
    with sqlite_store.session() as session:
        session.execute(sa.update(ToolAnswer).values(result='{"not": "an answer"}'))
    unreadable = ToolCache()
    assert shared_spend(sqlite_store, unreadable).data["report"]["total"] == 10.0
    assert unreadable.recalled == 0


def test_only_the_widget_call_is_shared_not_the_calls_nested_in_it(
    sqlite_store: Store, summing_tool: str
) -> None:
    add_cost_and_sync(sqlite_store, 1, 10.0)
    cache = ToolCache()
    with sqlite_store.session() as session:
        ctx = ToolContext(session=session, settings=SETTINGS, now=NOW, cache=cache, shared=True)
        assert call_tool(summing_tool, ctx, {}).data == {"total": 10.0}
    assert cache.wait_shared(30)
    assert shared_rows(sqlite_store) == [("t_total", 1)]


def test_only_settings_that_shape_answers_are_part_of_the_shared_key() -> None:
    spec = REGISTRY["cloud_spend"]

    def key(**settings: object) -> str:
        ctx = ToolContext(session=None, settings=Settings(demo=True, **settings), now=NOW)  # type: ignore[arg-type]
        return ToolCache.shared_key(spec, ctx, {"group_by": "service"})

    assert key(port=8001, log_level="DEBUG") == key(port=8002, log_level="ERROR")
    # secrets never feed the hash (it is stored): two tokens give one key
    assert key(sources={"jira": {"kind": "jira", "api_token": "first-secret"}}) == key(
        sources={"jira": {"kind": "jira", "api_token": "second-secret"}}
    )
    assert key(clock=NOW) != key(clock=NOW + timedelta(days=1))
    assert key(sources={"aws": {"kind": "aws"}}) != key()


def test_an_answer_for_a_later_clock_is_never_served_or_replaced_by_an_earlier_one(
    sqlite_store: Store,
) -> None:
    add_cost_and_sync(sqlite_store, 1, 10.0)
    later = ToolCache()
    shared_spend(sqlite_store, later, NOW + timedelta(seconds=100))
    assert later.wait_shared(30)
    early = ToolCache()
    shared_spend(sqlite_store, early, NOW)  # its clock is before the stored answer's
    assert early.recalled == 0 and early.computed == 1
    assert early.wait_shared(30)  # an answer for an earlier clock does not replace it

    import sqlalchemy as sa

    from cto_assistant.store.models import ToolAnswer

    with sqlite_store.session() as session:
        stored = session.scalar(sa.select(ToolAnswer.computed_for))
    assert stored == NOW + timedelta(seconds=100)
    key = next(iter(early._entries))
    result = early.get(key, NOW)
    assert result is not None
    assert early.put(key, result, NOW + timedelta(seconds=50))
    assert not early.put(key, result, NOW + timedelta(seconds=20))  # memory keeps the later
    assert early.age(key, NOW + timedelta(seconds=60)) == timedelta(seconds=10)


def test_the_answer_counts_add_up_per_outcome(sqlite_store: Store) -> None:
    add_cost_and_sync(sqlite_store, 1, 10.0)
    first = ToolCache()
    shared_spend(sqlite_store, first)
    shared_spend(sqlite_store, first)
    assert first.wait_shared(30)
    assert first.stats() == {"hit": 1, "recalled": 0, "stale": 0, "computed": 1}
    add_cost_and_sync(sqlite_store, 2, 5.0)
    started = ToolCache()  # a process that starts after a sync: the store has the old answer
    assert shared_spend(sqlite_store, started, stale_ok=True).refreshing
    assert started.wait_revalidated(30)
    assert started.stats() == {"hit": 0, "recalled": 0, "stale": 1, "computed": 1}
    assert shared_spend(sqlite_store, started).data["report"]["total"] == 15.0
    assert started.stats()["hit"] == 1
