"""Load: concurrent dashboard users on loopback while a sync writes to the same store.

An asyncio + httpx generator (bounded in time and users, loopback only) signs in N users,
then each loops over the calls the dashboard page makes until the time is up. A sync of two
sources runs in a thread at the same time. Reported: requests/second, p50/p95, errors (must be 0).
"""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from dataclasses import dataclass, field

import httpx
import pytest
from fastapi import FastAPI

from cto_assistant.connectors.registry import configured_connectors
from cto_assistant.demo.simulators.common import served
from cto_assistant.sync.engine import StreamRunResult, SyncEngine
from tests.reliability.conftest import Demo, Figures

pytestmark = pytest.mark.slow
USERS = 8
DURATION_SECONDS = 20.0
PAGE_CALLS = ("/api/dashboard", "/api/data-health", "/api/alerts", "/api/timeline", "/api/me")
SYNC_SOURCES = ("jira", "pagerduty", "datadog")


@dataclass
class Tally:
    """Latencies and failures of the whole run."""

    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


async def user(base_url: str, username: str, password: str, until: float, tally: Tally) -> None:
    """Sign in, then request the dashboard's calls in a loop until `until`."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        token = (await client.get("/api/session/csrf")).json()["csrf_token"]
        signed = await client.post(
            "/api/session", json={"username": username, "password": password, "csrf_token": token}
        )
        assert signed.status_code == 200, signed.text
        while time.monotonic() < until:
            for path in PAGE_CALLS:
                started = time.perf_counter()
                try:
                    response = await client.get(path)
                except httpx.HTTPError as exc:
                    tally.errors.append(f"{path}: {exc.__class__.__name__}")
                    continue
                tally.latencies.append(time.perf_counter() - started)
                if response.status_code != 200:
                    tally.errors.append(f"{path}: HTTP {response.status_code}")


def test_dashboard_users_during_a_sync_see_no_errors(
    demo: Demo, demo_app: FastAPI, figures: Figures
) -> None:
    """N users for a bounded time with a sync running: zero errors; rate and p95 reported."""
    settings = demo.run.settings.model_copy(
        update={"sources": {n: demo.run.settings.sources[n] for n in SYNC_SOURCES}}
    )
    sync_results: list[StreamRunResult] = []

    def sync() -> None:
        connectors = configured_connectors(settings)
        try:
            engine = SyncEngine(demo.run.store, connectors, now=settings.now)
            sync_results.extend(engine.run(full_refresh=True))
        finally:
            for connector in connectors:
                connector.close()

    tally = Tally()
    with served(demo_app) as server:
        syncing = threading.Thread(target=sync, name="load-sync")
        started = time.monotonic()
        until = started + DURATION_SECONDS
        syncing.start()

        async def crowd() -> None:
            await asyncio.gather(
                *(
                    user(server.base_url, demo.run.username, demo.run.password, until, tally)
                    for _ in range(USERS)
                )
            )

        asyncio.run(crowd())
        elapsed = time.monotonic() - started
        syncing.join(timeout=120)
    assert not syncing.is_alive()
    assert sync_results and all(r.ok for r in sync_results), [r.error for r in sync_results]
    assert not tally.errors, tally.errors[:10]
    requests = len(tally.latencies)
    ordered = sorted(tally.latencies)
    p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)]
    figures.add(
        "load",
        "result",
        {
            "users": USERS,
            "seconds": round(elapsed, 1),
            "requests": requests,
            "requests_per_second": round(requests / elapsed, 1),
            "p50_ms": round(statistics.median(ordered) * 1000),
            "p95_ms": round(p95 * 1000),
            "errors": len(tally.errors),
            "sync_streams_during_load": len(sync_results),
            "calls": list(PAGE_CALLS),
        },
    )
    assert requests > USERS * len(PAGE_CALLS)
