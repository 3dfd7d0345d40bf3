"""POST /api/chat streams tool, text and done events; the session's history is readable."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from cto_assistant.demo.run import DemoRun
from cto_assistant.web.app import create_app
from cto_assistant.web.auth import CurrentUser, current_user, optional_user, require_csrf


def _events(body: str) -> list[tuple[str, dict[str, object]]]:
    out = []
    for block in body.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        out.append((lines["event"], json.loads(lines["data"])))
    return out


def test_chat_streams_the_answer_and_keeps_history(demo: DemoRun) -> None:
    app = create_app(demo.settings, store=demo.store, sync_on_start=False)
    user = CurrentUser(1, demo.username, "admin", "s", "t")
    app.dependency_overrides[current_user] = lambda: user
    app.dependency_overrides[optional_user] = lambda: user
    app.dependency_overrides[require_csrf] = lambda: None
    client = TestClient(app)
    response = client.post("/api/chat", json={"question": "who is on call for payments?"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = _events(response.text)
    names = [name for name, _ in events]
    assert names[0] == "session" and names[1] == "tool" and names[-1] == "done"
    assert "text" in names
    assert events[1][1]["tool"] == "on_call"
    done = events[-1][1]
    streamed = "".join(str(data["text"]) for name, data in events if name == "text")
    assert streamed == done["answer"]

    history = client.get(f"/api/chat/sessions/{done['conversation_id']}")
    assert history.status_code == 200
    assert [m["role"] for m in history.json()["messages"]] == ["user", "assistant"]
    assert client.get("/api/chat/sessions/nope").status_code == 404
