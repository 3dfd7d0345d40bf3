"""Glue between the assistant service and the agent: one model turn, and confirming actions.

`answer_with_model` runs the agent inside the service's store session (tools read through the
same `ToolContext` as the router's calls), keeps the conversation's budget and pending actions
in its context (`llm_usage`, `llm_pending`) and returns the route to record, so follow-ups after
a model turn resolve against the last tool it used. `confirm_action` runs a pending write
action once the user says yes — the only way a model-proposed write reaches a vendor.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from cto_assistant.assistant import conversation as conv
from cto_assistant.assistant.intents import INTENTS
from cto_assistant.assistant.llm.agent import Agent, AgentResult
from cto_assistant.assistant.llm.budget import Budget
from cto_assistant.assistant.llm.config import LLMConfig, parse_llm_config
from cto_assistant.assistant.llm.prompt import collect_secrets
from cto_assistant.assistant.llm.providers import Provider
from cto_assistant.assistant.router import Route
from cto_assistant.errors import ConfigError
from cto_assistant.settings import Settings
from cto_assistant.store import Store
from cto_assistant.store.models import Conversation, Message
from cto_assistant.tools.base import REGISTRY, ToolContext, ToolResult, ToolStatus, call_tool

CallTool = Callable[[Route, ToolContext], ToolResult]
HISTORY_MESSAGES = 8
ROUTABLE = frozenset(intent.name for intent in INTENTS)


def llm_config(settings: Settings) -> LLMConfig:
    """The validated `[llm]` section."""
    return parse_llm_config(settings.llm)


def _history(session: Session, conversation_id: str) -> list[tuple[str, str]]:
    """The conversation's last (question, answer) pairs."""
    messages = conv.history(session, conversation_id)[-HISTORY_MESSAGES:]
    pairs = []
    for first, second in itertools.pairwise(messages):
        if first["role"] == "user" and second["role"] == "assistant":
            pairs.append((first["text"], second["text"]))
    return pairs


def answer_with_model(
    *,
    provider: Callable[[], Provider],
    settings: Settings,
    session: Session,
    conversation: Conversation,
    question: str,
    user: str | None,
    now: datetime,
    call: CallTool,
) -> tuple[AgentResult, Route, ToolResult | None]:
    """Answer one question with the model; returns the result, the route to record, the last data."""
    config = llm_config(settings)
    try:
        model = provider()
    except ConfigError as exc:
        failed = AgentResult(text=f"LLM mode is not usable: {exc}.", stop="provider_error")
        return failed, Route("help", "llm", confidence=1.0), None
    context = dict(conversation.context or {})
    budget = Budget.for_conversation(config, context.get("llm_usage"))
    ctx = ToolContext(
        session=session,
        settings=settings,
        now=now,
        user=user,
        extras={"previous": conv.last_tool_turn(conversation)},
    )

    def run_tool(name: str, arguments: dict[str, Any]) -> ToolResult:
        return call(Route("tool", name, tool=name, arguments=arguments), ctx)

    agent = Agent(
        model,
        config,
        tools=REGISTRY,
        run_tool=run_tool,
        secrets=collect_secrets(settings, extra=[config.resolved_api_key()]),
        now=now,
    )
    result = agent.run(
        question,
        budget=budget,
        history=_history(session, conversation.id),
        conversation_id=conversation.id,
    )
    context["llm_usage"] = budget.as_dict()
    context["llm_pending"] = [asdict(action) for action in result.pending]
    conversation.context = context
    last = next(
        (
            (call_, data)
            for call_, data in zip(
                reversed([c for c in result.calls if c.executed]),
                reversed(result.results),
                strict=False,
            )
            if call_.tool in ROUTABLE and data.status is ToolStatus.OK
        ),
        None,
    )
    if last is None:
        return result, Route("help", "llm", confidence=1.0), None
    record, data = last
    route = Route("tool", record.tool, tool=record.tool, arguments=record.arguments, confidence=1.0)
    return result, route, data


def pending_actions(store: Store, conversation_id: str) -> list[dict[str, Any]]:
    """The write actions waiting for the user's confirmation in a conversation."""
    with store.session() as session:
        found = session.get(Conversation, conversation_id)
        return list((found.context or {}).get("llm_pending", [])) if found else []


def confirm_action(
    *,
    store: Store,
    settings: Settings,
    conversation_id: str,
    action_id: str,
    user: str | None,
) -> ToolResult:
    """Run a pending write action the user confirmed, and record it in the conversation."""
    now = settings.now()
    with store.session() as session:
        conversation = session.get(Conversation, conversation_id)
        context = dict(conversation.context or {}) if conversation else {}
        pending = list(context.get("llm_pending", []))
        action = next((a for a in pending if a.get("id") == action_id), None)
        if conversation is None or action is None:
            return ToolResult(
                tool="",
                status=ToolStatus.ERROR,
                summary=f"No pending action {action_id} in this conversation "
                "(already confirmed, or replaced by a later answer).",
            )
        ctx = ToolContext(
            session=session,
            settings=settings,
            now=now,
            user=user,
            extras={"previous": conv.last_tool_turn(conversation)},
        )
        result = call_tool(action["tool"], ctx, action["arguments"])
        context["llm_pending"] = [a for a in pending if a.get("id") != action_id]
        conversation.context = context
        conversation.updated_at = now
        session.add(
            Message(
                conversation_id=conversation_id,
                role="user",
                text=f"Confirm action {action_id}",
                at=now,
            )
        )
        session.add(
            Message(
                conversation_id=conversation_id,
                role="assistant",
                text=result.summary,
                tool=action["tool"],
                arguments=action["arguments"],
                result=result.payload(),
                at=now,
            )
        )
    return result
