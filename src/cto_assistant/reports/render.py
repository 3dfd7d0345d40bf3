"""Render a report's Markdown as HTML, PDF, or Markdown with chart images beside it.

The Markdown is the stored report; its ```vega-lite fences are the tools' chart specs. Charts
are drawn by vl-convert (SVG for HTML, PNG for PDF and files); the PDF is laid out with fpdf2,
pure pip, no system library. The PDF uses the built-in Helvetica, so text is folded to
Latin-1 (dashes, arrows and the like have plain equivalents).
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any

import vl_convert
from fpdf import FPDF
from markdown_it import MarkdownIt
from markdown_it.token import Token

CHART_LANG = "vega-lite"
STATUS_COLORS = {
    "critical": (190, 30, 45),
    "degraded": (214, 120, 0),
    "nominal": (30, 130, 60),
}
INK = (33, 37, 41)
MUTED = (108, 117, 125)
ACCENT = (20, 60, 120)
LATIN1 = {
    "\u2014": " - ", "\u2013": "-", "\u2192": "->", "\u00d7": "x", "\u2265": ">=",
    "\u2264": "<=", "\u2026": "...", "\u2019": "'", "\u2018": "'", "\u201c": '"',
    "\u201d": '"', "\u2022": "\u00b7", "\u2248": "~", "\u2212": "-", "\u00a0": " ",
}  # fmt: skip


@dataclass
class Block:
    """One piece of the document: heading, paragraph, bullets, table or a row of charts."""

    kind: str  # h1, h2, h3, p, ul, table, charts
    text: str = ""
    items: list[tuple[int, str]] = field(default_factory=list)  # (depth, text) for ul
    rows: list[list[str]] = field(default_factory=list)
    charts: list[dict[str, Any]] = field(default_factory=list)


def _markdown() -> MarkdownIt:
    # Vendor text (ticket titles, incident names) ends up in the report: never raw HTML.
    return MarkdownIt("commonmark", {"html": False}).enable("table")


def parse_blocks(markdown: str) -> list[Block]:
    """The report's Markdown as blocks (consecutive charts share a row)."""
    tokens = _markdown().parse(markdown)
    blocks: list[Block] = []
    depth = 0
    cells: list[str] = []
    for index, token in enumerate(tokens):
        kind = token.type
        if kind == "fence" and token.info.strip() == CHART_LANG:
            spec = json.loads(token.content)
            if blocks and blocks[-1].kind == "charts" and len(blocks[-1].charts) < 2:
                blocks[-1].charts.append(spec)
            else:
                blocks.append(Block("charts", charts=[spec]))
        elif kind == "heading_open":
            blocks.append(Block(token.tag, text=_inline(tokens[index + 1])))
        elif kind == "bullet_list_open":
            depth += 1
            if depth == 1:
                blocks.append(Block("ul"))
        elif kind == "bullet_list_close":
            depth -= 1
        elif kind == "inline" and depth and tokens[index - 1].type == "paragraph_open":
            blocks[-1].items.append((depth, _inline(token)))
        elif kind == "inline" and tokens[index - 1].type == "paragraph_open":
            blocks.append(Block("p", text=_inline(token)))
        elif kind == "table_open":
            blocks.append(Block("table"))
        elif kind == "tr_open":
            cells = []
        elif kind == "inline" and tokens[index - 1].type in ("th_open", "td_open"):
            cells.append(_inline(token))
        elif kind == "tr_close":
            blocks[-1].rows.append(cells)
    return blocks


def _inline(token: Token) -> str:
    """Inline text keeping **bold** markers (fpdf2's markdown) and dropping other marks."""
    out = []
    for child in token.children or []:
        if child.type == "text" or child.type == "code_inline":
            out.append(child.content)
        elif child.type in ("strong_open", "strong_close"):
            out.append("**")
        elif child.type in ("softbreak", "hardbreak"):
            out.append(" ")
    return "".join(out)


def chart_png(spec: dict[str, Any], *, scale: float = 2.0) -> bytes:
    """A Vega-Lite spec as PNG bytes."""
    return bytes(vl_convert.vegalite_to_png(spec, scale=scale))


