"""Fixtures of the document tests: the generated sample files, written to disk once per session."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.documents import samples

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def sample_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every sample document as a file, by name."""
    folder = tmp_path_factory.mktemp("samples")
    contents = {
        "security-report.pdf": samples.security_report_pdf(),
        "security-review.docx": samples.security_report_docx(),
        "roadmap.pptx": samples.roadmap_pptx(),
        "budget.xlsx": samples.budget_xlsx(),
        "architecture.drawio": samples.architecture_drawio(),
        "checkout-flow.mmd": samples.MERMAID.encode(),
        "payments.puml": samples.PLANTUML.encode(),
    }
    paths = {}
    for name, data in contents.items():
        path = folder / name
        path.write_bytes(data)
        paths[name] = path
    return paths
