"""`/api/chat`: questions answered as server-sent events, and conversation history.

POST /api/chat streams: `session` (the conversation id), `tool` (the routed call, before it
runs), `text` chunks of the answer, then `done` with the full result (the `cto ask --json`
object). The work runs in a worker thread; the routes only parse, call and stream. With LLM
mode, `mode` forces who answers, and a write action the model proposes arrives as a `confirm`
event (before `done`); it runs only when the client posts it to /api/chat/confirm.
"""

from __future__ import annotations

from collections.abc import Iterator

import sqlalchemy as sa
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from cto_assistant.assistant import conversation as conv
from cto_assistant.assistant.llm.config import Mode
from cto_assistant.assistant.llm.runner import confirm_action
from cto_assistant.assistant.service import Assistant
from cto_assistant.store.models import Conversation
from cto_assistant.web.auth import CurrentUser, current_user
from cto_assistant.web.events import format_event

router = APIRouter(prefix="/chat", tags=["chat"])
CHUNK_WORDS = 8


class ChatRequest(BaseModel):
    """A question, optionally in an existing conversation."""

    question: str = Field(min_length=1, max_length=2000, description="The question.")
    session_id: str | None = Field(default=None, max_length=64, description="Conversation id.")
    mode: Mode | None = Field(
        default=None, description="Who answers: router, llm or auto (default: the [llm] mode)."
    )


class ConfirmRequest(BaseModel):
    """A pending write action the user confirmed."""

    session_id: str = Field(max_length=64, description="Conversation id.")
    action_id: str = Field(max_length=32, description="The pending action's id.")


class ConfirmResult(BaseModel):
    """What the confirmed action did."""

    status: str
    summary: str
    data: object | None = None


class ChatMessage(BaseModel):
    """One message of a conversation."""

    role: str
    text: str
    tool: str | None = None
    arguments: dict[str, object] | None = None
    at: str
    chart: dict[str, object] | None = None


class ChatHistory(BaseModel):
    """A conversation and its messages."""

    id: str
    title: str | None
    messages: list[ChatMessage]


def assistant_of(request: Request) -> Assistant:
    """The app's assistant (created on first use)."""
    state = request.app.state
    if getattr(state, "assistant", None) is None:
        state.assistant = Assistant(state.store, state.settings)
    assistant: Assistant = state.assistant
    return assistant


def _owned(request: Request, session_id: str, user: CurrentUser) -> bool:
    with request.app.state.store.session() as session:
        owner = session.scalar(sa.select(Conversation.user_id).where(Conversation.id == session_id))
        exists = session.get(Conversation, session_id) is not None
    return not exists or owner == user.id or user.is_admin


def chunks(text: str) -> Iterator[str]:
    """The answer in small pieces of a few words (lines keep their breaks)."""
    words = text.split(" ")
    for i in range(0, len(words), CHUNK_WORDS):
        piece = " ".join(words[i : i + CHUNK_WORDS])
        yield piece if i + CHUNK_WORDS >= len(words) else piece + " "


@router.post(
    "",
    summary="Ask a question (answer streamed as server-sent events)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "An SSE stream."}},
)
def ask(
    body: ChatRequest, request: Request, user: CurrentUser = Depends(current_user)
) -> StreamingResponse:
    """Route the question, announce the tool, stream the answer, then send the full result."""
    if body.session_id and not _owned(request, body.session_id, user):
        raise HTTPException(status_code=404, detail="no such conversation")
    assistant = assistant_of(request)

    def stream() -> Iterator[str]:
        turn = assistant.begin(
            body.question,
            conversation_id=body.session_id,
            user=user.username,
            user_id=user.id,
            mode=body.mode,
        )
        yield format_event("session", {"session_id": turn.conversation_id})
        yield format_event(
            "tool",
            {
                "tool": None if turn.model else turn.route.tool,
                "arguments": {} if turn.model else turn.route.arguments,
                "kind": "llm" if turn.model else turn.route.kind,
            },
        )
        reply = assistant.finish(turn)
        for piece in chunks(reply.answer.text):
            yield format_event("text", {"text": piece})
        for action in (reply.llm or {}).get("pending_actions", []):
            yield format_event("confirm", {"session_id": reply.conversation_id, **action})
        yield format_event("done", reply.payload())

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.post(
    "/confirm",
    response_model=ConfirmResult,
    summary="Run a write action the model proposed, after the user confirmed it",
    responses={404: {"description": "No such conversation."}},
)
def confirm(
    body: ConfirmRequest, request: Request, user: CurrentUser = Depends(current_user)
) -> ConfirmResult:
    """Run one pending action of one of the user's conversations."""
    if not _owned(request, body.session_id, user):
        raise HTTPException(status_code=404, detail="no such conversation")
    result = confirm_action(
        store=request.app.state.store,
        settings=request.app.state.settings,
        conversation_id=body.session_id,
        action_id=body.action_id,
        user=user.username,
    )
    return ConfirmResult(
        status=str(result.status), summary=result.summary, data=result.payload()["data"]
    )


@router.get(
    "/sessions/{session_id}",
    response_model=ChatHistory,
    summary="A conversation's history",
    responses={404: {"description": "No such conversation."}},
)
def session_history(
    session_id: str, request: Request, user: CurrentUser = Depends(current_user)
) -> ChatHistory:
    """Every message of one of the user's conversations, oldest first."""
    with request.app.state.store.session() as session:
        found = session.get(Conversation, session_id)
        if found is None or (found.user_id != user.id and not user.is_admin):
            raise HTTPException(status_code=404, detail="no such conversation")
        messages = conv.history(session, session_id)
        title = found.title
    return ChatHistory(
        id=session_id, title=title, messages=[ChatMessage.model_validate(m) for m in messages]
    )
