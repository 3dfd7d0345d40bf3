"""Real documents made on the fly: a multi-page PDF with headings and a table, DOCX, PPTX, XLSX,
draw.io and Mermaid diagrams, plus damaged and hostile variants of them."""

from __future__ import annotations

import base64
import io
import zipfile
import zlib
from functools import cache
from urllib.parse import quote

PLANTED = (
    "The audit confirmed that nightly backups in eu-west-1 are sealed with quantum-safe "
    "key rotation every 45 days."
)
KEY_FACT_RISK = "Overall risk score fell from 7.2 to 4.1 this quarter, a 43% improvement."
KEY_FACT_VULNS = (
    "3 critical vulnerabilities remain open in checkout-service and must be fixed by June 30."
)
FILLER = (
    "The security team reviewed access logs, network rules and deployment pipelines across all "
    "production accounts. Engineers documented each control and the evidence collected for it. "
    "Several teams improved their review process and closed stale tickets."
)
TABLE_ROWS = [
    ("Service", "Critical", "High", "Medium"),
    ("checkout-service", "3", "7", "12"),
    ("payments-api", "0", "4", "9"),
    ("identity-gateway", "1", "2", "5"),
]


@cache
def security_report_pdf(*, extra_pages: int = 0, encrypt: bool = False) -> bytes:
    """A 4-page security report (plus filler pages) with an outline, headings and a table."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_title("Acme Security Report Q2")
    pdf.set_font("Helvetica", size=11)

    def heading(text: str, level: int = 0) -> None:
        pdf.start_section(text, level=level)
        pdf.set_font("Helvetica", style="B", size=16 - 2 * level)
        pdf.multi_cell(0, 9, text, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=11)

    def para(text: str) -> None:
        pdf.multi_cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)

    pdf.add_page()
    heading("1. Executive Summary")
    para(KEY_FACT_RISK)
    para(FILLER)
    pdf.add_page()
    heading("2. Findings")
    para(FILLER)
    heading("2.1 Encryption at Rest", level=1)
    para(PLANTED)
    para(FILLER)
    pdf.add_page()
    heading("3. Vulnerability Table")
    para(KEY_FACT_VULNS)
    with pdf.table() as table:
        for values in TABLE_ROWS:
            row = table.row()
            for value in values:
                row.cell(value)
    pdf.add_page()
    heading("4. Recommendations")
    para("We recommend enabling MFA for every admin account within 14 days.")
    for number in range(extra_pages):
        pdf.add_page()
        heading(f"{5 + number}. Appendix {number + 1}")
        for _ in range(4):
            para(f"Appendix {number + 1} records control evidence item {number * 4 + _}. {FILLER}")
    if encrypt:
        pdf.set_encryption(owner_password="owner-secret", user_password="user-secret")
    return bytes(pdf.output())


@cache
def security_report_docx() -> bytes:
    """A Word report with a title, headings, a table and an explicit page break."""
    from docx import Document
    from docx.enum.text import WD_BREAK

    document = Document()
    document.core_properties.title = "Platform Security Review"
    document.add_heading("Platform Security Review", level=0)
    document.add_heading("Summary", level=1)
    document.add_paragraph(KEY_FACT_RISK)
    document.add_paragraph(FILLER)
    document.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
    document.add_heading("Encryption", level=1)
    document.add_paragraph(PLANTED)
    table = document.add_table(rows=len(TABLE_ROWS), cols=4)
    for r, values in enumerate(TABLE_ROWS):
        for c, value in enumerate(values):
            table.cell(r, c).text = value
    document.add_heading("Vulnerabilities", level=2)
    document.add_paragraph(KEY_FACT_VULNS)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


@cache
def roadmap_pptx() -> bytes:
    """A 3-slide deck: titles, bullets, a table and speaker notes."""
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[0])
    slide.shapes.title.text = "Q3 Platform Roadmap"
    slide.placeholders[1].text = "Prepared for the CTO staff meeting"
    slide = deck.slides.add_slide(deck.slide_layouts[1])
    slide.shapes.title.text = "Goals"
    body = slide.placeholders[1].text_frame
    body.text = "Cut p95 checkout latency from 480 ms to 250 ms"
    body.add_paragraph().text = PLANTED
    slide.notes_slide.notes_text_frame.text = "Budget approved: $1.2 million."
    slide = deck.slides.add_slide(deck.slide_layouts[5])
    slide.shapes.title.text = "Open vulnerabilities"
    shape = slide.shapes.add_table(len(TABLE_ROWS), 4, Inches(1), Inches(2), Inches(8), Inches(2))
    for r, values in enumerate(TABLE_ROWS):
        for c, value in enumerate(values):
            shape.table.cell(r, c).text = value
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()


@cache
def budget_xlsx() -> bytes:
    """A workbook with two sheets of figures."""
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Cloud budget"
    sheet.append(["Team", "Budget", "Actual"])
    sheet.append(["platform", 120000, 131500.5])
    sheet.append(["data", 80000, 112000])
    other = workbook.create_sheet("Headcount")
    other.append(["Team", "Engineers"])
    other.append(["payments", 14])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


DRAWIO_MODEL = """<mxGraphModel><root>
<mxCell id="0"/><mxCell id="1" parent="0"/>
<mxCell id="vpc" value="Production VPC" style="swimlane;container=1" vertex="1" parent="1"/>
<mxCell id="web" value="&lt;b&gt;Web App&lt;/b&gt;" style="rounded=1" vertex="1" parent="vpc"/>
<mxCell id="api" value="Checkout API" style="rounded=1" vertex="1" parent="vpc"/>
<mxCell id="db" value="Orders DB" style="shape=cylinder3;whiteSpace=wrap" vertex="1" parent="vpc"/>
<object label="Payment Gateway" id="pay"><mxCell style="ellipse" vertex="1" parent="1"/></object>
<mxCell id="e1" value="HTTPS" edge="1" source="web" target="api" parent="1"/>
<mxCell id="e2" edge="1" source="api" target="db" parent="1"/>
<mxCell id="e2l" value="SQL" style="edgeLabel" vertex="1" connectable="0" parent="e2"/>
<mxCell id="e3" value="card auth" edge="1" source="api" target="pay" parent="1"/>
</root></mxGraphModel>"""


def architecture_drawio(*, compressed: bool = False) -> bytes:
    """A draw.io file with a container, four components and three labelled arrows."""
    if compressed:
        deflater = zlib.compressobj(9, zlib.DEFLATED, -15)
        raw = deflater.compress(quote(DRAWIO_MODEL, safe="").encode()) + deflater.flush()
        body = base64.b64encode(raw).decode()
    else:
        body = DRAWIO_MODEL
    return (
        '<mxfile host="app.diagrams.net"><diagram name="Checkout architecture" id="d1">'
        f"{body}</diagram></mxfile>"
    ).encode()


MERMAID = """---
title: Checkout flow
---
flowchart LR
    subgraph edge [Edge]
      cdn[CDN]
    end
    cdn --> web(Web App)
    web -->|REST| api[Checkout API]
    api -- SQL --> db[(Orders DB)]
    api -.-> queue[[Events Queue]] & audit[Audit Log]
    %% a comment
"""

PLANTUML = """@startuml
title Payments
actor Customer
component [Payments API] as pay
database "Ledger DB" as ledger
Customer --> pay : pays
pay --> ledger : writes
@enduml
"""


@cache
def zip_bomb_docx(*, inflated_mib: int = 8) -> bytes:
    """A real DOCX with one extra part that inflates ~1000:1 (a zip bomb's signature)."""
    source = zipfile.ZipFile(io.BytesIO(security_report_docx()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(info, source.read(info.filename))
        with target.open("word/media/padding.bin", "w") as part:
            block = b"\0" * (1024 * 1024)
            for _ in range(inflated_mib):
                part.write(block)
    return out.getvalue()
