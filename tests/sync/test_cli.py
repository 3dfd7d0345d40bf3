"""`cto sync`, `cto status` and `cto import` end to end through the CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import pytest
from typer.testing import CliRunner, Result

from cto_assistant.cli import app
from cto_assistant.connectors.registry import BUILTIN_KINDS
from cto_assistant.logging import configure_logging


class Invoke(Protocol):
    """Runs `cto …` with the test's config."""

    def __call__(self, *args: str, toml: str | None = None) -> Result: ...


CONFIG = """
[sources.alpha]
kind = "fake"
items = 5

[sources.beta]
kind = "fake"
fail_stream = "teams"
"""


@pytest.fixture
def cto(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Invoke]:
    """Run `cto …` against a fresh data dir with two fake sources configured."""
    monkeypatch.setitem(BUILTIN_KINDS, "fake", "tests.sync.fakes:FakeConnector")
    config = tmp_path / "cto.toml"
    config.write_text(CONFIG)
    env = {"CTO_DATA_DIR": str(tmp_path / "data"), "CTO_CONFIG": str(config), "COLUMNS": "200"}
    runner = CliRunner()

    def run(*args: str, toml: str | None = None) -> Result:
        if toml is not None:
            config.write_text(toml)
        return runner.invoke(app, list(args), env=env)

    yield run
    configure_logging()  # the runner's stderr is closed now; log to the session's stderr again


def test_sync_runs_every_source_and_fails_when_a_stream_failed(cto: Invoke) -> None:
    result = cto("sync")
    assert result.exit_code == 1, result.output
    assert "Sync summary" in result.output
    assert "failed (upstream)" in result.output
    assert "1 of 4 stream(s) failed" in result.output


def test_sync_of_healthy_sources_exits_zero(cto: Invoke) -> None:
    result = cto("sync", "alpha")
    assert result.exit_code == 0, result.output
    assert "2 stream(s) synced" in result.output
    again = cto("sync", "alpha", "--stream", "teams")
    assert again.exit_code == 0
    assert "1 stream(s) synced" in again.output


def test_sync_check_reports_each_capability(cto: Invoke) -> None:
    result = cto("sync", "--check")
    assert result.exit_code == 1
    assert "read people" in result.output
    assert "failed" in result.output


def test_sync_names_unknown_or_missing_sources(cto: Invoke) -> None:
    unknown = cto("sync", "gamma")
    assert unknown.exit_code == 1
    assert "no source named gamma" in unknown.output
    empty = cto("sync", toml="")
    assert empty.exit_code == 2
    assert "no sources configured" in empty.output


def test_status_shows_freshness_and_last_error(cto: Invoke) -> None:
    cto("sync")
    result = cto("status")
    assert result.exit_code == 0, result.output
    assert "alpha" in result.output and "ok" in result.output
    assert "degraded" in result.output
    assert "upstream" in result.output

    data = json.loads(cto("status", "--json").output)
    states = {s["source"]: s["state"] for s in data}
    assert states == {"alpha": "ok", "beta": "degraded"}


def test_import_is_all_or_nothing_with_line_numbers(cto: Invoke, tmp_path: Path) -> None:
    good = tmp_path / "d.csv"
    good.write_text(
        "id,service,environment,status,finished_at\n"
        "d1,api,production,success,2025-05-01T10:00:00Z\n"
    )
    result = cto("import", "deployments", str(good))
    assert result.exit_code == 0, result.output
    assert "imported 1 deployments" in result.output

    bad = tmp_path / "bad.csv"
    bad.write_text(good.read_text() + "d2,api,production,success,\n")
    refused = cto("import", "deployments", str(bad))
    assert refused.exit_code == 1
    assert "nothing was imported" in refused.output
    assert "line 3: finished_at is required when status is success" in refused.output

    other = cto("import", "incidents", str(good), "--source", "alpha")
    assert other.exit_code == 2
    assert "not 'generic'" in other.output
