"""Fixtures for the web tests: settings, an app over a real store, HTTP clients."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from cto_assistant.settings import Settings
from cto_assistant.store import Store
from cto_assistant.web.app import create_app
from tests.web.helpers import make_settings


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No CTO_* variable or cto.toml of the machine leaks into a test."""
    for name in list(os.environ):
        if name.startswith("CTO_") and name != "CTO_TEST_POSTGRES_URL":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings of a test installation."""
    return make_settings(tmp_path)


@pytest.fixture
def app(settings: Settings, sqlite_store: Store) -> FastAPI:
    """The web app over a migrated SQLite store."""
    return create_app(settings, store=sqlite_store)


@pytest.fixture
def any_app(settings: Settings, any_store: Store) -> FastAPI:
    """The web app over SQLite and, when available, PostgreSQL."""
    return create_app(settings, store=any_store)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """An HTTP client for `app` (no cookies yet)."""
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def any_client(any_app: FastAPI) -> Iterator[TestClient]:
    """An HTTP client for `any_app` (no cookies yet)."""
    with TestClient(any_app) as test_client:
        yield test_client
