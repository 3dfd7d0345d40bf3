"""The product's web app over a benchmark store, with a user of its own (shared by the benches)."""

from __future__ import annotations

import secrets
import tempfile
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from fastapi import FastAPI

from cto_assistant import accounts
from cto_assistant.settings import load_settings
from cto_assistant.store.db import Store
from cto_assistant.store.models import ToolAnswer
from cto_assistant.web.app import create_app

PASSWORD = "bench password 1234"  # noqa: S105


def bench_app(
    store: Store, now: datetime, *, name: str, role: str = "viewer"
) -> tuple[FastAPI, str]:
    """A fresh app (own data dir and secret key, pinned clock) and a new user's name."""
    settings = load_settings(
        data_dir=Path(tempfile.mkdtemp(prefix=f"bench-{name}-")),
        secret_key=secrets.token_urlsafe(32),
        clock=now,
        log_level="ERROR",
    )
    username = f"{name}-{secrets.token_hex(4)}"
    with store.session() as session:
        accounts.create_user(session=session, username=username, password=PASSWORD, role=role)
    return create_app(settings, store=store), username


def forget_answers(app: FastAPI, store: Store, *, shared: bool) -> None:
    """Empty the app's tool cache: a web process that just started (`shared=False`: the answers
    other processes shared stay in the store), or nothing computed anywhere yet (`shared=True`)."""
    cache = app.state.tool_cache
    cache.wait_shared(300)  # no write still in flight lands after the delete
    if shared:
        with store.session() as session:
            session.execute(sa.delete(ToolAnswer))
    cache.clear()
