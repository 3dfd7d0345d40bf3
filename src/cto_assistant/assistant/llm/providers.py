"""Model providers behind one call: `complete(system, messages, tools, max_tokens)`.

The agent speaks a small neutral vocabulary (`Message`, `ToolCall`, `ToolDef`, `Completion`);
each provider maps it onto its wire protocol with the vendor's official SDK:

- `OpenAIChatProvider`: chat completions with `tools` / `tool_choice`, assistant `tool_calls` and
  `role: tool` messages — OpenAI, Azure OpenAI and local servers (Ollama, vLLM, llama.cpp).
- `AnthropicProvider`: the messages API with `tool_use` / `tool_result` content blocks.

SDK errors become `ModelError` with a kind the answer can explain (rate limited, unavailable,
timeout, auth, rejected); the SDK's own retries (bounded by `max_retries`) run first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from cto_assistant.assistant.llm.config import LLMConfig
from cto_assistant.errors import ConfigError, CTOError

ErrorKind = Literal["rate_limited", "unavailable", "timeout", "auth", "rejected", "malformed"]
LOCAL_KEY = "not-needed"  # local OpenAI-compatible servers ignore the key but the SDK wants one


class ModelError(CTOError):
    """A model call failed after the SDK's retries."""

    def __init__(self, kind: ErrorKind, message: str, *, status: int | None = None) -> None:
        self.kind = kind
        self.status = status
        super().__init__(message)


@dataclass(frozen=True)
class ToolDef:
    """A tool as the model sees it: name, one-line description and JSON schema."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class ToolCall:
    """One tool call the model asked for; `arguments` is None when its JSON did not parse."""

    id: str
    name: str
    arguments: dict[str, Any] | None
    raw_arguments: str


@dataclass
class Message:
    """One message of the model conversation (user, assistant or tool result)."""

    role: Literal["user", "assistant", "tool"]
    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_call_id: str | None = None
    tool_name: str | None = None
    is_error: bool = False


@dataclass(frozen=True)
class Usage:
    """Tokens one call consumed."""

    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def total(self) -> int:
        """Input plus output tokens."""
        return self.input_tokens + self.output_tokens


@dataclass(frozen=True)
class Completion:
    """What the model answered: text, tool calls, or both."""

    text: str
    tool_calls: list[ToolCall]
    usage: Usage
    model: str
    stop_reason: str | None = None


class Provider(Protocol):
    """A model endpoint."""

    name: str
    model: str

    def complete(
        self, *, system: str, messages: list[Message], tools: list[ToolDef], max_tokens: int
    ) -> Completion:
        """Send one request and return the model's reply (raises `ModelError`)."""
        ...


def parse_arguments(raw: str | dict[str, Any] | None) -> dict[str, Any] | None:
    """Tool-call arguments as a dict (None when they are not a JSON object)."""
    if isinstance(raw, dict):
        return raw
    if raw is None or not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def _status_kind(status: int) -> ErrorKind:
    if status == 429:
        return "rate_limited"
    if status in (401, 403):
        return "auth"
    if status >= 500:
        return "unavailable"
    return "rejected"


class OpenAIChatProvider:
    """Chat completions with tool calling (OpenAI and every OpenAI-compatible server)."""

    def __init__(self, config: LLMConfig) -> None:
        try:
            import openai
        except ImportError:  # pragma: no cover - exercised only without the extra
            raise ConfigError("llm.provider", "needs `pip install 'cto-assistant[llm]'`") from None
        self._openai = openai
        self.name: str = config.provider
        self.model = config.model or ""
        self.temperature = config.temperature
        key = config.resolved_api_key()
        if key is None and config.provider == "openai":
            raise ConfigError("llm.api_key", "is required for provider openai (or api_key_env)")
        self._client = openai.OpenAI(
            api_key=key or LOCAL_KEY,
            base_url=config.base_url or None,
            timeout=config.timeout_seconds,
            max_retries=config.max_retries,
        )

    def complete(
        self, *, system: str, messages: list[Message], tools: list[ToolDef], max_tokens: int
    ) -> Completion:
        """One chat-completions request."""
        openai = self._openai
        request: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": "system", "content": system}, *map(_openai_message, messages)],
            "temperature": self.temperature,
        }
        # OpenAI's own API wants max_completion_tokens; compatible servers know max_tokens.
        if self.name == "openai":
            request["max_completion_tokens"] = max_tokens
        else:
            request["max_tokens"] = max_tokens
        if tools:
            request["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": t.name,
                        "description": t.description,
                        "parameters": t.parameters,
                    },
                }
                for t in tools
            ]
            request["tool_choice"] = "auto"
        try:
            response = self._client.chat.completions.create(**request)
        except openai.APITimeoutError as exc:
            raise ModelError("timeout", "the model did not answer in time") from exc
        except openai.APIConnectionError as exc:
            raise ModelError("unavailable", "could not reach the model endpoint") from exc
        except openai.APIStatusError as exc:
            kind = _status_kind(exc.status_code)
            raise ModelError(kind, f"HTTP {exc.status_code}", status=exc.status_code) from exc
        except openai.APIError as exc:
            raise ModelError("malformed", "the model endpoint sent an unreadable reply") from exc
        if not response.choices:
            raise ModelError("malformed", "the model endpoint sent no choices")
        choice = response.choices[0]
        calls = [
            ToolCall(
                id=call.id,
                name=call.function.name,
                arguments=parse_arguments(call.function.arguments),
                raw_arguments=call.function.arguments or "",
            )
            for call in (choice.message.tool_calls or [])
            if getattr(call, "function", None) is not None
        ]
        usage = response.usage
        return Completion(
            text=choice.message.content or "",
            tool_calls=calls,
            usage=Usage(
                input_tokens=usage.prompt_tokens if usage else 0,
                output_tokens=usage.completion_tokens if usage else 0,
            ),
            model=response.model or self.model,
            stop_reason=choice.finish_reason,
        )


