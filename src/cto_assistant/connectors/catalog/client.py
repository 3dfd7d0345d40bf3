"""The CATALOG connector: reads the organisation from a TOML, JSON or YAML file.

Who is on which team, which Jira project and lead a team has, which service a repository
deploys, its tier and exposure — no vendor knows all of that, so the company writes it down
once (as with a Backstage catalog) and this connector syncs it like any other source:

    [sources.catalog]
    kind = "catalog"
    path = "org.toml"   # [[teams]] [[people]] [[services]] [[repositories]] [[budgets]]
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pydantic import Field

from cto_assistant.connectors.base import (
    Checkpoint,
    CheckResult,
    Connector,
    ConnectorConfig,
    Record,
    Stream,
)
from cto_assistant.connectors.catalog import mapping
from cto_assistant.errors import SchemaDriftError, UpstreamError


def read_structured_file(path: Path, *, source: str) -> Any:
    """Parse a TOML, JSON or YAML file (by extension); unreadable or invalid → a clear error."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UpstreamError(source, f"cannot read {path}: {exc.strerror}") from exc
    suffix = path.suffix.lower()
    try:
        if suffix == ".json":
            return json.loads(raw)
        if suffix in (".yaml", ".yml"):
            import yaml

            return yaml.safe_load(raw)
        return tomllib.loads(raw.decode())
    except (ValueError, UnicodeDecodeError) as exc:
        raise SchemaDriftError(
            source, f"{path} is not valid {suffix[1:] or 'TOML'}: {exc}"
        ) from exc


class CatalogConfig(ConnectorConfig):
    """Where the catalog file is."""

    kind: str = Field(default="catalog", description="Connector kind: 'catalog'.")
    base_url: str = Field(default="file://", description="Unused: the catalog is a file.")
    path: str = Field(description="Catalog file (.toml, .json, .yaml/.yml).")


class CatalogConnector(Connector):
    """Teams, people, services and repositories from the company's catalog file."""

    kind = "catalog"
    config_model = CatalogConfig
    category = "generic"
    streams = (
        Stream(
            "teams",
            tables=("team",),
            snapshot=True,
            description="Teams with Jira project and lead.",
        ),
        Stream(
            "people", tables=("person",), snapshot=True, description="People with their handles."
        ),
        Stream(
            "services",
            tables=("service",),
            snapshot=True,
            description="Services: owner, tier, exposure.",
        ),
        Stream("budgets", tables=("budget",), snapshot=True, description="Spending budgets."),
        Stream(
            "repositories",
            tables=("repository",),
            snapshot=True,
            description="Repositories → service, team.",
        ),
    )

    @property
    def path(self) -> Path:
        """The catalog file."""
        config = self.config
        assert isinstance(config, CatalogConfig)
        return Path(config.path).expanduser()

    def load(self) -> dict[str, Any]:
        """Read and parse the catalog file (format by extension)."""
        data = read_structured_file(self.path, source=self.name)
        if not isinstance(data, dict):
            raise SchemaDriftError(self.name, f"{self.path} must hold a table of sections")
        unknown = set(data) - set(mapping.SECTIONS)
        if unknown:
            raise SchemaDriftError(
                self.name,
                f"{self.path}: unknown section(s) {', '.join(sorted(unknown))} "
                f"(known: {', '.join(mapping.SECTIONS)})",
            )
        return data

    def check(self) -> list[CheckResult]:
        """Read the file and validate every section (writes nothing)."""
        try:
            data = self.load()
            counts = {
                name: len(mapping.parse_entries(name, data.get(name), source=self.name))
                for name in mapping.SECTIONS
            }
        except (SchemaDriftError, UpstreamError) as exc:
            return [CheckResult("read catalog", ok=False, detail=str(exc))]
        detail = ", ".join(f"{n} {name}" for name, n in counts.items())
        return [CheckResult("read catalog", ok=True, detail=detail)]

    def _pull(
        self, section: str, table: str, to_row: Callable[[Any], dict[str, Any]]
    ) -> Iterator[Record | Checkpoint]:
        entries = mapping.parse_entries(section, self.load().get(section), source=self.name)
        for entry in entries:
            row = to_row(entry)
            yield self.record(table, row.pop("source_id"), **row)

    def pull_teams(self, since: str | None) -> Iterator[Record | Checkpoint]:
        """Every team of the catalog."""
        return self._pull("teams", "team", mapping.team_row)

    def pull_people(self, since: str | None) -> Iterator[Record | Checkpoint]:
        """Every person of the catalog."""
        return self._pull("people", "person", mapping.person_row)

    def pull_services(self, since: str | None) -> Iterator[Record | Checkpoint]:
        """Every service of the catalog."""
        return self._pull("services", "service", mapping.service_row)

    def pull_budgets(self, since: str | None) -> Iterator[Record | Checkpoint]:
        """Every budget of the catalog."""
        return self._pull("budgets", "budget", mapping.budget_row)

    def pull_repositories(self, since: str | None) -> Iterator[Record | Checkpoint]:
        """Every repository of the catalog."""
        return self._pull("repositories", "repository", mapping.repository_row)
