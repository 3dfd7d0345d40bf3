"""`cto demo` end to end: world → simulators → real connectors → store gives back the world.

One `prepare_demo` run (small world, pinned today) is shared by the module. Every vendor row the
store holds is compared with the world row of the same `source_id` on every column, except the
columns listed in `NOT_CARRIED` — each with the reason the vendor API does not carry it. Rows
that are rolled up or re-keyed by the vendor (Cost Explorer, FOCUS, PagerDuty on-calls, CircleCI
changes) are compared on what the vendor keeps. The storylines are then checked on the synced
store, the way the product sees them, and a second sync must change nothing.

Not compared row by row here: pull_request, review and commit (GitHub's connector tests compare
them, REST and GraphQL, against the same world), dependency, and GitHub's mirrored deployments
(the demo does not sync that stream: Actions runs and the other CI tools already carry them);
control and control_evidence are evaluated by the app itself (source "cto-assistant").
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from cto_assistant.connectors.registry import configured_connectors
from cto_assistant.demo.run import DemoRun, prepare_demo
from cto_assistant.settings import Settings
from cto_assistant.store.models import SOURCED_TABLES, SyncRun
from cto_assistant.sync.engine import SyncEngine

TODAY = date(2026, 1, 15)
SEED = 42
Row = dict[str, Any]

# Columns a vendor API does not carry back, per table (and source when it matters): why.
NOT_CARRIED: dict[str, dict[str, str]] = {
    "person": {
        "started_at": "PagerDuty users have no start date",
        "github_login": "PagerDuty does not know GitHub logins",
        "jira_account_id": "PagerDuty does not know Jira accountIds",
        "active": "PagerDuty has no 'left' state: a user exists or not",
        "left_at": "PagerDuty has no 'left' state: a user exists or not",
    },
    "service": {
        "tier": "PagerDuty services have no tier",
        "repo": "PagerDuty services have no repository",
        "environments": "PagerDuty services have no environments",
        "internet_facing": "PagerDuty services have no exposure flag",
    },
    "incident": {
        "caused_by_deployment": "PagerDuty incidents do not name the deployment that caused them",
    },
    "host_health": {"mem_pct": "Datadog's hosts API reports CPU, iowait and load, no memory"},
    "deployment:circleci": {
        "url": "the CircleCI app URL is built from the pipeline number and workflow id, which "
        "the world does not model (the simulator derives them)",
    },
    "repository:catalog": {
        "branch_protected": "branch protection is read from the code host, not the catalog file",
        "required_reviews": "branch protection is read from the code host, not the catalog file",
        "url": "the catalog file names repositories, the code host gives their URL",
    },
    "access_grant:github": {
        "last_used_at": "GitHub's members API does not say when a member last acted",
        "granted_at": "GitHub's members API does not say when a member joined the org",
    },
    "access_grant:datadog": {
        "granted_at": "compared on role, privilege and MFA; Datadog's created_at is the account's",
    },
    "advisory:threat_intel": {
        "kev": "an OSV record does not say whether CISA lists it (the KEV feed does; analytics "
        "join the two on CVE ids)",
    },
    "vulnerability:snyk": {
        "url": "the Snyk app URL is built from Snyk's org and project UUIDs, which the "
        "simulator derives (the world keys projects by repository)",
    },
}

# Org rows from file sources (catalog, roster) are keyed by their natural key, not a vendor id.
NATURAL_KEYS = {"person": "email", "service": "name", "team": "key", "repository": "full_name"}

# Synced tables whose rows are not a vendor's copy of world rows, or that are compared elsewhere.
COMPARED_ELSEWHERE = {
    "cost_daily": "rolled up by Cost Explorer (per day, account, region, service, project tag) "
    "and by the FOCUS export: compared as sums",
    "oncall_shift": "PagerDuty on-calls have no id: compared on (schedule, level, person, start)",
    "pull_request": "compared in tests/connectors/github (REST and GraphQL round trips against "
    "the same world); GitHub carries second-precision times",
    "review": "compared in tests/connectors/github",
    "commit": "compared in tests/connectors/github (GitHub's PR commit lists exclude merge commits)",
    "control": "evaluated by the app from the synced rows, not synced",
    "control_evidence": "evaluated by the app from the synced rows, not synced",
}


# Sources whose rows the connector's own tests compare with this same world, row by row.
SOURCES_COMPARED_ELSEWHERE = {
    "github": "tests/connectors/github compares every stream's rows with the world (REST and "
    "GraphQL); GitHub keys SBOM packages as package@version, carries second-precision times and "
    "lists PR commits without merge commits",
}


# Cursor-capable streams that need more than one request on an idle re-sync: (most, why).
ALLOWED: dict[tuple[str, str], tuple[int, str]] = {
    ("gitlab", "deployments"): (3, "one deployments request per configured project (3)"),
    ("circleci", "deployments"): (3, "one pipeline page per configured project (3)"),
    ("aws", "costs"): (
        11,
        "1 LINKED_ACCOUNT by REGION discovery query, then 1 query per (account, region) pair (10): "
        "CE allows two GroupBy and the connector groups by SERVICE and the project tag; each "
        "re-pulls the `restate_days` CE may still restate",
    ),
    ("jira", "issues"): (
        2,
        "GET /myself for the user's time zone (JQL `updated >=` is read in it), then 1 search",
    ),
    ("github", "workflow_runs"): (
        60,
        "GitHub has no org-wide Actions runs listing: the workflow list and the runs of each "
        "repository (2 per repository with Actions)",
    ),
}


@dataclass
class Demo:
    """The prepared demo, its wall time and the store's vendor rows by table."""

    run: DemoRun
    seconds: float
    store: dict[str, list[Row]]


