"""A per-query cache of web results: one small JSON file per query under the data dir, with a TTL.

Keys hash the provider, its base URL, the normalised query and the limit, so the file names
reveal nothing about what was searched. Entries older than the TTL are ignored and replaced.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from cto_assistant.research.providers import SearchHit


class CachedSearch(BaseModel):
    """A stored answer: the hits and when they were fetched."""

    query: str
    provider: str
    fetched_at: datetime
    hits: list[SearchHit]


class QueryCache:
    """Search answers on disk, fresh for `ttl`."""

    def __init__(self, folder: Path, *, ttl: timedelta) -> None:
        self.folder = folder
        self.ttl = ttl

    @staticmethod
    def key(*, provider: str, base_url: str, query: str, limit: int) -> str:
        """The cache key of a query (case and spacing do not matter)."""
        normal = " ".join(query.casefold().split())
        return hashlib.sha256(f"{provider}\n{base_url}\n{limit}\n{normal}".encode()).hexdigest()

    def get(self, key: str, *, now: datetime) -> CachedSearch | None:
        """The cached answer for `key` if present and younger than the TTL."""
        if self.ttl <= timedelta(0):
            return None
        path = self.folder / f"{key}.json"
        try:
            entry = CachedSearch.model_validate_json(path.read_bytes())
        except (OSError, ValidationError, ValueError):
            return None
        if now - entry.fetched_at > self.ttl or entry.fetched_at > now + timedelta(minutes=5):
            return None
        return entry

    def put(self, key: str, entry: CachedSearch) -> None:
        """Store an answer atomically (write to a temp file, then rename)."""
        if self.ttl <= timedelta(0):
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        payload: Any = entry.model_dump(mode="json")
        descriptor, temporary = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(payload, handle)
        os.replace(temporary, self.folder / f"{key}.json")
