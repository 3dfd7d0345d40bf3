"""Access: sign-in on every route, roles on admin routes, CSRF, sessions, headers, secrets, audit.

Routes are enumerated from the app itself, so a route added tomorrow is covered tomorrow: it
must either refuse an anonymous caller or be on `PUBLIC_ROUTES` with its reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from cto_assistant import secrets as vault
from cto_assistant.connectors.registry import resolve_env_fields
from cto_assistant.errors import ConfigError
from cto_assistant.store import Store
from cto_assistant.store.models import ActionLog, SecretEntry
from cto_assistant.web.app import create_app
from cto_assistant.web.auth import SESSION_COOKIE, require_admin
from cto_assistant.web.middleware import CONTENT_SECURITY_POLICY
from tests.reliability.conftest import Demo, Figures
from tests.web.helpers import PASSWORD, add_user, form_sign_in, make_settings, sign_in_token

# Routes that answer without a session, and why.
PUBLIC_ROUTES: dict[tuple[str, str], str] = {
    ("GET", "/healthz"): "liveness probe",
    ("GET", "/readyz"): "readiness probe",
    ("GET", "/login"): "the sign-in form",
    ("POST", "/login"): "the sign-in form's target (pre-session CSRF token)",
    ("GET", "/api/session/csrf"): "sign-in CSRF token for scripts",
    ("POST", "/api/session"): "sign-in for scripts (pre-session CSRF token)",
    ("POST", "/api/ingest/deployments"): "webhook: authenticated by its bearer ingest token",
    ("POST", "/api/ingest/incidents"): "webhook: authenticated by its bearer ingest token",
    ("GET", "/api/openapi.json"): "the API's public contract",
    ("GET", "/api/docs"): "the API reference page (the contract, no data)",
    ("GET", "/static/{path}"): "CSS, JS and images of the sign-in page",
    ("GET", "/metrics"): "Prometheus scrape: bearer `metrics_token` when set (web/metrics.py)",
}
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}


@dataclass(frozen=True)
class Endpoint:
    """One method on one route."""

    method: str
    path: str
    admin: bool

    def url(self) -> str:
        """A concrete URL for the path (placeholders filled with plausible values)."""
        return re.sub(r"\{[^}]+\}", "1", self.path)


def endpoints(app: FastAPI) -> list[Endpoint]:
    """Every method of every route of the app, with whether it requires the admin role."""
    found = []
    for context in iter_route_contexts(app.routes):
        route = context.route
        path = str(context.path_format)
        methods = sorted((route.methods if hasattr(route, "methods") else None) or {"GET"})
        admin = False
        if isinstance(route, APIRoute):
            calls = _dependency_calls(route.dependant)
            admin = require_admin in calls
        for method in methods:
            if method != "HEAD":
                found.append(Endpoint(method, path, admin))
    return found


def _dependency_calls(dependant: object) -> set[object]:
    calls: set[object] = set()
    for dep in getattr(dependant, "dependencies", []):
        calls.add(dep.call)
        calls |= _dependency_calls(dep)
    return calls


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    """A fresh app over an empty store with an admin and a viewer."""
    from cto_assistant.store import open_store

    tmp = tmp_path_factory.mktemp("access")
    store = open_store(f"sqlite:///{tmp / 'cto.db'}")
    add_user(store, "ada", "admin")
    add_user(store, "vic", "viewer")
    application = create_app(make_settings(tmp), store=store, sync_on_start=False)
    yield application
    store.dispose()


@pytest.fixture
def anonymous(app: FastAPI) -> Iterator[TestClient]:
    """A client with no cookies."""
    with TestClient(app) as client:
        yield client


def signed_in(app: FastAPI, username: str) -> TestClient:
    """A new client signed in as `username` through the form."""
    client = TestClient(app)
    assert form_sign_in(client, username).status_code == 303
    return client


def test_every_route_but_the_public_ones_needs_a_session(
    app: FastAPI, anonymous: TestClient, figures: Figures
) -> None:
    """Anonymous calls get 401 (API) or a redirect to /login (pages) on every non-public route."""
    checked = 0
    listed = {(e.method, e.path) for e in endpoints(app)}
    assert set(PUBLIC_ROUTES) <= listed, set(PUBLIC_ROUTES) - listed
    for endpoint in endpoints(app):
        if (endpoint.method, endpoint.path) in PUBLIC_ROUTES:
            continue
        response = anonymous.request(endpoint.method, endpoint.url(), follow_redirects=False)
        if endpoint.path.startswith("/api/"):
            assert response.status_code == 401, (endpoint, response.status_code)
        else:
            assert response.status_code == 303, (endpoint, response.status_code)
            assert response.headers["location"].startswith("/login")
        checked += 1
    assert checked >= 25
    figures.add("access", "routes_requiring_sign_in", checked)
    figures.add("access", "public_routes", len(PUBLIC_ROUTES))


def test_viewers_get_403_on_every_admin_route(app: FastAPI, figures: Figures) -> None:
    """Each route that depends on require_admin refuses a viewer and admits an admin."""
    admin_routes = [e for e in endpoints(app) if e.admin]
    assert {e.path for e in admin_routes} >= {"/api/admin/users", "/api/sources/{name}/check"}
    viewer, admin = signed_in(app, "vic"), signed_in(app, "ada")
    for client in (viewer, admin):
        client.headers["X-CSRF-Token"] = client.get("/api/me").json()["csrf_token"]
    for endpoint in admin_routes:
        body = {"username": "x", "password": "p" * 12} if endpoint.method == "POST" else None
        refused = viewer.request(endpoint.method, endpoint.url(), json=body)
        assert refused.status_code == 403, (endpoint, refused.status_code)
        allowed = admin.request(endpoint.method, endpoint.url(), json=body)
        assert allowed.status_code != 403, (endpoint, allowed.status_code)
    figures.add("access", "admin_routes_checked", len(admin_routes))


def test_every_state_changing_route_refuses_a_missing_or_wrong_csrf_token(
    app: FastAPI, figures: Figures
) -> None:
    """POST/PUT/PATCH/DELETE with the session cookie but no (or a wrong) token get 403."""
    client = signed_in(app, "ada")
    changing = [
        e
        for e in endpoints(app)
        if e.method in STATE_CHANGING and (e.method, e.path) not in PUBLIC_ROUTES
    ]
    for endpoint in changing:
        for headers in ({}, {"X-CSRF-Token": "forged"}):
            response = client.request(endpoint.method, endpoint.url(), headers=headers, json={})
            assert response.status_code == 403, (endpoint, headers, response.status_code)
    # the sign-in routes carry a pre-session token instead
    assert client.post("/api/session", json={"username": "ada", "password": PASSWORD,
                                             "csrf_token": "x"}).status_code == 403  # fmt: skip
    figures.add("access", "csrf_routes_checked", len(changing) + 2)


def test_sign_in_rotates_the_session_and_sets_safe_cookie_flags(app: FastAPI) -> None:
    """A planted session cookie is never promoted; the new cookie is HttpOnly, SameSite=Lax."""
    attacker = signed_in(app, "vic")
    planted = attacker.cookies.get(SESSION_COOKIE)
    with TestClient(app) as victim:
        victim.cookies.set(SESSION_COOKIE, planted or "")
        token = victim.get("/api/session/csrf").json()["csrf_token"]
        body = {"username": "ada", "password": PASSWORD, "csrf_token": token}
        response = victim.post("/api/session", json=body)
        assert response.status_code == 200
        flags = response.headers["set-cookie"].lower()
        assert "httponly" in flags and "samesite=lax" in flags and "path=/" in flags
        issued = response.cookies.get(SESSION_COOKIE)
        assert issued and issued != planted
        victim.cookies.clear()
        victim.cookies.set(SESSION_COOKIE, issued)
        assert victim.get("/api/me").json()["username"] == "ada"
    assert attacker.get("/api/me").json()["username"] == "vic"  # the planted id was not promoted


def test_secure_cookie_flag_outside_loopback(tmp_path: Path, sqlite_store: Store) -> None:
    """Bound to a public interface, the session cookie is marked Secure."""
    add_user(sqlite_store, "ada", "admin")
    settings = make_settings(tmp_path, host="0.0.0.0")  # noqa: S104 - only the cookie flag
    with TestClient(create_app(settings, store=sqlite_store, sync_on_start=False)) as client:
        response = form_sign_in(client, "ada")
        assert "secure" in response.headers["set-cookie"].lower()


def test_signed_out_session_cannot_be_replayed(app: FastAPI) -> None:
    """After sign-out the copied cookie is refused."""
    client = signed_in(app, "ada")
    cookie = client.cookies.get(SESSION_COOKIE)
    token = client.get("/api/me").json()["csrf_token"]
    assert client.delete("/api/session", headers={"X-CSRF-Token": token}).status_code == 204
    replay = TestClient(app)
    replay.cookies.set(SESSION_COOKIE, cookie or "")
    assert replay.get("/api/me").status_code == 401


def test_sign_in_is_rate_limited(app: FastAPI, figures: Figures) -> None:
    """After 5 wrong passwords the 6th attempt — even with the right one — gets 429."""
    with TestClient(app) as client:
        statuses = []
        for _ in range(5):
            token = client.get("/api/session/csrf").json()["csrf_token"]
            body = {"username": "vic", "password": "wrong-password", "csrf_token": token}
            statuses.append(client.post("/api/session", json=body).status_code)
        token = client.get("/api/session/csrf").json()["csrf_token"]
        right = {"username": "vic", "password": PASSWORD, "csrf_token": token}
        blocked = client.post("/api/session", json=right)
    assert statuses == [401] * 5
    assert blocked.status_code == 429
    figures.add("access", "sign_in_lockout_after_failures", 5)


@pytest.mark.parametrize("path", ["/login", "/api/me", "/healthz", "/api/openapi.json"])
def test_security_headers_on_pages_and_api(anonymous: TestClient, path: str) -> None:
    """CSP without unsafe-inline, frame-ancestors 'none', nosniff, no-store on every answer."""
    headers = anonymous.get(path, follow_redirects=False).headers
    csp = headers["content-security-policy"]
    assert csp == CONTENT_SECURITY_POLICY
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["cache-control"] == "no-store"


def test_sign_ins_and_actions_are_in_the_audit_log(app: FastAPI) -> None:
    """Good and bad sign-ins, sign-outs and admin actions each leave an action_log row."""
    with TestClient(app) as client:
        token = sign_in_token(client)
        client.post("/login", data={"username": "ada", "password": "nope", "csrf_token": token})
        form_sign_in(client, "ada")
        csrf = client.get("/api/me").json()["csrf_token"]
        client.post(
            "/api/admin/users",
            json={"username": "audited", "password": "p" * 12, "role": "viewer"},
            headers={"X-CSRF-Token": csrf},
        )
        client.delete("/api/session", headers={"X-CSRF-Token": csrf})
    with app.state.store.session() as session:
        rows = session.execute(sa.select(ActionLog.actor, ActionLog.action, ActionLog.ok)).all()
    assert ("ada", "sign_in", False) in rows
    assert ("ada", "sign_in", True) in rows
    assert ("ada", "create_user", True) in rows
    assert ("ada", "sign_out", True) in rows


# ---------------------------------------------------------------------------- secrets


def test_secrets_are_encrypted_at_rest(sqlite_store: Store, secrets_key: str) -> None:
    """The stored ciphertext holds neither the value nor the key; the right key reads it back."""
    value = "jira-token-0f9a8b7c6d5e4f3a"
    box = vault.box_from_environment()
    with sqlite_store.session() as session:
        vault.set_secret(session=session, box=box, name="JIRA_TOKEN", value=value)
    with sqlite_store.session() as session:
        stored = session.scalar(sa.select(SecretEntry.ciphertext))
        assert stored is not None
        assert value not in stored and secrets_key not in stored
        assert vault.get_secret(session=session, box=box, name="JIRA_TOKEN") == value
        assert [s.name for s in vault.list_secrets(session=session)] == ["JIRA_TOKEN"]
        with pytest.raises(ConfigError, match="cannot decrypt"):
            vault.get_secret(
                session=session, box=vault.SecretBox(vault.new_key()), name="JIRA_TOKEN"
            )
    raw = Path(sqlite_store.url.removeprefix("sqlite:///")).read_bytes()
    assert value.encode() not in raw


def test_a_missing_or_bad_key_is_a_clear_config_error() -> None:
    """No CTO_SECRETS_KEY, or one that is not a Fernet key, names the variable."""
    with pytest.raises(ConfigError, match=vault.KEY_ENV):
        vault.box_from_environment({})
    with pytest.raises(ConfigError, match=vault.KEY_ENV):
        vault.box_from_environment({vault.KEY_ENV: "not-a-key"})


def test_source_sections_can_name_a_stored_secret(sqlite_store: Store, secrets_key: str) -> None:
    """`token_secret = "NAME"` fills `token` from the secrets table; an unknown name is refused."""
    from cto_assistant.connectors.jira import JiraConnector

    with sqlite_store.session() as session:
        vault.set_secret(
            session=session, box=vault.box_from_environment(), name="JIRA", value="tok-123456"
        )
    lookup = vault.secret_lookup(sqlite_store.url)
    section = {"kind": "jira", "base_url": "https://x.example", "email": "a@b.c",
               "token_secret": "JIRA"}  # fmt: skip
    resolved = resolve_env_fields(
        section, JiraConnector.config_model, setting_prefix="sources.jira", secrets=lookup
    )
    assert resolved["token"] == "tok-123456" and "token_secret" not in resolved
    with pytest.raises(ConfigError, match="no stored secret"):
        resolve_env_fields(
            {**section, "token_secret": "NOPE"},
            JiraConnector.config_model,
            setting_prefix="sources.jira",
            secrets=lookup,
        )


def test_secrets_cli_sets_and_lists_without_echoing(
    tmp_path: Path, secrets_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`cto secrets set NAME --value-stdin` then `list` shows the name, never the value."""
    from typer.testing import CliRunner

    from cto_assistant.cli import app as cli

    monkeypatch.setenv("CTO_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()
    stored = runner.invoke(
        cli, ["secrets", "set", "PD_TOKEN", "--value-stdin"], input="pd-secret-99\n"
    )
    assert stored.exit_code == 0, stored.output
    listed = runner.invoke(cli, ["secrets", "list"])
    assert "PD_TOKEN" in listed.output and "pd-secret-99" not in listed.output + stored.output
    monkeypatch.delenv(vault.KEY_ENV)
    refused = runner.invoke(cli, ["secrets", "set", "X", "--value-stdin"], input="v\n")
    assert refused.exit_code != 0


def test_no_configured_secret_reaches_the_logs(demo: Demo, figures: Figures) -> None:
    """A full demo sync at DEBUG (httpx and botocore included) writes no secret value."""
    assert len(demo.log_text.splitlines()) > 100, "the demo's logs were not captured"
    assert len(demo.secrets) >= 10
    leaked = [s[:4] + "…" for s in demo.secrets if s in demo.log_text]
    assert not leaked
    figures.add("access", "secrets_grepped_in_logs", len(demo.secrets))
    figures.add("access", "log_lines_grepped", len(demo.log_text.splitlines()))


def test_no_configured_secret_reaches_an_api_response(
    demo: Demo, admin_client: TestClient, figures: Figures
) -> None:
    """Sources, dashboard, data health and more: no body contains a configured secret."""
    paths = ["/api/sources", "/api/dashboard", "/api/data-health", "/api/me", "/api/alerts",
             "/api/admin/users", "/api/timeline", "/api/openapi.json", "/settings", "/"]  # fmt: skip
    for path in paths:
        response = admin_client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        for secret in demo.secrets:
            assert secret not in response.text, (path, secret[:4])
    figures.add("access", "api_bodies_grepped_for_secrets", len(paths))
