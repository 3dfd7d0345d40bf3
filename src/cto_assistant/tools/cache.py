"""The per-sync tool cache: one answer per (tool, arguments, data version), for a few minutes.

A dashboard, the chat and the executive summary ask the same questions again and again between
two syncs; the answer only changes when the data does (or the clock moves on). So a read-only
tool's result is kept under

    (database, tool, arguments, settings, data version)

together with the `now` it was computed for, and served while the asking `now` is at most
`max_age_seconds` later (an answer is never served to an earlier clock). The data version
(store/rollup.py) is bumped in the transaction that finishes a sync or an import, so a process
that did not run the sync still sees the new version on its next call: several web processes
never serve an answer older than the last commit they can read. The web app's warmer
(web/warm.py) recomputes the dashboard's answers after each sync and before they expire.

Concurrent askers of one key compute it once (`computing`): after a sync, a dashboard opened
by ten people while the warmer runs costs one computation per widget, not eleven.

Callers that can show an answer as "updating" (the dashboard: `ToolContext.stale_ok`) do not
wait at all in the seconds after a sync: `stale` hands them the previous data version's answer,
marked `refreshing`, while `revalidate` computes the new one once in the background (the
warmer usually already is). An answer is never served stale beyond `max_age`, and a stale
answer is never stored as the new version's.

Dashboard answers are also shared through the store (`ToolContext.shared`, table
`tool_answer`): the newest answer of each widget call is written there in the background, and a
process that has none in memory (it just started, or another process computed it) reads it
instead of computing it, under the same rules: the same data version and `max_age` for a hit,
an earlier version only for a stale-ok caller. A restarted web process, or the fifth of five,
serves the dashboard without computing it. Only top-level widget calls are shared (a tool's
nested calls are not): a shared answer comes back as JSON, the form a widget sends anyway.

Contexts opt in (`ToolContext.cache`): the web API and the assistant do, tests and one-off
scripts see every write immediately. Tools that write, or read state that is not synced
(alerts, documents, the web, the run log itself), are never cached.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from importlib import metadata
from typing import TYPE_CHECKING, Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from cto_assistant.logging import get_logger
from cto_assistant.store.models import ToolAnswer
from cto_assistant.store.rollup import data_version

if TYPE_CHECKING:
    from cto_assistant.tools.base import ToolContext, ToolResult, ToolSpec

log = get_logger("tools.cache")
UNCACHED_DOMAINS = frozenset({"actions", "research"})
UNCACHED_TOOLS = frozenset({"alerts", "data_freshness", "data_health"})
REVALIDATE_THREADS = 2
try:
    RELEASE = metadata.version("cto-assistant")
except metadata.PackageNotFoundError:  # run from a source tree without installing
    RELEASE = "source"
"""Part of every shared key: a release never serves another release's answers."""
PROCESS_SETTINGS = frozenset(
    {
        "data_dir", "database_url", "secret_key", "demo_password", "host", "port",
        "cookie_secure", "session_max_age_hours", "log_level", "log_json",
        "sync_interval_minutes", "tool_cache_seconds", "dashboard_warm", "queue_url",
        "queue_namespace", "queue_heartbeat_timeout_seconds", "metrics_token",
    }
)  # fmt: skip
"""Settings of a process, not of the answers: two web processes that differ only in these
(their port, say) share answers."""
SHARED_KEEP = timedelta(days=7)  # shared answers not rewritten for this long are deleted
PRUNE_EVERY = 64  # writes


class CacheKey(NamedTuple):
    """One call (database, tool, arguments, settings, security) at one data version."""

    call: Hashable
    version: int


