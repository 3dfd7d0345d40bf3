"""Request and response bodies of the API modules owned by the web shell."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Me(BaseModel):
    """The signed-in user, with the CSRF token to send on state-changing requests."""

    username: str
    role: Literal["admin", "viewer"]
    csrf_token: str = Field(description="Send as the X-CSRF-Token header on POST/PUT/PATCH/DELETE.")


class UserOut(BaseModel):
    """A user account as admins see it (never the password hash)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    role: Literal["admin", "viewer"]
    active: bool
    created_at: datetime
    last_sign_in_at: datetime | None


class UserCreate(BaseModel):
    """A new user account."""

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=8, max_length=1024)
    role: Literal["admin", "viewer"] = "viewer"


class SignIn(BaseModel):
    """Credentials for `POST /api/session`."""

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)
    csrf_token: str = Field(description="Token from `GET /api/session/csrf` (sign-in CSRF).")


class SignInToken(BaseModel):
    """The sign-in CSRF token bound to the pre-session cookie just set."""

    csrf_token: str


class Problem(BaseModel):
    """An error answer."""

    detail: str
