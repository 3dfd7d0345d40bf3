"""The assistant: route a question, call the tool, write the answer, remember the turn.

`Assistant.ask` is what the CLI, the web chat and tests call. It is split in two steps for
streaming: `begin` routes (so the web can announce the tool before it runs) and `finish` calls
the tool, writes the answer and stores both messages in the conversation. With LLM mode on
(`[llm]`, see `assistant.llm`), `begin` also decides whether the model takes the question
instead of the router; the router's answers are unchanged when it is off.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cto_assistant.assistant import conversation as conv
from cto_assistant.assistant.answer import Answer, key_figures, not_available, write_answer
from cto_assistant.assistant.entities import Catalog, load_catalog
from cto_assistant.assistant.llm import runner as llm_runner
from cto_assistant.assistant.llm.config import Mode
from cto_assistant.assistant.llm.providers import Provider, make_provider
from cto_assistant.assistant.llm.routing import decide
from cto_assistant.assistant.router import Route, Router
from cto_assistant.logging import get_logger
from cto_assistant.settings import Settings
from cto_assistant.store import Store
from cto_assistant.tools.base import REGISTRY, ToolContext, ToolResult, ToolStatus, call_tool
from cto_assistant.tools.cache import ToolCache
from cto_assistant.tools.catalog import load_tools

CATALOG_TTL_SECONDS = 60.0
LLM_NOT_CONFIGURED = (
    "LLM mode is not configured: set `[llm] model` (and provider, base_url, api_key_env) "
    "in cto.toml, or ask without `--mode llm`."
)
log = get_logger("assistant")


@dataclass
class Turn:
    """A routed question waiting for its tool call."""

    question: str
    conversation_id: str
    route: Route
    user: str | None
    user_id: int | None
    now: datetime
    started: float = field(default_factory=time.perf_counter)
    model: bool = False  # the language model answers this turn, not the routed tool


@dataclass
class Reply:
    """One answered question."""

    conversation_id: str
    question: str
    route: Route
    answer: Answer
    result: ToolResult | None
    elapsed_ms: float
    llm: dict[str, Any] | None = None  # the model's tool calls, pending actions, figure check

    def payload(self) -> dict[str, Any]:
        """The JSON object of `cto ask --json` and the web chat's `done` event."""
        result = self.result.payload() if self.result else None
        out = {
            "conversation_id": self.conversation_id,
            "question": self.question,
            "kind": self.route.kind,
            "intent": self.route.intent,
            "tool": self.route.tool,
            "arguments": self.route.arguments,
            "follow_up": self.route.follow_up,
            "candidates": self.route.candidates,
            "answer": self.answer.text,
            "status": result["status"] if result else None,
            "summary": result["summary"] if result else None,
            "data": result["data"] if result else None,
            "as_of": result["as_of"] if result else None,
            "sources": result["sources"] if result else [],
            "chart": self.answer.chart,
            "table": self.answer.table,
            "elapsed_ms": round(self.elapsed_ms, 1),
        }
        if self.llm is not None:
            out["kind"] = "llm"
            out["llm"] = self.llm
        return out


