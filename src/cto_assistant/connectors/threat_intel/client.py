"""Threat intel: CISA KEV (JSON feed), FIRST EPSS (daily CSV) and OSV (querybatch + vulns).

Feeds are fetched conditionally: the ETag / Last-Modified of the last fetch are sent back
(If-None-Match / If-Modified-Since) and a 304 reuses the copy cached in `cache_dir`, so an
unchanged day costs one small request per feed. Incremental: KEV entries with dateAdded after
the cursor; EPSS only when its score_date moved; OSV records modified after the cursor.

OSV needs the stack inventory (the `dependency` table). A connector never reads the store, so
whoever runs the sync hands it in: `connector.set_inventory(inventory_from_rows(rows))`; the
`packages` setting adds fixed ones. EPSS scores are kept for the CVEs set with `watch_cves(...)`
(e.g. those of open vulnerabilities) plus every CVE scoring at least `epss_min`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel, Field

from cto_assistant.connectors.base import (
    Checkpoint,
    CheckResult,
    Connector,
    ConnectorConfig,
    ConnectorContext,
    Record,
    Stream,
)
from cto_assistant.connectors.payload import Reader
from cto_assistant.connectors.threat_intel import mapping
from cto_assistant.connectors.threat_intel.mapping import PackageRef
from cto_assistant.errors import ConnectorError, SchemaDriftError
from cto_assistant.http import VendorClient, build_client, decode_json

OSV_BATCH = 1000  # OSV's limit of queries per querybatch


class PackageSetting(BaseModel):
    """A package to ask OSV about."""

    ecosystem: str = Field(description="OSV ecosystem, e.g. npm, PyPI, Maven, Go.")
    name: str = Field(description="Package name.")
    version: str | None = Field(default=None, description="Version in use (None: any).")


class ThreatIntelConfig(ConnectorConfig):
    """Feed URLs, cache and what to watch."""

    kind: str = Field(default="threat_intel", description="Connector kind: 'threat_intel'.")
    base_url: str = Field(default="https://api.osv.dev", description="OSV API root.")
    kev_url: str = Field(
        default="https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json",
        description="CISA KEV catalogue (JSON).",
    )
    epss_url: str = Field(
        default="https://epss.cyentia.com/epss_scores-current.csv.gz",
        description="FIRST EPSS daily scores (CSV, gzip).",
    )
    cache_dir: str | None = Field(
        default=None, description="Folder for cached feeds (e.g. <data dir>/feeds)."
    )
    packages: list[PackageSetting] = Field(
        default_factory=list, description="Extra packages for OSV."
    )
    epss_min: float = Field(
        default=0.1, ge=0, le=1, description="Keep EPSS scores at least this high."
    )


class ThreatIntelConnector(Connector):
    """CISA KEV, FIRST EPSS and OSV as advisory rows."""

    kind = "threat_intel"
    config_model = ThreatIntelConfig
    category = "security"
    streams = (
        Stream(
            "kev",
            tables=("advisory",),
            incremental=True,
            description="CISA KEV entries (cursor: dateAdded).",
        ),
        Stream(
            "epss",
            tables=("advisory",),
            incremental=True,
            description="EPSS scores (cursor: score_date).",
        ),
        Stream(
            "osv",
            tables=("advisory",),
            incremental=True,
            description="OSV records for the stack inventory (cursor: modified).",
        ),
    )

    def __init__(self, context: ConnectorContext) -> None:
        super().__init__(context)
        self._client: VendorClient | None = None
        self._inventory: list[PackageRef] = []
        self._watched: set[str] = set()
        self._memory_cache: dict[str, tuple[dict[str, str], bytes]] = {}

    @property
    def settings(self) -> ThreatIntelConfig:
        """The typed config."""
        assert isinstance(self.config, ThreatIntelConfig)
        return self.config

    @property
    def client(self) -> VendorClient:
        """The HTTP client (no credentials: the feeds are public)."""
        if self._client is None:
            self._client = build_client(self.context)
        return self._client

    def close(self) -> None:
        """Close the HTTP client."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def set_inventory(self, packages: Iterable[PackageRef]) -> None:
        """Give the stack inventory OSV is asked about (see `mapping.inventory_from_rows`)."""
        self._inventory = list(packages)

    def watch_cves(self, cves: Iterable[str]) -> None:
        """CVEs whose EPSS scores the epss stream must keep whatever their score."""
        self._watched = {c.upper() for c in cves}

    # ------------------------------------------------------------------------ cached fetch

    def _cache_path(self, url: str) -> Path | None:
        if not self.settings.cache_dir:
            return None
        return Path(self.settings.cache_dir) / hashlib.sha256(url.encode()).hexdigest()[:24]

    def _cached(self, url: str) -> tuple[dict[str, str], bytes] | None:
        path = self._cache_path(url)
        if (
            path is not None
            and path.with_suffix(".json").exists()
            and path.with_suffix(".body").exists()
        ):
            return json.loads(path.with_suffix(".json").read_text()), path.with_suffix(
                ".body"
            ).read_bytes()
        return self._memory_cache.get(url)

    def fetch(self, url: str, *, stream: str) -> tuple[bytes, bool]:
        """The feed body and whether it changed since the cached copy (conditional GET)."""
        cached = self._cached(url)
        headers = {"Accept": "*/*"}
        if cached is not None:
            meta = cached[0]
            if meta.get("etag"):
                headers["If-None-Match"] = meta["etag"]
            if meta.get("last_modified"):
                headers["If-Modified-Since"] = meta["last_modified"]
        response = self.client.request("GET", url, stream=stream, headers=headers)
        self.context.stats.pages += 1
        if response.status_code == 304 and cached is not None:
            return cached[1], False
        meta = {
            "etag": response.headers.get("etag", ""),
            "last_modified": response.headers.get("last-modified", ""),
        }
        body = response.content
        self._memory_cache[url] = (meta, body)
        path = self._cache_path(url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.with_suffix(".body").write_bytes(body)
            path.with_suffix(".json").write_text(json.dumps(meta))
        return body, True

    # ----------------------------------------------------------------------------- streams

    def pull_kev(self, since: str | None) -> Iterator[Record | Checkpoint]:
        """Yield KEV entries added after the cursor (a date)."""
        body, _changed = self.fetch(self.settings.kev_url, stream="kev")
        try:
            catalogue = json.loads(body)
        except json.JSONDecodeError as exc:
            raise SchemaDriftError(self.name, "KEV feed is not valid JSON", stream="kev") from exc
        newest = since
        for row in mapping.kev_entries(catalogue, source=self.name):
            added = row["published"].date().isoformat()
            if since is not None and added <= since:
                continue
            yield Record("advisory", row)
            newest = added if newest is None or added > newest else newest
        if newest is not None and newest != since:
            yield Checkpoint(newest)

    def pull_epss(self, since: str | None) -> Iterator[Record | Checkpoint]:
        """Yield EPSS advisory rows when the scores' date moved past the cursor."""
        body, changed = self.fetch(self.settings.epss_url, stream="epss")
        if not changed and since is not None:
            return
        scores = mapping.parse_epss(body, source=self.name)
        if since is not None and scores.score_date and scores.score_date <= since:
            return
        wanted = set(self._watched) | {
            c for c, (p, _) in scores.scores.items() if p >= self.settings.epss_min
        }
        for row in mapping.epss_rows(scores, wanted, source=self.name):
            yield Record("advisory", row)
        if scores.score_date:
            yield Checkpoint(scores.score_date)

    def _packages(self) -> list[PackageRef]:
        fixed = [PackageRef(p.ecosystem, p.name, p.version) for p in self.settings.packages]
        return sorted(
            set(self._inventory) | set(fixed), key=lambda p: (p.ecosystem, p.name, p.version or "")
        )

    def pull_osv(self, since: str | None) -> Iterator[Record | Checkpoint]:
        """Ask OSV about every inventory package; yield records modified after the cursor."""
        packages = self._packages()
        modified: dict[str, str] = {}
        for start in range(0, len(packages), OSV_BATCH):
            queries: list[dict[str, Any]] = [
                {
                    "package": {"ecosystem": p.ecosystem, "name": p.name},
                    **({"version": p.version} if p.version else {}),
                }
                for p in packages[start : start + OSV_BATCH]
            ]
            while queries:
                body = self.client.post_json(
                    "v1/querybatch", json={"queries": queries}, stream="osv"
                )
                self.context.stats.pages += 1
                results = body.get("results") if isinstance(body, dict) else None
                if not isinstance(results, list) or len(results) != len(queries):
                    raise SchemaDriftError(
                        self.name,
                        "querybatch answer has no 'results' per query",
                        stream="osv",
                        field="results",
                    )
                again = []
                for query, item in zip(queries, results, strict=True):
                    result = Reader(item, source=self.name, stream="osv", what="querybatch result")
                    for vuln in result.get("vulns", []):
                        found = Reader(vuln, source=self.name, stream="osv", what="OSV vuln")
                        modified[str(found.need("id"))] = str(found.get("modified", ""))
                    if result.get("next_page_token"):
                        again.append({**query, "page_token": result.get("next_page_token")})
                queries = again
        newest = since
        for vuln_id in sorted(modified):
            stamp = modified[vuln_id]
            if since is not None and stamp and stamp <= since:
                continue
            response = self.client.request("GET", f"v1/vulns/{vuln_id}", stream="osv")
            self.context.stats.pages += 1
            row = mapping.osv_advisory(decode_json(response, self.name, "osv"), source=self.name)
            yield Record("advisory", row)
            newest = stamp if newest is None or stamp > newest else newest
        if newest is not None and newest != since:
            yield Checkpoint(newest)

    def check(self) -> list[CheckResult]:
        """Probe each feed with a HEAD-like small request."""
        results = []
        for capability, url in (
            ("read KEV", self.settings.kev_url),
            ("read EPSS", self.settings.epss_url),
        ):
            try:
                self.client.request("GET", url, headers={"Range": "bytes=0-0"})
            except ConnectorError as exc:
                results.append(CheckResult(capability, False, str(exc)))
            else:
                results.append(CheckResult(capability, True))
        try:
            self.client.post_json(
                "v1/query", json={"package": {"ecosystem": "PyPI", "name": "pip"}, "version": "0"}
            )
        except (ConnectorError, httpx.HTTPError) as exc:
            results.append(CheckResult("query OSV", False, str(exc)))
        else:
            results.append(CheckResult("query OSV", True))
        return results
