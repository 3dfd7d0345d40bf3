"""A small fake connector: an in-memory vendor that pages, honours `since` and fails on demand.

The seam is the connector itself: tests build it directly (or through the registry with kind
"fake") and tell it where to fail; nothing is patched.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from pydantic import Field, SecretStr

from cto_assistant.connectors.base import (
    Checkpoint,
    CheckResult,
    Connector,
    ConnectorConfig,
    ConnectorContext,
    Record,
    Stream,
)
from cto_assistant.errors import AuthError, SchemaDriftError, UpstreamError


class Crash(BaseException):
    """Stands in for the process being killed mid-sync (not an Exception: nothing catches it)."""


class FakeConfig(ConnectorConfig):
    """Config of the fake vendor."""

    base_url: str = Field(default="fake://vendor", description="Unused.")
    page_size: int = Field(default=4, ge=1, description="Items per page.")
    items: int = Field(default=10, ge=0, description="How many teams the vendor starts with.")
    token: SecretStr | None = Field(default=None, description="A secret, for redaction tests.")
    fail_stream: str | None = Field(default=None, description="A stream that always fails.")


@dataclass
class FakeVendor:
    """The vendor's data: teams with an `updated` counter, people without one."""

    teams: dict[str, dict[str, object]] = field(default_factory=dict)
    people: dict[str, dict[str, object]] = field(default_factory=dict)
    clock: int = 0

    @classmethod
    def seeded(cls, count: int) -> FakeVendor:
        """A vendor with `count` teams and two people."""
        vendor = cls()
        for number in range(1, count + 1):
            vendor.put_team(f"T{number:03d}", f"Team {number}")
        vendor.people = {
            "p1": {"name": "Ada", "email": "ada@example.com"},
            "p2": {"name": "Linus", "email": "linus@example.com"},
        }
        return vendor

    def put_team(self, key: str, name: str) -> None:
        """Create or change a team (it becomes the newest change)."""
        self.clock += 1
        self.teams[key] = {"key": key, "name": name, "updated": self.clock}


class FakeConnector(Connector):
    """Teams (incremental on `updated`, a checkpoint per page) and people (full refresh)."""

    kind = "fake"
    config_model = FakeConfig
    streams = (
        Stream("teams", tables=("team",), incremental=True),
        Stream("people", tables=("person",)),
    )

    def __init__(self, context: ConnectorContext, vendor: FakeVendor | None = None) -> None:
        super().__init__(context)
        config = self.config
        assert isinstance(config, FakeConfig)
        self.fake_config = config
        self.vendor = vendor or FakeVendor.seeded(config.items)
        self.failures: dict[str, tuple[int, BaseException]] = {}
        self.after_each: Callable[[], None] | None = None
        self.since_seen: list[str | None] = []
        self.closed = False

    @classmethod
    def named(
        cls, name: str = "fake", vendor: FakeVendor | None = None, **config: object
    ) -> FakeConnector:
        """Build one directly, without the registry."""
        return cls(ConnectorContext(name=name, config=FakeConfig(kind="fake", **config)), vendor)

    def fail(self, stream: str, *, after: int, error: BaseException) -> None:
        """Raise `error` in `stream` once `after` records have been yielded."""
        self.failures[stream] = (after, error)

    def _maybe_fail(self, stream: str, yielded: int) -> None:
        if self.fake_config.fail_stream == stream:
            raise UpstreamError(self.name, "HTTP 503 after 5 attempts", stream=stream)
        planned = self.failures.get(stream)
        if planned is not None and yielded >= planned[0]:
            raise planned[1]

    def pull_teams(self, since: str | None) -> Iterator[Record | Checkpoint]:
        """Teams changed after `since`, oldest change first, one checkpoint per page."""
        self.since_seen.append(since)
        after = int(since) if since else 0
        changed = sorted(
            (team for team in self.vendor.teams.values() if int(str(team["updated"])) > after),
            key=lambda team: int(str(team["updated"])),
        )
        size = self.fake_config.page_size
        yielded = 0
        pages = [changed[start : start + size] for start in range(0, len(changed), size)] or [[]]
        for page in pages:
            self.context.stats.requests += 1
            self.context.stats.pages += 1
            for team in page:
                self._maybe_fail("teams", yielded)
                yield self.record("team", str(team["key"]), key=team["key"], name=team["name"])
                yielded += 1
                if self.after_each:
                    self.after_each()
            if page:
                yield Checkpoint(str(page[-1]["updated"]))
        self._maybe_fail("teams", yielded)

    def pull_people(self, since: str | None) -> Iterator[Record | Checkpoint]:
        """Every person (no cursor)."""
        self.since_seen.append(since)
        self.context.stats.requests += 1
        self.context.stats.pages += 1
        for yielded, (pid, person) in enumerate(sorted(self.vendor.people.items())):
            self._maybe_fail("people", yielded)
            yield self.record("person", pid, name=person["name"], email=person["email"])
        self._maybe_fail("people", len(self.vendor.people))

    def check(self) -> list[CheckResult]:
        """Read-only probe: fails when the stream is configured to fail."""
        if self.fake_config.fail_stream:
            return [CheckResult("read teams", ok=False, detail="HTTP 503")]
        return [CheckResult("read teams", ok=True), CheckResult("read people", ok=True)]

    def close(self) -> None:
        """Remember that the engine's owner closed us."""
        self.closed = True


__all__ = ["AuthError", "Crash", "FakeConfig", "FakeConnector", "FakeVendor", "SchemaDriftError"]
