"""Shared fixtures: a migrated store on SQLite and (when available) PostgreSQL, the demo world."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from cto_assistant.store import Store, open_store
from tests.support.demo_world import DemoTemplate, build_demo_template

REPO_ROOT = Path(__file__).resolve().parents[1]
VENDOR_SPECS = REPO_ROOT.parent / "shared" / "vendor-specs"
POSTGRES_URL_ENV = "CTO_TEST_POSTGRES_URL"


def vendor_spec(*parts: str) -> Path:
    """Path of a file in ../shared/vendor-specs; skip the test with a clear message if absent."""
    path = VENDOR_SPECS.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"vendor spec {path} not found (../shared/vendor-specs is absent here)")
    return path


def _postgres_url() -> str | None:
    url = os.environ.get(POSTGRES_URL_ENV)
    in_ci = os.environ.get("CI", "").lower() == "true"
    if not url:
        if in_ci:
            pytest.fail(
                f"{POSTGRES_URL_ENV} is not set in CI: storage tests must run on PostgreSQL"
            )
        pytest.skip(f"PostgreSQL not configured ({POSTGRES_URL_ENV} unset); SQLite only here")
    try:
        engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
        with engine.connect():
            pass
        engine.dispose()
    except Exception as exc:  # a missing server is a skip locally, a failure in CI
        if in_ci:
            pytest.fail(f"PostgreSQL at {POSTGRES_URL_ENV} unreachable in CI: {exc}")
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    return url


def _psycopg(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


# Migrating a database from empty costs a tenth of a second on SQLite and most of a second on
# PostgreSQL (a hundred DDL statements), for each of hundreds of tests. The migration runs once
# per session into a template; every test gets its own byte-for-byte copy of that migrated
# database (a file copy; `CREATE DATABASE … TEMPLATE`), as isolated as a fresh migration.


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated from empty, once per session (closed: no WAL left beside it)."""
    path = tmp_path_factory.mktemp("store-template") / "cto.db"
    open_store(f"sqlite:///{path}").dispose()
    assert not Path(f"{path}-wal").exists(), "the template must be checkpointed before copies"
    return path


def _sqlite_copy(template: Path, folder: Path) -> Store:
    """A store on a copy of the migrated template in `folder` (migrate() finds it current)."""
    path = folder / "cto.db"
    shutil.copyfile(template, path)
    return open_store(f"sqlite:///{path}")


@dataclass(frozen=True)
class PostgresTemplate:
    """A database migrated from empty once per session, and how to reach its server."""

    admin: sa.Engine  # autocommit: CREATE/DROP DATABASE cannot run in a transaction
    server_url: str  # CTO_TEST_POSTGRES_URL: its server and credentials, any database
    name: str

    def url_of(self, database: str) -> str:
        """The SQLAlchemy URL of another database on the same server."""
        return (
            make_url(_psycopg(self.server_url))
            .set(database=database)
            .render_as_string(hide_password=False)
        )


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[PostgresTemplate]:
    """The migrated template database (dropped at the end of the session)."""
    base = _postgres_url()
    assert base is not None
    admin = sa.create_engine(_psycopg(base), isolation_level="AUTOCOMMIT")
    template = PostgresTemplate(admin, base, f"cto_template_{uuid.uuid4().hex[:12]}")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{template.name}"'))
    try:
        # no connection may stay open on a template while databases are copied from it
        open_store(template.url_of(template.name)).dispose()
        yield template
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{template.name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A freshly migrated store, once on SQLite and once on PostgreSQL (own database per test)."""
    if request.param == "sqlite":
        store = _sqlite_copy(request.getfixturevalue("sqlite_template"), tmp_path)
        yield store
        store.dispose()
        return
    template: PostgresTemplate = request.getfixturevalue("postgres_template")
    database = f"t_{uuid.uuid4().hex[:12]}"
    with template.admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{database}" TEMPLATE "{template.name}"'))
    store = open_store(template.url_of(database))
    try:
        yield store
    finally:
        store.dispose()
        with template.admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE "{database}" WITH (FORCE)'))


@pytest.fixture
def sqlite_store(sqlite_template: Path, tmp_path: Path) -> Iterator[Store]:
    """A freshly migrated SQLite store in a temporary folder."""
    store = _sqlite_copy(sqlite_template, tmp_path)
    yield store
    store.dispose()


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> DemoTemplate:
    """Acme Cloud built and synced once per session (stopped); packages run `copy_demo` of it."""
    return build_demo_template(tmp_path_factory.mktemp("demo-template"))
