"""The GENERIC source: deployments and incidents pushed by tools that have no connector.

Nothing is pulled (it has no streams); data arrives through `POST /api/ingest/deployments|incidents`
(authenticated by this source's `ingest_token`) and `cto import deployments|incidents FILE`.
Configure one section per sending tool to keep their provenance apart:

    [sources.generic]              # rows get source = "generic"
    kind = "generic"
    ingest_token_env = "CTO_INGEST_TOKEN"
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any

from pydantic import Field, SecretStr, field_validator

from cto_assistant.connectors.base import CheckResult, Connector, ConnectorConfig
from cto_assistant.connectors.registry import connector_config
from cto_assistant.errors import ConfigError

MIN_TOKEN_LENGTH = 16


class GenericConfig(ConnectorConfig):
    """Settings of a GENERIC source."""

    kind: str = Field(default="generic", description="Connector kind: 'generic'.")
    base_url: str = Field(default="", description="Unused: the GENERIC source is pushed to.")
    ingest_token: SecretStr | None = Field(
        default=None,
        description="Bearer token the webhook callers send (or `ingest_token_env`); "
        "at least 16 characters. Without it the webhooks of this source are off.",
    )

    @field_validator("ingest_token")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_TOKEN_LENGTH:
            raise ValueError(f"must be at least {MIN_TOKEN_LENGTH} characters")
        return value


class GenericConnector(Connector):
    """Push-only source for deployments and incidents from files and webhooks."""

    kind = "generic"
    config_model = GenericConfig
    streams = ()
    category = "generic"

    def check(self) -> list[CheckResult]:
        """Report whether the webhooks are enabled; files can always be imported."""
        config = self.config
        assert isinstance(config, GenericConfig)
        token = config.ingest_token is not None
        return [
            CheckResult(
                "receive webhooks",
                ok=token,
                detail="POST /api/ingest/deployments|incidents with the bearer token"
                if token
                else f"set sources.{self.name}.ingest_token (or ingest_token_env) to enable",
            ),
            CheckResult("import files", ok=True, detail="cto import deployments|incidents FILE"),
        ]


def ingest_tokens(
    sources: Mapping[str, Mapping[str, Any]], *, environ: Mapping[str, str] | None = None
) -> dict[str, SecretStr]:
    """The ingest token of every GENERIC source that has one, by source name."""
    tokens: dict[str, SecretStr] = {}
    for name, section in sources.items():
        if section.get("kind", name) != "generic":
            continue
        try:
            _, config = connector_config(name, section, environ=environ)
        except ConfigError:
            continue  # a broken section authenticates nobody; `cto config check` reports it
        assert isinstance(config, GenericConfig)
        if config.ingest_token is not None:
            tokens[name] = config.ingest_token
    return tokens


def source_for_token(presented: str, tokens: Mapping[str, SecretStr]) -> str | None:
    """The source whose token equals `presented` (constant-time, every token compared)."""
    found: str | None = None
    given = presented.encode()
    for name, token in tokens.items():
        if hmac.compare_digest(given, token.get_secret_value().encode()) and found is None:
            found = name
    return found
