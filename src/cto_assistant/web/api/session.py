"""`/api/session`: sign in and out from a script or the browser's JavaScript."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request, Response

from cto_assistant.web.api.schemas import Me, Problem, SignIn, SignInToken
from cto_assistant.web.auth import (
    CurrentUser,
    SessionManager,
    current_user,
    require_csrf,
    sign_in,
    sign_out,
)

router = APIRouter(prefix="/session", tags=["account"])


@router.get("/csrf", response_model=SignInToken, summary="Get a sign-in CSRF token")
def sign_in_token(request: Request, response: Response) -> SignInToken:
    """Set the pre-session cookie and return the token `POST /api/session` needs."""
    sessions: SessionManager = request.app.state.sessions
    return SignInToken(csrf_token=sessions.presession_token(request, response))


@router.post(
    "",
    response_model=Me,
    summary="Sign in",
    responses={401: {"model": Problem}, 403: {"model": Problem}, 429: {"model": Problem}},
)
def create_session(body: SignIn, request: Request, response: Response) -> Me:
    """Check the credentials and start a new session (a new cookie on every sign-in)."""
    sessions: SessionManager = request.app.state.sessions
    if not sessions.check_presession_token(request, body.csrf_token):
        raise HTTPException(status_code=403, detail="missing or wrong CSRF token")
    result = sign_in(request, username=body.username, password=body.password)
    if result.user is None:
        raise HTTPException(status_code=result.status, detail=result.reason)
    user = sessions.issue(response, result.user)
    return Me(username=user.username, role=user.role, csrf_token=user.csrf_token)


@router.delete("", status_code=204, summary="Sign out", dependencies=[Depends(require_csrf)])
def delete_session(
    request: Request, response: Response, user: CurrentUser = Depends(current_user)
) -> None:
    """End the current session and clear its cookie."""
    sign_out(request, response, user)
