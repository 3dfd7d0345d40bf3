"""DOC_PARSER: local files and uploads made searchable and summarized.

    bytes ─ sniff (type by content, size, zip-bomb and macro checks)
          ─ parse (pypdf / python-docx / python-pptx / openpyxl / lxml / markdown-it; diagrams)
          ─ chunk (heading path + page per chunk) ─ summarize (extractive)
          ─ store (document + chunks in one transaction; FTS5 or PostgreSQL full-text)

No parser runs code, resolves external entities or touches the network.
"""

from __future__ import annotations

from cto_assistant.documents.ingest import AddedDocument, add_document, parse_document, read_file
from cto_assistant.documents.model import (
    Block,
    Component,
    Connection,
    Diagram,
    DocumentError,
    ParsedDocument,
)
from cto_assistant.documents.sniff import EXTENSIONS, Limits

__all__ = [
    "EXTENSIONS",
    "AddedDocument",
    "Block",
    "Component",
    "Connection",
    "Diagram",
    "DocumentError",
    "Limits",
    "ParsedDocument",
    "add_document",
    "parse_document",
    "read_file",
]
