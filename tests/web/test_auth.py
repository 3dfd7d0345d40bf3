"""Sign-in, sessions, CSRF and roles, over the real app and store (SQLite and PostgreSQL)."""

from __future__ import annotations

from http.cookies import SimpleCookie
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from cto_assistant import accounts
from cto_assistant.store import Store
from cto_assistant.store.models import ActionLog, User
from cto_assistant.web.app import create_app
from cto_assistant.web.auth import PRESESSION_COOKIE, SESSION_COOKIE
from tests.web.helpers import (
    PASSWORD,
    add_user,
    csrf_of,
    form_sign_in,
    make_settings,
    sign_in_token,
)


def _sign_ins(store: Store) -> list[tuple[str, bool, dict[str, object]]]:
    with store.session() as session:
        rows = session.scalars(
            sa.select(ActionLog).where(ActionLog.action == "sign_in").order_by(ActionLog.id)
        )
        return [(row.actor, row.ok, row.result) for row in rows]


def _set_cookie(response: httpx.Response, name: str) -> str | None:
    for header in response.headers.get_list("set-cookie"):
        if header.startswith(f"{name}="):
            return header
    return None


def test_wrong_password_is_refused_and_recorded(any_client: TestClient, any_store: Store) -> None:
    add_user(any_store, "alice", "admin")
    response = form_sign_in(any_client, "alice", "not the password")
    assert response.status_code == 401
    assert "Wrong user name or password" in response.text
    assert _set_cookie(response, SESSION_COOKIE) is None
    assert any_client.get("/api/me").status_code == 401
    assert _sign_ins(any_store) == [("alice", False, {"reason": "bad_credentials"})]


def test_unknown_user_is_refused_like_a_wrong_password(any_client: TestClient) -> None:
    response = form_sign_in(any_client, "mallory", PASSWORD)
    assert response.status_code == 401
    assert "Wrong user name or password" in response.text


def test_right_password_signs_in_and_is_recorded(any_client: TestClient, any_store: Store) -> None:
    add_user(any_store, "alice", "admin")
    response = form_sign_in(any_client, "Alice", next_path="/api/docs")
    assert response.status_code == 303
    assert response.headers["location"] == "/api/docs"
    me = any_client.get("/api/me").json()
    assert (me["username"], me["role"]) == ("alice", "admin")
    assert _sign_ins(any_store) == [("alice", True, {})]
    with any_store.session() as session:
        user = accounts.find_user(session=session, username="alice")
        assert user is not None and user.last_sign_in_at is not None


@pytest.mark.parametrize("path", ["/api/me", "/api/admin/users", "/api/events"])
def test_api_without_session_answers_401(any_client: TestClient, path: str) -> None:
    response = any_client.get(path)
    assert response.status_code == 401
    assert response.json() == {"detail": "sign-in required"}