def _store_rows(run: DemoRun) -> dict[str, list[Row]]:
    found: dict[str, list[Row]] = {}
    with run.store.session() as session:
        for table, model in SOURCED_TABLES.items():
            columns = [c.name for c in model.__table__.columns if c.name not in ("id", "synced_at")]  # type: ignore[attr-defined]
            found[table] = [
                {c: getattr(obj, c) for c in columns} for obj in session.scalars(select(model))
            ]
    return found


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    data_dir: Path = tmp_path_factory.mktemp("demo")
    started = time.perf_counter()
    run = prepare_demo(Settings(data_dir=data_dir), seed=SEED, today=TODAY, scale="small")
    seconds = time.perf_counter() - started
    try:
        yield Demo(run=run, seconds=seconds, store=_store_rows(run))
    finally:
        run.stop()


def _world(demo: Demo, table: str, keep: Callable[[Row], bool] = lambda _r: True) -> dict[str, Row]:
    return {str(r["source_id"]): r for r in demo.run.world.rows(table) if keep(r)}


def _mismatches(world: Row, stored: Row, skip: dict[str, str]) -> dict[str, tuple[Any, Any]]:
    return {
        column: (world.get(column), value)
        for column, value in stored.items()
        if column not in ("source", "source_id") and column not in skip
        if world.get(column) != value
    }


# ------------------------------------------------------------------------------ row by row


def test_the_demo_syncs_every_source_without_error_in_under_a_minute(demo: Demo) -> None:
    failed = [(r.source, r.stream, r.error) for r in demo.run.results if r.status != "success"]
    assert not failed
    records = sum(r.records for r in demo.run.results)
    requests = sum(r.requests for r in demo.run.results)
    print(
        f"\nprepare_demo {demo.seconds:.1f}s; {records} records, {requests} requests "
        f"({requests / records * 1000:.1f} per 1,000 records)"
    )
    assert demo.seconds < 90  # target 60 s on a quiet 2-core machine


def _synced_tables(demo: Demo) -> list[str]:
    return sorted(t for t, rows in demo.store.items() if rows and t not in COMPARED_ELSEWHERE)


