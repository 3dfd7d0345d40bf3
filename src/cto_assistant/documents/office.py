"""DOCX, PPTX and XLSX → blocks, through python-docx, python-pptx and openpyxl.

These libraries read the XML parts of the (already size- and macro-checked) ZIP container;
they never run macros, resolve external entities or fetch linked content.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from cto_assistant.documents.model import Block, DocumentError, ParsedDocument
from cto_assistant.documents.sniff import Limits
from cto_assistant.documents.text import guarded, title_from_name

ROWS_PER_BLOCK = 25
WORD_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def parse_docx(data: bytes, name: str, limits: Limits) -> ParsedDocument:
    """Extract a Word document in reading order: headings (with level), paragraphs, tables."""
    from docx import Document as open_docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    with guarded(name, "Word document"):
        document = open_docx(io.BytesIO(data))
        title = (document.core_properties.title or "").strip()
        raw: list[tuple[str, str, int, int]] = []  # kind, text, level, page
        page = 1
        saw_break = False
        for item in document.iter_inner_content():
            if isinstance(item, Paragraph):
                text = " ".join(item.text.split())
                level = _docx_heading_level(item.style.name if item.style is not None else "")
                if text:
                    raw.append(("heading" if level else "text", text, level, page))
                breaks = _page_breaks(item)
                if breaks:
                    saw_break = True
                    page += breaks
            elif isinstance(item, Table):
                rows = [
                    " | ".join(_dedupe_cells(cell.text.strip() for cell in row.cells))
                    for row in item.rows
                ]
                rows = [row for row in rows if row.strip(" |")]
                for start in range(0, len(rows), ROWS_PER_BLOCK):
                    raw.append(("table", "\n".join(rows[start : start + ROWS_PER_BLOCK]), 0, page))
    blocks = [
        Block(kind, text, page=page_no if saw_break else None, level=level)  # type: ignore[arg-type]
        for kind, text, level, page_no in raw
    ]
    _require_text(blocks, name)
    if not title:
        title = next((b.text for b in blocks if b.kind == "heading"), title_from_name(name))
    return ParsedDocument(
        title=title, kind="docx", blocks=blocks, pages=page if saw_break else None
    )


def _docx_heading_level(style: str) -> int:
    if style == "Title":
        return 1
    if style.startswith("Heading"):
        suffix = style.removeprefix("Heading").strip()
        return int(suffix) if suffix.isdigit() else 1
    return 0


def _page_breaks(paragraph: Any) -> int:
    """Explicit page breaks plus Word's last-rendered ones inside a paragraph."""
    element = paragraph._p
    explicit = element.findall(f".//{{{WORD_NS}}}br[@{{{WORD_NS}}}type='page']")
    rendered = element.findall(f".//{{{WORD_NS}}}lastRenderedPageBreak")
    return len(explicit) + len(rendered)


def _dedupe_cells(cells: Iterable[str]) -> list[str]:
    """Merged cells repeat their text in python-docx; keep one copy of each run."""
    out: list[str] = []
    for cell in cells:
        if not out or out[-1] != cell:
            out.append(" ".join(cell.split()))
    return out


def parse_pptx(data: bytes, name: str, limits: Limits) -> ParsedDocument:
    """Extract a deck slide by slide: the title as heading, text frames, tables and notes."""
    from pptx import Presentation

    with guarded(name, "PowerPoint deck"):
        deck = Presentation(io.BytesIO(data))
        title = (deck.core_properties.title or "").strip()
        blocks: list[Block] = []
        slides = 0
        for number, slide in enumerate(deck.slides, start=1):
            slides = number
            if number > limits.max_pages:
                raise DocumentError(name, f"more than {limits.max_pages:,} slides")
            title_shape = slide.shapes.title
            heading = " ".join((title_shape.text_frame.text if title_shape else "").split())
            blocks.append(Block("heading", heading or f"Slide {number}", page=number, level=1))
            for shape in _flatten(slide.shapes):
                if title_shape is not None and shape.shape_id == title_shape.shape_id:
                    continue
                blocks.extend(_shape_blocks(shape, number))
            if slide.has_notes_slide:
                notes = " ".join(slide.notes_slide.notes_text_frame.text.split())
                if notes:
                    blocks.append(Block("text", f"Speaker notes: {notes}", page=number))
    _require_text(blocks, name)
    if not title:
        title = blocks[0].text if blocks else title_from_name(name)
    return ParsedDocument(title=title, kind="pptx", blocks=blocks, pages=slides)


def _flatten(shapes: Iterable[Any]) -> Iterable[Any]:
    for shape in shapes:
        if shape.shape_type is not None and int(shape.shape_type) == 6:  # MSO_SHAPE_TYPE.GROUP
            yield from _flatten(shape.shapes)
        else:
            yield shape


def _shape_blocks(shape: Any, page: int) -> list[Block]:
    blocks: list[Block] = []
    if getattr(shape, "has_text_frame", False) and shape.has_text_frame:
        for paragraph in shape.text_frame.paragraphs:
            text = " ".join("".join(run.text for run in paragraph.runs).split())
            if text:
                blocks.append(Block("text", text, page=page))
    if getattr(shape, "has_table", False) and shape.has_table:
        rows = [
            " | ".join(" ".join(cell.text.split()) for cell in row.cells)
            for row in shape.table.rows
        ]
        rows = [row for row in rows if row.strip(" |")]
        if rows:
            blocks.append(Block("table", "\n".join(rows), page=page))
    return blocks


def parse_xlsx(data: bytes, name: str, limits: Limits) -> ParsedDocument:
    """Extract a workbook sheet by sheet (values, not formulas), the header row repeated."""
    from openpyxl import load_workbook

    with guarded(name, "Excel workbook"):
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            title = (workbook.properties.title or "").strip()
            blocks: list[Block] = []
            cells = 0
            sheets = 0
            for number, sheet in enumerate(workbook.worksheets, start=1):
                sheets = number
                blocks.append(Block("heading", sheet.title, page=number, level=1))
                header: str | None = None
                rows: list[str] = []
                for values in sheet.iter_rows(values_only=True):
                    cells += len(values)
                    if cells > limits.max_cells:
                        raise DocumentError(name, f"more than {limits.max_cells:,} cells")
                    shown = [_cell_text(value) for value in values]
                    while shown and not shown[-1]:
                        shown.pop()
                    if not any(shown):
                        continue
                    row = " | ".join(shown)
                    if header is None:
                        header = row
                        continue
                    rows.append(row)
                    if len(rows) == ROWS_PER_BLOCK:
                        blocks.append(Block("table", "\n".join([header, *rows]), page=number))
                        rows = []
                if header is not None and (
                    rows or not any(b.page == number and b.kind == "table" for b in blocks)
                ):
                    blocks.append(Block("table", "\n".join([header, *rows]), page=number))
        finally:
            workbook.close()
    _require_text([b for b in blocks if b.kind != "heading"], name)
    return ParsedDocument(
        title=title or title_from_name(name), kind="xlsx", blocks=blocks, pages=sheets
    )


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="minutes").removesuffix(" 00:00")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return " ".join(str(value).split())


def _require_text(blocks: list[Block], name: str) -> None:
    if not any(block.text.strip() for block in blocks):
        raise DocumentError(name, "the document has no text")