def test_page_without_session_redirects_to_sign_in(client: TestClient) -> None:
    response = client.get("/", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/"


def test_every_api_route_needs_sign_in_unless_public(app: FastAPI, client: TestClient) -> None:
    public = {"/api/session", "/api/session/csrf"}
    checked = 0
    for path, operations in app.openapi()["paths"].items():
        if not path.startswith("/api/") or path in public or "{" in path:
            continue
        for method in operations:
            response = client.request(method.upper(), path)
            assert response.status_code == 401, (method, path, response.status_code)
            checked += 1
    assert checked >= 4


def test_tampered_session_cookie_is_refused(client: TestClient, sqlite_store: Store) -> None:
    add_user(sqlite_store, "alice", "admin")
    form_sign_in(client, "alice")
    [cookie] = [c for c in client.cookies.jar if c.name == SESSION_COOKIE]
    value = cookie.value or ""
    # Change a character well inside the signed payload: the last base64 characters of a
    # signature carry padding bits, so editing them can leave the decoded bytes unchanged.
    middle = len(value) // 3
    swapped = "B" if value[middle] != "B" else "C"
    client.cookies.clear()
    client.cookies.set(
        SESSION_COOKIE, value[:middle] + swapped + value[middle + 1 :], domain=cookie.domain
    )
    assert client.get("/api/me").status_code == 401


def test_post_without_csrf_token_is_forbidden(any_client: TestClient, any_store: Store) -> None:
    add_user(any_store, "alice", "admin")
    form_sign_in(any_client, "alice")
    body = {"username": "bob", "password": "password-123", "role": "viewer"}
    missing = any_client.post("/api/admin/users", json=body)
    wrong = any_client.post("/api/admin/users", json=body, headers={"X-CSRF-Token": "x" * 64})
    assert (missing.status_code, wrong.status_code) == (403, 403)
    assert missing.json() == {"detail": "missing or wrong CSRF token"}
    right = any_client.post(
        "/api/admin/users", json=body, headers={"X-CSRF-Token": csrf_of(any_client)}
    )
    assert right.status_code == 201, right.text


def test_csrf_token_of_another_session_is_refused(app: FastAPI, sqlite_store: Store) -> None:
    add_user(sqlite_store, "alice", "admin")
    with TestClient(app) as first, TestClient(app) as second:
        form_sign_in(first, "alice")
        form_sign_in(second, "alice")
        response = second.post(
            "/api/admin/users",
            json={"username": "bob", "password": "password-123", "role": "viewer"},
            headers={"X-CSRF-Token": csrf_of(first)},
        )
    assert response.status_code == 403


def test_sign_in_form_needs_its_csrf_token(client: TestClient, sqlite_store: Store) -> None:
    add_user(sqlite_store, "alice", "admin")
    no_cookie = client.post(
        "/login", data={"username": "alice", "password": PASSWORD, "csrf_token": "forged"}
    )
    sign_in_token(client)  # the pre-session cookie now exists, but the token is still forged
    wrong_token = client.post(
        "/login", data={"username": "alice", "password": PASSWORD, "csrf_token": "forged"}
    )
    assert (no_cookie.status_code, wrong_token.status_code) == (403, 403)
    assert client.get("/api/me").status_code == 401


def test_viewer_cannot_reach_admin_endpoints_but_admin_can(
    any_app: FastAPI, any_store: Store
) -> None:
    add_user(any_store, "alice", "admin")
    add_user(any_store, "victor", "viewer")
    body = {"username": "bob", "password": "password-123", "role": "viewer"}
    with TestClient(any_app) as viewer:
        form_sign_in(viewer, "victor")
        token = csrf_of(viewer)
        assert viewer.get("/api/admin/users").status_code == 403
        refused = viewer.post("/api/admin/users", json=body, headers={"X-CSRF-Token": token})
        assert refused.status_code == 403
    with TestClient(any_app) as admin:
        form_sign_in(admin, "alice")
        listed = admin.get("/api/admin/users")
        assert listed.status_code == 200
        assert [user["username"] for user in listed.json()] == ["alice", "victor"]
        assert all("password_hash" not in user for user in listed.json())


def test_admin_api_refuses_duplicates_and_bad_roles(
    client: TestClient, sqlite_store: Store
) -> None:
    add_user(sqlite_store, "alice", "admin")
    form_sign_in(client, "alice")
    headers = {"X-CSRF-Token": csrf_of(client)}
    duplicate = client.post(
        "/api/admin/users",
        json={"username": "ALICE", "password": "password-123", "role": "viewer"},
        headers=headers,
    )
    bad_role = client.post(
        "/api/admin/users",
        json={"username": "bob", "password": "password-123", "role": "root"},
        headers=headers,
    )
    assert duplicate.status_code == 409
    assert "already exists" in duplicate.json()["detail"]
    assert bad_role.status_code == 422


def test_session_cookie_is_http_only_lax_and_not_secure_on_loopback(
    client: TestClient, sqlite_store: Store
) -> None:
    add_user(sqlite_store, "alice", "admin")
    header = _set_cookie(form_sign_in(client, "alice"), SESSION_COOKIE)
    assert header is not None
    morsel = SimpleCookie(header)[SESSION_COOKIE]
    assert morsel["httponly"] is True
    assert morsel["samesite"].lower() == "lax"
    assert morsel["path"] == "/"
    assert morsel["max-age"] == str(12 * 3600)
    assert not morsel["secure"]


def test_session_cookie_is_secure_when_configured(tmp_path: Path, sqlite_store: Store) -> None:
    settings = make_settings(tmp_path, cookie_secure="always", session_max_age_hours=2)
    add_user(sqlite_store, "alice", "admin")
    with TestClient(create_app(settings, store=sqlite_store), base_url="https://testserver") as c:
        header = _set_cookie(form_sign_in(c, "alice"), SESSION_COOKIE)
        assert c.get("/api/me").status_code == 200
    assert header is not None
    morsel = SimpleCookie(header)[SESSION_COOKIE]
    assert morsel["secure"] is True
    assert morsel["max-age"] == str(2 * 3600)


def _api_sign_in(client: TestClient, username: str) -> httpx.Response:
    token = client.get("/api/session/csrf").json()["csrf_token"]
    return client.post(
        "/api/session", json={"username": username, "password": PASSWORD, "csrf_token": token}
    )


def test_session_rotates_on_every_sign_in(app: FastAPI, sqlite_store: Store) -> None:
    add_user(sqlite_store, "alice", "admin")
    add_user(sqlite_store, "mallory", "viewer")
    with TestClient(app) as attacker:
        form_sign_in(attacker, "mallory")
        planted = attacker.cookies[SESSION_COOKIE]
    with TestClient(app) as victim:
        for cookie in attacker.cookies.jar:  # the attacker's cookie, planted in the victim
            victim.cookies.jar.set_cookie(cookie)
        planted_token = csrf_of(victim)
        response = _api_sign_in(victim, "alice")
        assert response.status_code == 200
        assert victim.cookies[SESSION_COOKIE] != planted
        assert response.json()["csrf_token"] != planted_token
        assert victim.get("/api/me").json()["username"] == "alice"
        again = _api_sign_in(victim, "alice")
        assert again.json()["csrf_token"] != response.json()["csrf_token"]


def test_sign_in_form_cookie_is_never_promoted(client: TestClient, sqlite_store: Store) -> None:
    add_user(sqlite_store, "alice", "admin")
    response = form_sign_in(client, "alice")
    removed = _set_cookie(response, PRESESSION_COOKIE)
    assert removed is not None and "Max-Age=0" in removed
    assert _set_cookie(response, SESSION_COOKIE) is not None


def test_sign_out_ends_the_session_even_after_a_restart(
    app: FastAPI, client: TestClient, sqlite_store: Store, tmp_path: Path
) -> None:
    add_user(sqlite_store, "alice", "admin")
    form_sign_in(client, "alice")
    stolen = client.cookies[SESSION_COOKIE]
    refused = client.post("/logout", data={"csrf_token": "wrong"}, follow_redirects=False)
    assert refused.status_code == 403
    response = client.post("/logout", data={"csrf_token": csrf_of(client)}, follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/login")
    assert client.get("/api/me").status_code == 401
    restarted = create_app(make_settings(tmp_path), store=sqlite_store)
    for target in (app, restarted):
        with TestClient(target, cookies={SESSION_COOKIE: stolen}) as replay:
            assert replay.get("/api/me").status_code == 401


def test_changing_the_password_ends_existing_sessions(
    client: TestClient, sqlite_store: Store
) -> None:
    add_user(sqlite_store, "alice", "admin")
    form_sign_in(client, "alice")
    with sqlite_store.session() as session:
        user = accounts.find_user(session=session, username="alice")
        assert user is not None
        accounts.set_password(session=session, user=user, password="a brand new password")
    assert client.get("/api/me").status_code == 401


def test_disabled_user_is_signed_out(client: TestClient, sqlite_store: Store) -> None:
    add_user(sqlite_store, "alice", "admin")
    form_sign_in(client, "alice")
    with sqlite_store.session() as session:
        session.execute(sa.update(User).values(active=False))
    assert client.get("/api/me").status_code == 401
    assert form_sign_in(client, "alice").status_code == 401


def test_repeated_failures_are_rate_limited(client: TestClient, sqlite_store: Store) -> None:
    add_user(sqlite_store, "alice", "admin")
    statuses = [form_sign_in(client, "alice", "wrong password").status_code for _ in range(5)]
    assert statuses == [401] * 5
    blocked = form_sign_in(client, "alice", PASSWORD)
    assert blocked.status_code == 429
    assert client.get("/api/me").status_code == 401
    assert _sign_ins(sqlite_store)[-1] == ("alice", False, {"reason": "rate_limited"})


def test_sign_in_never_redirects_to_another_site(client: TestClient, sqlite_store: Store) -> None:
    add_user(sqlite_store, "alice", "admin")
    response = form_sign_in(client, "alice", next_path="//evil.example/phish")
    assert response.headers["location"] == "/"


def test_api_sign_in_and_sign_out(any_client: TestClient, any_store: Store) -> None:
    add_user(any_store, "alice", "viewer")
    token = any_client.get("/api/session/csrf").json()["csrf_token"]
    forged = any_client.post(
        "/api/session", json={"username": "alice", "password": PASSWORD, "csrf_token": "forged"}
    )
    assert forged.status_code == 403
    wrong = any_client.post(
        "/api/session", json={"username": "alice", "password": "nope", "csrf_token": token}
    )
    assert wrong.status_code == 401
    signed_in = any_client.post(
        "/api/session", json={"username": "alice", "password": PASSWORD, "csrf_token": token}
    )
    assert signed_in.status_code == 200
    session_token = signed_in.json()["csrf_token"]
    assert any_client.delete("/api/session").status_code == 403
    out = any_client.delete("/api/session", headers={"X-CSRF-Token": session_token})
    assert out.status_code == 204
    assert any_client.get("/api/me").status_code == 401
