"""Blocks → chunks for the full-text index: each chunk under one heading path and on one page."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from cto_assistant.documents.model import Block
from cto_assistant.documents.text import split_sentences

MAX_CHUNK_CHARS = 1_200
HEADING_SEPARATOR = " \u203a "  # a single right-pointing angle quote
MAX_HEADING_CHARS = 500


@dataclass(frozen=True, slots=True)
class Chunk:
    """A searchable passage: its position, heading path, page and text."""

    ordinal: int
    heading: str | None
    page: int | None
    text: str


def heading_path(stack: list[tuple[int, str]]) -> str | None:
    """The heading trail (`Findings / Encryption`, joined by HEADING_SEPARATOR), cut from the left to fit the column."""
    if not stack:
        return None
    path = HEADING_SEPARATOR.join(text for _, text in stack)
    return path if len(path) <= MAX_HEADING_CHARS else "…" + path[-(MAX_HEADING_CHARS - 1) :]


def chunk_blocks(blocks: Iterable[Block], *, max_chars: int = MAX_CHUNK_CHARS) -> list[Chunk]:
    """Group text blocks into chunks of at most `max_chars`, never across a heading or page."""
    chunks: list[Chunk] = []
    stack: list[tuple[int, str]] = []
    pieces: list[str] = []
    size = 0
    heading: str | None = None
    page: int | None = None

    def flush() -> None:
        nonlocal size
        if pieces:
            chunks.append(Chunk(len(chunks), heading, page, "\n".join(pieces)))
        pieces.clear()
        size = 0

    for block in blocks:
        if block.kind == "heading":
            flush()
            while stack and stack[-1][0] >= block.level:
                stack.pop()
            stack.append((block.level, block.text))
            heading = heading_path(stack)
            page = block.page
            continue
        if block.page != page:
            flush()
            page = block.page
        for piece in _fit(block.text, max_chars):
            if size + len(piece) > max_chars:
                flush()
            pieces.append(piece)
            size += len(piece) + 1
    flush()
    return chunks


def _fit(text: str, max_chars: int) -> list[str]:
    """A block as pieces of at most `max_chars` (split at sentences, then hard-cut)."""
    if len(text) <= max_chars:
        return [text]
    pieces: list[str] = []
    current = ""
    for sentence in split_sentences(text) if "\n" not in text else text.split("\n"):
        while len(sentence) > max_chars:
            pieces.append(sentence[:max_chars])
            sentence = sentence[max_chars:]
        if current and len(current) + 1 + len(sentence) > max_chars:
            pieces.append(current)
            current = sentence
        else:
            current = (
                f"{current} {sentence}".strip()
                if "\n" not in text
                else (f"{current}\n{sentence}" if current else sentence)
            )
    if current:
        pieces.append(current)
    return pieces
