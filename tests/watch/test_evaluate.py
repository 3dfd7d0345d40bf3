"""The evaluator: de-duplication, escalation, auto-resolve, history, and failure isolation."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from cto_assistant.settings import Settings
from cto_assistant.store import Store
from cto_assistant.store.models import ActionLog, Alert
from cto_assistant.tools.base import REGISTRY, ToolContext, ToolResult, no_data, ok, tool
from cto_assistant.tools.catalog import load_tools
from cto_assistant.watch import evaluate as watch
from cto_assistant.watch.rules import RULES
from tests.watch.receivers import http_receiver

NOW = datetime(2026, 3, 18, 12, tzinfo=UTC)
PLANTED: dict[str, Any] = {"slos": []}
STATUS = {"value": "ok"}


def burning(page: bool) -> dict[str, Any]:
    alerts = [{"name": "page-1h", "severity": "page", "factor": 14.4, "long_window": "1h",
               "long_burn": 20.0, "firing": page},
              {"name": "ticket-1d", "severity": "ticket", "factor": 3.0, "long_window": "1d",
               "long_burn": 4.0, "firing": True}]  # fmt: skip
    return {"slos": [{"name": "api availability", "service": "api", "alerts": alerts,
                      "budget_remaining": 0.4, "hours_to_exhaustion": 30.0}]}  # fmt: skip


@pytest.fixture(autouse=True)
def planted_slo_tool(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Replace `slo_status` with one that returns `PLANTED` (the registry is restored after)."""
    load_tools()
    monkeypatch.setitem(REGISTRY, "slo_status", REGISTRY["slo_status"])

    @tool(domain="operations")
    def slo_status(ctx: ToolContext, *, service: str | None = None) -> ToolResult:
        """Planted SLO status."""
        if STATUS["value"] == "error":
            from cto_assistant.errors import CTOError

            raise CTOError("datadog unreachable")
        return ok(PLANTED, summary="planted") if PLANTED["slos"] else no_data("No SLOs.")

    PLANTED["slos"], STATUS["value"] = [], "ok"
    yield


SLO_ONLY = [r for r in RULES if r.name == "slo_burn"]


def run(store: Store, at: datetime) -> watch.Evaluation:
    with store.session() as session:
        return watch.evaluate(session, Settings(), now=at, rules=SLO_ONLY)


def alerts(store: Store) -> list[Alert]:
    with store.session() as session:
        rows = list(session.scalars(sa.select(Alert).order_by(Alert.id)))
        session.expunge_all()
        return rows


def test_dedup_escalation_and_auto_resolve(sqlite_store: Store) -> None:
    PLANTED.update(burning(page=False))
    first = run(sqlite_store, NOW)
    assert [a["severity"] for a in first.opened] == ["warning"]
    again = run(sqlite_store, NOW + timedelta(minutes=30))
    assert again.opened == [] and again.escalated == [] and again.still_open == 1
    assert [n.event for n in again.notices] == []  # no re-notification while unchanged

    PLANTED.update(burning(page=True))
    escalated = run(sqlite_store, NOW + timedelta(hours=1))
    assert [a["severity"] for a in escalated.escalated] == ["critical"]
    assert [n.event for n in escalated.notices] == ["escalated"]

    PLANTED.update(burning(page=False))
    calmer = run(sqlite_store, NOW + timedelta(hours=2))
    assert calmer.escalated == [] and calmer.notices == []  # de-escalation is silent

    PLANTED["slos"] = []
    cleared = run(sqlite_store, NOW + timedelta(hours=3))
    assert len(cleared.closed) == 1 and [n.event for n in cleared.notices] == ["closed"]

    [alert] = alerts(sqlite_store)
    assert alert.closed_at == NOW + timedelta(hours=3)
    assert [h["event"] for h in alert.details["history"]] == [
        "opened", "escalated", "de-escalated", "closed",
    ]  # fmt: skip

    PLANTED.update(burning(page=True))
    back = run(sqlite_store, NOW + timedelta(hours=4))
    assert len(back.opened) == 1
    assert len(alerts(sqlite_store)) == 2  # a returning condition is a new alert row


def test_a_failing_tool_keeps_open_alerts_open(sqlite_store: Store) -> None:
    PLANTED.update(burning(page=True))
    run(sqlite_store, NOW)
    STATUS["value"] = "error"
    failed = run(sqlite_store, NOW + timedelta(hours=1))
    assert "slo_burn" in failed.errors and failed.closed == [] and failed.still_open == 1
    assert alerts(sqlite_store)[0].closed_at is None


def test_disabling_a_rule_closes_its_alerts(sqlite_store: Store) -> None:
    PLANTED.update(burning(page=True))
    run(sqlite_store, NOW)
    settings = Settings(watch={"rules": {"slo_burn": {"enabled": False}}})
    with sqlite_store.session() as session:
        result = watch.evaluate(session, settings, now=NOW, rules=SLO_ONLY)
    assert result.closed[0]["details"]["closed_because"] == "rule disabled"


def test_run_watch_notifies_and_records_failed_deliveries(sqlite_store: Store) -> None:
    PLANTED.update(burning(page=True))
    with http_receiver(500, 500, 500) as (receiver, running):
        settings = Settings(
            watch={"webhook": {"url": running.base_url}, "delivery": {"backoff_seconds": 0}}
        )
        evaluation = watch.run_watch(sqlite_store, settings, now=NOW, sleep=lambda _: None)
    assert len(receiver.received) == 3
    assert evaluation.deliveries[0].delivered is False
    with sqlite_store.session() as session:
        log = session.scalars(sa.select(ActionLog)).one()
        assert log.action == "notify_webhook" and log.ok is False
        assert len(log.result["attempts"]) == 3


def test_the_post_sync_hook_never_raises(sqlite_store: Store) -> None:
    settings = Settings(clock=NOW, watch={"rules": {"nonsense": {}}})  # invalid config
    assert watch.after_sync(sqlite_store, now=settings.now) is None
