"""Conversations in the store: sessions, their messages, and what a follow-up refers to.

The conversation row's `context` keeps the last tool turn (question, tool, arguments, answer,
key figures, chart) and a pending question back (its candidates), so "and for payments?",
"create a ticket for that" or "the platform one" resolve against it after a restart too.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from cto_assistant.assistant.router import PreviousTurn, Route
from cto_assistant.store.models import Conversation, Message

TITLE_LENGTH = 80


def open_conversation(
    session: Session, *, conversation_id: str | None, user_id: int | None, now: datetime, title: str
) -> Conversation:
    """The conversation with this id (created if new or unknown)."""
    if conversation_id:
        found = session.get(Conversation, conversation_id)
        if found is not None:
            return found
    conversation = Conversation(
        id=conversation_id or uuid.uuid4().hex,
        user_id=user_id,
        title=title[:TITLE_LENGTH],
        context={},
        created_at=now,
        updated_at=now,
    )
    session.add(conversation)
    session.flush()
    return conversation


def previous_turn(conversation: Conversation) -> PreviousTurn | None:
    """What a follow-up in this conversation refers to."""
    return turn_from_context(conversation.context or {})


def turn_from_context(context: dict[str, Any]) -> PreviousTurn | None:
    """The previous turn a conversation context describes (pending question back first)."""
    pending = context.get("pending")
    last = context.get("last")
    if pending:
        return PreviousTurn(
            question=pending["question"],
            tool=last["tool"] if last else None,
            arguments=pending.get("arguments", {}),
            intent=pending.get("intent"),
            candidates=tuple(pending.get("candidates", ())),
        )
    if last:
        return PreviousTurn(
            question=last["question"],
            tool=last["tool"],
            arguments=last.get("arguments", {}),
            intent=last.get("intent"),
        )
    return None


def advance_context(
    context: dict[str, Any],
    *,
    question: str,
    route: Route,
    answer: str = "",
    figures: list[str] | None = None,
    chart: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The context after a turn: a question back is pending; an answered tool turn is `last`."""
    context = dict(context)
    if route.kind == "clarify":
        context["pending"] = {
            "question": question,
            "intent": route.intent,
            "arguments": route.arguments,
            "candidates": route.candidates,
        }
    elif route.kind == "tool" and route.tool and route.tool != "create_jira_ticket":
        context.pop("pending", None)
        context["last"] = {
            "question": question,
            "tool": route.tool,
            "intent": route.intent,
            "arguments": route.arguments,
            "answer": answer,
            "figures": figures or [],
            "chart": chart,
        }
    else:
        context.pop("pending", None)
    return context


def last_tool_turn(conversation: Conversation) -> dict[str, Any] | None:
    """The previous answered tool turn (question, answer, figures, chart) for actions."""
    last = (conversation.context or {}).get("last")
    return dict(last) if last else None


def record_turn(
    session: Session,
    conversation: Conversation,
    *,
    question: str,
    route: Route,
    answer: str,
    result: dict[str, Any] | None,
    figures: list[str],
    now: datetime,
) -> None:
    """Store the user's question and the assistant's answer, and move the context along."""
    session.add(Message(conversation_id=conversation.id, role="user", text=question, at=now))
    session.add(
        Message(
            conversation_id=conversation.id,
            role="assistant",
            text=answer,
            tool=route.tool,
            arguments=route.arguments or None,
            result=result,
            at=now,
        )
    )
    context = advance_context(
        conversation.context or {},
        question=question,
        route=route,
        answer=answer,
        figures=figures,
        chart=(result or {}).get("chart"),
    )
    conversation.context = context
    conversation.updated_at = now


def history(session: Session, conversation_id: str) -> list[dict[str, Any]]:
    """Every message of a conversation, oldest first."""
    rows = session.scalars(
        sa.select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id)
    )
    return [
        {
            "role": m.role,
            "text": m.text,
            "tool": m.tool,
            "arguments": m.arguments,
            "at": m.at.isoformat(),
            "chart": (m.result or {}).get("chart") if m.result else None,
        }
        for m in rows
    ]
