"""Web search through each provider's fake (real response shapes), the cache and rate limits."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from cto_assistant.connectors.registry import build_connector, check_sources
from cto_assistant.demo.simulators.common import ServedApp, SimulatorState, serve
from cto_assistant.errors import AuthError, SchemaDriftError
from cto_assistant.research import WebSearchConnector, cve_context, search_web
from cto_assistant.settings import Settings
from tests.research.fakes import BRAVE_KEY, TAVILY_KEY, brave_app, searxng_app, tavily_app

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
PROVIDERS: dict[str, tuple[Callable[[], tuple[FastAPI, SimulatorState]], dict[str, Any], str]] = {
    "searxng": (searxng_app, {}, "/search"),
    "brave": (brave_app, {"api_key_env": "BRAVE_TEST_KEY"}, "/res/v1/web/search"),
    "tavily": (tavily_app, {"api_key_env": "TAVILY_TEST_KEY"}, "/search"),
}


@pytest.fixture(params=sorted(PROVIDERS))
def provider(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[tuple[Settings, SimulatorState, str]]:
    """Settings pointing at a served fake of one provider, its state and its search path."""
    factory, extra, path = PROVIDERS[request.param]
    monkeypatch.setenv("BRAVE_TEST_KEY", BRAVE_KEY)
    monkeypatch.setenv("TAVILY_TEST_KEY", TAVILY_KEY)
    app, state = factory()
    served: ServedApp = serve(app)
    section = {
        "kind": "web_search",
        "provider": request.param,
        "base_url": served.base_url,
        **extra,
    }
    settings = Settings(data_dir=tmp_path, sources={"research": section})
    try:
        yield settings, state, path
    finally:
        served.stop()


def test_each_provider_returns_titles_links_snippets_and_dates(
    provider: tuple[Settings, SimulatorState, str],
) -> None:
    settings, _, _ = provider
    answer = search_web(settings, query="CVE-2024-3094", limit=5, now=NOW)
    assert answer is not None and not answer.cached
    assert [hit.url for hit in answer.hits] == [
        "https://nvd.nist.gov/vuln/detail/CVE-2024-3094",
        "https://www.cisa.gov/news-events/alerts/2024/03/29/xz",
    ]
    first = answer.hits[0]
    assert first.title == "CVE-2024-3094 — NVD detail"
    assert "Malicious code was discovered" in first.snippet
    if answer.provider != "tavily":  # Tavily dates only news results
        assert first.published is not None and first.published.startswith("2024-03-29")


def test_repeat_query_is_answered_from_the_cache(
    provider: tuple[Settings, SimulatorState, str],
) -> None:
    settings, state, path = provider
    first = search_web(settings, query="xz backdoor", now=NOW)
    again = search_web(settings, query="  XZ   backdoor ", now=NOW + timedelta(minutes=5))
    assert first is not None and again is not None
    assert again.cached and again.hits == first.hits and again.fetched_at == NOW
    assert state.request_count(path) == 1
    stale = search_web(settings, query="xz backdoor", now=NOW + timedelta(hours=7))
    assert stale is not None and not stale.cached
    assert state.request_count(path) == 2


def test_a_429_is_retried_after_retry_after(
    provider: tuple[Settings, SimulatorState, str],
) -> None:
    settings, state, path = provider
    state.add_fault("rate_limit", times=1, retry_after=0)
    answer = search_web(settings, query="rate limited once", now=NOW)
    assert answer is not None and len(answer.hits) == 2
    assert [r.status for r in state.requests if r.path == path] == [429, 200]


def test_brave_with_a_wrong_key_is_an_auth_error(monkeypatch: pytest.MonkeyPatch) -> None:
    app, _ = brave_app()
    served = serve(app)
    try:
        connector = build_connector(
            "research",
            {
                "kind": "web_search",
                "provider": "brave",
                "base_url": served.base_url,
                "api_key": "nope",
            },
        )
        assert isinstance(connector, WebSearchConnector)
        with pytest.raises(AuthError):
            connector.search("anything")
        assert connector.check()[0].ok is False
    finally:
        served.stop()


def test_a_payload_without_results_is_schema_drift(
    provider: tuple[Settings, SimulatorState, str],
) -> None:
    settings, state, _ = provider
    state.add_fault("rename_field", times=1, field="results", new_field="items")
    with pytest.raises(SchemaDriftError, match="results"):
        search_web(settings, query="drift", now=NOW)


def test_cve_context_searches_for_the_cve(
    provider: tuple[Settings, SimulatorState, str],
) -> None:
    settings, _, _ = provider
    answer = cve_context(settings, cve_id="CVE-2024-3094", product="xz-utils", now=NOW)
    assert answer is not None and answer.hits
    assert answer.query.startswith("CVE-2024-3094 xz-utils")


def test_no_provider_configured_means_no_search(tmp_path: Path) -> None:
    assert search_web(Settings(data_dir=tmp_path), query="x", now=NOW) is None


def test_commercial_providers_need_a_key_and_searxng_a_url(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        sources={
            "b": {"kind": "web_search", "provider": "brave"},
            "s": {"kind": "web_search", "provider": "searxng"},
            "t": {"kind": "web_search", "provider": "tavily", "api_key": "k"},
        },
    )
    problems = check_sources(settings, environ={})
    assert "api_key" in str(problems["b"])
    assert "base_url is required" in str(problems["s"])
    assert "t" not in problems
