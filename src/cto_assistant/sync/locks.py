"""Per-stream locks: two processes (workers, a server, `cto sync`) never sync one stream at once.

On PostgreSQL the lock is a session-level advisory lock, `pg_try_advisory_lock(key)`, held on a
connection of its own for the whole run. The server releases it when that connection ends, so a
worker killed with SIGKILL frees its streams at once (the kernel closes its sockets) and there is
no TTL to tune against the longest sync. The key hashes (schema, source, stream), so installations
sharing one database in different schemas do not block each other.

On SQLite (one machine) the lock is `flock` on a file per stream under `<data dir>/locks/`:
released by the kernel when the process dies, and exclusive between processes and threads alike.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from cto_assistant.store.db import Store


def stream_lock_key(schema: str, source: str, stream: str) -> int:
    """The signed 64-bit advisory lock key of a stream (stable across processes and releases)."""
    digest = hashlib.blake2b(
        f"cto-sync\0{schema}\0{source}\0{stream}".encode(), digest_size=8
    ).digest()
    return int.from_bytes(digest, "big", signed=True)


@contextmanager
def stream_lock(store: Store, *, source: str, stream: str, lock_dir: Path) -> Iterator[bool]:
    """Try to take the lock of `source/stream` without waiting; yield whether it was taken."""
    if store.dialect == "postgresql":
        with _advisory_lock(store, source=source, stream=stream) as held:
            yield held
    else:
        with _file_lock(lock_dir, source=source, stream=stream) as held:
            yield held


@contextmanager
def _advisory_lock(store: Store, *, source: str, stream: str) -> Iterator[bool]:
    with store.engine.connect() as connection:
        schema = str(connection.scalar(sa.text("SELECT current_schema()")))
        key = stream_lock_key(schema, source, stream)
        held = bool(connection.scalar(sa.text("SELECT pg_try_advisory_lock(:key)"), {"key": key}))
        connection.commit()  # end the implicit transaction: the lock belongs to the session
        try:
            yield held
        finally:
            if held:
                connection.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                connection.commit()


@contextmanager
def _file_lock(lock_dir: Path, *, source: str, stream: str) -> Iterator[bool]:
    lock_dir.mkdir(parents=True, exist_ok=True)
    name = hashlib.blake2b(f"{source}\0{stream}".encode(), digest_size=8).hexdigest()
    descriptor = os.open(lock_dir / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        os.close(descriptor)


__all__ = ["stream_lock", "stream_lock_key"]
