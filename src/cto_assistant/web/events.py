"""Server-sent events: an in-process broker and the `/api/events` stream.

Any part of the product calls `publish("sync_finished", {...})` — from the event loop or from a
worker thread — and every open browser receives it. Messages are not persisted: a browser that
was offline refreshes its widgets on reconnect instead.

In queue mode several processes share the work: a worker finishes a sync, the browsers hang on
the web processes. `connect_relay(url, namespace)` joins the process to a Redis pub/sub channel:

    publish() ──▶ local subscribers and listeners
              └─▶ Redis channel <namespace>:events ──▶ every other process's relay thread
                                                     ──▶ its local subscribers and listeners

Each message carries its process's origin id, so a process never hears its own events twice.
`add_listener` lets server-side code react too (the dashboard warms its cache on `sync_finished`).
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from cto_assistant.logging import get_logger
from cto_assistant.settings import redact_url
from cto_assistant.web.auth import CurrentUser, current_user

log = get_logger("web.events")
_EVENT_NAME = re.compile(r"^[a-z][a-z0-9_.:-]{0,63}$")
HEARTBEAT_SECONDS = 15.0


def format_event(event: str, data: dict[str, Any]) -> str:
    """One SSE message: `event:` and a single-line JSON `data:`."""
    if not _EVENT_NAME.match(event):
        raise ValueError(f"invalid event name {event!r}")
    payload = json.dumps(data, default=str, separators=(",", ":"))
    return f"event: {event}\ndata: {payload}\n\n"


@dataclass(eq=False)
class _Subscriber:
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(maxsize=100))

    def offer(self, message: str) -> None:
        if self.queue.full():  # a stalled browser loses old messages, never blocks publishers
            self.queue.get_nowait()
        self.queue.put_nowait(message)


Listener = Callable[[str, dict[str, Any]], None]


class EventBroker:
    """Fan-out of events to every subscribed stream and listener; thread-safe `publish`."""

    def __init__(self) -> None:
        self._subscribers: set[_Subscriber] = set()
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()
        self.relay: RedisRelay | None = None

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        """Call `listener(event, data)` on every event (keep it quick); returns its remover."""
        with self._lock:
            self._listeners.append(listener)

        def remove() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return remove

    @property
    def subscriber_count(self) -> int:
        """How many streams are listening."""
        return len(self._subscribers)

    def publish(self, event: str, data: dict[str, Any], *, relay: bool = True) -> int:
        """Send an event here (and to other processes); return how many local streams got it."""
        message = format_event(event, data)
        with self._lock:
            subscribers = list(self._subscribers)
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(event, data)
            except Exception as exc:  # a listener never breaks the publisher
                log.warning("event listener failed", event=event, error=str(exc)[:200])
        if relay and self.relay is not None:
            self.relay.send(event, data)
        reached = 0
        for subscriber in subscribers:
            try:
                subscriber.loop.call_soon_threadsafe(subscriber.offer, message)
                reached += 1
            except RuntimeError:  # its event loop is closed: the stream is gone
                self._discard(subscriber)
        return reached

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[str]]:
        """Receive every event published while the context is open."""
        subscriber = _Subscriber(asyncio.get_running_loop())
        with self._lock:
            self._subscribers.add(subscriber)
        try:
            yield subscriber.queue
        finally:
            self._discard(subscriber)

    def _discard(self, subscriber: _Subscriber) -> None:
        with self._lock:
            self._subscribers.discard(subscriber)


class RedisRelay:
    """Carries a broker's events to the other processes of an installation, and theirs to it."""

    def __init__(self, events: EventBroker, url: str, *, namespace: str) -> None:
        import redis

        self.events = events
        self.channel = f"{namespace}:events"
        self.origin = uuid.uuid4().hex
        self.client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self.where = redact_url(url)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def send(self, event: str, data: dict[str, Any]) -> None:
        """Publish to the channel; a Redis outage is logged, never raised to the publisher."""
        message = json.dumps({"origin": self.origin, "event": event, "data": data}, default=str)
        try:
            self.client.publish(self.channel, message)
        except Exception as exc:
            log.warning("event relay send failed", redis=self.where, error=str(exc)[:200])

    def listen(self) -> None:
        """Start the thread that hands other processes' events to the local broker."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="event-relay", daemon=True)
            self._thread.start()

    def close(self) -> None:
        """Stop listening and release the connection."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.client.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen_once()
            except Exception as exc:  # Redis restarted: reconnect after a pause
                log.warning("event relay lost Redis", redis=self.where, error=str(exc)[:200])
                self._stop.wait(2.0)

    def _listen_once(self) -> None:
        pubsub = self.client.pubsub(ignore_subscribe_messages=True)
        try:
            pubsub.subscribe(self.channel)
            while not self._stop.is_set():
                message = pubsub.get_message(timeout=1.0)
                if message is not None:
                    self._deliver(message.get("data"))
        finally:
            pubsub.close()

    def _deliver(self, raw: object) -> None:
        try:
            found = json.loads(raw)  # type: ignore[arg-type]
            if found["origin"] == self.origin:
                return
            self.events.publish(str(found["event"]), dict(found["data"]), relay=False)
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("event relay dropped a bad message", error=str(exc)[:200])


broker = EventBroker()


def connect_relay(url: str, *, namespace: str, listen: bool = True) -> RedisRelay:
    """Join this process's broker to the installation's Redis channel (idempotent)."""
    if broker.relay is None:
        broker.relay = RedisRelay(broker, url, namespace=namespace)
    if listen:
        broker.relay.listen()
    return broker.relay


def disconnect_relay() -> None:
    """Leave the channel (at shutdown)."""
    relay, broker.relay = broker.relay, None
    if relay is not None:
        relay.close()


def publish(event: str, data: dict[str, Any]) -> int:
    """Tell every open browser that something happened (e.g. after a sync or a new alert)."""
    return broker.publish(event, data)


async def event_stream(
    events: EventBroker,
    is_disconnected: Callable[[], Awaitable[bool]],
    *,
    heartbeat: float = HEARTBEAT_SECONDS,
) -> AsyncIterator[str]:
    """Yield SSE messages: a `ready` event, then every published event, with heartbeats."""
    async with events.subscribe() as queue:
        yield "retry: 5000\n" + format_event("ready", {})
        while not await is_disconnected():
            try:
                yield await asyncio.wait_for(queue.get(), timeout=heartbeat)
            except TimeoutError:
                yield ": keep-alive\n\n"


router = APIRouter(tags=["events"])


@router.get(
    "/events",
    summary="Live events (server-sent events)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "An SSE stream."}},
)
async def events(request: Request, user: CurrentUser = Depends(current_user)) -> StreamingResponse:
    """Stream product events (sync finished, alert opened, …) to the signed-in browser."""
    stream = event_stream(request.app.state.events, request.is_disconnected)
    return StreamingResponse(
        stream,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
