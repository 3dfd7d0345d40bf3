"""The research tools: web_search (configured or not, cached, rate-limited) and document tools."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from tests.documents import samples
from tests.research.fakes import searxng_app

from cto_assistant.demo.simulators.common import ServedApp, SimulatorState, serve
from cto_assistant.documents import add_document
from cto_assistant.settings import Settings
from cto_assistant.store import Store
from cto_assistant.tools.base import REGISTRY, ToolContext, ToolStatus, call_tool
from cto_assistant.tools.catalog import load_tools

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def searxng() -> Iterator[tuple[ServedApp, SimulatorState]]:
    app, state = searxng_app()
    served = serve(app)
    yield served, state
    served.stop()


def context(store: Store, settings: Settings) -> Iterator[ToolContext]:
    load_tools()
    with store.session() as session:
        yield ToolContext(session=session, settings=settings, now=NOW)


def test_research_tools_are_registered_with_their_arguments() -> None:
    load_tools()
    for name, arguments in {
        "web_search": {"query", "limit"},
        "summarize_document": {"document"},
        "search_documents": {"query", "limit"},
        "ask_document": {"document", "question"},
        "list_documents": {"limit"},
    }.items():
        spec = REGISTRY[name]
        assert spec.domain == "research" and not spec.writes
        assert set(spec.json_schema()["properties"]) == arguments


def test_web_search_without_a_provider_says_so_plainly(sqlite_store: Store, tmp_path: Path) -> None:
    for ctx in context(sqlite_store, Settings(data_dir=tmp_path)):
        result = call_tool("web_search", ctx, {"query": "CVE-2024-3094"})
    assert result.status == ToolStatus.NOT_CONFIGURED
    assert result.summary.startswith("Web search is not configured")
    assert "[sources.web_search]" in result.summary


def test_web_search_answers_then_serves_the_cache(
    sqlite_store: Store, tmp_path: Path, searxng: tuple[ServedApp, SimulatorState]
) -> None:
    served, state = searxng
    section = {"kind": "web_search", "provider": "searxng", "base_url": served.base_url}
    settings = Settings(data_dir=tmp_path, sources={"searx": section})
    for ctx in context(sqlite_store, settings):
        first = call_tool("web_search", ctx, {"query": "xz backdoor", "limit": 1})
        again = call_tool("web_search", ctx, {"query": "xz backdoor", "limit": 1})
    assert first.status == ToolStatus.OK and first.data["cached"] is False
    assert len(first.data["results"]) == 1
    assert first.data["results"][0]["url"] == "https://nvd.nist.gov/vuln/detail/CVE-2024-3094"
    assert first.summary.startswith("1 web result for “xz backdoor” (searxng)")
    assert first.sources[0].source == "searx" and first.as_of == NOW
    assert again.data["cached"] is True and state.request_count("/search") == 1


def test_web_search_that_stays_rate_limited_is_a_plain_error(
    sqlite_store: Store, tmp_path: Path, searxng: tuple[ServedApp, SimulatorState]
) -> None:
    served, state = searxng
    state.add_fault("rate_limit", times=None, retry_after=0)
    section = {
        "kind": "web_search",
        "provider": "searxng",
        "base_url": served.base_url,
        "max_attempts": 2,
    }
    settings = Settings(data_dir=tmp_path, sources={"searx": section})
    for ctx in context(sqlite_store, settings):
        result = call_tool("web_search", ctx, {"query": "anything"})
    assert result.status == ToolStatus.ERROR
    assert result.summary.startswith("The search provider is rate-limiting us.")
    assert state.request_count("/search") == 2


def test_document_tools_list_summarize_search_and_answer(
    sqlite_store: Store, tmp_path: Path
) -> None:
    add_document(sqlite_store, samples.security_report_pdf(), name="security-report.pdf", now=NOW)
    add_document(sqlite_store, samples.architecture_drawio(), name="architecture.drawio", now=NOW)
    for ctx in context(sqlite_store, Settings(data_dir=tmp_path)):
        listed = call_tool("list_documents", ctx, {})
        summary = call_tool("summarize_document", ctx, {"document": "security report"})
        diagram = call_tool("summarize_document", ctx, {"document": "architecture"})
        found = call_tool("search_documents", ctx, {"query": "quantum-safe key rotation"})
        answer = call_tool(
            "ask_document",
            ctx,
            {"document": "the security report", "question": "what does it say about backups?"},
        )
        nothing = call_tool(
            "ask_document", ctx, {"document": "security report", "question": "kubernetes"}
        )
        missing = call_tool("summarize_document", ctx, {"document": "board minutes"})
    assert [d["kind"] for d in listed.data] == ["drawio", "pdf"]
    assert summary.status == ToolStatus.OK and summary.data["pages"] == 4
    assert samples.KEY_FACT_RISK in summary.data["summary"]
    assert summary.summary == f"Acme Security Report Q2, 4 pages: {samples.KEY_FACT_RISK}"
    assert summary.data["outline"][:2] == ["1. Executive Summary", "2. Findings"]
    assert "5 components, 3 connections" in diagram.data["summary"]
    assert found.status == ToolStatus.OK and found.data[0]["page"] == 2
    assert found.summary.endswith("best in Acme Security Report Q2 (p. 2).")
    assert answer.status == ToolStatus.OK
    assert answer.data["passages"][0]["page"] == 2
    assert answer.data["passages"][0]["quote"].startswith(
        "The audit confirmed that nightly backups"
    )
    assert answer.summary.startswith("Acme Security Report Q2 (pages 2): “The audit confirmed")
    assert answer.summary.endswith("(p. 2)")
    assert nothing.status == ToolStatus.NO_DATA and "says nothing about" in nothing.summary
    assert missing.status == ToolStatus.NO_DATA
