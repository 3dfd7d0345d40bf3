"""Every intent routes to a registered tool with arguments that tool accepts."""

from __future__ import annotations

from cto_assistant.assistant.intents import INTENTS
from cto_assistant.tools.base import REGISTRY
from cto_assistant.tools.catalog import load_tools


def test_every_intent_tool_is_registered_and_takes_the_intent_slots() -> None:
    load_tools()
    for intent in INTENTS:
        if intent.tool is None:
            continue
        assert intent.tool in REGISTRY, f"{intent.name}: no tool {intent.tool}"
        accepted = set(REGISTRY[intent.tool].arguments.model_fields)
        extra = set(intent.slots) - accepted
        assert not extra, f"{intent.name}: {intent.tool} does not take {sorted(extra)}"
        assert set(intent.required) <= set(intent.slots), intent.name


def test_research_and_summary_tools_have_intents() -> None:
    load_tools()
    routed = {intent.tool for intent in INTENTS}
    for name in (
        "web_search",
        "summarize_document",
        "search_documents",
        "ask_document",
        "list_documents",
        "alerts",
        "timeline",
        "data_freshness",
    ):
        assert name in REGISTRY and name in routed, name
