"""The delivery data-quality report: grading and ordering of the checks."""

from __future__ import annotations

import pytest

from cto_assistant.analytics.delivery_health import CheckIn, check_status, delivery_data_quality


@pytest.mark.parametrize(
    ("count", "total", "status"),
    [(0, 0, "ok"), (0, 100, "ok"), (4, 100, "warn"), (5, 100, "bad"), (3, 0, "bad")],
)
def test_check_status(count: int, total: int, status: str) -> None:
    assert check_status(count, total) == status


def test_report_orders_worst_first_and_explains() -> None:
    checks = [
        CheckIn("deployments_without_environment", 0, 200, [], "set it"),
        CheckIn("incidents_without_service", 2, 100, ["INC-1", "INC-2"], "map it"),
        CheckIn("production_deploys_without_commits", 30, 100, ["d1"], "send commits"),
    ]
    r = delivery_data_quality(checks)
    assert r.status == "bad" and r.problems == 2
    assert [c.check for c in r.checks] == [
        "production_deploys_without_commits",
        "incidents_without_service",
        "deployments_without_environment",
    ]
    assert r.checks[0].share == 0.3
    assert "Production deployments with no linked commits: 30 of 100" in r.why


def test_clean_report() -> None:
    r = delivery_data_quality([CheckIn("incidents_without_service", 0, 10, [], "x")])
    assert r.status == "ok" and r.why == "no delivery set-up problems found"
