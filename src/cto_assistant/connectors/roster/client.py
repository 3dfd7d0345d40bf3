"""The people roster: a CSV (or JSON) export of employees, so the access audit can spot leavers.

One stream, `people` → `person` rows keyed on e-mail, `active` false once the `left` day is
past. The file is read with the GENERIC importer's reader (line numbers, CSV/JSON/NDJSON) and
validated whole before anything is yielded: one bad row rejects the file with every problem
and its line, and nothing is written. HR exports name columns their own way; `columns` maps
ours to theirs:

    [sources.roster]
    kind = "roster"
    path = "/srv/hr/employees.csv"
    columns = { email = "Work Email", started = "Hire Date", left = "Termination Date" }

The cursor is the file's SHA-256 and the day: an unchanged file is not re-read the same day.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator

from cto_assistant.connectors.base import (
    Checkpoint,
    CheckResult,
    Connector,
    ConnectorConfig,
    ConnectorContext,
    Record,
    Stream,
)
from cto_assistant.connectors.generic.files import Row, read_rows
from cto_assistant.connectors.roster import mapping
from cto_assistant.errors import ImportFileError
from cto_assistant.logging import get_logger

log = get_logger("connectors.roster")

STREAM = "people"


class RosterConfig(ConnectorConfig):
    """Where the roster file is and how its columns are named."""

    kind: str = Field(default="roster", description="Connector kind: 'roster'.")
    base_url: str = Field(default="", description="Unused: the roster is a local file.")
    path: str = Field(description="Path of the roster (CSV with a header line, JSON or NDJSON).")
    columns: dict[str, str] = Field(
        default_factory=dict,
        description="Our field (email, name, team, role, started, left) → the file's column.",
    )

    @field_validator("columns")
    @classmethod
    def _known_fields(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(mapping.FIELDS))
        if unknown:
            raise ValueError(f"unknown field(s) {unknown} (known: {', '.join(mapping.FIELDS)})")
        return value


class RosterConnector(Connector):
    """Employees from an HR roster file: who is current, who left and when."""

    kind = "roster"
    config_model = RosterConfig
    category = "security"
    streams = (
        Stream(
            STREAM,
            tables=("person",),
            incremental=True,
            description="Every roster row as a person (active, started_at, left_at).",
        ),
    )

    def __init__(self, context: ConnectorContext) -> None:
        super().__init__(context)
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    @property
    def settings(self) -> RosterConfig:
        """The typed config."""
        assert isinstance(self.config, RosterConfig)
        return self.config

    @property
    def path(self) -> Path:
        """The roster file."""
        return Path(self.settings.path).expanduser()

    def columns(self) -> dict[str, str]:
        """Our field → the file's column name."""
        return {field: self.settings.columns.get(field, field) for field in mapping.FIELDS}

    def read(self) -> list[mapping.RosterRow]:
        """Read and validate the whole roster; any bad row raises ImportFileError (all or nothing)."""
        path = self.path
        self.context.stats.requests += 1
        rows = read_rows(path)
        self.context.stats.pages += 1
        columns = self.columns()
        if path.suffix.lower() == ".csv":
            header = next(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))), [])
            present = {cell.strip() for cell in header}
            missing = [columns[f] for f in mapping.REQUIRED if columns[f] not in present]
            if missing:
                raise ImportFileError(
                    str(path), [f"line 1: missing column(s): {', '.join(missing)}"]
                )
        return validate(rows, columns, where=str(path))

    def digest(self) -> str:
        """SHA-256 of the roster file (unreadable file: ImportFileError)."""
        try:
            return hashlib.sha256(self.path.read_bytes()).hexdigest()
        except OSError as exc:
            raise ImportFileError(str(self.path), [f"cannot read the file: {exc}"]) from None

    def pull_people(self, since: str | None) -> Iterator[Record | Checkpoint]:
        """Yield every roster row as a person (nothing if the file and the day are unchanged)."""
        today = self.clock().astimezone(UTC).date()
        cursor = f"{self.digest()}@{today.isoformat()}"
        if since == cursor:
            return
        people = self.read()
        for row in people:
            yield Record("person", mapping.person(row, source=self.name, today=today))
        log.info("roster read", source=self.name, people=len(people))
        yield Checkpoint(cursor)

    def check(self) -> list[CheckResult]:
        """Read and validate the roster without writing anything."""
        try:
            people = self.read()
        except ImportFileError as exc:
            return [CheckResult("read roster", False, str(exc))]
        return [CheckResult("read roster", True, f"{len(people)} people")]


def validate(rows: list[Row], columns: dict[str, str], *, where: str) -> list[mapping.RosterRow]:
    """Validate every row; raise ImportFileError listing each bad row's line and reason."""
    problems: list[str] = []
    found: list[mapping.RosterRow] = []
    first_line: dict[str, int] = {}
    for row in rows:
        values: dict[str, Any] = {
            field: row.values[column]
            for field, column in columns.items()
            if row.values.get(column) not in (None, "")
        }
        try:
            item = mapping.RosterRow.model_validate(values)
        except ValidationError as exc:
            for error in exc.errors(include_url=False, include_input=False):
                field = ".".join(str(part) for part in error["loc"])
                message = error["msg"].removeprefix("Value error, ")
                if error["type"] == "missing":
                    message = "is required"
                where_in_row = f"{columns.get(field, field)}: " if field else ""
                problems.append(f"line {row.line}: {where_in_row}{message}")
            continue
        if item.email in first_line:
            problems.append(
                f"line {row.line}: {item.email} is already listed on line {first_line[item.email]}"
            )
            continue
        first_line[item.email] = row.line
        found.append(item)
    if problems:
        raise ImportFileError(where, problems)
    return found
