"""Local receivers for notifier tests: an HTTP endpoint with scripted statuses, an SMTP sink."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from typing import Any

from cto_assistant.demo.simulators.common import ServedApp, serve


@dataclass
class HttpReceiver:
    """Answers each POST with the next scripted status (then 200) and keeps what it got."""

    statuses: list[int] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        body = b""
        while True:
            event = await receive()
            body += event.get("body", b"")
            if not event.get("more_body"):
                break
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        self.received.append({"path": scope["path"], "headers": headers, "body": json.loads(body)})
        status = self.statuses.pop(0) if self.statuses else 200
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


@contextmanager
def http_receiver(*statuses: int) -> Iterator[tuple[HttpReceiver, ServedApp]]:
    """Serve an `HttpReceiver` on loopback for a `with` block."""
    receiver = HttpReceiver(statuses=list(statuses))
    running = serve(receiver)
    try:
        yield receiver, running
    finally:
        running.stop()


def unused_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class SmtpSink:
    """A minimal SMTP server on asyncio streams (EHLO, MAIL, RCPT, DATA, QUIT)."""

    messages: list[Message] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)
    port: int = 0

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async def reply(line: str) -> None:
            writer.write((line + "\r\n").encode())
            await writer.drain()

        await reply("220 sink ready")
        rcpts: list[str] = []
        while line := (await reader.readline()).decode().strip():
            verb = line.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                await reply("250 sink")
            elif verb == "MAIL":
                rcpts = []
                await reply("250 ok")
            elif verb == "RCPT":
                rcpts.append(line.split(":", 1)[1].strip(" <>"))
                await reply("250 ok")
            elif verb == "DATA":
                await reply("354 end with .")
                data = b""
                while (chunk := await reader.readline()) not in (b".\r\n", b""):
                    data += chunk[1:] if chunk.startswith(b"..") else chunk
                self.messages.append(message_from_bytes(data))
                self.recipients.append(rcpts)
                await reply("250 queued")
            elif verb == "QUIT":
                await reply("221 bye")
                break
            else:
                await reply("250 ok")
        writer.close()


@contextmanager
def smtp_sink() -> Iterator[SmtpSink]:
    """Run an `SmtpSink` in a thread for a `with` block."""
    sink = SmtpSink()
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    async def start() -> asyncio.Server:
        server = await asyncio.start_server(sink._session, "127.0.0.1", 0)
        sink.port = server.sockets[0].getsockname()[1]
        ready.set()
        return server

    def run() -> None:
        asyncio.set_event_loop(loop)
        server = loop.run_until_complete(start())
        loop.run_forever()
        server.close()
        loop.run_until_complete(server.wait_closed())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ready.wait(5)
    try:
        yield sink
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
