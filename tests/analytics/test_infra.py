"""Infrastructure health: worst status first, and the last day's changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cto_assistant.analytics.infra import DeploymentRecord, HostRecord, MonitorRecord, health

NOW = datetime(2026, 3, 18, 12, tzinfo=UTC)


def test_status_per_service_and_changes() -> None:
    hosts = [
        HostRecord("api-1", "api", "up", 40, 50, NOW - timedelta(seconds=30)),
        HostRecord("api-2", "api", "down", None, None, NOW - timedelta(hours=2)),
        HostRecord("web-1", "web", "up", 20, 30, NOW - timedelta(hours=1)),  # silent
        HostRecord("db-1", "db", "up", 20, 30, NOW - timedelta(seconds=10)),
    ]
    monitors = [
        MonitorRecord("[pay] 5xx", "pay", "Alert", 1, NOW - timedelta(hours=3)),
        MonitorRecord("[db] cpu", "db", "OK", 2, NOW - timedelta(days=3)),
    ]
    deploys = [
        DeploymentRecord("db", "production", "success", NOW - timedelta(hours=5), "abcdef123")
    ]
    report = health(
        hosts=hosts, monitors=monitors, deployments=deploys, teams={"api": "PLAT"}, now=NOW
    )
    assert [(s.service, s.status) for s in report.services] == [
        ("api", "down"),
        ("pay", "alert"),
        ("web", "warn"),
        ("db", "ok"),
    ]
    assert report.services[0].team == "PLAT" and report.services[0].hosts_down == 1
    assert [c.kind for c in report.changes] == ["host", "host", "monitor", "deployment"]
    assert report.counts == {"down": 1, "alert": 1, "warn": 1, "ok": 1}