def test_every_synced_row_equals_its_world_row_on_the_columns_the_vendor_carries(
    demo: Demo,
) -> None:
    problems: list[str] = []
    for table in _synced_tables(demo):
        world = _world(demo, table)
        natural = NATURAL_KEYS.get(table)
        by_natural = {str(r[natural]).lower(): r for r in world.values()} if natural else {}
        for stored in demo.store[table]:
            key = str(stored["source_id"])
            if table == "deployment_change" and stored["source"] == "circleci":
                continue  # compared below: CircleCI lists no commits per pipeline
            if stored["source"] in SOURCES_COMPARED_ELSEWHERE:
                continue
            expected = world.get(key) or by_natural.get(key.lower())
            if expected is None:
                if _known_extra(demo, table, stored):
                    continue
                problems.append(f"{table}: {stored['source']} row {key} is not in the world")
                continue
            skip = {
                **NOT_CARRIED.get(table, {}),
                **NOT_CARRIED.get(f"{table}:{stored['source']}", {}),
            }
            diff = _mismatches(expected, stored, skip)
            if diff:
                problems.append(f"{table} {key}: {diff}")
    assert not problems, "\n".join(problems[:20]) + f"\n… {len(problems)} in all"


def _known_extra(demo: Demo, table: str, stored: Row) -> bool:
    """Store rows that have no world twin, for a documented reason."""
    if table == "access_grant" and stored["source"] == "pagerduty":
        # PagerDuty lists every account, leavers' too; the world grants leavers nothing there
        leavers = {str(p["email"]) for p in demo.run.world.rows("person") if not p["active"]}
        return stored["person_email"] in leavers
    return False


def _deployed_by(demo: Demo) -> set[str]:
    """CI tools the demo syncs deployments from."""
    return {str(s.get("kind")) for s in demo.run.settings.sources.values()} & {
        "gitlab",
        "jenkins",
        "circleci",
        "github",
    } | ({"github_actions"} if "github" in demo.run.settings.sources else set())


def test_every_world_row_of_a_synced_scope_reaches_the_store(demo: Demo) -> None:
    tools = _deployed_by(demo)
    snyk_cves = {
        c
        for v in demo.run.world.rows("vulnerability")
        if v["scanner"] == "snyk"
        for c in v["cve_ids"]
    }
    scopes: dict[str, Callable[[Row], bool]] = {
        "sprint": lambda r: True,
        "epic": lambda r: True,
        "ticket": lambda r: True,
        "ticket_transition": lambda r: True,
        "quality_snapshot": lambda r: True,
        "deployment": lambda r: r["tool"] in tools,
        "vulnerability": lambda r: r["scanner"] == "snyk",
        "advisory": lambda r: (
            r["feed"] == "kev" or (r["feed"] == "epss" and set(r["cve_ids"]) <= snyk_cves)
        ),
        "person": lambda r: True,
        "service": lambda r: True,
        "incident": lambda r: True,
        "incident_event": lambda r: True,
        "access_grant": lambda r: (
            r["system"] in ("pagerduty", "github", "datadog")
            or str(r["principal"]).startswith("arn:aws:iam::")
        ),
        "slo": lambda r: True,
        "sli_point": lambda r: True,
        "monitor": lambda r: True,
        "host_health": lambda r: True,
        "cost_anomaly": lambda r: True,
        "cost_forecast": lambda r: r["metric"] == "unblended",  # the connector's default metric
        "cost_recommendation": lambda r: r["kind"] in ("rightsizing", "savings_plan"),
    }
    missing: dict[str, list[str]] = {}
    for table, keep in scopes.items():
        stored = {str(r["source_id"]) for r in demo.store[table]}
        lost = [key for key in _world(demo, table, keep) if key not in stored]
        if lost:
            missing[table] = lost[:3]
    assert not missing


def test_gitlab_and_jenkins_changes_are_exact_and_circleci_carries_the_deployed_sha(
    demo: Demo,
) -> None:
    world = _world(demo, "deployment_change")
    deployments = _world(demo, "deployment")
    by_source: dict[str, list[Row]] = defaultdict(list)
    for row in demo.store["deployment_change"]:
        by_source[row["source"]].append(row)
    for source in ("gitlab", "jenkins"):
        tool_deploys = {k for k, d in deployments.items() if d["tool"] == source}
        expected = {k for k, r in world.items() if r["deployment_source_id"] in tool_deploys}
        stored = {r["source_id"] for r in by_source[source]}
        assert stored <= expected, source
        if source == "gitlab":
            # GitLab lists a deployment's commits as a compare with the previous successful
            # deployment to the same environment: the first one of each has nothing to compare
            first: dict[tuple[str, str], tuple[Any, str]] = {}
            for key, d in deployments.items():
                if d["tool"] == "gitlab" and d["status"] == "success":
                    slot = (d["repo"], d["environment"])
                    first[slot] = min(
                        first.get(slot, (d["started_at"], key)), (d["started_at"], key)
                    )
            firsts = {key for _, key in first.values()}
            lost = {world[k]["deployment_source_id"] for k in expected - stored}
            assert lost <= firsts, sorted(lost - firsts)[:5]
        else:
            assert stored == expected, source
    for row in by_source["circleci"]:
        deployment = deployments[row["deployment_source_id"]]
        assert deployment["tool"] == "circleci"
        assert row["sha"] == deployment["sha"]


