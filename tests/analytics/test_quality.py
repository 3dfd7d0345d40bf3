"""Code quality: latest state, 30-day deltas, team rollups and worst offenders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cto_assistant.analytics.quality import SnapshotIn, quality_report, repo_quality, rollup

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)
D = timedelta(days=1)


def snap(
    repo: str,
    age_days: int,
    coverage: float | None,
    *,
    debt: float = 100.0,
    smells: int = 10,
    bugs: int = 1,
    ncloc: int | None = 1000,
    gate: str = "OK",
) -> SnapshotIn:
    return SnapshotIn(
        repo=repo,
        at=NOW - age_days * D,
        coverage=coverage,
        tech_debt_minutes=debt,
        code_smells=smells,
        bugs=bugs,
        ncloc=ncloc,
        quality_gate=gate,
    )


def test_repo_delta_uses_the_analysis_at_or_before_thirty_days_ago() -> None:
    rows = [
        snap("a", 45, 70.0, debt=50),
        snap("a", 31, 72.0, debt=80, smells=5),
        snap("a", 10, 75.0),
        snap("a", 1, 71.0, debt=200, smells=12, bugs=3, gate="ERROR"),
    ]
    r = repo_quality(rows, team="PAY", now=NOW)
    assert r is not None
    assert r.coverage == 71.0 and r.coverage_delta == pytest.approx(-1.0)
    assert r.debt_delta_minutes == 120 and r.smells_delta == 7 and r.bugs_delta == 2
    assert r.gate_changed is True


def test_repo_without_baseline_has_no_delta_and_future_rows_are_ignored() -> None:
    r = repo_quality([snap("a", 3, 80.0), snap("a", -2, 10.0)], team=None, now=NOW)
    assert r is not None and r.coverage == 80.0 and r.coverage_delta is None
    assert repo_quality([snap("a", -2, 10.0)], team=None, now=NOW) is None


def test_rollup_weights_coverage_by_lines_of_code() -> None:
    a = repo_quality(
        [snap("a", 31, 60.0, ncloc=1000), snap("a", 1, 80.0, ncloc=1000)], team="T", now=NOW
    )
    b = repo_quality(
        [snap("b", 31, 50.0, ncloc=3000), snap("b", 1, 40.0, ncloc=3000)], team="T", now=NOW
    )
    assert a and b
    r = rollup("T", [a, b])
    # (80·1000 + 40·3000) / 4000 = 50; before: (60·1000 + 50·3000) / 4000 = 52.5
    assert r.coverage == 50.0 and r.coverage_delta == -2.5
    assert r.coverage_basis == "weighted by lines of code"


def test_rollup_falls_back_to_plain_mean_without_lines() -> None:
    a = repo_quality([snap("a", 1, 80.0, ncloc=None)], team="T", now=NOW)
    b = repo_quality([snap("b", 1, 40.0, ncloc=3000)], team="T", now=NOW)
    assert a and b
    r = rollup("T", [a, b])
    assert r.coverage == 60.0 and r.coverage_basis == "mean of repositories"


def test_report_groups_by_team_and_names_worst_offenders() -> None:
    rows = [
        snap("good", 1, 90.0),
        snap("bad", 31, 70.0, debt=60),
        snap("bad", 1, 45.0, debt=600, gate="ERROR"),
        snap("loner", 1, 65.0),
    ]
    r = quality_report(rows, repo_teams={"good": "A", "bad": "B"}, now=NOW)
    assert [t.group for t in r.teams] == ["(no team)", "A", "B"]
    assert r.overall.failing_gates == 1
    reasons = [(o.repo, o.reason) for o in r.worst]
    assert ("bad", "quality gate failing") in reasons
    assert reasons[1] == ("bad", "low coverage 45.0%")
    assert ("bad", "coverage fell -25.0 pts") in reasons
    assert ("bad", "debt up 9 h") in reasons
    assert r.repos[0].repo == "bad"  # failing gates first
