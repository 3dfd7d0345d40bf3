"""The per-sync tool cache: reused until a sync or import commits, never for writes."""

from __future__ import annotations

import dataclasses
import threading
import time
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


def test_an_answer_computed_for_a_stale_ok_asker_reads_no_stale_answers(
    sqlite_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A summary-like tool computed after a sync must not be built from the old version."""
    from cto_assistant.tools.base import ok, tool
    from cto_assistant.tools.summary import call_tool_cached

    saved = dict(REGISTRY)

    def t_total(ctx: ToolContext) -> ToolResult:
        """Reads another cached tool, as the executive summary does."""
        inner = call_tool_cached("cloud_spend", ctx, {"start": "2026-03-01", "end": "2026-03-17"})
        return ok({"total": inner.data["report"]["total"]}, summary="total")

    tool(domain="summary")(t_total)
    try:
        cache = ToolCache()
        add_cost_and_sync(sqlite_store, 1, 10.0)
        spend(sqlite_store, cache)  # cloud_spend cached at the old version
        add_cost_and_sync(sqlite_store, 2, 5.0)
        with sqlite_store.session() as session:
            ctx = ToolContext(
                session=session, settings=SETTINGS, now=NOW, cache=cache, stale_ok=True
            )
            result = call_tool("t_total", ctx, {})
        assert not result.refreshing and result.data == {"total": 15.0}
        assert spend(sqlite_store, cache) == 15.0
    finally:
        REGISTRY.clear()
        REGISTRY.update(saved)


def test_a_stale_answer_cannot_be_stored(sqlite_store: Store) -> None:
    cache = ToolCache()
    add_cost_and_sync(sqlite_store, 1, 10.0)
    spend(sqlite_store, cache)
    add_cost_and_sync(sqlite_store, 2, 5.0)
    stale = stale_ok_spend(sqlite_store, cache)
    cache.wait_revalidated(30)
    with pytest.raises(ValueError, match="stale"):
        cache.put(next(iter(cache._entries)), stale, NOW)
