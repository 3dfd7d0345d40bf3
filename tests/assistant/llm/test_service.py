"""LLM mode inside the assistant on the demo world: routing, real tools, confirmation, budget."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from cto_assistant.assistant.llm.providers import Message
from cto_assistant.assistant.llm.runner import confirm_action, pending_actions
from cto_assistant.assistant.service import LLM_NOT_CONFIGURED, Assistant
from cto_assistant.cli import app as cli_app
from cto_assistant.demo.run import DemoRun
from cto_assistant.settings import Settings
from cto_assistant.web.app import create_app
from cto_assistant.web.auth import CurrentUser, current_user, optional_user, require_csrf
from tests.assistant.llm.scripted import ScriptedProvider, answer, call, tools

MULTI_STEP = "Compare our spend growth with our deploy frequency growth this quarter"


def llm_settings(demo: DemoRun, **llm: Any) -> Settings:
    """The demo's settings with an `[llm]` section."""
    section = {"mode": "auto", "model": "scripted-1", **llm}
    return demo.settings.model_copy(update={"llm": section})


def echo_summaries(messages: list[Message]) -> Any:
    """A final answer that repeats what the tools said (so every figure is backed)."""
    summaries = []
    for message in messages:
        if message.role == "tool":
            body = message.text.split(">>\n", 1)[1].rsplit("\n<<END DATA", 1)[0]
            summaries.append(f"{json.loads(body)['summary']} [{message.tool_name}]")
    return answer(" ".join(summaries))


def test_router_answers_are_unchanged_when_it_is_sure(demo: DemoRun) -> None:
    question = "who is on call for payments?"
    plain = Assistant(demo.store, demo.settings).ask(question).payload()
    never_called = ScriptedProvider([])
    auto = Assistant(demo.store, llm_settings(demo), llm_provider=never_called).ask(question)
    payload = auto.payload()
    assert never_called.requests == []
    assert "llm" not in payload and "llm" not in plain
    for key in ("kind", "tool", "arguments", "answer", "data"):
        assert payload[key] == plain[key]


def test_auto_mode_gives_a_multi_step_question_to_the_model(demo: DemoRun) -> None:
    provider = ScriptedProvider(
        [
            tools(
                call("cloud_spend", {"group_by": "service"}, id="spend"),
                call("dora_metrics", {"days": "a quarter"}, id="bad"),
            ),
            tools(call("dora_metrics", {"days": 90}, id="dora")),
            echo_summaries,
        ]
    )
    assistant = Assistant(demo.store, llm_settings(demo), llm_provider=provider)
    reply = assistant.ask(MULTI_STEP)
    payload = reply.payload()

    assert payload["kind"] == "llm"
    calls = payload["llm"]["tool_calls"]
    assert [(c["tool"], c["executed"]) for c in calls] == [
        ("cloud_spend", True),
        ("dora_metrics", False),
        ("dora_metrics", True),
    ]
    assert calls[0]["status"] == "ok" and calls[2]["status"] == "ok"
    assert "Bad arguments for dora_metrics" in calls[1]["summary"]
    assert payload["llm"]["unsupported_figures"] == []
    assert (
        "Tool calls used: `cloud_spend(group_by=service)`; `dora_metrics(days=90)`"
        in (payload["answer"])
    )
    # the turn is recorded against the last tool, so router follow-ups keep working
    assert payload["tool"] == "dora_metrics" and payload["data"]
    follow = assistant.ask("and for payments?", conversation_id=reply.conversation_id)
    assert follow.route.tool == "dora_metrics" and follow.route.arguments.get("team")


def test_forced_modes(demo: DemoRun) -> None:
    provider = ScriptedProvider([answer("From the model.")])
    assistant = Assistant(demo.store, llm_settings(demo, mode="llm"), llm_provider=provider)
    routed = assistant.ask("who is on call for payments?", mode="router")
    assert routed.route.tool == "on_call" and provider.requests == []
    forced = assistant.ask("who is on call for payments?", mode="llm")
    assert forced.answer.text.startswith("From the model.")

    unconfigured = Assistant(demo.store, demo.settings).ask("spend?", mode="llm")
    assert unconfigured.answer.text == LLM_NOT_CONFIGURED


