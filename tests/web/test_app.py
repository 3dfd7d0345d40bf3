"""The web shell: app factory, health, security headers, OpenAPI, pages, static, logging."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from cto_assistant.errors import ConfigError
from cto_assistant.logging import configure_logging
from cto_assistant.store import Store
from cto_assistant.store.db import upsert
from cto_assistant.web import app as web_app
from cto_assistant.web.app import create_app
from tests.web.helpers import PASSWORD, SECRET_KEY, add_user, csrf_of, form_sign_in, make_settings

TEMPLATES = Path(web_app.__file__).parent / "templates"


def test_app_refuses_to_start_without_secret_key_outside_demo(
    tmp_path: Path, sqlite_store: Store
) -> None:
    settings = make_settings(tmp_path, secret_key=None)
    with pytest.raises(ConfigError) as caught:
        create_app(settings, store=sqlite_store)
    assert caught.value.setting == "CTO_SECRET_KEY"


def test_demo_mode_starts_without_secret_key(tmp_path: Path, sqlite_store: Store) -> None:
    settings = make_settings(tmp_path, secret_key=None, demo=True)
    with TestClient(create_app(settings, store=sqlite_store)) as client:
        assert client.get("/healthz").status_code == 200


def test_app_opens_and_migrates_its_own_store(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    with TestClient(create_app(settings)) as client:
        assert client.get("/readyz").json() == {"status": "ready", "database": "current"}
    assert (tmp_path / "data" / "cto.db").exists()


def test_health_endpoints_need_no_sign_in(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "database": "ok"}
    assert client.get("/readyz").json() == {"status": "ready", "database": "current"}


def test_health_reports_an_unreachable_database(app: FastAPI, client: TestClient) -> None:
    app.state.store = Store("postgresql+psycopg://nobody@127.0.0.1:1/nothing")  # refused port
    health = client.get("/healthz")
    ready = client.get("/readyz")
    assert (health.status_code, health.json()["database"]) == (503, "unreachable")
    assert (ready.status_code, ready.json()["database"]) == (503, "unreachable")


@pytest.mark.parametrize("path", ["/login", "/api/me", "/healthz", "/static/app.css"])
def test_security_headers_on_every_response(client: TestClient, path: str) -> None:
    headers = client.get(path).headers
    csp = headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"


def test_templates_hold_no_inline_script_or_style() -> None:
    for template in TEMPLATES.glob("*.html"):
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), template.name
        assert "<style" not in text and "style=" not in text, template.name
        assert not re.search(r"\son[a-z]+=", text), template.name
        assert "http://" not in text and "https://" not in text, f"{template.name}: no CDN"


def test_static_assets_are_served_locally(client: TestClient) -> None:
    css = client.get("/static/app.css")
    js = client.get("/static/app.js")
    assert css.status_code == js.status_code == 200
    assert "prefers-color-scheme: dark" in css.text
    assert "javascript" in js.headers["content-type"]
    assert "export function" in js.text and "EventSource" in js.text


def test_openapi_documents_every_endpoint(app: FastAPI, client: TestClient) -> None:
    schema = client.get("/api/openapi.json").json()
    paths = schema["paths"]
    for path in ("/healthz", "/readyz", "/api/me", "/api/admin/users", "/api/events"):
        assert path in paths
    assert set(paths["/api/admin/users"]) == {"get", "post"}
    assert set(paths["/api/session"]) == {"post", "delete"}
    for path, operations in paths.items():
        for method, operation in operations.items():
            assert operation.get("summary"), f"{method} {path} has no summary"
            assert operation.get("description"), f"{method} {path} has no docstring"


def test_api_docs_page_lists_every_endpoint(client: TestClient) -> None:
    schema = client.get("/api/openapi.json").json()
    page = client.get("/api/docs")
    assert page.status_code == 200
    for path in schema["paths"]:
        assert f"<code>{path}</code>" in page.text


def test_sign_in_page_is_a_form_with_a_csrf_token(client: TestClient) -> None:
    page = client.get("/login")
    assert page.status_code == 200
    assert 'name="csrf_token"' in page.text
    assert 'type="password"' in page.text
    assert '<link rel="stylesheet" href="/static/app.css">' in page.text


def test_home_with_an_empty_store_says_there_is_no_data(
    client: TestClient, sqlite_store: Store
) -> None:
    add_user(sqlite_store, "alice", "viewer")
    form_sign_in(client, "alice")
    page = client.get("/")
    assert page.status_code == 200
    text = re.sub(r"<[^>]+>", "", page.text)
    assert "No data yet — run cto sync or cto demo" in text
    assert "alice" in text and "viewer" in text
    assert 'action="/logout"' in page.text
    assert f'<meta name="csrf-token" content="{csrf_of(client)}">' in page.text


def test_home_with_data_drops_the_empty_message(client: TestClient, sqlite_store: Store) -> None:
    add_user(sqlite_store, "alice", "viewer")
    with sqlite_store.session() as session:
        upsert(
            session,
            "team",
            [{"source": "demo", "source_id": "PLAT", "key": "PLAT", "name": "Platform"}],
        )
    form_sign_in(client, "alice")
    assert "No data yet" not in client.get("/").text


def test_sign_out_from_the_page(client: TestClient, sqlite_store: Store) -> None:
    add_user(sqlite_store, "alice", "viewer")
    form_sign_in(client, "alice")
    response = client.post("/logout", data={"csrf_token": csrf_of(client)})
    assert response.url.path == "/login"
    assert client.get("/", follow_redirects=False).status_code == 303


def test_no_secret_reaches_the_logs(tmp_path: Path, sqlite_store: Store) -> None:
    stream = io.StringIO()
    settings = make_settings(tmp_path, log_level="DEBUG")
    configure_logging(settings, stream=stream)
    try:
        add_user(sqlite_store, "alice", "admin")
        with TestClient(create_app(settings, store=sqlite_store)) as client:
            form_sign_in(client, "alice", "a wrong password guess")
            form_sign_in(client, "alice", PASSWORD)
            session_cookie = client.cookies["cto_session"]
            token = csrf_of(client)
            created = client.post(
                "/api/admin/users",
                json={"username": "bob", "password": "bobs-secret-password", "role": "viewer"},
                headers={"X-CSRF-Token": token},
            )
            assert created.status_code == 201
            client.post("/logout", data={"csrf_token": token})
    finally:
        configure_logging()
    output = stream.getvalue()
    assert "path=/login" in output and "status=303" in output and "user=alice" in output
    for secret in (
        PASSWORD,
        "a wrong password guess",
        "bobs-secret-password",
        SECRET_KEY,
        session_cookie,
        token,
    ):
        assert secret not in output
