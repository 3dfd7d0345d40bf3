"""Server-sent events: the broker, the stream generator, and `/api/events` over a real server."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from cto_assistant.store import Store
from cto_assistant.web import events
from cto_assistant.web.events import EventBroker, RedisRelay, event_stream, format_event
from tests.web.helpers import PASSWORD, add_user


def test_format_event_is_one_sse_message() -> None:
    message = format_event("sync_finished", {"source": "jira", "records": 12})
    assert message == 'event: sync_finished\ndata: {"source":"jira","records":12}\n\n'


@pytest.mark.parametrize("name", ["", "Sync", "a\nb", "x" * 65])
def test_format_event_refuses_bad_names(name: str) -> None:
    with pytest.raises(ValueError):
        format_event(name, {})


def test_publish_from_a_worker_thread_reaches_every_subscriber() -> None:
    broker = EventBroker()

    async def scenario() -> list[str]:
        async with broker.subscribe() as first, broker.subscribe() as second:
            assert broker.subscriber_count == 2
            worker = threading.Thread(target=broker.publish, args=("alert_opened", {"id": 7}))
            worker.start()
            worker.join()
            got = [await asyncio.wait_for(q.get(), timeout=2) for q in (first, second)]
        assert broker.subscriber_count == 0
        return got

    assert asyncio.run(scenario()) == [format_event("alert_opened", {"id": 7})] * 2


def test_publish_without_listeners_reaches_nobody() -> None:
    assert EventBroker().publish("sync_finished", {}) == 0


def test_stream_sends_ready_events_and_heartbeats_until_disconnect() -> None:
    broker = EventBroker()
    disconnected = False

    async def is_disconnected() -> bool:
        return disconnected

    async def scenario() -> list[str]:
        nonlocal disconnected
        stream = event_stream(broker, is_disconnected, heartbeat=0.05)
        received = [await anext(stream)]
        broker.publish("sync_finished", {"source": "github"})
        received.append(await anext(stream))
        received.append(await anext(stream))  # nothing published: a heartbeat
        disconnected = True
        received.extend([chunk async for chunk in stream])
        return received

    ready, event, heartbeat, *rest = asyncio.run(scenario())
    assert ready.startswith("retry: 5000\n") and "event: ready" in ready
    assert event == format_event("sync_finished", {"source": "github"})
    assert heartbeat == ": keep-alive\n\n"
    assert rest == [] or rest == [": keep-alive\n\n"]
    assert broker.subscriber_count == 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def live_server(app: FastAPI) -> Iterator[str]:
    """The app behind a real uvicorn on a loopback port (SSE needs real streaming)."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_events_endpoint_streams_published_events(live_server: str, sqlite_store: Store) -> None:
    add_user(sqlite_store, "alice", "viewer")
    with httpx.Client(base_url=live_server, timeout=5) as client:
        token = client.get("/api/session/csrf").json()["csrf_token"]
        signed_in = client.post(
            "/api/session", json={"username": "alice", "password": PASSWORD, "csrf_token": token}
        )
        assert signed_in.status_code == 200
        # Other tests' streams may still be subscribed to the process-wide broker: wait for ours.
        others = events.broker.subscriber_count
        with client.stream("GET", "/api/events") as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.iter_lines()
            assert "event: ready" in [next(lines), next(lines)]
            deadline = time.monotonic() + 5
            while events.broker.subscriber_count <= others and time.monotonic() < deadline:
                time.sleep(0.01)
            events.publish("sync_finished", {"source": "jira", "records": 3})
            received = []
            for line in lines:
                received.append(line)
                if line.startswith("data: ") and "event: sync_finished" in received:
                    break
    assert "event: sync_finished" in received
    assert json.loads(received[-1].removeprefix("data: ")) == {"source": "jira", "records": 3}


REDIS_URL = os.environ.get("CTO_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def redis_namespace() -> str:
    """A fresh channel namespace on the machine's Redis (CI fails when Redis is missing)."""
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()
    except redis.RedisError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis unreachable in CI: {exc}")
        pytest.skip(f"Redis unreachable ({exc})")
    return f"cto-test-{uuid.uuid4().hex[:10]}"


def test_events_cross_processes_over_redis_once_each(redis_namespace: str) -> None:
    """A worker's `sync_finished` reaches the web process; nobody hears its own event twice."""
    web, worker = EventBroker(), EventBroker()
    heard: dict[str, list[tuple[str, dict[str, object]]]] = {"web": [], "worker": []}
    web.add_listener(lambda event, data: heard["web"].append((event, data)))
    worker.add_listener(lambda event, data: heard["worker"].append((event, data)))
    web.relay = RedisRelay(web, REDIS_URL, namespace=redis_namespace)
    worker.relay = RedisRelay(worker, REDIS_URL, namespace=redis_namespace)
    web.relay.listen()
    worker.relay.listen()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # both relay threads subscribed
            if worker.relay.client.pubsub_numsub(worker.relay.channel)[0][1] >= 2:
                break
            time.sleep(0.05)
        worker.publish("sync_finished", {"sources": ["aws"]})
        deadline = time.monotonic() + 10
        while not heard["web"] and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)  # room for a duplicate to show up
    finally:
        web.relay.close()
        worker.relay.close()
    assert heard["web"] == [("sync_finished", {"sources": ["aws"]})]
    assert heard["worker"] == [("sync_finished", {"sources": ["aws"]})]


def test_a_relay_without_redis_never_breaks_the_publisher() -> None:
    broker = EventBroker()
    broker.relay = RedisRelay(broker, "redis://127.0.0.1:1/0", namespace="nowhere")
    try:
        assert broker.publish("sync_finished", {}) == 0
    finally:
        broker.relay.close()
