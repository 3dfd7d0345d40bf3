"""Add a document: check, parse, chunk, summarize, then store it all in one transaction.

Everything that can refuse a file (size, type by content, encryption, zip bombs, damage) runs
before the first write; the write itself is one transaction, so a failure leaves nothing behind.
A file already stored (same SHA-256) is not stored twice.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from cto_assistant.documents.chunking import chunk_blocks
from cto_assistant.documents.diagrams import parse_drawio, parse_mermaid, parse_plantuml
from cto_assistant.documents.markup import parse_html, parse_markdown, parse_text
from cto_assistant.documents.model import MEDIA_TYPES, DocumentError, DocumentKind, ParsedDocument
from cto_assistant.documents.office import parse_docx, parse_pptx, parse_xlsx
from cto_assistant.documents.pdf import parse_pdf
from cto_assistant.documents.sniff import Limits, check_size, detect_kind
from cto_assistant.documents.store import document_by_hash, save_document
from cto_assistant.documents.summary import summarize
from cto_assistant.logging import get_logger
from cto_assistant.store import Store
from cto_assistant.store.models import DocumentChunk

log = get_logger("documents")

Parser = Callable[[bytes, str, Limits], ParsedDocument]
KIND_BY_MEDIA_TYPE = {media: kind for kind, media in MEDIA_TYPES.items()}
PARSERS: dict[DocumentKind, Parser] = {
    "pdf": parse_pdf,
    "docx": parse_docx,
    "pptx": parse_pptx,
    "xlsx": parse_xlsx,
    "html": parse_html,
    "markdown": parse_markdown,
    "text": parse_text,
    "drawio": parse_drawio,
    "mermaid": parse_mermaid,
    "plantuml": parse_plantuml,
}


@dataclass(frozen=True)
class AddedDocument:
    """What `add_document` stored (or found already stored)."""

    id: int
    title: str
    kind: str
    pages: int | None
    chunks: int
    already_present: bool
    seconds: float


def parse_document(data: bytes, name: str, *, limits: Limits | None = None) -> ParsedDocument:
    """Check a file's bytes and parse them; refuse with a DocumentError naming the problem."""
    limits = limits or Limits()
    kind = detect_kind(data, name, limits)
    return PARSERS[kind](data, name, limits)


def read_file(path: Path, *, limits: Limits | None = None) -> bytes:
    """Read a local file, refusing it before reading when it is over the size limit."""
    limits = limits or Limits()
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise DocumentError(str(path), f"cannot read the file ({exc.strerror})") from exc
    if not path.is_file():
        raise DocumentError(str(path), "not a regular file")
    check_size(path.name, size, limits)
    return path.read_bytes()


def add_document(
    store: Store,
    data: bytes,
    *,
    name: str,
    source: str | None = None,
    now: datetime,
    limits: Limits | None = None,
) -> AddedDocument:
    """Parse `data` and store it with its chunks and summary, all or nothing."""
    started = time.perf_counter()
    sha256 = hashlib.sha256(data).hexdigest()
    with store.session() as session:
        existing = document_by_hash(session, sha256=sha256)
        if existing is not None:
            return AddedDocument(
                id=existing.id,
                title=existing.title,
                kind=KIND_BY_MEDIA_TYPE.get(existing.media_type or "", existing.media_type or ""),
                pages=existing.pages,
                chunks=_chunk_count(session, existing.id),
                already_present=True,
                seconds=time.perf_counter() - started,
            )
    parsed = parse_document(data, name, limits=limits)
    chunks = chunk_blocks(parsed.blocks)
    summary = summarize(parsed).markdown
    with store.session() as session:
        document = save_document(
            session,
            parsed=parsed,
            chunks=chunks,
            summary=summary,
            sha256=sha256,
            source=source or name,
            now=now,
        )
        document_id = document.id
    seconds = time.perf_counter() - started
    log.info(
        "document added",
        document_id=document_id,
        kind=parsed.kind,
        pages=parsed.pages,
        chunks=len(chunks),
        bytes=len(data),
        seconds=round(seconds, 3),
    )
    return AddedDocument(
        document_id, parsed.title, parsed.kind, parsed.pages, len(chunks), False, seconds
    )


def _chunk_count(session: Session, document_id: int) -> int:
    return int(
        session.scalar(sa.select(sa.func.count()).where(DocumentChunk.document_id == document_id))
        or 0
    )
