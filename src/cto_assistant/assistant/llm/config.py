"""`[llm]` settings: which model answers open-ended questions, and how much it may spend."""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from cto_assistant.errors import ConfigError

Provider = Literal["openai", "anthropic", "openai_compatible"]
Mode = Literal["router", "auto", "llm"]


class LLMConfig(BaseModel):
    """The model endpoint, the routing mode and the per-conversation budget."""

    model_config = ConfigDict(extra="forbid")

    mode: Mode = Field(
        default="router",
        description="router = no model (default); auto = the router answers what it is sure "
        "of and the model takes the rest; llm = the model answers every question.",
    )
    provider: Provider = Field(
        default="openai_compatible",
        description="openai, anthropic, or openai_compatible (Azure OpenAI, Ollama, vLLM, "
        "llama.cpp server, … via `base_url`).",
    )
    base_url: str | None = Field(
        default=None,
        description="API base URL, e.g. http://localhost:11434/v1 for Ollama; "
        "default: the provider's public endpoint.",
    )
    model: str | None = Field(
        default=None, description="Model name, e.g. gpt-4o-mini or claude-sonnet-4-5."
    )
    api_key: SecretStr | None = Field(default=None, description="API key (prefer api_key_env).")
    api_key_env: str | None = Field(
        default=None, description="Name of the environment variable that holds the API key."
    )
    timeout_seconds: float = Field(default=60.0, gt=0, description="Timeout of one model call.")
    max_retries: int = Field(
        default=1, ge=0, le=5, description="Retries of a model call on 429, 5xx and timeouts."
    )
    max_steps: int = Field(
        default=6, ge=1, le=20, description="Most model calls per question (tool rounds)."
    )
    max_output_tokens: int = Field(
        default=1024, ge=16, description="Most tokens the model may write per call."
    )
    max_tokens_per_conversation: int = Field(
        default=60_000, ge=1, description="Token budget of one conversation (input + output)."
    )
    max_cost_per_conversation: float = Field(
        default=0.50, ge=0, description="Cost budget of one conversation, in USD (0 = no limit)."
    )
    input_price_per_million: float = Field(
        default=0.0, ge=0, description="USD per million input tokens (for the cost budget)."
    )
    output_price_per_million: float = Field(
        default=0.0, ge=0, description="USD per million output tokens (for the cost budget)."
    )
    tool_result_chars: int = Field(
        default=6_000, ge=500, description="Largest tool result sent to the model, in characters."
    )
    temperature: float = Field(
        default=0.0, ge=0, le=2, description="Sampling temperature (OpenAI-compatible only)."
    )
    log_content: bool = Field(
        default=False,
        description="Also log prompts and answers of model calls (off: model, tokens, latency).",
    )

    @model_validator(mode="after")
    def _model_named_when_on(self) -> LLMConfig:
        if self.mode != "router" and not self.model:
            raise ValueError(f"mode {self.mode!r} needs a model (llm.model)")
        return self

    @property
    def enabled(self) -> bool:
        """Whether the model may answer at all (a model is configured)."""
        return bool(self.model)

    def resolved_api_key(self) -> str | None:
        """The API key: `api_key`, else the variable `api_key_env` names."""
        if self.api_key is not None:
            return self.api_key.get_secret_value()
        if self.api_key_env:
            return os.environ.get(self.api_key_env) or None
        return None


def parse_llm_config(raw: dict[str, Any]) -> LLMConfig:
    """Validate the `[llm]` section, naming the first bad key like `llm.mode`."""
    try:
        return LLMConfig.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(["llm", *(str(p) for p in first["loc"])])
        raise ConfigError(name, first["msg"].removeprefix("Value error, ")) from None