def chart_svg(spec: dict[str, Any]) -> str:
    """A Vega-Lite spec as an SVG string."""
    return str(vl_convert.vegalite_to_svg(spec))


# ------------------------------------------------------------------------------------- HTML

HTML_STYLE = """
body{font:14px/1.45 -apple-system,Segoe UI,Helvetica,Arial,sans-serif;color:#212529;max-width:960px;margin:2rem auto;padding:0 1rem}
h1{font-size:1.5rem;margin-bottom:.3rem}h2{color:#143c78;border-bottom:1px solid #dee2e6;padding-bottom:.2rem}
h3{margin-bottom:.2rem}table{border-collapse:collapse;width:100%;font-size:13px}
th,td{border:1px solid #dee2e6;padding:.3rem .5rem;text-align:left}th{background:#f1f3f5}
.charts{display:flex;gap:1rem;flex-wrap:wrap}.charts figure{margin:0}em{color:#6c757d}
"""


def to_html(markdown: str, *, title: str = "Weekly engineering brief") -> str:
    """A standalone HTML page; charts inline as SVG (no script, no CDN)."""
    md = _markdown()
    default_fence = getattr(md.renderer, "rules", {}).get("fence")

    def fence(renderer: Any, tokens: list[Token], index: int, options: Any, env: Any) -> str:
        token = tokens[index]
        if token.info.strip() == CHART_LANG:
            svg = chart_svg(json.loads(token.content))
            return f'<figure class="chart">{svg}</figure>\n'
        assert default_fence is not None
        return str(default_fence(tokens, index, options, env))

    md.add_render_rule("fence", fence)
    body = md.render(markdown)
    body = re.sub(
        r'((?:<figure class="chart">.*?</figure>\s*)+)',
        lambda m: f'<div class="charts">{m.group(1)}</div>',
        body,
        flags=re.S,
    )
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{html.escape(title)}</title><style>{HTML_STYLE}</style></head>"
        f"<body>{body}</body></html>\n"
    )


# ----------------------------------------------------------------------------- Markdown files


def to_markdown_files(markdown: str, path: Path) -> list[Path]:
    """Write the Markdown to `path` with each chart as a PNG beside it; return the files."""
    written: list[Path] = []
    counter = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal counter
        counter += 1
        spec = json.loads(match.group(1))
        image = path.with_name(f"{path.stem}-chart-{counter}.png")
        image.write_bytes(chart_png(spec))
        written.append(image)
        title = spec.get("title") or f"Chart {counter}"
        return f"![{title}]({image.name})\n"

    text = re.sub(r"```vega-lite\n(.*?)\n```\n", replace, markdown, flags=re.S)
    path.write_text(text, encoding="utf-8")
    return [path, *written]


# -------------------------------------------------------------------------------------- PDF


def latin1(text: str) -> str:
    """Fold text to what the PDF core fonts can draw."""
    for wide, plain in LATIN1.items():
        text = text.replace(wide, plain)
    return text.encode("latin-1", "replace").decode("latin-1")


