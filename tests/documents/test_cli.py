"""`cto docs add / list / search / show` end to end on a SQLite data dir."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cto_assistant.cli import app
from tests.documents import samples


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith("CTO_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CTO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    return tmp_path / "data"


def flat(output: str) -> str:
    """Terminal output with Rich's line wrapping undone."""
    return " ".join(output.split())


def test_docs_add_a_folder_then_list_search_and_show(sample_files: dict[str, Path]) -> None:
    runner = CliRunner()
    folder = next(iter(sample_files.values())).parent
    added = runner.invoke(app, ["docs", "add", str(folder)])
    assert added.exit_code == 0, added.output
    assert "Acme Security Report Q2 (pdf, 4 pages" in flat(added.output)
    assert added.output.count("✓") == len(sample_files)

    again = runner.invoke(app, ["docs", "add", str(sample_files["security-report.pdf"])])
    assert again.exit_code == 0 and "(pdf, 4 pages, 5 chunks, already stored)" in flat(again.output)

    listed = runner.invoke(app, ["docs", "list"])
    assert listed.exit_code == 0 and "Checkout architecture" in listed.output

    found = runner.invoke(app, ["docs", "search", "quantum-safe key rotation"])
    assert found.exit_code == 0
    assert "Acme Security Report Q2 · 2. Findings" in flat(found.output)
    assert "p. 2" in found.output

    shown = runner.invoke(app, ["docs", "show", "security report q2"])
    assert shown.exit_code == 0 and samples.KEY_FACT_VULNS in flat(shown.output)


def test_docs_add_reports_refused_files_and_fails(tmp_path: Path) -> None:
    good = tmp_path / "notes.md"
    good.write_text("# Notes\n\nThe on-call rotation changes on 1 July.\n")
    bad = tmp_path / "report.pdf"
    bad.write_bytes(samples.security_report_pdf()[:1500])
    result = CliRunner().invoke(app, ["docs", "add", str(good), str(bad)])
    assert result.exit_code == 1
    assert "✓" in result.output and "report.pdf: the PDF is truncated" in flat(result.output)
    assert "1 of 2 file(s) refused" in flat(result.output)
