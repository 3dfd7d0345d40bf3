"""`/api/admin/…`: user administration (admin role only)."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter, Depends, HTTPException, Request
from sqlalchemy.orm import Session

from cto_assistant import accounts
from cto_assistant.web.api.schemas import Problem, UserCreate, UserOut
from cto_assistant.web.auth import CurrentUser, require_admin

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_admin)])


def db_session(request: Request) -> Iterator[Session]:
    """A store session in one transaction for the length of the request."""
    with request.app.state.store.session() as session:
        yield session


@router.get("/users", response_model=list[UserOut], summary="List users")
def list_users(session: Session = Depends(db_session)) -> list[UserOut]:
    """List every user account."""
    return [UserOut.model_validate(user) for user in accounts.list_users(session=session)]


@router.post(
    "/users",
    response_model=UserOut,
    status_code=201,
    summary="Create a user",
    responses={400: {"model": Problem}, 409: {"model": Problem}},
)
def create_user(
    body: UserCreate,
    session: Session = Depends(db_session),
    admin: CurrentUser = Depends(require_admin),
) -> UserOut:
    """Create a user account with a role."""
    try:
        user = accounts.create_user(
            session=session, username=body.username, password=body.password, role=body.role
        )
    except accounts.DuplicateUserError as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from exc
    except accounts.AccountError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from exc
    accounts.record_action(
        session=session,
        actor=admin.username,
        action="create_user",
        ok=True,
        arguments={"username": user.username, "role": user.role},
    )
    return UserOut.model_validate(user)
