"""One demo world for every assistant test: a copy of the session's synced demo, served."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cto_assistant.demo.run import DemoRun
from cto_assistant.settings import Settings
from tests.support.demo_world import DemoTemplate, copy_demo


@pytest.fixture(scope="package")
def demo(
    tmp_path_factory: pytest.TempPathFactory, demo_template: DemoTemplate
) -> Iterator[DemoRun]:
    """Acme Cloud (seed 7, small, pinned today) with its simulators running."""
    run = copy_demo(demo_template, Settings(data_dir=tmp_path_factory.mktemp("assistant-demo")))
    yield run
    run.stop()
