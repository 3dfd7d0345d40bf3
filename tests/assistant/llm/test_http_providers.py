"""The real client path: the official SDKs against a local fake server on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from cto_assistant.assistant.llm.prompt import collect_secrets
from cto_assistant.assistant.service import Assistant
from cto_assistant.demo.run import DemoRun
from cto_assistant.demo.simulators.common import served
from cto_assistant.settings import Settings
from tests.assistant.llm.fake_llm_server import (
    Script,
    anthropic_answer,
    anthropic_tool_use,
    make_app,
    openai_answer,
    openai_tool_calls,
)

LLM_KEY = "sk-test-LLM-KEY-9f8e7d6c"


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    """A fake model server on a loopback port."""
    script = Script()
    with served(make_app(script)) as running:
        yield running.base_url, script


def settings_for(demo: DemoRun, server_url: str, **llm: Any) -> Settings:
    """Demo settings pointing LLM mode at the fake server."""
    section = {
        "mode": "llm",
        "provider": "openai_compatible",
        "base_url": f"{server_url}/v1",
        "model": "fake-gpt",
        "api_key": LLM_KEY,
        "max_retries": 0,
        "timeout_seconds": 5,
        **llm,
    }
    return demo.settings.model_copy(update={"llm": section})


def connector_token(demo: DemoRun) -> str:
    """One connector secret of the demo (the test pastes it into a question)."""
    secrets = collect_secrets(demo.settings)
    assert secrets, "the demo configures connector credentials"
    return secrets[0]


def test_openai_compatible_chat_completions_end_to_end(
    demo: DemoRun, server: tuple[str, Script]
) -> None:
    base_url, script = server
    script.replies = [
        openai_tool_calls(("call_1", "active_incidents", {})),
        openai_answer("Here is what is open [active_incidents]."),
    ]
    settings = settings_for(demo, base_url)
    token = connector_token(demo)
    reply = Assistant(demo.store, settings).ask(f"Any incidents? My token is {token}")

    first, second = script.requests()
    assert first["model"] == "fake-gpt" and first["tool_choice"] == "auto"
    assert first["messages"][0]["role"] == "system"
    names = {t["function"]["name"] for t in first["tools"]}
    assert {"active_incidents", "cloud_spend", "create_jira_ticket"} <= names
    assert all(t["type"] == "function" for t in first["tools"])
    assistant_turn = next(m for m in second["messages"] if m["role"] == "assistant")
    assert assistant_turn["tool_calls"][0]["id"] == "call_1"
    assert assistant_turn["tool_calls"][0]["function"]["name"] == "active_incidents"
    tool_turn = next(m for m in second["messages"] if m["role"] == "tool")
    assert tool_turn["tool_call_id"] == "call_1" and "<<DATA " in tool_turn["content"]

    payload = reply.payload()
    assert payload["kind"] == "llm" and payload["llm"]["stop"] == "answered"
    assert payload["llm"]["tool_calls"][0]["status"] in ("ok", "no_data")
    assert payload["llm"]["model_calls"][0]["input_tokens"] == 1200
    assert reply.answer.text.startswith("Here is what is open")

    # no secret of the installation ever left in a request body
    everything = collect_secrets(settings, extra=[LLM_KEY])
    assert token in everything and LLM_KEY in everything
    for body in script.bodies:
        for secret in everything:
            assert secret not in body
    assert "[redacted]" in script.bodies[0]


@pytest.mark.parametrize(
    ("status", "said"),
    [(429, "rate limiting us"), (503, "unavailable"), (401, "refused our credentials")],
)
def test_http_errors_from_the_endpoint_become_clear_answers(
    demo: DemoRun, server: tuple[str, Script], status: int, said: str
) -> None:
    base_url, script = server
    script.replies = [status]
    reply = Assistant(demo.store, settings_for(demo, base_url)).ask("How is spend?")
    assert said in reply.answer.text
    assert reply.payload()["llm"]["stop"] == "provider_error"


def test_unreachable_endpoint_is_a_clear_answer(demo: DemoRun) -> None:
    settings = settings_for(demo, "http://127.0.0.1:9", timeout_seconds=2)
    reply = Assistant(demo.store, settings).ask("How is spend?")
    assert "unavailable" in reply.answer.text or "did not answer in time" in reply.answer.text


def test_anthropic_messages_api_end_to_end(demo: DemoRun, server: tuple[str, Script]) -> None:
    base_url, script = server
    script.replies = [
        anthropic_tool_use("toolu_1", "on_call", {"team": "payments"}),
        anthropic_answer("See the on-call list [on_call]."),
    ]
    settings = settings_for(demo, base_url, provider="anthropic", base_url=base_url)
    reply = Assistant(demo.store, settings).ask("Who is on call for payments?")

    first, second = script.requests()
    assert isinstance(first["system"], str) and first["tool_choice"] == {"type": "auto"}
    assert any(t["name"] == "on_call" and "input_schema" in t for t in first["tools"])
    uses = next(m for m in second["messages"] if m["role"] == "assistant")["content"]
    assert {"type": "tool_use", "id": "toolu_1", "name": "on_call"}.items() <= uses[-1].items()
    result_block = second["messages"][-1]["content"][0]
    assert result_block["type"] == "tool_result" and result_block["tool_use_id"] == "toolu_1"
    assert "<<DATA " in result_block["content"]
    assert reply.answer.text.startswith("See the on-call list")
    assert all(LLM_KEY not in body for body in script.bodies)
    assert json.loads(script.bodies[0])["max_tokens"] == 1024
