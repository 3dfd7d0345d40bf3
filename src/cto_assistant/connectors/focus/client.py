"""The FOCUS source: billing-export files (a folder the cloud drops exports into) as a stream.

`cto import-costs` is the usual way in (see `importer`: transactional replace per file). This
connector lets the sync engine pick the same exports up on a schedule: `pull_costs` rolls every
file up with DuckDB and yields `cost_daily` records keyed per file and group, so a re-sync of an
unchanged file lands on the same rows. The cursor is the newest file modification time seen, so
an incremental sync only reads files written since.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from pydantic import Field

from cto_assistant.connectors.base import (
    Checkpoint,
    CheckResult,
    Connector,
    ConnectorConfig,
    Record,
    Stream,
)
from cto_assistant.connectors.focus.mapping import (
    TagKeys,
    connect,
    find_exports,
    rollup_file,
)
from cto_assistant.errors import ConnectorError, ImportFileError


class FocusConfig(ConnectorConfig):
    """Where the FOCUS exports are and which tags name teams and projects."""

    kind: str = Field(default="focus", description="Connector kind: 'focus'.")
    base_url: str = Field(default="file://", description="Unused for file imports.")
    paths: list[str] = Field(
        default_factory=list, description="Export files or folders (searched recursively)."
    )
    team_tag_key: str = Field(default="team", description="Tag key whose value is the team.")
    project_tag_key: str = Field(
        default="project", description="Tag key whose value is the project."
    )


class FocusConnector(Connector):
    """FinOps FOCUS 1.x exports (AWS, Azure, GCP, OCI; CSV or Parquet, gzip or not)."""

    kind = "focus"
    config_model = FocusConfig
    category = "operations"
    streams = (
        Stream(
            "costs",
            tables=("cost_daily",),
            incremental=True,
            description="Daily cost rolled up from FOCUS exports (cursor: newest file mtime).",
        ),
    )

    @property
    def settings(self) -> FocusConfig:
        """The typed config."""
        assert isinstance(self.config, FocusConfig)
        return self.config

    def _files(self) -> list[Path]:
        try:
            return find_exports([Path(p) for p in self.settings.paths])
        except ImportFileError as exc:
            raise ConnectorError(self.name, str(exc), stream="costs") from exc

    def pull_costs(self, since: str | None) -> Iterator[Record | Checkpoint]:
        """Yield cost_daily rows of every export modified after `since` (ISO time)."""
        after = datetime.fromisoformat(since) if since else None
        tag_keys = TagKeys(team=self.settings.team_tag_key, project=self.settings.project_tag_key)
        newest = after
        con = connect()
        try:
            # Oldest first, so a checkpoint never passes a file that has not been read yet.
            for path in sorted(self._files(), key=lambda p: p.stat().st_mtime):
                modified = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
                if after is not None and modified <= after:
                    continue
                try:
                    rollup = rollup_file(path, source=self.name, tag_keys=tag_keys, con=con)
                except ImportFileError as exc:
                    raise ConnectorError(self.name, str(exc), stream="costs") from exc
                self.context.stats.pages += 1
                for row in rollup.rows:
                    yield Record("cost_daily", row)
                newest = modified if newest is None or modified > newest else newest
                yield Checkpoint(newest.isoformat())
        finally:
            con.close()

    def check(self) -> list[CheckResult]:
        """Report whether the configured paths hold any export."""
        try:
            files = self._files()
        except ConnectorError as exc:
            return [CheckResult("read exports", False, str(exc))]
        return [CheckResult("read exports", bool(files), f"{len(files)} export file(s)")]
