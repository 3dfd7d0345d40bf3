"""Document indexing benchmark: a generated 200-page PDF parsed, chunked, summarized and indexed.

    .venv/bin/python benchmarks/bench_documents.py [--pages 200] [--database-url URL]

Generates the test suite's security report padded with appendix pages (fpdf2), then times
`add_document` (type check, pypdf extraction, chunking, extractive summary, one-transaction
insert with the FTS5 / PostgreSQL full-text index) and a search over the result. Reports wall
time per phase, Python peak allocation (tracemalloc) and process peak RSS, as JSON.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.documents import samples

from cto_assistant.documents import add_document, parse_document
from cto_assistant.documents.chunking import chunk_blocks
from cto_assistant.documents.store import search_chunks
from cto_assistant.documents.summary import summarize
from cto_assistant.store import open_store

NOW = datetime(2025, 6, 1, tzinfo=UTC)


def main() -> None:
    """Run the benchmark once and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    started = time.perf_counter()
    data = samples.security_report_pdf(extra_pages=max(0, args.pages - 4))
    generated = time.perf_counter() - started

    started = time.perf_counter()
    parsed = parse_document(data, "big-report.pdf")
    parse_seconds = time.perf_counter() - started
    chunks = chunk_blocks(parsed.blocks)
    started = time.perf_counter()
    summarize(parsed)
    summary_seconds = time.perf_counter() - started

    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{Path(folder) / 'bench.db'}"
        store = open_store(url)
        started = time.perf_counter()
        added = add_document(store, data, name="big-report.pdf", now=NOW)
        add_seconds = time.perf_counter() - started
        started = time.perf_counter()
        with store.session() as session:
            passages = search_chunks(session, query="quantum-safe key rotation", limit=5)
        search_ms = (time.perf_counter() - started) * 1000
        store.dispose()

    # Memory on a second pass: tracemalloc slows Python down, so it stays out of the timings.
    tracemalloc.start()
    summarize(parse_document(data, "big-report.pdf"))
    _, parse_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    report = {
        "pages": parsed.pages,
        "pdf_bytes": len(data),
        "text_chars": len(parsed.text),
        "chunks": len(chunks),
        "database": "postgresql" if args.database_url else "sqlite",
        "generate_pdf_s": round(generated, 2),
        "parse_s": round(parse_seconds, 2),
        "summary_s": round(summary_seconds, 3),
        "add_document_total_s": round(add_seconds, 2),
        "pages_per_s": round((parsed.pages or 0) / add_seconds, 1),
        "search_ms": round(search_ms, 1),
        "planted_found_on_page": passages[0].page if passages else None,
        "python_peak_mib_parse_and_summary": round(parse_peak / 2**20, 1),
        "process_peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "stored_chunks": added.chunks,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
