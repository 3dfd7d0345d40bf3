"""The dashboard warmer and the side-by-side widget computation, on a real store."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from cto_assistant.settings import Settings
from cto_assistant.store import Store
from cto_assistant.store.models import DashboardLayout
from cto_assistant.store.rollup import bump_data_version
from cto_assistant.tools.base import REGISTRY, ToolContext, ToolResult, ok, tool
from cto_assistant.tools.cache import ToolCache
from cto_assistant.web.events import EventBroker
from cto_assistant.web.warm import DashboardWarmer, compute_widgets, placed_everywhere
from cto_assistant.web.widgets import DEFAULT_LAYOUT, WIDGETS, Widget

NOW = datetime(2026, 3, 18, 12, tzinfo=UTC)
SETTINGS = Settings(demo=True, clock=NOW)


class Counter:
    """A test tool that counts its calls and the threads they ran on."""

    def __init__(self) -> None:
        self.calls = 0
        self.threads: set[str] = set()
        self.lock = threading.Lock()

    def __call__(self, ctx: ToolContext, team: str | None = None) -> ToolResult:
        with self.lock:
            self.calls += 1
            self.threads.add(threading.current_thread().name)
        return ok({"team": team, "calls": self.calls}, summary=f"call {self.calls}")


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter]:
    """A `t_counted` tool behind a `w_counted` widget with a team filter (test only)."""
    counter = Counter()
    saved = dict(REGISTRY)

    def t_counted(ctx: ToolContext, *, team: str | None = None) -> ToolResult:
        """A counted test tool."""
        return counter(ctx, team)

    tool(domain="summary")(t_counted)
    monkeypatch.setitem(
        WIDGETS, "w_counted", Widget("w_counted", "Counted", "t_counted", "Q?", filters=("team",))
    )
    yield counter
    REGISTRY.clear()
    REGISTRY.update(saved)


def save_layout(store: Store, user_id: int, widgets: list[dict[str, object]]) -> None:
    with store.session() as session:
        session.add(DashboardLayout(user_id=user_id, widgets=widgets, updated_at=NOW))


def add_users(store: Store, *ids: int) -> None:
    from cto_assistant.store.models import User

    with store.session() as session:
        for user_id in ids:
            session.add(
                User(id=user_id, username=f"u{user_id}", password_hash="x", role="viewer",
                     created_at=NOW)
            )  # fmt: skip


def one_user_one_widget_synced(store: Store) -> None:
    """A user whose layout is the counted widget, and one finished sync."""
    add_users(store, 1)
    save_layout(store, 1, [{"id": "w_counted"}])
    with store.session() as session:
        bump_data_version(session)


def test_placed_everywhere_is_the_default_layout_plus_each_saved_widget_once(
    sqlite_store: Store, counted: Counter
) -> None:
    add_users(sqlite_store, 1, 2)
    save_layout(sqlite_store, 1, [{"id": "w_counted", "options": {"team": "PAY"}}])
    save_layout(sqlite_store, 2, [{"id": "w_counted", "options": {"team": "PAY"}},
                                  {"id": "w_counted"}, {"id": "gone_widget"}])  # fmt: skip
    placed = placed_everywhere(sqlite_store)
    assert [p for p in placed if p[0] != "w_counted"] == [(w, {}) for w in DEFAULT_LAYOUT]
    assert [p for p in placed if p[0] == "w_counted"] == [
        ("w_counted", {"team": "PAY"}),
        ("w_counted", {}),
    ]


def test_widgets_computed_side_by_side_equal_one_by_one(sqlite_store: Store) -> None:
    placed = [(w, {}) for w in DEFAULT_LAYOUT]
    parallel = compute_widgets(sqlite_store, SETTINGS, None, placed, now=NOW)
    serial = {w: compute_widgets(sqlite_store, SETTINGS, None, [(w, {})], now=NOW)[w]
              for w in DEFAULT_LAYOUT}  # fmt: skip

    def stable(payload: dict[str, object]) -> dict[str, object]:
        return {k: v for k, v in payload.items() if k != "elapsed_ms"}

    assert list(parallel) == list(DEFAULT_LAYOUT)
    assert {k: stable(v) for k, v in parallel.items()} == {k: stable(v) for k, v in serial.items()}


def test_a_warm_up_makes_the_next_dashboard_load_a_cache_hit(
    sqlite_store: Store, counted: Counter
) -> None:
    add_users(sqlite_store, 1)
    save_layout(sqlite_store, 1, [{"id": "w_counted", "options": {"team": "PAY"}}])
    cache = ToolCache(max_age_seconds=300)
    warmer = DashboardWarmer(sqlite_store, SETTINGS, cache)
    assert warmer.warm() == 0, "nothing synced yet: nothing to warm"
    with sqlite_store.session() as session:
        bump_data_version(session)
    assert warmer.warm() == len(DEFAULT_LAYOUT) + 1
    assert counted.calls == 1
    misses = cache.misses
    loaded = compute_widgets(
        sqlite_store,
        SETTINGS,
        cache,
        [("w_counted", {"team": "PAY"})],
        now=NOW + timedelta(minutes=4),
    )
    assert loaded["w_counted"]["data"] == {"team": "PAY", "calls": 1}
    assert counted.calls == 1 and cache.misses == misses, "served from the warm cache"
    compute_widgets(
        sqlite_store,
        SETTINGS,
        cache,
        [("w_counted", {"team": "PAY"})],
        now=NOW + timedelta(minutes=6),
    )
    assert counted.calls == 2, "an answer older than the cache's max age is computed again"


def test_a_sync_event_wakes_the_warmer_and_bursts_coalesce(
    sqlite_store: Store, counted: Counter
) -> None:
    one_user_one_widget_synced(sqlite_store)
    broker = EventBroker()
    warmer = DashboardWarmer(sqlite_store, SETTINGS, ToolCache(), every_seconds=3600)
    warmer.start(broker)
    try:
        assert warmer.wait_idle(30) and warmer.runs == 1 and counted.calls == 1
        broker.publish("alert_opened", {})
        with sqlite_store.session() as session:
            bump_data_version(session)  # what a finished sync commits
        for _ in range(5):
            broker.publish("sync_finished", {"sources": ["jira"]})
        assert warmer.wait_idle(30)
        assert counted.calls == 2 and warmer.runs in (2, 3), "one warm-up for the burst"
    finally:
        warmer.stop()
    broker.publish("sync_finished", {})
    assert counted.calls == 2, "a stopped warmer no longer listens"


def test_a_data_version_moved_by_another_process_is_noticed_without_an_event(
    sqlite_store: Store, counted: Counter
) -> None:
    """`cto import` in another process publishes no event here: the warmer polls the version."""
    one_user_one_widget_synced(sqlite_store)
    warmer = DashboardWarmer(
        sqlite_store, SETTINGS, ToolCache(), every_seconds=3600, poll_seconds=0.05
    )
    warmer.start()
    try:
        assert warmer.wait_idle(30) and counted.calls == 1
        time.sleep(0.3)
        assert counted.calls == 1, "an unchanged version is not warmed again"
        with sqlite_store.session() as session:
            bump_data_version(session)
        deadline = time.monotonic() + 10
        while counted.calls < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert counted.calls == 2
    finally:
        warmer.stop()


def test_after_a_sync_the_dashboard_shows_the_previous_answers_until_the_warmer_is_done(
    sqlite_store: Store, counted: Counter
) -> None:
    """Stale-while-revalidate across the version bump, and `dashboard_warm` when it is over."""
    one_user_one_widget_synced(sqlite_store)
    cache = ToolCache()
    broker = EventBroker()
    heard: list[tuple[str, dict[str, object]]] = []
    broker.add_listener(lambda event, data: heard.append((event, data)))
    warmer = DashboardWarmer(sqlite_store, SETTINGS, cache, every_seconds=3600)
    assert warmer.warm() and counted.calls == 1
    with sqlite_store.session() as session:
        bump_data_version(session)  # a sync finished; nobody warmed yet

    shown = compute_widgets(sqlite_store, SETTINGS, cache, [("w_counted", {})], now=NOW,
                            stale_ok=True)["w_counted"]  # fmt: skip
    assert shown["refreshing"] is True and shown["data"]["calls"] == 1
    warmer.start(broker)
    try:
        assert warmer.wait_idle(30) and cache.wait_revalidated(30)
    finally:
        warmer.stop()
    assert counted.calls == 2, "the warmer and the background refresh computed it once"
    shown = compute_widgets(sqlite_store, SETTINGS, cache, [("w_counted", {})], now=NOW,
                            stale_ok=True)["w_counted"]  # fmt: skip
    assert shown["refreshing"] is False and shown["data"]["calls"] == 2
    warm = [data for event, data in heard if event == "dashboard_warm"]
    assert warm and warm[-1]["version"] == warmer.last_version


def test_a_widget_not_computed_within_the_budget_comes_as_loading_and_is_not_computed_twice(
    sqlite_store: Store, counted: Counter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first paint does not wait for a slow widget: it comes as `loading`, its computation
    goes on into the cache, and asking for that widget alone joins the same computation."""
    one_user_one_widget_synced(sqlite_store)
    cache = ToolCache()
    release = threading.Event()
    slow = Counter()

    def gated(ctx: ToolContext, team: str | None = None) -> ToolResult:
        release.wait(30)
        return slow(ctx, team)

    monkeypatch.setitem(
        REGISTRY, "t_counted", dataclasses.replace(REGISTRY["t_counted"], function=gated)
    )
    started = time.perf_counter()
    shown = compute_widgets(sqlite_store, SETTINGS, cache, [("w_counted", {})], now=NOW,
                            stale_ok=True, budget_ms=100)["w_counted"]  # fmt: skip
    assert time.perf_counter() - started < 5 and not release.is_set()
    assert shown["state"] == "loading" and shown["pending"] is True and "data" not in shown

    answers: list[dict[str, object]] = []
    waiting = threading.Thread(
        target=lambda: answers.append(
            compute_widgets(
                sqlite_store,
                SETTINGS,
                cache,
                [("w_counted", {})],
                now=NOW,
                stale_ok=True,
            )["w_counted"]
        )
    )  # fmt: skip  (the widget endpoint: no budget)
    waiting.start()
    time.sleep(0.2)
    assert answers == [], "the widget call waits for the computation"
    release.set()
    waiting.join(30)
    assert answers[0]["state"] == "ok" and answers[0]["data"] == {"team": None, "calls": 1}
    assert slow.calls == 1, "the unfinished computation and the widget call shared one run"
    within = compute_widgets(sqlite_store, SETTINGS, cache, [("w_counted", {})], now=NOW,
                             stale_ok=True, budget_ms=100)["w_counted"]  # fmt: skip
    assert within["state"] == "ok", "an answer in the cache is given within the budget"
