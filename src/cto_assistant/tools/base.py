"""The tool catalogue's contract: a context in, an envelope out, a registry in between.

A tool is a typed function with a one-line docstring:

    @tool(domain="operations")
    def active_incidents(ctx: ToolContext, *, team: str | None = None) -> ToolResult:
        \"\"\"Active incidents with severity, assignee and age.\"\"\"
        rows = queries.open_incidents(session=ctx.session, team=team)
        if not rows:
            return no_data("No active incidents.", sources=ctx.sources("pagerduty"))
        return ok(report, summary="1 active incident: SEV-2 on checkout-service.", ...)

Its keyword arguments (with their annotations and defaults) become a pydantic model: the JSON
schema the chat router, the LLM and the API share. `call_tool` validates arguments, runs the
tool and turns any `CTOError` into an `error` envelope: errors never cross the tool boundary.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model
from sqlalchemy.orm import Session

from cto_assistant.errors import CTOError
from cto_assistant.settings import Settings
from cto_assistant.tools.cache import CacheKey, ToolCache

Domain = Literal["summary", "delivery", "security", "operations", "actions", "research"]


class ToolStatus(StrEnum):
    """How a tool call ended."""

    OK = "ok"
    NO_DATA = "no_data"
    ERROR = "error"
    NOT_CONFIGURED = "not_configured"


class SourceRef(BaseModel):
    """Where a figure came from and how old it is."""

    source: str = Field(description="Configured source name, e.g. 'pagerduty'.")
    synced_at: datetime | None = Field(default=None, description="Last successful sync.")
    age_seconds: float | None = Field(default=None, description="Age of the data at `as_of`.")
    failing: bool = Field(default=False, description="Whether the last sync of it failed.")


class ToolResult(BaseModel):
    """The envelope every tool returns."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    tool: str = ""
    status: ToolStatus
    summary: str = Field(description="One sentence with the key number, for chat and tooltips.")
    data: Any = None
    as_of: datetime | None = Field(default=None, description="Freshness of the oldest input.")
    sources: list[SourceRef] = Field(default_factory=list)
    chart: dict[str, Any] | None = Field(default=None, description="A Vega-Lite spec.")
    error: str | None = None
    refreshing: bool = Field(
        default=False,
        description="An answer from before the latest sync, shown while the new one is computed.",
    )

    def payload(self) -> dict[str, Any]:
        """JSON-ready dict (datetimes as ISO strings, models as dicts)."""
        return self.model_dump(mode="json")


MEMO = "tool_results"
"""`ToolContext.extras` key of the answers already given in this context (tools/summary.py)."""


@dataclass
class ToolContext:
    """What a tool may use: a read session, the settings, the pinned `now`, who is asking."""

    session: Session
    settings: Settings
    now: datetime
    user: str | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    cache: ToolCache | None = None
    stale_ok: bool = False
    """Right after a sync, take the previous answer (marked `refreshing`) over waiting."""
    shared: bool = False
    """A widget's call: its answer is shared with every process on the store (tools/cache.py)."""

    def sources_for(self, *tables: str) -> list[SourceRef]:
        """Freshness of the sources that fed rows into `tables` (from the run log)."""
        import sqlalchemy as sa

        from cto_assistant.store.models import SOURCED_TABLES

        names: set[str] = set()
        for table in tables:
            model = SOURCED_TABLES[table]
            # DISTINCT as index hops on (source, source_id): one probe per source, never a scan.
            last: str | None = None
            while True:
                after = [model.source > last] if last is not None else []
                last = self.session.scalar(sa.select(sa.func.min(model.source)).where(*after))
                if last is None:
                    break
                names.add(last)
        return self.source_refs(names)

    def source_refs(self, names: Iterable[str]) -> list[SourceRef]:
        """Freshness of the named sources now (from the run log)."""
        from cto_assistant.sync.freshness import source_status

        if not (wanted := sorted(set(names))):
            return []
        statuses = source_status(
            self.session, configured=wanted, now=self.now, only_configured=True
        )
        return [
            SourceRef(
                source=status.source,
                synced_at=status.as_of,
                age_seconds=status.age_seconds,
                failing=status.state in ("failing", "degraded"),
            )
            for status in statuses
        ]


def ok(
    data: Any,
    *,
    summary: str,
    sources: list[SourceRef] | None = None,
    chart: dict[str, Any] | None = None,
    as_of: datetime | None = None,
) -> ToolResult:
    """A successful envelope; `as_of` defaults to the oldest source sync."""
    sources = sources or []
    if as_of is None:
        stamps = [s.synced_at for s in sources if s.synced_at is not None]
        as_of = min(stamps) if stamps else None
    return ToolResult(
        status=ToolStatus.OK, data=data, summary=summary, sources=sources, chart=chart, as_of=as_of
    )


def no_data(
    summary: str, *, sources: list[SourceRef] | None = None, data: Any = None
) -> ToolResult:
    """Honest 'nothing to show yet' (never a zero that looks like a measurement)."""
    return ToolResult(status=ToolStatus.NO_DATA, summary=summary, sources=sources or [], data=data)


def not_configured(summary: str) -> ToolResult:
    """The source this tool needs is not connected."""
    return ToolResult(status=ToolStatus.NOT_CONFIGURED, summary=summary)


ToolFunction = Callable[..., ToolResult]


