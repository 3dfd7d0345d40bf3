"""Reliability fixtures: one synced demo world (logs captured), signed-in clients, the figures.

The demo is built once per session (it takes most of a minute on two cores) and shared by the
fault, access and load tests; tests that damage it (faults) only ever add runs and re-sync.
Every test adds what it tried and what held to `figures`; at the end of the session they are
written to `build/reliability/figures.json`, which `tests/reliability/report.py` turns into
docs/RELIABILITY.md.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import inspect
import io
import json
import logging
import os
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from cto_assistant import accounts
from cto_assistant.demo.run import DemoRun, prepare_demo
from cto_assistant.logging import configure_logging
from cto_assistant.secrets import KEY_ENV, new_key
from cto_assistant.settings import load_settings
from cto_assistant.web.app import create_app
from tests.web.helpers import PASSWORD, form_sign_in

REPO_ROOT = Path(__file__).resolve().parents[2]
FIGURES_FILE = Path(
    os.environ.get("CTO_RELIABILITY_FIGURES", REPO_ROOT / "build" / "reliability" / "figures.json")
)
SECRET_KEY = "reliability-secret-key-5c0ffee5-91d3"
DEMO_PASSWORD = "demo-password-7e2b9c41aa"
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


MAPPER_VENDORS = (
    "aws_cost_explorer", "aws_iam", "catalog", "cicd", "datadog", "github", "jira",
    "pagerduty", "snyk", "sonarqube", "threat_intel",
)  # fmt: skip
SAMPLES_PER_FUNCTION = 4


@dataclass
class MapperCall:
    """One call a connector made to a mapper during the demo sync (arguments deep-copied)."""

    function: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]


class MapperRecorder:
    """Observes calls to every public function of the vendors' mapping modules."""

    def __init__(self) -> None:
        self.calls: dict[str, list[MapperCall]] = defaultdict(list)
        self._patch = pytest.MonkeyPatch()

    def install(self) -> None:
        """Wrap each mapping function so its first calls are kept as samples."""
        for vendor in MAPPER_VENDORS:
            module = importlib.import_module(f"cto_assistant.connectors.{vendor}.mapping")
            for name, function in vars(module).items():
                if (
                    name.startswith("_")
                    or not inspect.isfunction(function)
                    or function.__module__ != module.__name__
                ):
                    continue
                self._patch.setattr(module, name, self._wrap(f"{vendor}.{name}", function))

    def _wrap(self, key: str, function: Callable[..., Any]) -> Callable[..., Any]:
        calls = self.calls

        def observed(*args: Any, **kwargs: Any) -> Any:
            if len(calls[key]) < SAMPLES_PER_FUNCTION:
                # arguments that cannot be copied (connections) are not payloads
                with contextlib.suppress(TypeError, copy.Error):
                    calls[key].append(MapperCall(function, *copy.deepcopy((args, kwargs))))
            return function(*args, **kwargs)

        return observed

    def remove(self) -> None:
        """Put the original functions back."""
        self._patch.undo()


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


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The small Acme Cloud world synced through the real connectors, DEBUG logs captured."""
    data_dir = tmp_path_factory.mktemp("reliability-demo")
    base = load_settings(
        data_dir=data_dir,
        secret_key=SECRET_KEY,
        demo_password=DEMO_PASSWORD,
        log_level="DEBUG",
        sync_interval_minutes=0,
    )
    buffer = io.StringIO()
    configure_logging(base, stream=buffer)
    debug_root = logging.getLogger()
    for noisy in ("httpx", "httpcore", "botocore", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.DEBUG)
    recorder = MapperRecorder()
    recorder.install()
    try:
        run = prepare_demo(base, seed=7, today=date(2025, 6, 18), scale="small")
    finally:
        recorder.remove()
        debug_root.setLevel(logging.WARNING)
        for noisy in ("httpx", "httpcore", "botocore", "urllib3"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    secrets = [SECRET_KEY, DEMO_PASSWORD, *secret_values(run.settings.sources)]
    try:
        yield Demo(
            run=run,
            log_text=buffer.getvalue(),
            secrets=secrets,
            mapper_calls=dict(recorder.calls),
        )
    finally:
        configure_logging(load_settings(data_dir=data_dir, secret_key=SECRET_KEY))
        run.stop()


@pytest.fixture(scope="session")
def demo_app(demo: Demo) -> FastAPI:
    """The web app over the demo store (no scheduler)."""
    return create_app(demo.run.settings, store=demo.run.store, sync_on_start=False)


@pytest.fixture(scope="session")
def demo_viewer(demo: Demo) -> str:
    """A viewer account in the demo store."""
    with demo.run.store.session() as session:
        accounts.create_user(session=session, username="vera", password=PASSWORD, role="viewer")
    return "vera"


@pytest.fixture(scope="session")
def admin_client(demo_app: FastAPI, demo: Demo) -> Iterator[TestClient]:
    """A TestClient signed in as the demo admin."""
    with TestClient(demo_app) as client:
        response = form_sign_in(client, demo.run.username, demo.run.password)
        assert response.status_code == 303, response.text
        yield client


@pytest.fixture(scope="session")
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
