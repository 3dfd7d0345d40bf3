"""`/api/alerts` and `/api/reports` for a signed-in user."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from fastapi.testclient import TestClient

from cto_assistant.store import Store
from cto_assistant.store.models import Alert, Report
from cto_assistant.web.app import create_app
from tests.web.helpers import add_user, form_sign_in, make_settings

NOW = datetime(2026, 3, 18, 12, tzinfo=UTC)


def test_alerts_and_reports_are_served_to_signed_in_users(
    sqlite_store: Store, tmp_path: Path
) -> None:
    with sqlite_store.session() as session:
        for rule, closed in (("slo_burn", None), ("cost_anomaly", NOW)):
            session.add(Alert(rule=rule, domain="operations", severity="critical", subject=rule,
                              summary=f"{rule}.", fingerprint=rule, details={}, opened_at=NOW,
                              updated_at=NOW, closed_at=closed, notified_severity="critical"))  # fmt: skip
        session.add(Report(kind="weekly", period_start=date(2026, 3, 11), period_end=date(2026, 3, 18),
                           markdown="# Weekly engineering brief\n\n- one line\n", created_at=NOW))  # fmt: skip
    add_user(sqlite_store, "alice", "viewer")
    with TestClient(create_app(make_settings(tmp_path), store=sqlite_store)) as client:
        assert client.get("/api/alerts").status_code == 401
        form_sign_in(client, "alice")
        body = client.get("/api/alerts").json()
        assert [a["rule"] for a in body["data"]["alerts"]] == ["slo_burn"]
        every = client.get("/api/alerts", params={"open": "false"}).json()
        assert len(every["data"]["alerts"]) == 2
        [listed] = client.get("/api/reports").json()["reports"]
        assert listed["title"] == "Weekly engineering brief"
        pdf = client.get(f"/api/reports/{listed['id']}", params={"format": "pdf"})
        assert pdf.headers["content-type"] == "application/pdf" and pdf.content[:5] == b"%PDF-"
        md = client.get(f"/api/reports/{listed['id']}", params={"format": "md"})
        assert md.text.startswith("# Weekly")
        assert client.get("/api/reports/999").status_code == 404
