"""Research questions end to end: the router picks the document or the query, the tool answers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cto_assistant.assistant.service import Assistant
from cto_assistant.documents import add_document
from cto_assistant.settings import Settings
from cto_assistant.store import Store
from cto_assistant.tools.base import ToolStatus
from tests.documents import samples

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def assistant(sqlite_store: Store, tmp_path: Path) -> Iterator[Assistant]:
    """An assistant over a library of two documents and no web search provider."""
    add_document(sqlite_store, samples.security_report_pdf(), name="security-report.pdf", now=NOW)
    add_document(sqlite_store, samples.architecture_drawio(), name="architecture.drawio", now=NOW)
    yield Assistant(sqlite_store, Settings(data_dir=tmp_path))


def test_summarize_resolves_a_loose_title_to_the_stored_document(assistant: Assistant) -> None:
    reply = assistant.ask("Summarize the security report")
    assert reply.route.tool == "summarize_document"
    assert reply.route.arguments == {"document": "Acme Security Report Q2"}
    assert reply.result is not None and reply.result.status is ToolStatus.OK
    assert samples.KEY_FACT_RISK in reply.answer.text


def test_ask_document_quotes_the_passage_and_follow_ups_keep_the_document(
    assistant: Assistant,
) -> None:
    first = assistant.ask("What does the security report say about backups?")
    assert first.route.arguments == {"document": "Acme Security Report Q2", "question": "backups"}
    assert first.result is not None and first.result.status is ToolStatus.OK
    assert "(p. 2)" in first.answer.text
    second = assistant.ask("and about kubernetes?", conversation_id=first.conversation_id)
    assert second.route.tool == "ask_document"
    assert second.route.arguments["question"] == "kubernetes"
    assert second.route.arguments["document"] == "Acme Security Report Q2"


def test_no_matching_document_asks_back_with_the_candidates(assistant: Assistant) -> None:
    reply = assistant.ask("summarize the board minutes")
    assert reply.route.kind == "clarify"
    assert "Acme Security Report Q2" in reply.route.candidates
    assert len(reply.route.candidates) == 2
    assert "board minutes" in reply.answer.text
    picked = assistant.ask("the security report", conversation_id=reply.conversation_id)
    assert picked.route.tool == "summarize_document"
    assert picked.route.arguments == {"document": "Acme Security Report Q2"}


def test_search_documents_and_list_documents(assistant: Assistant) -> None:
    found = assistant.ask("Which document mentions quantum-safe key rotation?")
    assert found.route.tool == "search_documents"
    assert found.route.arguments == {"query": "quantum-safe key rotation"}
    assert found.result is not None and found.result.status is ToolStatus.OK
    assert found.answer.table and found.answer.table[0]["page"] == 2
    listed = assistant.ask("what documents do we have?")
    assert listed.route.tool == "list_documents"
    assert listed.answer.table is not None and len(listed.answer.table) == 2


def test_web_search_without_a_provider_answers_with_the_tools_words(
    assistant: Assistant,
) -> None:
    reply = assistant.ask("search the web for CVE-2024-3094")
    assert reply.route.tool == "web_search"
    assert reply.route.arguments == {"query": "CVE-2024-3094"}
    assert reply.result is not None and reply.result.status is ToolStatus.NOT_CONFIGURED
    assert reply.answer.text == reply.result.summary
    assert reply.answer.text.startswith("Web search is not configured")
    again = assistant.ask("and in our documents?", conversation_id=reply.conversation_id)
    assert again.route.tool == "search_documents"
    assert again.route.arguments == {"query": "CVE-2024-3094"}
