"""HTML, Markdown and plain text → blocks (lxml's HTML parser, markdown-it-py's tokens).

HTML is parsed with the network off; scripts, styles, frames and embedded objects are dropped
unread. Nothing is rendered or fetched.
"""

from __future__ import annotations

from typing import Any

from cto_assistant.documents.model import Block, DocumentError, ParsedDocument
from cto_assistant.documents.sniff import Limits, decode_text
from cto_assistant.documents.text import guarded, paragraphs_from_lines, title_from_name

HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
BLOCK_TAGS = frozenset(
    [
        "p",
        "div",
        "section",
        "article",
        "main",
        "header",
        "footer",
        "aside",
        "nav",
        "li",
        "ul",
        "ol",
        "dl",
        "dt",
        "dd",
        "pre",
        "blockquote",
        "figure",
        "figcaption",
        "caption",
        "table",
        "thead",
        "tbody",
        "tfoot",
        "address",
        "details",
        "summary",
        "body",
        "form",
    ]
)
DROPPED_TAGS = (
    "script", "style", "noscript", "template", "iframe", "object", "embed", "svg", "canvas",
    "head", "link", "meta", "math",
)  # fmt: skip


def parse_html(data: bytes, name: str, limits: Limits) -> ParsedDocument:
    """Extract headings, paragraphs, list items and table rows from an HTML page."""
    import lxml.html
    from lxml import etree

    text = decode_text(data, name)
    with guarded(name, "HTML page"):
        parser = lxml.html.HTMLParser(
            no_network=True, remove_comments=True, remove_pis=True, recover=True
        )
        root = lxml.html.document_fromstring(text, parser=parser)
        title_el = root.find(".//title")
        title = " ".join(title_el.text_content().split()) if title_el is not None else ""
        etree.strip_elements(root, *DROPPED_TAGS, with_tail=False)
        walker = _HtmlWalker()
        walker.walk(root)
        walker.flush()
    blocks = walker.blocks
    if not blocks:
        raise DocumentError(name, "the HTML page has no text")
    if not title:
        title = next((b.text for b in blocks if b.kind == "heading"), title_from_name(name))
    return ParsedDocument(title=title, kind="html", blocks=blocks)


class _HtmlWalker:
    """Depth-first walk that cuts text into blocks at block-level elements."""

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.buffer: list[str] = []

    def flush(self) -> None:
        text = " ".join("".join(self.buffer).split())
        if text:
            self.blocks.append(Block("text", text))
        self.buffer = []

    def walk(self, element: Any) -> None:
        tag = element.tag.lower() if isinstance(element.tag, str) else ""
        if tag in HEADINGS:
            self.flush()
            text = " ".join(element.text_content().split())
            if text:
                self.blocks.append(Block("heading", text, level=HEADINGS[tag]))
            return
        if tag == "tr":
            self.flush()
            cells = [
                " ".join(cell.text_content().split())
                for cell in element
                if isinstance(cell.tag, str) and cell.tag.lower() in ("td", "th")
            ]
            if any(cells):
                self.blocks.append(Block("table", " | ".join(cells)))
            return
        if tag == "br":
            self.buffer.append(" ")
            return
        is_block = tag in BLOCK_TAGS
        if is_block:
            self.flush()
        if element.text:
            self.buffer.append(element.text)
        for child in element:
            self.walk(child)
            if child.tail:
                self.buffer.append(child.tail)
        if is_block:
            self.flush()


def parse_markdown(data: bytes, name: str, limits: Limits) -> ParsedDocument:
    """Extract a Markdown file's headings, paragraphs, lists, tables and code blocks."""
    from markdown_it import MarkdownIt

    text = decode_text(data, name)
    with guarded(name, "Markdown file"):
        tokens = MarkdownIt("commonmark", {"html": False}).enable("table").parse(text)
        blocks: list[Block] = []
        row: list[str] | None = None
        skip_next_inline = False
        for index, token in enumerate(tokens):
            if token.type == "heading_open":
                heading = _plain(tokens[index + 1])
                if heading:
                    blocks.append(Block("heading", heading, level=int(token.tag[1])))
                skip_next_inline = True
            elif token.type == "tr_open":
                row = []
            elif token.type == "tr_close" and row is not None:
                if any(row):
                    blocks.append(Block("table", " | ".join(row)))
                row = None
            elif token.type == "inline":
                if skip_next_inline:
                    skip_next_inline = False
                    continue
                content = _plain(token)
                if row is not None:
                    row.append(content)
                elif content:
                    blocks.append(Block("text", content))
            elif token.type in ("fence", "code_block", "html_block") and token.content.strip():
                blocks.append(Block("text", token.content.strip()))
    if not blocks:
        raise DocumentError(name, "the Markdown file has no text")
    title = next(
        (b.text for b in blocks if b.kind == "heading" and b.level == 1), title_from_name(name)
    )
    return ParsedDocument(title=title, kind="markdown", blocks=blocks)


def _plain(token: Any) -> str:
    """The visible text of an inline token (links and emphasis unwrapped)."""
    parts: list[str] = []
    for child in token.children or []:
        if child.type in ("text", "code_inline", "image", "html_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
    return " ".join("".join(parts).split())


def parse_text(data: bytes, name: str, limits: Limits) -> ParsedDocument:
    """Split plain text into paragraphs at blank lines."""
    text = decode_text(data, name)
    lines = [" ".join(line.split()) for line in text.splitlines()]
    blocks = [Block("text", paragraph) for paragraph in paragraphs_from_lines(lines)]
    if not blocks:
        raise DocumentError(name, "the file has no text")
    return ParsedDocument(title=title_from_name(name), kind="text", blocks=blocks)
