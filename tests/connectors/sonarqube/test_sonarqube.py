"""SonarQube connector: official examples parse, and syncs against the simulator behave."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from cto_assistant.connectors.sonarqube import SonarQubeConnector, mapping
from cto_assistant.demo.simulators import sonarqube
from cto_assistant.errors import AuthError, SchemaDriftError, UpstreamError
from cto_assistant.store import db
from cto_assistant.store.db import Store
from cto_assistant.store.models import QualitySnapshot
from tests.conftest import vendor_spec
from tests.connectors.cicd.worlds import Harness, harness, pull
from tests.connectors.sonarqube.worlds import quality_world, snapshot

DEFAULTS = {"token": sonarqube.DEMO_TOKEN}


def _example(name: str) -> dict:
    path = vendor_spec("sonarqube", "official_ws_examples", name)
    return json.loads(path.read_text())  # type: ignore[no-any-return]


def _sorted(rows: list[dict]) -> list[dict]:
    return sorted(rows, key=lambda row: row["source_id"])


@pytest.fixture
def served() -> Iterator[Harness]:
    """The SonarQube simulator serving the tiny quality world."""
    with harness(
        sonarqube.make_app(quality_world()), SonarQubeConnector, "sonarqube", DEFAULTS
    ) as h:
        yield h


# ------------------------------------------------------------- SonarSource's own examples


def test_official_measures_component_example_parses() -> None:
    values = mapping.component_measures(
        _example("measures_component-example.json"), source="sonarqube", stream="measures"
    )
    # The example is a file with complexity, new_violations and ncloc=114: only ncloc maps.
    assert values == {"ncloc": 114}


def test_official_project_status_example_parses() -> None:
    body = _example("qualitygates_project_status-example.json")
    assert mapping.gate_status(body, source="sonarqube", stream="measures") == "ERROR"


def test_official_search_history_example_shape_parses() -> None:
    # The example response of api/measures/search_history in SonarQube's web API docs.
    body = {
        "paging": {"pageIndex": 1, "pageSize": 100, "total": 3},
        "measures": [
            {
                "metric": "complexity",
                "history": [{"date": "2017-01-23T17:00:53+0100", "value": "45"}],
            },
            {
                "metric": "ncloc",
                "history": [
                    {"date": "2017-01-23T17:00:53+0100", "value": "47"},
                    {"date": "2017-01-24T17:00:53+0100", "value": "47"},
                ],
            },
            {"metric": "coverage", "history": [{"date": "2017-01-23T17:00:53+0100"}]},
        ],
    }
    history = mapping.history_by_date([body], source="sonarqube", stream="measures_history")
    first = datetime(2017, 1, 23, 16, 0, 53, tzinfo=UTC)
    assert history[first] == {"ncloc": 47, "coverage": None}
    assert len(history) == 2


def test_measure_that_is_not_a_number_is_schema_drift() -> None:
    body = {"component": {"key": "k", "measures": [{"metric": "coverage", "value": "n/a"}]}}
    with pytest.raises(SchemaDriftError, match="coverage"):
        mapping.component_measures(body, source="sonarqube", stream="measures")


# -------------------------------------------------------------------- against the simulator


def test_history_round_trips_the_world(served: Harness) -> None:
    run = pull(served.connector(page_size=2), "measures_history")
    assert run.rows("quality_snapshot") == _sorted(list(quality_world().rows("quality_snapshot")))
    assert json.loads(run.cursor or "{}") == {
        "acme:checkout-service": "2026-01-09T09:00:00Z",
        "acme:mobile-app": "2026-01-07T09:00:00Z",
        "acme:payments-api": "2026-01-08T09:00:00Z",
    }


def test_measures_give_the_latest_snapshot_with_its_gate(served: Harness) -> None:
    run = pull(served.connector(auth_scheme="basic"), "measures")
    world = _sorted(list(quality_world().rows("quality_snapshot")))
    latest = {row["project_key"]: row for row in world}  # sorted: last per project wins
    assert run.rows("quality_snapshot") == _sorted(list(latest.values()))


def test_repo_mapping_and_configured_projects(served: Harness) -> None:
    connector = served.connector(
        projects=["acme:mobile-app"], repo_mapping={"acme:mobile-app": "acme/ios"}
    )
    rows = pull(connector, "measures").rows("quality_snapshot")
    assert [(row["project_key"], row["repo"]) for row in rows] == [("acme:mobile-app", "acme/ios")]
    assert served.connector(repo_prefix="gl/").repo_for("x") == "gl/x"


def test_incremental_history_pulls_only_new_analyses() -> None:
    first_world = quality_world()
    with harness(sonarqube.make_app(first_world), SonarQubeConnector, "sonarqube", DEFAULTS) as h:
        first = pull(h.connector(), "measures_history")
    newer = snapshot("acme/payments-api", 9, coverage=90.5, debt=100.0, smells=3, gate="OK")
    with harness(
        sonarqube.make_app(quality_world([newer])), SonarQubeConnector, "sonarqube", DEFAULTS
    ) as h:
        run = pull(h.connector(), "measures_history", first.cursor)
        assert run.rows("quality_snapshot") == [newer]
        # the project list, then one history page for the one project analysed since
        assert h.state.request_count() == 2
        assert "from=2026-01-08T09%3A00%3A00%2B0000" in h.state.requests[-1].query
        before = h.state.request_count()
        again = pull(h.connector(), "measures_history", run.cursor)
        assert again.records == [] and h.state.request_count() - before == 1
        measures = pull(h.connector(), "measures")
        before = h.state.request_count()
        again = pull(h.connector(), "measures", measures.cursor)
        assert again.records == [] and h.state.request_count() - before == 1


def test_projects_stream_reads_the_list_and_feeds_nothing(served: Harness) -> None:
    assert pull(served.connector(), "projects").records == []
    assert served.state.request_count("/api/projects/search") == 1


def test_faults(served: Harness) -> None:
    served.state.add_fault(
        "rate_limit", times=1, retry_after=4, path_prefix="/api/measures/search_history"
    )
    assert pull(served.connector(), "measures_history").records
    assert served.sleeps == [4.0]
    served.state.add_fault("server_error", times=None, path_prefix="/api/measures/component")
    with pytest.raises(UpstreamError) as upstream:
        pull(served.connector(max_attempts=2), "measures")
    assert upstream.value.stream == "measures"
    served.state.clear_faults()
    with pytest.raises(AuthError) as auth:
        pull(served.connector(token="nope"), "measures")
    assert auth.value.source == "sonarqube"
    assert not served.connector(token="nope").check()[0].ok
    served.state.add_fault("malformed", path_prefix="/api/measures/search_history")
    with pytest.raises(SchemaDriftError) as malformed:
        pull(served.connector(), "measures_history")
    assert malformed.value.stream == "measures_history"
    served.state.add_fault(
        "rename_field",
        path_prefix="/api/measures/search_history",
        field="history",
        new_field="points",
    )
    with pytest.raises(SchemaDriftError, match="'history'") as renamed:
        pull(served.connector(), "measures_history")
    assert renamed.value.stream == "measures_history"


def test_history_upserts_into_the_store(sqlite_store: Store, served: Harness) -> None:
    connector = served.connector()
    for stream in ("measures_history", "measures"):
        run = pull(connector, stream)
        with sqlite_store.session() as session:
            db.upsert(session, "quality_snapshot", [dict(r.values) for r in run.records])
    with sqlite_store.session() as session:
        rows = session.query(QualitySnapshot).all()
        assert len(rows) == 9  # the current snapshots land on their history rows
        latest = [r for r in rows if r.project_key == "acme:payments-api"]
        assert max(r.at for r in latest).replace(tzinfo=UTC) == datetime(2026, 1, 8, 9, tzinfo=UTC)
        assert {r.quality_gate for r in latest} == {"ERROR", "OK"}


def test_sync_engine_runs_all_streams(sqlite_store: Store, served: Harness) -> None:
    from cto_assistant.sync.engine import SyncEngine

    results = SyncEngine(sqlite_store, [served.connector()]).run()
    assert [(r.stream, r.ok, r.records) for r in results] == [
        ("projects", True, 0),
        ("measures", True, 3),
        ("measures_history", True, 9),
    ]
    again = SyncEngine(sqlite_store, [served.connector()]).run()
    assert [r.requests for r in again] == [1, 1, 1]
    with sqlite_store.session() as session:
        assert session.query(QualitySnapshot).count() == 9


def test_generated_demo_world_history_round_trips() -> None:
    from datetime import date

    from cto_assistant.demo.world import build_world

    world = build_world(seed=42, today=date(2026, 1, 15))
    with harness(sonarqube.make_app(world), SonarQubeConnector, "sonarqube", DEFAULTS) as h:
        run = pull(h.connector(), "measures_history")
    expected = _sorted(list(world.rows("quality_snapshot")))
    assert expected and run.rows("quality_snapshot") == expected


def test_malformed_history_and_values_are_schema_drift_naming_the_field() -> None:
    with pytest.raises(SchemaDriftError, match="search_history: 'pages' is an object"):
        mapping.history_by_date({"measures": []}, source="sonarqube", stream="h")  # type: ignore[arg-type]
    with pytest.raises(SchemaDriftError, match="measure 'complexity' is not a metric we map"):
        mapping.metric_value("complexity", "3", source="sonarqube", stream="measures")
    with pytest.raises(SchemaDriftError, match="measure coverage: 'value' is a string 'NaN'"):
        mapping.metric_value("coverage", "NaN", source="sonarqube", stream="measures")
    with pytest.raises(SchemaDriftError, match="project k: 'values' is a list"):
        mapping.snapshot(
            project_key="k",
            repo="r",
            at=datetime(2026, 1, 1, tzinfo=UTC),
            values=[],  # type: ignore[arg-type]
        )
