"""`/api/documents`: upload (multipart, size-limited), list, search and summary.

The upload body is counted while it streams in and refused past the limit before any parsing;
the document itself is then checked by content (never by its name) and stored all-or-nothing.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from starlette.datastructures import UploadFile
from starlette.requests import Request as StarletteRequest
from starlette.types import Message

from cto_assistant.documents import DocumentError, Limits, add_document
from cto_assistant.documents.sniff import MiB
from cto_assistant.tools.base import ToolContext, ToolResult, ToolStatus, call_tool
from cto_assistant.web.api.dashboard import tool_context

router = APIRouter(prefix="/documents", tags=["documents"])
UPLOAD_MAX_BYTES = 25 * MiB
MULTIPART_SLACK = 64 * 1024  # boundaries and part headers around the file
UPLOAD_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            }
        },
    }
}


def _envelope(result: ToolResult) -> dict[str, Any]:
    if result.status == ToolStatus.ERROR:
        raise HTTPException(status_code=400, detail=result.summary)
    return result.payload()


async def _bounded_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"upload over the {limit // MiB} MiB limit")
    received: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"upload over the {limit // MiB} MiB limit")
        received.append(chunk)
    return b"".join(received)


@router.post("", summary="Upload a document", openapi_extra=UPLOAD_SCHEMA, status_code=201)
async def upload_document(request: Request) -> dict[str, Any]:
    """Store an uploaded document (PDF, DOCX, PPTX, XLSX, HTML, Markdown, text, diagrams)."""
    body = await _bounded_body(request, UPLOAD_MAX_BYTES + MULTIPART_SLACK)

    async def replay() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    form = await StarletteRequest(request.scope, replay).form(max_files=1, max_fields=4)
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise HTTPException(422, "send the document as the multipart field `file`")
    data = await upload.read()
    settings = request.app.state.settings
    try:
        added = add_document(
            request.app.state.store,
            data,
            name=upload.filename or "upload",
            source=f"upload:{upload.filename or 'upload'}",
            now=settings.now(),
            limits=Limits(max_bytes=UPLOAD_MAX_BYTES),
        )
    except DocumentError as exc:
        status = 413 if "limit" in exc.problem and "MiB" in exc.problem else 422
        raise HTTPException(status, str(exc)) from None
    return {
        "id": added.id,
        "title": added.title,
        "kind": added.kind,
        "pages": added.pages,
        "chunks": added.chunks,
        "already_present": added.already_present,
    }


@router.get("", summary="List documents")
def get_documents(
    limit: int = Query(50, ge=1, le=500), ctx: ToolContext = Depends(tool_context)
) -> dict[str, Any]:
    """The stored documents, newest first."""
    return _envelope(call_tool("list_documents", ctx, {"limit": limit}))


@router.get("/search", summary="Search documents")
def search_documents(
    q: str = Query(..., min_length=1, max_length=400, description="Words to look for."),
    limit: int = Query(5, ge=1, le=50),
    ctx: ToolContext = Depends(tool_context),
) -> dict[str, Any]:
    """Passages matching the query, with document, heading and page."""
    return _envelope(call_tool("search_documents", ctx, {"query": q, "limit": limit}))


@router.get("/{document_id}/summary", summary="Summarize a document")
def document_summary(document_id: int, ctx: ToolContext = Depends(tool_context)) -> dict[str, Any]:
    """The extractive summary of one document."""
    result = call_tool("summarize_document", ctx, {"document": str(document_id)})
    if result.status == ToolStatus.NO_DATA:
        raise HTTPException(404, result.summary)
    return _envelope(result)
