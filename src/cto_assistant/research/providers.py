"""Search providers: one small class per API, each turning its response into `SearchHit`s.

    SearxngProvider   GET  {base}/search?q=…&format=json        (self-hosted, no key)
    BraveProvider     GET  {base}/res/v1/web/search?q=…&count=…  (X-Subscription-Token)
    TavilyProvider    POST {base}/search {"query", "max_results"} (Authorization: Bearer)

A provider only builds the request and maps the payload; the retrying client from `http.py`
sends it (timeouts, 429/Retry-After, typed errors). A payload without the expected list is
schema drift, not an empty answer.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import BaseModel, Field

from cto_assistant.errors import SchemaDriftError
from cto_assistant.http import VendorClient

STREAM = "search"


class SearchHit(BaseModel):
    """One web result: what it is called, where it lives, what it says and when."""

    title: str = Field(description="Page title.")
    url: str = Field(description="Link to the page.")
    snippet: str = Field(default="", description="The provider's excerpt of the page.")
    published: str | None = Field(
        default=None, description="Publication date (ISO 8601) or the provider's age text."
    )
    engine: str | None = Field(default=None, description="Engine that found it (SearxNG).")


class SearchProvider:
    """The provider role: headers to authenticate with and one `search` call."""

    name: ClassVar[str]
    default_base_url: ClassVar[str | None] = None
    needs_api_key: ClassVar[bool] = True

    def __init__(self, *, safesearch: str = "moderate", language: str | None = None) -> None:
        self.safesearch = safesearch
        self.language = language

    def headers(self, api_key: str | None) -> dict[str, str]:
        """Headers that authenticate every request."""
        return {}

    def search(self, client: VendorClient, query: str, limit: int) -> list[SearchHit]:
        """Run one query and return at most `limit` hits."""
        raise NotImplementedError


def _results(payload: Any, client: VendorClient, *path: str) -> list[dict[str, Any]]:
    """The result list at `path` in a payload, or SchemaDriftError naming the missing field."""
    node = payload
    for key in path:
        if not isinstance(node, dict):
            node = None
            break
        node = node.get(key)
    if path[0] == "web" and isinstance(payload, dict) and "web" not in payload:
        return []  # Brave omits `web` when nothing matched
    if not isinstance(node, list):
        raise SchemaDriftError(
            client.source,
            f"search response has no list at {'.'.join(path)}",
            stream=STREAM,
            field=".".join(path),
        )
    return [item for item in node if isinstance(item, dict)]


def _text(value: Any) -> str:
    return " ".join(str(value).split()) if value else ""


def _hit(
    title: Any, url: Any, snippet: Any, published: Any, engine: Any = None
) -> SearchHit | None:
    if not url or not isinstance(url, str) or not url.startswith(("http://", "https://")):
        return None
    return SearchHit(
        title=_text(title) or url,
        url=url,
        snippet=_text(snippet)[:600],
        published=_date(published),
        engine=_text(engine) or None,
    )


def _date(value: Any) -> str | None:
    """An ISO date when the value parses as one, else the provider's own text (e.g. '2 days ago')."""
    if not value:
        return None
    text = str(value).strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.isoformat()


class SearxngProvider(SearchProvider):
    """A SearxNG instance's JSON API (the `json` format must be enabled in its settings.yml)."""

    name = "searxng"
    needs_api_key = False
    SAFESEARCH: ClassVar[dict[str, str]] = {"off": "0", "moderate": "1", "strict": "2"}

    def headers(self, api_key: str | None) -> dict[str, str]:
        """An optional bearer token for instances behind an authenticating proxy."""
        return {"Authorization": f"Bearer {api_key}"} if api_key else {}

    def search(self, client: VendorClient, query: str, limit: int) -> list[SearchHit]:
        """GET /search?format=json; SearxNG returns one page (~20 hits), cut to `limit`."""
        params = {"q": query, "format": "json", "safesearch": self.SAFESEARCH[self.safesearch]}
        if self.language:
            params["language"] = self.language
        payload = client.get_json("search", stream=STREAM, params=params)
        hits = [
            _hit(
                r.get("title"),
                r.get("url"),
                r.get("content"),
                r.get("publishedDate"),
                r.get("engine"),
            )
            for r in _results(payload, client, "results")
        ]
        return [hit for hit in hits if hit is not None][:limit]


class BraveProvider(SearchProvider):
    """The Brave Search API's web search."""

    name = "brave"
    default_base_url = "https://api.search.brave.com"
    MAX_COUNT = 20

    def headers(self, api_key: str | None) -> dict[str, str]:
        """Brave authenticates with the subscription token header."""
        return {"X-Subscription-Token": api_key or ""}

    def search(self, client: VendorClient, query: str, limit: int) -> list[SearchHit]:
        """GET /res/v1/web/search; `page_age` (ISO) is preferred over `age` ('2 days ago')."""
        params: dict[str, str | int] = {
            "q": query,
            "count": min(limit, self.MAX_COUNT),
            "safesearch": self.safesearch,
        }
        if self.language:
            params["search_lang"] = self.language
        payload = client.get_json("res/v1/web/search", stream=STREAM, params=params)
        hits = [
            _hit(
                r.get("title"),
                r.get("url"),
                r.get("description"),
                r.get("page_age") or r.get("age"),
            )
            for r in _results(payload, client, "web", "results")
        ]
        return [hit for hit in hits if hit is not None][:limit]


class TavilyProvider(SearchProvider):
    """Tavily's search API (POST /search with a bearer key)."""

    name = "tavily"
    default_base_url = "https://api.tavily.com"
    MAX_RESULTS = 20

    def headers(self, api_key: str | None) -> dict[str, str]:
        """Tavily takes the API key as a bearer token."""
        return {"Authorization": f"Bearer {api_key or ''}"}

    def search(self, client: VendorClient, query: str, limit: int) -> list[SearchHit]:
        """POST /search with basic depth; `published_date` is only present for news."""
        body = {
            "query": query,
            "max_results": min(limit, self.MAX_RESULTS),
            "search_depth": "basic",
            "topic": "general",
            "include_answer": False,
            "include_raw_content": False,
        }
        payload = client.post_json("search", stream=STREAM, json=body)
        hits = [
            _hit(r.get("title"), r.get("url"), r.get("content"), r.get("published_date"))
            for r in _results(payload, client, "results")
        ]
        return [hit for hit in hits if hit is not None][:limit]


PROVIDERS: dict[str, type[SearchProvider]] = {
    provider.name: provider for provider in (SearxngProvider, BraveProvider, TavilyProvider)
}