def test_cost_sums_match_to_the_cent_per_provider_and_per_cost_explorer_group(demo: Demo) -> None:
    world_totals: dict[str, float] = defaultdict(float)
    groups: dict[tuple[Any, ...], float] = defaultdict(float)
    for row in demo.run.world.rows("cost_daily"):
        world_totals[row["provider"]] += row["unblended_cost"]
        if row["provider"] == "aws":
            key = (
                row["day"],
                row["account"],
                row["region"],
                row["service"],
                (row["tags"] or {}).get("project", ""),
            )
            groups[key] += row["amortized_cost"]
    store_totals: dict[str, float] = defaultdict(float)
    stored_groups: dict[tuple[Any, ...], float] = defaultdict(float)
    for row in demo.store["cost_daily"]:
        store_totals[row["provider"]] += row["unblended_cost"]
        if row["source"] == "aws":
            key = (
                row["day"],
                row["account"],
                row["region"],
                row["service"],
                (row["tags"] or {}).get("project", ""),
            )
            stored_groups[key] += row["amortized_cost"]
    assert set(store_totals) == set(world_totals)
    for provider, total in world_totals.items():
        assert store_totals[provider] == pytest.approx(total, abs=0.01), provider
    assert set(stored_groups) == set(groups)
    off = [k for k, v in groups.items() if abs(stored_groups[k] - v) >= 0.005]
    assert not off


def test_oncall_shifts_in_the_synced_window_match_the_world(demo: Demo) -> None:
    now = demo.run.world.now
    since, until = now - timedelta(days=7), now + timedelta(days=28)  # the connector's window

    def key(row: Row) -> tuple[Any, ...]:
        return (row["schedule"], row["level"], row["person"], row["start_at"], row["end_at"])

    expected = {
        key(r): r["is_override"]
        for r in demo.run.world.rows("oncall_shift")
        if r["start_at"] < until and r["end_at"] > since
    }
    stored = {key(r): r["is_override"] for r in demo.store["oncall_shift"]}
    assert stored == expected


# ------------------------------------------------------------------------------ storylines


def _day(row: Row) -> date:
    value = row["day"]
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def test_spend_rises_12_to_18_percent_week_over_week_driven_by_s3_pipeline(demo: Demo) -> None:
    last = range(1, 8)
    previous = range(8, 15)
    totals = {"last": 0.0, "previous": 0.0}
    delta: dict[tuple[Any, ...], float] = defaultdict(float)
    for row in demo.store["cost_daily"]:
        age = (TODAY - _day(row)).days
        key = (row["service"], row["region"], row["project"])
        if age in last:
            totals["last"] += row["amortized_cost"]
            delta[key] += row["amortized_cost"]
        elif age in previous:
            totals["previous"] += row["amortized_cost"]
            delta[key] -= row["amortized_cost"]
    rise = totals["last"] / totals["previous"] - 1
    assert 0.12 <= rise <= 0.18, rise
    driver = max(delta, key=lambda k: delta[k])
    assert driver == ("Amazon Simple Storage Service", "us-east-1", "data-processing-pipeline")


def test_exactly_one_active_incident_a_sev2_on_checkout_service(demo: Demo) -> None:
    active = [r for r in demo.store["incident"] if r["status"] != "resolved"]
    assert [(r["service"], r["severity"]) for r in active] == [("checkout-service", "SEV-2")]
    assert active[0]["assignee"]


