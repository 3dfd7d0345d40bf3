"""Accounts: users, roles, argon2 password hashes and the audit trail of who did what.

One service used by the CLI (`cto user add`), the web sign-in and the demo (`ensure_demo_user`).
Passwords are only ever hashed (argon2id) and never logged or echoed.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from functools import cache
from typing import Any

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy.orm import Session

from cto_assistant.errors import CTOError
from cto_assistant.store.models import ActionLog, User

ROLES = ("admin", "viewer")
DEMO_USERNAME = "demo"
MIN_PASSWORD_LENGTH = 8
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,63}$")

_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """A hash verified against when the user does not exist, so a miss costs as long as a hit."""
    return _hasher.hash(secrets.token_hex(16))


class AccountError(CTOError):
    """A user could not be created or changed (duplicate name, bad role, weak password)."""


class DuplicateUserError(AccountError):
    """A user with this name already exists."""


def hash_password(password: str) -> str:
    """Hash a password with argon2id."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether `password` matches the stored argon2 hash."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def normalize_username(username: str) -> str:
    """Lower-case and validate a user name."""
    name = username.strip().lower()
    if not _USERNAME.match(name):
        raise AccountError(
            f"invalid user name {username!r}: use 1-64 letters, digits, '.', '_', '-' or '@'"
        )
    return name


def validate_role(role: str) -> str:
    """Return the role if it is known, else raise a clear error."""
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r} (choose {' or '.join(ROLES)})")
    return role


def validate_password(password: str) -> None:
    """Refuse passwords that are too short to be a password."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")


def find_user(*, session: Session, username: str) -> User | None:
    """The user with this name (case-insensitive), or None."""
    name = username.strip().lower()
    return session.scalar(sa.select(User).where(User.username == name))


def get_user(*, session: Session, user_id: int) -> User | None:
    """The user with this id, or None."""
    return session.get(User, user_id)


def list_users(*, session: Session) -> list[User]:
    """Every user, by name."""
    return list(session.scalars(sa.select(User).order_by(User.username)))


def create_user(
    *,
    session: Session,
    username: str,
    password: str,
    role: str,
    now: datetime | None = None,
) -> User:
    """Create a user with an argon2 password hash; refuse duplicates and unknown roles."""
    name = normalize_username(username)
    validate_role(role)
    validate_password(password)
    if find_user(session=session, username=name) is not None:
        raise DuplicateUserError(f"user {name!r} already exists")
    user = User(
        username=name,
        password_hash=hash_password(password),
        role=role,
        active=True,
        created_at=now or _utcnow(),
    )
    session.add(user)
    session.flush()
    return user


def set_password(*, session: Session, user: User, password: str) -> None:
    """Replace a user's password (every existing session of theirs stops working)."""
    validate_password(password)
    user.password_hash = hash_password(password)
    session.flush()


def authenticate(
    *, session: Session, username: str, password: str, now: datetime | None = None
) -> User | None:
    """Return the active user whose password matches, else None (same cost either way)."""
    user = find_user(session=session, username=username)
    if user is None or not user.active:
        verify_password(_dummy_hash(), password)
        return None
    if not verify_password(user.password_hash, password):
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_sign_in_at = now or _utcnow()
    session.flush()
    return user


def ensure_demo_user(*, session: Session, password: str | None) -> tuple[str, str]:
    """Create or reset the admin user `demo`; return (username, password).

    `password` is CTO_DEMO_PASSWORD when set; otherwise a fresh one is generated. The demo
    password is not held to the minimum length, so `CTO_DEMO_PASSWORD=demo` works.
    """
    chosen = password or secrets.token_urlsafe(12)
    user = find_user(session=session, username=DEMO_USERNAME)
    if user is None:
        user = User(
            username=DEMO_USERNAME,
            password_hash=hash_password(chosen),
            role="admin",
            active=True,
            created_at=_utcnow(),
        )
        session.add(user)
    else:
        user.password_hash = hash_password(chosen)
        user.role = "admin"
        user.active = True
    session.flush()
    return DEMO_USERNAME, chosen


def record_action(
    *,
    session: Session,
    actor: str,
    action: str,
    ok: bool,
    arguments: dict[str, Any] | None = None,
    result: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> ActionLog:
    """Append one row to the action log (never pass a secret in arguments or result)."""
    row = ActionLog(
        actor=actor[:64],
        action=action,
        ok=ok,
        arguments=arguments or {},
        result=result or {},
        at=now or _utcnow(),
    )
    session.add(row)
    session.flush()
    return row


def _utcnow() -> datetime:
    return datetime.now(UTC)
