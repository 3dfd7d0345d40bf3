"""Load on the large world: N signed-in dashboard users on loopback while an import writes.

A real uvicorn server over the large world store; each user signs in and loops over the calls
the dashboard page makes (the driver of tests/reliability/test_load.py) for a bounded time.
Meanwhile a FOCUS export is imported into the same store in a thread — the write path of a
sync: cost rows replaced in one transaction, the rollup's dirty periods rebuilt, the data
version bumped, which the dashboard warmer notices and re-warms. The imported rows are removed
afterwards, so the cached world store stays as it was. Reported: requests/second, p50/p95 and
the error count (must be 0).
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from bench_app import PASSWORD, bench_app
from tests.reliability.test_load import PAGE_CALLS, Tally, user

from cto_assistant.connectors.focus.importer import import_focus
from cto_assistant.demo.simulators.common import served
from cto_assistant.store.db import Store
from cto_assistant.store.models import CostDaily
from cto_assistant.store.rollup import mark_all_cost_dirty, refresh_cost_rollup

SOURCE = "bench-load"


def bench_load(
    store: Store, now: Any, *, users: int = 8, seconds: float = 30.0, focus_rows: int = 100_000
) -> dict[str, Any]:
    """Run the crowd against a live server while an import writes; return the figures."""
    import bench_focus_import as focus

    folder = Path(tempfile.mkdtemp(prefix="bench-load-"))
    export = folder / "focus.csv"
    focus.generate(export, focus_rows)
    app, username = bench_app(store, now, name="load")
    tally = Tally()
    imported: dict[str, Any] = {}

    def write() -> None:
        started = time.perf_counter()
        result = import_focus(store, [export], source=SOURCE)
        imported.update(rows=result.rows_written, seconds=round(time.perf_counter() - started, 1))

    try:
        with served(app, lifespan=True) as server:
            assert app.state.warmer.wait_idle(600), "the first warm-up did not finish"
            writer = threading.Thread(target=write, name="load-import")
            started = time.monotonic()
            until = started + seconds
            writer.start()

            async def crowd() -> None:
                await asyncio.gather(
                    *(user(server.base_url, username, PASSWORD, until, tally) for _ in range(users))
                )

            asyncio.run(crowd())
            elapsed = time.monotonic() - started
            writer.join(timeout=600)
            warm_runs = app.state.warmer.runs
    finally:
        remove_imported(store)
    ordered = sorted(tally.latencies) or [float("nan")]
    return {
        "users": users,
        "seconds": round(elapsed, 1),
        "requests": len(ordered),
        "requests_per_second": round(len(ordered) / elapsed, 1),
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p95_ms": round(ordered[max(0, int(len(ordered) * 0.95) - 1)] * 1000, 1),
        "errors": len(tally.errors),
        "error_examples": tally.errors[:5],
        "calls": list(PAGE_CALLS),
        "import_during_load": imported,
        "warm_ups": warm_runs,
    }


def remove_imported(store: Store) -> None:
    """Delete the rows this benchmark imported and bring the rollup back in line."""
    with store.session() as session:
        session.execute(sa.delete(CostDaily).where(CostDaily.source == SOURCE))
        mark_all_cost_dirty(session)
    with store.session() as session:
        refresh_cost_rollup(session)
