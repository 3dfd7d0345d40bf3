"""Helpers for the web tests: settings, users and signing in through the real forms."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from cto_assistant import accounts
from cto_assistant.settings import Settings, load_settings
from cto_assistant.store import Store

SECRET_KEY = "test-secret-key-6f1c2a9e0b7d4c35"
PASSWORD = "correct horse battery staple"


def make_settings(tmp_path: Path, **overrides: object) -> Settings:
    """Settings for a test installation in `tmp_path`."""
    values: dict[str, object] = {"data_dir": tmp_path / "data", "secret_key": SECRET_KEY}
    values.update(overrides)
    return load_settings(**values)


def add_user(store: Store, username: str, role: str, password: str = PASSWORD) -> None:
    """Create a user directly in the store."""
    with store.session() as session:
        accounts.create_user(session=session, username=username, password=password, role=role)


def sign_in_token(client: TestClient | httpx.Client, path: str = "/login") -> str:
    """Load the sign-in form and return its CSRF token."""
    page = client.get(path)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, "the sign-in form has no CSRF token"
    return match.group(1)


def form_sign_in(
    client: TestClient, username: str, password: str = PASSWORD, next_path: str = "/"
) -> httpx.Response:
    """Sign in through the HTML form; returns the POST response (not followed)."""
    token = sign_in_token(client)
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token, "next": next_path},
        follow_redirects=False,
    )


def csrf_of(client: TestClient) -> str:
    """The CSRF token of the client's current session."""
    response = client.get("/api/me")
    assert response.status_code == 200, response.text
    return str(response.json()["csrf_token"])
