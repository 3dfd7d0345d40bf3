"""The demo world: one consistent fictional company, as rows of the domain model.

`World` is the contract between the generator and the simulators. A world is a set of row
streams keyed by store table name (`store.models`); each row holds that table's columns except
`id`, `source` and `synced_at`; `source_id` is the id the *vendor* would use (Jira issue id,
GitHub node id, PagerDuty incident id …), so a simulator serves it and a connector maps it back
to the same key. Simulators turn rows into vendor JSON; connectors turn vendor JSON into rows:
world → simulator → connector → store must give back the world.

Rows are produced lazily (`rows(table)` is an iterator) so the large world streams in bounded
memory; a small world may simply hold lists. Tests build tiny worlds with `World.from_rows`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

Row = dict[str, Any]
Scale = Literal["small", "large"]


@dataclass
class World:
    """A company as row streams per table, plus the facts that pinned it (seed, today, scale)."""

    seed: int
    today: date
    scale: Scale = "small"
    producers: dict[str, Callable[[], Iterable[Row]]] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_rows(
        cls,
        tables: Mapping[str, Iterable[Row]],
        *,
        seed: int = 0,
        today: date = date(2026, 1, 15),
        extras: Mapping[str, Any] | None = None,
    ) -> World:
        """A world from explicit rows (tests, hand-built fixtures)."""
        frozen = {name: list(rows) for name, rows in tables.items()}
        return cls(
            seed=seed,
            today=today,
            producers={name: (lambda rows=rows: rows) for name, rows in frozen.items()},
            extras=dict(extras or {}),
        )

    def tables(self) -> list[str]:
        """Names of the tables this world has rows for."""
        return sorted(self.producers)

    def rows(self, table: str) -> Iterator[Row]:
        """The rows of `table` (empty when the world has none)."""
        producer = self.producers.get(table)
        if producer is None:
            return iter(())
        return iter(producer())

    def count(self, table: str) -> int:
        """Number of rows of `table` (iterates once)."""
        return sum(1 for _ in self.rows(table))
