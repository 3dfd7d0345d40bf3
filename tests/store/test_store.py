"""The store on SQLite and PostgreSQL: migrations, idempotent upserts, atomic batches."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from cto_assistant.errors import StoreError
from cto_assistant.store import Store
from cto_assistant.store.db import count_rows, upsert
from cto_assistant.store.models import SOURCED_TABLES, Base, CostDaily, Incident

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def incident_row(n: int, **overrides: object) -> dict[str, object]:
    row: dict[str, object] = {
        "source": "pagerduty",
        "source_id": f"P{n:05d}",
        "key": f"INC-{n}",
        "service": "checkout-service",
        "title": f"Checkout errors #{n}",
        "status": "triggered",
        "triggered_at": T0 + timedelta(minutes=n),
    }
    row.update(overrides)
    return row


def test_migration_from_empty_creates_every_table(any_store: Store) -> None:
    names = set(sa.inspect(any_store.engine).get_table_names())
    assert set(Base.metadata.tables) <= names
    assert "alembic_version" in names


def test_migrations_match_the_models(any_store: Store) -> None:
    with any_store.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == [], f"models and migrations differ; regenerate: {diff[:5]}"


def test_migrate_twice_is_a_no_op(any_store: Store) -> None:
    any_store.migrate()
    with any_store.engine.connect() as connection:
        versions = connection.execute(sa.text("SELECT version_num FROM alembic_version")).all()
    assert len(versions) == 1


def test_same_rows_twice_make_no_duplicates(any_store: Store) -> None:
    rows = [incident_row(n) for n in range(1, 1201)]  # more than one upsert chunk
    with any_store.session() as session:
        assert upsert(session, "incident", rows) == 1200
    with any_store.session() as session:
        upsert(session, "incident", rows)
        assert count_rows(session, "incident") == 1200


def test_upsert_updates_changed_columns_in_place(any_store: Store) -> None:
    with any_store.session() as session:
        upsert(session, "incident", [incident_row(1)])
    resolved = T0 + timedelta(hours=2)
    with any_store.session() as session:
        upsert(session, "incident", [incident_row(1, status="resolved", resolved_at=resolved)])
    with any_store.session() as session:
        incident = session.scalars(sa.select(Incident)).one()
        assert incident.status == "resolved"
        assert incident.resolved_at == resolved
        assert incident.resolved_at.tzinfo is not None


def test_timestamps_come_back_as_the_same_instant_in_utc(any_store: Store) -> None:
    paris = timezone(timedelta(hours=2))
    local = datetime(2026, 6, 1, 23, 45, tzinfo=paris)
    with any_store.session() as session:
        upsert(session, "incident", [incident_row(7, triggered_at=local)])
    with any_store.session() as session:
        stored = session.scalars(sa.select(Incident.triggered_at)).one()
    assert stored == local
    assert stored.utcoffset() == timedelta(0)


def test_a_batch_that_fails_midway_leaves_nothing_half_written(any_store: Store) -> None:
    with any_store.session() as session:
        upsert(session, "incident", [incident_row(1)])
    good = [incident_row(n) for n in range(2, 600)]
    bad = incident_row(600, title=None)  # NOT NULL column
    with pytest.raises(sa.exc.IntegrityError), any_store.session() as session:
        upsert(session, "incident", good)
        upsert(session, "incident", [bad])
    with any_store.session() as session:
        assert count_rows(session, "incident") == 1


def test_unknown_columns_are_refused_by_name(any_store: Store) -> None:
    with pytest.raises(StoreError, match="unknown column.*severty"), any_store.session() as session:
        upsert(session, "incident", [incident_row(1, severty="SEV-2")])


def test_rows_without_a_source_key_are_refused(any_store: Store) -> None:
    with pytest.raises(StoreError, match="source_id"), any_store.session() as session:
        upsert(session, "incident", [incident_row(1, source_id="")])


def test_unknown_tables_are_refused(any_store: Store) -> None:
    with pytest.raises(StoreError, match="unknown table"), any_store.session() as session:
        upsert(session, "incidents", [incident_row(1)])


def test_json_and_date_columns_round_trip(any_store: Store) -> None:
    row = {
        "source": "focus",
        "source_id": "2026-03-01|aws|s3",
        "day": date(2026, 3, 1),
        "provider": "aws",
        "service": "Amazon Simple Storage Service",
        "tags": {"project": "data-processing-pipeline", "team": "data"},
        "amortized_cost": 1234.5678,
        "unblended_cost": 1300.01,
    }
    with any_store.session() as session:
        upsert(session, "cost_daily", [row])
    with any_store.session() as session:
        cost = session.scalars(sa.select(CostDaily)).one()
    assert cost.tags == {"project": "data-processing-pipeline", "team": "data"}
    assert cost.day == date(2026, 3, 1)
    assert cost.currency == "USD"  # column default applied by the upsert


def test_every_vendor_table_is_upsertable(any_store: Store) -> None:
    assert {"incident", "cost_daily", "pull_request", "vulnerability"} <= set(SOURCED_TABLES)
    for table, model in SOURCED_TABLES.items():
        unique = {
            c.name
            for c in model.__table__.constraints
            if isinstance(c, sa.UniqueConstraint)
            for c in c.columns
        }  # type: ignore[attr-defined]
        assert {"source", "source_id"} <= unique, table
