"""Server-sent events: an in-process broker and the `/api/events` stream.

Any part of the product calls `publish("sync_finished", {...})` — from the event loop or from a
worker thread — and every open browser receives it. Messages are not persisted: a browser that
was offline refreshes its widgets on reconnect instead.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from cto_assistant.logging import get_logger
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


class EventBroker:
    """Fan-out of events to every subscribed stream; thread-safe `publish`."""

    def __init__(self) -> None:
        self._subscribers: set[_Subscriber] = set()
        self._lock = threading.Lock()

    @property
    def subscriber_count(self) -> int:
        """How many streams are listening."""
        return len(self._subscribers)

    def publish(self, event: str, data: dict[str, Any]) -> int:
        """Send an event to every subscriber; return how many were reached."""
        message = format_event(event, data)
        with self._lock:
            subscribers = list(self._subscribers)
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


broker = EventBroker()


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
