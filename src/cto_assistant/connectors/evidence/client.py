"""The EVIDENCE connector: evidence-only compliance checks from a file.

Some checks cannot be evaluated from synced data (backups restored quarterly, a risk register
reviewed, an access policy published): their evidence lives in a GRC tool or a spreadsheet.
Export it as a list of entries (JSON, YAML or TOML `[[evidence]]`) and sync it:

    [sources.evidence]
    kind = "evidence"
    path = "grc-export.json"   # [{framework, control_id, check, subject, status, evidence, collected_at}]

Each entry becomes a `control_evidence` row; the compliance checks use the latest batch per
check and show its collection date.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cto_assistant.connectors.base import (
    Checkpoint,
    CheckResult,
    Connector,
    ConnectorConfig,
    Record,
    Stream,
)
from cto_assistant.connectors.catalog.client import read_structured_file
from cto_assistant.errors import SchemaDriftError, UpstreamError


class EvidenceEntry(BaseModel):
    """One piece of evidence for one check of one control."""

    model_config = ConfigDict(extra="forbid")
    framework: str
    control_id: str
    check: str
    subject: str | None = None
    status: Literal["pass", "fail"]
    evidence: dict[str, Any] = Field(default_factory=dict)
    collected_at: datetime


class EvidenceConfig(ConnectorConfig):
    """Where the evidence file is."""

    kind: str = Field(default="evidence", description="Connector kind: 'evidence'.")
    base_url: str = Field(default="file://", description="Unused: the evidence is a file.")
    path: str = Field(description="Evidence file (.json, .yaml/.yml, .toml with [[evidence]]).")


class EvidenceConnector(Connector):
    """Compliance evidence collected elsewhere, as control_evidence rows."""

    kind = "evidence"
    config_model = EvidenceConfig
    category = "security"
    streams = (
        Stream(
            "evidence",
            tables=("control_evidence",),
            snapshot=True,
            description="Evidence entries of the file (the file is the whole set).",
        ),
    )

    def entries(self) -> list[EvidenceEntry]:
        """Read and validate every entry; the first bad one is named by index and field."""
        config = self.config
        assert isinstance(config, EvidenceConfig)
        data = read_structured_file(Path(config.path).expanduser(), source=self.name)
        items = data.get("evidence") if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise SchemaDriftError(
                self.name, "the evidence file must hold a list of entries", field="evidence"
            )
        parsed = []
        for index, item in enumerate(items):
            try:
                parsed.append(EvidenceEntry.model_validate(item))
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                raise SchemaDriftError(
                    self.name,
                    f"evidence[{index}].{where}: {first['msg']}",
                    stream="evidence",
                    field=f"evidence[{index}].{where}",
                ) from None
        return parsed

    def check(self) -> list[CheckResult]:
        """Read and validate the file (writes nothing)."""
        try:
            count = len(self.entries())
        except (SchemaDriftError, UpstreamError) as exc:
            return [CheckResult("read evidence", ok=False, detail=str(exc))]
        return [CheckResult("read evidence", ok=True, detail=f"{count} entries")]

    def pull_evidence(self, since: str | None) -> Iterator[Record | Checkpoint]:
        """Every entry of the file."""
        for e in self.entries():
            key = (
                f"{e.framework}:{e.control_id}:{e.check}:{e.subject or '-'}:{e.collected_at.date()}"
            )
            yield self.record("control_evidence", key, **e.model_dump())
