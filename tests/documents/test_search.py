"""Stored documents are searchable (SQLite FTS5 and PostgreSQL full-text) and summarized."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from cto_assistant.documents import add_document, read_file
from cto_assistant.documents.store import ensure_search_index, find_document, search_chunks
from cto_assistant.store import Store
from cto_assistant.store.models import Document, DocumentChunk
from tests.documents import samples
from tests.documents.conftest import NOW


def add_all(store: Store, sample_files: dict[str, Path]) -> None:
    for name, path in sample_files.items():
        add_document(store, read_file(path), name=name, source=str(path), now=NOW)


def test_search_finds_the_planted_sentence_with_its_page(
    any_store: Store, sample_files: dict[str, Path]
) -> None:
    add_all(any_store, sample_files)
    with any_store.session() as session:
        passages = search_chunks(session, query="quantum-safe key rotation", limit=5)
    by_title = {p.title: p for p in passages}
    assert set(by_title) == {
        "Acme Security Report Q2",
        "Platform Security Review",
        "Q3 Platform Roadmap",
    }
    pdf = by_title["Acme Security Report Q2"]
    assert samples.PLANTED in pdf.text
    assert pdf.page == 2 and pdf.heading == "2. Findings \u203a 2.1 Encryption at Rest"
    assert "[quantum]" in pdf.snippet or "[quantum" in pdf.snippet


def test_search_ranks_all_words_first_and_ignores_query_syntax(
    any_store: Store, sample_files: dict[str, Path]
) -> None:
    add_all(any_store, sample_files)
    with any_store.session() as session:
        passages = search_chunks(session, query='MFA "admin" OR (NEAR* -x', limit=3)
        assert passages and "enabling MFA for every admin account" in passages[0].text
        assert passages[0].page == 4
        assert search_chunks(session, query="what does the", limit=3) == []
        stemmed = search_chunks(session, query="rotating keys", limit=10)
        assert any(samples.PLANTED in p.text for p in stemmed)


def test_search_in_one_document_and_diagram_text(
    any_store: Store, sample_files: dict[str, Path]
) -> None:
    add_all(any_store, sample_files)
    with any_store.session() as session:
        drawio = find_document(session, reference="architecture.drawio")
        assert drawio is not None and drawio.title == "Checkout architecture"
        passages = search_chunks(session, query="Orders DB", document_id=drawio.id)
        assert passages and all(p.document_id == drawio.id for p in passages)
        assert any("Connection: Checkout API \u2192 Orders DB: SQL." in p.text for p in passages)


def test_adding_the_same_file_twice_stores_it_once(
    any_store: Store, sample_files: dict[str, Path]
) -> None:
    data = read_file(sample_files["security-report.pdf"])
    first = add_document(any_store, data, name="a.pdf", now=NOW)
    again = add_document(any_store, data, name="copy.pdf", now=NOW)
    assert again.already_present and again.id == first.id and again.chunks == first.chunks
    with any_store.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Document)) == 1


def test_deleting_a_document_removes_its_chunks_from_the_index(
    any_store: Store, sample_files: dict[str, Path]
) -> None:
    add_all(any_store, sample_files)
    with any_store.session() as session:
        document = find_document(session, reference="Acme Security Report Q2")
        assert document is not None
        session.execute(sa.delete(DocumentChunk).where(DocumentChunk.document_id == document.id))
        session.delete(document)
    with any_store.session() as session:
        titles = {p.title for p in search_chunks(session, query="quantum safe rotation")}
    assert "Acme Security Report Q2" not in titles and titles


def test_index_is_created_idempotently_and_rebuilt_for_existing_chunks(
    sqlite_store: Store, sample_files: dict[str, Path]
) -> None:
    add_all(sqlite_store, sample_files)
    with sqlite_store.session() as session:
        for name in ("insert", "delete", "update"):
            session.execute(sa.text(f"DROP TRIGGER document_chunk_fts_{name}"))
        session.execute(sa.text("DROP TABLE document_chunk_fts"))
    with sqlite_store.session() as session:
        ensure_search_index(session)
        ensure_search_index(session)
        assert search_chunks(session, query="quantum rotation")


def test_summary_keeps_the_key_facts_headings_and_pages(
    any_store: Store, sample_files: dict[str, Path]
) -> None:
    add_all(any_store, sample_files)
    with any_store.session() as session:
        document = find_document(session, reference="security report q2")
        assert document is not None and document.summary
        summary = document.summary
    assert samples.KEY_FACT_RISK in summary
    assert samples.KEY_FACT_VULNS in summary
    assert samples.PLANTED in summary
    assert "## 1. Executive Summary (p. 1)" in summary
    assert "## 3. Vulnerability Table (p. 3)" in summary
    assert summary.count(samples.FILLER.split(". ")[0]) == 0  # repeated boilerplate left out