class _Brief(FPDF):
    def __init__(self, title: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.brief_title = title
        self.set_margins(13, 12, 13)
        self.set_auto_page_break(auto=True, margin=12)
        self.set_title(title)
        self.set_author("CTO Assistant")
        self.set_creator("CTO Assistant")

    def footer(self) -> None:
        self.set_y(-9)
        self.set_font("Helvetica", size=7)
        self.set_text_color(*MUTED)
        self.cell(0, 4, latin1(f"{self.brief_title}  ·  page {self.page_no()}/{{nb}}"), align="R")


def to_pdf(markdown: str) -> bytes:
    """The brief as an A4 PDF: headings, status banner, tables, bullets, charts two per row."""
    blocks = parse_blocks(markdown)
    title = next((b.text for b in blocks if b.kind == "h1"), "Report")
    pdf = _Brief(latin1(title))
    pdf.alias_nb_pages()
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin
    for block in blocks:
        if block.kind == "h1":
            pdf.set_font("Helvetica", "B", 15)
            pdf.set_text_color(*INK)
            pdf.multi_cell(width, 7, latin1(block.text), new_x="LMARGIN", new_y="NEXT")
            pdf.ln(1)
        elif block.kind == "h2":
            pdf.ln(1.5)
            pdf.set_font("Helvetica", "B", 11)
            pdf.set_text_color(*ACCENT)
            pdf.cell(width, 6, latin1(block.text), new_x="LMARGIN", new_y="NEXT")
            pdf.set_draw_color(*ACCENT)
            pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + width, pdf.get_y())
            pdf.ln(1.2)
        elif block.kind == "h3":
            pdf.ln(0.8)
            pdf.set_font("Helvetica", "B", 9)
            pdf.set_text_color(*INK)
            pdf.cell(width, 4.6, latin1(block.text), new_x="LMARGIN", new_y="NEXT")
        elif block.kind == "p" and block.text.startswith("**Status:"):
            _status_banner(pdf, block.text, width)
        elif block.kind == "p":
            italic = block.text.startswith("_") or block.text.startswith("Generated")
            pdf.set_font("Helvetica", "I" if italic else "", 7 if italic else 8)
            pdf.set_text_color(*(MUTED if italic else INK))
            pdf.multi_cell(width, 3.8, latin1(block.text.strip("_")), markdown=True, align="L",
                           new_x="LMARGIN", new_y="NEXT")  # fmt: skip
        elif block.kind == "ul":
            pdf.set_font("Helvetica", size=8)
            pdf.set_text_color(*INK)
            for depth, text in block.items:
                indent = 2.5 + 4 * (depth - 1)
                pdf.set_x(pdf.l_margin + indent)
                pdf.cell(3, 3.9, "·" if depth == 1 else "-")
                pdf.multi_cell(width - indent - 3, 3.9, latin1(text), markdown=True, align="L",
                               new_x="LMARGIN", new_y="NEXT")  # fmt: skip
                pdf.ln(0.4)
        elif block.kind == "table":
            _table(pdf, block.rows)
        elif block.kind == "charts":
            _charts(pdf, block.charts, width)
    return bytes(pdf.output())


def _status_banner(pdf: FPDF, text: str, width: float) -> None:
    status = text.split("**")[1].removeprefix("Status:").strip().lower()
    color = STATUS_COLORS.get(status, MUTED)
    pdf.set_fill_color(*color)
    pdf.set_text_color(255, 255, 255)
    pdf.set_font("Helvetica", "B", 9)
    pdf.multi_cell(width, 5, latin1(text.replace("**", "")), fill=True, padding=(1, 2),
                   new_x="LMARGIN", new_y="NEXT")  # fmt: skip
    pdf.ln(2)


def _table(pdf: FPDF, rows: list[list[str]]) -> None:
    pdf.set_text_color(*INK)
    pdf.set_draw_color(210, 214, 218)
    with pdf.table(
        text_align="CENTER",
        line_height=4,
        padding=1,
        first_row_as_headings=False,
        cell_fill_mode="ALL",
    ) as table:
        for index, cells in enumerate(rows):
            pdf.set_font("Helvetica", "B" if index else "", 7.2 if index == 0 else 8.5)
            pdf.set_text_color(*(MUTED if index == 0 else INK))
            pdf.set_fill_color(*((241, 243, 245) if index == 0 else (255, 255, 255)))
            row = table.row()
            for cell in cells:
                row.cell(latin1(cell.replace("**", "")))
    pdf.ln(2)


def _charts(pdf: FPDF, specs: list[dict[str, Any]], width: float) -> None:
    gap = 5.0
    each = (width - gap * (len(specs) - 1)) / len(specs) if len(specs) > 1 else width / 2
    images = [chart_png(spec) for spec in specs]
    heights = []
    for png in images:
        from PIL import Image

        with Image.open(BytesIO(png)) as picture:
            heights.append(each * picture.height / picture.width)
    tallest = max(heights)
    if pdf.get_y() + tallest > pdf.h - pdf.b_margin:
        pdf.add_page()
    top = pdf.get_y() + 1
    for index, png in enumerate(images):
        pdf.image(BytesIO(png), x=pdf.l_margin + index * (each + gap), y=top, w=each)
    pdf.set_y(top + tallest + 2)
