"""`/api/documents`: upload (size-limited, type-checked), list, search and summary."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cto_assistant.store import Store
from cto_assistant.web.api import documents as documents_api
from cto_assistant.web.app import create_app
from tests.documents import samples
from tests.web.helpers import add_user, csrf_of, form_sign_in, make_settings


@pytest.fixture
def client(tmp_path: Path, sqlite_store: Store) -> Iterator[TestClient]:
    app = create_app(make_settings(tmp_path), store=sqlite_store)
    add_user(sqlite_store, "alice", "viewer")
    with TestClient(app) as test_client:
        form_sign_in(test_client, "alice")
        test_client.headers["X-CSRF-Token"] = csrf_of(test_client)
        yield test_client


def upload(client: TestClient, name: str, data: bytes) -> object:
    return client.post("/api/documents", files={"file": (name, data, "application/octet-stream")})


def test_upload_then_list_search_and_summarize(client: TestClient) -> None:
    response = upload(client, "security-report.pdf", samples.security_report_pdf())
    assert response.status_code == 201, response.text  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert body["title"] == "Acme Security Report Q2" and body["pages"] == 4
    listed = client.get("/api/documents").json()
    assert listed["status"] == "ok" and listed["data"][0]["id"] == body["id"]
    found = client.get("/api/documents/search", params={"q": "quantum-safe key rotation"}).json()
    assert found["data"][0]["page"] == 2
    summary = client.get(f"/api/documents/{body['id']}/summary").json()
    assert samples.KEY_FACT_RISK in summary["data"]["summary"]
    assert client.get("/api/documents/999/summary").status_code == 404


def test_upload_refuses_bad_files_with_a_clear_message(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    renamed = upload(client, "report.pdf", samples.security_report_docx())
    assert renamed.status_code == 422  # type: ignore[attr-defined]
    assert "not a PDF" in renamed.json()["detail"]  # type: ignore[attr-defined]
    bomb = upload(client, "bomb.docx", samples.zip_bomb_docx(inflated_mib=4))
    assert "zip bomb" in bomb.json()["detail"]  # type: ignore[attr-defined]
    monkeypatch.setattr(documents_api, "UPLOAD_MAX_BYTES", 2048)
    monkeypatch.setattr(documents_api, "MULTIPART_SLACK", 512)
    big = upload(client, "big.txt", b"a" * 10_000)
    assert big.status_code == 413  # type: ignore[attr-defined]
    assert client.get("/api/documents").json()["status"] == "no_data"


def test_upload_needs_the_csrf_token(client: TestClient) -> None:
    del client.headers["X-CSRF-Token"]
    assert upload(client, "notes.md", b"# Notes\n\nHello.").status_code == 403  # type: ignore[attr-defined]
