"""Faults: every HTTP connector re-synced from the demo sandbox with the simulators misbehaving.

For each source and fault the sync must finish (never raise), record each failed stream in
`sync_run` with its `error_kind`, keep every row committed before (per table, per source), and
come back clean once the fault is gone. Retries never really sleep here (`sleep` is a no-op);
timeouts are real (the simulator sleeps past a short client timeout).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from cto_assistant.connectors.registry import configured_connectors
from cto_assistant.demo.simulators.common import SimulatorState
from cto_assistant.store.models import SOURCED_TABLES, SyncRun
from cto_assistant.sync.engine import StreamRunResult, SyncEngine
from tests.reliability.conftest import Demo, Figures

pytestmark = pytest.mark.slow

HTTP_SOURCES = (
    "jira", "github", "gitlab", "jenkins", "circleci", "sonarqube", "snyk", "pagerduty",
    "datadog", "aws", "aws_iam", "threat_intel",
)  # fmt: skip
MAX_ATTEMPTS = 4
TIMEOUT_SECONDS = 0.2
# GitHub walks every repository on each run (5 s here): its matrix runs these streams only.
SCENARIO_STREAMS: dict[str, tuple[str, ...]] = {
    "github": ("repositories", "dependabot_alerts", "members"),
}


@dataclass(frozen=True)
class Scenario:
    """A fault (or several) to switch on, and the error kinds a failed stream may then show."""

    name: str
    faults: tuple[dict[str, Any], ...]
    kinds: frozenset[str] = frozenset()  # empty: every stream must succeed (retries absorb it)
    must_fail: bool = True
    notes: list[str] = field(default_factory=list)


SCENARIOS = (
    Scenario(
        "transient 429/503/timeout (retried)",
        (
            {"kind": "rate_limit", "times": 1, "retry_after": 0},
            {"kind": "server_error", "times": 1, "status": 503},
            {"kind": "slow", "times": 1, "delay_seconds": TIMEOUT_SECONDS * 2},
        ),
        must_fail=False,
    ),
    Scenario(
        "429 storm",
        ({"kind": "rate_limit", "times": MAX_ATTEMPTS, "retry_after": 0},),
        frozenset({"rate_limited"}),
    ),
    Scenario(
        "5xx outage", ({"kind": "server_error", "times": MAX_ATTEMPTS},), frozenset({"upstream"})
    ),
    Scenario(
        "timeouts",
        ({"kind": "slow", "times": MAX_ATTEMPTS, "delay_seconds": TIMEOUT_SECONDS * 2},),
        frozenset({"upstream"}),
    ),
    Scenario("truncated body", ({"kind": "truncate", "times": 1},), frozenset({"schema_drift"})),
    Scenario("malformed body", ({"kind": "malformed", "times": 1},), frozenset({"schema_drift"})),
    Scenario(
        "schema drift (renamed field)",
        ({"kind": "rename_field", "times": None, "field": "id", "new_field": "ident"},),
        frozenset({"schema_drift"}),
        must_fail=False,  # a payload without an `id` key has nothing to drift
    ),
    Scenario(
        "auth revoked mid-sync",
        ({"kind": "auth_revoked", "times": None, "skip": 1},),
        frozenset({"auth"}),
    ),
)


def prefix_of(section: dict[str, Any]) -> str:
    """The sandbox mount (simulator) a source section points at."""
    return urlparse(str(section["base_url"])).path.strip("/").split("/")[0]


def row_counts(demo: Demo, source: str) -> dict[str, int]:
    """Rows per vendor table that came from `source`."""
    counts = {}
    with demo.run.store.session() as session:
        for name, model in SOURCED_TABLES.items():
            counts[name] = int(
                session.scalar(
                    sa.select(sa.func.count()).select_from(model).where(model.source == source)
                )
                or 0
            )
    return counts


def sync_source(
    demo: Demo, source: str, streams: tuple[str, ...] | None = None
) -> list[StreamRunResult]:
    """Re-sync one source from the sandbox with short timeouts and no real back-off sleeps."""
    section = {
        **demo.run.settings.sources[source],
        "max_attempts": MAX_ATTEMPTS,
        "timeout_seconds": TIMEOUT_SECONDS,
    }
    settings = demo.run.settings.model_copy(update={"sources": {source: section}})
    connectors = configured_connectors(settings, sleep=lambda _seconds: None)
    try:
        engine = SyncEngine(demo.run.store, connectors, now=settings.now)
        return engine.run(streams=streams)
    finally:
        for connector in connectors:
            connector.close()


def state_of(demo: Demo, source: str) -> SimulatorState:
    """The simulator behind a source."""
    assert demo.run.sandbox is not None
    return demo.run.sandbox.states[prefix_of(demo.run.settings.sources[source])]


def test_every_http_source_is_covered(demo: Demo) -> None:
    """The fault matrix names every HTTP source the demo syncs (a new one must be added)."""
    configured = {n for n, s in demo.run.settings.sources.items() if "base_url" in s}
    assert configured == set(HTTP_SOURCES)


@pytest.mark.parametrize("source", HTTP_SOURCES)
def test_sync_survives_every_fault(source: str, demo: Demo, figures: Figures) -> None:
    """Each scenario: no exception, failures recorded with their kind, no committed row lost."""
    state = state_of(demo, source)
    streams = SCENARIO_STREAMS.get(source)
    for scenario in SCENARIOS:
        before = row_counts(demo, source)
        first_run_id = _last_run_id(demo)
        state.clear_faults()
        for spec in scenario.faults:
            state.add_fault(**spec)
        try:
            results = sync_source(demo, source, streams)
        finally:
            state.clear_faults()
        failed = [r for r in results if not r.ok]
        requests = sum(r.requests for r in results)
        kinds = {r.error_kind for r in failed}
        outcome = f"{source}: {scenario.name}: {len(failed)}/{len(results)} streams failed {kinds}"
        if not scenario.kinds:
            assert not failed, outcome + str([r.error for r in failed])
        else:
            assert kinds <= scenario.kinds, outcome + str([r.error for r in failed])
            if scenario.must_fail and (requests > 1 or scenario.name != "auth revoked mid-sync"):
                assert failed, outcome
        after = row_counts(demo, source)
        lost = {t: (before[t], after[t]) for t in before if after[t] < before[t]}
        assert not lost, f"{outcome}: rows lost {lost}"
        _assert_runs_recorded(demo, source, first_run_id, failed)
        figures.count("faults", "scenarios_tried")
        figures.count("faults", "scenarios_survived")
        figures.count("faults", "stream_failures_recorded", len(failed))
        figures.count("faults", "stream_runs", len(results))
        if scenario.name.startswith("schema drift") and not failed:
            figures.append("faults", "rename_id_not_used_by", source)
    recovered = sync_source(demo, source)
    assert all(r.ok for r in recovered), [r.error for r in recovered if not r.ok]
    figures.append("faults", "sources", source)
    figures.add("faults", "scenario_names", [s.name for s in SCENARIOS])


def _last_run_id(demo: Demo) -> int:
    with demo.run.store.session() as session:
        return int(session.scalar(sa.select(sa.func.max(SyncRun.id))) or 0)


def _assert_runs_recorded(
    demo: Demo, source: str, after_id: int, failed: list[StreamRunResult]
) -> None:
    with demo.run.store.session() as session:
        runs = session.execute(
            sa.select(SyncRun.stream, SyncRun.status, SyncRun.error_kind, SyncRun.finished_at)
            .where(SyncRun.id > after_id, SyncRun.source == source)
        ).all()  # fmt: skip
    assert all(run.finished_at is not None for run in runs), "a run was left open"
    recorded = {(run.stream, run.error_kind) for run in runs if run.status == "failed"}
    assert recorded == {(r.stream, r.error_kind) for r in failed}


def widget_states(client: TestClient) -> dict[str, tuple[str, list[str]]]:
    """Each placed widget's state and the sources behind it."""
    body = client.get("/api/dashboard").json()
    return {
        wid: (w["state"], [s.get("source") for s in w.get("sources") or []])
        for wid, w in body["widgets"].items()
    }


