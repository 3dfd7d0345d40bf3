"""PDF → blocks with page numbers, through pypdf (pure Python, no JavaScript, no network).

Headings come from the PDF outline (bookmarks) where the file has one, and otherwise from
numbered headings (`2.`, `3.1 Findings`) and short all-caps lines. A file without the
`%%EOF` marker near its end is refused as truncated rather than half-read.
"""

from __future__ import annotations

import io
import re
from typing import Any

from pypdf import PdfReader
from pypdf.generic import Destination

from cto_assistant.documents.model import Block, DocumentError, ParsedDocument
from cto_assistant.documents.sniff import Limits
from cto_assistant.documents.text import guarded, paragraphs_from_lines, title_from_name

EOF_WINDOW = 2048
NUMBERED_HEADING = re.compile(r"^(\d{1,2}(?:\.\d{1,2}){0,3})\.?\s+([A-Z][^.!?]{1,90})$")
ALL_CAPS_HEADING = re.compile(r"^[A-Z][A-Z0-9 &/,'()-]{3,80}$")


def parse_pdf(data: bytes, name: str, limits: Limits) -> ParsedDocument:
    """Extract a PDF page by page, keeping headings and page numbers."""
    if b"%%EOF" not in data[-EOF_WINDOW:]:
        raise DocumentError(name, "the PDF is truncated or damaged (no end-of-file marker)")
    with guarded(name, "PDF"):
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise DocumentError(
                name, "the PDF is encrypted (password-protected); remove the protection first"
            )
        page_count = len(reader.pages)
        if page_count > limits.max_pages:
            raise DocumentError(name, f"{page_count:,} pages (limit {limits.max_pages:,})")
        outline = _outline_titles(reader)
        title = _metadata_title(reader)
        blocks: list[Block] = []
        chars = 0
        for number, page in enumerate(reader.pages, start=1):
            text = page.extract_text() or ""
            chars += len(text)
            if chars > limits.max_text_chars:
                raise DocumentError(name, "more text than the limit allows")
            blocks.extend(_page_blocks(text, number, outline.get(number, {})))
    if page_count == 0:
        raise DocumentError(name, "the PDF has no pages")
    if not any(block.text.strip() for block in blocks):
        raise DocumentError(
            name,
            "no text could be extracted (a scanned PDF needs OCR first, which is not done here)",
        )
    if not title:
        first_heading = next((b.text for b in blocks if b.kind == "heading"), None)
        title = first_heading or title_from_name(name)
    return ParsedDocument(title=title, kind="pdf", blocks=blocks, pages=page_count)


def _metadata_title(reader: PdfReader) -> str | None:
    metadata = reader.metadata
    title = metadata.title if metadata is not None else None
    return str(title).strip() or None if title else None


def _outline_titles(reader: PdfReader) -> dict[int, dict[str, int]]:
    """Page number → {normalised outline title: level}."""
    found: dict[int, dict[str, int]] = {}

    def walk(items: list[Any], level: int) -> None:
        for item in items:
            if isinstance(item, list):
                walk(item, level + 1)
            elif isinstance(item, Destination):
                page = reader.get_destination_page_number(item)
                if page is not None and page >= 0:
                    found.setdefault(page + 1, {})[_norm(str(item.title))] = level

    walk(list(reader.outline), 1)
    return found


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def _page_blocks(text: str, page: int, outline: dict[str, int]) -> list[Block]:
    blocks: list[Block] = []
    pending: list[str] = []

    def flush() -> None:
        for paragraph in paragraphs_from_lines(pending):
            blocks.append(Block("text", paragraph, page=page))
        pending.clear()

    for raw in text.splitlines():
        line = " ".join(raw.split())
        if not line:
            pending.append("")
            continue
        level = heading_level(line, outline)
        if level:
            flush()
            blocks.append(Block("heading", line, page=page, level=level))
        else:
            pending.append(line)
    flush()
    return blocks


def heading_level(line: str, outline: dict[str, int]) -> int:
    """The heading level of a line of PDF text (0: not a heading)."""
    if _norm(line) in outline:
        return outline[_norm(line)]
    numbered = NUMBERED_HEADING.match(line)
    if numbered and len(line.split()) <= 12:
        return numbered.group(1).count(".") + 1
    if (
        ALL_CAPS_HEADING.match(line)
        and len(line.split()) <= 8
        and sum(c.isalpha() for c in line) > 3
    ):
        return 1
    return 0
