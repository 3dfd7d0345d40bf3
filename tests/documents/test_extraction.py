"""Extraction from real generated documents keeps headings, numbers and page numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from cto_assistant.documents import parse_document
from cto_assistant.documents.chunking import chunk_blocks
from tests.documents import samples


def parse(path: Path):  # type: ignore[no-untyped-def]
    return parse_document(path.read_bytes(), path.name)


def test_pdf_keeps_headings_with_levels_and_page_numbers(sample_files: dict[str, Path]) -> None:
    document = parse(sample_files["security-report.pdf"])
    assert document.kind == "pdf" and document.pages == 4
    assert document.title == "Acme Security Report Q2"
    headings = [(b.text, b.level, b.page) for b in document.blocks if b.kind == "heading"]
    assert headings == [
        ("1. Executive Summary", 1, 1),
        ("2. Findings", 1, 2),
        ("2.1 Encryption at Rest", 2, 2),
        ("3. Vulnerability Table", 1, 3),
        ("4. Recommendations", 1, 4),
    ]
    planted = [b for b in document.blocks if samples.PLANTED in b.text]
    assert len(planted) == 1 and planted[0].page == 2


def test_pdf_table_keeps_every_number_on_its_page(sample_files: dict[str, Path]) -> None:
    document = parse(sample_files["security-report.pdf"])
    page_three = " ".join(b.text for b in document.blocks if b.page == 3)
    for row in samples.TABLE_ROWS:
        for value in row:
            assert value in page_three
    assert "7.2" in document.text and "4.1" in document.text and "43%" in document.text


def test_pdf_chunks_carry_the_heading_path_and_page(sample_files: dict[str, Path]) -> None:
    chunks = chunk_blocks(parse(sample_files["security-report.pdf"]).blocks)
    planted = next(c for c in chunks if samples.PLANTED in c.text)
    assert planted.page == 2
    assert planted.heading == "2. Findings \u203a 2.1 Encryption at Rest"
    assert all(c.page is not None for c in chunks)


def test_docx_keeps_heading_levels_tables_and_page_breaks(sample_files: dict[str, Path]) -> None:
    document = parse(sample_files["security-review.docx"])
    assert document.title == "Platform Security Review" and document.pages == 2
    headings = [(b.text, b.level) for b in document.blocks if b.kind == "heading"]
    assert headings == [
        ("Platform Security Review", 1),
        ("Summary", 1),
        ("Encryption", 1),
        ("Vulnerabilities", 2),
    ]
    table = next(b for b in document.blocks if b.kind == "table")
    assert "checkout-service | 3 | 7 | 12" in table.text and table.page == 2
    assert next(b for b in document.blocks if samples.PLANTED in b.text).page == 2


def test_pptx_has_one_page_per_slide_with_titles_tables_and_notes(
    sample_files: dict[str, Path],
) -> None:
    document = parse(sample_files["roadmap.pptx"])
    assert document.pages == 3 and document.title == "Q3 Platform Roadmap"
    headings = [(b.text, b.page) for b in document.blocks if b.kind == "heading"]
    assert headings == [("Q3 Platform Roadmap", 1), ("Goals", 2), ("Open vulnerabilities", 3)]
    assert any("480 ms to 250 ms" in b.text and b.page == 2 for b in document.blocks)
    assert any("$1.2 million" in b.text and b.page == 2 for b in document.blocks)
    assert any("identity-gateway | 1 | 2 | 5" in b.text and b.page == 3 for b in document.blocks)


def test_xlsx_reads_values_sheet_by_sheet(sample_files: dict[str, Path]) -> None:
    document = parse(sample_files["budget.xlsx"])
    assert document.pages == 2
    assert [b.text for b in document.blocks if b.kind == "heading"] == ["Cloud budget", "Headcount"]
    assert "platform | 120000 | 131500.5" in document.text
    assert "payments | 14" in document.text


def test_html_drops_scripts_and_keeps_structure() -> None:
    page = b"""<!doctype html><html><head><title>Incident review</title>
    <script>alert('x')</script><style>p{}</style></head><body>
    <h1>Incident 42</h1><p>Checkout was down for <b>37 minutes</b>.</p>
    <ul><li>Root cause: expired TLS certificate</li></ul>
    <table><tr><th>Metric</th><th>Value</th></tr><tr><td>MTTR</td><td>37</td></tr></table>
    <iframe src="https://evil.example"></iframe></body></html>"""
    document = parse_document(page, "review.html")
    assert document.title == "Incident review"
    texts = [(b.kind, b.text) for b in document.blocks]
    assert texts == [
        ("heading", "Incident 42"),
        ("text", "Checkout was down for 37 minutes."),
        ("text", "Root cause: expired TLS certificate"),
        ("table", "Metric | Value"),
        ("table", "MTTR | 37"),
    ]
    assert "alert" not in document.text


def test_markdown_headings_lists_and_tables() -> None:
    text = b"""# Runbook

