"""Accounts: argon2 hashes, roles, duplicates, authentication, the demo user, the action log."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from cto_assistant import accounts
from cto_assistant.store import Store
from cto_assistant.store.models import ActionLog, User

PASSWORD = "correct horse battery staple"


def test_created_user_has_an_argon2id_hash(any_store: Store) -> None:
    with any_store.session() as session:
        accounts.create_user(session=session, username="Alice", password=PASSWORD, role="admin")
    with any_store.session() as session:
        user = session.scalar(sa.select(User))
        assert user is not None
        assert (user.username, user.role, user.active) == ("alice", "admin", True)
        assert user.password_hash.startswith("$argon2id$")
        assert PASSWORD not in user.password_hash


def test_duplicate_user_is_refused_whatever_the_case(any_store: Store) -> None:
    with any_store.session() as session:
        accounts.create_user(session=session, username="alice", password=PASSWORD, role="admin")
    with any_store.session() as session, pytest.raises(accounts.DuplicateUserError) as caught:
        accounts.create_user(session=session, username="ALICE", password=PASSWORD, role="viewer")
    assert str(caught.value) == "user 'alice' already exists"


def test_unknown_role_is_refused_with_the_choices(sqlite_store: Store) -> None:
    with sqlite_store.session() as session, pytest.raises(accounts.AccountError) as caught:
        accounts.create_user(session=session, username="bob", password=PASSWORD, role="root")
    assert str(caught.value) == "unknown role 'root' (choose admin or viewer)"


@pytest.mark.parametrize(
    ("username", "password", "problem"),
    [
        ("", PASSWORD, "invalid user name"),
        ("bad name", PASSWORD, "invalid user name"),
        ("x" * 65, PASSWORD, "invalid user name"),
        ("bob", "short", "at least 8 characters"),
    ],
)
def test_bad_names_and_short_passwords_are_refused(
    sqlite_store: Store, username: str, password: str, problem: str
) -> None:
    with sqlite_store.session() as session, pytest.raises(accounts.AccountError, match=problem):
        accounts.create_user(session=session, username=username, password=password, role="viewer")


def test_authenticate_accepts_only_the_right_password_of_an_active_user(any_store: Store) -> None:
    with any_store.session() as session:
        accounts.create_user(session=session, username="alice", password=PASSWORD, role="viewer")
    with any_store.session() as session:
        assert accounts.authenticate(session=session, username="alice", password="nope") is None
        assert accounts.authenticate(session=session, username="nobody", password=PASSWORD) is None
        user = accounts.authenticate(session=session, username=" Alice ", password=PASSWORD)
        assert user is not None and user.last_sign_in_at is not None
        user.active = False
    with any_store.session() as session:
        assert accounts.authenticate(session=session, username="alice", password=PASSWORD) is None


def test_ensure_demo_user_uses_the_given_password(sqlite_store: Store) -> None:
    with sqlite_store.session() as session:
        assert accounts.ensure_demo_user(session=session, password="demo") == ("demo", "demo")
    with sqlite_store.session() as session:
        user = accounts.authenticate(session=session, username="demo", password="demo")
        assert user is not None and user.role == "admin"


def test_ensure_demo_user_generates_and_resets_a_password(sqlite_store: Store) -> None:
    with sqlite_store.session() as session:
        accounts.create_user(session=session, username="demo", password=PASSWORD, role="viewer")
    with sqlite_store.session() as session:
        username, password = accounts.ensure_demo_user(session=session, password=None)
    assert username == "demo" and len(password) >= 12
    with sqlite_store.session() as session:
        assert accounts.authenticate(session=session, username="demo", password=PASSWORD) is None
        user = accounts.authenticate(session=session, username="demo", password=password)
        assert user is not None and user.role == "admin"
        assert len(accounts.list_users(session=session)) == 1


def test_record_action_appends_to_the_action_log(sqlite_store: Store) -> None:
    with sqlite_store.session() as session:
        accounts.record_action(
            session=session, actor="alice", action="sign_in", ok=False, arguments={"client": "x"}
        )
    with sqlite_store.session() as session:
        row = session.scalar(sa.select(ActionLog))
        assert row is not None
        assert (row.actor, row.action, row.ok, row.arguments) == (
            "alice",
            "sign_in",
            False,
            {"client": "x"},
        )
        assert row.at.tzinfo is not None
