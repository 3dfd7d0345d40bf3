"""`GET /api/me`: who is signed in."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from cto_assistant.web.api.schemas import Me
from cto_assistant.web.auth import CurrentUser, current_user

router = APIRouter(tags=["account"])


@router.get("/me", response_model=Me, summary="The signed-in user")
def me(user: CurrentUser = Depends(current_user)) -> Me:
    """Return the signed-in user and the session's CSRF token."""
    return Me(username=user.username, role=user.role, csrf_token=user.csrf_token)
