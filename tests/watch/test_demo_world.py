"""On the demo world: the first sync opens exactly the storyline alerts; reports and the CLI."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from pypdf import PdfReader
from typer.testing import CliRunner

from cto_assistant.cli import app
from cto_assistant.demo.run import DemoRun, prepare_demo
from cto_assistant.settings import Settings
from cto_assistant.store.models import Alert
from cto_assistant.watch.evaluate import run_watch

STORYLINE = {
    "cost_anomaly",  # S3 in us-east-1, ~$8k over expected (the EC2 ones are < $1,000)
    "budget_projection",  # month-end projection over the company budget
    "slo_burn",  # payments-api availability, page burn
    "kev_in_production",  # CVE in checkout-service, production, in CISA KEV
    "privileged_leaver",  # departed engineer still AWS admin
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoRun]:
    data_dir = tmp_path_factory.mktemp("demo")
    run = prepare_demo(Settings(data_dir=data_dir), seed=7, today=date(2025, 6, 18), scale="small")
    yield run
    run.stop()


def open_alerts(demo: DemoRun) -> list[Alert]:
    with demo.store.session() as session:
        rows = list(session.scalars(sa.select(Alert).where(Alert.closed_at.is_(None))))
        session.expunge_all()
        return rows


def test_first_sync_opens_exactly_the_storyline_alerts(demo: DemoRun) -> None:
    rows = open_alerts(demo)  # opened by the sync engine's post-sync hook
    rules = sorted(a.rule for a in rows)
    assert len(rules) == len(set(rules))  # one alert per storyline
    assert set(rules) <= STORYLINE  # and no others
    assert set(rules) >= STORYLINE
    by_rule = {a.rule: a for a in rows}
    assert "payments-api" in by_rule["slo_burn"].subject
    assert "checkout-service" in by_rule["kev_in_production"].subject
    assert "S3" in by_rule["cost_anomaly"].subject


def test_the_departed_admin_is_alerted(demo: DemoRun) -> None:
    assert "privileged_leaver" in {a.rule for a in open_alerts(demo)}


def test_a_second_run_opens_nothing_new(demo: DemoRun) -> None:
    before = {a.fingerprint for a in open_alerts(demo)}
    again = run_watch(demo.store, demo.settings)
    assert again.opened == [] and again.escalated == [] and again.closed == []
    assert {a.fingerprint for a in open_alerts(demo)} == before


def _cli(demo: DemoRun, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CTO_")}
    env.update(
        {
            "CTO_DATA_DIR": str(demo.settings.data_dir),
            "CTO_DATABASE_URL": demo.settings.effective_database_url,
            "CTO_CLOCK": demo.settings.now().isoformat(),
            "COLUMNS": "200",
            "NO_COLOR": "1",
        }
    )
    result = CliRunner().invoke(app, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result.output


def test_cto_alerts_lists_the_open_alerts(demo: DemoRun) -> None:
    out = _cli(demo, "alerts", "--open")
    for alert in open_alerts(demo):
        assert alert.rule in out
    assert "critical" in out


def test_weekly_pdf_is_a_two_page_brief_across_the_domains(demo: DemoRun, tmp_path: Path) -> None:
    target = tmp_path / "brief.pdf"
    _cli(demo, "report", "weekly", "--format", "pdf", "-o", str(target))
    reader = PdfReader(target)
    assert len(reader.pages) == 2
    text = " ".join(page.extract_text() for page in reader.pages)
    for needle in ("Status:", "Cloud spend", "engineer-hours", "Delivery", "Security and compliance",
                   "Top risks", "Decisions needed", "payments-api", "S3"):  # fmt: skip
        assert needle in text, needle
    assert sum(len(page.images) for page in reader.pages) == 4  # the four charts


def test_weekly_markdown_writes_chart_images_beside_it(demo: DemoRun, tmp_path: Path) -> None:
    target = tmp_path / "brief.md"
    _cli(demo, "report", "weekly", "-o", str(target))
    text = target.read_text()
    assert "```vega-lite" not in text and "](brief-chart-1.png)" in text
    assert (tmp_path / "brief-chart-4.png").read_bytes().startswith(b"\x89PNG")