def test_model_proposed_ticket_runs_only_after_confirmation(demo: DemoRun) -> None:
    ticket = {"team": "platform", "summary": "Investigate S3 spend", "priority": "High"}
    provider = ScriptedProvider(
        [
            tools(call("create_jira_ticket", ticket, id="t1")),
            answer("I prepared the ticket; it awaits your confirmation."),
        ]
    )
    assistant = Assistant(demo.store, llm_settings(demo), llm_provider=provider)
    jira = demo.sandbox.states["jira"] if demo.sandbox else None
    before = len(jira.created) if jira else 0
    reply = assistant.ask("Why is S3 spend up, and who is on call for platform?", mode="llm")

    pending = reply.payload()["llm"]["pending_actions"]
    assert [p["tool"] for p in pending] == ["create_jira_ticket"]
    assert (len(jira.created) if jira else 0) == before  # nothing written yet
    assert pending_actions(demo.store, reply.conversation_id) == pending

    result = confirm_action(
        store=demo.store,
        settings=demo.settings,
        conversation_id=reply.conversation_id,
        action_id=pending[0]["id"],
        user="tester",
    )
    assert result.status == "ok", result.summary
    if jira:
        assert len(jira.created) == before + 1
    again = confirm_action(
        store=demo.store,
        settings=demo.settings,
        conversation_id=reply.conversation_id,
        action_id=pending[0]["id"],
        user="tester",
    )
    assert again.status == "error" and "No pending action" in again.summary


def test_budget_is_kept_per_conversation(demo: DemoRun) -> None:
    provider = ScriptedProvider([answer("First.", tokens=880)])
    settings = llm_settings(demo, mode="llm", max_tokens_per_conversation=1000)
    assistant = Assistant(demo.store, settings, llm_provider=provider)
    first = assistant.ask("How are we doing?")
    second = assistant.ask("And now?", conversation_id=first.conversation_id)
    assert len(provider.requests) == 1
    assert second.payload()["llm"]["stop"] == "budget"
    assert "used its model budget (900 of 1,000 tokens)" in second.answer.text
    fresh = ScriptedProvider([answer("New conversation, new budget.")])
    other = Assistant(demo.store, settings, llm_provider=fresh).ask("How are we doing?")
    assert other.answer.text.startswith("New conversation")


def test_chat_api_takes_a_mode_and_streams_a_confirm_event(demo: DemoRun) -> None:
    web = create_app(demo.settings, store=demo.store, sync_on_start=False)
    user = CurrentUser(1, demo.username, "admin", "s", "t")
    web.dependency_overrides[current_user] = lambda: user
    web.dependency_overrides[optional_user] = lambda: user
    web.dependency_overrides[require_csrf] = lambda: None
    ticket = {"team": "platform", "summary": "Check the payments on-call load"}
    provider = ScriptedProvider([tools(call("create_jira_ticket", ticket)), answer("Proposed.")])
    web.state.assistant = Assistant(demo.store, llm_settings(demo), llm_provider=provider)
    client = TestClient(web)

    response = client.post("/api/chat", json={"question": "file that ticket", "mode": "llm"})
    events = []
    for block in response.text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        events.append((lines["event"], json.loads(lines["data"])))
    names = [name for name, _ in events]
    assert names[:2] == ["session", "tool"] and names[-2:] == ["confirm", "done"]
    assert events[1][1]["kind"] == "llm"
    confirm = events[-2][1]
    assert confirm["tool"] == "create_jira_ticket" and confirm["arguments"] == ticket

    done = client.post(
        "/api/chat/confirm",
        json={"session_id": confirm["session_id"], "action_id": confirm["id"]},
    )
    assert done.status_code == 200 and done.json()["status"] == "ok", done.text
    assert client.post("/api/chat", json={"question": "x", "mode": "bogus"}).status_code == 422


def test_cli_mode_option(demo: DemoRun) -> None:
    env = {
        "CTO_DATABASE_URL": demo.settings.effective_database_url,
        "CTO_CLOCK": demo.settings.now().isoformat(),
        "CTO_DATA_DIR": str(demo.settings.data_dir),
        "CTO_LOG_LEVEL": "ERROR",
    }
    result = CliRunner().invoke(cli_app, ["ask", "--json", "--mode", "llm", "spend?"], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["answer"] == LLM_NOT_CONFIGURED
    bad = CliRunner().invoke(cli_app, ["ask", "--mode", "gpt", "spend?"], env=env)
    assert bad.exit_code != 0
