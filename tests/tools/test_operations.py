"""Operations tools on a real SQLite store: hand-made rows, then the demo world's storylines."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from cto_assistant.settings import Settings
from cto_assistant.store import Store, open_store
from cto_assistant.store.db import upsert
from cto_assistant.store.models import SOURCED_TABLES
from cto_assistant.tools import operations
from cto_assistant.tools.base import REGISTRY, ToolContext, ToolStatus, call_tool

NOW = datetime(2026, 3, 18, 12, tzinfo=UTC)
TOOLS = [
    "cloud_spend",
    "explain_cost_change",
    "cost_anomalies",
    "cost_forecast",
    "savings_opportunities",
    "slo_status",
    "active_incidents",
    "incident_details",
    "incident_stats",
    "postmortems",
    "on_call",
    "infrastructure_health",
]


@pytest.fixture
def ctx(sqlite_store: Store) -> Iterator[ToolContext]:
    with sqlite_store.session() as session:
        yield ToolContext(session=session, settings=Settings(demo=True), now=NOW)


def cost_row(i: int, day: date, **values: Any) -> dict[str, Any]:
    row = {
        "source": "aws",
        "source_id": f"c{i}",
        "day": day,
        "provider": "aws",
        "account": "111",
        "service": "S3",
        "region": "us-east-1",
        "usage_type": "Storage",
        "tags": {},
        "team": None,
        "project": None,
        "amortized_cost": 1.0,
        "unblended_cost": 1.0,
    }
    row.update(values)
    return row


def test_every_tool_is_registered_documented_and_typed() -> None:
    for name in TOOLS:
        spec = REGISTRY[name]
        assert spec.domain == "operations" and spec.description
        assert spec.json_schema()["type"] == "object"


def test_nothing_synced_is_no_data_not_zero(ctx: ToolContext) -> None:
    for name in [
        "cloud_spend",
        "explain_cost_change",
        "cost_anomalies",
        "cost_forecast",
        "slo_status",
        "infrastructure_health",
        "on_call",
    ]:
        result = call_tool(name, ctx, {})
        assert result.status is ToolStatus.NO_DATA, (name, result.summary)
    assert call_tool("incident_details", ctx, {"incident": "INC-1"}).status is ToolStatus.NO_DATA


def test_unknown_team_or_grouping_is_an_error_envelope(ctx: ToolContext) -> None:
    upsert(ctx.session, "cost_daily", [cost_row(1, date(2026, 3, 1))])
    assert call_tool("cloud_spend", ctx, {"team": "nobody"}).status is ToolStatus.ERROR
    assert call_tool("cloud_spend", ctx, {"group_by": "colour"}).status is ToolStatus.ERROR


def test_totals_agree_to_the_cent_for_every_grouping(ctx: ToolContext) -> None:
    rows = []
    amounts = [0.01, 1234.567, 0.333, 99.999, 0.005, 17.25]
    for i in range(60):
        rows.append(
            cost_row(
                i,
                date(2026, 3, 1) + timedelta(days=i % 17),
                service=["S3", "EC2", "RDS"][i % 3],
                region=["us-east-1", "eu-west-1"][i % 2],
                account=["111", "222", "333", "444"][i % 4],
                provider=["aws", "gcp"][i % 2],
                team=[None, "PLAT", "DATA"][i % 3] if i % 5 else None,
                tags={"project": ["a", "b"][i % 2]} if i % 4 else {},
                amortized_cost=amounts[i % 6] * (i + 1),
                unblended_cost=amounts[i % 6],
            )
        )
    upsert(ctx.session, "cost_daily", rows)
    expected = sum(r["amortized_cost"] for r in rows)
    for group_by in [
        "service",
        "region",
        "account",
        "team",
        "provider",
        "tag:project",
        "usage_type",
    ]:
        result = call_tool(
            "cloud_spend",
            ctx,
            {"start": "2026-03-01", "end": "2026-03-17", "group_by": group_by, "top": 2},
        )
        report = result.data["report"]
        shown = sum(line["amount"] for line in report["lines"]) + (
            report["other"]["amount"] if report["other"] else 0.0
        )
        assert round(report["total"], 2) == round(expected, 2), group_by
        assert round(shown, 2) == round(expected, 2), group_by
    unblended = call_tool(
        "cloud_spend", ctx, {"start": "2026-03-01", "end": "2026-03-17", "cost_type": "unblended"}
    )
    assert round(unblended.data["report"]["total"], 2) == round(
        sum(r["unblended_cost"] for r in rows), 2
    )


def test_spend_compares_with_the_previous_period(ctx: ToolContext) -> None:
    rows = [
        cost_row(i, date(2026, 3, 1) + timedelta(days=i), amortized_cost=10.0) for i in range(14)
    ]
    upsert(ctx.session, "cost_daily", rows)
    result = call_tool("cloud_spend", ctx, {"start": "2026-03-08", "end": "2026-03-14"})
    report = result.data["report"]
    assert (report["total"], report["previous_total"]) == (70.0, 70.0)
    assert result.summary.startswith("$70 cloud spend")
    assert result.chart and result.chart["$schema"].endswith("v6.json")


def test_on_call_with_an_override_from_the_store(ctx: ToolContext) -> None:
    monday = datetime(2026, 3, 16, 9, tzinfo=UTC)
    upsert(
        ctx.session,
        "team",
        [{"source": "pd", "source_id": "PLAT", "key": "PLAT", "name": "platform"}],
    )
    upsert(
        ctx.session,
        "oncall_shift",
        [
            {
                "source": "pd",
                "source_id": "s1",
                "schedule": "P1",
                "team_key": "PLAT",
                "person": "bob@acme",
                "level": 1,
                "start_at": monday,
                "end_at": monday + timedelta(days=7),
            },
            {
                "source": "pd",
                "source_id": "s2",
                "schedule": "P1",
                "team_key": "PLAT",
                "person": "dee@acme",
                "level": 1,
                "start_at": NOW - timedelta(hours=1),
                "end_at": NOW + timedelta(hours=1),
                "is_override": True,
            },
        ],
    )
    now = call_tool("on_call", ctx, {"team": "platform"})
    assert [e["person"] for e in now.data["on_call"]] == ["dee@acme"]
    later = call_tool("on_call", ctx, {"team": "PLAT", "at": "2026-03-18T14:00:00"})
    assert [e["person"] for e in later.data["on_call"]] == ["bob@acme"]


# ------------------------------------------------------------------------- the demo world

SOURCES = {
    "cost_daily": "aws",
    "budget": "aws",
    "cost_anomaly": "aws",
    "cost_recommendation": "aws",
    "slo": "datadog",
    "sli_point": "datadog",
    "monitor": "datadog",
    "host_health": "datadog",
    "incident": "pagerduty",
    "incident_event": "pagerduty",
    "oncall_shift": "pagerduty",
    "person": "pagerduty",
    "service": "pagerduty",
    "team": "jira",
    "ticket": "jira",
    "deployment": "github",
}
BULK = {
    "cost_daily",
    "sli_point",
}  # big and fresh: plain INSERTs (upsert = insert on an empty store)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, Any]]:
    world_module = pytest.importorskip("cto_assistant.demo.world")
    world = world_module.build_world(seed=42, today=NOW.date())
    store = open_store(f"sqlite:///{Path(tmp_path_factory.mktemp('demo')) / 'cto.db'}")
    with store.session() as session:
        for table, source in SOURCES.items():
            rows = [{**row, "source": source, "synced_at": NOW} for row in world.rows(table)]
            if table in BULK:
                session.execute(sa.insert(SOURCED_TABLES[table].__table__), rows)  # type: ignore[attr-defined]
            else:
                upsert(session, table, rows)
    yield store, world
    store.dispose()


@pytest.fixture
def demo_ctx(demo: tuple[Store, Any]) -> Iterator[ToolContext]:
    with demo[0].session() as session:
        yield ToolContext(session=session, settings=Settings(demo=True), now=NOW)


def test_demo_explain_names_s3_us_east_1_and_the_project(demo_ctx: ToolContext) -> None:
    result = call_tool("explain_cost_change", demo_ctx, {})
    assert result.status is ToolStatus.OK
    text = result.summary
    assert "S3" in text and "us-east-1" in text and "data-processing-pipeline" in text
    change = result.data["attribution"]["change_pct"]
    assert 0.12 <= change <= 0.18
    assert text.startswith(f"Cloud spend is up {change * 100:.1f}% this week")
    assert result.data["possible_causes"] == [] or all(
        c["team"] == "DATA" for c in result.data["possible_causes"]
    )


def test_demo_projection_is_over_budget(demo_ctx: ToolContext) -> None:
    result = call_tool("cost_forecast", demo_ctx, {})
    projection = result.data["projection"]
    assert projection["over_budget"] is True
    assert projection["lower"] <= projection["projected_total"] <= projection["upper"]
    assert set(result.data["backtest"]["mape_by_cutoff_day"]) == {7, 14, 21}
    assert "over the" in result.summary
    # A year of history: the interval is weighed against the same day of the complete months
    # before (11 here), and the dashboard's call without a backtest serves the chat's interval.
    assert projection["calibration_months"] >= 5
    coverage = result.data["backtest"]["interval_coverage"]
    assert f"inside the interval {coverage * 100:.0f}% of the time" in result.summary
    quick = call_tool("cost_forecast", demo_ctx, {"backtest": False}).data["projection"]
    assert (quick["lower"], quick["upper"]) == (projection["lower"], projection["upper"])


def test_demo_payments_api_is_the_burning_slo(demo_ctx: ToolContext) -> None:
    result = call_tool("slo_status", demo_ctx, {})
    burning = [s["service"] for s in result.data["slos"] if s["status"] == "burning"]
    assert burning == ["payments-api"]
    assert "payments-api" in result.summary


def test_demo_has_exactly_one_active_sev2_on_checkout(demo_ctx: ToolContext) -> None:
    result = call_tool("active_incidents", demo_ctx, {})
    (incident,) = result.data["incidents"]
    assert (incident["severity"], incident["service"]) == ("SEV-2", "checkout-service")
    assert incident["assignee"] and incident["timeline"]
    details = call_tool("incident_details", demo_ctx, {"incident": incident["key"]})
    assert details.data["linked_deployment"] is not None


def test_demo_anomalies_find_the_s3_rise_beside_aws(demo_ctx: ToolContext) -> None:
    result = call_tool("cost_anomalies", demo_ctx, {})
    top = result.data["anomalies"][0]
    assert top["label"] == "S3 in us-east-1" and top["owner_team"] == "DATA"
    assert top["aws_agrees"], (result.data["anomalies"][:1], result.data["aws_anomalies"])


def test_demo_every_tool_answers_and_the_summary_is_degraded(demo_ctx: ToolContext) -> None:
    for name in [
        "cloud_spend",
        "savings_opportunities",
        "incident_stats",
        "postmortems",
        "on_call",
        "infrastructure_health",
    ]:
        result = call_tool(name, demo_ctx, {})
        assert result.status is ToolStatus.OK, (name, result.summary)
        result.payload()  # JSON-ready
    summary = operations.operations_summary(demo_ctx)
    assert summary["status"] == "degraded"
    assert summary["spend"]["over_budget"] is True
    assert next(s["service"] for s in summary["slos_at_risk"]) == "payments-api"


def test_every_default_widget_read_back_from_the_store_equals_the_computed_one(
    demo: tuple[Store, Any],
) -> None:
    """A process that just started shows the very dashboard another process computed."""
    from cto_assistant.tools.cache import ToolCache
    from cto_assistant.web.warm import compute_widgets
    from cto_assistant.web.widgets import DEFAULT_LAYOUT, WIDGETS

    store, world = demo
    settings = Settings(demo=True)
    placed = [(name, {}) for name in DEFAULT_LAYOUT]
    computing = ToolCache()
    computed = compute_widgets(store, settings, computing, placed, now=world.now, compact=True)
    assert computing.wait_shared(60)
    started = ToolCache()
    recalled = compute_widgets(store, settings, started, placed, now=world.now, compact=True)
    shareable = [n for n in DEFAULT_LAYOUT if ToolCache.cacheable(REGISTRY[WIDGETS[n].tool])]
    assert len(shareable) >= 8  # freshness reads the run log live
    assert started.recalled == len(shareable) and computing.recalled == 0

    def shown(widgets: dict[str, Any]) -> dict[str, Any]:
        return {
            name: {k: v for k, v in w.items() if k != "elapsed_ms"} for name, w in widgets.items()
        }

    assert shown(recalled) == shown(computed)