@dataclass(frozen=True)
class ToolSpec:
    """A registered tool: its function, argument model, domain and whether it writes."""

    name: str
    function: ToolFunction
    arguments: type[BaseModel]
    description: str
    domain: Domain
    writes: bool

    def json_schema(self) -> dict[str, Any]:
        """The tool's argument schema (for the router, the LLM and the API)."""
        return self.arguments.model_json_schema()


REGISTRY: dict[str, ToolSpec] = {}


def tool(*, domain: Domain, writes: bool = False) -> Callable[[ToolFunction], ToolFunction]:
    """Register a tool; its keyword-only parameters become its argument model."""

    def register(function: ToolFunction) -> ToolFunction:
        name = function.__name__
        doc = inspect.getdoc(function)
        if not doc:
            raise TypeError(f"tool {name} needs a docstring")
        fields: dict[str, Any] = {}
        for parameter in inspect.signature(function, eval_str=True).parameters.values():
            if parameter.name == "ctx":
                continue
            if parameter.kind is not inspect.Parameter.KEYWORD_ONLY:
                raise TypeError(f"tool {name}: argument {parameter.name} must be keyword-only")
            if parameter.annotation is inspect.Parameter.empty:
                raise TypeError(f"tool {name}: argument {parameter.name} needs a type")
            default = ... if parameter.default is inspect.Parameter.empty else parameter.default
            fields[parameter.name] = (parameter.annotation, default)
        model = create_model(f"{name}_arguments", __config__=ConfigDict(extra="forbid"), **fields)
        model.__doc__ = doc.splitlines()[0]
        REGISTRY[name] = ToolSpec(
            name=name,
            function=function,
            arguments=model,
            description=doc.splitlines()[0],
            domain=domain,
            writes=writes,
        )
        return function

    return register


def call_tool(
    name: str, ctx: ToolContext, arguments: Mapping[str, Any] | None = None
) -> ToolResult:
    """Validate arguments, run the tool, and return its envelope (errors included)."""
    spec = REGISTRY.get(name)
    if spec is None:
        known = ", ".join(sorted(REGISTRY))
        return ToolResult(
            tool=name,
            status=ToolStatus.ERROR,
            summary=f"Unknown tool {name!r}.",
            error=f"known: {known}",
        )
    try:
        parsed = spec.arguments.model_validate(dict(arguments or {}))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}" for e in exc.errors()
        )
        return ToolResult(
            tool=name,
            status=ToolStatus.ERROR,
            summary=f"Bad arguments for {name}: {problems}.",
            error=problems,
        )
    values = parsed.model_dump()
    cache = ctx.cache if ctx.cache is not None and ctx.cache.cacheable(spec) else None
    if cache is None:
        return _run_tool(spec, ctx, values)
    key = cache.key(spec, ctx, values)
    shared = cache.shared_key(spec, ctx, values) if ctx.shared else None
    ask = _Ask(spec, values, key, cache, shared)
    recalled = shared is not None and cache.recall(key, shared, ctx)
    hit = cache.get(key, ctx.now, recalled=recalled)
    if hit is not None:
        ask.share(ctx)  # a nested call may have computed it without sharing it
        return hit
    # What is computed and stored reads nothing stale, and its nested calls are not shared.
    fresh = replace(ctx, stale_ok=False, shared=False)
    if ctx.stale_ok and (stale := cache.stale(key, ctx.now)) is not None:
        cache.revalidate(key, lambda: ask.revalidate(fresh))
        return stale
    return ask.compute(fresh)


@dataclass(frozen=True)
class _Ask:
    """One cached call: the tool, its validated arguments, its keys in the cache and the store."""

    spec: ToolSpec
    values: dict[str, Any]
    key: CacheKey
    cache: ToolCache
    shared: str | None  # the key in `tool_answer`, when the answer is shared

    def compute(self, ctx: ToolContext) -> ToolResult:
        """Compute and store the answer, once however many ask for it at the same time."""
        with self.cache.computing(self.key):
            result = self.cache.get(self.key, ctx.now)  # computed by another asker meanwhile
            if result is None:
                result = _run_tool(self.spec, ctx, self.values)
                if result.status is not ToolStatus.ERROR:
                    self.cache.put(self.key, result, ctx.now)
            self.share(ctx)  # (an error was not kept, so it is not shared either)
        return result

    def revalidate(self, ctx: ToolContext) -> None:
        """`compute` on a session and per-call memo of its own (the asker's end with its
        request)."""
        extras = {name: value for name, value in ctx.extras.items() if name != MEMO}
        with (
            Session(bind=ctx.session.get_bind(), expire_on_commit=False) as session,
            session.begin(),
        ):
            self.compute(replace(ctx, session=session, extras=extras))

    def share(self, ctx: ToolContext) -> None:
        """Write the answer held for this call to the store, when it is shared."""
        if self.shared is not None:
            self.cache.share(ctx.session.get_bind().engine, self.shared, self.key)


def _run_tool(spec: ToolSpec, ctx: ToolContext, values: dict[str, Any]) -> ToolResult:
    """Run a tool with validated arguments; a product error becomes an error envelope."""
    try:
        result = spec.function(ctx, **values)
    except CTOError as exc:
        return ToolResult(
            tool=spec.name,
            status=ToolStatus.ERROR,
            summary=f"{spec.name} failed: {exc}",
            error=str(exc),
        )
    result.tool = spec.name
    return result
