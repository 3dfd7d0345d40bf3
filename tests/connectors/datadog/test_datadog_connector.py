"""Datadog connector: real cassettes replayed, the world round-trip through the simulator, faults."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
import yaml

from cto_assistant.connectors.base import Checkpoint, ConnectorContext, Record
from cto_assistant.connectors.datadog import DatadogConfig, DatadogConnector, mapping
from cto_assistant.demo.simulators.common import ServedApp
from cto_assistant.demo.world import World
from cto_assistant.errors import AuthError, SchemaDriftError, UpstreamError
from tests.conftest import vendor_spec

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


def datadog_world(incidents: int = 5) -> World:
    """A small Datadog world: 3 SLOs with hourly points, monitors, hosts, incidents."""
    slos = [
        {
            "source_id": f"slo{i:029d}",
            "service": svc,
            "name": f"{svc} availability",
            "target": tgt,
            "window_days": win,
            "sli_type": "availability",
            "tags": ["env:prod", f"team:{team}"],
        }
        for i, (svc, tgt, win, team) in enumerate(
            [
                ("payments-api", 0.999, 30, "PAY"),
                ("checkout-service", 0.995, 7, "CHK"),
                ("auth", 0.99, 90, "IDN"),
            ]
        )
    ]
    points = []
    for slo in slos[:2]:  # the third SLO has no data in the window
        for hour in range(48):
            at = NOW - timedelta(hours=48 - hour)
            points.append(
                {
                    "source_id": f"{slo['source_id']}:{int(at.timestamp()) * 1000}",
                    "slo_source_id": slo["source_id"],
                    "at": at,
                    "good": 1000.0 - (hour % 5),
                    "total": 1000.0,
                }
            )
    monitors = [
        {
            "source_id": str(1000 + i),
            "name": f"High error rate on svc-{i}",
            "service": f"svc-{i}",
            "type": "query alert",
            "state": ["OK", "Alert", "Warn", "No Data"][i % 4],
            "priority": (i % 5) + 1,
            "state_changed_at": NOW - timedelta(hours=i),
            "tags": ["env:prod", f"service:svc-{i}"],
        }
        for i in range(7)
    ]
    hosts = [
        {
            "source_id": str(5000 + i),
            "host": f"i-0abc{i:04d}",
            "service": f"svc-{i % 3}",
            "status": "up" if i % 4 else "down",
            "cpu_pct": 10.0 + i,
            "mem_pct": None,
            "last_reported_at": NOW - timedelta(minutes=i),
            "tags": ["env:prod", f"service:svc-{i % 3}"],
        }
        for i in range(5)
    ]
    incident_rows = [
        {
            "source_id": f"00000000-0000-5000-8000-{i:012d}",
            "key": f"IR-{100 + i}",
            "service": "payments-api",
            "team_key": "PAY",
            "title": f"Elevated 5xx #{i}",
            "severity": f"SEV-{(i % 4) + 1}",
            "urgency": None,
            "status": ["triggered", "acknowledged", "resolved"][i % 3],
            "triggered_at": NOW - timedelta(days=i + 1),
            "acknowledged_at": None,
            "resolved_at": NOW - timedelta(days=i) if i % 3 == 2 else None,
            "assignee": f"oncall{i % 2}@acme.example",
            "caused_by_deployment": None,
            "postmortem_url": None,
            "url": f"https://app.datadoghq.com/incidents/{100 + i}",
        }
        for i in range(incidents)
    ]
    pagerduty_incident = {**incident_rows[0], "source_id": "PD123", "key": "PD-1"}
    return World.from_rows(
        {
            "slo": slos,
            "sli_point": points,
            "monitor": monitors,
            "host_health": hosts,
            "incident": [*incident_rows, pagerduty_incident],
            "person": [
                {"source_id": "P1", "name": "Ada Admin", "email": "ada@acme.example"},
                {"source_id": "P2", "name": "Bob Nomfa", "email": "bob@acme.example"},
            ],
            "access_grant": access_grants(),
        },
        today=NOW.date(),
    )


def access_grants() -> list[dict[str, Any]]:
    """Datadog users: an admin, a user without MFA, one with two roles, a service account."""

    def grant(principal: str, **values: Any) -> dict[str, Any]:
        return {
            "source_id": f"datadog:{principal}",
            "system": "datadog",
            "principal": principal,
            "principal_type": "user",
            "person_email": principal,
            "role": "Datadog Standard Role",
            "privileged": False,
            "mfa": True,
            "last_used_at": NOW - timedelta(hours=3),
            "granted_at": datetime(2023, 4, 3, 10, 0, tzinfo=UTC),
            "key_created_at": None,
            **values,
        }

    return [
        grant("ada@acme.example", role="Datadog Admin Role", privileged=True),
        grant("bob@acme.example", mfa=False, last_used_at=NOW - timedelta(days=120)),
        grant("cara@acme.example", role="Datadog Standard Role, Acme Deployers"),
        grant(
            "ci-deployer",
            principal_type="service",
            person_email="sre@acme.example",
            role="Datadog Read Only Role",
            mfa=None,
            last_used_at=None,
        ),
        {**grant("PDADMIN1"), "source_id": "pagerduty:PDADMIN1", "system": "pagerduty"},
    ]


class FakeSleep:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def connector_for(
    base_url: str | None = None,
    *,
    transport: httpx.BaseTransport | None = None,
    page_size: int = 100,
    sleep: FakeSleep | None = None,
    **extra: Any,
) -> DatadogConnector:
    config = DatadogConfig(
        base_url=base_url or "",
        api_key="demo-dd-api-key",
        app_key="demo-dd-app-key",
        page_size=page_size,
        max_attempts=3,
        **extra,
    )
    connector = DatadogConnector(
        ConnectorContext(
            name="datadog", config=config, transport=transport, sleep=sleep or FakeSleep()
        )
    )
    connector.clock = lambda: NOW
    return connector


def records(items: Iterator[Record | Checkpoint]) -> tuple[list[dict[str, Any]], list[str]]:
    rows, cursors = [], []
    for item in items:
        if isinstance(item, Record):
            rows.append(dict(item.values))
        else:
            cursors.append(item.cursor)
    return rows, cursors


# ----------------------------------------------------------------------------- cassettes


def cassette_transport(*names: str) -> tuple[httpx.MockTransport, list[str]]:
    """Serve recorded responses: GETs matched on path and the query params the recording had."""
    recorded: list[tuple[str, dict[str, str], int, bytes]] = []
    for name in names:
        doc = yaml.safe_load(vendor_spec("datadog", "cassettes", *name.split("/")).read_text())
        for interaction in doc["interactions"]:
            request, response = interaction["request"], interaction["response"]
            # The recording creates its SLO first; that POST answers with the SLOListResponse
            # shape, so it stands in for the list call the connector makes.
            creates_slo = request["method"] == "POST" and request["uri"].endswith("/api/v1/slo")
            if request["method"] != "GET" and not creates_slo:
                continue
            parts = urlsplit(request["uri"])
            body = (
                response["body"]["string"]
                if isinstance(response["body"], dict)
                else response["body"]
            )
            recorded.append(
                (
                    parts.path,
                    dict(parse_qsl(parts.query)),
                    response["status"]["code"],
                    (body or "").encode(),
                )
            )
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["DD-API-KEY"] == "demo-dd-api-key"
        assert request.headers["DD-APPLICATION-KEY"] == "demo-dd-app-key"
        seen.append(str(request.url))
        query = dict(request.url.params)
        matches = [
            (len(params), status, body)
            for path, params, status, body in recorded
            if path == request.url.path
            and all(query.get(k) == v for k, v in params.items() if k != "ids")
        ]
        if matches:  # the most specific recording wins (page[offset]=2 over no offset)
            _, status, body = max(matches, key=lambda m: m[0])
            return httpx.Response(
                status, content=body, headers={"content-type": "application/json"}
            )
        return httpx.Response(
            200, json=[] if request.url.path == "/api/v1/monitor" else {"data": []}
        )

    return httpx.MockTransport(handler), seen


def test_recorded_slo_and_no_data_history_parse() -> None:
    transport, seen = cassette_transport("v1/get_an_slos_history_returns_ok_response.yaml")
    connector = connector_for("https://api.datadoghq.com", transport=transport, history_days=1)
    connector.clock = lambda: datetime.fromtimestamp(1704322488, tz=UTC)
    slos, _ = records(connector.pull("slos", None))
    assert slos == [
        {
            "source": "datadog",
            "source_id": "627a3ccd24af50beb8eacbd36c5962f9",
            "service": None,
            "name": "Test-Get_an_SLO_s_history_returns_OK_response-1704322488",
            "target": 0.95,
            "window_days": 7,
            "sli_type": "metric",
            "tags": [],
        }
    ]
    points, cursors = records(connector.pull("slo_history", None))
    # The recorded history has a series of zeros and `sli_value: null`: good=0/total=0 per point.
    assert len(points) == 13 and all(p["good"] == 0.0 and p["total"] == 0.0 for p in points)
    assert any("from_ts=1704236088&to_ts=1704322488" in url for url in seen)
    assert cursors == ["2024-01-03T22:54:48Z"]


def test_recorded_history_without_series_and_null_sli_gives_no_point() -> None:
    from cto_assistant.connectors.datadog.mapping import sli_points

    doc = yaml.safe_load(
        vendor_spec(
            "datadog", "cassettes", "v1", "get_an_slos_history_returns_ok_response.yaml"
        ).read_text()
    )
    import json

    body = json.loads(doc["interactions"][1]["response"]["body"]["string"])
    body["data"].pop("series")
    assert body["data"]["overall"]["sli_value"] is None
    assert sli_points(body, source="datadog", slo_id="x") == []
    body["data"]["overall"]["sli_value"] = 99.5
    (point,) = sli_points(body, source="datadog", slo_id="x")
    assert point["total"] == 86400 and point["good"] == pytest.approx(86400 * 0.995)


def test_recorded_monitor_and_incident_pages_parse() -> None:
    transport, seen = cassette_transport(
        "v1/get_all_monitors_returns_ok_response_with_pagination.yaml",
        "v2/get_a_list_of_incidents_returns_ok_response_with_pagination.yaml",
    )
    connector = connector_for("https://api.datadoghq.com", transport=transport, page_size=2)
    monitors, _ = records(connector.pull("monitors", None))
    assert [m["source_id"] for m in monitors][:2] == ["34822915", "34822916"]
    assert monitors[0]["state"] == "No Data" and monitors[0]["service"] is None
    assert monitors[0]["state_changed_at"] == datetime(2021, 5, 3, 13, 6, 23, tzinfo=UTC)
    incidents, cursors = records(connector.pull("incidents", None))
    assert len(incidents) == 3
    assert incidents[0]["key"] == "IR-62105" and incidents[0]["status"] == "triggered"
    assert incidents[0]["severity"] is None  # UNKNOWN
    assert incidents[0]["assignee"] == "9919ec9b-ebc7-49ee-8dc8-03626e717cca"  # no users included
    assert any("page%5Boffset%5D=2" in url for url in seen)
    assert cursors


# --------------------------------------------------------------------------- the world


def test_world_round_trips_through_the_simulator(
    served_world: tuple[ServedApp, Any, World],
) -> None:
    running, _sim, world = served_world
    connector = connector_for(running.base_url)

    def strip(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return sorted(
            ({k: v for k, v in r.items() if k != "source"} for r in rows),
            key=lambda r: r["source_id"],
        )

    slos, _ = records(connector.pull("slos", None))
    expected_slos = []
    for row in world.rows("slo"):
        expected_slos.append(
            {**row, "tags": [*row["tags"], f"service:{row['service']}", f"sli:{row['sli_type']}"]}
        )
    assert strip(slos) == strip(expected_slos)
    points, _ = records(connector.pull("slo_history", None))
    assert strip(points) == strip(list(world.rows("sli_point")))
    monitors, _ = records(connector.pull("monitors", None))
    assert strip(monitors) == strip(list(world.rows("monitor")))
    hosts, _ = records(connector.pull("hosts", None))
    assert strip(hosts) == strip(list(world.rows("host_health")))
    incidents, _ = records(connector.pull("incidents", None))
    expected = [r for r in world.rows("incident") if r["key"].startswith("IR-")]
    assert strip(incidents) == strip(expected)
    assert all(r["source"] == "datadog" for r in [*slos, *points, *monitors, *hosts, *incidents])


def test_pagination_crosses_page_boundaries(served_world: tuple[ServedApp, Any, World]) -> None:
    running, sim, _world = served_world
    connector = connector_for(running.base_url, page_size=2)
    monitors, _ = records(connector.pull("monitors", None))
    assert len(monitors) == 7
    assert sim.request_count("/api/v1/monitor") == 4  # 2+2+2+1
    hosts, _ = records(connector.pull("hosts", None))
    assert len(hosts) == 5 and sim.request_count("/api/v1/hosts") == 3
    incidents, _ = records(connector.pull("incidents", None))
    assert len(incidents) == 5 and sim.request_count("/api/v2/incidents") == 3
    slos, _ = records(connector.pull("slos", None))
    assert len(slos) == 3 and sim.request_count("/api/v1/slo") == 2


def test_incremental_resync_pulls_only_changes(served_world: tuple[ServedApp, Any, World]) -> None:
    running, sim, _world = served_world
    connector = connector_for(running.base_url)
    _, history_cursors = records(connector.pull("slo_history", None))
    _, incident_cursors = records(connector.pull("incidents", None))
    before = len(sim.requests)
    # Nothing new: the same clock, the stored cursors.
    points, _ = records(connector.pull("slo_history", history_cursors[-1]))
    incidents, cursors = records(connector.pull("incidents", incident_cursors[-1]))
    assert points == [] and incidents == [] and cursors == []
    # incidents: one listing page; slo_history: nothing is asked while the window is empty.
    assert sim.request_count("/api/v2/incidents") == 2
    assert len(sim.requests) - before == 1
    # Two hours later: the SLO list (one page), then one history call per SLO from the cursor.
    connector.clock = lambda: NOW + timedelta(hours=2)
    before = len(sim.requests)
    new_points, _ = records(connector.pull("slo_history", history_cursors[-1]))
    assert new_points == []  # the world has no points after NOW
    assert len(sim.requests) - before == 1 + 3
    first_slo_history = [r for r in sim.requests if "/history" in r.path][-1]
    assert f"from_ts={int(NOW.timestamp())}" in first_slo_history.query


def test_rate_limit_honours_retry_after(served_world: tuple[ServedApp, Any, World]) -> None:
    running, sim, _ = served_world
    sleep = FakeSleep()
    sim.add_fault("rate_limit", times=1, path_prefix="/api/v1/monitor", retry_after=7)
    rows, _ = records(connector_for(running.base_url, sleep=sleep).pull("monitors", None))
    assert len(rows) == 7 and sleep.calls == [7.0]


def test_persistent_5xx_is_an_upstream_error(served_world: tuple[ServedApp, Any, World]) -> None:
    running, sim, _ = served_world
    sim.add_fault("server_error", times=None, path_prefix="/api/v1/hosts", status=502)
    sleep = FakeSleep()
    with pytest.raises(UpstreamError, match="datadog/hosts"):
        records(connector_for(running.base_url, sleep=sleep).pull("hosts", None))
    assert len(sleep.calls) == 2  # three attempts
    sim.clear_faults()
    sim.add_fault("server_error", times=1, path_prefix="/api/v1/hosts")
    rows, _ = records(connector_for(running.base_url).pull("hosts", None))
    assert len(rows) == 5


def test_auth_failures_name_the_source(served_world: tuple[ServedApp, Any, World]) -> None:
    running, sim, _ = served_world
    sim.add_fault("auth_revoked", times=1, path_prefix="/api/v2/incidents")
    with pytest.raises(AuthError, match="datadog"):
        records(connector_for(running.base_url).pull("incidents", None))
    config = DatadogConfig(base_url=running.base_url, api_key="wrong", app_key="demo-dd-app-key")
    connector = DatadogConnector(ConnectorContext(name="dd-prod", config=config, sleep=FakeSleep()))
    with pytest.raises(AuthError, match="dd-prod/slos"):
        records(connector.pull("slos", None))
    assert {c.capability: c.ok for c in connector.check()} == dict.fromkeys(
        ["read SLOs", "read monitors", "read hosts", "read incidents", "read users"], False
    )


def test_schema_drift_names_stream_and_field(served_world: tuple[ServedApp, Any, World]) -> None:
    running, sim, _ = served_world
    sim.add_fault(
        "rename_field",
        times=1,
        path_prefix="/api/v1/monitor",
        field="overall_state",
        new_field="overallState",
    )
    with pytest.raises(SchemaDriftError, match="datadog/monitors") as caught:
        records(connector_for(running.base_url).pull("monitors", None))
    assert caught.value.field == "overall_state"
    sim.add_fault("malformed", times=1, path_prefix="/api/v1/hosts")
    with pytest.raises(SchemaDriftError, match="datadog/hosts"):
        records(connector_for(running.base_url).pull("hosts", None))
    sim.add_fault(
        "rename_field", times=1, path_prefix="/api/v1/hosts", field="host_list", new_field="hosts"
    )
    with pytest.raises(SchemaDriftError) as drift:
        records(connector_for(running.base_url).pull("hosts", None))
    assert drift.value.field == "host_list"


def test_site_sets_the_api_root_and_unknown_sites_are_refused() -> None:
    assert (
        DatadogConfig(site="datadoghq.eu", api_key="a", app_key="b").api_url
        == "https://api.datadoghq.eu"
    )
    assert (
        DatadogConfig(site="app.us5.datadoghq.com", api_key="a", app_key="b").api_url
        == "https://api.us5.datadoghq.com"
    )
    assert (
        DatadogConfig(
            site="ddog-gov.com", base_url="http://proxy:8080", api_key="a", app_key="b"
        ).api_url
        == "http://proxy:8080"
    )
    with pytest.raises(ValueError, match="unknown Datadog site"):
        DatadogConfig(site="datadoghq.org", api_key="a", app_key="b")


def test_check_passes_against_the_simulator(served_world: tuple[ServedApp, Any, World]) -> None:
    running, _, _ = served_world
    assert all(result.ok for result in connector_for(running.base_url).check())


def test_sync_engine_runs_every_stream_into_the_store(
    served_world: tuple[ServedApp, Any, World], sqlite_store: Any
) -> None:
    from cto_assistant.store import db
    from cto_assistant.sync.engine import SyncEngine

    running, _sim, _world = served_world
    engine = SyncEngine(sqlite_store, [connector_for(running.base_url, page_size=3)])
    results = engine.run()
    assert [r.stream for r in results] == [
        "slos",
        "slo_history",
        "monitors",
        "hosts",
        "incidents",
        "users",
    ]
    assert all(r.ok for r in results), [r.error for r in results]
    again = engine.run()
    assert all(r.ok for r in again)
    with sqlite_store.session() as session:
        tables = ("slo", "sli_point", "monitor", "host_health", "incident", "access_grant")
        counts = {t: db.count_rows(session, t) for t in tables}
    assert counts == {
        "slo": 3,
        "sli_point": 96,
        "monitor": 7,
        "host_health": 5,
        "incident": 5,
        "access_grant": 4,
    }
    assert engine.read_cursor("datadog", "slo_history") == "2026-01-15T12:00:00Z"


def test_malformed_slos_and_history_are_schema_drift_naming_the_field() -> None:
    threshold = {"timeframe": "30d", "target": "high"}
    with pytest.raises(SchemaDriftError, match="SLO threshold #0 of SLO s1: 'target' is a string"):
        mapping.slo(
            {"id": "s1", "name": "n", "type": "metric", "thresholds": [threshold]}, source="dd"
        )
    series = {"times": [10**20], "numerator": {"values": [1]}, "denominator": {"values": [2]}}
    with pytest.raises(SchemaDriftError, match="'data.series.times.0' is out of range") as caught:
        mapping.sli_points({"data": {"series": series}}, source="dd", slo_id="s1")
    assert caught.value.field == "data.series.times.0"
    with pytest.raises(SchemaDriftError, match="tag list: 'tags' is a number"):
        mapping.tag_value(5, "service")  # type: ignore[arg-type]
