"""The Acme Cloud world: determinism, schema fit, referential integrity and every storyline.

Every figure is computed from the rows, the way an analyst (or analytics/) would compute it.
Storylines are checked on two seeds and two "today"s: they are planted, not seed luck.
"""

from __future__ import annotations

import itertools
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from cto_assistant.demo.generator import build_ctx, costs, delivery
from cto_assistant.demo.world import World, build_world
from cto_assistant.store import Store
from cto_assistant.store.db import count_rows, upsert
from cto_assistant.store.models import SOURCED_TABLES, Base

Rows = dict[str, list[dict[str, Any]]]
WORLDS = [(42, date(2026, 1, 15)), (7, date(2025, 6, 1))]
S3 = "Amazon Simple Storage Service"


_BUILT: dict[tuple[int, date], tuple[World, Rows]] = {}


def _built(seed: int, today: date) -> tuple[World, Rows]:
    """Build each (seed, today) world once per test session, with its rows."""
    if (seed, today) not in _BUILT:
        world = build_world(seed=seed, today=today)
        _BUILT[(seed, today)] = (
            world,
            {table: list(world.rows(table)) for table in world.tables()},
        )
    return _BUILT[(seed, today)]


@pytest.fixture(scope="module", params=WORLDS, ids=lambda p: f"seed{p[0]}-{p[1]}")
def world(request: pytest.FixtureRequest) -> World:
    return _built(*request.param)[0]


@pytest.fixture(scope="module")
def rows(world: World) -> Rows:
    return _built(world.seed, world.today)[1]


def _all_values(rows: Rows) -> Iterator[tuple[str, str, Any]]:
    for table, items in rows.items():
        for row in items:
            for name, value in row.items():
                yield table, name, value


# ----------------------------------------------------------------------------- determinism


@pytest.fixture(scope="module")
def reference() -> tuple[World, Rows]:
    return _built(*WORLDS[0])


def test_same_seed_and_today_give_identical_rows(reference: tuple[World, Rows]) -> None:
    world, rows = reference
    again = build_world(seed=world.seed, today=world.today)
    assert again.tables() == world.tables()
    for table in world.tables():
        assert list(again.rows(table)) == rows[table], table
    assert again.extras == world.extras


def test_different_seed_gives_different_but_equally_complete_rows(
    reference: tuple[World, Rows],
) -> None:
    world, rows = reference
    other = build_world(seed=world.seed + 1, today=world.today)
    assert other.tables() == world.tables()
    differing = {t for t in world.tables() if list(other.rows(t)) != rows[t]}
    assert {
        "person",
        "pull_request",
        "cost_daily",
        "ticket",
        "incident",
        "vulnerability",
    } <= differing
    for table in world.tables():
        assert other.count(table) > 0, table


# ------------------------------------------------------------------------------ row contract


def test_world_produces_every_vendor_table(world: World) -> None:
    assert world.tables() == sorted(SOURCED_TABLES)


def test_rows_have_exactly_their_tables_columns(rows: Rows) -> None:
    for table, items in rows.items():
        columns = set(Base.metadata.tables[table].columns.keys()) - {"id", "source", "synced_at"}
        for row in items:
            assert set(row) == columns, (table, set(row) ^ columns)


def test_source_ids_are_unique_per_table(rows: Rows) -> None:
    for table, items in rows.items():
        ids = Counter(row["source_id"] for row in items)
        assert all(isinstance(i, str) and 0 < len(i) <= 255 for i in ids), table
        assert ids.most_common(1)[0][1] == 1, (table, ids.most_common(2))


def test_datetimes_are_aware_utc_and_nothing_happens_after_now(world: World, rows: Rows) -> None:
    future_ok = {
        ("oncall_shift", "start_at"),
        ("oncall_shift", "end_at"),
        ("sprint", "start_at"),
        ("sprint", "end_at"),
    }
    for table, name, value in _all_values(rows):
        if isinstance(value, datetime):
            assert value.utcoffset() == timedelta(0), (table, name)
            if (table, name) not in future_ok:
                assert value <= world.now, (table, name, value)


