"""Roster source: a CSV of employees → person rows; bad files rejected whole, with line numbers."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from cto_assistant.connectors.base import Checkpoint, ConnectorContext, Record
from cto_assistant.connectors.registry import build_connector
from cto_assistant.connectors.roster import RosterConfig, RosterConnector
from cto_assistant.errors import ConfigError, ImportFileError
from cto_assistant.store import Store, db
from cto_assistant.store.models import Person
from cto_assistant.sync.engine import SyncEngine

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)
GOOD = """email,name,team,started,left,role
Ana.Silva@acme.cloud,Ana Silva,PLAT,2021-06-15,,Staff Engineer
omar.singh@acme.cloud,Omar Singh,SRE,2024-03-11,2026-01-16,
zoe.novak@acme.cloud,Zoe Novak,MOB,2024-01-07,2026-03-31,

lee.park@acme.cloud,Lee Park,,,,
"""


def roster(path: Path, **extra: Any) -> RosterConnector:
    """A roster connector on `path` whose clock is NOW."""
    conn = RosterConnector(
        ConnectorContext(name="roster", config=RosterConfig(path=str(path), **extra))
    )
    conn.clock = lambda: NOW
    return conn


def people(conn: RosterConnector, since: str | None = None) -> dict[str, dict[str, Any]]:
    """The person rows of one pull, by e-mail."""
    rows = [i.values for i in conn.pull("people", since) if isinstance(i, Record)]
    return {str(r["email"]): dict(r) for r in rows}


def test_rows_become_people_with_leavers_inactive(tmp_path: Path) -> None:
    path = tmp_path / "roster.csv"
    path.write_text(GOOD)
    rows = people(roster(path))
    assert set(rows) == {
        "ana.silva@acme.cloud",
        "omar.singh@acme.cloud",
        "zoe.novak@acme.cloud",
        "lee.park@acme.cloud",
    }
    assert rows["ana.silva@acme.cloud"] == {
        "source": "roster",
        "source_id": "ana.silva@acme.cloud",
        "name": "Ana Silva",
        "email": "ana.silva@acme.cloud",
        "team_key": "PLAT",
        "role": "Staff Engineer",
        "active": True,
        "started_at": date(2021, 6, 15),
        "left_at": None,
    }
    assert rows["omar.singh@acme.cloud"]["active"] is False
    assert rows["omar.singh@acme.cloud"]["left_at"] == date(2026, 1, 16)
    assert rows["zoe.novak@acme.cloud"]["active"] is True  # leaving at month end: still here
    assert rows["lee.park@acme.cloud"]["team_key"] is None


def test_bad_rows_reject_the_whole_file_with_their_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "roster.csv"
    path.write_text(
        "email,name,team,started,left\n"
        "ana.silva@acme.cloud,Ana Silva,PLAT,2021-06-15,\n"
        "not-an-email,Bad Mail,PLAT,,\n"
        "ben.ito@acme.cloud,,PAY,2022-01-01,\n"
        "cy.ng@acme.cloud,Cy Ng,PAY,2023-05-01,2022-01-01\n"
        "ANA.SILVA@acme.cloud,Ana Again,PLAT,,\n"
        "di.lu@acme.cloud,Di Lu,DATA,yesterday,\n"
    )
    conn = roster(path)
    items = conn.pull("people", None)
    with pytest.raises(ImportFileError) as caught:
        next(items)  # nothing is yielded before the whole file is valid
    problems = caught.value.problems
    assert [p.split(":")[0] for p in problems] == [
        "line 3",
        "line 4",
        "line 5",
        "line 6",
        "line 7",
    ]
    assert problems[0].startswith("line 3: email: String should match pattern")
    assert problems[1] == "line 4: name: is required"
    assert "left (2022-01-01) is before started (2023-05-01)" in problems[2]
    assert problems[3] == "line 6: ana.silva@acme.cloud is already listed on line 2"
    assert problems[4].startswith("line 7: started:")


def test_a_missing_required_column_is_named(tmp_path: Path) -> None:
    path = tmp_path / "roster.csv"
    path.write_text("mail,name\nana@acme.cloud,Ana\n")
    with pytest.raises(ImportFileError, match="line 1: missing column\\(s\\): email"):
        list(roster(path).pull("people", None))


def test_column_names_of_an_hr_export_are_mapped(tmp_path: Path) -> None:
    path = tmp_path / "hr.csv"
    path.write_text(
        "Work Email,Full Name,Department,Hire Date,Termination Date\n"
        "ana.silva@acme.cloud,Ana Silva,PLAT,2021-06-15,2026-02-01\n"
    )
    conn = roster(
        path,
        columns={
            "email": "Work Email",
            "name": "Full Name",
            "team": "Department",
            "started": "Hire Date",
            "left": "Termination Date",
        },
    )
    row = people(conn)["ana.silva@acme.cloud"]
    assert (row["team_key"], row["active"], row["left_at"]) == ("PLAT", False, date(2026, 2, 1))


def test_unknown_column_mapping_is_a_config_error_naming_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        build_connector(
            "roster", {"kind": "roster", "path": str(tmp_path), "columns": {"mail": "x"}}
        )
    assert caught.value.setting == "sources.roster.columns"


def test_json_rosters_are_read_too(tmp_path: Path) -> None:
    path = tmp_path / "roster.json"
    path.write_text('[{"email": "ana@acme.cloud", "name": "Ana", "left": "2025-01-01"}]')
    assert people(roster(path))["ana@acme.cloud"]["active"] is False


def test_an_unchanged_file_is_not_read_again_the_same_day(tmp_path: Path) -> None:
    path = tmp_path / "roster.csv"
    path.write_text(GOOD)
    conn = roster(path)
    first = list(conn.pull("people", None))
    assert isinstance(first[-1], Checkpoint)
    cursor = first[-1].cursor
    conn.context.stats.reset()
    assert list(conn.pull("people", cursor)) == []
    assert conn.context.stats.requests == 0
    path.write_text(GOOD + "new.hire@acme.cloud,New Hire,PAY,2026-03-02,\n")
    assert "new.hire@acme.cloud" in people(conn, cursor)


def test_check_reports_the_count_or_the_problem(tmp_path: Path) -> None:
    path = tmp_path / "roster.csv"
    path.write_text(GOOD)
    assert roster(path).check()[0].detail == "4 people"
    missing = roster(tmp_path / "absent.csv").check()[0]
    assert not missing.ok and "file not found" in missing.detail


def test_sync_engine_writes_people_and_a_bad_file_writes_nothing(
    tmp_path: Path, sqlite_store: Store
) -> None:
    path = tmp_path / "roster.csv"
    path.write_text(GOOD)
    conn = roster(path)
    engine = SyncEngine(sqlite_store, [conn], now=lambda: NOW)
    assert [r.ok for r in engine.run()] == [True]
    with sqlite_store.session() as session:
        assert db.count_rows(session, "person") == 4
        leaver = session.query(Person).filter_by(email="omar.singh@acme.cloud").one()
        assert (leaver.active, leaver.left_at) == (False, date(2026, 1, 16))
    path.write_text(GOOD.replace("Ana Silva", "Ana Changed") + "broken,,,,\n")
    failed = engine.run()
    assert [r.ok for r in failed] == [False] and "line 7" in (failed[0].error or "")
    with sqlite_store.session() as session:
        assert session.query(Person).filter_by(name="Ana Changed").count() == 0
