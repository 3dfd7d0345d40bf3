"""Decide a document's type from its bytes, and refuse what is unsafe before any parser sees it.

The content decides; the file name's extension is only a claim that must agree with it
(`report.pdf` holding a ZIP is refused). OOXML files are ZIP archives: their directory is
checked against entry-count, total-size and compression-ratio limits (zip bombs) and for
macro parts, before python-docx/pptx or openpyxl open them. Declared sizes are what bound the
work: Python's zipfile never inflates an entry past its declared size.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import PurePath

from cto_assistant.documents.model import DocumentError, DocumentKind

MiB = 1024 * 1024
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"
PDF_MAGIC = b"%PDF-"
# What zipfile raises on a damaged archive (bad CRC, bad deflate stream, odd version, short).
ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    NotImplementedError,
    EOFError,
    OSError,
    ValueError,
    KeyError,
)

EXTENSIONS: dict[str, DocumentKind] = {
    ".pdf": "pdf",
    ".docx": "docx",
    ".pptx": "pptx",
    ".xlsx": "xlsx",
    ".html": "html",
    ".htm": "html",
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
    ".text": "text",
    ".drawio": "drawio",
    ".mmd": "mermaid",
    ".mermaid": "mermaid",
    ".puml": "plantuml",
    ".plantuml": "plantuml",
    ".pu": "plantuml",
}
# Extensions whose kind the content alone decides among the text formats.
NEUTRAL_EXTENSIONS = frozenset({"", ".xml", ".log", ".csv"})
OOXML_MAIN_PART = {
    "word/document.xml": "docx",
    "ppt/presentation.xml": "pptx",
    "xl/workbook.xml": "xlsx",
}
TEXT_KINDS = frozenset({"html", "markdown", "text", "drawio", "mermaid", "plantuml"})
MERMAID_START = re.compile(
    r"^\s*(graph|flowchart|sequenceDiagram|classDiagram|stateDiagram(-v2)?|erDiagram|C4\w+)\b"
)
HTML_START = re.compile(rb"^\s*(<!--.*?-->\s*)*<(!doctype\s+html|html|head|body)\b", re.I | re.S)
MARKDOWN_HINT = re.compile(r"^(#{1,6}\s|\s*[-*+]\s|\s*\d+\.\s|```|\|.*\|\s*$)", re.M)


@dataclass(frozen=True)
class Limits:
    """What a document may weigh; the defaults suit reports and slide decks."""

    max_bytes: int = 50 * MiB
    max_pages: int = 2_000
    max_zip_entries: int = 5_000
    max_unzipped_bytes: int = 300 * MiB
    max_compression_ratio: float = 100.0
    max_cells: int = 1_000_000
    max_text_chars: int = 20_000_000


def check_size(name: str, size: int, limits: Limits) -> None:
    """Refuse an empty file or one over the size limit."""
    if size == 0:
        raise DocumentError(name, "the file is empty")
    if size > limits.max_bytes:
        raise DocumentError(
            name,
            f"the file is {size / MiB:.1f} MiB, over the {limits.max_bytes / MiB:.0f} MiB limit",
        )


def detect_kind(data: bytes, name: str, limits: Limits | None = None) -> DocumentKind:
    """The document's kind, from its content; refuse when the extension disagrees."""
    limits = limits or Limits()
    check_size(name, len(data), limits)
    extension = PurePath(name).suffix.lower()
    claimed = EXTENSIONS.get(extension)
    if claimed is None and extension not in NEUTRAL_EXTENSIONS:
        raise DocumentError(
            name,
            f"unsupported file type {extension!r} (supported: PDF, DOCX, PPTX, XLSX, HTML, "
            "Markdown, text, draw.io, Mermaid, PlantUML)",
        )
    kind = _kind_from_content(data, name, claimed)
    if claimed is not None and claimed != kind:
        raise DocumentError(
            name,
            f"the content is {_describe(kind)}, not {_describe(claimed)} as its name says; "
            "rename it or upload the right file",
        )
    if kind in ("docx", "pptx", "xlsx"):
        check_ooxml(data, name, limits)
    return kind


def _describe(kind: DocumentKind) -> str:
    return {
        "pdf": "a PDF",
        "docx": "a Word document",
        "pptx": "a PowerPoint deck",
        "xlsx": "an Excel workbook",
        "html": "HTML",
        "markdown": "Markdown",
        "text": "plain text",
        "drawio": "a draw.io diagram",
        "mermaid": "a Mermaid diagram",
        "plantuml": "a PlantUML diagram",
    }[kind]


