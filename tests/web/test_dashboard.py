"""The dashboard API: layouts per user, widget states, timeline, data health, sources, charts."""

from __future__ import annotations

import dataclasses
import gzip
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from cto_assistant.store import Store
from cto_assistant.tools.base import REGISTRY, SourceRef, ToolContext, ToolResult, no_data, ok, tool
from cto_assistant.web import widgets as widget_module
from cto_assistant.web.api import dashboard as dashboard_api
from cto_assistant.web.widgets import DEFAULT_LAYOUT, WIDGETS, Widget
from tests.web.helpers import add_user, csrf_of, form_sign_in


@pytest.fixture
def signed_in(client: TestClient, sqlite_store: Store) -> TestClient:
    """A client signed in as an admin, with its CSRF header set."""
    add_user(sqlite_store, "ada", "admin")
    assert form_sign_in(client, "ada").status_code == 303
    client.headers["X-CSRF-Token"] = csrf_of(client)
    return client


@pytest.fixture
def fake_widgets(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Widget]]:
    """Extra widgets fed by test tools (registered for the test only)."""
    specs: dict[str, ToolResult] = {
        "t_fresh": ok({"rows": [{"name": "a"}]}, summary="1 row.", sources=[
            SourceRef(source="pagerduty", synced_at=datetime.now(UTC),
                      age_seconds=0.0)]),
        "t_failing": ok({"rows": []}, summary="stale rows.", sources=[
            SourceRef(source="datadog", synced_at=datetime(2025, 6, 1, tzinfo=UTC),
                      failing=True)]),
        "t_empty": no_data("No incidents."),
    }  # fmt: skip
    saved = dict(REGISTRY)
    for name, result in specs.items():

        def make(result: ToolResult = result) -> object:
            def answer(ctx: ToolContext) -> ToolResult:
                """A test tool."""
                return result.model_copy()

            return answer

        test_tool = make()
        test_tool.__name__ = name  # type: ignore[attr-defined]
        tool(domain="summary")(test_tool)  # type: ignore[arg-type]
    extra = {
        "w_fresh": Widget("w_fresh", "Fresh", "t_fresh", "Q fresh?"),
        "w_failing": Widget("w_failing", "Failing", "t_failing", "Q failing?"),
        "w_unconnected": Widget("w_unconnected", "Pages", "t_empty", "Q?", kinds=("pagerduty",)),
        "w_missing": Widget("w_missing", "Missing", "no_such_tool", "Q missing?"),
    }
    for key, value in extra.items():
        monkeypatch.setitem(WIDGETS, key, value)
    yield extra
    REGISTRY.clear()
    REGISTRY.update(saved)


def test_dashboard_requires_sign_in(client: TestClient) -> None:
    assert client.get("/api/dashboard").status_code == 401


def test_default_layout_until_the_user_saves_one(signed_in: TestClient) -> None:
    layout = signed_in.get("/api/dashboard/layout").json()
    assert layout["saved"] is False
    assert [item["id"] for item in layout["widgets"]] == list(DEFAULT_LAYOUT)


def test_layout_is_saved_per_user_and_cleaned(
    signed_in: TestClient, client: TestClient, sqlite_store: Store
) -> None:
    body = {"widgets": [
        {"id": "incidents", "w": 2, "h": 2, "options": {"team": "PAY", "bogus": "x"}},
        {"id": "no_such_widget"},
        {"id": "incidents"},
        {"id": "executive_summary", "w": 4},
    ]}  # fmt: skip
    saved = signed_in.put("/api/dashboard/layout", json=body)
    assert saved.status_code == 200, saved.text
    again = signed_in.get("/api/dashboard/layout").json()
    assert again["saved"] is True
    assert again["widgets"] == [
        {"id": "incidents", "w": 2, "h": 2, "options": {"team": "PAY"}},
        {"id": "executive_summary", "w": 4, "h": 1, "options": {}},
    ]
    add_user(sqlite_store, "bob", "viewer")
    with TestClient(signed_in.app) as other:
        form_sign_in(other, "bob")
        assert other.get("/api/dashboard/layout").json()["saved"] is False
    reset = signed_in.delete("/api/dashboard/layout")
    assert reset.json()["saved"] is False


def test_saving_a_layout_needs_the_csrf_token(signed_in: TestClient) -> None:
    del signed_in.headers["X-CSRF-Token"]
    assert signed_in.put("/api/dashboard/layout", json={"widgets": []}).status_code == 403


