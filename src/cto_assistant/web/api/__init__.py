"""The JSON API under `/api`: one router per module, assembled here.

Adding an API module is one line: import it and append its `router` to `SIGNED_IN` (every
route needs a signed-in user, and a state-changing request must send the session's
`X-CSRF-Token`) or to `PUBLIC` (the module authenticates on its own, e.g. sign-in itself or
webhooks with a token, and declares its own CSRF checks where a cookie is involved).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from cto_assistant.web import events
from cto_assistant.web.api import (
    admin,
    alerts,
    chat,
    dashboard,
    documents,
    ingest,
    me,
    session,
)
from cto_assistant.web.auth import current_user, require_csrf

SIGNED_IN: list[APIRouter] = [
    me.router,
    admin.router,
    events.router,
    dashboard.router,
    chat.router,
    documents.router,
    alerts.router,
]
PUBLIC: list[APIRouter] = [session.router, ingest.router]


def build_api_router() -> APIRouter:
    """The `/api` router with every module mounted."""
    api = APIRouter(prefix="/api")
    signed_in = APIRouter(dependencies=[Depends(current_user), Depends(require_csrf)])
    for module_router in SIGNED_IN:
        signed_in.include_router(module_router)
    api.include_router(signed_in)
    for module_router in PUBLIC:
        api.include_router(module_router)
    return api


__all__ = ["PUBLIC", "SIGNED_IN", "build_api_router"]
