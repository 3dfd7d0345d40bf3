"""Hostile and damaged files are refused with a clear error and leave nothing stored."""

from __future__ import annotations

import io
import random
import zipfile

import pytest
import sqlalchemy as sa

from cto_assistant.documents import DocumentError, Limits, add_document, parse_document
from cto_assistant.store import Store
from cto_assistant.store.models import Document, DocumentChunk
from tests.documents import samples
from tests.documents.conftest import NOW


def refusal(data: bytes, name: str, limits: Limits | None = None) -> str:
    with pytest.raises(DocumentError) as caught:
        parse_document(data, name, limits=limits)
    return caught.value.problem


def test_truncated_pdf_is_refused() -> None:
    data = samples.security_report_pdf()
    assert "truncated" in refusal(data[: len(data) // 2], "report.pdf")


def test_encrypted_pdf_is_refused() -> None:
    assert "encrypted" in refusal(samples.security_report_pdf(encrypt=True), "secret.pdf")


def test_zip_bomb_docx_is_refused_by_its_compression_ratio() -> None:
    problem = refusal(samples.zip_bomb_docx(inflated_mib=4), "bomb.docx")
    assert "zip bomb" in problem and "padding.bin" in problem


def test_docx_over_the_uncompressed_size_limit_is_refused() -> None:
    limits = Limits(max_unzipped_bytes=2 * 1024 * 1024, max_compression_ratio=10_000)
    assert "MiB uncompressed" in refusal(samples.zip_bomb_docx(inflated_mib=3), "big.docx", limits)


def test_wrong_extension_is_refused_by_content() -> None:
    problem = refusal(samples.security_report_docx(), "report.pdf")
    assert problem.startswith("the content is a Word document, not a PDF")
    assert "not a PDF" in refusal(b"just some text", "report.pdf")
    assert "a PDF, not a Word document" in refusal(samples.security_report_pdf(), "x.docx")


def test_executables_and_unknown_types_are_refused() -> None:
    assert "unsupported file type '.exe'" in refusal(b"MZ\x90\x00", "setup.exe")
    assert "binary" in refusal(b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 64, "tool")


def test_macro_enabled_office_file_is_refused() -> None:
    source = zipfile.ZipFile(io.BytesIO(samples.security_report_docx()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            target.writestr(info, source.read(info.filename))
        target.writestr("word/vbaProject.bin", b'Attribute VB_Name = "x"')
    assert "macro" in refusal(out.getvalue(), "macro.docx")


def test_encrypted_office_file_is_refused() -> None:
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504
    assert "encrypted" in refusal(ole, "locked.docx")


def test_oversized_and_empty_files_are_refused() -> None:
    assert "over the 1 MiB limit" in refusal(
        b"a" * (1024 * 1024 + 1), "big.txt", Limits(max_bytes=1024 * 1024)
    )
    assert "empty" in refusal(b"", "empty.md")


def test_drawio_with_external_entities_is_refused_unresolved() -> None:
    evil = b"""<?xml version="1.0"?><!DOCTYPE mxfile [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<mxfile><diagram name="p"><mxGraphModel><root><mxCell id="0"/>
<mxCell id="a" value="&x;" vertex="1" parent="0"/></root></mxGraphModel></diagram></mxfile>"""
    problem = refusal(evil, "evil.drawio")
    assert "external entity" in problem and "root:" not in problem


@pytest.mark.parametrize("seed", range(12))
def test_fuzzed_files_are_refused_cleanly(seed: int) -> None:
    """Random byte damage to real files ends in a DocumentError or a parse, never a crash."""
    rng = random.Random(seed)
    original = rng.choice(
        [samples.security_report_pdf(), samples.security_report_docx(), samples.roadmap_pptx()]
    )
    data = bytearray(original)
    for _ in range(rng.randint(1, 40)):
        data[rng.randrange(len(data))] = rng.randrange(256)
    name = {b"%P": "f.pdf", b"PK": "f.docx"}.get(bytes(original[:2]), "f.bin")
    if original == samples.roadmap_pptx():
        name = "f.pptx"
    try:
        parse_document(bytes(data), name)
    except DocumentError as exc:
        assert exc.problem


def test_a_refused_file_leaves_nothing_stored(sqlite_store: Store) -> None:
    data = samples.security_report_pdf()
    for bad, name in [
        (data[:-400], "cut.pdf"),
        (samples.zip_bomb_docx(inflated_mib=4), "bomb.docx"),
        (samples.security_report_pdf(encrypt=True), "locked.pdf"),
        (samples.security_report_docx(), "renamed.pdf"),
    ]:
        with pytest.raises(DocumentError):
            add_document(sqlite_store, bad, name=name, now=NOW)
    with sqlite_store.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Document)) == 0
        assert session.scalar(sa.select(sa.func.count()).select_from(DocumentChunk)) == 0


def test_a_failing_write_rolls_back_document_and_chunks(
    sqlite_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cto_assistant.documents import store as document_store

    original = document_store.save_document

    def save_then_fail(session, **kwargs):  # type: ignore[no-untyped-def]
        original(session, **kwargs)
        raise RuntimeError("disk full")

    monkeypatch.setattr("cto_assistant.documents.ingest.save_document", save_then_fail)
    with pytest.raises(RuntimeError):
        add_document(sqlite_store, samples.security_report_pdf(), name="r.pdf", now=NOW)
    with sqlite_store.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Document)) == 0
        assert session.scalar(sa.select(sa.func.count()).select_from(DocumentChunk)) == 0
        hits = session.execute(sa.text("SELECT count(*) FROM document_chunk_fts")).scalar()
        assert hits == 0