def test_layout_rejects_impossible_sizes(signed_in: TestClient) -> None:
    response = signed_in.put("/api/dashboard/layout", json={"widgets": [{"id": "dora", "w": 9}]})
    assert response.status_code == 422


def test_dashboard_returns_every_placed_widget_with_a_state(signed_in: TestClient) -> None:
    body = signed_in.get("/api/dashboard").json()
    assert set(body["widgets"]) == set(DEFAULT_LAYOUT)
    assert {info["id"] for info in body["catalog"]} == set(WIDGETS)
    for payload in body["widgets"].values():
        assert payload["state"] in {
            "ok", "empty", "stale", "failing", "not_configured", "unavailable", "error"
        }  # fmt: skip
        if payload["state"] == "ok":
            assert payload["status"] == "ok"
    assert body["elapsed_ms"] >= 0


def test_empty_store_shows_no_figures(signed_in: TestClient) -> None:
    """Without sources nothing looks measured: widgets say not connected, empty or unavailable."""
    body = signed_in.get("/api/dashboard").json()
    spend = body["widgets"]["cloud_spend"]
    assert spend["state"] in {"not_configured", "unavailable"}
    if spend["state"] == "not_configured":
        assert spend["problem"] == {
            "message": "AWS Cost Explorer or FOCUS billing export not connected",
            "link": "/settings",
        }
    summary = body["widgets"]["executive_summary"]
    assert summary["state"] in {"empty", "unavailable"}


def test_widget_states_follow_the_tool_envelope(
    signed_in: TestClient, fake_widgets: dict[str, Widget]
) -> None:
    fresh = signed_in.get("/api/widgets/w_fresh").json()
    assert fresh["state"] == "ok"
    assert fresh["data"] == {"rows": [{"name": "a"}]}
    assert fresh["sources"][0]["source"] == "pagerduty"
    assert fresh["age"] and fresh["age_seconds"] is not None

    failing = signed_in.get("/api/widgets/w_failing").json()
    assert failing["state"] == "failing"
    assert failing["problem"]["message"].startswith("datadog sync failing")
    assert failing["problem"]["link"] == "/data-health"

    unconnected = signed_in.get("/api/widgets/w_unconnected").json()
    assert unconnected["state"] == "not_configured"
    assert unconnected["problem"] == {"message": "PagerDuty not connected", "link": "/settings"}

    missing = signed_in.get("/api/widgets/w_missing").json()
    assert missing["state"] == "unavailable"
    assert "not available yet" in missing["problem"]["message"].lower()
    assert "data" not in missing


def test_unknown_widget_is_404(signed_in: TestClient) -> None:
    assert signed_in.get("/api/widgets/nope").status_code == 404
    assert signed_in.get("/api/widgets/dora/detail?key=x").status_code == 404


def test_widget_filters_only_pass_declared_arguments(
    signed_in: TestClient, fake_widgets: dict[str, Widget], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, object] = {}

    def capture(
        widget: Widget, ctx: ToolContext, options: dict[str, str] | None = None, **_: object
    ) -> dict:
        seen.update(options or {})
        return {"id": widget.id}

    monkeypatch.setattr(dashboard_api, "widget_payload", capture)
    signed_in.get("/api/widgets/dora?team=PAY&days=999&evil=1")
    assert seen == {"team": "PAY"}


def test_timeline_and_data_health_answer_on_an_empty_store(signed_in: TestClient) -> None:
    timeline = signed_in.get("/api/timeline?days=7").json()
    assert timeline["tool"] == "timeline"
    assert timeline["status"] == "no_data"
    assert timeline["data"]["counts"]["incident"] == 0
    health = signed_in.get("/api/data-health").json()
    assert health["freshness"]["status"] == "no_data"
    checks = {f["check"] for f in health["setup"]["data"]["findings"]}
    assert {"production_deploys_without_commits", "incidents_without_service",
            "services_without_team", "repos_without_service"} <= checks  # fmt: skip
    assert signed_in.get("/api/timeline?days=0").status_code == 422


def test_testing_a_connection_is_admin_only(
    signed_in: TestClient, client: TestClient, sqlite_store: Store
) -> None:
    assert signed_in.post("/api/sources/nope/check").status_code == 404
    add_user(sqlite_store, "vera", "viewer")
    with TestClient(signed_in.app) as viewer:
        form_sign_in(viewer, "vera")
        viewer.headers["X-CSRF-Token"] = csrf_of(viewer)
        assert viewer.post("/api/sources/nope/check").status_code == 403
        assert viewer.get("/api/sources").json()["sources"] == []


