"""The agent loop: the model calls tools from the catalogue until it can answer.

Each step sends the conversation so far (question, the model's tool calls, the fenced
results) and the tool schemas. A read tool call is validated by `call_tool` (bad arguments go
back to the model as the validation error) and its result goes back as compact JSON; a write
tool call is validated but never run — it becomes a `PendingAction` the user must confirm, and
the model is told so. The loop stops at a final answer, the step limit, the budget, or a
provider error (each with a plain message). The answer then gets its number check and the list
of tool calls it used.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import ValidationError

from cto_assistant.assistant.llm.budget import MIN_CALL_TOKENS, Budget
from cto_assistant.assistant.llm.config import LLMConfig
from cto_assistant.assistant.llm.numbers import NumberCheck, check_numbers
from cto_assistant.assistant.llm.prompt import (
    fence,
    new_nonce,
    result_json,
    scrub,
    system_prompt,
    tool_defs,
)
from cto_assistant.assistant.llm.providers import (
    Completion,
    Message,
    ModelError,
    Provider,
    ToolCall,
)
from cto_assistant.logging import get_logger
from cto_assistant.tools.base import ToolResult, ToolSpec, ToolStatus

log = get_logger("assistant.llm")
Stop = Literal["answered", "budget", "provider_error", "max_steps"]
RunTool = Callable[[str, dict[str, Any]], ToolResult]
PROVIDER_ERRORS = {
    "rate_limited": "the model provider is rate limiting us (HTTP 429)",
    "unavailable": "the model provider is unavailable",
    "timeout": "the model did not answer in time",
    "auth": "the model provider refused our credentials",
    "rejected": "the model provider rejected the request",
    "malformed": "the model provider sent an unreadable reply",
}
HISTORY_TURNS = 4
HISTORY_CHARS = 1_500


@dataclass
class ToolCallRecord:
    """One tool call the model made and how it ended."""

    id: str
    tool: str
    arguments: dict[str, Any]
    status: str
    summary: str
    executed: bool

    def call_text(self) -> str:
        """`tool(a=1, b=x)` for citations."""
        args = ", ".join(f"{k}={v}" for k, v in self.arguments.items())
        return f"{self.tool}({args})"


@dataclass
class PendingAction:
    """A write the model proposed; it runs only when the user confirms it."""

    id: str
    tool: str
    arguments: dict[str, Any]

    def describe(self) -> str:
        """`create_jira_ticket(team=platform, summary=…)`."""
        args = ", ".join(f"{k}={v!r}" for k, v in self.arguments.items())
        return f"{self.tool}({args})"


@dataclass
class ModelCallRecord:
    """One model call, as logged: no content."""

    provider: str
    model: str
    input_tokens: int
    output_tokens: int
    latency_ms: float
    status: str


@dataclass
class AgentResult:
    """The model's answer with everything needed to trust it."""

    text: str
    stop: Stop
    calls: list[ToolCallRecord] = field(default_factory=list)
    results: list[ToolResult] = field(default_factory=list)
    pending: list[PendingAction] = field(default_factory=list)
    model_calls: list[ModelCallRecord] = field(default_factory=list)
    numbers: NumberCheck = field(default_factory=NumberCheck)
    tokens: int = 0
    cost: float = 0.0

    def payload(self) -> dict[str, Any]:
        """JSON-ready view (the `llm` object of `cto ask --json` and the chat's `done`)."""
        return {
            "stop": self.stop,
            "tool_calls": [asdict(c) for c in self.calls],
            "pending_actions": [asdict(p) for p in self.pending],
            "model_calls": [asdict(m) for m in self.model_calls],
            "figures": self.numbers.figures,
            "unsupported_figures": self.numbers.unsupported,
            "conversation_tokens": self.tokens,
            "conversation_cost": round(self.cost, 6),
        }


def validation_error(spec: ToolSpec, arguments: dict[str, Any]) -> ToolResult | None:
    """The error envelope the model gets back for arguments the tool's schema rejects."""
    try:
        spec.arguments.model_validate(arguments)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}" for e in exc.errors()
        )
        return ToolResult(
            tool=spec.name,
            status=ToolStatus.ERROR,
            summary=f"Bad arguments for {spec.name}: {problems}. Fix them and call again.",
            error=problems,
        )
    return None


