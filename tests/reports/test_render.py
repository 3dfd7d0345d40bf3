"""Rendering a report's Markdown: blocks, HTML with inline SVG charts, PDF, Markdown + PNGs."""

from __future__ import annotations

import json
from io import BytesIO
from pathlib import Path

from pypdf import PdfReader

from cto_assistant.reports.render import latin1, parse_blocks, to_html, to_markdown_files, to_pdf
from cto_assistant.reports.weekly import chart_block

SPEC = {
    "$schema": "https://vega.github.io/schema/vega-lite/v6.json",
    "width": "container",
    "data": {"values": [{"k": "S3", "v": 7707}, {"k": "else", "v": 971}]},
    "mark": "bar",
    "encoding": {
        "x": {"field": "k", "type": "nominal"},
        "y": {"field": "v", "type": "quantitative"},
    },
}
REPORT = (
    "# Weekly engineering brief — Jun 11 to Jun 18, 2025\n\n"
    "**Status: Critical** — 1 exploited critical vulnerability in production.\n\n"
    "| Spend | Incidents |\n|---|---|\n| $71,368 (+14%) | 10 (1 open) |\n\n"
    "## What changed this week, and why\n\n### Cloud spend\n"
    "- Cloud spend is up **13.8%** → $71,368.\n  - nested detail\n\n"
    + chart_block(SPEC, title="Spend change")
    + chart_block(SPEC, title="Again")
    + "\n## Decisions needed\n- Approve the patch window.\n"
)


def test_markdown_parses_into_blocks_with_charts_side_by_side() -> None:
    kinds = [b.kind for b in parse_blocks(REPORT)]
    assert kinds == ["h1", "p", "table", "h2", "h3", "ul", "charts", "h2", "ul"]
    blocks = parse_blocks(REPORT)
    assert blocks[5].items == [(1, "Cloud spend is up **13.8%** → $71,368."), (2, "nested detail")]
    assert len(blocks[6].charts) == 2 and blocks[6].charts[0]["width"] == 250


def test_html_is_standalone_with_inline_svg_charts() -> None:
    page = to_html(REPORT)
    assert page.count("<svg") == 2 and "<script" not in page and "vega-lite" not in page
    assert '<div class="charts">' in page and "<table>" in page


def test_pdf_draws_text_and_charts() -> None:
    reader = PdfReader(BytesIO(to_pdf(REPORT)))
    text = reader.pages[0].extract_text()
    assert "Status: Critical" in text and "Decisions needed" in text and "->" in text
    assert len(reader.pages[0].images) == 2


def test_markdown_file_gets_png_charts_beside_it(tmp_path: Path) -> None:
    written = to_markdown_files(REPORT, tmp_path / "brief.md")
    assert [p.name for p in written] == ["brief.md", "brief-chart-1.png", "brief-chart-2.png"]
    assert "![Spend change](brief-chart-1.png)" in written[0].read_text()


def test_latin1_folds_what_core_fonts_cannot_draw() -> None:
    assert latin1("a — b → c \u00d7 2 ≥ 1") == "a  -  b -> c x 2 >= 1"
    assert json.dumps(latin1("naïve · ok")) == json.dumps("naïve · ok")


def test_raw_html_in_vendor_text_is_escaped_not_rendered() -> None:
    from cto_assistant.reports.render import _markdown

    html = _markdown().render('Incident <script>alert("x")</script> on <b>checkout</b>')
    assert "<script>" not in html and "&lt;script&gt;" in html
