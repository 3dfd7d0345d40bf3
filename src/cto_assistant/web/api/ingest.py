"""`POST /api/ingest/deployments|incidents`: webhooks of the GENERIC source.

Callers authenticate with `Authorization: Bearer <token>`, the `ingest_token` of a GENERIC source
in `[sources.<name>]`; the token decides the source the rows are filed under. A body is one object
or an array of up to 1,000 objects in the documented shape; ids are the caller's, so re-sending
updates instead of duplicating. Mount `router` among the API's PUBLIC routers (it authenticates on
its own); it reads `app.state.store` and `app.state.settings` through `ingest_store` and
`ingest_settings`, which an app may override.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Request, Security, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Discriminator, Field, Tag

from cto_assistant.connectors.generic import (
    DeploymentIn,
    IncidentIn,
    ingest_tokens,
    source_for_token,
)
from cto_assistant.connectors.generic.mapping import Kind
from cto_assistant.errors import ImportFileError
from cto_assistant.logging import get_logger
from cto_assistant.settings import Settings
from cto_assistant.store.db import Store
from cto_assistant.sync.ingest import ingest_items

log = get_logger("web.ingest")

MAX_ITEMS = 1000

router = APIRouter(prefix="/ingest", tags=["ingest"])
bearer = HTTPBearer(
    auto_error=False,
    scheme_name="IngestToken",
    description='The `ingest_token` of a GENERIC source (`[sources.<name>] kind = "generic"`).',
)


class IngestResponse(BaseModel):
    """What a webhook call wrote."""

    source: str = Field(description="Source the rows were filed under.")
    kind: Kind = Field(description="deployments or incidents.")
    items: int = Field(description="Objects received and written.")
    records: dict[str, int] = Field(description="Rows written per table (incl. child rows).")


def _shape(value: Any) -> str:
    return "batch" if isinstance(value, list) else "single"


DeploymentPayload = Annotated[
    Annotated[DeploymentIn, Tag("single")]
    | Annotated[list[DeploymentIn], Tag("batch"), Field(min_length=1, max_length=MAX_ITEMS)],
    Discriminator(_shape),
]
IncidentPayload = Annotated[
    Annotated[IncidentIn, Tag("single")]
    | Annotated[list[IncidentIn], Tag("batch"), Field(min_length=1, max_length=MAX_ITEMS)],
    Discriminator(_shape),
]


def ingest_store(request: Request) -> Store:
    """The store of the running app."""
    store: Store = request.app.state.store
    return store


def ingest_settings(request: Request) -> Settings:
    """The settings of the running app."""
    settings: Settings = request.app.state.settings
    return settings


def ingest_source(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
    settings: Annotated[Settings, Depends(ingest_settings)],
) -> str:
    """The GENERIC source whose token the caller presented; 401 otherwise."""
    source = None
    if credentials is not None:
        source = source_for_token(credentials.credentials, ingest_tokens(settings.sources))
    if source is None:
        log.info("ingest refused", reason="missing or unknown token")
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="missing or invalid ingest token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return source


def _ingest(store: Store, kind: Kind, payload: Any, source: str) -> IngestResponse:
    items = payload if isinstance(payload, list) else [payload]
    try:
        result = ingest_items(store, kind, items, source=source)
    except ImportFileError as exc:
        raise HTTPException(422, detail=exc.problems) from None
    return IngestResponse(
        source=result.source, kind=kind, items=result.items, records=result.records
    )


@router.post(
    "/deployments",
    response_model=IngestResponse,
    summary="Record deployments from a CI/CD tool without a connector",
    responses={401: {"description": "Missing or invalid ingest token."}},
)
def ingest_deployments(
    payload: Annotated[DeploymentPayload, Body(description="One deployment or an array.")],
    source: Annotated[str, Depends(ingest_source)],
    store: Annotated[Store, Depends(ingest_store)],
) -> IngestResponse:
    """Insert or update deployments keyed on your ids (with the commits they shipped)."""
    return _ingest(store, "deployments", payload, source)


@router.post(
    "/incidents",
    response_model=IngestResponse,
    summary="Record incidents from an incident tool without a connector",
    responses={401: {"description": "Missing or invalid ingest token."}},
)
def ingest_incidents(
    payload: Annotated[IncidentPayload, Body(description="One incident or an array.")],
    source: Annotated[str, Depends(ingest_source)],
    store: Annotated[Store, Depends(ingest_store)],
) -> IngestResponse:
    """Insert or update incidents keyed on your ids (with their timeline)."""
    return _ingest(store, "incidents", payload, source)


__all__ = ["IngestResponse", "ingest_settings", "ingest_source", "ingest_store", "router"]
