"""`/metrics`: request counts and latency by route template, syncs from the run log, token."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from cto_assistant.settings import Settings
from cto_assistant.store import Store
from cto_assistant.store.models import SyncRun
from cto_assistant.web.app import create_app

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _settings(tmp_path: Path, **extra: object) -> Settings:
    return Settings(
        data_dir=tmp_path,
        secret_key=SecretStr("metrics-test-secret-key-0123456789"),
        sync_interval_minutes=0,
        **extra,  # type: ignore[arg-type]
    )


def _samples(text: str) -> Samples:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _add_runs(store: Store) -> None:
    end = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
    with store.session() as session:
        session.add_all(
            [
                SyncRun(
                    source="jira",
                    stream="issues",
                    started_at=end - timedelta(seconds=4),
                    finished_at=end,
                    status="success",
                    records=10,
                ),
                SyncRun(
                    source="jira",
                    stream="issues",
                    started_at=end - timedelta(seconds=2),
                    finished_at=end,
                    status="failed",
                    error_kind="rate_limited",
                    records=0,
                ),
                SyncRun(source="jira", stream="issues", started_at=end, status="running"),
            ]
        )


def test_metrics_report_syncs_from_the_run_log(any_store: Store, tmp_path: Path) -> None:
    _add_runs(any_store)
    with TestClient(create_app(_settings(tmp_path), store=any_store)) as client:
        samples = _samples(client.get("/metrics").text)
    issues = (("source", "jira"), ("stream", "issues"))
    assert samples[("cto_sync_duration_seconds_count", issues)] == 2  # the running one is not done
    assert abs(samples[("cto_sync_duration_seconds_sum", issues)] - 6.0) < 0.01
    assert samples[("cto_sync_runs_total", (*issues[:1], ("status", "running"), issues[1]))] == 1
    assert samples[("cto_sync_errors_total", (("error_kind", "rate_limited"), *issues))] == 1
    assert samples[("cto_sync_records_total", issues)] == 10
    assert (
        samples[("cto_sync_last_success_timestamp_seconds", issues)]
        == datetime(2026, 1, 15, 12, 0, tzinfo=UTC).timestamp()
    )
    assert samples[("cto_sync_metrics_up", ())] == 1


def test_requests_are_labelled_by_route_template_not_path(
    sqlite_store: Store, tmp_path: Path
) -> None:
    with TestClient(create_app(_settings(tmp_path), store=sqlite_store)) as client:
        client.get("/healthz")
        client.get("/healthz")
        client.get("/no/such/page/123")
        samples = _samples(client.get("/metrics").text)
    healthz = (("method", "GET"), ("route", "/healthz"))
    assert samples[("cto_http_requests_total", (*healthz, ("status", "200")))] == 2
    assert samples[("cto_http_request_duration_seconds_count", healthz)] == 2
    assert not any("/no/such/page/123" in str(labels) for _, labels in samples)


def test_a_metrics_token_is_required_when_configured(sqlite_store: Store, tmp_path: Path) -> None:
    settings = _settings(tmp_path, metrics_token=SecretStr("scrape-me-please"))
    with TestClient(create_app(settings, store=sqlite_store)) as client:
        assert client.get("/metrics").status_code == 401
        wrong = {"Authorization": "Bearer nope"}
        assert client.get("/metrics", headers=wrong).status_code == 401
        right = {"Authorization": "Bearer scrape-me-please"}
        response = client.get("/metrics", headers=right)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")


def test_tool_answers_are_counted_by_how_they_were_answered(
    sqlite_store: Store, tmp_path: Path
) -> None:
    """Two web processes on one store: the second reads the first's shared answers."""
    from cto_assistant.store.db import upsert
    from cto_assistant.store.rollup import bump_data_version
    from cto_assistant.tools.base import ToolContext, call_tool
    from cto_assistant.tools.catalog import load_tools

    load_tools()
    with sqlite_store.session() as session:
        upsert(session, "cost_daily", [{
            "source": "aws", "source_id": "c1", "day": datetime(2026, 3, 10).date(),
            "provider": "aws", "service": "S3", "amortized_cost": 5.0, "unblended_cost": 5.0,
            "tags": {},
        }])  # fmt: skip
        bump_data_version(session)
    now = datetime(2026, 3, 18, 12, tzinfo=UTC)
    counts = []
    for port in (8001, 8002):  # the processes differ in their port only
        settings = _settings(tmp_path, port=port, clock=now, dashboard_warm=False)
        app = create_app(settings, store=sqlite_store)
        with TestClient(app) as client, sqlite_store.session() as session:
            cache = app.state.tool_cache
            for _ in range(2):
                ctx = ToolContext(session=session, settings=settings, now=now, cache=cache,
                                  shared=True)  # fmt: skip
                assert call_tool("cloud_spend", ctx, {}).status.value == "ok"
            assert cache.wait_shared(30)
            samples = _samples(client.get("/metrics").text)
        counts.append({
            outcome: samples[("cto_tool_answers_total", (("outcome", outcome),))]
            for outcome in ("computed", "recalled", "hit", "stale")
        })  # fmt: skip
    assert counts[0] == {"computed": 1, "recalled": 0, "hit": 1, "stale": 0}
    assert counts[1] == {"computed": 0, "recalled": 1, "hit": 1, "stale": 0}
