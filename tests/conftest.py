"""Shared fixtures: a migrated store on SQLite and (when available) PostgreSQL, pinned time."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from cto_assistant.store import Store, open_store

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


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A freshly migrated store, once on SQLite and once on PostgreSQL (own schema per test)."""
    if request.param == "sqlite":
        store = open_store(f"sqlite:///{tmp_path / 'cto.db'}")
        yield store
        store.dispose()
        return
    base = _postgres_url()
    assert base is not None
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    url = f"{base}{sep}options=-csearch_path%3D{schema}".replace(
        "postgresql://", "postgresql+psycopg://", 1
    )
    store = open_store(url)
    try:
        yield store
    finally:
        store.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    """A freshly migrated SQLite store in a temporary folder."""
    store = open_store(f"sqlite:///{tmp_path / 'cto.db'}")
    yield store
    store.dispose()
