"""One demo world for every assistant test: built, served on loopback and synced once (~12 s)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cto_assistant.demo.run import DemoRun, prepare_demo
from cto_assistant.settings import Settings


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoRun]:
    """Acme Cloud (seed 7, small) with its simulators running."""
    data_dir: Path = tmp_path_factory.mktemp("assistant-demo")
    run = prepare_demo(Settings(data_dir=data_dir), seed=7, today=None, scale="small")
    yield run
    run.stop()
