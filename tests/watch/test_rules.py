"""Each rule fires on a planted tool result and stays silent without the condition."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from cto_assistant.settings import Settings
from cto_assistant.store import Store
from cto_assistant.tools.base import REGISTRY, ToolContext, ToolResult, ok, tool
from cto_assistant.tools.catalog import load_tools
from cto_assistant.watch.config import Rules
from cto_assistant.watch.rules import RULES, Finding, Rule

NOW = datetime(2026, 3, 18, 12, tzinfo=UTC)
BY_NAME = {rule.name: rule for rule in RULES}


def anomaly(impact: float) -> dict[str, Any]:
    return {"dimension": {"service": "S3", "region": "us-east-1"}, "label": "S3 in us-east-1",
            "impact": impact, "actual": 9000.0 + impact, "expected": 9000.0,
            "start_day": "2026-03-11", "severity": "high"}  # fmt: skip


def projection(vs_budget: float | None) -> dict[str, Any]:
    return {"projection": {"month_start": "2026-03-01", "projected_total": 300000.0,
                           "budget": 280000.0 if vs_budget is not None else None,
                           "vs_budget": vs_budget}, "budget": {"name": "acme-cloud-monthly"}}  # fmt: skip


def slo(*firing: str) -> dict[str, Any]:
    alerts = [{"name": "page-1h", "severity": "page", "factor": 14.4, "long_window": "1h",
               "long_burn": 29.4, "firing": "page" in firing},
              {"name": "ticket-1d", "severity": "ticket", "factor": 3.0, "long_window": "1d",
               "long_burn": 3.4, "firing": "ticket" in firing}]  # fmt: skip
    return {"slos": [{"name": "payments-api availability", "service": "payments-api",
                      "alerts": alerts, "budget_remaining": 0.5, "hours_to_exhaustion": 12.0}]}  # fmt: skip


def vuln(**over: Any) -> dict[str, Any]:
    item = {"key": "acme/checkout|spring-beans|CVE-1", "cve_ids": ["CVE-1"], "package": "spring-beans",
            "service": "checkout-service", "severity": "critical", "state": "open",
            "environment": "production", "in_kev": True, "cvss": 9.8, "sla_days": 7,
            "sla_breached": False, "due_at": "2026-03-25T00:00:00Z"}  # fmt: skip
    item.update(over)
    return {"items": [item]}


def incident(**over: Any) -> dict[str, Any]:
    item = {"key": "INC-1", "severity": "SEV-1", "service": "checkout-service", "title": "5xx",
            "acknowledged_at": None, "age_minutes": 40.0}  # fmt: skip
    item.update(over)
    return {"incidents": [item]}


def access(kind: str) -> dict[str, Any]:
    return {"findings": [{"kind": kind, "system": "aws", "principal": "arn:user/ex", "title": "Departed Ex still holds AWS admin",
                          "reason": "Ex left 2026-01-02 but still holds AdministratorAccess on aws"}]}  # fmt: skip


def sprint(on_track: bool, elapsed: float) -> dict[str, Any]:
    return {"sprints": [{"sprint": "s39", "name": "PAY Sprint 39", "team": "PAY", "on_track": on_track,
                         "days_elapsed": elapsed * 14, "days_total": 14, "completion_ratio": 0.2}]}  # fmt: skip


def epic(p50: str, verdict: str = "late") -> dict[str, Any]:
    return {"key": "PAY-113", "name": "Q2-Payments-Refactor", "due_date": "2026-03-28", "progress": 0.7,
            "forecast": {"verdict": verdict, "p50_date": p50, "p85_date": p50}}  # fmt: skip


def source(state: str, age: float) -> dict[str, Any]:
    return {"sources": [{"source": "jira", "state": state, "age_seconds": age, "age": "x",
                         "failing_streams": ["issues"] if state != "ok" else [], "last_error": "HTTP 401"}]}  # fmt: skip


CASES: list[tuple[str, dict[str, Any], dict[str, Any], str]] = [
    ("cost_anomaly", {"anomalies": [anomaly(8000)]}, {"anomalies": [anomaly(600)]}, "critical"),
    ("budget_projection", projection(20000.0), projection(-5000.0), "warning"),
    ("slo_burn", slo("page", "ticket"), slo(), "critical"),
    ("kev_in_production", vuln(), vuln(environment="staging"), "critical"),
    ("remediation_sla", vuln(sla_breached=True, due_at="2026-03-18T02:00:00Z"), vuln(), "warning"),
    ("incident_unacknowledged", incident(), incident(acknowledged_at="2026-03-18T11:30:00Z"), "critical"),
    ("privileged_leaver", access("leaver_privileged"), access("privileged_without_mfa"), "critical"),
    ("sprint_at_risk", sprint(False, 0.7), sprint(False, 0.2), "warning"),
    ("epic_slip", epic("2026-05-20"), epic("2026-03-20", "on_track"), "warning"),
    ("source_health", source("failing", 60), source("ok", 60), "critical"),
]  # fmt: skip


@pytest.fixture
def ctx(sqlite_store: Store) -> Iterator[ToolContext]:
    with sqlite_store.session() as session:
        yield ToolContext(session=session, settings=Settings(), now=NOW)


def find(rule: Rule, data: dict[str, Any], ctx: ToolContext) -> list[Finding]:
    result = ok(data, summary="planted")
    return rule.find(result, rule.config(Rules()), ctx)


@pytest.mark.parametrize(("name", "planted", "clean", "severity"), CASES, ids=[c[0] for c in CASES])
def test_rule_fires_on_planted_condition_and_is_silent_without(
    name: str, planted: dict[str, Any], clean: dict[str, Any], severity: str, ctx: ToolContext
) -> None:
    rule = BY_NAME[name]
    fired = find(rule, planted, ctx)
    assert len(fired) == 1 and fired[0].opens
    assert fired[0].severity == severity
    assert fired[0].fingerprint.startswith(f"{name}:")
    assert fired[0].summary.endswith(".")
    assert [f for f in find(rule, clean, ctx) if f.opens] == []


def test_every_rule_has_a_case_and_a_config_section() -> None:
    load_tools()
    tested = {c[0] for c in CASES} | {"change_failure_jump"}
    assert tested == set(BY_NAME)
    for rule in RULES:
        assert rule.description and rule.tool in REGISTRY


def test_an_old_sla_breach_sustains_but_never_opens(ctx: ToolContext) -> None:
    old = vuln(sla_breached=True, due_at="2026-01-02T00:00:00Z")
    [finding] = find(BY_NAME["remediation_sla"], old, ctx)
    assert finding.opens is False


def test_a_stale_source_alerts_even_when_its_last_sync_passed(ctx: ToolContext) -> None:
    [finding] = find(BY_NAME["source_health"], source("ok", 3 * 86400), ctx)
    assert finding.severity == "warning" and "stale" in finding.subject


def test_slo_ticket_burn_alone_is_a_warning(ctx: ToolContext) -> None:
    [finding] = find(BY_NAME["slo_burn"], slo("ticket"), ctx)
    assert finding.severity == "warning"


def _team_dora(n: int, previous_n: int) -> ToolResult:
    return ok({"report": {"change_failure_rate": {"n": n, "previous_n": previous_n}}}, summary="x")


@pytest.mark.parametrize(
    ("rate", "before", "n", "fires"),
    [(0.40, 0.05, 50, True), (0.30, 0.14, 20, False), (0.12, 0.05, 50, False)],
    ids=["significant-jump", "small-sample-noise", "jump-under-10-points"],
)
def test_change_failure_jump_needs_size_and_significance(
    rate: float, before: float, n: int, fires: bool, ctx: ToolContext,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    load_tools()
    monkeypatch.setitem(REGISTRY, "dora_metrics", REGISTRY["dora_metrics"])  # restored after

    @tool(domain="delivery")
    def dora_metrics(ctx: ToolContext, *, team: str | None = None, days: int = 30) -> ToolResult:
        """Planted per-team DORA."""
        return _team_dora(n, n)

    data = {"breakdown": [{"team": "MOB", "name": "Mobile", "change_failure_rate": rate,
                           "change_failure_rate_previous": before}]}  # fmt: skip
    fired = find(BY_NAME["change_failure_jump"], data, ctx)
    assert bool(fired) is fires
