"""Reliability fixtures: one synced demo world (logs captured), signed-in clients, the figures.

The demo is a copy of the session's synced demo world (tests/support/demo_world.py: built once,
at DEBUG with the mappers' calls recorded), shared by the fault, access and load tests; tests
that damage it (faults) only ever add runs and re-sync. It and the signed-in clients (whose app
runs the dashboard warmer) are package-scoped: they stop when this package is done, not at the
end of the session where a warmer would still log into other tests' output.
Every test adds what it tried and what held to `figures`; at the end of the session they are
written to `build/reliability/figures.json`, which `tests/reliability/report.py` turns into
docs/RELIABILITY.md.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from cto_assistant import accounts
from cto_assistant.demo.run import DemoRun
from cto_assistant.secrets import KEY_ENV, new_key
from cto_assistant.settings import load_settings
from cto_assistant.web.app import create_app
from tests.support.demo_world import (
    DEMO_PASSWORD,
    SECRET_KEY,
    DemoTemplate,
    MapperCall,
    copy_demo,
)
from tests.web.helpers import PASSWORD, form_sign_in

REPO_ROOT = Path(__file__).resolve().parents[2]
FIGURES_FILE = Path(
    os.environ.get("CTO_RELIABILITY_FIGURES", REPO_ROOT / "build" / "reliability" / "figures.json")
)
SECRET_FIELD_WORDS = ("token", "secret", "password", "api_key", "app_key", "access_key", "key_id")

_FIGURES: dict[str, Any] = defaultdict(dict)


class Figures:
    """What the reliability tests tried and what held, by section (written at session end)."""

    def add(self, section: str, key: str, value: Any) -> None:
        """Record one figure."""
        _FIGURES[section][key] = value

    def count(self, section: str, key: str, by: int = 1) -> None:
        """Add to a counter."""
        _FIGURES[section][key] = int(_FIGURES[section].get(key, 0)) + by

    def append(self, section: str, key: str, item: Any) -> None:
        """Append to a list."""
        _FIGURES[section].setdefault(key, []).append(item)


@pytest.fixture(scope="session")
def figures() -> Figures:
    """The session's figure recorder."""
    return Figures()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Write the figures of this run (merged over earlier partial runs) for report.py."""
    if not _FIGURES:
        return
    FIGURES_FILE.parent.mkdir(parents=True, exist_ok=True)
    merged: dict[str, Any] = {}
    if FIGURES_FILE.exists():
        try:
            merged = json.loads(FIGURES_FILE.read_text())
        except ValueError:
            merged = {}
    for section, values in _FIGURES.items():
        merged.setdefault(section, {}).update(values)
    merged["_run"] = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "exit_status": int(exitstatus),
        "cpus": os.cpu_count(),
    }
    FIGURES_FILE.write_text(json.dumps(merged, indent=2, sort_keys=True, default=str))


@dataclass
class Demo:
    """The synced demo world, its log output and every secret it was configured with."""

    run: DemoRun
    log_text: str
    secrets: list[str]
    mapper_calls: dict[str, list[MapperCall]]


def secret_values(sections: dict[str, dict[str, Any]]) -> list[str]:
    """Every credential-like value in source sections (what the grep looks for)."""
    found = []
    for section in sections.values():
        for key, value in section.items():
            if isinstance(value, str) and any(word in key.lower() for word in SECRET_FIELD_WORDS):
                found.append(value)
    return found


@pytest.fixture(scope="package")
def demo(tmp_path_factory: pytest.TempPathFactory, demo_template: DemoTemplate) -> Iterator[Demo]:
    """A copy of the session's synced demo, with the DEBUG logs and mapper calls of its sync."""
    base = load_settings(
        data_dir=tmp_path_factory.mktemp("reliability-demo"),
        secret_key=SECRET_KEY,
        demo_password=DEMO_PASSWORD,
        log_level="DEBUG",
        sync_interval_minutes=0,
    )
    run = copy_demo(demo_template, base)
    # what the logged sync was configured with (the copy's sources differ only in their URLs)
    secrets = [SECRET_KEY, DEMO_PASSWORD, *secret_values(demo_template.settings.sources)]
    try:
        yield Demo(
            run=run,
            log_text=demo_template.log_text,
            secrets=secrets,
            mapper_calls=demo_template.mapper_calls,
        )
    finally:
        run.stop()


@pytest.fixture(scope="package")
def demo_app(demo: Demo) -> FastAPI:
    """The web app over the demo store (no scheduler)."""
    return create_app(demo.run.settings, store=demo.run.store, sync_on_start=False)


@pytest.fixture(scope="package")
def demo_viewer(demo: Demo) -> str:
    """A viewer account in the demo store."""
    with demo.run.store.session() as session:
        accounts.create_user(session=session, username="vera", password=PASSWORD, role="viewer")
    return "vera"


@pytest.fixture(scope="package")
def admin_client(demo_app: FastAPI, demo: Demo) -> Iterator[TestClient]:
    """A TestClient signed in as the demo admin."""
    with TestClient(demo_app) as client:
        response = form_sign_in(client, demo.run.username, demo.run.password)
        assert response.status_code == 303, response.text
        yield client


@pytest.fixture(scope="package")
def viewer_client(demo_app: FastAPI, demo_viewer: str) -> Iterator[TestClient]:
    """A TestClient signed in as a viewer."""
    with TestClient(demo_app) as client:
        response = form_sign_in(client, demo_viewer)
        assert response.status_code == 303, response.text
        yield client


@pytest.fixture
def secrets_key(monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh CTO_SECRETS_KEY in the environment."""
    key = new_key()
    monkeypatch.setenv(KEY_ENV, key)
    return key