def test_q2_payments_refactor_is_behind_its_due_date(demo: Demo) -> None:
    now = demo.run.world.now
    (epic,) = [e for e in demo.store["epic"] if e["name"] == "Q2-Payments-Refactor"]
    tickets = [t for t in demo.store["ticket"] if t["epic_key"] == epic["key"]]
    total = sum(t["story_points"] or 0 for t in tickets)
    done = [t for t in tickets if t["status_category"] == "done"]
    done_points = sum(t["story_points"] or 0 for t in done)
    assert 0.6 <= done_points / total <= 0.8
    recent = sum(
        t["story_points"] or 0 for t in done if t["resolved_at"] >= now - timedelta(days=28)
    )
    weeks_left = (total - done_points) / (recent / 4)
    assert (now + timedelta(weeks=weeks_left)).date() > epic["due_date"]


def test_three_new_criticals_this_week_two_in_checkout_service(demo: Demo) -> None:
    now = demo.run.world.now
    new = [
        v
        for v in demo.store["vulnerability"]
        if v["severity"] == "critical" and v["first_seen"] >= now - timedelta(days=7)
    ]
    cves = {c for v in new for c in v["cve_ids"]}
    assert cves == set(demo.run.world.extras["storylines"]["new_critical_cves"])
    in_checkout = {c for v in new if v["service"] == "checkout-service" for c in v["cve_ids"]}
    assert len(in_checkout) == 2


def test_the_departed_aws_admin_still_holds_administrator_access(demo: Demo) -> None:
    departed = demo.run.world.extras["storylines"]["departed_admin"]
    grants = [g for g in demo.store["access_grant"] if g["person_email"] == departed]
    assert any(g["system"] == "aws" and g["privileged"] for g in grants), grants


def test_two_admins_without_mfa(demo: Demo) -> None:
    expected = set(demo.run.world.extras["storylines"]["admins_without_mfa"])
    found = {
        g["person_email"]
        for g in demo.store["access_grant"]
        if g["privileged"] and g["mfa"] is False
    }
    assert found <= expected
    if "github" not in demo.run.settings.sources:
        assert len(found) == 1  # the AWS one; the other is a GitHub org admin
        pytest.skip("the GitHub source is not in the sandbox yet: one of the two is GitHub's")
    assert found == expected


# ------------------------------------------------------------------------------ re-sync


def test_a_second_sync_adds_nothing_and_asks_once_per_cursor_stream(demo: Demo) -> None:
    run = demo.run
    before = {table: len(rows) for table, rows in demo.store.items()}
    served_before = run.sandbox.request_count()
    connectors = configured_connectors(run.settings)
    incremental = {
        (c.name, s.name) for c in connectors for s in c.enabled_streams() if s.incremental
    }
    results = SyncEngine(run.store, connectors, now=run.settings.now).run()
    assert all(r.status == "success" for r in results)
    after = {table: len(rows) for table, rows in _store_rows(run).items()}
    assert after == before
    chatty = {
        (r.source, r.stream): r.requests
        for r in results
        if (r.source, r.stream) in incremental and r.requests > 1
    }
    served = run.sandbox.request_count() - served_before
    print(f"\nsecond sync: {served} requests served; incremental streams above one: {chatty}")
    assert served == sum(r.requests for r in results if r.source != "focus")
    # one request per project (CI) or per account and region (CE) at least; see ALLOWED
    over = {k: n for k, n in chatty.items() if n > ALLOWED.get(k, (1, ""))[0]}
    assert not over, {k: (n, ALLOWED.get(k)) for k, n in over.items()}


def test_the_run_log_has_a_success_row_per_stream(demo: Demo) -> None:
    with demo.run.store.session() as session:
        logged = {
            (r.source, r.stream) for r in session.scalars(select(SyncRun)) if r.status == "success"
        }
    expected = {
        (c.name, s.name)
        for c in configured_connectors(demo.run.settings)
        for s in c.enabled_streams()
    }
    assert expected <= logged


def test_the_world_clock_pins_every_synced_timestamp(demo: Demo) -> None:
    now = demo.run.world.now
    late: list[tuple[str, str]] = []
    for table, rows in demo.store.items():
        for row in rows:
            for column, value in row.items():
                if isinstance(value, datetime) and value > now + timedelta(days=36):
                    late.append((table, column))
    assert not late[:5]
