"""Extractive summaries: the key sentences, verbatim (numbers intact), under their headings.

Sentences are scored by how many of the document's frequent content words they carry, with
bonuses for figures (numbers, percentages, money), for opening a section and for cue words
("critical", "recommend", "key finding"), in the spirit of Luhn's and Edmundson's methods. The
chosen sentences are printed in document order, grouped under the heading they sit in.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

from cto_assistant.documents.model import Block, Diagram, ParsedDocument
from cto_assistant.documents.text import split_sentences

WORD = re.compile(r"[a-z][a-z0-9'-]{2,}")
FIGURE = re.compile(r"\d")
CUES = frozenset(
    [
        "key",
        "critical",
        "important",
        "significant",
        "conclusion",
        "conclude",
        "summary",
        "overall",
        "recommend",
        "recommendation",
        "must",
        "finding",
        "findings",
        "result",
        "results",
        "risk",
        "risks",
        "increase",
        "decrease",
        "total",
        "goal",
        "objective",
        "priority",
    ]
)
STOPWORDS = frozenset(
    [
        "the",
        "and",
        "for",
        "are",
        "but",
        "not",
        "you",
        "all",
        "any",
        "can",
        "had",
        "her",
        "was",
        "one",
        "our",
        "out",
        "has",
        "have",
        "been",
        "were",
        "they",
        "this",
        "that",
        "with",
        "from",
        "your",
        "which",
        "their",
        "there",
        "what",
        "about",
        "would",
        "will",
        "into",
        "more",
        "also",
        "than",
        "then",
        "them",
        "these",
        "those",
        "its",
        "it's",
        "such",
        "each",
        "other",
        "some",
        "only",
        "over",
        "when",
        "where",
        "who",
        "how",
        "why",
        "may",
        "might",
        "should",
        "could",
        "per",
        "via",
        "upon",
        "within",
        "without",
        "between",
        "after",
        "before",
        "while",
        "being",
        "does",
        "did",
        "doing",
        "our",
        "ours",
        "very",
        "just",
        "most",
        "much",
        "many",
        "both",
        "same",
        "own",
    ]
)


@dataclass(frozen=True, slots=True)
class KeySentence:
    """A sentence chosen for the summary, where it sits, and its score."""

    text: str
    heading: str | None
    page: int | None
    score: float


@dataclass(frozen=True, slots=True)
class Summary:
    """An extractive summary: Markdown text plus the sentences it was built from."""

    markdown: str
    sentences: list[KeySentence]
    outline: list[str]


def content_words(text: str) -> list[str]:
    """Lower-cased words of three letters or more, stopwords removed."""
    return [w for w in WORD.findall(text.lower()) if w not in STOPWORDS]


def summarize(document: ParsedDocument, *, max_sentences: int | None = None) -> Summary:
    """The extractive summary of a parsed document (diagrams: their components and arrows)."""
    if document.diagram is not None:
        return summarize_diagram(document.title, document.diagram)
    return summarize_blocks(document.blocks, max_sentences=max_sentences)


def summarize_blocks(blocks: list[Block], *, max_sentences: int | None = None) -> Summary:
    """Pick the key sentences of text blocks and lay them out under their headings."""
    candidates: list[tuple[int, str, str | None, int | None, bool]] = []
    outline: list[str] = []
    heading: str | None = None
    opens_section = True
    for block in blocks:
        if block.kind == "heading":
            heading = block.text
            opens_section = True
            if block.level <= 1 and block.text not in outline:
                outline.append(block.text)
            continue
        if block.kind != "text":
            continue
        for sentence in split_sentences(block.text):
            candidates.append((len(candidates), sentence, heading, block.page, opens_section))
            opens_section = False
    if not candidates:
        return Summary(markdown="", sentences=[], outline=outline)
    # Sentences repeated verbatim are boilerplate (running headers, disclaimers, filler).
    repeats = Counter(" ".join(sentence.lower().split()) for _, sentence, *_ in candidates)
    frequency = Counter(w for _, s, *_ in candidates for w in set(content_words(s)))
    top = math.log1p(max(frequency.values(), default=1))
    count = max_sentences or min(10, max(4, round(len(candidates) * 0.08)))
    scored: list[tuple[float, int, KeySentence]] = []
    for index, sentence, where, page, first in candidates:
        words = content_words(sentence)
        length = len(sentence.split())
        if not words or length < 4 or repeats[" ".join(sentence.lower().split())] > 1:
            continue
        unique = set(words)
        score = sum(math.log1p(frequency[w]) for w in unique) / (top * math.sqrt(len(unique)))
        score += 0.8 if FIGURE.search(sentence) else 0.0
        score += 0.3 if first else 0.0
        score += 0.4 * min(2, sum(1 for w in unique if w in CUES))
        score -= 0.5 if length > 60 else 0.0
        scored.append((score, index, KeySentence(sentence, where, page, round(score, 3))))
    scored.sort(key=lambda item: (-item[0], item[1]))
    chosen: list[tuple[int, KeySentence]] = []
    per_section: Counter[str | None] = Counter()
    for _, index, key in scored:  # at most two per section first, for coverage
        if len(chosen) < count and per_section[key.heading] < 2:
            chosen.append((index, key))
            per_section[key.heading] += 1
    for _, index, key in scored:
        if len(chosen) >= count:
            break
        if all(index != taken for taken, _ in chosen):
            chosen.append((index, key))
    chosen.sort(key=lambda item: item[0])
    sentences = [key for _, key in chosen]
    return Summary(markdown=_layout(sentences, outline), sentences=sentences, outline=outline)


def _layout(sentences: list[KeySentence], outline: list[str]) -> str:
    lines: list[str] = []
    if len(outline) > 1:
        lines.append("Sections: " + "; ".join(outline[:12]))
    current: object = object()
    for sentence in sentences:
        if sentence.heading != current:
            current = sentence.heading
            page = f" (p. {sentence.page})" if sentence.page is not None else ""
            if sentence.heading:
                lines += ["", f"## {sentence.heading}{page}"]
            elif lines:
                lines.append("")
        lines.append(f"- {sentence.text}")
    return "\n".join(lines).strip()


def summarize_diagram(title: str, diagram: Diagram) -> Summary:
    """A diagram's summary: how many components and connections, then each of them."""
    lines = [
        f"{title}: {len(diagram.components)} components, {len(diagram.connections)} connections.",
        "",
        "## Components",
    ]
    for component in diagram.components:
        detail = f" ({component.kind})" if component.kind != "component" else ""
        where = f" in {component.container}" if component.container else ""
        lines.append(f"- {component.name}{detail}{where}")
    lines += ["", "## Connections"]
    for connection in diagram.connections:
        label = f": {connection.label}" if connection.label else ""
        lines.append(f"- {connection.source} → {connection.target}{label}")
    return Summary(markdown="\n".join(lines), sentences=[], outline=["Components", "Connections"])