def _kind_from_content(data: bytes, name: str, claimed: DocumentKind | None) -> DocumentKind:
    head = data[:1024]
    if head.lstrip(b"\x00\t\n\r ").startswith(PDF_MAGIC):
        return "pdf"
    if head.startswith(OLE2_MAGIC):
        raise DocumentError(
            name,
            "this is an OLE2 container: an encrypted (password-protected) Office file or a "
            "legacy .doc/.ppt/.xls; remove the password or save it as .docx/.pptx/.xlsx",
        )
    if head.startswith(ZIP_MAGIC):
        return _ooxml_kind(data, name)
    text = decode_text(data, name)
    return _text_kind(text, claimed)


def decode_text(data: bytes, name: str) -> str:
    """Decode a text document as UTF-8 (BOM allowed) or refuse it as binary."""
    if b"\x00" in data[:8192]:
        raise DocumentError(name, "the content is binary, not a supported document type")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise DocumentError(name, "the content is neither UTF-8 nor Windows-1252 text") from exc
    controls = sum(1 for ch in text[:8192] if ord(ch) < 32 and ch not in "\t\n\r\f")
    if controls > 8:
        raise DocumentError(name, "the content is binary, not a supported document type")
    return text


def _text_kind(text: str, claimed: DocumentKind | None) -> DocumentKind:
    start = text.lstrip()[:2048]
    lowered = start.lower()
    if (
        lowered.startswith("<mxfile")
        or lowered.startswith("<mxgraphmodel")
        or (lowered.startswith("<?xml") and ("<mxfile" in lowered or "<mxgraphmodel" in lowered))
    ):
        return "drawio"
    if lowered.startswith("@startuml"):
        return "plantuml"
    first_line = next((line for line in start.splitlines() if line.strip()), "")
    if MERMAID_START.match(first_line) or (first_line.strip() == "---" and claimed == "mermaid"):
        return "mermaid"
    if HTML_START.match(start.encode()):
        return "html"
    if claimed in ("markdown", "text"):
        return claimed
    if claimed in TEXT_KINDS:
        return "markdown" if MARKDOWN_HINT.search(start) else "text"
    return "markdown" if MARKDOWN_HINT.search(start) else "text"


def _ooxml_kind(data: bytes, name: str) -> DocumentKind:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except ZIP_ERRORS as exc:
        raise DocumentError(name, f"the ZIP container is damaged ({exc})") from exc
    for part, kind in OOXML_MAIN_PART.items():
        if part in names:
            return kind  # type: ignore[return-value]
    raise DocumentError(name, "a ZIP archive that is not a Word, PowerPoint or Excel file")


def check_ooxml(data: bytes, name: str, limits: Limits) -> None:
    """Refuse zip bombs, macro-enabled files and damaged archives before parsing."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            content_types = (
                archive.read("[Content_Types].xml")
                if "[Content_Types].xml" in archive.namelist()
                else b""
            )
    except ZIP_ERRORS as exc:
        raise DocumentError(name, f"the ZIP container is damaged ({exc})") from exc
    if len(infos) > limits.max_zip_entries:
        raise DocumentError(
            name, f"the archive has {len(infos):,} entries (limit {limits.max_zip_entries:,})"
        )
    total = 0
    for info in infos:
        total += info.file_size
        if info.file_size > MiB and info.compress_size > 0:
            ratio = info.file_size / info.compress_size
            if ratio > limits.max_compression_ratio:
                raise DocumentError(
                    name,
                    f"refused as a possible zip bomb: {info.filename} inflates {ratio:,.0f}:1 "
                    f"(limit {limits.max_compression_ratio:.0f}:1)",
                )
        if info.flag_bits & 0x1:
            raise DocumentError(name, "the archive has encrypted entries")
    if total > limits.max_unzipped_bytes:
        raise DocumentError(
            name,
            f"refused as a possible zip bomb: {total / MiB:,.0f} MiB uncompressed "
            f"(limit {limits.max_unzipped_bytes / MiB:.0f} MiB)",
        )
    lowered = {info.filename.lower() for info in infos}
    if any(part.endswith("vbaproject.bin") for part in lowered) or b"macroEnabled" in content_types:
        raise DocumentError(
            name,
            "macro-enabled Office files are refused; save it without macros (.docx/.pptx/.xlsx)",
        )
