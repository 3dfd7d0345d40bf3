"""The vendor HTTP client: retries, Retry-After, typed errors, redaction — over real loopback HTTP."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from fastapi import Request

from cto_assistant.connectors.base import ConnectorConfig, ConnectorContext
from cto_assistant.demo.simulators.common import (
    ServedApp,
    SimulatorState,
    bearer_token,
    new_simulator,
    require,
    same,
    serve,
)
from cto_assistant.demo.world import World
from cto_assistant.errors import AuthError, RateLimitedError, SchemaDriftError, UpstreamError
from cto_assistant.http import build_client, retry_after_seconds, safe_url

TOKEN = "s3cr3t-token-value"


@pytest.fixture(scope="module")
def vendor() -> Iterator[tuple[ServedApp, SimulatorState]]:
    app, state = new_simulator("toy", World.from_rows({}))

    @app.get("/items")
    def items(request: Request) -> dict[str, object]:
        require(same(bearer_token(request), TOKEN))
        return {"items": [1, 2, 3]}

    running = serve(app)
    yield running, state
    running.stop()


@pytest.fixture
def sim(vendor: tuple[ServedApp, SimulatorState]) -> Iterator[tuple[ServedApp, SimulatorState]]:
    vendor[1].clear_faults()
    vendor[1].requests.clear()
    yield vendor
    vendor[1].clear_faults()


def client_for(base_url: str, sleeps: list[float], *, token: str = TOKEN, attempts: int = 4):
    config = ConnectorConfig(
        kind="toy", base_url=base_url, max_attempts=attempts, timeout_seconds=2
    )
    context = ConnectorContext(name="toy-source", config=config, sleep=sleeps.append)
    return build_client(context, headers={"Authorization": f"Bearer {token}"}, secrets=(token,))


def test_success_returns_json_and_counts_the_request(sim: tuple[ServedApp, SimulatorState]) -> None:
    running, state = sim
    sleeps: list[float] = []
    client = client_for(running.base_url, sleeps)
    assert client.get_json("/items") == {"items": [1, 2, 3]}
    assert client.stats.requests == 1
    assert sleeps == []
    assert state.request_count("/items") == 1


def test_429_waits_the_retry_after_then_succeeds(sim: tuple[ServedApp, SimulatorState]) -> None:
    running, state = sim
    state.add_fault("rate_limit", times=2, retry_after=7)
    sleeps: list[float] = []
    client = client_for(running.base_url, sleeps)
    assert client.get_json("/items")["items"] == [1, 2, 3]
    assert sleeps == [7.0, 7.0]
    assert client.stats.requests == 3
    assert client.stats.retries == 2


def test_persistent_429_raises_rate_limited_naming_the_source(
    sim: tuple[ServedApp, SimulatorState],
) -> None:
    running, state = sim
    state.add_fault("rate_limit", times=None, retry_after=1)
    client = client_for(running.base_url, [], attempts=3)
    with pytest.raises(RateLimitedError, match="toy-source/items") as caught:
        client.get_json("/items", stream="items")
    assert caught.value.retry_after == 1.0
    assert client.stats.requests == 3


def test_5xx_is_retried_with_bounded_backoff(sim: tuple[ServedApp, SimulatorState]) -> None:
    running, state = sim
    state.add_fault("server_error", times=3, status=502)
    sleeps: list[float] = []
    client = client_for(running.base_url, sleeps, attempts=5)
    assert client.get_json("/items")["items"] == [1, 2, 3]
    assert len(sleeps) == 3
    assert all(0 <= wait <= 0.5 * 2**i for i, wait in enumerate(sleeps))


def test_persistent_5xx_raises_upstream_error(sim: tuple[ServedApp, SimulatorState]) -> None:
    running, state = sim
    state.add_fault("server_error", times=None, status=503)
    client = client_for(running.base_url, [], attempts=2)
    with pytest.raises(UpstreamError, match="HTTP 503.*after 2 attempts"):
        client.get_json("/items")


def test_401_is_an_auth_error_without_retry(sim: tuple[ServedApp, SimulatorState]) -> None:
    running, _ = sim
    client = client_for(running.base_url, [], token="wrong-token-123")
    with pytest.raises(AuthError, match="toy-source.*HTTP 401"):
        client.get_json("/items")
    assert client.stats.requests == 1


def test_a_body_that_is_not_json_is_schema_drift(sim: tuple[ServedApp, SimulatorState]) -> None:
    running, state = sim
    state.add_fault("malformed")
    client = client_for(running.base_url, [])
    with pytest.raises(SchemaDriftError, match="toy-source/items.*not valid JSON"):
        client.get_json("/items", stream="items")


def test_a_truncated_body_is_schema_drift(sim: tuple[ServedApp, SimulatorState]) -> None:
    running, state = sim
    state.add_fault("truncate")
    client = client_for(running.base_url, [])
    with pytest.raises(SchemaDriftError):
        client.get_json("/items", stream="items")


def test_timeouts_are_retried_then_reported(sim: tuple[ServedApp, SimulatorState]) -> None:
    running, state = sim
    state.add_fault("slow", times=None, delay_seconds=1.5)
    config = ConnectorConfig(
        kind="toy", base_url=running.base_url, max_attempts=2, timeout_seconds=0.3
    )
    sleeps: list[float] = []
    context = ConnectorContext(name="toy-source", config=config, sleep=sleeps.append)
    client = build_client(context, headers={"Authorization": f"Bearer {TOKEN}"})
    with pytest.raises(UpstreamError, match="ReadTimeout"):
        client.get_json("/items")
    assert len(sleeps) == 1


def test_connection_refused_is_an_upstream_error() -> None:
    client = client_for("http://127.0.0.1:9", [], attempts=2)
    with pytest.raises(UpstreamError, match="ConnectError"):
        client.get_json("/items")


def test_secrets_never_reach_the_logs(
    sim: tuple[ServedApp, SimulatorState],
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    running, state = sim
    state.add_fault("server_error", times=1)
    caplog.set_level(logging.DEBUG)
    client = client_for(running.base_url, [])
    client.get_json(f"/items?api_key={TOKEN}")
    captured = capsys.readouterr()
    assert TOKEN not in caplog.text + captured.out + captured.err


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "12"}, 12.0),
        ({"retry-after": "0"}, 0.0),
        ({"x-ratelimit-reset": "30"}, 30.0),
        ({}, None),
        ({"retry-after": "soon"}, None),
    ],
)
def test_retry_after_parsing(headers: dict[str, str], expected: float | None) -> None:
    response = httpx.Response(429, headers=headers)
    assert retry_after_seconds(response) == expected


def test_retry_after_as_http_date_and_epoch_reset() -> None:
    now = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=90), usegmt=True)
    assert retry_after_seconds(httpx.Response(429, headers={"retry-after": later}), now=now) == 90.0
    epoch = str(int((now + timedelta(seconds=45)).timestamp()))
    assert (
        retry_after_seconds(httpx.Response(403, headers={"x-ratelimit-reset": epoch}), now=now)
        == 45.0
    )


def test_safe_url_masks_secret_query_values() -> None:
    assert safe_url("https://x/api?token=abc&page=2") == "/api?token=***&page=2"
    assert safe_url("https://x/api") == "/api"
