"""Web search as a service: find the configured source, answer from cache or the provider.

Used by the `web_search` tool (and through it the assistant's "search the web for…") and by
threat intel for context on a CVE (`cve_context`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx

from cto_assistant.connectors.registry import build_connector
from cto_assistant.logging import get_logger
from cto_assistant.research.cache import CachedSearch, QueryCache
from cto_assistant.research.connector import WebSearchConnector
from cto_assistant.research.providers import SearchHit
from cto_assistant.settings import Settings

log = get_logger("research")

KIND = "web_search"
MAX_QUERY_CHARS = 400


@dataclass(frozen=True)
class SearchAnswer:
    """Hits for a query, which source gave them, when, and whether from the cache."""

    query: str
    source: str
    provider: str
    hits: list[SearchHit]
    fetched_at: datetime
    cached: bool


def web_search_source(settings: Settings) -> str | None:
    """The name of the first configured source of kind `web_search`, if any."""
    for name, section in settings.sources.items():
        if section.get("kind", name) == KIND:
            return name
    return None


def search_web(
    settings: Settings,
    *,
    query: str,
    limit: int = 5,
    now: datetime,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] | None = None,
) -> SearchAnswer | None:
    """Search the web through the configured provider; None when none is configured."""
    name = web_search_source(settings)
    if name is None:
        return None
    query = " ".join(query.split())[:MAX_QUERY_CHARS]
    connector = build_connector(name, settings.sources[name], transport=transport, sleep=sleep)
    assert isinstance(connector, WebSearchConnector)
    try:
        config = connector.search_config
        cache = QueryCache(
            settings.data_dir / "cache" / "web_search",
            ttl=timedelta(minutes=config.cache_ttl_minutes),
        )
        key = QueryCache.key(
            provider=config.provider, base_url=config.base_url, query=query, limit=limit
        )
        cached = cache.get(key, now=now)
        if cached is not None:
            log.info("web search cache hit", source=name, provider=config.provider)
            return SearchAnswer(query, name, config.provider, cached.hits, cached.fetched_at, True)
        hits = connector.search(query, limit=limit)
        cache.put(
            key, CachedSearch(query=query, provider=config.provider, fetched_at=now, hits=hits)
        )
        log.info("web search", source=name, provider=config.provider, hits=len(hits))
        return SearchAnswer(query, name, config.provider, hits, now, False)
    finally:
        connector.close()


def cve_query(cve_id: str, product: str | None = None) -> str:
    """The research query threat intel uses for context on a CVE."""
    subject = f"{cve_id} {product}" if product else cve_id
    return f"{subject} vulnerability exploit advisory patch"


def cve_context(
    settings: Settings, *, cve_id: str, product: str | None = None, now: datetime, limit: int = 5
) -> SearchAnswer | None:
    """Web context on a CVE (advisories, exploit write-ups); None without a provider."""
    return search_web(settings, query=cve_query(cve_id, product), limit=limit, now=now)
