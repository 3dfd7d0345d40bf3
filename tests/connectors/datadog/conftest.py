"""The Datadog simulator serving the small Datadog world, on a loopback port."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from cto_assistant.demo.simulators.common import ServedApp, serve
from cto_assistant.demo.simulators.datadog import make_app
from cto_assistant.demo.world import World
from tests.connectors.datadog.test_datadog_connector import datadog_world


@pytest.fixture
def served_world() -> Iterator[tuple[ServedApp, Any, World]]:
    world = datadog_world()
    app = make_app(world)
    running = serve(app)
    try:
        yield running, app.state.sim, world
    finally:
        running.stop()
