"""Engine, sessions, migrations and the (source, source_id) upsert — SQLite and PostgreSQL."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from cto_assistant.errors import StoreError
from cto_assistant.store.lead_time_facts import FED_BY, forget_facts_of
from cto_assistant.store.models import SOURCED_TABLES, Base, Sourced
from cto_assistant.store.rollup import mark_all_cost_dirty, mark_days_of_rows_dirty

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
UPSERT_CHUNK = 500


def create_engine_for(url: str) -> Engine:
    """Build an engine; SQLite gets WAL, foreign keys and a busy timeout."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA cache_size=-65536")  # 64 MiB of pages (the default is 2)
            cursor.close()

        return engine
    return sa.create_engine(url, pool_pre_ping=True)


def alembic_config(url: str) -> AlembicConfig:
    """An Alembic config pointing at our migrations and the given database."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


@lru_cache(maxsize=1)
def head_revisions() -> frozenset[str]:
    """The head revision ids of our migrations (read once per process)."""
    from alembic.script import ScriptDirectory

    return frozenset(ScriptDirectory(str(MIGRATIONS_DIR)).get_heads())


class Store:
    """One database: its engine, a session factory and the migration entry point."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_engine_for(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        """'sqlite' or 'postgresql'."""
        return self.engine.dialect.name

    def migrate(self) -> None:
        """Apply every pending Alembic migration (idempotent; one query when already current)."""
        if self.schema_is_current():
            return
        try:
            with self.engine.begin() as connection:
                config = alembic_config(self.url)
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        except SQLAlchemyError as exc:
            raise StoreError(f"migration failed: {exc.__class__.__name__}: {exc}") from exc

    def schema_is_current(self) -> bool:
        """Whether the database is at the head revision (read from alembic_version)."""
        try:
            with self.engine.connect() as connection:
                found = set(
                    connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalars()
                )
        except SQLAlchemyError:
            return False  # no version table yet: a fresh database
        return bool(found) and found == head_revisions()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on any error."""
        with self.sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def open_store(url: str, *, migrate: bool = True) -> Store:
    """Open the store at `url`, applying migrations first unless told not to."""
    store = Store(url)
    if migrate:
        store.migrate()
    return store


def utcnow() -> datetime:
    """The current time as an aware UTC datetime (the only clock read of the store)."""
    return datetime.now(UTC)


def upsert(
    session: Session,
    table: str,
    rows: Sequence[Mapping[str, Any]],
    *,
    synced_at: datetime | None = None,
) -> int:
    """Insert or update `rows` of a vendor-fed table keyed on (source, source_id); return count.

    Unknown columns are refused with their names, so a mapper bug is caught before writing.
    Rows with the same key inside one call collapse to the last one. Derived data is told in
    the same transaction: cost days are marked dirty, lead-time facts stale.
    """
    model = SOURCED_TABLES.get(table)
    if model is None:
        raise StoreError(f"unknown table {table!r} (known: {', '.join(sorted(SOURCED_TABLES))})")
    if not rows:
        return 0
    sa_table: sa.Table = model.__table__  # type: ignore[attr-defined]
    columns = set(sa_table.columns.keys())
    stamp = synced_at or utcnow()
    deduped: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        extra = set(row) - columns
        if extra:
            raise StoreError(f"{table}: unknown column(s) {', '.join(sorted(extra))}")
        if not row.get("source") or row.get("source_id") in (None, ""):
            raise StoreError(f"{table}: every row needs source and source_id")
        values = dict(row)
        values["source_id"] = str(values["source_id"])
        values.setdefault("synced_at", stamp)
        deduped[(values["source"], values["source_id"])] = values
    batch = _complete_rows(sa_table, list(deduped.values()))
    insert_fn = (
        postgresql.insert
        if session.bind and session.bind.dialect.name == "postgresql"
        else sqlite.insert
    )
    statement = insert_fn(sa_table)
    updatable = [name for name in batch[0] if name not in {"id", "source", "source_id"}]
    statement = statement.on_conflict_do_update(
        index_elements=["source", "source_id"],
        set_={name: statement.excluded[name] for name in updatable},
    )
    # One compiled statement, many parameter sets (executemany / insertmanyvalues).
    for start in range(0, len(batch), UPSERT_CHUNK):
        chunk = batch[start : start + UPSERT_CHUNK]
        if table in FED_BY:  # the stored keys, read before the write replaces them
            forget_facts_of(session, table, stored=_stored(model, chunk), rows=chunk)
        session.execute(statement, chunk)
    if table == "cost_daily":  # same transaction: the rollup is never trusted past these rows
        mark_days_of_rows_dirty(session, (row.get("day") for row in batch))
    return len(batch)


def _stored(model: type[Sourced], rows: Sequence[Mapping[str, Any]]) -> sa.ColumnElement[bool]:
    """The stored versions of `rows`: matching (source, source_id)."""
    ids: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        ids[row["source"]].append(row["source_id"])
    return sa.or_(
        *(
            sa.and_(model.source == source, model.source_id.in_(held))
            for source, held in ids.items()
        )
    )


def _complete_rows(table: sa.Table, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Give every row the same keys (a multi-row VALUES needs it), using column defaults."""
    keys: set[str] = set().union(*(row.keys() for row in rows))
    defaults: dict[str, Any] = {}
    for name in keys:
        column = table.columns[name]
        default = column.default
        if default is not None and getattr(default, "is_scalar", False):
            defaults[name] = default.arg  # type: ignore[attr-defined]
        elif default is not None and getattr(default, "is_callable", False):
            defaults[name] = None  # filled per row below
        else:
            defaults[name] = None
    completed = []
    for row in rows:
        full = {name: row.get(name, defaults[name]) for name in keys}
        for name in keys:
            if name not in row:
                column = table.columns[name]
                if column.default is not None and getattr(column.default, "is_callable", False):
                    full[name] = column.default.arg(None)  # type: ignore[attr-defined]
        completed.append(full)
    return completed


def delete_where(session: Session, table: str, **equals: Any) -> int:
    """Delete the rows of a vendor-fed table matching every `column=value`; return count."""
    model = SOURCED_TABLES[table]
    sa_table: sa.Table = model.__table__  # type: ignore[attr-defined]
    clauses = [sa_table.c[name] == value for name, value in equals.items()]
    if table == "cost_daily":
        mark_all_cost_dirty(session)
    forget_facts_of(session, table, stored=sa.and_(*clauses))
    result = session.execute(sa.delete(sa_table).where(*clauses))
    return int(getattr(result, "rowcount", 0) or 0)


def count_rows(session: Session, table: str) -> int:
    """Number of rows in a vendor-fed table."""
    model = SOURCED_TABLES[table]
    return int(session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


def all_table_names() -> Iterable[str]:
    """Every table of the domain model."""
    return Base.metadata.tables.keys()
