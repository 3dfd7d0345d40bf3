"""Text helpers every parser shares: paragraphs from lines, sentences, titles, the parse guard."""

from __future__ import annotations

import re
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import PurePath

from cto_assistant.documents.model import DocumentError

SENTENCE_END = re.compile('(?<=[.!?])["\u201d\u2019)]?\\s+(?=["\u201c(\\[]?[A-Z0-9$\u20ac\u00a3])')
ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "vs.", "fig.", "no.", "mr.", "ms.", "dr.", "inc.", "cf.")
TERMINAL = (".", "!", "?", ":", ";")


def title_from_name(name: str) -> str:
    """A readable title from a file name: `q3-security_report.pdf` → 'q3 security report'."""
    stem = PurePath(name).stem
    return " ".join(re.split(r"[-_\s]+", stem)).strip() or "untitled"


def paragraphs_from_lines(lines: Iterable[str]) -> list[str]:
    """Join wrapped lines into paragraphs: a blank line or a finished sentence ends one."""
    paragraphs: list[str] = []
    current: list[str] = []
    for line in lines:
        if not line:
            if current:
                paragraphs.append(_join(current))
                current = []
            continue
        current.append(line)
        if line.endswith(TERMINAL):
            paragraphs.append(_join(current))
            current = []
    if current:
        paragraphs.append(_join(current))
    return [p for p in paragraphs if p]


def _join(lines: list[str]) -> str:
    text = ""
    for line in lines:
        if text.endswith("-") and line[:1].islower() and text[-2:-1].isalpha():
            text = text[:-1] + line  # re-join a hyphenated word
        else:
            text = f"{text} {line}" if text else line
    return text.strip()


def split_sentences(text: str) -> list[str]:
    """Split a paragraph into sentences, keeping numbers like 12.5 and abbreviations intact."""
    pieces = SENTENCE_END.split(" ".join(text.split()))
    sentences: list[str] = []
    for piece in pieces:
        if sentences and sentences[-1].lower().endswith(ABBREVIATIONS):
            sentences[-1] = f"{sentences[-1]} {piece}"
        else:
            sentences.append(piece)
    return [s.strip() for s in sentences if s.strip()]


@contextmanager
def guarded(name: str, what: str) -> Iterator[None]:
    """Turn any failure of a third-party parser into a DocumentError naming the file.

    Parsers fed fuzzed input raise whatever their internals hit (KeyError, struct.error,
    RecursionError…); the caller needs one clear refusal, never a traceback.
    """
    try:
        yield
    except DocumentError:
        raise
    except MemoryError as exc:
        raise DocumentError(name, f"the {what} is too large to read") from exc
    except (zipfile.BadZipFile, zlib.error) as exc:
        raise DocumentError(name, f"the {what} is damaged ({exc})") from exc
    except Exception as exc:  # third-party parser on untrusted input: any error means malformed
        raise DocumentError(
            name, f"the {what} is malformed and cannot be read ({exc.__class__.__name__}: {exc})"
        ) from exc
