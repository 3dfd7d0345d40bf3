"""The WEB_SEARCH source: `[sources.web_search] kind = "web_search"` with a provider behind it.

    [sources.web_search]
    kind = "web_search"
    provider = "brave"            # searxng | brave | tavily
    api_key_env = "BRAVE_API_KEY" # not needed for a SearxNG instance
    # base_url = "https://search.internal.example"   (required for searxng)

It has no sync streams: searches run on demand, through the same retrying client as every
connector, and `check()` runs one tiny query.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, model_validator

from cto_assistant.connectors.base import CheckResult, Connector, ConnectorConfig, ConnectorContext
from cto_assistant.errors import ConnectorError
from cto_assistant.http import VendorClient, build_client
from cto_assistant.research.providers import PROVIDERS, SearchHit, SearchProvider

ProviderName = Literal["searxng", "brave", "tavily"]


class WebSearchConfig(ConnectorConfig):
    """Settings of the web search source."""

    provider: ProviderName = Field(description="Search API: searxng, brave or tavily.")
    base_url: str = Field(
        default="",
        description="API root; defaults to the public endpoint of brave and tavily, "
        "required for a SearxNG instance.",
    )
    api_key: SecretStr | None = Field(
        default=None, description="API key (brave, tavily); give it as api_key_env = 'VAR'."
    )
    timeout_seconds: float = Field(default=15.0, gt=0, description="Per-request timeout.")
    max_attempts: int = Field(
        default=3, ge=1, le=10, description="Attempts per search on 429/5xx/connection errors."
    )
    cache_ttl_minutes: int = Field(
        default=360, ge=0, description="How long an answer is reused for the same query (0: never)."
    )
    safesearch: Literal["off", "moderate", "strict"] = Field(
        default="moderate", description="Safe-search level passed to the provider."
    )
    language: str | None = Field(default=None, description="Result language, e.g. 'en'.")

    @model_validator(mode="after")
    def _provider_needs(self) -> WebSearchConfig:
        provider = PROVIDERS[self.provider]
        if not self.base_url:
            if provider.default_base_url is None:
                raise ValueError(f"base_url is required for provider {self.provider}")
            self.base_url = provider.default_base_url
        if provider.needs_api_key and (self.api_key is None or not self.api_key.get_secret_value()):
            raise ValueError(f"api_key (or api_key_env) is required for provider {self.provider}")
        return self


class WebSearchConnector(Connector):
    """Ad-hoc web research through the configured search provider."""

    kind = "web_search"
    config_model = WebSearchConfig
    streams = ()
    category = "generic"

    def __init__(self, context: ConnectorContext) -> None:
        super().__init__(context)
        config = context.config
        assert isinstance(config, WebSearchConfig)
        self.search_config = config
        self.provider: SearchProvider = PROVIDERS[config.provider](
            safesearch=config.safesearch, language=config.language
        )
        key = config.api_key.get_secret_value() if config.api_key else None
        self.client: VendorClient = build_client(
            context, headers=self.provider.headers(key), secrets=(key,)
        )

    def search(self, query: str, *, limit: int = 5) -> list[SearchHit]:
        """Run one search; raises a ConnectorError (auth, rate limit, upstream, drift)."""
        return self.provider.search(self.client, query, limit)

    def check(self) -> list[CheckResult]:
        """One tiny query proves the endpoint and the key (read-only)."""
        try:
            hits = self.search("cto assistant connectivity check", limit=1)
        except ConnectorError as exc:
            return [CheckResult("search", False, str(exc))]
        return [CheckResult("search", True, f"{self.provider.name}: {len(hits)} result(s)")]

    def close(self) -> None:
        """Close the HTTP client."""
        self.client.close()
