"""Widgets computed side by side, and a warmer that has them ready before anyone asks.

The dashboard is one request for a dozen tool calls. Two things keep it fast on a large store:

- `compute_widgets` runs the widgets' tools on a small thread pool, each thread with its own
  session (SQLite and PostgreSQL both answer queries without holding the GIL), so the slowest
  widget, not the sum of all of them, sets the time of a cold load;
- `DashboardWarmer` recomputes every widget any user has placed (the default layout and every
  saved one) into the app's tool cache when a sync finishes — in this process or, in queue
  mode, in a worker whose event arrives over Redis; a data version moved by anyone else (a
  `cto import` in another process) is noticed within `poll_seconds` — and again before the
  cached answers reach the cache's maximum age. The first load after a sync is then a cache
  hit, not a cold start.

The warmer reads only what the signed-in pages could read, runs one warm-up at a time, and
coalesces a burst of sync events into one more warm-up.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from cto_assistant.logging import get_logger
from cto_assistant.settings import Settings
from cto_assistant.store.db import Store
from cto_assistant.store.models import DashboardLayout
from cto_assistant.store.rollup import data_version
from cto_assistant.tools.base import ToolContext
from cto_assistant.tools.cache import ToolCache
from cto_assistant.tools.catalog import load_tools
from cto_assistant.web.events import EventBroker
from cto_assistant.web.widgets import (
    WIDGETS,
    LayoutItem,
    default_layout,
    pending_payload,
    widget_payload,
)

log = get_logger("web.warm")
WIDGET_THREADS = 3
WARM_THREADS = 2  # one fewer than a page load: requests served meanwhile keep a share of the GIL
Placed = tuple[str, Mapping[str, str]]


def compute_widgets(
    store: Store,
    settings: Settings,
    cache: ToolCache | None,
    placed: Sequence[Placed],
    *,
    now: datetime,
    user: str | None = None,
    stale_ok: bool = False,
    compact: bool = False,
    threads: int = WIDGET_THREADS,
    budget_ms: float | None = None,
) -> dict[str, dict[str, Any]]:
    """Each placed widget's payload, computed on a thread pool (one session per widget).

    With `stale_ok`, a widget whose answer is being recomputed after a sync shows the previous
    one, marked `refreshing` (see tools/cache.py), instead of waiting for it; `compact` cuts
    each answer to what its tile draws. With `budget_ms`, a widget not done by then comes as
    `loading` (`pending`) while its computation goes on in the background, into the cache:
    asking for that widget again joins it.
    """
    load_tools()

    def one(item: Placed) -> dict[str, Any]:
        widget_id, options = item
        with store.session() as session:
            ctx = ToolContext(
                session=session,
                settings=settings,
                now=now,
                user=user,
                cache=cache,
                stale_ok=stale_ok,
                shared=True,
            )
            return widget_payload(WIDGETS[widget_id], ctx, options, compact=compact)

    if budget_ms is not None:
        futures = [_background().submit(one, item) for item in placed]
        wait(futures, timeout=budget_ms / 1000)
        shown = {}
        for (widget_id, options), future in zip(placed, futures, strict=True):
            if future.done():
                shown[widget_id] = future.result()
            else:  # it finishes into the cache; a failure is the widget request's to report
                future.add_done_callback(_log_failure)
                shown[widget_id] = pending_payload(WIDGETS[widget_id], options)
        return shown
    if len(placed) <= 1:
        return {item[0]: one(item) for item in placed}
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="widget") as pool:
        return dict(zip((item[0] for item in placed), pool.map(one, placed), strict=True))


_BACKGROUND: ThreadPoolExecutor | None = None
_BACKGROUND_LOCK = threading.Lock()


def _background() -> ThreadPoolExecutor:
    """One bounded pool for every page's widgets in this process: however many pages open
    at once, at most `WARM_THREADS` computations (and database connections) run for them."""
    global _BACKGROUND
    with _BACKGROUND_LOCK:
        if _BACKGROUND is None:
            _BACKGROUND = ThreadPoolExecutor(WARM_THREADS, thread_name_prefix="page-widgets")
        return _BACKGROUND


def _log_failure(future: Future[dict[str, Any]]) -> None:
    if (error := future.exception()) is not None:
        log.warning("widget computation failed", error=str(error)[:300])


def placed_everywhere(store: Store) -> list[Placed]:
    """Every distinct (widget, options) on the default layout or on any saved layout."""
    found: dict[tuple[str, tuple[tuple[str, str], ...]], Placed] = {}
    layouts = [default_layout()]
    with store.session() as session:
        for raw in session.scalars(sa.select(DashboardLayout.widgets)):
            try:
                layouts.append([LayoutItem.model_validate(item) for item in raw or []])
            except ValueError:  # a layout saved by an older release: the API resets it on read
                continue
    for layout in layouts:
        for item in layout:
            if item.id in WIDGETS:
                found.setdefault(
                    (item.id, tuple(sorted(item.options.items()))), (item.id, item.options)
                )
    return list(found.values())


class DashboardWarmer:
    """Keeps the dashboard's answers in the tool cache across syncs and clock ticks."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        cache: ToolCache,
        *,
        every_seconds: float | None = None,
        poll_seconds: float = 5.0,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.cache = cache
        # Re-warm before the cached answers expire, so a user never meets a cold dashboard.
        self.every_seconds = every_seconds or max(10.0, cache.max_age.total_seconds() * 0.8)
        self.poll_seconds = min(poll_seconds, self.every_seconds)
        self.clock = clock or settings.now
        self._warmed_at = -float("inf")
        self.runs = 0
        self.last_ms: float | None = None
        self.last_version: int | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._thread: threading.Thread | None = None
        self._remove_listener: Callable[[], None] | None = None
        self.events: EventBroker | None = None

    def start(self, events: EventBroker | None = None) -> None:
        """Warm now, then on every `sync_finished` of `events` and every `every_seconds`.

        After each warm-up, `events` carries `dashboard_warm` to this process's browsers: a
        dashboard showing answers from before the sync reloads and meets a warm cache.
        """
        self.events = events
        if events is not None and self._remove_listener is None:
            self._remove_listener = events.add_listener(self.on_event)
        if self._thread is None:
            self._wake.set()
            self._thread = threading.Thread(target=self._loop, name="dashboard-warmer", daemon=True)
            self._thread.start()

    def poke(self, *_: object) -> None:
        """Ask for a warm-up soon (e.g. a sync just finished); bursts coalesce into one."""
        self._idle.clear()
        self._wake.set()

    def on_event(self, event: str, _data: Mapping[str, Any]) -> None:
        """Broker listener: warm after every data change."""
        if event == "sync_finished":
            self.poke()

    def stop(self) -> None:
        """Stop the thread (a warm-up in progress finishes its current widgets)."""
        if self._remove_listener is not None:
            self._remove_listener()
            self._remove_listener = None
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def wait_idle(self, timeout: float) -> bool:
        """Block until no warm-up is pending or running (tests and benchmarks)."""
        return self._idle.wait(timeout)

    def warm(self) -> int:
        """Compute every placed widget into the cache now; return how many were computed."""
        started = time.perf_counter()
        with self.store.session() as session:
            version = data_version(session)
        if version == 0:  # nothing synced yet: the empty states are instant anyway
            return 0
        placed = placed_everywhere(self.store)
        compute_widgets(
            self.store, self.settings, self.cache, placed, now=self.clock(), threads=WARM_THREADS
        )
        self.runs += 1
        self.last_version = version
        self.last_ms = round((time.perf_counter() - started) * 1000, 1)
        log.info("dashboard warmed", widgets=len(placed), version=version, ms=self.last_ms)
        if self.events is not None:  # this process's cache only: other processes warm their own
            self.events.publish(
                "dashboard_warm", {"version": version, "widgets": len(placed)}, relay=False
            )
        return len(placed)

    def _due(self, poked: bool) -> bool:
        """Poked, the data version moved, or the cached answers are getting old."""
        if poked or time.monotonic() - self._warmed_at >= self.every_seconds:
            return True
        with self.store.session() as session:
            return data_version(session) != self.last_version

    def _loop(self) -> None:
        while not self._stop.is_set():
            poked = self._wake.wait(self.poll_seconds)
            if self._stop.is_set():
                return
            self._wake.clear()
            try:
                if self._due(poked):
                    self._warmed_at = time.monotonic()
                    self.warm()
            except Exception as exc:  # a warm-up failure must never take the server down
                log.warning("dashboard warm-up failed", error=str(exc)[:300], poked=poked)
            if not self._wake.is_set():
                self._idle.set()


__all__ = ["DashboardWarmer", "compute_widgets", "placed_everywhere"]
