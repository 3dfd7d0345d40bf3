"""The connector role: config model, streams, a read-only check, one generator per stream.

A connector is small. It knows its vendor's API and how to map payloads to domain records
(rows of the store's vendor-fed tables, see `store.models`). It never touches the database,
never owns a cursor and never decides when to run: the sync engine does that.

    class JiraConnector(Connector):
        kind = "jira"
        config_model = JiraConfig
        streams = (Stream("issues", tables=("ticket",), incremental=True), ...)

        def pull_issues(self, since: str | None) -> Iterator[Record | Checkpoint]:
            for page in self.paginate(...):
                for issue in page: yield Record("ticket", mapping.ticket(issue, source=self.name))
                yield Checkpoint(latest_updated)     # the engine commits, then stores it

Records and checkpoints: the engine batches records, commits them, and only then stores the
latest checkpoint's cursor, so a crash never moves a cursor past uncommitted rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field

from cto_assistant.errors import ConnectorError, SchemaDriftError


@dataclass(frozen=True, slots=True)
class Record:
    """One row for a vendor-fed table; `values` holds its columns incl. source and source_id."""

    table: str
    values: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A safe point: every record yielded before it may be committed, then `cursor` stored."""

    cursor: str


@dataclass(frozen=True, slots=True)
class Stream:
    """One stream of a connector: its name, the tables it feeds and whether `since` is honoured."""

    name: str
    tables: tuple[str, ...]
    incremental: bool = False
    description: str = ""
    snapshot: bool = False
    """Each run yields the complete set: rows of this source the run did not yield are removed
    (access grants, the org catalog, rosters — a revoked grant must disappear)."""


@dataclass(frozen=True, slots=True)
class CheckResult:
    """Outcome of a read-only probe of one capability (e.g. 'read issues')."""

    capability: str
    ok: bool
    detail: str = ""


class ConnectorConfig(BaseModel):
    """Settings shared by every connector; each vendor subclasses it with its own fields."""

    model_config = ConfigDict(extra="forbid")

    kind: str = Field(description="Connector kind, e.g. 'jira'.")
    base_url: str = Field(description="Root URL of the vendor API (or of a simulator).")
    timeout_seconds: float = Field(default=30.0, gt=0, description="Per-request timeout.")
    max_attempts: int = Field(
        default=5, ge=1, le=10, description="Attempts per request on 429/5xx/connection errors."
    )
    page_size: int = Field(default=100, ge=1, le=1000, description="Items asked for per page.")
    streams: list[str] | None = Field(
        default=None, description="Only sync these streams (default: all)."
    )
    now: datetime | None = Field(
        default=None,
        description="Pin the connector's clock (demo worlds, tests); default: the real clock. "
        "Windows such as 'the last 180 days' are measured from it.",
    )


@dataclass
class RequestStats:
    """Counters the HTTP layer updates and the sync engine records in the run log."""

    requests: int = 0
    pages: int = 0
    retries: int = 0
    waited_seconds: float = 0.0

    def reset(self) -> None:
        """Zero every counter (between streams)."""
        self.requests = self.pages = self.retries = 0
        self.waited_seconds = 0.0


@dataclass
class ConnectorContext:
    """What a connector instance is built with: its source name, config and HTTP seams."""

    name: str
    config: ConnectorConfig
    transport: httpx.BaseTransport | None = None
    stats: RequestStats = field(default_factory=RequestStats)
    sleep: Callable[[float], None] | None = None  # tests pass a fake clock


class Connector:
    """Base of every connector: subclasses set `kind`, `config_model`, `streams`, `pull_<name>`."""

    kind: ClassVar[str]
    config_model: ClassVar[type[ConnectorConfig]] = ConnectorConfig
    streams: ClassVar[tuple[Stream, ...]] = ()
    category: ClassVar[Literal["engineering", "security", "operations", "generic"]] = "generic"

    def __init__(self, context: ConnectorContext) -> None:
        self.context = context
        self.name = context.name
        self.config = context.config

    def now(self) -> datetime:
        """The current time for this connector: the pinned `now` or the real UTC clock."""
        pinned = self.config.now
        if pinned is None:
            return datetime.now(UTC)
        return pinned if pinned.tzinfo else pinned.replace(tzinfo=UTC)

    def stream(self, name: str) -> Stream:
        """The declared stream called `name`."""
        for stream in self.streams:
            if stream.name == name:
                return stream
        raise ConnectorError(self.name, f"no stream {name!r} (streams: {self.stream_names()})")

    def stream_names(self) -> str:
        """Comma-separated names of the declared streams."""
        return ", ".join(stream.name for stream in self.streams)

    def enabled_streams(self) -> tuple[Stream, ...]:
        """The streams the config asks for (all by default), in declaration order."""
        wanted = self.config.streams
        if wanted is None:
            return self.streams
        unknown = set(wanted) - {stream.name for stream in self.streams}
        if unknown:
            raise ConnectorError(self.name, f"unknown stream(s) {sorted(unknown)} in config")
        return tuple(stream for stream in self.streams if stream.name in wanted)

    def pull(self, stream: str, since: str | None) -> Iterator[Record | Checkpoint]:
        """Yield the records of `stream` changed since the cursor `since` (None: everything).

        A payload that breaks a mapper in a way it did not anticipate (a field of the wrong
        type, a missing key read directly) is schema drift of this stream, not a crash.
        """
        self.stream(stream)
        method = getattr(self, f"pull_{stream}")
        return self._as_schema_drift(stream, method(since))

    def _as_schema_drift(
        self, stream: str, items: Iterator[Record | Checkpoint]
    ) -> Iterator[Record | Checkpoint]:
        try:
            yield from items
        except (KeyError, IndexError, TypeError, AttributeError, ValueError) as exc:
            raise SchemaDriftError(
                self.name,
                f"unexpected payload shape ({exc.__class__.__name__}: {str(exc)[:200]})",
                stream=stream,
            ) from exc

    def check(self) -> list[CheckResult]:
        """Probe each capability read-only; never writes to the vendor."""
        raise NotImplementedError

    def close(self) -> None:
        """Release clients and connections."""

    def record(self, table: str, source_id: str | int, **values: Any) -> Record:
        """A record of `table` from this source, keyed on the vendor id."""
        return Record(table, {"source": self.name, "source_id": str(source_id), **values})