def test_dashboard_shows_the_widgets_of_a_failing_source_as_failing(
    demo: Demo, admin_client: TestClient, figures: Figures
) -> None:
    """PagerDuty down: its widgets say `failing` (data-health too); a clean sync clears it."""
    source = "pagerduty"
    state = state_of(demo, source)
    state.add_fault("server_error", times=None)
    try:
        results = sync_source(demo, source)
    finally:
        state.clear_faults()
    assert results and not any(r.ok for r in results)
    states = widget_states(admin_client)
    affected = {wid: st for wid, (st, sources) in states.items() if source in sources}
    assert affected, f"no placed widget reads {source}: {states}"
    assert set(affected.values()) == {"failing"}, [
        (wid, w["state"], w.get("sources"), w.get("status"))
        for wid, w in admin_client.get("/api/dashboard").json()["widgets"].items()
    ]
    health = admin_client.get("/api/data-health").json()
    rows = health["freshness"]["data"]["sources"]
    assert next(r for r in rows if r["source"] == source)["state"] == "failing"
    assert all(r.ok for r in sync_source(demo, source))
    healed = {wid: st for wid, (st, _s) in widget_states(admin_client).items() if wid in affected}
    assert "failing" not in healed.values(), healed
    figures.add("faults", "widgets_flagged_failing", sorted(affected))