def test_small_world_fits_the_store_schema(world: World, rows: Rows, sqlite_store: Store) -> None:
    if world.seed != WORLDS[0][0]:
        pytest.skip("one store round-trip is enough")
    # every row of every table, except an even stride through the five big ones (keeps it fast)
    written: dict[str, int] = {}
    with sqlite_store.session() as session:
        for table, items in rows.items():
            stride = max(1, len(items) // 1000)
            batch = [{**row, "source": f"demo-{table}"} for row in items[::stride]]
            written[table] = upsert(session, table, batch)
            assert written[table] == len(batch)
    with sqlite_store.session() as session:
        for table in rows:
            assert count_rows(session, table) == written[table], table


# ------------------------------------------------------------------------ referential integrity


def test_every_reference_resolves(world: World, rows: Rows) -> None:
    teams = {r["key"] for r in rows["team"]}
    services = {r["name"] for r in rows["service"]}
    repos = {r["full_name"] for r in rows["repository"]}
    emails = {r["email"] for r in rows["person"]}
    logins = {r["github_login"] for r in rows["person"]}
    jira_accounts = {r["jira_account_id"] for r in rows["person"]}
    prs = {(r["repo"], r["number"]) for r in rows["pull_request"]}
    commits = {(r["repo"], r["sha"]) for r in rows["commit"]}
    deployments = {r["source_id"]: r for r in rows["deployment"]}
    checks: list[tuple[str, str, set[Any]]] = [
        ("person", "team_key", teams),
        ("service", "team_key", teams),
        ("repository", "team_key", teams),
        ("sprint", "team_key", teams),
        ("epic", "team_key", teams),
        ("ticket", "team_key", teams),
        ("incident", "team_key", teams),
        ("oncall_shift", "team_key", teams),
        ("cost_daily", "team", teams),
        ("service", "repo", repos),
        ("repository", "service", services),
        ("deployment", "service", services),
        ("incident", "service", services),
        ("slo", "service", services),
        ("monitor", "service", services),
        ("host_health", "service", services),
        ("vulnerability", "service", services),
        *[
            (t, "repo", repos)
            for t in (
                "pull_request",
                "review",
                "commit",
                "deployment",
                "deployment_change",
                "quality_snapshot",
                "vulnerability",
                "dependency",
            )
        ],
        ("team", "lead_email", emails),
        ("ticket", "assignee", jira_accounts),
        ("ticket_transition", "author", jira_accounts),
        ("incident", "assignee", emails),
        ("oncall_shift", "person", emails),
        ("access_grant", "person_email", emails),
        ("pull_request", "author", logins),
        ("review", "reviewer", logins),
        ("commit", "author", logins),
        ("deployment_change", "deployment_source_id", set(deployments)),
        ("incident", "caused_by_deployment", set(deployments)),
        ("incident_event", "incident_key", {r["key"] for r in rows["incident"]}),
        ("sli_point", "slo_source_id", {r["source_id"] for r in rows["slo"]}),
        ("ticket", "epic_key", {r["key"] for r in rows["epic"]}),
        ("ticket_transition", "ticket_key", {r["key"] for r in rows["ticket"]}),
        ("sprint", "board", {str(b["name"]) for b in world.extras["jira"]["boards"]}),
    ]
    for table, column, known in checks:
        missing = {r[column] for r in rows[table] if r[column] is not None} - known
        assert not missing, (table, column, sorted(map(str, missing))[:5])
    sprints = {r["source_id"] for r in rows["sprint"]}
    assert all(set(r["sprint_source_ids"]) <= sprints for r in rows["ticket"])
    assert all((r["repo"], r["pr_number"]) in prs for r in rows["review"])
    assert all((r["repo"], r["pr_number"]) in prs for r in rows["commit"])
    assert all((r["repo"], r["sha"]) in commits for r in rows["deployment_change"])
    merged = [r for r in rows["pull_request"] if r["state"] == "merged"]
    assert all((r["repo"], r["merge_commit_sha"]) in commits for r in merged)
    for incident in rows["incident"]:
        if incident["caused_by_deployment"]:
            deployment = deployments[incident["caused_by_deployment"]]
            assert deployment["environment"] == "production"
            assert deployment["service"] == incident["service"]
            assert deployment["finished_at"] <= incident["triggered_at"]


# --------------------------------------------------------------------------------------- org


def test_org_has_eight_teams_about_sixty_people_and_twenty_five_services(rows: Rows) -> None:
    assert {r["key"] for r in rows["team"]} == {
        "PLAT",
        "PAY",
        "CHK",
        "IDN",
        "DATA",
        "MOB",
        "GRW",
        "SRE",
    }
    assert all(r["jira_project"] == r["key"] and r["slack_channel"] for r in rows["team"])
    assert 55 <= len(rows["person"]) <= 70
    assert sum(1 for r in rows["person"] if not r["active"] and r["left_at"]) >= 3
    assert 24 <= len(rows["service"]) <= 26
    assert {"checkout-service", "payments-api"} <= {r["name"] for r in rows["service"]}
    protected = [r["branch_protected"] for r in rows["repository"]]
    assert 0 < protected.count(False) < protected.count(True)


# ------------------------------------------------------------------------------------- costs


def _window(rows: Rows, start: date, end: date) -> list[dict[str, Any]]:
    return [r for r in rows["cost_daily"] if start <= r["day"] < end]


@pytest.mark.parametrize("metric", ["amortized_cost", "unblended_cost"])
def test_spend_rises_about_fifteen_percent_week_over_week_driven_by_s3(
    world: World, rows: Rows, metric: str
) -> None:
    today = world.today
    last = _window(rows, today - timedelta(days=7), today)
    prev = _window(rows, today - timedelta(days=14), today - timedelta(days=7))
    rise = sum(r[metric] for r in last) / sum(r[metric] for r in prev) - 1
    assert 0.12 <= rise <= 0.18, rise
    delta: dict[tuple[str, str, str], float] = defaultdict(float)
    for sign, window in ((1, last), (-1, prev)):
        for r in window:
            delta[(r["service"], r["region"], r["tags"].get("project", ""))] += sign * r[metric]
    top = max(delta, key=lambda key: delta[key])
    assert top == (S3, "us-east-1", "data-processing-pipeline")
    assert delta[top] > 0.5 * sum(delta.values())  # "driven mostly"
    s3_last = sum(r[metric] for r in last if (r["service"], r["region"], r["project"]) == top)
    s3_prev = sum(r[metric] for r in prev if (r["service"], r["region"], r["project"]) == top)
    assert 0.35 <= s3_last / s3_prev - 1 <= 0.45


def test_costs_cover_thirteen_months_three_providers_with_weekly_seasonality(
    world: World, rows: Rows
) -> None:
    days = {r["day"] for r in rows["cost_daily"]}
    assert min(days) <= world.today - timedelta(days=390) and max(days) == world.today - timedelta(
        days=1
    )
    assert len(days) == (max(days) - min(days)).days + 1
    assert {r["provider"] for r in rows["cost_daily"]} == {"aws", "gcp", "azure"}
    assert all(
        r["team"] == r["tags"].get("team") and r["project"] == r["tags"].get("project")
        for r in rows["cost_daily"]
    )
    by_day: dict[date, float] = defaultdict(float)
    for r in rows["cost_daily"]:
        by_day[r["day"]] += r["amortized_cost"]
    month_ago = [
        d
        for d in by_day
        if world.today - timedelta(days=60) <= d < world.today - timedelta(days=14)
    ]
    weekend = statistics.mean(by_day[d] for d in month_ago if d.weekday() >= 5)
    weekday = statistics.mean(by_day[d] for d in month_ago if d.weekday() < 5)
    assert weekend < weekday
    first_month = statistics.mean(by_day[d] for d in sorted(by_day)[:30])
    assert weekday > first_month * 1.1  # growth over the year
    assert any(r["amortized_cost"] != r["unblended_cost"] for r in rows["cost_daily"])


def test_month_end_projection_exceeds_the_company_budget(world: World, rows: Rows) -> None:
    today = world.today
    budget = next(r for r in rows["budget"] if r["scope"] == {})
    month_start = today.replace(day=1)
    days_in_month = ((month_start + timedelta(days=32)).replace(day=1) - month_start).days
    for metric in ("amortized_cost", "unblended_cost"):
        mtd = sum(r[metric] for r in _window(rows, month_start, today))
        run_rate = sum(r[metric] for r in _window(rows, today - timedelta(days=7), today)) / 7
        projection = mtd + run_rate * (days_in_month - (today - month_start).days)
        assert projection > budget["amount"], (metric, projection, budget["amount"])
    kinds = {r["kind"] for r in rows["cost_recommendation"]}
    assert {"rightsizing", "savings_plan"} <= kinds
    assert any(
        r["end_day"] is None and r["dimension"]["dimension_value"] == S3
        for r in rows["cost_anomaly"]
    )


# --------------------------------------------------------------------------------- incidents


def test_exactly_one_active_incident_sev2_on_checkout_with_assignee_and_timeline(
    rows: Rows,
) -> None:
    active = [r for r in rows["incident"] if r["status"] != "resolved"]
    assert len(active) == 1
    incident = active[0]
    assert (incident["service"], incident["severity"], incident["status"]) == (
        "checkout-service",
        "SEV-2",
        "acknowledged",
    )
    assert incident["assignee"] and incident["acknowledged_at"] and incident["resolved_at"] is None
    kinds = [e["kind"] for e in rows["incident_event"] if e["incident_key"] == incident["key"]]
    assert {"trigger", "acknowledge", "assign", "note"} <= set(kinds) and "resolve" not in kinds
    resolved = [r for r in rows["incident"] if r["status"] == "resolved"]
    assert all(r["resolved_at"] for r in resolved)
    major = [r for r in resolved if r["severity"] in ("SEV-1", "SEV-2")]
    with_postmortem = sum(1 for r in major if r["postmortem_url"])
    assert with_postmortem >= 0.8 * len(major) and with_postmortem < len(major)


def test_oncall_has_primary_and_secondary_weekly_from_six_months_ago_to_four_weeks_ahead(
    world: World, rows: Rows
) -> None:
    for team in (r["key"] for r in rows["team"]):
        for level in (1, 2):
            shifts = sorted(
                (
                    r
                    for r in rows["oncall_shift"]
                    if r["team_key"] == team and r["level"] == level and not r["is_override"]
                ),
                key=lambda r: r["start_at"],
            )
            assert shifts[0]["start_at"] <= world.now - timedelta(days=180)
            assert shifts[-1]["end_at"] >= world.now + timedelta(days=28)
            assert all(a["end_at"] == b["start_at"] for a, b in itertools.pairwise(shifts))
    now_shifts = [
        r
        for r in rows["oncall_shift"]
        if r["start_at"] <= world.now < r["end_at"]
        and r["team_key"] == "CHK"
        and not r["is_override"]
    ]
    assert {r["level"] for r in now_shifts} == {1, 2}
    assert len({r["person"] for r in now_shifts}) == 2
    assert sum(1 for r in rows["oncall_shift"] if r["is_override"]) >= 2


# ---------------------------------------------------------------------------------- planning


def test_q2_payments_refactor_is_seventy_percent_done_and_slipping(
    world: World, rows: Rows
) -> None:
    epic = next(r for r in rows["epic"] if r["name"] == "Q2-Payments-Refactor")
    assert epic["team_key"] == "PAY" and not epic["done"]
    tickets = [r for r in rows["ticket"] if r["epic_key"] == epic["key"]]
    total = sum(r["story_points"] or 0 for r in tickets)
    done = sum(r["story_points"] or 0 for r in tickets if r["status_category"] == "done")
    assert 0.65 <= done / total <= 0.75
    recent = sum(
        r["story_points"] or 0
        for r in tickets
        if r["resolved_at"] and r["resolved_at"] >= world.now - timedelta(days=28)
    )
    assert recent > 0
    weeks_left = (total - done) / (recent / 4)
    forecast = world.today + timedelta(weeks=weeks_left)
    assert forecast > epic["due_date"]
    assert epic["due_date"] <= world.today + timedelta(days=14)


def test_each_team_has_one_active_sprint_with_scope_change(world: World, rows: Rows) -> None:
    active = Counter(r["team_key"] for r in rows["sprint"] if r["state"] == "active")
    assert active == Counter({r["key"]: 1 for r in rows["team"]})
    sprints = {r["source_id"]: r for r in rows["sprint"]}
    closed = [r for r in rows["sprint"] if r["state"] == "closed"]
    assert len(closed) >= 8 * 12
    late = [
        t
        for t in rows["ticket_transition"]
        if t["field"] == "Sprint"
        and t["from_value"] is None
        and t["at"] > sprints[t["to_value"]]["start_at"]
    ]
    assert len(late) >= 10
    assert {r["status_category"] for r in rows["ticket"]} == {"new", "indeterminate", "done"}
    assert any(len(r["sprint_source_ids"]) > 1 for r in rows["ticket"])  # carry-over


# ----------------------------------------------------------------------------------- security


def test_three_new_criticals_this_week_two_in_checkout_one_in_production_and_kev(
    world: World, rows: Rows
) -> None:
    new = {
        (r["repo"], r["package"], tuple(r["cve_ids"])): r
        for r in rows["vulnerability"]
        if r["severity"] == "critical" and r["first_seen"] >= world.now - timedelta(days=7)
    }
    assert len(new) == 3
    checkout = [r for r in new.values() if r["service"] == "checkout-service"]
    assert len(checkout) == 2
    assert sum(1 for r in checkout if r["environment"] == "production" and r["in_kev"]) == 1
    scanners = Counter(
        (r["repo"], r["package"], tuple(r["cve_ids"])) for r in rows["vulnerability"]
    )
    assert any(n > 1 for n in scanners.values())  # Snyk and Dependabot report the same finding
    kev_cves = {c for r in rows["advisory"] if r["kev"] for c in r["cve_ids"]}
    assert any(set(r["cve_ids"]) & kev_cves for r in checkout)


def test_a_steady_tail_of_lower_severities_and_fixed_history(rows: Rows) -> None:
    vulns = rows["vulnerability"]
    open_lower = [r for r in vulns if r["state"] == "open" and r["severity"] != "critical"]
    assert len({r["repo"] for r in open_lower}) >= 10
    assert {"high", "medium", "low"} <= {r["severity"] for r in open_lower}
    assert sum(1 for r in vulns if r["state"] == "fixed" and r["fixed_at"]) >= 10
    assert all(r["epss"] is not None and r["cvss"] for r in vulns)


def test_some_advisories_touch_the_dependency_inventory(rows: Rows) -> None:
    inventory = {(r["ecosystem"], r["package"]) for r in rows["dependency"]}
    touching = [
        r
        for r in rows["advisory"]
        if any((a["ecosystem"], a["package"]) in inventory for a in r["affected"])
    ]
    assert 5 <= len(touching) < len(rows["advisory"])
    assert {"kev", "osv"} <= {r["feed"] for r in rows["advisory"]}


def test_departed_engineer_keeps_aws_admin_and_two_admins_lack_mfa(rows: Rows) -> None:
    people = {r["email"]: r for r in rows["person"]}
    departed = [
        g
        for g in rows["access_grant"]
        if g["person_email"] and not people[g["person_email"]]["active"]
    ]
    assert len(departed) == 1
    assert departed[0]["system"] == "aws" and departed[0]["privileged"]
    assert departed[0]["role"] == "AdministratorAccess"
    no_mfa = {
        g["person_email"]
        for g in rows["access_grant"]
        if g["privileged"]
        and g["mfa"] is False
        and g["person_email"]
        and people[g["person_email"]]["active"]
    }
    assert len(no_mfa) == 2
    assert {g["system"] for g in rows["access_grant"]} == {
        "aws",
        "github",
        "postgres:prod",
        "datadog",
        "pagerduty",
    }


def test_compliance_mostly_passing_with_named_failing_controls_and_evidence(rows: Rows) -> None:
    controls = rows["control"]
    assert {r["framework"] for r in controls} == {"soc2", "iso27001"}
    failing = [r for r in controls if r["status"] == "failing"]
    assert 3 <= len(failing) <= 0.25 * len(controls)
    for control in failing:
        evidence = [
            e
            for e in rows["control_evidence"]
            if e["control_id"] == control["control_id"]
            and e["framework"] == control["framework"]
            and e["status"] == "fail"
            and e["subject"]
        ]
        assert evidence, control["control_id"]


def test_quality_history_is_weekly_for_six_months_with_a_few_failing_gates(rows: Rows) -> None:
    by_repo: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows["quality_snapshot"]:
        by_repo[r["repo"]].append(r)
    assert set(by_repo) == {r["full_name"] for r in rows["repository"]}
    assert all(len(items) >= 26 for items in by_repo.values())
    latest = [max(items, key=lambda r: r["at"]) for items in by_repo.values()]
    failing = [r for r in latest if r["quality_gate"] == "ERROR"]
    assert 1 <= len(failing) <= 5


# ------------------------------------------------------------------------------- reliability


def _burn(rows: Rows, slo: dict[str, Any], since: datetime) -> float:
    points = [
        p for p in rows["sli_point"] if p["slo_source_id"] == slo["source_id"] and p["at"] >= since
    ]
    good, total = sum(p["good"] for p in points), sum(p["total"] for p in points)
    return (1 - good / total) / (1 - slo["target"])


def test_payments_api_burns_error_budget_fast_and_others_are_healthy(
    world: World, rows: Rows
) -> None:
    last_hour = world.now - timedelta(hours=1)
    for slo in rows["slo"]:
        points = [p["at"] for p in rows["sli_point"] if p["slo_source_id"] == slo["source_id"]]
        assert min(points) <= world.now - timedelta(days=30)
        burn = _burn(rows, slo, last_hour)
        if slo["service"] == "payments-api" and slo["sli_type"] == "availability":
            assert burn > 14.4
        elif slo["service"] != "checkout-service":  # checkout burns moderately during its incident
            assert burn < 2, slo["name"]
    states = Counter(r["state"] for r in rows["monitor"])
    assert states["OK"] > states["Alert"] >= 1
    assert any(r["status"] == "down" for r in rows["host_health"])


# -------------------------------------------------------------------------------------- DORA


def _dora(rows: Rows, team: str, now: datetime, days_back: tuple[int, int]) -> dict[str, float]:
    owner = {r["name"]: r["team_key"] for r in rows["service"]}
    start, end = now - timedelta(days=days_back[0]), now - timedelta(days=days_back[1])
    deploys = [
        d
        for d in rows["deployment"]
        if d["environment"] == "production"
        and d["status"] == "success"
        and not d["is_rollback"]
        and owner[d["service"]] == team
        and start <= d["finished_at"] < end
    ]
    failed = {r["caused_by_deployment"] for r in rows["incident"] if r["caused_by_deployment"]}
    authored = {r["sha"]: r["authored_at"] for r in rows["commit"]}
    shipped = {d["source_id"]: d["finished_at"] for d in deploys}
    lead_times = [
        (shipped[c["deployment_source_id"]] - authored[c["sha"]]) / timedelta(hours=1)
        for c in rows["deployment_change"]
        if c["deployment_source_id"] in shipped
    ]
    return {
        "per_day": len(deploys) / (days_back[0] - days_back[1]),
        "lead_time_hours": statistics.median(lead_times),
        "cfr": sum(1 for d in deploys if d["source_id"] in failed) / len(deploys),
    }


def test_dora_platform_elite_most_high_mobile_medium_with_rising_failures(
    world: World, rows: Rows
) -> None:
    now = world.now
    elite = _dora(rows, "PLAT", now, (30, 0))
    assert elite["per_day"] > 2 and elite["lead_time_hours"] < 24 and elite["cfr"] < 0.05
    for team in ("PAY", "CHK", "IDN", "DATA", "GRW", "SRE"):
        high = _dora(rows, team, now, (90, 0))
        assert high["per_day"] >= 1 / 7 and 24 <= high["lead_time_hours"] <= 24 * 7, team
        assert high["cfr"] <= 0.15, team
    mobile_last = _dora(rows, "MOB", now, (30, 0))
    mobile_before = _dora(rows, "MOB", now, (60, 30))
    assert 24 * 7 <= mobile_last["lead_time_hours"] <= 24 * 28
    assert mobile_last["cfr"] > mobile_before["cfr"]
    assert any(d["is_rollback"] for d in rows["deployment"]) and any(
        d["is_hotfix"] for d in rows["deployment"]
    )


def test_review_load_is_concentrated(rows: Rows) -> None:
    reviews = Counter(r["reviewer"] for r in rows["review"] if r["repo"] == "acme/payments-api")
    top, count = reviews.most_common(1)[0]
    assert count / sum(reviews.values()) > 0.25, top


# ------------------------------------------------------------------------------------- large


def test_delivery_spool_gives_the_same_rows_and_failures_as_simulating_each_repo() -> None:
    ctx = build_ctx(seed=5, today=date(2026, 1, 15), scale="small")
    ctx.org.repos = ctx.org.repos[::6]
    simulated = [delivery._simulate(ctx, repo) for repo in ctx.org.repos]
    spooled = delivery.DeliverySpool(ctx)
    for table in delivery.TABLES:
        expected = [row for history in simulated for row in getattr(history, table)]
        assert list(spooled.rows(table)) == expected, table
    assert spooled.failures == [f for history in simulated for f in history.failures]


def test_large_world_streams_and_keeps_its_storylines() -> None:
    today = date(2026, 1, 15)
    world = build_world(seed=42, today=today, scale="large")
    assert not isinstance(world.rows("cost_daily"), list)
    people = list(world.rows("person"))
    assert 950 <= len(people) <= 1100
    assert 280 <= sum(1 for _ in world.rows("repository")) <= 350
    ctx = build_ctx(seed=42, today=today, scale="large")
    assert ctx.history_start == today - timedelta(days=730)
    recent = list(costs.cost_rows(ctx, since=today - timedelta(days=14)))
    last = sum(r["amortized_cost"] for r in recent if r["day"] >= today - timedelta(days=7))
    prev = sum(r["amortized_cost"] for r in recent if r["day"] < today - timedelta(days=7))
    assert 0.12 <= last / prev - 1 <= 0.18
    per_day = len(recent) / 14
    assert per_day * 730 > 2_000_000  # several million cost rows over two years
    first = next(iter(world.rows("cost_daily")))
    assert first["day"] == today - timedelta(days=730)