def _openai_message(message: Message) -> dict[str, Any]:
    if message.role == "tool":
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.text}
    if message.role == "assistant":
        out: dict[str, Any] = {"role": "assistant", "content": message.text or None}
        if message.tool_calls:
            out["tool_calls"] = [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.raw_arguments or "{}"},
                }
                for call in message.tool_calls
            ]
        return out
    return {"role": "user", "content": message.text}


class AnthropicProvider:
    """Anthropic's messages API with tool use."""

    def __init__(self, config: LLMConfig) -> None:
        try:
            import anthropic
        except ImportError:  # pragma: no cover - exercised only without the extra
            raise ConfigError("llm.provider", "needs `pip install 'cto-assistant[llm]'`") from None
        self._anthropic = anthropic
        self.name: str = "anthropic"
        self.model = config.model or ""
        key = config.resolved_api_key()
        if key is None:
            raise ConfigError("llm.api_key", "is required for provider anthropic (or api_key_env)")
        self._client = anthropic.Anthropic(
            api_key=key,
            base_url=config.base_url or None,
            timeout=config.timeout_seconds,
            max_retries=config.max_retries,
        )

    def complete(
        self, *, system: str, messages: list[Message], tools: list[ToolDef], max_tokens: int
    ) -> Completion:
        """One messages request."""
        anthropic = self._anthropic
        request: dict[str, Any] = {
            "model": self.model,
            "system": system,
            "messages": _anthropic_messages(messages),
            "max_tokens": max_tokens,
        }
        if tools:
            request["tools"] = [
                {"name": t.name, "description": t.description, "input_schema": t.parameters}
                for t in tools
            ]
            request["tool_choice"] = {"type": "auto"}
        try:
            response = self._client.messages.create(**request)
        except anthropic.APITimeoutError as exc:
            raise ModelError("timeout", "the model did not answer in time") from exc
        except anthropic.APIConnectionError as exc:
            raise ModelError("unavailable", "could not reach the model endpoint") from exc
        except anthropic.APIStatusError as exc:
            status = exc.status_code
            kind: ErrorKind = "unavailable" if status == 529 else _status_kind(status)
            raise ModelError(kind, f"HTTP {status}", status=status) from exc
        except anthropic.APIError as exc:
            raise ModelError("malformed", "the model endpoint sent an unreadable reply") from exc
        texts: list[str] = []
        calls: list[ToolCall] = []
        for block in response.content:
            if block.type == "text":
                texts.append(block.text)
            elif block.type == "tool_use":
                arguments = block.input if isinstance(block.input, dict) else None
                calls.append(
                    ToolCall(
                        id=block.id,
                        name=block.name,
                        arguments=arguments,
                        raw_arguments=json.dumps(block.input),
                    )
                )
        return Completion(
            text="\n".join(texts),
            tool_calls=calls,
            usage=Usage(
                input_tokens=response.usage.input_tokens,
                output_tokens=response.usage.output_tokens,
            ),
            model=response.model or self.model,
            stop_reason=response.stop_reason,
        )


def _anthropic_messages(messages: list[Message]) -> list[dict[str, Any]]:
    """Neutral messages as Anthropic turns (tool results ride in the next user turn)."""
    out: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "tool":
            block = {
                "type": "tool_result",
                "tool_use_id": message.tool_call_id,
                "content": message.text,
                "is_error": message.is_error,
            }
            if out and out[-1]["role"] == "user" and isinstance(out[-1]["content"], list):
                out[-1]["content"].append(block)
            else:
                out.append({"role": "user", "content": [block]})
        elif message.role == "assistant":
            content: list[dict[str, Any]] = []
            if message.text:
                content.append({"type": "text", "text": message.text})
            for call in message.tool_calls:
                content.append(
                    {
                        "type": "tool_use",
                        "id": call.id,
                        "name": call.name,
                        "input": call.arguments or {},
                    }
                )
            out.append({"role": "assistant", "content": content or message.text})
        else:
            out.append({"role": "user", "content": message.text})
    return out


def make_provider(config: LLMConfig) -> Provider:
    """The provider `[llm]` configures (raises `ConfigError` when it cannot be built)."""
    if not config.model:
        raise ConfigError("llm.model", "is not set: LLM mode is off")
    if config.provider == "anthropic":
        return AnthropicProvider(config)
    return OpenAIChatProvider(config)
