"""Documents in the store: save in one transaction, list, find, and full-text search.

SQLite: an FTS5 table `document_chunk_fts` over `document_chunk` (external content, Porter
stemming) kept in step by triggers; both are created idempotently at first use and filled from
existing chunks when created late. PostgreSQL: `to_tsvector('english', …)` over heading and text
with an expression GIN index, also created at first use. Queries are cleaned to plain words
(no query syntax reaches either engine); all words must match first, then any word fills up.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, replace
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from cto_assistant.documents.chunking import Chunk
from cto_assistant.documents.model import ParsedDocument
from cto_assistant.documents.summary import STOPWORDS
from cto_assistant.store.models import Document, DocumentChunk

FTS_TABLE = "document_chunk_fts"
PG_INDEX = "ix_document_chunk_tsv"
QUERY_WORD = re.compile(r"[^\W_]+", re.UNICODE)
# Words a question is phrased with, not what it is about.
QUESTION_WORDS = frozenset(
    [
        "it",
        "is",
        "in",
        "on",
        "of",
        "to",
        "an",
        "be",
        "by",
        "as",
        "at",
        "or",
        "we",
        "us",
        "do",
        "what",
        "which",
        "who",
        "whom",
        "does",
        "say",
        "says",
        "said",
        "tell",
        "about",
        "regarding",
        "document",
        "report",
        "file",
    ]
)
SQLITE_SETUP = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS document_chunk_fts USING fts5("
    "heading, text, content='document_chunk', content_rowid='id', "
    "tokenize='porter unicode61')",
    "CREATE TRIGGER IF NOT EXISTS document_chunk_fts_insert AFTER INSERT ON document_chunk "
    "BEGIN INSERT INTO document_chunk_fts(rowid, heading, text) "
    "VALUES (new.id, new.heading, new.text); END",
    "CREATE TRIGGER IF NOT EXISTS document_chunk_fts_delete AFTER DELETE ON document_chunk "
    "BEGIN INSERT INTO document_chunk_fts(document_chunk_fts, rowid, heading, text) "
    "VALUES ('delete', old.id, old.heading, old.text); END",
    "CREATE TRIGGER IF NOT EXISTS document_chunk_fts_update AFTER UPDATE ON document_chunk "
    "BEGIN INSERT INTO document_chunk_fts(document_chunk_fts, rowid, heading, text) "
    "VALUES ('delete', old.id, old.heading, old.text); "
    "INSERT INTO document_chunk_fts(rowid, heading, text) "
    "VALUES (new.id, new.heading, new.text); END",
)
SQLITE_REBUILD = "INSERT INTO document_chunk_fts(document_chunk_fts) VALUES ('rebuild')"
SQLITE_SEARCH = sa.text(
    "SELECT c.document_id, d.title, c.heading, c.page, c.text, c.ordinal, "
    "snippet(document_chunk_fts, 1, '[', ']', '\u2026', 24) AS snippet, "
    "bm25(document_chunk_fts, 2.0, 1.0) AS rank "
    "FROM document_chunk_fts JOIN document_chunk c ON c.id = document_chunk_fts.rowid "
    "JOIN document d ON d.id = c.document_id "
    "WHERE document_chunk_fts MATCH :match "
    "AND (:document_id IS NULL OR c.document_id = :document_id) "
    "ORDER BY rank, c.id LIMIT :limit"
)
POSTGRES_SEARCH = sa.text(
    "SELECT c.document_id, d.title, c.heading, c.page, c.text, c.ordinal, "
    "ts_headline('english', c.text, q, "
    "'StartSel=[, StopSel=], MaxWords=30, MinWords=12') AS snippet, "
    "ts_rank(to_tsvector('english'::regconfig, coalesce(c.heading, '') || ' ' || c.text), q) "
    "AS rank "
    "FROM document_chunk c JOIN document d ON d.id = c.document_id, "
    "to_tsquery('english', :tsquery) AS q "
    "WHERE to_tsvector('english'::regconfig, coalesce(c.heading, '') || ' ' || c.text) @@ q "
    "AND (CAST(:document_id AS INTEGER) IS NULL OR c.document_id = :document_id) "
    "ORDER BY rank DESC, c.id LIMIT :limit"
)
POSTGRES_INDEX = (
    "CREATE INDEX IF NOT EXISTS ix_document_chunk_tsv ON document_chunk USING gin "
    "((to_tsvector('english'::regconfig, coalesce(heading, '') || ' ' || text)))"
)


@dataclass(frozen=True, slots=True)
class Passage:
    """A chunk that matched a search: its document, heading, page, text and highlighted snippet."""

    document_id: int
    title: str
    heading: str | None
    page: int | None
    text: str
    snippet: str
    score: float
    ordinal: int
    complete: bool = True  # every query word matched (False: filled up with partial matches)


def dialect(session: Session) -> str:
    """The session's database dialect name."""
    bind = session.get_bind()
    return bind.dialect.name


def ensure_search_index(session: Session) -> None:
    """Create the full-text index (FTS5 table + triggers, or a GIN index) if it is missing."""
    if dialect(session) == "sqlite":
        exists = session.execute(
            sa.text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :name"),
            {"name": FTS_TABLE},
        ).first()
        for statement in SQLITE_SETUP:
            session.execute(sa.text(statement))
        if not exists:
            session.execute(sa.text(SQLITE_REBUILD))
        return
    present = session.execute(sa.text("SELECT to_regclass(:name)"), {"name": PG_INDEX}).scalar()
    if present is None:
        session.execute(sa.text(POSTGRES_INDEX))


