"""WEB_SEARCH: research on demand through a configurable search API.

settings [sources.web_search] ─ WebSearchConnector (http.py client: retries, 429, typed errors)
                                 └─ provider: SearxNG JSON | Brave Search | Tavily
service.search_web ─ QueryCache (data dir, TTL) ─ SearchAnswer → the `web_search` tool
"""

from __future__ import annotations

from cto_assistant.research.connector import WebSearchConfig, WebSearchConnector
from cto_assistant.research.providers import PROVIDERS, SearchHit, SearchProvider
from cto_assistant.research.service import SearchAnswer, cve_context, search_web, web_search_source

__all__ = [
    "PROVIDERS",
    "SearchAnswer",
    "SearchHit",
    "SearchProvider",
    "WebSearchConfig",
    "WebSearchConnector",
    "cve_context",
    "search_web",
    "web_search_source",
]
