"""Threat intel: the real KEV catalogue and OSV records parse; the world round-trips; feeds cache."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cto_assistant.connectors.base import Checkpoint, ConnectorContext, Record
from cto_assistant.connectors.threat_intel import (
    PackageRef,
    ThreatIntelConfig,
    ThreatIntelConnector,
    enrich_vulnerabilities,
    inventory_from_rows,
)
from cto_assistant.connectors.threat_intel.mapping import kev_entries, osv_advisory, parse_epss
from cto_assistant.demo.simulators.common import ServedApp, SimulatorState, serve
from cto_assistant.demo.simulators.threat_intel import make_app
from cto_assistant.demo.world import World
from cto_assistant.errors import AuthError, RateLimitedError, SchemaDriftError, UpstreamError
from tests.conftest import vendor_spec


def day(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def intel_world() -> World:
    kev = [
        {
            "source_id": f"kev:CVE-2025-{1000 + i}",
            "feed": "kev",
            "title": f"Product {i} RCE",
            "summary": "Remote code execution.",
            "published": day(f"2026-01-{10 + i:02d}"),
            "modified": None,
            "cve_ids": [f"CVE-2025-{1000 + i}"],
            "affected": [],
            "vendor_project": "Acme",
            "product": f"Product {i}",
            "kev": True,
            "epss": None,
            "severity": None,
            "url": f"https://nvd.nist.gov/vuln/detail/CVE-2025-{1000 + i}",
        }
        for i in range(4)
    ]
    osv = [
        {
            "source_id": f"osv:GHSA-aaaa-bbbb-{i:04d}",
            "feed": "osv",
            "title": f"Prototype pollution in lib{i}",
            "summary": "Details.",
            "published": day("2025-12-01T10:00:00"),
            "modified": day(f"2026-01-{5 + i:02d}T08:00:00"),
            "cve_ids": [f"CVE-2025-{2000 + i}"],
            "affected": [
                {
                    "ecosystem": "npm",
                    "package": f"lib{i % 2}",
                    "ranges": [{"introduced": "0", "fixed": "1.0.2"}],
                    "versions": ["1.0.0", "1.0.1"],
                }
            ],
            "vendor_project": None,
            "product": None,
            "kev": False,
            "epss": None,
            "severity": ["critical", "high", "medium"][i % 3],
            "url": f"https://github.com/advisories/GHSA-aaaa-bbbb-{i:04d}",
        }
        for i in range(3)
    ]
    epss = [
        {
            "source_id": f"epss:CVE-2025-{2000 + i}",
            "feed": "epss",
            "title": "",
            "summary": "",
            "published": None,
            "modified": None,
            "cve_ids": [f"CVE-2025-{2000 + i}"],
            "affected": [],
            "vendor_project": None,
            "product": None,
            "kev": False,
            "epss": [0.92, 0.05, 0.31][i],
            "severity": None,
            "url": None,
        }
        for i in range(3)
    ]
    dependencies = [
        {
            "source_id": "d1",
            "repo": "acme/checkout",
            "ecosystem": "npm",
            "package": "lib0",
            "version": "1.0.1",
            "direct": True,
        },
        {
            "source_id": "d2",
            "repo": "acme/payments",
            "ecosystem": "npm",
            "package": "lib1",
            "version": "1.0.0",
            "direct": True,
        },
        {
            "source_id": "d3",
            "repo": "acme/payments",
            "ecosystem": "npm",
            "package": "lib0",
            "version": "1.0.1",
            "direct": False,
        },
        {
            "source_id": "d4",
            "repo": "acme/web",
            "ecosystem": "npm",
            "package": "left-pad",
            "version": "1.3.0",
            "direct": True,
        },
    ]
    return World.from_rows(
        {"advisory": [*kev, *osv, *epss], "dependency": dependencies},
        today=day("2026-01-15").date(),
    )


class FakeSleep:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def served() -> Iterator[tuple[ServedApp, SimulatorState, World]]:
    world = intel_world()
    app = make_app(world, osv_page_size=1)
    running = serve(app)
    try:
        yield running, app.state.sim, world
    finally:
        running.stop()


def connector_for(
    base: str,
    *,
    cache_dir: Path | None = None,
    sleep: FakeSleep | None = None,
    world: World | None = None,
    **extra: Any,
) -> ThreatIntelConnector:
    config = ThreatIntelConfig(
        base_url=base,
        kev_url=f"{base}/kev/known_exploited_vulnerabilities.json",
        epss_url=f"{base}/epss/epss_scores-current.csv.gz",
        max_attempts=3,
        cache_dir=str(cache_dir) if cache_dir else None,
        **extra,
    )
    connector = ThreatIntelConnector(
        ConnectorContext(name="intel", config=config, sleep=sleep or FakeSleep())
    )
    if world is not None:
        connector.set_inventory(inventory_from_rows(world.rows("dependency")))
    return connector


def pull(
    connector: ThreatIntelConnector, stream: str, since: str | None = None
) -> tuple[list[dict[str, Any]], list[str]]:
    rows, cursors = [], []
    for item in connector.pull(stream, since):
        if isinstance(item, Record):
            rows.append(dict(item.values))
        elif isinstance(item, Checkpoint):
            cursors.append(item.cursor)
    return rows, cursors


def test_the_real_kev_catalogue_parses_including_due_dates_before_added() -> None:
    body = json.loads(
        vendor_spec("threat_intel", "cisa_kev", "known_exploited_vulnerabilities.json").read_text()
    )
    odd = [v for v in body["vulnerabilities"] if v["dueDate"] < v["dateAdded"]]
    assert len(odd) == 15
    rows = kev_entries(body, source="intel")
    assert len(rows) == body["count"] == 1404
    first = rows[0]
    assert (
        first["source_id"] == "kev:CVE-2025-48384"
        and first["kev"] is True
        and first["feed"] == "kev"
    )
    assert first["vendor_project"] == "Git" and first["published"] == day("2025-08-25")
    assert {r["source_id"] for r in rows if r["cve_ids"][0] in {v["cveID"] for v in odd}}


def test_real_osv_records_parse() -> None:
    record = json.loads(
        vendor_spec("threat_intel", "osv", "examples", "GHSA-9v2f-6vcg-3hgv.json").read_text()
    )
    row = osv_advisory(record, source="intel")
    assert row["source_id"] == "osv:GHSA-9v2f-6vcg-3hgv" and row["cve_ids"] == ["CVE-2024-39236"]
    assert row["severity"] == "critical" and row["affected"][0]["package"] == "Gradio"
    assert row["url"] == "https://nvd.nist.gov/vuln/detail/CVE-2024-39236"
    pair = json.loads(
        vendor_spec(
            "threat_intel", "osv", "ghsa_to_osv_pairs", "multiple_ranges_in_package.osv.json"
        ).read_text()
    )
    parsed = osv_advisory(pair, source="intel")
    assert parsed["affected"] and all(
        any("fixed" in bound for bound in a["ranges"]) for a in parsed["affected"]
    )
    for path in vendor_spec("threat_intel", "osv", "examples").glob("*.json"):
        assert osv_advisory(json.loads(path.read_text()), source="intel")["feed"] == "osv"


def test_epss_csv_with_its_comment_line_parses_gzipped_or_not() -> None:
    text = "#model_version:v2023.03.01,score_date:2023-03-09T00:00:00+0000\ncve,epss,percentile\nCVE-2023-0001,0.00042,0.05\nCVE-2021-44228,0.97565,0.99996\n"
    for content in (text.encode(), gzip.compress(text.encode())):
        scores = parse_epss(content, source="intel")
        assert scores.score_date == "2023-03-09" and scores.model_version == "v2023.03.01"
        assert scores.scores["CVE-2021-44228"] == (0.97565, 0.99996)
    with pytest.raises(SchemaDriftError):
        parse_epss(b"cve,score\nCVE-1,0.1\n", source="intel")


def test_enrich_vulnerabilities_sets_kev_and_highest_epss() -> None:
    vulns = [
        {"external_id": "a", "cve_ids": ["CVE-1", "cve-2"], "epss": None, "in_kev": False},
        {"external_id": "b", "cve_ids": ["CVE-3"], "epss": 0.2, "in_kev": True},
        {"external_id": "c", "cve_ids": [], "epss": None, "in_kev": False},
    ]
    result = enrich_vulnerabilities(vulns, {"CVE-2"}, {"CVE-1": 0.1, "CVE-2": 0.7})
    assert [(v["in_kev"], v["epss"]) for v in result] == [(True, 0.7), (True, 0.2), (False, None)]
    assert vulns[0]["epss"] is None  # inputs untouched


def test_world_round_trips_and_incremental_syncs_are_cheap(
    served: tuple[ServedApp, SimulatorState, World], tmp_path: Path
) -> None:
    running, sim, world = served
    connector = connector_for(running.base_url, cache_dir=tmp_path / "feeds", world=world)
    connector.watch_cves(["CVE-2025-2001"])
    kev, kev_cursor = pull(connector, "kev")
    by_feed: dict[str, list[dict[str, Any]]] = {}
    for row in world.rows("advisory"):
        by_feed.setdefault(row["feed"], []).append({"source": "intel", **row})
    key = lambda r: r["source_id"]  # noqa: E731
    assert sorted(kev, key=key) == sorted(by_feed["kev"], key=key)
    assert kev_cursor == ["2026-01-13"]
    osv, osv_cursor = pull(connector, "osv")
    assert sorted(osv, key=key) == sorted(by_feed["osv"], key=key)
    assert osv_cursor == ["2026-01-07T08:00:00Z"]
    epss, epss_cursor = pull(connector, "epss")
    assert {r["source_id"]: r["epss"] for r in epss} == {
        "epss:CVE-2025-2000": 0.92,
        "epss:CVE-2025-2001": 0.05,
        "epss:CVE-2025-2002": 0.31,
    }
    assert epss_cursor == ["2026-01-15"]
    # A second sync with nothing new: one conditional GET per feed (304), OSV only its querybatch.
    before = len(sim.requests)
    fresh = connector_for(running.base_url, cache_dir=tmp_path / "feeds", world=world)
    assert pull(fresh, "kev", kev_cursor[-1]) == ([], [])
    assert pull(fresh, "epss", epss_cursor[-1]) == ([], [])
    assert pull(fresh, "osv", osv_cursor[-1]) == ([], [])
    new = sim.requests[before:]
    assert [(r.path, r.status) for r in new[:2]] == [
        ("/kev/known_exploited_vulnerabilities.json", 304),
        ("/epss/epss_scores-current.csv.gz", 304),
    ]
    assert all(r.path == "/v1/querybatch" for r in new[2:])
    # OSV pages (page size 1 here): lib0@1.0.1 matches two records → a second querybatch round.
    assert len(new[2:]) == 2


def test_inventory_comes_from_dependency_rows(
    served: tuple[ServedApp, SimulatorState, World],
) -> None:
    _, _, world = served
    assert inventory_from_rows(world.rows("dependency")) == [
        PackageRef("npm", "left-pad", "1.3.0"),
        PackageRef("npm", "lib0", "1.0.1"),
        PackageRef("npm", "lib1", "1.0.0"),
    ]


def test_faults(served: tuple[ServedApp, SimulatorState, World]) -> None:
    running, sim, world = served
    sleep = FakeSleep()
    sim.add_fault("rate_limit", times=1, path_prefix="/kev", retry_after=9)
    rows, _ = pull(connector_for(running.base_url, sleep=sleep), "kev")
    assert len(rows) == 4 and sleep.calls == [9.0]
    sim.add_fault("rate_limit", times=None, path_prefix="/kev", retry_after=1)
    with pytest.raises(RateLimitedError, match="intel/kev"):
        pull(connector_for(running.base_url), "kev")
    sim.clear_faults()
    sim.add_fault("server_error", times=None, path_prefix="/v1/querybatch")
    with pytest.raises(UpstreamError, match="intel/osv"):
        pull(connector_for(running.base_url, world=world), "osv")
    sim.clear_faults()
    sim.add_fault("auth_revoked", times=1, path_prefix="/epss")
    with pytest.raises(AuthError, match="intel/epss"):
        pull(connector_for(running.base_url), "epss")
    sim.add_fault("rename_field", times=1, path_prefix="/kev", field="cveID", new_field="cve")
    with pytest.raises(SchemaDriftError, match="intel/kev") as caught:
        pull(connector_for(running.base_url), "kev")
    assert caught.value.field == "cveID"
    sim.add_fault("malformed", times=1, path_prefix="/kev")
    with pytest.raises(SchemaDriftError, match="intel/kev"):
        pull(connector_for(running.base_url), "kev")
    sim.add_fault(
        "rename_field", times=1, path_prefix="/v1/vulns", field="modified", new_field="updated"
    )
    with pytest.raises(SchemaDriftError, match="intel/osv") as drift:
        pull(connector_for(running.base_url, world=world), "osv")
    assert drift.value.field == "modified"


def test_malformed_osv_and_kev_records_are_schema_drift_naming_the_field() -> None:
    record = {"id": "GHSA-1", "modified": "2025-02-13T21:07:29Z", "references": [None]}
    with pytest.raises(
        SchemaDriftError, match="OSV record GHSA-1: 'references.0' is null"
    ) as caught:
        osv_advisory(record, source="intel")
    assert caught.value.field == "references.0"
    kev = {"vulnerabilities": [{"cveID": "CVE-2021-1", "dateAdded": "soon"}]}
    with pytest.raises(SchemaDriftError, match="KEV entry #0 .*'dateAdded' is not a date: 'soon'"):
        kev_entries(kev, source="intel")
