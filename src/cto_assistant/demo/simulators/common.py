"""What every vendor simulator shares: auth checks, fault switches, a request log, serving.

A simulator is a small FastAPI app built by `make_app(world, ...)` in its own module
(`simulators/jira.py`, …) that serves a `World` in the vendor's real JSON shapes. This module
gives each one the same machinery:

- `SimulatorState` (on `app.state.sim`): the world, the accepted credentials, the fault switches
  and a log of the requests served (tests count requests with it).
- `FaultMiddleware`: switches tests flip to make the vendor misbehave — 429 with Retry-After,
  5xx, slow responses, truncated or malformed bodies, a field renamed (schema drift), and auth
  revoked. Each fault fires `times` times (or forever with `times=None`) on paths that start with
  `path_prefix`.
- `serve(app)`: run any ASGI app with uvicorn on a loopback ephemeral port in a thread (the
  real HTTP path that connectors use in tests and in `cto demo`).
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import uvicorn
from fastapi import FastAPI, HTTPException, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cto_assistant.demo.world import World

FaultKind = Literal[
    "rate_limit", "server_error", "slow", "truncate", "malformed", "rename_field", "auth_revoked"
]


@dataclass
class Fault:
    """One fault switch: what goes wrong, where, and how many more times."""

    kind: FaultKind
    times: int | None = 1
    path_prefix: str = ""
    status: int = 503
    retry_after: float | None = 1.0
    delay_seconds: float = 0.0
    field: str = ""
    new_field: str = ""
    skip: int = 0  # let this many matching requests through first

    def matches(self, path: str) -> bool:
        """Whether this fault applies to a request path (prefix relative to the app's mount)."""
        return path.startswith(self.path_prefix) and (self.times is None or self.times > 0)


@dataclass
class RequestRecord:
    """One request the simulator served."""

    method: str
    path: str
    query: str
    status: int


@dataclass
class SimulatorState:
    """Mutable state of one simulator app."""

    world: World
    vendor: str
    credentials: dict[str, str] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    requests: list[RequestRecord] = field(default_factory=list)
    created: list[dict[str, Any]] = field(default_factory=list)  # write actions (tickets, …)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add_fault(self, kind: FaultKind, **options: Any) -> Fault:
        """Switch a fault on; returns it so a test can inspect or clear it."""
        fault = Fault(kind=kind, **options)
        with self.lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        """Switch every fault off."""
        with self.lock:
            self.faults.clear()

    def take_fault(self, path: str) -> Fault | None:
        """The first live fault for `path`, counting one use of it."""
        with self.lock:
            for fault in self.faults:
                if not fault.matches(path):
                    continue
                if fault.skip > 0:
                    fault.skip -= 1
                    continue
                if fault.times is not None:
                    fault.times -= 1
                return fault
        return None

    def request_count(self, path_prefix: str = "") -> int:
        """Requests served whose path starts with `path_prefix`."""
        return sum(1 for r in self.requests if r.path.startswith(path_prefix))


def relative_path(scope: Scope) -> str:
    """The request path below the app's mount point."""
    path: str = scope.get("path", "")
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    return path or "/"


class FaultMiddleware:
    """ASGI middleware that applies the simulator's fault switches and logs requests."""

    def __init__(self, app: ASGIApp, state: SimulatorState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = relative_path(scope)
        query = scope.get("query_string", b"").decode("latin-1")
        fault = None if path.startswith("/_control") else self.state.take_fault(path)
        status_seen = 0

        async def log_send(message: Message) -> None:
            nonlocal status_seen
            if message["type"] == "http.response.start":
                status_seen = message["status"]
            await send(message)

        def record() -> None:
            self.state.requests.append(RequestRecord(scope["method"], path, query, status_seen))

        if fault is None:
            await self.app(scope, receive, log_send)
            record()
            return
        if fault.kind == "slow":
            await asyncio.sleep(fault.delay_seconds)
            await self.app(scope, receive, log_send)
            record()
            return
        if fault.kind in ("rate_limit", "server_error", "auth_revoked"):
            status = {"rate_limit": 429, "server_error": fault.status, "auth_revoked": 401}[
                fault.kind
            ]
            headers = [(b"content-type", b"application/json")]
            if fault.kind == "rate_limit" and fault.retry_after is not None:
                headers.append((b"retry-after", str(fault.retry_after).encode()))
            body = json.dumps({"message": f"simulated {fault.kind}"}).encode()
            await log_send({"type": "http.response.start", "status": status, "headers": headers})
            await log_send({"type": "http.response.body", "body": body})
            record()
            return
        await self._rewrite(scope, receive, log_send, fault)
        record()

    async def _rewrite(self, scope: Scope, receive: Receive, send: Send, fault: Fault) -> None:
        """Run the app, then damage its body as the fault says."""
        start: Message = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        body = b"".join(chunks)
        if fault.kind == "truncate":
            body = body[: max(1, len(body) // 2)]
        elif fault.kind == "malformed":
            body = b"<html><body>502 Bad Gateway</body>" + body[:20]
        elif fault.kind == "rename_field":
            body = rename_in_body(body, fault.field, fault.new_field)
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await send(
            {"type": "http.response.start", "status": start.get("status", 200), "headers": headers}
        )
        await send({"type": "http.response.body", "body": body})


def rename_in_body(body: bytes, old: str, new: str) -> bytes:
    """Rename a field in a JSON body, or an element in an XML one; other bodies pass unchanged."""
    try:
        return json.dumps(rename_key(json.loads(body), old, new)).encode()
    except (ValueError, UnicodeDecodeError):
        pass
    if body.lstrip().startswith(b"<"):
        for a, b in ((f"<{old}>", f"<{new}>"), (f"</{old}>", f"</{new}>")):
            body = body.replace(a.encode(), b.encode())
    return body


def rename_key(data: Any, old: str, new: str) -> Any:
    """Rename every dict key `old` to `new`, recursively (simulated schema drift)."""
    if isinstance(data, dict):
        return {(new if k == old else k): rename_key(v, old, new) for k, v in data.items()}
    if isinstance(data, list):
        return [rename_key(item, old, new) for item in data]
    return data


def new_simulator(
    vendor: str, world: World, *, credentials: dict[str, str] | None = None
) -> tuple[FastAPI, SimulatorState]:
    """A FastAPI app with the shared state, fault middleware and the fault control endpoint."""
    state = SimulatorState(world=world, vendor=vendor, credentials=dict(credentials or {}))
    app = FastAPI(title=f"{vendor} simulator", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.sim = state
    app.add_middleware(FaultMiddleware, state=state)

    @app.post("/_control/faults", include_in_schema=False)
    async def add_fault(request: Request) -> dict[str, Any]:
        spec = await request.json()
        fault = state.add_fault(spec.pop("kind"), **spec)
        return {"added": fault.kind}

    @app.delete("/_control/faults", include_in_schema=False)
    async def clear_faults() -> dict[str, Any]:
        state.clear_faults()
        return {"cleared": True}

    return app, state


def bearer_token(request: Request) -> str | None:
    """The token of an `Authorization: Bearer …` (or `token …`) header."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() in ("bearer", "token") and value:
        return value.strip()
    return None


def basic_credentials(request: Request) -> tuple[str, str] | None:
    """The (user, password) of an `Authorization: Basic …` header."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        user, _, password = base64.b64decode(value).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return user, password


def require(ok: bool, detail: str = "Unauthorized") -> None:
    """Raise 401 unless `ok` (constant-time comparisons are the caller's job)."""
    if not ok:
        raise HTTPException(status_code=401, detail=detail)


def same(a: str | None, b: str | None) -> bool:
    """Constant-time string equality that treats None as a mismatch."""
    return a is not None and b is not None and secrets.compare_digest(a, b)


@dataclass
class ServedApp:
    """An ASGI app served on loopback: its base URL and a way to stop it."""

    base_url: str
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        """Shut the server down and wait for its thread."""
        self.server.should_exit = True
        self.thread.join(timeout=10)


def serve(
    app: ASGIApp, *, host: str = "127.0.0.1", port: int = 0, lifespan: bool = False
) -> ServedApp:
    """Serve `app` with uvicorn in a daemon thread; port 0 picks a free loopback port.

    `lifespan` runs the app's start-up and shut-down (the product's scheduler and warmer);
    simulators have none."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound_port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="on" if lifespan else "off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("simulator server did not start")
        time.sleep(0.01)
    return ServedApp(base_url=f"http://{host}:{bound_port}", server=server, thread=thread)


@contextmanager
def served(app: ASGIApp, *, lifespan: bool = False) -> Iterator[ServedApp]:
    """Serve `app` for the duration of a `with` block."""
    running = serve(app, lifespan=lifespan)
    try:
        yield running
    finally:
        running.stop()