class ToolCache:
    """A bounded, thread-safe LRU of tool results keyed on the data version."""

    def __init__(self, *, max_entries: int = 512, max_age_seconds: float = 300) -> None:
        self.max_entries = max_entries
        self.max_age = timedelta(seconds=max_age_seconds)
        self.hits = 0
        self.misses = 0
        self.stale_served = 0
        self._entries: OrderedDict[CacheKey, tuple[datetime, ToolResult]] = OrderedDict()
        self._newest: dict[Hashable, CacheKey] = {}  # call -> its newest stored key
        self._lock = threading.Lock()
        self._computing: dict[Hashable, tuple[threading.Lock, int]] = {}
        self._revalidating: set[CacheKey] = set()
        self._pool: ThreadPoolExecutor | None = None
        self._writer: ThreadPoolExecutor | None = None
        self._shared: set[CacheKey] = set()  # keys whose answer was written to the store
        self._writes = 0
        self._pending_writes = 0
        self.recalled = 0  # answers read from the store instead of computed
        self.store_hits = 0  # hits served right after reading their answer from the store
        self.computed = 0  # tool runs whose answer was kept

    @staticmethod
    def cacheable(spec: ToolSpec) -> bool:
        """Whether a tool's answers depend only on synced data, its arguments and the clock."""
        return (
            not spec.writes
            and spec.domain not in UNCACHED_DOMAINS
            and (spec.name not in UNCACHED_TOOLS)
        )

    def key(self, spec: ToolSpec, ctx: ToolContext, arguments: Mapping[str, Any]) -> CacheKey:
        """The cache key of one call (reads the data version: one primary-key lookup)."""
        call = (
            str(ctx.session.get_bind().engine.url),
            spec.name,
            json.dumps(arguments, sort_keys=True, default=str),
            id(ctx.settings),
            json.dumps(ctx.extras.get("security"), sort_keys=True, default=str),
        )
        return CacheKey(call, data_version(ctx.session))

    @staticmethod
    def shared_key(spec: ToolSpec, ctx: ToolContext, arguments: Mapping[str, Any]) -> str:
        """The call's key in `tool_answer`: the same for every process on the store."""
        settings = {
            name: value
            for name, value in ctx.settings.redacted().items()  # no secret feeds the hash
            if name not in PROCESS_SETTINGS
        }
        text = json.dumps(
            [RELEASE, spec.name, arguments, settings, ctx.extras.get("security")],
            sort_keys=True,
            default=str,
        )
        return hashlib.sha256(text.encode()).hexdigest()

    def recall(self, key: CacheKey, shared_key: str, ctx: ToolContext) -> bool:
        """Load the call's shared answer when it is newer than the one held here; return
        whether the asked data version's answer was loaded.

        Two primary-key lookups at most; the answer is parsed only when it will be used.
        """
        from cto_assistant.tools.base import ToolResult

        with self._lock:
            newest = self._newest.get(key.call)
        if newest is not None and newest.version >= key.version:
            return False
        found = ctx.session.execute(
            sa.select(ToolAnswer.data_version, ToolAnswer.computed_for).where(
                ToolAnswer.call_hash == shared_key
            )
        ).first()
        if found is None or (newest is not None and found.data_version <= newest.version):
            return False
        if not timedelta(0) <= ctx.now - found.computed_for <= self.max_age:
            return False
        text = ctx.session.scalar(
            sa.select(ToolAnswer.result).where(  # exactly the row checked above
                ToolAnswer.call_hash == shared_key,
                ToolAnswer.data_version == found.data_version,
                ToolAnswer.computed_for == found.computed_for,
            )
        )
        if text is None:  # rewritten between the two reads: the next asker sees the new one
            return False
        try:
            result = ToolResult.model_validate_json(text)
        except ValueError as exc:  # written by another release: compute it instead
            log.warning("shared answer unreadable", key=shared_key[:12], error=str(exc)[:200])
            return False
        loaded = CacheKey(key.call, found.data_version)
        return self.put(loaded, result, found.computed_for, recalled=True) and loaded == key

    def share(self, engine: Engine, shared_key: str, key: CacheKey) -> None:
        """Write the answer held for `key` to `tool_answer` in the background, once per key.

        Best effort, and the newest data version wins. Called on every shared ask, whether it
        computed the answer or found it here (a nested call may have computed it unshared).
        """
        with self._lock:
            found = self._entries.get(key)
            if found is None or key in self._shared:
                return
            self._shared.add(key)
            if self._writer is None:
                self._writer = ThreadPoolExecutor(1, thread_name_prefix="share-answers")
            self._writes += 1
            self._pending_writes += 1
            prune = self._writes % PRUNE_EVERY == 1
            writer = self._writer
        now, result = found

        def write() -> None:
            try:
                _write_answer(engine, shared_key, key.version, result, now, prune=prune)
            except Exception as exc:  # e.g. the store is busy with a sync: others compute it
                log.warning("shared answer not written", tool=result.tool, error=str(exc)[:200])
                with self._lock:
                    self._shared.discard(key)  # the next ask tries again
            finally:
                with self._lock:
                    self._pending_writes -= 1

        writer.submit(write)

    def wait_shared(self, timeout: float = 60.0) -> bool:
        """Block until every queued shared-answer write is done (tests, benchmarks)."""
        return self._wait_until(lambda: not self._pending_writes, timeout)

    def _wait_until(self, done: Callable[[], bool], timeout: float) -> bool:
        """Poll `done` under the lock until it holds (True) or `timeout` seconds pass."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if done():
                    return True
            time.sleep(0.02)
        return False

    def get(self, key: CacheKey, now: datetime, *, recalled: bool = False) -> ToolResult | None:
        """A copy of the result stored for a clock at most `max_age` before `now`, or None
        (`recalled`: it was just read from the store, a hit to count apart)."""
        with self._lock:
            found = self._fresh(key, now)
            if found is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            self.store_hits += recalled
        return found.model_copy()

    def stats(self) -> dict[str, int]:
        """How asks were answered so far: from memory, from the store, stale, computed."""
        with self._lock:
            return {
                "hit": self.hits - self.store_hits,
                "recalled": self.store_hits,
                "stale": self.stale_served,
                "computed": self.computed,
            }

    def stale(self, key: CacheKey, now: datetime) -> ToolResult | None:
        """The same call's answer at an earlier data version, marked `refreshing`, or None.

        Only an answer younger than `max_age` qualifies; pair it with `revalidate`.
        """
        with self._lock:
            newest = self._newest.get(key.call)
            if newest is None or newest.version >= key.version:
                return None
            found = self._fresh(newest, now)
            if found is None:
                return None
            self.stale_served += 1
        return found.model_copy(update={"refreshing": True})

    def revalidate(self, key: CacheKey, compute: Callable[[], None]) -> bool:
        """Run `compute` (which stores the answer of `key`) in the background, once per key.

        Returns False when that key is already being revalidated.
        """
        with self._lock:
            if key in self._revalidating:
                return False
            self._revalidating.add(key)
            if self._pool is None:
                self._pool = ThreadPoolExecutor(REVALIDATE_THREADS, thread_name_prefix="revalidate")
            pool = self._pool

        def run() -> None:
            try:
                compute()
            except Exception as exc:  # the next asker computes it in the foreground instead
                log.warning("revalidation failed", tool=key.call, error=str(exc)[:300])
            finally:
                with self._lock:
                    self._revalidating.discard(key)

        pool.submit(run)
        return True

    def _fresh(self, key: CacheKey, now: datetime) -> ToolResult | None:
        found = self._entries.get(key)
        if found is None or not timedelta(0) <= now - found[0] <= self.max_age:
            return None
        return found[1]

    def age(self, key: CacheKey, now: datetime) -> timedelta | None:
        """How old the stored answer of `key` is at `now` (None when there is none)."""
        with self._lock:
            found = self._entries.get(key)
        return None if found is None else now - found[0]

    @contextmanager
    def computing(self, key: CacheKey, *, timeout: float = 300.0) -> Iterator[None]:
        """Hold the key's computing lock: a second asker waits for the first one's answer.

        Tools nest one way only (summaries call domain tools), so the locks cannot deadlock;
        the timeout is a backstop that lets a stuck wait compute on its own.
        """
        with self._lock:
            lock, users = self._computing.get(key, (threading.Lock(), 0))
            self._computing[key] = (lock, users + 1)
        held = lock.acquire(timeout=timeout)
        try:
            yield
        finally:
            if held:
                lock.release()
            with self._lock:
                lock, users = self._computing[key]
                if users == 1:
                    del self._computing[key]
                else:
                    self._computing[key] = (lock, users - 1)

    def put(
        self, key: CacheKey, result: ToolResult, now: datetime, *, recalled: bool = False
    ) -> bool:
        """Keep a result computed for `now`, or `recalled` from the store, unless one for a
        later clock is held already; return whether it was kept (the oldest entry goes when
        full)."""
        if result.refreshing:
            raise ValueError("a stale answer is never stored as a new version's")
        with self._lock:
            held = self._entries.get(key)
            if held is not None and held[0] > now:
                return False
            self._entries[key] = (now, result.model_copy())
            self._entries.move_to_end(key)
            if recalled:
                self._shared.add(key)  # it is in the store already
                self.recalled += 1
            else:
                self._shared.discard(key)  # a newer `now`: the store's copy is older
                self.computed += 1
            newest = self._newest.get(key.call)
            if newest is None or newest.version <= key.version:
                self._newest[key.call] = key
            while len(self._entries) > self.max_entries:
                gone, _ = self._entries.popitem(last=False)
                self._shared.discard(gone)
                if self._newest.get(gone.call) == gone:
                    del self._newest[gone.call]
        return True

    def wait_revalidated(self, timeout: float = 60.0) -> bool:
        """Block until no background revalidation is queued or running (tests, benchmarks)."""
        return self._wait_until(lambda: not self._revalidating, timeout)

    def clear(self) -> None:
        """Forget everything (tests; a settings reload)."""
        with self._lock:
            self._entries.clear()
            self._newest.clear()
            self._shared.clear()
            self.hits = self.misses = self.stale_served = self.recalled = 0
            self.store_hits = self.computed = 0

    def __len__(self) -> int:
        return len(self._entries)


def _write_answer(
    engine: Engine,
    shared_key: str,
    version: int,
    result: ToolResult,
    now: datetime,
    *,
    prune: bool,
) -> None:
    """Upsert one shared answer unless a newer one (version, then clock) is already there."""
    insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
    stored_at = datetime.now(UTC)
    statement = insert(ToolAnswer).values(
        call_hash=shared_key,
        tool=result.tool,
        data_version=version,
        computed_for=now,
        stored_at=stored_at,
        result=result.model_dump_json(),
    )
    excluded = statement.excluded
    statement = statement.on_conflict_do_update(
        index_elements=[ToolAnswer.call_hash],
        set_={
            "tool": excluded.tool,
            "data_version": excluded.data_version,
            "computed_for": excluded.computed_for,
            "stored_at": excluded.stored_at,
            "result": excluded.result,
        },
        where=sa.or_(  # newest data version, then latest clock, wins
            ToolAnswer.data_version < excluded.data_version,
            sa.and_(
                ToolAnswer.data_version == excluded.data_version,
                ToolAnswer.computed_for <= excluded.computed_for,
            ),
        ),
    )
    with engine.begin() as connection:
        connection.execute(statement)
        if prune:
            connection.execute(
                sa.delete(ToolAnswer).where(ToolAnswer.stored_at < stored_at - SHARED_KEEP)
            )


SHARED = ToolCache()
"""The process-wide cache the web API and the assistant use."""
