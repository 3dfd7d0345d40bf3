"""Reports, documents and alerts pages; POST /api/reports; the sandboxed report HTML."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from cto_assistant.store import Store
from cto_assistant.store.models import Alert
from tests.web.helpers import add_user, csrf_of, form_sign_in

PAGES = ("/reports", "/documents", "/alerts")


def sign_in(client: TestClient, store: Store, username: str, role: str) -> TestClient:
    add_user(store, username, role)
    assert form_sign_in(client, username).status_code == 303
    client.headers["X-CSRF-Token"] = csrf_of(client)
    return client


@pytest.fixture
def admin(client: TestClient, sqlite_store: Store) -> TestClient:
    return sign_in(client, sqlite_store, "ada", "admin")


@pytest.fixture
def viewer(client: TestClient, sqlite_store: Store) -> TestClient:
    return sign_in(client, sqlite_store, "vic", "viewer")


@pytest.mark.parametrize("path", PAGES)
def test_pages_need_sign_in(client: TestClient, path: str) -> None:
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == f"/login?next={path}"


@pytest.mark.parametrize("path", PAGES)
def test_pages_render_without_inline_code_and_are_in_the_nav(admin: TestClient, path: str) -> None:
    page = admin.get(path)
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert not re.search(r"<script(?![^>]*\bsrc=)", page.text), "inline script"
    assert "<style" not in page.text and " style=" not in page.text
    assert f'href="{path}" aria-current="page"' in page.text
    for other in PAGES:
        assert f'href="{other}"' in page.text


def test_reports_page_shows_the_schedule_and_generate_for_admins(admin: TestClient) -> None:
    text = admin.get("/reports").text
    assert "data-generate" in text and "Weekly brief every Monday at 07:00 UTC" in text


def test_viewer_sees_no_generate_button_and_cannot_generate(viewer: TestClient) -> None:
    assert "data-generate" not in viewer.get("/reports").text
    assert viewer.post("/api/reports").status_code == 403


def test_generate_needs_the_csrf_token(admin: TestClient) -> None:
    del admin.headers["X-CSRF-Token"]
    assert admin.post("/api/reports").status_code == 403


def test_generate_lists_and_serves_a_sandboxed_html_report(admin: TestClient) -> None:
    created = admin.post("/api/reports")
    assert created.status_code == 201, created.text
    report = created.json()
    assert report["kind"] == "weekly" and report["formats"] == ["md", "html", "pdf"]
    listed = admin.get("/api/reports").json()["reports"]
    assert [r["id"] for r in listed] == [report["id"]]

    html = admin.get(f"/api/reports/{report['id']}", params={"format": "html"})
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    csp = html.headers["content-security-policy"]
    assert "sandbox" in csp and "frame-ancestors 'self'" in csp and "default-src 'none'" in csp
    assert "script" not in csp and html.headers["x-frame-options"] == "SAMEORIGIN"
    # every other response still refuses to be framed
    assert admin.get("/reports").headers["x-frame-options"] == "DENY"
    md = admin.get(f"/api/reports/{report['id']}", params={"format": "md"})
    assert md.text.startswith("# Weekly engineering brief")
    pdf = admin.get(f"/api/reports/{report['id']}", params={"format": "pdf"})
    assert pdf.content.startswith(b"%PDF")


def test_documents_page_states_the_upload_limit(viewer: TestClient) -> None:
    text = viewer.get("/documents").text
    assert 'data-max-bytes="26214400"' in text and "up to 25 MiB" in text
    assert 'type="file"' in text and "data-dropzone" in text


def test_alerts_page_filters_feed_the_alerts_api(viewer: TestClient, sqlite_store: Store) -> None:
    at = datetime(2025, 6, 18, 9, tzinfo=UTC)
    with sqlite_store.session() as session:
        session.add(
            Alert(
                rule="kev_in_production",
                domain="security",
                severity="critical",
                fingerprint="kev:CVE-2025-0001",
                subject="Exploited CVE-2025-0001 in production",
                summary="KEV critical on payments-api.",
                opened_at=at,
                updated_at=at,
                details={
                    "history": [{"event": "opened", "at": at.isoformat(), "severity": "critical"}]
                },
            )
        )
    page = viewer.get("/alerts").text
    assert 'name="severity"' in page and 'name="domain"' in page and 'name="open"' in page
    found = viewer.get("/api/alerts", params={"severity": "critical", "domain": "security"}).json()
    assert found["data"]["alerts"][0]["details"]["history"][0]["event"] == "opened"
    none = viewer.get("/api/alerts", params={"domain": "delivery"}).json()
    assert none["data"]["alerts"] == []


def test_static_modules_for_the_new_pages_are_served(viewer: TestClient) -> None:
    for name in ("reports", "documents", "alerts"):
        response = viewer.get(f"/static/js/{name}.js")
        assert response.status_code == 200 and "innerHTML" not in response.text
    app_js = viewer.get("/static/app.js").text
    assert "./js/reports.js" in app_js and "./js/documents.js" in app_js
    chat_js = viewer.get("/static/js/chat.js").text
    assert '"confirm"' in chat_js and "/api/chat/confirm" in chat_js
