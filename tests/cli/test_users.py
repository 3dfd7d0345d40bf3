"""`cto user add|list`: prompts, stdin, clear one-line errors, a real store."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from cto_assistant.cli import app
from cto_assistant.store import open_store
from cto_assistant.store.models import User

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("CTO_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CTO_DATA_DIR", str(tmp_path / "data"))


def _users(tmp_path: Path) -> list[tuple[str, str, str]]:
    store = open_store(f"sqlite:///{tmp_path / 'data' / 'cto.db'}")
    try:
        with store.session() as session:
            rows = session.execute(sa.select(User.username, User.role, User.password_hash))
            return [(name, role, hashed) for name, role, hashed in rows]
    finally:
        store.dispose()


def test_user_add_asks_for_the_password_twice(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["user", "add", "alice", "--role", "admin"], input=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert result.exit_code == 0, result.output
    assert "created user alice with role admin" in result.stdout
    assert PASSWORD not in result.output
    [(name, role, hashed)] = _users(tmp_path)
    assert (name, role) == ("alice", "admin")
    assert hashed.startswith("$argon2id$")


def test_user_add_reads_the_password_from_stdin(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["user", "add", "victor", "--role", "viewer", "--password-stdin"], input=PASSWORD
    )
    assert result.exit_code == 0, result.output
    assert [(name, role) for name, role, _ in _users(tmp_path)] == [("victor", "viewer")]


def test_user_add_refuses_mismatched_confirmation(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["user", "add", "alice"], input=f"{PASSWORD}\nsomething else\n{PASSWORD}\n{PASSWORD}\n"
    )
    assert result.exit_code == 0
    assert "do not match" in result.output.lower()


def test_user_add_refuses_a_bad_role_in_one_line() -> None:
    result = CliRunner().invoke(app, ["user", "add", "alice", "--role", "root"])
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: unknown role 'root' (choose admin or viewer)"


def test_user_add_refuses_a_duplicate_in_one_line() -> None:
    runner = CliRunner()
    args = ["user", "add", "alice", "--password-stdin"]
    assert runner.invoke(app, args, input=PASSWORD).exit_code == 0
    result = runner.invoke(app, args, input=PASSWORD)
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: user 'alice' already exists"


def test_user_add_refuses_a_short_password() -> None:
    result = CliRunner().invoke(app, ["user", "add", "alice", "--password-stdin"], input="short")
    assert result.exit_code == 1
    assert "at least 8 characters" in result.stderr


def test_user_list_shows_names_and_roles() -> None:
    runner = CliRunner()
    empty = runner.invoke(app, ["user", "list"])
    assert "no users yet" in empty.stdout
    runner.invoke(
        app, ["user", "add", "alice", "--role", "admin", "--password-stdin"], input=PASSWORD
    )
    listed = runner.invoke(app, ["user", "list"])
    assert listed.exit_code == 0
    assert listed.stdout.split() == ["alice", "admin", "last", "sign-in:", "never"]
