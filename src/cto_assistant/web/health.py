"""`/healthz` (is the process up, can it reach the database) and `/readyz` (schema current)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError

from cto_assistant.store import Store
from cto_assistant.store.db import alembic_config

router = APIRouter(tags=["health"])


class Health(BaseModel):
    """Liveness and readiness answer."""

    status: str
    database: str


@router.get("/healthz", response_model=Health, responses={503: {"model": Health}})
def healthz(request: Request) -> JSONResponse:
    """Say whether the server runs and the database answers."""
    reachable = database_reachable(request.app.state.store)
    body = Health(
        status="ok" if reachable else "error", database="ok" if reachable else "unreachable"
    )
    return JSONResponse(body.model_dump(), status_code=200 if reachable else 503)


@router.get("/readyz", response_model=Health, responses={503: {"model": Health}})
def readyz(request: Request) -> JSONResponse:
    """Say whether the database is reachable and migrated to the latest schema."""
    store: Store = request.app.state.store
    state = schema_state(store)
    ready = state == "current"
    return JSONResponse(
        Health(status="ready" if ready else "not_ready", database=state).model_dump(),
        status_code=200 if ready else 503,
    )


def database_reachable(store: Store) -> bool:
    """Whether `SELECT 1` succeeds."""
    try:
        with store.engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except SQLAlchemyError:
        return False
    return True


def schema_state(store: Store) -> str:
    """'current', 'outdated' or 'unreachable'."""
    heads = set(ScriptDirectory.from_config(alembic_config(store.url)).get_heads())
    try:
        with store.engine.connect() as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
    except SQLAlchemyError:
        return "unreachable"
    return "current" if current == heads else "outdated"
