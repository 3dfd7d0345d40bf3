"""The session's demo world: Acme Cloud built and synced once, then copied for each package.

Building the small world and syncing it through the real connectors over loopback HTTP takes
most of a minute on two cores. `build_demo_template` does it once per session, exactly as
`cto demo` does (`prepare_demo`), with its DEBUG logs captured and samples of the vendors'
mapper calls recorded (the reliability tests grep and fuzz those), then stops it. Each package
that needs a synced demo takes `copy_demo`: the template's data dir copied under its own
(store file, FOCUS/catalog/evidence exports with their modification times, lock files), its
own sandbox serving the same world with fresh simulator state, and settings built from its own
base settings the way `prepare_demo` builds them. Copies never share a store or a simulator,
so a package that re-syncs, injects faults or files tickets cannot change what another sees.

tests/demo/test_demo_e2e.py does not copy: it proves `prepare_demo` from nothing on its own.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import inspect
import io
import logging
import shutil
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from cto_assistant.accounts import ensure_demo_user
from cto_assistant.demo.run import DemoRun, demo_database_url, prepare_demo
from cto_assistant.demo.sandbox import start_sandbox
from cto_assistant.demo.world import World
from cto_assistant.logging import configure_logging
from cto_assistant.settings import Settings, load_settings
from cto_assistant.store import open_store
from cto_assistant.sync.engine import StreamRunResult

SEED = 7
TODAY = date(2025, 6, 18)
# The template is configured with these, so the log grep has a secret key and a demo password
# to look for (tests/reliability/test_access.py).
SECRET_KEY = "reliability-secret-key-5c0ffee5-91d3"
DEMO_PASSWORD = "demo-password-7e2b9c41aa"
NOISY_LOGGERS = ("httpx", "httpcore", "botocore", "urllib3")
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


@dataclass(frozen=True)
class DemoTemplate:
    """The session's synced demo, stopped: its files, its world and what its sync did."""

    world: World
    data_dir: Path
    settings: Settings
    results: list[StreamRunResult]
    seconds: float
    log_text: str
    mapper_calls: dict[str, list[MapperCall]]


def build_demo_template(data_dir: Path) -> DemoTemplate:
    """Run `prepare_demo` into `data_dir` at DEBUG with mapper samples recorded, then stop it."""
    base = load_settings(
        data_dir=data_dir,
        secret_key=SECRET_KEY,
        demo_password=DEMO_PASSWORD,
        log_level="DEBUG",
        sync_interval_minutes=0,
    )
    buffer = io.StringIO()
    configure_logging(base, stream=buffer)
    for noisy in NOISY_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.DEBUG)
    recorder = MapperRecorder()
    recorder.install()
    started = time.perf_counter()
    try:
        run = prepare_demo(base, seed=SEED, today=TODAY, scale="small")
    finally:
        seconds = time.perf_counter() - started
        recorder.remove()
        configure_logging(load_settings(data_dir=data_dir, secret_key=SECRET_KEY))
        for noisy in NOISY_LOGGERS:
            logging.getLogger(noisy).setLevel(logging.WARNING)
    run.stop()  # the files are the template: no simulator, no open connection
    return DemoTemplate(
        world=run.world,
        data_dir=data_dir,
        settings=run.settings,
        results=run.results,
        seconds=seconds,
        log_text=buffer.getvalue(),
        mapper_calls=dict(recorder.calls),
    )


def copy_demo(template: DemoTemplate, base: Settings) -> DemoRun:
    """A private running demo from the template, configured from `base` as `prepare_demo` would.

    The template's data dir is copied into `base.data_dir` (which holds no demo yet), a new
    sandbox serves the same world, and the demo user gets `base`'s demo password (or a new one).
    """
    url = demo_database_url(base)
    expected = f"sqlite:///{(base.data_dir / 'demo.db').resolve()}"
    assert url == expected, f"a demo copy needs the demo's own SQLite file, not {url}"
    shutil.copytree(template.data_dir, base.data_dir, dirs_exist_ok=True)
    sandbox, served = start_sandbox(template.world)
    sources = {
        **_moved(template.settings.sources, template.data_dir, base.data_dir),
        **sandbox.sources(served.base_url),
    }
    settings = base.model_copy(
        update={"demo": True, "database_url": url, "clock": template.world.now, "sources": sources}
    )
    store = open_store(settings.effective_database_url)
    password = base.demo_password.get_secret_value() if base.demo_password else None
    with store.session() as session:
        username, password = ensure_demo_user(session=session, password=password)
    return DemoRun(
        world=template.world,
        sandbox=sandbox,
        served=served,
        settings=settings,
        store=store,
        results=list(template.results),
        username=username,
        password=password,
    )


def _moved(value: Any, old: Path, new: Path) -> Any:
    """`value` with every path under `old` (the exports' files) pointing under `new` instead."""
    if isinstance(value, dict):
        return {key: _moved(item, old, new) for key, item in value.items()}
    if isinstance(value, list):
        return [_moved(item, old, new) for item in value]
    if isinstance(value, str) and value.startswith(f"{old}/"):
        return str(new / Path(value).relative_to(old))
    return value
