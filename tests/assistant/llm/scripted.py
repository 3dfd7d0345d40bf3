"""A scripted model: returns predefined tool calls and answers, and records every request."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cto_assistant.assistant.llm.providers import (
    Completion,
    Message,
    ModelError,
    ToolCall,
    ToolDef,
    Usage,
)

Step = Completion | ModelError | Callable[[list[Message]], Completion]


def call(name: str, arguments: dict[str, Any] | None = None, *, id: str = "") -> ToolCall:
    """A tool call the script makes."""
    import json

    raw = json.dumps(arguments or {})
    return ToolCall(id or f"call_{name}", name, arguments or {}, raw)


def tools(*calls: ToolCall, tokens: int = 100) -> Completion:
    """A step that calls tools."""
    return Completion("", list(calls), Usage(tokens, 10), "scripted")


def answer(text: str, tokens: int = 100) -> Completion:
    """A step that answers."""
    return Completion(text, [], Usage(tokens, 20), "scripted")


@dataclass
class Request:
    """What the agent sent in one call."""

    system: str
    messages: list[Message]
    tools: list[ToolDef]
    max_tokens: int


@dataclass
class ScriptedProvider:
    """Plays its steps in order; fails the test if asked for more."""

    steps: list[Step]
    name: str = "scripted"
    model: str = "scripted-1"
    requests: list[Request] = field(default_factory=list)

    def complete(
        self, *, system: str, messages: list[Message], tools: list[ToolDef], max_tokens: int
    ) -> Completion:
        """Record the request and play the next step."""
        self.requests.append(Request(system, list(messages), tools, max_tokens))
        assert self.steps, "the model was called more often than scripted"
        step = self.steps.pop(0)
        if isinstance(step, ModelError):
            raise step
        if callable(step):
            return step(messages)
        return step

    def sent_text(self, index: int = -1) -> str:
        """Everything one request carried, as text (system, messages, tool call arguments)."""
        request = self.requests[index]
        parts = [request.system]
        for message in request.messages:
            parts.append(message.text)
            parts.extend(c.raw_arguments for c in message.tool_calls)
        return "\n".join(parts)
