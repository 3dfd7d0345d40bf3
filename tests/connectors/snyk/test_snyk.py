"""Snyk connector: the real recorded Snyk pages, and syncs against the Snyk simulator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest

from cto_assistant.connectors.base import Checkpoint, ConnectorContext, Record
from cto_assistant.connectors.snyk import SnykConfig, SnykConnector, mapping
from cto_assistant.demo.simulators.common import SimulatorState, served
from cto_assistant.demo.simulators.snyk import DEMO_ORG_ID, DEMO_TOKEN, make_app
from cto_assistant.demo.world import World
from cto_assistant.errors import AuthError, SchemaDriftError, UpstreamError
from tests.conftest import vendor_spec


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(vendor_spec("snyk", "defectdojo_fixtures", name).read_text())
    return data


def parse(name: str) -> list[dict[str, Any]]:
    return [mapping.vulnerability(item, source="snyk") for item in fixture(name)["data"]]


# ----------------------------------------------------------------- real recorded pages


def test_real_sca_page_parses_every_issue() -> None:
    rows = {r["external_id"]: r for r in parse("snyk_sca_scan_api_many_vuln.json")}
    assert len(rows) == 5
    assert {r["state"] for r in rows.values()} == {"open", "ignored", "fixed"}
    assert sorted(r["state"] for r in rows.values()) == [
        "fixed",
        "ignored",
        "ignored",
        "ignored",
        "open",
    ]
    h11 = rows["SNYK-PYTHON-H11-10293728"]
    assert (h11["state"], h11["fixed_at"]) == (
        "fixed",
        datetime(2025, 6, 3, 16, 24, 52, 310000, tzinfo=UTC),
    )
    assert h11["cve_ids"] == ["CVE-2025-43859"]
    assert all(r["scanner"] == "snyk" and r["ecosystem"] == "pip" for r in rows.values())


def test_real_single_issue_maps_every_field() -> None:
    (row,) = parse("snyk_sca_scan_api_single_vuln.json")
    assert row["source_id"] == "834bd190-3f57-46bb-b9ef-e11fee859ab4"
    assert (row["package"], row["version"]) == ("pillow", "9.5.0")
    assert (row["severity"], row["cvss"]) == ("critical", 9.6)
    assert row["cvss_vector"] == "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:H/I:H/A:H/E:H"
    assert (row["cve_ids"], row["cwe_ids"]) == (["CVE-2023-4863"], ["CWE-122"])
    assert (row["exploit_maturity"], row["in_kev"]) == ("mature", True)
    assert (row["fixable"], row["fixed_version"]) == (True, None)
    assert row["first_seen"] == datetime(2025, 9, 11, 18, 25, 22, 457000, tzinfo=UTC)
    assert row["state"] == "ignored"


def test_real_code_page_parses_sast_issues() -> None:
    rows = parse("snyk_code_scan_api_many_vuln.json")
    assert len(rows) == 3
    first = rows[0]
    assert (first["external_id"], first["severity"], first["cwe_ids"]) == (
        "9a29d87f-aa94-47eb-b46f-375b293a8631",
        "high",
        ["CWE-352"],
    )
    assert all(r["package"] is None and r["cvss"] is None for r in rows)
    assert [r["state"] for r in rows] == ["open", "ignored", "open"]
    assert all(r["fixable"] is False and r["ecosystem"] is None for r in rows)


def test_real_empty_page_parses_to_nothing() -> None:
    assert parse("empty.json") == []


def test_issue_without_key_is_schema_drift_naming_the_field() -> None:
    item = fixture("snyk_sca_scan_api_single_vuln.json")["data"][0]
    del item["attributes"]["key"]
    with pytest.raises(SchemaDriftError) as caught:
        mapping.vulnerability(item, source="snyk")
    assert caught.value.field == "attributes.key"


# ------------------------------------------------------------------ against the simulator


def vuln(n: int, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "source_id": f"00000000-0000-4000-8000-{n:012d}",
        "scanner": "snyk",
        "external_id": f"SNYK-JAVA-ORGAPACHE-{1000 + n}",
        "title": f"Vulnerability {n}",
        "repo": "acme/checkout-service",
        "service": "checkout-service",
        "environment": "production",
        "ecosystem": "maven",
        "package": "org.apache.commons:commons-text",
        "version": "1.9",
        "fixed_version": "1.10.0",
        "severity": "high",
        "cvss": 7.5,
        "cvss_vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N",
        "cve_ids": [f"CVE-2025-{1000 + n}"],
        "cwe_ids": ["CWE-94"],
        "in_kev": False,
        "exploit_maturity": "poc",
        "fixable": True,
        "first_seen": datetime(2026, 1, 1, tzinfo=UTC).replace(hour=n % 24),
        "fixed_at": None,
        "state": "open",
    }
    row.update(values)
    return row


FIELDS = (
    "source_id",
    "scanner",
    "external_id",
    "title",
    "repo",
    "service",
    "environment",
    "ecosystem",
    "package",
    "version",
    "fixed_version",
    "severity",
    "cvss",
    "cvss_vector",
    "cve_ids",
    "cwe_ids",
    "in_kev",
    "exploit_maturity",
    "fixable",
    "first_seen",
    "fixed_at",
    "state",
)


def snyk_world() -> World:
    rows = [vuln(n) for n in range(1, 8)]
    rows.append(vuln(8, severity="critical", cvss=9.8, in_kev=True, exploit_maturity="mature"))
    rows.append(vuln(9, state="fixed", fixed_at=datetime(2026, 1, 10, tzinfo=UTC)))
    rows.append(
        vuln(
            10,
            state="ignored",
            repo="acme/payments-api",
            service="payments-api",
            environment="staging",
            ecosystem="npm",
            package="lodash",
            version="4.17.20",
            fixed_version=None,
            fixable=False,
        )
    )
    rows.append(
        vuln(
            11,
            ecosystem=None,
            package=None,
            version=None,
            fixed_version=None,
            cvss=None,
            cvss_vector=None,
            cve_ids=[],
            exploit_maturity=None,
            fixable=False,
            external_id="9a29d87f-aa94-47eb-b46f-000000000011",
            title="SQL Injection",
            service=None,
            repo="acme/terraform-live",
            environment=None,
        )
    )
    rows.append({**vuln(12), "scanner": "dependabot"})
    return World.from_rows({"vulnerability": rows}, today=date(2026, 1, 15))


class Rig:
    def __init__(self, world: World, base_url: str, state: SimulatorState) -> None:
        self.world, self.base_url, self.state = world, base_url, state
        self.sleeps: list[float] = []

    def connector(self, **overrides: Any) -> SnykConnector:
        settings: dict[str, Any] = {
            "base_url": self.base_url,
            "token": DEMO_TOKEN,
            "org_ids": [DEMO_ORG_ID],
            "max_attempts": 3,
        }
        settings.update(overrides)
        return SnykConnector(
            ConnectorContext(name="snyk", config=SnykConfig(**settings), sleep=self.sleeps.append)
        )


@pytest.fixture
def rig() -> Iterator[Rig]:
    world = snyk_world()
    app = make_app(world)
    with served(app) as running:
        yield Rig(world, running.base_url, app.state.sim)


def pull(
    connector: SnykConnector, since: str | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    rows, cursor = [], None
    for item in connector.pull("vulnerabilities", since):
        if isinstance(item, Checkpoint):
            cursor = item.cursor
        else:
            assert isinstance(item, Record) and item.table == "vulnerability"
            rows.append(dict(item.values))
    return rows, cursor


def test_full_sync_round_trips_the_worlds_snyk_rows(rig: Rig) -> None:
    rows, cursor = pull(rig.connector())
    got = {r["source_id"]: tuple(r[f] for f in FIELDS) for r in rows}
    want = {
        r["source_id"]: tuple(r[f] for f in FIELDS)
        for r in rig.world.rows("vulnerability")
        if r["scanner"] == "snyk"
    }
    assert got == want
    assert cursor == "2026-01-10T00:00:00Z"
    assert all(r["url"] and r["url"].startswith("https://app.snyk.io/org/") for r in rows)


def test_pagination_follows_links_next(rig: Rig) -> None:
    rows, _ = pull(rig.connector(page_size=3))
    assert len(rows) == 11
    assert rig.state.request_count("/rest/orgs/") == 4 + 1  # 11 issues in 4 pages, 1 project page


def test_second_sync_with_nothing_new_makes_one_request(rig: Rig) -> None:
    _, cursor = pull(rig.connector())
    before = rig.state.request_count()
    rows, again = pull(rig.connector(), cursor)
    assert rows == []
    assert rig.state.request_count() - before == 1
    assert again == cursor
    assert "updated_after=2026-01-10T00%3A00%3A00Z" in rig.state.requests[-1].query


def test_incremental_sync_pulls_only_changed_issues(rig: Rig) -> None:
    tables = {"vulnerability": [dict(r) for r in rig.world.rows("vulnerability")]}
    tables["vulnerability"][0].update(state="fixed", fixed_at=datetime(2026, 1, 14, tzinfo=UTC))
    later = World.from_rows(tables, today=date(2026, 1, 15))
    app = make_app(later)
    with served(app) as running:
        rows, cursor = pull(rig.connector(base_url=running.base_url), "2026-01-10T00:00:00Z")
        requests = app.state.sim.request_count()
    assert [(r["external_id"], r["state"]) for r in rows] == [("SNYK-JAVA-ORGAPACHE-1001", "fixed")]
    assert cursor == "2026-01-14T00:00:00Z"
    assert requests == 2  # issues page, then the project it names


def test_rate_limit_retry_after_is_honoured(rig: Rig) -> None:
    rig.state.add_fault("rate_limit", times=1, path_prefix="/rest/orgs", retry_after=12)
    rows, _ = pull(rig.connector())
    assert len(rows) == 11
    assert rig.sleeps == [12.0]


def test_persistent_server_error_raises_upstream_error(rig: Rig) -> None:
    rig.state.add_fault("server_error", times=None, path_prefix="/rest/orgs")
    with pytest.raises(UpstreamError) as caught:
        pull(rig.connector())
    assert (caught.value.source, caught.value.stream) == ("snyk", "vulnerabilities")
    assert len(rig.sleeps) == 2


def test_bad_token_is_an_auth_error(rig: Rig) -> None:
    with pytest.raises(AuthError) as caught:
        pull(rig.connector(token="nope"))
    assert "snyk" in str(caught.value)


def test_renamed_field_is_schema_drift(rig: Rig) -> None:
    rig.state.add_fault(
        "rename_field",
        times=1,
        path_prefix="/rest/orgs",
        field="effective_severity_level",
        new_field="severity",
    )
    with pytest.raises(SchemaDriftError) as caught:
        pull(rig.connector())
    assert (caught.value.stream, caught.value.field) == (
        "vulnerabilities",
        "attributes.effective_severity_level",
    )


def test_truncated_page_is_schema_drift(rig: Rig) -> None:
    rig.state.add_fault("truncate", times=1, path_prefix="/rest/orgs")
    with pytest.raises(SchemaDriftError):
        pull(rig.connector())


def test_check_is_read_only_and_per_org(rig: Rig) -> None:
    results = rig.connector().check()
    assert [r.ok for r in results] == [True, True]
    assert all(r.method == "GET" for r in rig.state.requests)


def test_demo_world_round_trips_through_the_simulator() -> None:
    from cto_assistant.demo.world import build_world

    world = build_world(seed=42, today=date(2026, 1, 15))
    app = make_app(world)
    with served(app) as running:
        rig = Rig(world, running.base_url, app.state.sim)
        rows, _ = pull(rig.connector())
    got = {r["source_id"]: tuple(r[f] for f in FIELDS) for r in rows}
    # Snyk calls a dismissed issue "ignored": the world's "dismissed" comes back as that
    want = {
        r["source_id"]: tuple(
            ("ignored" if r[f] == "dismissed" else r[f]) if f == "state" else r[f] for f in FIELDS
        )
        for r in world.rows("vulnerability")
        if r["scanner"] == "snyk"
    }
    assert got == want
    assert app.state.sim.request_count() == 2  # one issues page, one projects page


def test_malformed_project_and_maturity_are_schema_drift_naming_the_field() -> None:
    project = {"id": "p1", "attributes": {"name": "acme/api:pom.xml", "lifecycle": "production"}}
    with pytest.raises(SchemaDriftError, match="project p1: 'attributes.lifecycle' is a string"):
        mapping.project_info(project, source="snyk")
    with pytest.raises(
        SchemaDriftError, match="issue: 'maturity_levels' is an object, expected a list"
    ):
        mapping.exploit_maturity({"format": "CVSSv3"})  # type: ignore[arg-type]
    assert mapping.exploit_maturity(None) is None  # type: ignore[arg-type]
