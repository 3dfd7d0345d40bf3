"""Savings: provider advice plus our findings, each with an estimate we can recompute by hand."""

from __future__ import annotations

import pytest

from cto_assistant.analytics.savings import HostUsage, Recommendation, UsageTrend, find_savings


def trend(usage: str, recent: float, base: float, project: str = "p") -> UsageTrend:
    return UsageTrend(
        "Amazon Simple Storage Service", "us-east-1", "111", project, usage, recent, base
    )


def test_findings_are_ranked_with_hand_computed_savings() -> None:
    report = find_savings(
        recommendations=[Recommendation("rightsizing", "Downsize i-1", 300.0, "i-1")],
        unowned_monthly=5_000.0,
        total_monthly=50_000.0,
        trends=[
            trend("TimedStorage-ByteHrs", 130, 100),  # storage +30%
            trend("Requests-Tier1", 10, 10),  # reads flat: the new data is not read
            trend("TimedStorage-ByteHrs", 150, 100, project="busy"),
            trend("Requests-Tier1", 15, 10, project="busy"),  # reads +50%: in use
            UsageTrend(
                "EC2 - Other", "us-east-1", "111", "p", "DataTransfer-Regional-Bytes", 60, 40
            ),
        ],
        hosts=[
            HostUsage("h1", "api", "PLAT", "up", 3.0, 400.0),
            HostUsage("h2", "api", "PLAT", "up", 12.0, 400.0),
            HostUsage("h3", "api", "PLAT", "up", 55.0, 400.0),
        ],
    )
    found = {(o.kind, o.resource): o for o in report.opportunities}
    assert found[("storage_growth", None)].estimated_monthly_saving == pytest.approx(30 * 30 * 0.5)
    assert found[("transfer_growth", None)].estimated_monthly_saving == pytest.approx(20 * 30 * 0.5)
    assert found[("unowned_spend", None)].estimated_monthly_saving == pytest.approx(500)
    assert found[("idle_host", "h1")].estimated_monthly_saving == 400
    assert found[("underused_host", "h2")].estimated_monthly_saving == 200
    assert ("underused_host", "h3") not in found
    assert sum(1 for o in report.opportunities if o.kind == "storage_growth") == 1
    savings = [o.estimated_monthly_saving for o in report.opportunities]
    assert savings == sorted(savings, reverse=True)
    assert report.total_monthly_saving == pytest.approx(sum(savings))
    assert report.by_finder["provider"] == 300
    assert all(o.assumption for o in report.opportunities if o.found_by == "ours")
