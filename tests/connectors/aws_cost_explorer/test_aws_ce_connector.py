"""AWS Cost Explorer connector: real boto3 (SigV4, awsJson1_1) against the simulator on loopback."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from cto_assistant.connectors.aws_cost_explorer import (
    AwsCostExplorerConfig,
    AwsCostExplorerConnector,
    mapping,
)
from cto_assistant.connectors.base import Checkpoint, ConnectorContext, Record
from cto_assistant.demo.simulators.aws_ce import DEMO_CREDENTIALS, make_app
from cto_assistant.demo.simulators.common import ServedApp, SimulatorState, serve
from cto_assistant.demo.world import World
from cto_assistant.errors import AuthError, RateLimitedError, SchemaDriftError, UpstreamError

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
TODAY = NOW.date()
SP_ID = "5f0e2c5c-1b7a-4b8e-9d1a-2f8f4b1e6c01"
ACCOUNTS = ["111111111111", "222222222222", "333333333333"]
SERVICES = [
    "Amazon Simple Storage Service",
    "Amazon Elastic Compute Cloud - Compute",
    "Amazon Relational Database Service",
]


def ce_world(days: int = 10) -> World:
    """AWS daily costs across 3 accounts x 2 regions x 3 services x a project tag, plus extras."""
    costs = []
    for d in range(days):
        day = TODAY - timedelta(days=d)
        for a, account in enumerate(ACCOUNTS):
            for r, region in enumerate(["us-east-1", "eu-west-1"]):
                if account == ACCOUNTS[2] and region == "eu-west-1":
                    continue  # 5 active pairs
                for s, service in enumerate(SERVICES):
                    project = ["data-processing-pipeline", "checkout", None][(a + r + s) % 3]
                    tags = {"project": project} if project else {}
                    unblended = round(10.0 + d * 1.5 + a * 3 + r + s * 0.25, 4)
                    costs.append(
                        {
                            "source_id": f"{day}:{account}:{region}:{service}",
                            "day": day,
                            "provider": "aws",
                            "account": account,
                            "service": service,
                            "region": region,
                            "usage_type": None,
                            "tags": tags,
                            "team": None,
                            "project": project,
                            "amortized_cost": round(unblended * 0.9, 4),
                            "unblended_cost": unblended,
                            "currency": "USD",
                            "import_batch": None,
                        }
                    )
        costs.append(
            {
                "source_id": f"{day}:support",
                "day": day,
                "provider": "aws",
                "account": ACCOUNTS[0],
                "service": "AWS Support (Business)",
                "region": None,
                "usage_type": None,
                "tags": {},
                "team": None,
                "project": None,
                "amortized_cost": 3.0,
                "unblended_cost": 3.0,
                "currency": "USD",
                "import_batch": None,
            }
        )
    costs.append({**costs[0], "source_id": "gcp-row", "provider": "gcp"})  # not served by CE
    anomalies = [
        {
            "source_id": f"anomaly-{i}",
            "detector": "aws",
            "start_day": TODAY - timedelta(days=3 * i + 1),
            "end_day": None if i == 0 else TODAY - timedelta(days=3 * i),
            "expected": 100.0,
            "actual": 140.0 + i,
            "impact": 40.0 + i,
            "dimension": {
                "monitor_arn": "arn:aws:ce::111111111111:anomalymonitor/s3",
                "dimension_value": "Amazon Simple Storage Service",
            },
            "root_causes": [
                {
                    "service": "Amazon Simple Storage Service",
                    "region": "us-east-1",
                    "account": ACCOUNTS[0],
                    "usage_type": "USE1-TimedStorage-ByteHrs",
                }
            ],
        }
        for i in range(5)
    ]
    recommendations = [
        {
            "source_id": "i-0123456789abcdef0",
            "kind": "rightsizing",
            "resource": "etl-worker-1",
            "account": ACCOUNTS[1],
            "region": "us-east-1",
            "summary": "",
            "estimated_monthly_saving": 142.5,
            "currency": "USD",
            "details": {
                "current_type": "m5.4xlarge",
                "target_type": "m5.2xlarge",
                "monthly_cost": 560.0,
            },
        },
        {
            "source_id": "i-0fedcba9876543210",
            "kind": "rightsizing",
            "resource": "old-bastion",
            "account": ACCOUNTS[0],
            "region": "eu-west-1",
            "summary": "",
            "estimated_monthly_saving": 61.0,
            "currency": "USD",
            "details": {"current_type": "t3.large", "target_type": None, "monthly_cost": 61.0},
        },
        {
            "source_id": SP_ID,
            "kind": "savings_plan",
            "resource": "COMPUTE_SP",
            "account": ACCOUNTS[0],
            "region": None,
            "summary": "",
            "estimated_monthly_saving": 830.0,
            "currency": "USD",
            "details": {"hourly_commitment": 4.2, "estimated_roi": 27.5},
        },
    ]
    return World.from_rows(
        {"cost_daily": costs, "cost_anomaly": anomalies, "cost_recommendation": recommendations},
        today=TODAY,
    )


class FakeSleep:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def connector_for(
    base_url: str,
    *,
    sleep: FakeSleep | None = None,
    key: str | None = None,
    transport: httpx.BaseTransport | None = None,
    **extra: Any,
) -> AwsCostExplorerConnector:
    config = AwsCostExplorerConfig(
        base_url=base_url,
        access_key_id=key or DEMO_CREDENTIALS["access_key_id"],
        secret_access_key=DEMO_CREDENTIALS["secret_access_key"],
        max_attempts=3,
        history_days=14,
        **extra,
    )
    connector = AwsCostExplorerConnector(
        ConnectorContext(name="aws", config=config, sleep=sleep or FakeSleep(), transport=transport)
    )
    connector.clock = lambda: NOW
    return connector


def pull(
    connector: AwsCostExplorerConnector, stream: str, since: str | None = None
) -> tuple[list[dict[str, Any]], list[str]]:
    rows, cursors = [], []
    for item in connector.pull(stream, since):
        if isinstance(item, Record):
            rows.append(dict(item.values))
        elif isinstance(item, Checkpoint):
            cursors.append(item.cursor)
    return rows, cursors


@pytest.fixture
def served() -> Iterator[tuple[ServedApp, SimulatorState, World]]:
    world = ce_world()
    app = make_app(world, page_size=7)
    running = serve(app)
    try:
        yield running, app.state.sim, world
    finally:
        running.stop()


def _key(row: dict[str, Any]) -> tuple[Any, ...]:
    return (row["day"], row["account"], row["region"], row["service"], row["project"])


def test_daily_costs_round_trip_through_real_boto3(
    served: tuple[ServedApp, SimulatorState, World],
) -> None:
    running, sim, world = served
    rows, cursors = pull(connector_for(running.base_url), "costs")
    expected: dict[tuple[Any, ...], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for row in world.rows("cost_daily"):
        if row["provider"] == "aws":
            expected[_key(row)][0] += row["amortized_cost"]
            expected[_key(row)][1] += row["unblended_cost"]
    got = {_key(r): [r["amortized_cost"], r["unblended_cost"]] for r in rows}
    assert got.keys() == expected.keys()
    for key, (amortized, unblended) in expected.items():
        assert got[key] == pytest.approx([amortized, unblended])
    assert len({r["source_id"] for r in rows}) == len(rows)
    support = next(r for r in rows if r["service"] == "AWS Support (Business)")
    assert support["region"] is None and support["tags"] == {}
    tagged = next(r for r in rows if r["project"] == "data-processing-pipeline")
    assert tagged["tags"] == {"project": "data-processing-pipeline"} and tagged["provider"] == "aws"
    assert cursors == [TODAY.isoformat()]
    # 1 discovery call (pages of 7 groups) + 1 call per (account, region) pair, each paged.
    calls = sim.request_count("/")
    assert calls > 1 + 6  # 6 pairs incl. the global NoRegion one, several paged


def test_requests_per_daily_sync_are_counted(
    served: tuple[ServedApp, SimulatorState, World],
) -> None:
    _running, sim, world = served
    app = make_app(world)  # CE's real page size: no paging at this size
    with_paging = sim
    big = serve(app)
    try:
        connector = connector_for(big.base_url)
        for stream in ("costs", "forecast", "anomalies", "recommendations"):
            pull(connector, stream, TODAY.isoformat() if stream in ("costs", "anomalies") else None)
        # 1 discovery + 6 pairs (5 regional + the global NoRegion one), forecast 1, anomalies 1, recs 2.
        assert app.state.sim.request_count("/") == 1 + 6 + 1 + 1 + 2
    finally:
        big.stop()
    assert with_paging.request_count("/") == 0


def test_incremental_sync_repulls_only_the_restated_days(
    served: tuple[ServedApp, SimulatorState, World],
) -> None:
    running, _sim, _world = served
    rows, _ = pull(
        connector_for(running.base_url, restate_days=2),
        "costs",
        (TODAY - timedelta(days=1)).isoformat(),
    )
    assert {r["day"] for r in rows} == {TODAY - timedelta(days=d) for d in range(4)}


def test_forecast_anomalies_and_recommendations(
    served: tuple[ServedApp, SimulatorState, World],
) -> None:
    running, _sim, world = served
    connector = connector_for(running.base_url, page_size=2)
    (forecast,), _ = pull(connector, "forecast")
    assert forecast["period_start"] == TODAY and forecast["period_end"] == date(2026, 2, 1)
    daily = [
        sum(
            r["unblended_cost"]
            for r in world.rows("cost_daily")
            if r["provider"] == "aws" and r["day"] == TODAY - timedelta(days=d)
        )
        for d in range(1, 15)
    ]
    assert forecast["amount"] == pytest.approx(sum(daily) / 14 * 17, rel=1e-6)
    assert forecast["lower"] < forecast["amount"] < forecast["upper"]
    anomalies, cursors = pull(connector, "anomalies")
    expected = sorted(world.rows("cost_anomaly"), key=lambda r: r["source_id"])
    assert sorted(anomalies, key=lambda r: r["source_id"]) == [
        {"source": "aws", **r} for r in expected
    ]
    assert cursors == [TODAY.isoformat()]
    recs, _ = pull(connector, "recommendations")
    by_id = {r["source_id"]: r for r in recs}
    assert by_id["i-0123456789abcdef0"]["estimated_monthly_saving"] == 142.5
    assert (
        by_id["i-0123456789abcdef0"]["summary"]
        == "Downsize etl-worker-1 from m5.4xlarge to m5.2xlarge"
    )
    assert by_id["i-0fedcba9876543210"]["details"]["action"] == "terminate"
    assert (
        by_id[SP_ID]["kind"] == "savings_plan" and by_id[SP_ID]["estimated_monthly_saving"] == 830.0
    )
    for row in world.rows("cost_recommendation"):
        got = by_id[row["source_id"]]
        assert (got["kind"], got["resource"], got["account"], got["region"]) == (
            row["kind"],
            row["resource"],
            row["account"],
            row["region"],
        )


def test_throttling_waits_retry_after_then_gives_up(
    served: tuple[ServedApp, SimulatorState, World],
) -> None:
    running, sim, _ = served
    sleep = FakeSleep()
    sim.add_fault("rate_limit", times=1, path_prefix="/", retry_after=4)
    rows, _ = pull(connector_for(running.base_url, sleep=sleep), "forecast")
    assert len(rows) == 1 and sleep.calls == [4.0]
    sim.add_fault("rate_limit", times=None, path_prefix="/", retry_after=1)
    with pytest.raises(RateLimitedError, match="aws/anomalies"):
        pull(connector_for(running.base_url), "anomalies")


def test_server_errors_retry_then_fail(served: tuple[ServedApp, SimulatorState, World]) -> None:
    running, sim, _ = served
    sim.add_fault("server_error", times=1, path_prefix="/")
    rows, _ = pull(connector_for(running.base_url), "forecast")
    assert len(rows) == 1
    sim.add_fault("server_error", times=None, path_prefix="/", status=503)
    sleep = FakeSleep()
    with pytest.raises(UpstreamError, match="aws/forecast"):
        pull(connector_for(running.base_url, sleep=sleep), "forecast")
    assert len(sleep.calls) == 2


def test_bad_or_revoked_credentials_are_auth_errors(
    served: tuple[ServedApp, SimulatorState, World],
) -> None:
    running, sim, _ = served
    with pytest.raises(AuthError, match="aws/costs.*UnrecognizedClientException"):
        pull(connector_for(running.base_url, key="AKIAWRONGWRONGWRONG0"), "costs")
    sim.add_fault("auth_revoked", times=1, path_prefix="/")
    with pytest.raises(AuthError, match="aws/forecast"):
        pull(connector_for(running.base_url), "forecast")
    assert not connector_for(running.base_url, key="AKIAWRONGWRONGWRONG0").check()[0].ok
    assert connector_for(running.base_url).check()[0].ok


def test_missing_or_renamed_fields_are_schema_drift(
    served: tuple[ServedApp, SimulatorState, World],
) -> None:
    running, sim, _ = served
    sim.add_fault(
        "rename_field", times=1, path_prefix="/", field="ResultsByTime", new_field="Results"
    )
    with pytest.raises(SchemaDriftError, match="aws/costs") as caught:
        pull(connector_for(running.base_url), "costs")
    assert caught.value.field == "ResultsByTime"
    sim.add_fault("rename_field", times=1, path_prefix="/", field="AnomalyId", new_field="Id")
    with pytest.raises(SchemaDriftError, match="aws/anomalies"):
        pull(connector_for(running.base_url), "anomalies")
    sim.add_fault("malformed", times=1, path_prefix="/")
    with pytest.raises(SchemaDriftError, match="aws/forecast"):
        pull(connector_for(running.base_url), "forecast")


def test_in_process_transport_carries_signed_requests() -> None:
    world = ce_world(days=3)
    app = make_app(world)
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    # ASGITransport is async-only; serve it through a sync wrapper as the demo does.
    sync = _SyncASGI(transport)
    rows, _ = pull(connector_for("http://ce.simulator", transport=sync), "forecast")
    assert len(rows) == 1 and app.state.sim.request_count("/") == 1


class _SyncASGI(httpx.BaseTransport):
    """A sync httpx transport over an ASGI app (for tests and the in-process demo)."""

    def __init__(self, transport: httpx.ASGITransport) -> None:
        self.transport = transport

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        import anyio

        async def run() -> httpx.Response:
            response = await self.transport.handle_async_request(request)
            content = await response.aread()
            return httpx.Response(response.status_code, headers=response.headers, content=content)

        return anyio.run(run)


def test_malformed_cost_pages_are_schema_drift_naming_the_field() -> None:
    day = {"TimePeriod": {"Start": "2025-06-01"}}
    short_keys = {"ResultsByTime": [{**day, "Groups": [{"Keys": ["123456789012"]}]}]}
    with pytest.raises(SchemaDriftError, match="cost group #0 of ResultByTime #0 .*'Keys' has 1"):
        mapping.account_regions(short_keys, source="aws")
    bad_amount = {
        "Keys": ["Amazon S3", "team$pay"],
        "Metrics": {"AmortizedCost": {"Amount": {"value": 1}}},
    }
    with pytest.raises(SchemaDriftError) as caught:
        mapping.cost_rows(
            {"ResultsByTime": [{**day, "Groups": [bad_amount]}]},
            source="aws",
            account="123456789012",
            region="us-east-1",
            tag_key="team",
            team_tag_key="team",
            project_tag_key="project",
        )
    assert caught.value.field == "Metrics.AmortizedCost.Amount"
    assert "is an object, expected a finite number" in str(caught.value)