Restart the **payments** worker if the queue exceeds 10,000 jobs.

## Steps
- Drain the node
- Run `kubectl rollout restart`

| Step | Minutes |
|------|---------|
| drain | 5 |
"""
    document = parse_document(text, "runbook.md")
    assert document.title == "Runbook"
    assert [(b.kind, b.text) for b in document.blocks] == [
        ("heading", "Runbook"),
        ("text", "Restart the payments worker if the queue exceeds 10,000 jobs."),
        ("heading", "Steps"),
        ("text", "Drain the node"),
        ("text", "Run kubectl rollout restart"),
        ("table", "Step | Minutes"),
        ("table", "drain | 5"),
    ]


def test_plain_text_is_split_into_paragraphs() -> None:
    document = parse_document(b"First line\ncontinues here.\n\nSecond paragraph.\n", "notes.txt")
    assert [b.text for b in document.blocks] == ["First line continues here.", "Second paragraph."]


@pytest.mark.parametrize("compressed", [False, True])
def test_drawio_gives_components_containers_and_labelled_connections(compressed: bool) -> None:
    document = parse_document(samples.architecture_drawio(compressed=compressed), "arch.drawio")
    diagram = document.diagram
    assert diagram is not None and document.title == "Checkout architecture"
    assert [(c.name, c.kind, c.container) for c in diagram.components] == [
        ("Production VPC", "container", None),
        ("Web App", "component", "Production VPC"),
        ("Checkout API", "component", "Production VPC"),
        ("Orders DB", "database", "Production VPC"),
        ("Payment Gateway", "component", None),
    ]
    assert [(c.source, c.target, c.label) for c in diagram.connections] == [
        ("Web App", "Checkout API", "HTTPS"),
        ("Checkout API", "Orders DB", "SQL"),
        ("Checkout API", "Payment Gateway", "card auth"),
    ]
    assert "Connection: Web App \u2192 Checkout API: HTTPS." in document.text


def test_mermaid_flowchart_gives_components_and_connections() -> None:
    document = parse_document(samples.MERMAID.encode(), "checkout-flow.mmd")
    diagram = document.diagram
    assert diagram is not None and document.title == "Checkout flow"
    assert [(c.name, c.kind, c.container) for c in diagram.components] == [
        ("CDN", "component", "Edge"),
        ("Web App", "component", None),
        ("Checkout API", "component", None),
        ("Orders DB", "database", None),
        ("Events Queue", "component", None),
        ("Audit Log", "component", None),
    ]
    assert [(c.source, c.target, c.label) for c in diagram.connections] == [
        ("CDN", "Web App", ""),
        ("Web App", "Checkout API", "REST"),
        ("Checkout API", "Orders DB", "SQL"),
        ("Checkout API", "Events Queue", ""),
        ("Checkout API", "Audit Log", ""),
    ]


def test_mermaid_sequence_diagram_gives_participants_and_messages() -> None:
    text = b"sequenceDiagram\n  participant W as Web\n  actor U\n  U->>W: open cart\n  W-->>API: GET /cart\n"
    diagram = parse_document(text, "seq.mmd").diagram
    assert diagram is not None
    assert [c.name for c in diagram.components] == ["Web", "U", "API"]
    assert [(c.source, c.target, c.label) for c in diagram.connections] == [
        ("U", "Web", "open cart"),
        ("Web", "API", "GET /cart"),
    ]


def test_plantuml_gives_components_aliases_and_connections() -> None:
    diagram = parse_document(samples.PLANTUML.encode(), "payments.puml").diagram
    assert diagram is not None
    assert [(c.name, c.kind) for c in diagram.components] == [
        ("Customer", "actor"),
        ("Payments API", "component"),
        ("Ledger DB", "database"),
    ]
    assert [(c.source, c.target, c.label) for c in diagram.connections] == [
        ("Customer", "Payments API", "pays"),
        ("Payments API", "Ledger DB", "writes"),
    ]
