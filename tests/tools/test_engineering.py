"""Engineering tools on a real SQLite store: hand-built rows, and the demo world's storylines."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import cto_assistant.tools.engineering  # noqa: F401  (registers the tools)
from cto_assistant.settings import Settings
from cto_assistant.store import Store, open_store
from cto_assistant.store.db import upsert
from cto_assistant.store.lead_time_facts import (
    forget_all_lead_time_facts,
    refresh_lead_time_facts,
    refresh_stale_lead_time_facts,
)
from cto_assistant.tools.base import REGISTRY, ToolContext, ToolStatus, call_tool
from cto_assistant.tools.engineering import engineering_summary

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)
H = timedelta(hours=1)
D = timedelta(days=1)
TOOLS = (
    "dora_metrics",
    "epic_status",
    "sprint_status",
    "ticket_lifecycle",
    "code_quality",
    "pr_insights",
    "delivery_data_quality",
)


@pytest.fixture
def ctx(sqlite_store: Store) -> Iterator[ToolContext]:
    with sqlite_store.session() as session:
        yield ToolContext(session=session, settings=Settings(demo=True), now=NOW)


def put(ctx: ToolContext, table: str, rows: list[dict[str, Any]]) -> None:
    upsert(ctx.session, table, [dict(row, source=row.pop("source", "t")) for row in rows])
    ctx.session.flush()


def org(ctx: ToolContext) -> None:
    put(
        ctx,
        "team",
        [
            {"source_id": "PAY", "key": "PAY", "name": "Payments"},
            {"source_id": "PLAT", "key": "PLAT", "name": "Platform"},
        ],
    )
    put(
        ctx,
        "service",
        [
            {
                "source_id": "s1",
                "name": "payments-api",
                "team_key": "PAY",
                "repo": "acme/payments-api",
            },
            {"source_id": "s2", "name": "api-gateway", "team_key": "PLAT"},
        ],
    )
    put(
        ctx,
        "repository",
        [
            {
                "source_id": "r1",
                "provider": "github",
                "full_name": "acme/payments-api",
                "service": "payments-api",
                "team_key": "PAY",
            }
        ],
    )


def delivery(ctx: ToolContext, *, incidents: bool = True) -> None:
    org(ctx)
    d1, d2 = NOW - 6 * D, NOW - 2 * D
    put(
        ctx,
        "deployment",
        [
            {
                "source_id": "100",
                "service": "payments-api",
                "environment": "production",
                "status": "success",
                "finished_at": d1,
                "sha": "m1",
            },
            {
                "source_id": "101",
                "service": "payments-api",
                "environment": "production",
                "status": "success",
                "finished_at": d2,
                "sha": "m2",
            },
            {
                "source_id": "102",
                "service": "payments-api",
                "environment": None,
                "status": "success",
                "finished_at": d2,
            },
            {
                "source_id": "103",
                "service": "api-gateway",
                "environment": "prod",
                "status": "success",
                "finished_at": d2,
            },
        ],
    )
    put(
        ctx,
        "pull_request",
        [
            {
                "source_id": "PR1",
                "repo": "acme/payments-api",
                "number": 1,
                "state": "merged",
                "created_at": d1 - 20 * H,
                "first_commit_at": d1 - 30 * H,
                "first_review_at": d1 - 18 * H,
                "merged_at": d1 - 10 * H,
                "merge_commit_sha": "m1",
            },
            {
                "source_id": "PR2",
                "repo": "acme/payments-api",
                "number": 2,
                "state": "merged",
                "created_at": d2 - 5 * H,
                "first_review_at": d2 - 4 * H,
                "merged_at": d2 - 2 * H,
                "merge_commit_sha": "m2",
            },  # squash-merged: no commits known
            {
                "source_id": "PR3",
                "repo": "acme/payments-api",
                "number": 3,
                "state": "open",
                "created_at": NOW - 30 * H,
            },
        ],
    )
    put(
        ctx,
        "commit",
        [
            {
                "source_id": "c1",
                "sha": "c1",
                "repo": "acme/payments-api",
                "authored_at": d1 - 40 * H,
                "pr_number": 1,
            }
        ],
    )
    put(
        ctx,
        "deployment_change",
        [
            {
                "source_id": "100:c1",
                "deployment_source_id": "100",
                "repo": "acme/payments-api",
                "sha": "c1",
                "pr_number": 1,
            },
            {
                "source_id": "100:m1",
                "deployment_source_id": "100",
                "repo": "acme/payments-api",
                "sha": "m1",
                "pr_number": 1,
            },
            {
                "source_id": "101:m2",
                "deployment_source_id": "101",
                "repo": "acme/payments-api",
                "sha": "m2",
                "pr_number": 2,
            },
        ],
    )
    if incidents:
        put(
            ctx,
            "incident",
            [
                {
                    "source_id": "P1",
                    "key": "INC-1",
                    "service": "payments-api",
                    "title": "5xx",
                    "status": "resolved",
                    "triggered_at": d2 + H,
                    "resolved_at": d2 + 4 * H,
                },
                {
                    "source_id": "P2",
                    "key": "INC-2",
                    "service": None,
                    "title": "mystery",
                    "status": "resolved",
                    "triggered_at": d2 + 2 * H,
                    "resolved_at": d2 + 3 * H,
                },
            ],
        )


def test_every_tool_is_registered_with_a_docstring() -> None:
    for name in TOOLS:
        assert REGISTRY[name].description and REGISTRY[name].domain == "delivery"


def test_nothing_synced_is_no_data(ctx: ToolContext) -> None:
    for name, args in [
        ("dora_metrics", {}),
        ("ticket_lifecycle", {}),
        ("code_quality", {}),
        ("delivery_data_quality", {}),
        ("sprint_status", {}),
    ]:
        result = call_tool(name, ctx, args)
        assert result.status is ToolStatus.NO_DATA, name


def test_unknown_team_lists_close_candidates(ctx: ToolContext) -> None:
    org(ctx)
    result = call_tool("dora_metrics", ctx, {"team": "paymnts"})
    assert result.status is ToolStatus.NO_DATA
    assert result.data["candidates"][0] == "Payments (PAY)"
    assert "Did you mean" in result.summary
    assert call_tool("epic_status", ctx, {"epic": "nope"}).status is ToolStatus.NO_DATA


def test_dora_for_a_team_by_name_hand_computed(ctx: ToolContext) -> None:
    delivery(ctx)
    result = call_tool("dora_metrics", ctx, {"team": "payments"})
    assert result.status is ToolStatus.OK, result.summary
    report = result.data["report"]
    assert report["scope"] == "team PAY"
    assert report["deployments"] == 2  # the deploy without environment does not count
    # PR 1: first commit (c1, 40 h before the deploy) → deploy: 40 h; PR 2 squash: merge → 2 h
    assert report["lead_time_stats"]["median"] == pytest.approx(21 * 3600)
    assert report["squash_fallback_changes"] == 1
    assert report["change_failure_rate"]["numerator"] == 1
    assert report["change_failure_rate"]["n"] == 2
    assert report["failures"][0]["detected_by"][0]["method"] == "incident_nearest"
    assert report["failed_deployment_recovery"]["value"] == 4 * 3600
    assert result.summary.startswith("0.5 deploys/week")
    assert "50% change failure rate (1 of 2)" in result.summary
    assert result.chart and result.chart["$schema"].endswith("v6.json")
    assert [row["service"] for row in result.data["breakdown"]] == ["payments-api"]


def test_dora_for_the_company_breaks_down_by_team(ctx: ToolContext) -> None:
    delivery(ctx)
    result = call_tool("dora_metrics", ctx, {})
    assert result.data["report"]["deployments"] == 3
    assert {row["team"] for row in result.data["breakdown"]} == {"PAY", "PLAT"}
    service = call_tool("dora_metrics", ctx, {"service": "API-GATEWAY"})
    assert service.data["report"]["scope"] == "service api-gateway"


def test_without_incident_source_stability_is_na_not_zero(ctx: ToolContext) -> None:
    delivery(ctx, incidents=False)
    result = call_tool("dora_metrics", ctx, {"team": "PAY"})
    cfr = result.data["report"]["change_failure_rate"]
    assert cfr["value"] is None and cfr["na_reason"] == "N/A: no incident source"
    assert "N/A: no incident source" in result.summary


def test_delivery_data_quality_finds_each_problem(ctx: ToolContext) -> None:
    delivery(ctx)
    put(
        ctx,
        "deployment",
        [
            {
                "source_id": "104",
                "service": "payments-api",
                "environment": "production",
                "status": "success",
                "finished_at": NOW - H,
            }
        ],
    )
    result = call_tool("delivery_data_quality", ctx, {})
    checks = {c["check"]: c for c in result.data["checks"]}
    assert checks["deployments_without_environment"]["count"] == 1
    assert checks["production_deploys_without_commits"]["count"] == 2  # 103 and 104
    assert checks["incidents_without_service"]["examples"] == ["INC-2 mystery"]
    assert checks["squash_merged_prs_lead_time_from_merge"]["examples"] == ["acme/payments-api#2"]
    assert result.summary[0].isdigit()


def test_pr_insights_for_a_repo_short_name(ctx: ToolContext) -> None:
    delivery(ctx)
    result = call_tool("pr_insights", ctx, {"repo": "payments-api"})
    assert result.status is ToolStatus.OK
    assert result.data["overall"]["merged"] == 2
    assert result.data["waiting_total"] == 1
    assert result.data["overall"]["deploy"]["n"] == 2


# ------------------------------------------------------------------------------- demo world

DEMO_TODAY = date(2026, 3, 2)


def _recent(table: str, row: dict[str, Any], now: datetime, keep: set[str]) -> bool:
    if table == "deployment":
        return row["finished_at"] is not None and row["finished_at"] >= now - timedelta(days=65)
    if table == "deployment_change":
        return row["deployment_source_id"] in keep
    if table == "pull_request":
        return row["created_at"] >= now - timedelta(days=120)
    if table == "review":
        return row["submitted_at"] is not None and row["submitted_at"] >= now - timedelta(days=31)
    return True


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, Any]]:
    """The demo world upserted into SQLite (delivery rows trimmed to the last ~2 months)."""
    from cto_assistant.demo.world import build_world

    world = build_world(seed=42, today=DEMO_TODAY)
    store = open_store(f"sqlite:///{Path(tmp_path_factory.mktemp('demo')) / 'cto.db'}")
    keep: set[str] = set()
    with store.session() as session:
        for table in (
            "team",
            "service",
            "repository",
            "deployment",
            "deployment_change",
            "pull_request",
            "review",
            "incident",
            "sprint",
            "epic",
            "ticket",
            "ticket_transition",
            "quality_snapshot",
        ):
            rows = [
                dict(r, source="demo")
                for r in world.rows(table)
                if _recent(table, r, world.now, keep)
            ]
            if table == "deployment":
                keep = {r["source_id"] for r in rows}
            upsert(session, table, rows)
    yield store, world
    store.dispose()


@pytest.fixture
def demo_ctx(demo: tuple[Store, Any]) -> Iterator[ToolContext]:
    store, world = demo
    with store.session() as session:
        yield ToolContext(session=session, settings=Settings(demo=True), now=world.now)


def test_demo_dora_storylines(demo_ctx: ToolContext, demo: tuple[Store, Any]) -> None:
    stories = demo[1].extras["storylines"]
    result = call_tool("dora_metrics", demo_ctx, {})
    levels = {row["team"]: row["level"] for row in result.data["breakdown"]}
    assert levels[stories["medium_team"]] == "medium"
    assert [team for team, level in levels.items() if level == "elite"] == [stories["elite_team"]]
    assert sum(1 for level in levels.values() if level == "high") >= len(levels) - 2
    mobile = call_tool("dora_metrics", demo_ctx, {"team": "mobile"})
    cfr = mobile.data["report"]["change_failure_rate"]
    assert cfr["trend"] == "rising" and cfr["value"] > cfr["previous_value"]
    assert mobile.data["report"]["overall_level"] == "medium"
    assert "Mobile is medium" in mobile.summary


def test_dora_answers_are_the_same_from_live_and_refreshed_lead_time_facts(
    ctx: ToolContext,
) -> None:
    delivery(ctx)
    scopes: list[dict[str, Any]] = [{}, {"team": "PAY"}, {"service": "payments-api"}]
    live = [call_tool("dora_metrics", ctx, args).payload() for args in scopes]
    assert [answer["status"] for answer in live] == ["ok"] * len(scopes)
    assert refresh_lead_time_facts(ctx.session) == 2  # the deployments carrying changes
    assert [call_tool("dora_metrics", ctx, args).payload() for args in scopes] == live


def test_demo_dora_is_the_same_from_live_and_refreshed_lead_time_facts(
    demo_ctx: ToolContext, demo: tuple[Store, Any]
) -> None:
    store = demo[0]
    scopes: list[dict[str, Any]] = [
        {},
        {"days": 90},
        {"team": "mobile"},
        {"service": "checkout-service"},
    ]
    live = [call_tool("dora_metrics", demo_ctx, args).payload() for args in scopes]
    assert [answer["status"] for answer in live] == ["ok"] * len(scopes)
    assert refresh_stale_lead_time_facts(store.session) > 0
    try:
        fresh = [call_tool("dora_metrics", demo_ctx, args).payload() for args in scopes]
    finally:  # the module's store as the other tests found it: every fact still to compute
        with store.session() as session:
            forget_all_lead_time_facts(session)
    assert fresh == live


def test_demo_slipping_epic_forecast_after_due_date(demo_ctx: ToolContext) -> None:
    result = call_tool("epic_status", demo_ctx, {"epic": "q2-payments-refactor"})
    assert result.status is ToolStatus.OK
    data = result.data
    assert 0.6 <= data["progress"] <= 0.8
    assert data["forecast"]["verdict"] == "late"
    assert data["forecast"]["p50_date"] > data["due_date"]
    assert result.summary.endswith("late.")


def test_demo_sprint_lifecycle_quality_and_prs(demo_ctx: ToolContext) -> None:
    sprint = call_tool("sprint_status", demo_ctx, {"team": "PAY"})
    assert sprint.status is ToolStatus.OK and len(sprint.data["sprints"]) == 1
    assert sprint.data["sprints"][0]["committed_points"] > 0
    life = call_tool("ticket_lifecycle", demo_ctx, {"team": "PAY", "days": 30})
    assert life.data["completed"] > 0 and life.data["time_in_status"]
    quality = call_tool("code_quality", demo_ctx, {})
    failing = {o["repo"] for o in quality.data["worst"] if o["reason"] == "quality gate failing"}
    assert failing == {"acme/billing-service", "acme/android-app", "acme/marketing-site"}
    prs = call_tool("pr_insights", demo_ctx, {"team": "checkout"})
    assert prs.data["overall"]["merged"] > 0
    assert 0 < prs.data["overall"]["top20_review_share"] <= 1


def test_demo_engineering_summary(demo_ctx: ToolContext) -> None:
    summary = engineering_summary(demo_ctx)
    assert summary["dora"]["level"] in ("elite", "high")
    assert "MOB" in summary["rising_change_failure"]
    slipping = {e["epic"]: e for e in summary["epics_at_risk"]}
    assert slipping["Q2-Payments-Refactor"]["verdict"] == "late"
    assert summary["failing_quality_gates"] == 3