def test_vega_embed_bundle_is_served_compressed_and_cached(
    signed_in: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = b"export const vegaEmbed = () => 1;"
    monkeypatch.setattr(dashboard_api.VEGA_BUNDLE, "source", code)
    monkeypatch.setattr(dashboard_api.VEGA_BUNDLE, "gzipped", gzip.compress(code))
    response = signed_in.get("/api/charts/vega-embed.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert "max-age=86400" in response.headers["cache-control"]
    assert response.content == code  # the client decoded the gzip body
    assert response.headers["content-encoding"] == "gzip"


def test_pages_render_for_a_signed_in_user(signed_in: TestClient) -> None:
    for path, marker in (
        ("/timeline", "data-timeline"),
        ("/data-health", "data-health"),
        ("/settings", "data-settings"),
    ):
        page = signed_in.get(path)
        assert page.status_code == 200, path
        assert marker in page.text
        assert "<script>" not in page.text and "style=" not in page.text


def test_broken_tool_module_makes_widgets_unavailable_not_the_page(
    signed_in: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(widget_module, "_TOOL_MODULES", ("summary", "broken_for_test"))
    monkeypatch.setattr(widget_module, "_imported", set())
    monkeypatch.setattr(widget_module, "_failed", {})

    def explode(name: str) -> object:
        if name.endswith("broken_for_test"):
            raise SyntaxError("bad module")
        return __import__(name)

    monkeypatch.setattr(widget_module.importlib, "import_module", explode)
    assert signed_in.get("/api/dashboard").status_code == 200
    assert "cto_assistant.tools.broken_for_test" in widget_module._failed


@pytest.fixture
def many_slos(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, object]]]:
    """The SLO widget fed by a test tool with ten SLOs in every state."""
    statuses = [
        "ok",
        "no_data",
        "burning",
        "ok",
        "breached",
        "at_risk",
        "ok",
        "burning",
        "ok",
        "ok",
    ]
    rows: list[dict[str, object]] = [
        {"name": f"slo-{i}", "status": status, "budget_remaining": None if status == "no_data"
         else round(1 - i / 10, 2)}
        for i, status in enumerate(statuses)
    ]  # fmt: skip
    saved = dict(REGISTRY)

    def t_slos(ctx: ToolContext) -> ToolResult:
        """Ten SLOs."""
        return ok({"slos": rows}, summary="10 SLOs.")

    tool(domain="summary")(t_slos)
    monkeypatch.setitem(WIDGETS, "slos", dataclasses.replace(WIDGETS["slos"], tool="t_slos"))
    yield rows
    REGISTRY.clear()
    REGISTRY.update(saved)


def test_a_tile_gets_the_rows_it_draws_and_the_modal_gets_every_row(
    signed_in: TestClient, many_slos: list[dict[str, object]]
) -> None:
    tile = signed_in.get("/api/widgets/slos").json()
    assert tile["compact"] is True
    assert [row["status"] for row in tile["data"]["slos"]] == [
        "breached", "burning", "burning", "at_risk"
    ]  # fmt: skip
    assert tile["data"]["slos_total"] == 10
    on_grid = signed_in.get("/api/dashboard").json()["widgets"]["slos"]
    assert on_grid["data"] == tile["data"]
    full = signed_in.get("/api/widgets/slos?full=true").json()
    assert "compact" not in full and full["data"]["slos"] == many_slos


def test_a_total_the_tool_gave_for_a_list_it_cut_itself_is_kept() -> None:
    tile = WIDGETS["pr_flow"].grid
    assert tile is not None
    cut = tile({"waiting": [{"n": i} for i in range(50)], "waiting_total": 212, "teams": [{}] * 7})
    assert len(cut["waiting"]) == 5 and cut["waiting_total"] == 212
    assert len(cut["teams"]) == 5 and cut["teams_total"] == 7


def test_only_the_plain_widget_is_shared_not_one_with_free_text_filters(
    signed_in: TestClient, fake_widgets: dict[str, Widget], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[bool] = []

    def capture(
        widget: Widget, ctx: ToolContext, options: dict[str, str] | None = None, **_: object
    ) -> dict:
        seen.append(ctx.shared)
        return {"id": widget.id}

    monkeypatch.setattr(dashboard_api, "widget_payload", capture)
    signed_in.get("/api/widgets/dora")
    signed_in.get("/api/widgets/dora?team=made-up-by-anyone")
    assert seen == [True, False]
