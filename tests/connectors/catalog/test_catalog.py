"""The CATALOG connector: the organisation file in TOML/JSON/YAML → team/person/service/repo rows."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from cto_assistant.connectors.base import Record
from cto_assistant.connectors.catalog.mapping import parse_entries
from cto_assistant.connectors.registry import build_connector
from cto_assistant.demo.exports import write_catalog
from cto_assistant.demo.world import World
from cto_assistant.errors import SchemaDriftError, UpstreamError
from cto_assistant.store import Store
from cto_assistant.store.models import Person, Team
from cto_assistant.sync.engine import SyncEngine

TOML = """
[[teams]]
key = "PLAT"
name = "Platform"
jira_project = "PLAT"
lead_email = "ana@acme.example"

[[people]]
email = "Ana@Acme.example"
name = "Ana Lima"
team = "PLAT"
github_login = "ana-lima"

[[people]]
email = "omar@acme.example"
name = "Omar Singh"
team = "SRE"
left = 2026-01-31

[[services]]
name = "api-gateway"
team = "PLAT"
tier = 1
repo = "acme/api-gateway"
environments = ["staging", "production"]
internet_facing = true

[[repositories]]
full_name = "acme/api-gateway"
service = "api-gateway"
team = "PLAT"
"""


def connector_for(path: Path):  # type: ignore[no-untyped-def]
    return build_connector("catalog", {"kind": "catalog", "path": str(path)})


def records(path: Path, stream: str) -> list[Record]:
    return [item for item in connector_for(path).pull(stream, None) if isinstance(item, Record)]


def test_every_section_maps_to_its_table(tmp_path: Path) -> None:
    path = tmp_path / "org.toml"
    path.write_text(TOML)
    [team] = records(path, "teams")
    assert team.table == "team" and team.values["source_id"] == "PLAT"
    assert team.values["lead_email"] == "ana@acme.example"
    people = {r.values["email"]: r.values for r in records(path, "people")}
    assert people["ana@acme.example"]["github_login"] == "ana-lima"
    assert people["omar@acme.example"]["active"] is False  # a leaver, though `active` was not given
    assert people["omar@acme.example"]["left_at"] == date(2026, 1, 31)
    [service] = records(path, "services")
    assert service.values["internet_facing"] is True and service.values["tier"] == 1
    [repo] = records(path, "repositories")
    assert repo.values["service"] == "api-gateway"


def test_a_bad_entry_is_named_by_section_index_and_field(tmp_path: Path) -> None:
    path = tmp_path / "org.json"
    path.write_text(json.dumps({"services": [{"name": "ok"}, {"name": "bad", "tier": "gold"}]}))
    with pytest.raises(SchemaDriftError, match=r"services\[1\]\.tier"):
        records(path, "services")


def test_unknown_sections_and_unreadable_files_are_clear_errors(tmp_path: Path) -> None:
    path = tmp_path / "org.json"
    path.write_text(json.dumps({"squads": []}))
    with pytest.raises(SchemaDriftError, match="unknown section.*squads"):
        records(path, "teams")
    assert connector_for(path).check()[0].ok is False
    with pytest.raises(UpstreamError, match="cannot read"):
        records(tmp_path / "missing.toml", "teams")


def test_the_demo_catalog_syncs_the_world_organisation(tmp_path: Path, any_store: Store) -> None:
    world = World.from_rows(
        {
            "team": [
                {
                    "source_id": "PAY",
                    "key": "PAY",
                    "name": "Payments",
                    "jira_project": "PAY",
                    "lead_email": "lead@acme.example",
                }
            ],
            "person": [
                {
                    "source_id": "P1",
                    "name": "Lead",
                    "email": "lead@acme.example",
                    "team_key": "PAY",
                    "active": True,
                    "started_at": date(2024, 1, 2),
                }
            ],
        }
    )
    path = write_catalog(world, tmp_path / "catalog.json")
    engine = SyncEngine(any_store, [connector_for(path)])
    assert all(result.ok for result in engine.run())
    engine.run()  # idempotent
    with any_store.session() as session:
        assert session.scalars(sa.select(Team.lead_email)).all() == ["lead@acme.example"]
        assert session.scalar(sa.select(sa.func.count()).select_from(Person)) == 1


def test_an_entry_removed_from_the_catalog_disappears_after_the_next_sync(
    tmp_path: Path, any_store: Store
) -> None:
    path = tmp_path / "org.toml"
    path.write_text(TOML)
    engine = SyncEngine(any_store, [connector_for(path)])
    engine.run()
    path.write_text(
        TOML.replace(
            '[[people]]\nemail = "omar@acme.example"\nname = "Omar Singh"\nteam = "SRE"\nleft = 2026-01-31\n',
            "",
        )
    )
    engine.run()
    with any_store.session() as session:
        assert session.scalars(sa.select(Person.email)).all() == ["ana@acme.example"]


def test_budgets_with_their_scope(tmp_path: Path) -> None:
    path = tmp_path / "org.json"
    budgets = [
        {"name": "company", "amount": 250000},
        {"name": "data", "amount": 1e5, "scope": {"team": "DATA"}},
    ]
    path.write_text(json.dumps({"budgets": budgets}))
    rows = {r.values["source_id"]: r.values for r in records(path, "budgets")}
    assert rows["company"]["scope"] == {} and rows["company"]["period"] == "monthly"
    assert rows["data"]["scope"] == {"team": "DATA"} and rows["data"]["amount"] == 100000.0
    path.write_text(json.dumps({"budgets": [{"name": "bad", "amount": -5}]}))
    with pytest.raises(SchemaDriftError, match=r"budgets\[0\]\.amount"):
        records(path, "budgets")


def test_a_section_the_catalog_does_not_know_is_schema_drift() -> None:
    with pytest.raises(SchemaDriftError, match="unknown section 'squads' \\(known: teams"):
        parse_entries("squads", [], source="catalog")
    with pytest.raises(SchemaDriftError, match="unknown section"):
        parse_entries({"teams": []}, [], source="catalog")  # type: ignore[arg-type]