def save_document(
    session: Session,
    *,
    parsed: ParsedDocument,
    chunks: list[Chunk],
    summary: str,
    sha256: str,
    source: str,
    now: datetime,
) -> Document:
    """Insert a document and its chunks (the caller's transaction makes it all-or-nothing)."""
    ensure_search_index(session)
    document = Document(
        title=parsed.title[:512],
        source=source[:512],
        media_type=parsed.media_type,
        sha256=sha256,
        text=parsed.text,
        summary=summary,
        pages=parsed.pages,
        added_at=now,
    )
    session.add(document)
    session.flush()
    if not chunks:
        return document
    session.execute(
        sa.insert(DocumentChunk),
        [
            {
                "document_id": document.id,
                "ordinal": chunk.ordinal,
                "heading": chunk.heading,
                "page": chunk.page,
                "text": chunk.text,
            }
            for chunk in chunks
        ],
    )
    return document


def document_by_hash(session: Session, *, sha256: str) -> Document | None:
    """The stored document with this content hash, if any."""
    return session.scalar(sa.select(Document).where(Document.sha256 == sha256))


def list_documents(session: Session, *, limit: int = 100) -> list[tuple[Document, int]]:
    """Stored documents, newest first, each with its chunk count."""
    counts = (
        sa.select(DocumentChunk.document_id, sa.func.count().label("chunks"))
        .group_by(DocumentChunk.document_id)
        .subquery()
    )
    rows = session.execute(
        sa.select(Document, sa.func.coalesce(counts.c.chunks, 0))
        .outerjoin(counts, counts.c.document_id == Document.id)
        .order_by(Document.added_at.desc(), Document.id.desc())
        .limit(limit)
    ).all()
    return [(row[0], int(row[1])) for row in rows]


def find_document(session: Session, *, reference: str) -> Document | None:
    """A document by id, exact title, file name, title words or closest title."""
    reference = reference.strip()
    if reference.isdigit():
        found = session.get(Document, int(reference))
        if found is not None:
            return found
    documents = list(session.scalars(sa.select(Document).order_by(Document.added_at.desc())))
    if not documents:
        return None
    wanted = reference.casefold()
    for document in documents:
        if wanted in (document.title.casefold(), document.source.casefold()):
            return document
    for document in documents:
        if document.source.casefold().rsplit("/", 1)[-1].startswith(wanted):
            return document
    words = set(_words(reference)) - {"the", "report", "document", "doc"}
    if words:
        scored = [
            (len(words & set(_words(f"{d.title} {d.source}"))), d.added_at, d) for d in documents
        ]
        best = max(scored, key=lambda item: (item[0], item[1]))
        if best[0] == len(words):
            return best[2]
    titles = {document.title.casefold(): document for document in documents}
    close = difflib.get_close_matches(wanted, list(titles), n=1, cutoff=0.6)
    return titles[close[0]] if close else None


def _words(text: str) -> list[str]:
    return [w.casefold() for w in QUERY_WORD.findall(text)]


def query_terms(query: str) -> list[str]:
    """The words of a query worth searching for (no stopwords, no syntax), in order."""
    terms: list[str] = []
    for word in _words(query):
        if word in STOPWORDS or word in QUESTION_WORDS or (len(word) < 2 and not word.isdigit()):
            continue
        if word not in terms:
            terms.append(word)
    return terms[:16]


def search_chunks(
    session: Session, *, query: str, limit: int = 5, document_id: int | None = None
) -> list[Passage]:
    """Best-matching passages for `query`: every word first, then any word to fill up."""
    terms = query_terms(query)
    if not terms:
        return []
    ensure_search_index(session)
    search = _search_sqlite if dialect(session) == "sqlite" else _search_postgres
    found = search(session, terms, limit, document_id, every=True)
    if len(found) < limit and len(terms) > 1:
        seen = {(p.document_id, p.ordinal) for p in found}
        for passage in search(session, terms, limit, document_id, every=False):
            if (passage.document_id, passage.ordinal) not in seen and len(found) < limit:
                found.append(replace(passage, complete=False))
    return found


def _search_sqlite(
    session: Session, terms: list[str], limit: int, document_id: int | None, *, every: bool
) -> list[Passage]:
    match = (" AND " if every else " OR ").join(f'"{term}"' for term in terms)
    rows = session.execute(
        SQLITE_SEARCH, {"match": match, "limit": limit, "document_id": document_id}
    ).all()
    return [
        Passage(
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            " ".join((r[6] or "").split()),
            round(-float(r[7]), 4),
            r[5],
        )
        for r in rows
    ]


def _search_postgres(
    session: Session, terms: list[str], limit: int, document_id: int | None, *, every: bool
) -> list[Passage]:
    tsquery = (" & " if every else " | ").join(terms)
    rows = session.execute(
        POSTGRES_SEARCH, {"tsquery": tsquery, "limit": limit, "document_id": document_id}
    ).all()
    return [
        Passage(
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            " ".join((r[6] or "").split()),
            round(float(r[7]), 4),
            r[5],
        )
        for r in rows
    ]
