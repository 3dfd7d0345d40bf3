"""The dashboard in a real browser on the large world: time to every widget rendered, bytes.

A live uvicorn server over the large world store and Debian's Chromium driven by Playwright.
Each run opens a fresh browser context (empty HTTP cache, so the first load's full weight is
transferred), signed in, goes to `/`, and waits until the page marks itself ready (every widget
rendered: `[data-dashboard][data-ready=true]`). Measured per run: milliseconds from the
navigation's start to ready (the page's own `performance.now()`), and the bytes transferred
(headers and bodies of every finished request, as Chromium reports them, once the page settled). Three server states: the warmer
has run (what users meet); a web process that just started (empty memory, the answers another
process shared in the store); nothing computed anywhere yet (the worst case).
"""

from __future__ import annotations

import re
import statistics
from pathlib import Path
from typing import Any

from bench_app import PASSWORD, bench_app, forget_answers

from cto_assistant.demo.simulators.common import served
from cto_assistant.store.db import Store

CHROMIUM = Path("/usr/bin/chromium")
READY = "[data-dashboard][data-ready=true]"
SETTLE_MS = 1500  # after ready: lazy modules (the chart bundle) and chart data arrive


def bench_browser(store: Store, now: Any, *, runs: int = 5) -> dict[str, Any]:
    """Time to all widgets rendered and first-load bytes, warm and cold server cache."""
    if not CHROMIUM.exists():
        return {"skipped": f"{CHROMIUM} not installed"}
    from playwright.sync_api import sync_playwright

    app, username = bench_app(store, now, name="browser")
    found: dict[str, Any] = {}
    with served(app, lifespan=True) as server, sync_playwright() as playwright:
        assert app.state.warmer.wait_idle(600), "the first warm-up did not finish"
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            state = signed_in_state(browser, server.base_url, username)
            for case, before in (
                ("warm", None),
                ("restarted", lambda: forget_answers(app, store, shared=False)),
                ("cold", lambda: forget_answers(app, store, shared=True)),
            ):
                samples = [load_once(browser, server.base_url, state, before) for _ in range(runs)]
                found[case] = summarize(samples)
        finally:
            browser.close()
    return found


def signed_in_state(browser: Any, base_url: str, username: str) -> dict[str, Any]:
    """Cookies of a user signed in through the real form."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(f"{base_url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(rf"^{re.escape(base_url)}/$"))
    state: dict[str, Any] = context.storage_state()
    context.close()
    return state


def load_once(browser: Any, base_url: str, state: dict[str, Any], before: Any) -> dict[str, float]:
    """One first load in a fresh context: ms to ready and bytes transferred."""
    if before is not None:
        before()
    context = browser.new_context(viewport={"width": 1280, "height": 800}, storage_state=state)
    page = context.new_page()
    page.set_default_timeout(600_000)
    errors: list[str] = []
    finished: list[Any] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("requestfinished", lambda request: finished.append(request))
    try:
        page.goto(f"{base_url}/")
        page.wait_for_selector(READY)
        ready_ms = float(page.evaluate("performance.now()"))
        page.wait_for_timeout(SETTLE_MS)
        transferred = sum(
            sizes["responseBodySize"] + sizes["responseHeadersSize"]
            for sizes in (request.sizes() for request in finished)
        )
    finally:
        context.close()
    return {"ready_ms": ready_ms, "bytes": transferred, "console_errors": len(errors)}


def summarize(samples: list[dict[str, float]]) -> dict[str, Any]:
    """p50/max of the time to ready, the median bytes, console errors in all."""
    ready = sorted(s["ready_ms"] for s in samples)
    return {
        "ready_p50_ms": round(statistics.median(ready)),
        "ready_max_ms": round(ready[-1]),
        "bytes_p50": round(statistics.median(s["bytes"] for s in samples)),
        "console_errors": int(sum(s["console_errors"] for s in samples)),
        "runs": len(samples),
    }


__all__ = ["bench_browser"]
