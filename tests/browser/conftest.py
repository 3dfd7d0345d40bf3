"""Browser tests: the demo world served on loopback, driven by Debian's Chromium (Playwright)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from cto_assistant.demo.run import DemoRun, prepare_demo
from cto_assistant.demo.simulators.common import ServedApp, serve
from cto_assistant.settings import load_settings
from cto_assistant.web.app import create_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 800}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test here is a browser test; skip them all when Chromium is not installed."""
    for item in items:
        if "tests/browser" in str(item.fspath):
            item.add_marker(pytest.mark.browser)
            if not CHROMIUM.exists():
                item.add_marker(pytest.mark.skip(
                    reason="needs Debian's Chromium: apt-get install -y chromium"
                ))  # fmt: skip


# Fixtures here are package-scoped, not session-scoped: Playwright's sync API keeps an event
# loop running in the main thread while it is open, which would break later asyncio tests.


@dataclass
class Site:
    """The served demo: its URL and the demo user's credentials."""

    url: str
    username: str
    password: str
    demo: DemoRun
    state: dict[str, Any] = field(default_factory=dict)
    app: Any = None  # the served FastAPI app (its tool cache, its warmer)


@pytest.fixture(scope="package")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The small Acme Cloud world, synced, and the web app serving it on a loopback port."""
    data_dir = tmp_path_factory.mktemp("browser-demo")
    base = load_settings(
        data_dir=data_dir,
        secret_key="browser-test-secret-key-0123456789",
        log_level="WARNING",
        sync_interval_minutes=0,
    )
    demo = prepare_demo(base, seed=7, today=date(2025, 6, 18), scale="small")
    app = create_app(demo.settings, store=demo.store, sync_on_start=False)
    served: ServedApp = serve(app)
    try:
        yield Site(served.base_url, demo.username, demo.password, demo, app=app)
    finally:
        served.stop()
        demo.stop()


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """One Chromium for the session."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture(scope="package")
def auth_state(browser: Any, site: Site) -> dict[str, Any]:
    """Cookies of a signed-in demo user (signing in through the real form once)."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.goto(f"{site.url}/login")
    page.fill("input[name=username]", site.username)
    page.fill("input[name=password]", site.password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{site.url}/")
    state: dict[str, Any] = context.storage_state()
    context.close()
    return state


@dataclass
class Console:
    """Console errors and failed requests seen by a page."""

    errors: list[str] = field(default_factory=list)


@pytest.fixture
def page(browser: Any, site: Site, auth_state: dict[str, Any]) -> Iterator[Any]:
    """A signed-in page at 1280x800 that records console errors in `page.console.errors`."""
    context = browser.new_context(viewport=VIEWPORT, storage_state=auth_state)
    new_page = context.new_page()
    console = Console()
    new_page.on("console", lambda m: console.errors.append(m.text) if m.type == "error" else None)
    new_page.on("pageerror", lambda e: console.errors.append(f"page error: {e}"))
    new_page.console = console
    new_page.set_default_timeout(15_000)
    yield new_page
    context.close()


def update_screenshots() -> bool:
    """Whether this run refreshes docs/screenshots (CTO_UPDATE_SCREENSHOTS=1)."""
    return os.environ.get("CTO_UPDATE_SCREENSHOTS") == "1"