class Agent:
    """Answers one question with a model over the tool catalogue."""

    def __init__(
        self,
        provider: Provider,
        config: LLMConfig,
        *,
        tools: Mapping[str, ToolSpec],
        run_tool: RunTool,
        secrets: Sequence[str] = (),
        now: datetime,
    ) -> None:
        self.provider = provider
        self.config = config
        self.tools = dict(tools)
        self.run_tool = run_tool
        self.secrets = list(secrets)
        self.now = now
        self.nonce = new_nonce()
        self._defs = tool_defs(self.tools.values())
        self._system = system_prompt(now=now, nonce=self.nonce, tools=self.tools.values())

    def run(
        self,
        question: str,
        *,
        budget: Budget,
        history: Sequence[tuple[str, str]] = (),
        conversation_id: str | None = None,
    ) -> AgentResult:
        """Run the loop for one question (earlier turns given as (question, answer) pairs)."""
        messages = self._opening(question, history)
        result = AgentResult(text="", stop="max_steps")
        cache: dict[str, ToolResult] = {}
        for _ in range(self.config.max_steps):
            # a call re-sends the whole exchange, so it needs at least the last call's input
            reason = budget.exhausted(next_input=budget.last_input)
            if reason is not None:
                return self._finish(result, "budget", reason, question, history, budget)
            try:
                completion = self._complete(messages, budget, result, conversation_id)
            except ModelError as exc:
                why = PROVIDER_ERRORS.get(exc.kind, str(exc))
                text = (
                    f"I could not finish with the language model: {why}. Try again in a minute, "
                    "or ask without the model (`--mode router`)."
                )
                return self._finish(result, "provider_error", text, question, history, budget)
            if not completion.tool_calls:
                return self._finish(
                    result, "answered", completion.text.strip(), question, history, budget
                )
            messages.append(
                Message("assistant", text=completion.text, tool_calls=completion.tool_calls)
            )
            for call in completion.tool_calls:
                messages.append(self._tool_message(call, result, cache))
        text = (
            f"I stopped after {self.config.max_steps} model steps without a final answer. "
            "Try a narrower question."
        )
        return self._finish(result, "max_steps", text, question, history, budget)

    # ------------------------------------------------------------------------------ steps

    def _opening(self, question: str, history: Sequence[tuple[str, str]]) -> list[Message]:
        messages: list[Message] = []
        for earlier, answer in list(history)[-HISTORY_TURNS:]:
            messages.append(Message("user", text=earlier))
            label = "My earlier answer (may quote vendor text)"
            messages.append(
                Message(
                    "assistant", text=fence(answer[:HISTORY_CHARS], nonce=self.nonce, label=label)
                )
            )
        messages.append(Message("user", text=question))
        return messages

    def _complete(
        self,
        messages: list[Message],
        budget: Budget,
        result: AgentResult,
        conversation_id: str | None,
    ) -> Completion:
        """One model call: scrubbed of secrets, clamped to the budget, logged without content."""
        safe = [self._scrubbed(m) for m in messages]
        max_tokens = max(
            MIN_CALL_TOKENS, min(self.config.max_output_tokens, budget.remaining_tokens)
        )
        started = time.perf_counter()
        status = "ok"
        completion: Completion | None = None
        try:
            completion = self.provider.complete(
                system=scrub(self._system, self.secrets),
                messages=safe,
                tools=self._defs,
                max_tokens=max_tokens,
            )
        except ModelError as exc:
            status = exc.kind
            raise
        finally:
            latency = (time.perf_counter() - started) * 1000
            usage = completion.usage if completion else None
            record = ModelCallRecord(
                provider=self.provider.name,
                model=completion.model if completion else self.provider.model,
                input_tokens=usage.input_tokens if usage else 0,
                output_tokens=usage.output_tokens if usage else 0,
                latency_ms=round(latency, 1),
                status=status,
            )
            result.model_calls.append(record)
            content: dict[str, Any] = {}
            if self.config.log_content:
                content = {
                    "prompt": safe[-1].text[:2000],
                    "reply": (completion.text[:2000] if completion else ""),
                }
            # token counts logged as input/output: the log redacts any key containing "token"
            log.info(
                "model call",
                conversation=conversation_id,
                provider=record.provider,
                model=record.model,
                input=record.input_tokens,
                output=record.output_tokens,
                latency_ms=record.latency_ms,
                status=record.status,
                **content,
            )
        assert completion is not None
        budget.charge(completion.usage)
        return completion

    def _scrubbed(self, message: Message) -> Message:
        if not self.secrets:
            return message
        calls = [
            ToolCall(c.id, c.name, c.arguments, scrub(c.raw_arguments, self.secrets))
            for c in message.tool_calls
        ]
        return Message(
            message.role,
            text=scrub(message.text, self.secrets),
            tool_calls=calls,
            tool_call_id=message.tool_call_id,
            tool_name=message.tool_name,
            is_error=message.is_error,
        )

    def _tool_message(
        self, call: ToolCall, result: AgentResult, cache: dict[str, ToolResult]
    ) -> Message:
        """Run (or hold back) one tool call and return its result message for the model."""
        spec = self.tools.get(call.name)
        arguments = call.arguments
        if spec is None:
            envelope = ToolResult(
                tool=call.name,
                status=ToolStatus.ERROR,
                summary=f"Unknown tool {call.name!r}; use one of the tools provided.",
            )
            executed = False
        elif arguments is None:
            envelope = ToolResult(
                tool=call.name,
                status=ToolStatus.ERROR,
                summary=f"The arguments of {call.name} are not a JSON object; send valid JSON.",
            )
            executed = False
        elif (invalid := validation_error(spec, arguments)) is not None:
            envelope, executed = invalid, False
        elif spec.writes:
            envelope, executed = self._propose(spec, arguments, result), False
        else:
            key = f"{call.name}:{json.dumps(arguments, sort_keys=True, default=str)}"
            envelope = cache.get(key) or self.run_tool(call.name, arguments)
            cache[key] = envelope
            executed = True
            result.results.append(envelope)
        result.calls.append(
            ToolCallRecord(
                id=call.id,
                tool=call.name,
                arguments=arguments or {},
                status=str(envelope.status),
                summary=envelope.summary,
                executed=executed,
            )
        )
        body = result_json(envelope, max_chars=self.config.tool_result_chars)
        text = fence(body, nonce=self.nonce, label=f"Result of {call.name}")
        return Message(
            "tool",
            text=text,
            tool_call_id=call.id,
            tool_name=call.name,
            is_error=envelope.status is ToolStatus.ERROR,
        )

    def _propose(
        self, spec: ToolSpec, arguments: dict[str, Any], result: AgentResult
    ) -> ToolResult:
        """Hold a (validated) write call for the user's confirmation."""
        parsed = spec.arguments.model_validate(arguments)
        action = PendingAction(
            id=uuid.uuid4().hex[:8],
            tool=spec.name,
            arguments=parsed.model_dump(mode="json", exclude_defaults=True),
        )
        result.pending.append(action)
        return ToolResult(
            tool=spec.name,
            status=ToolStatus.NO_DATA,
            summary=f"Not executed. {spec.name} is a write action: it was proposed to the user "
            f"as pending action {action.id} and runs only if they confirm it.",
            data={"pending_action": action.id},
        )

    # ------------------------------------------------------------------------------ answer

    def _finish(
        self,
        result: AgentResult,
        stop: Stop,
        text: str,
        question: str,
        history: Sequence[tuple[str, str]],
        budget: Budget,
    ) -> AgentResult:
        """Attach the number check, the citations and the pending actions to the answer."""
        result.stop = stop
        result.tokens, result.cost = budget.tokens, budget.cost
        if stop == "answered":
            sources: list[Any] = [question, *(a for _, a in history)]
            sources += [r.payload() | {"chart": None} for r in result.results]
            sources += [c.arguments for c in result.calls]
            result.numbers = check_numbers(text, sources=sources)
        elif result.results:
            found = "\n".join(f"- {r.summary} [{r.tool}]" for r in result.results)
            text += f"\n\nWhat the tools returned before that:\n{found}"
        lines = [text or "(The model gave no answer.)"]
        used = [c for c in result.calls if c.executed]
        if used:
            lines.append("")
            lines.append("Tool calls used: " + "; ".join(f"`{c.call_text()}`" for c in used) + ".")
        if result.pending:
            lines.append("")
            for action in result.pending:
                lines.append(
                    f"Proposed action {action.id} (not done — needs your confirmation): "
                    f"`{action.describe()}`."
                )
        if result.numbers.unsupported:
            lines.append("")
            lines.append(
                "Check: these figures do not appear in any tool result: "
                + ", ".join(result.numbers.unsupported)
                + "."
            )
        result.text = "\n".join(lines)
        return result
