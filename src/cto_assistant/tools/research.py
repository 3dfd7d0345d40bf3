"""Research tools: web search through the configured provider, and the document library.

web_search(query, limit=5)            results with titles, links, snippets and dates
list_documents(limit=50)              the stored documents
summarize_document(document)          the extractive summary (diagrams: components/arrows)
search_documents(query, limit=5)      passages across every document, with pages
ask_document(document, question)      what one document says about something, with pages
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import sqlalchemy as sa

from cto_assistant.documents.model import MEDIA_TYPES
from cto_assistant.documents.store import (
    Passage,
    find_document,
    query_terms,
    search_chunks,
)
from cto_assistant.documents.store import (
    list_documents as stored_documents,
)
from cto_assistant.documents.text import split_sentences
from cto_assistant.errors import RateLimitedError
from cto_assistant.research.service import search_web
from cto_assistant.store.models import Document, DocumentChunk
from cto_assistant.tools.base import (
    SourceRef,
    ToolContext,
    ToolResult,
    ToolStatus,
    no_data,
    not_configured,
    ok,
    tool,
)

KIND_BY_MEDIA_TYPE = {media: kind for kind, media in MEDIA_TYPES.items()}
DOCUMENTS_SOURCE = "documents"


@tool(domain="research")
def web_search(ctx: ToolContext, *, query: str, limit: int = 5) -> ToolResult:
    """Search the web through the configured provider: titles, links, snippets and dates."""
    if not query.strip():
        return no_data("Give something to search for.")
    limit = max(1, min(limit, 20))
    transport = ctx.extras.get("web_search_transport")
    try:
        answer = search_web(
            ctx.settings,
            query=query,
            limit=limit,
            now=ctx.now,
            transport=transport if isinstance(transport, httpx.BaseTransport) else None,
            sleep=ctx.extras.get("sleep"),
        )
    except RateLimitedError as exc:
        wait = f" Try again in {exc.retry_after:.0f} s." if exc.retry_after else ""
        return ToolResult(
            status=ToolStatus.ERROR,
            summary=f"The search provider is rate-limiting us.{wait}",
            error=str(exc),
        )
    if answer is None:
        return not_configured(
            "Web search is not configured: add a [sources.web_search] section with "
            'kind = "web_search" and provider = "searxng", "brave" or "tavily".'
        )
    source = SourceRef(
        source=answer.source,
        synced_at=answer.fetched_at,
        age_seconds=max(0.0, (ctx.now - answer.fetched_at).total_seconds()),
    )
    data = {
        "query": answer.query,
        "provider": answer.provider,
        "cached": answer.cached,
        "results": [hit.model_dump() for hit in answer.hits],
    }
    if not answer.hits:
        return no_data(f"No web results for “{answer.query}”.", sources=[source], data=data)
    top = answer.hits[0]
    summary = (
        f"{len(answer.hits)} web result{'s' if len(answer.hits) != 1 else ''} for "
        f"“{answer.query}” ({answer.provider}); top: {top.title} — {top.url}"
    )
    return ok(data, summary=summary, sources=[source], as_of=answer.fetched_at)


def _document_sources(ctx: ToolContext, added_at: Any = None) -> list[SourceRef]:
    stamp = added_at or ctx.session.scalar(sa.select(sa.func.max(Document.added_at)))
    if stamp is None:
        return []
    return [
        SourceRef(
            source=DOCUMENTS_SOURCE,
            synced_at=stamp,
            age_seconds=max(0.0, (ctx.now - stamp).total_seconds()),
        )
    ]


def _document_info(document: Document, chunks: int | None = None) -> dict[str, Any]:
    info: dict[str, Any] = {
        "id": document.id,
        "title": document.title,
        "source": document.source,
        "kind": KIND_BY_MEDIA_TYPE.get(document.media_type or "", document.media_type),
        "pages": document.pages,
        "added_at": document.added_at.isoformat(),
    }
    if chunks is not None:
        info["chunks"] = chunks
    return info


def _passage(passage: Passage) -> dict[str, Any]:
    return {
        "document_id": passage.document_id,
        "document": passage.title,
        "heading": passage.heading,
        "page": passage.page,
        "snippet": passage.snippet,
        "text": passage.text,
        "score": passage.score,
    }


def _where(page: int | None) -> str:
    return f"p. {page}" if page is not None else "no page numbers"


@tool(domain="research")
def list_documents(ctx: ToolContext, *, limit: int = 50) -> ToolResult:
    """The documents in the library, newest first, with kind, pages and chunk count."""
    rows = stored_documents(ctx.session, limit=max(1, min(limit, 500)))
    if not rows:
        return no_data("No documents yet: add some with `cto docs add PATH` or upload them.")
    data = [_document_info(document, chunks) for document, chunks in rows]
    return ok(
        data,
        summary=f"{len(data)} document{'s' if len(data) != 1 else ''}; newest: {data[0]['title']}.",
        sources=_document_sources(ctx),
    )


@tool(domain="research")
def summarize_document(ctx: ToolContext, *, document: str) -> ToolResult:
    """Summarize a stored document (by title, file name or id): its key sentences and headings."""
    found = find_document(ctx.session, reference=document)
    if found is None:
        return no_data(f"No document matches “{document}”.")
    summary = found.summary or ""
    headings = [
        heading
        for heading in ctx.session.scalars(
            sa.select(DocumentChunk.heading)
            .where(DocumentChunk.document_id == found.id, DocumentChunk.heading.is_not(None))
            .order_by(DocumentChunk.ordinal)
        )
        if heading
    ]
    outline = list(dict.fromkeys(h.split(" \u203a ")[0] for h in headings))
    from cto_assistant.assistant.llm.summaries import model_summary

    written = model_summary(ctx.settings, title=found.title, text=found.text)
    data = {
        **_document_info(found),
        "summary": written or summary,
        "summary_kind": "model" if written else "extractive",
        "extractive_summary": summary,
        "outline": outline,
    }
    summary = written or summary
    first = next(
        (line.removeprefix("- ") for line in summary.splitlines() if line.startswith("- ")), ""
    )
    pages = f", {found.pages} pages" if found.pages else ""
    return ok(
        data,
        summary=f"{found.title}{pages}: {first}" if first else f"{found.title}{pages}.",
        sources=_document_sources(ctx, found.added_at),
    )


@tool(domain="research")
def search_documents(ctx: ToolContext, *, query: str, limit: int = 5) -> ToolResult:
    """Full-text search across every stored document: passages with their heading and page."""
    passages = search_chunks(ctx.session, query=query, limit=max(1, min(limit, 50)))
    if not passages:
        return no_data(f"No document passage matches “{query}”.", sources=_document_sources(ctx))
    best = passages[0]
    return ok(
        [_passage(p) for p in passages],
        summary=f"{len(passages)} passage{'s' if len(passages) != 1 else ''} for “{query}”; "
        f"best in {best.title} ({_where(best.page)}).",
        sources=_document_sources(ctx),
    )


@tool(domain="research")
def ask_document(ctx: ToolContext, *, document: str, question: str) -> ToolResult:
    """What one document says about a subject: the matching passages, quoted with their pages."""
    found = find_document(ctx.session, reference=document)
    if found is None:
        return no_data(f"No document matches “{document}”.")
    passages = search_chunks(ctx.session, query=question, limit=5, document_id=found.id)
    sources = _document_sources(ctx, found.added_at)
    if not passages:
        return no_data(f"{found.title} says nothing about “{question}”.", sources=sources)
    complete = [p for p in passages if p.complete]
    passages = complete or passages
    terms = query_terms(question)
    answers = []
    for passage in passages:
        quote = _best_sentences(passage.text, terms)
        answers.append({**_passage(passage), "quote": quote})
    pages = sorted({p.page for p in passages if p.page is not None})
    where = f" (pages {', '.join(map(str, pages))})" if pages else ""
    lead = answers[0]
    cite = f" ({_where(lead['page'])})"
    return ok(
        {"document": _document_info(found), "question": question, "passages": answers},
        summary=f"{found.title}{where}: “{lead['quote']}”{cite}",
        sources=sources,
    )


def _mentions(sentence: str, term: str) -> bool:
    """Whether a sentence has a word starting like `term` (backup ~ backups, rotate ~ rotation)."""
    stem = term[: max(4, len(term) - 2)]
    return any(word.startswith(stem) for word in re.findall(r"\w+", sentence.lower()))


def _best_sentences(text: str, terms: list[str], *, count: int = 2) -> str:
    """The one or two sentences of a passage that carry the most query words, in order."""
    sentences = split_sentences(text.replace("\n", " "))
    if not sentences:
        return text[:300]
    hits = [sum(_mentions(sentence, term) for term in terms) for sentence in sentences]
    ranked = sorted(range(len(sentences)), key=lambda index: (-hits[index], index))
    chosen = [index for index in ranked[:count] if hits[index] > 0] or ranked[:1]
    return " ".join(sentences[index] for index in sorted(chosen))[:600]