class Assistant:
    """Answers questions from one store with the tool catalogue."""

    def __init__(
        self, store: Store, settings: Settings, *, llm_provider: Provider | None = None
    ) -> None:
        self.store = store
        self.settings = settings
        self._llm_provider = llm_provider
        load_tools()
        self.cache = ToolCache()  # answers reused until the next sync or import commits
        self._lock = threading.Lock()
        self._router: Router | None = None
        self._loaded_at = 0.0

    def router(self) -> Router:
        """The router over the store's current names (reloaded every minute)."""
        with self._lock:
            if self._router is None or time.monotonic() - self._loaded_at > CATALOG_TTL_SECONDS:
                with self.store.session() as session:
                    catalog = load_catalog(session)
                self._router = Router(catalog) if self._router is None else self._rebind(catalog)
                self._loaded_at = time.monotonic()
            return self._router

    def _rebind(self, catalog: Catalog) -> Router:
        assert self._router is not None
        router = self._router
        router.catalog = catalog
        router.names = frozenset(catalog.vocabulary)
        return router

    def begin(
        self,
        question: str,
        *,
        conversation_id: str | None = None,
        user: str | None = None,
        user_id: int | None = None,
        mode: Mode | None = None,
    ) -> Turn:
        """Route a question in its conversation (created when new); `mode` forces who answers."""
        now = self.settings.now()
        router = self.router()
        with self.store.session() as session:
            conversation = conv.open_conversation(
                session, conversation_id=conversation_id, user_id=user_id, now=now, title=question
            )
            previous = conv.previous_turn(conversation)
            route = router.route(question, now=now, previous=previous)
            cid = conversation.id
        decision = decide(llm_runner.llm_config(self.settings), route, question, forced=mode)
        if decision == "unconfigured":
            route = Route("help", "llm", message=LLM_NOT_CONFIGURED)
        return Turn(question, cid, route, user, user_id, now, model=decision == "model")

    def finish(self, turn: Turn) -> Reply:
        """Call the routed tool, write the answer and store the turn."""
        route = turn.route
        result: ToolResult | None = None
        llm: dict[str, Any] | None = None
        with self.store.session() as session:
            conversation = conv.open_conversation(
                session,
                conversation_id=turn.conversation_id,
                user_id=turn.user_id,
                now=turn.now,
                title=turn.question,
            )
            if turn.model:
                agent_result, route, result = llm_runner.answer_with_model(
                    provider=self.llm_provider,
                    settings=self.settings,
                    session=session,
                    conversation=conversation,
                    question=turn.question,
                    user=turn.user,
                    now=turn.now,
                    call=self._call,
                )
                answer = Answer(text=agent_result.text)
                llm = agent_result.payload()
            elif route.kind != "tool" or route.tool is None:
                answer = Answer(text=route.message or "")
            elif route.tool not in REGISTRY:
                answer = not_available(route.tool, route.arguments)
            else:
                ctx = ToolContext(
                    session=session,
                    settings=self.settings,
                    now=turn.now,
                    user=turn.user,
                    extras={"previous": conv.last_tool_turn(conversation)},
                    cache=self.cache,
                )
                result = self._call(route, ctx)
                answer = write_answer(result, kinds=self.source_kinds(), now=turn.now)
            conv.record_turn(
                session,
                conversation,
                question=turn.question,
                route=route,
                answer=answer.text,
                result=result.payload() if result else None,
                figures=key_figures(result) if result else [],
                now=turn.now,
            )
        elapsed = (time.perf_counter() - turn.started) * 1000
        return Reply(turn.conversation_id, turn.question, route, answer, result, elapsed, llm)

    def llm_provider(self) -> Provider:
        """The configured model provider (built on first use)."""
        if self._llm_provider is None:
            self._llm_provider = make_provider(llm_runner.llm_config(self.settings))
        return self._llm_provider

    @staticmethod
    def _call(route: Route, ctx: ToolContext) -> ToolResult:
        """Run the tool; a bug in one tool becomes an error answer, logged with its traceback."""
        assert route.tool is not None
        try:
            return call_tool(route.tool, ctx, route.arguments)
        except Exception as exc:  # the chat must survive a broken tool; the log keeps the bug
            log.exception("tool crashed", tool=route.tool)
            return ToolResult(
                tool=route.tool,
                status=ToolStatus.ERROR,
                summary=f"the {route.tool} tool failed unexpectedly ({type(exc).__name__})",
                error=str(exc),
            )

    def ask(
        self,
        question: str,
        *,
        conversation_id: str | None = None,
        user: str | None = None,
        user_id: int | None = None,
        mode: Mode | None = None,
    ) -> Reply:
        """Answer one question (a follow-up when the conversation has history)."""
        turn = self.begin(
            question, conversation_id=conversation_id, user=user, user_id=user_id, mode=mode
        )
        return self.finish(turn)

    def source_kinds(self) -> dict[str, str]:
        """Configured source name → connector kind (for display names)."""
        return {name: str(s.get("kind", name)) for name, s in self.settings.sources.items()}
