"""The one place that builds HTTP clients for vendors.

Every vendor request goes through `VendorClient.request`: timeouts always on; retries on 429,
5xx and connection errors with exponential backoff and full jitter; `Retry-After` (seconds or
HTTP date) and rate-limit reset headers (`x-ratelimit-reset`, GitHub's remaining=0 on 403)
honoured; a cap on attempts and on any single wait; typed errors (`AuthError`,
`RateLimitedError`, `UpstreamError`, `SchemaDriftError`) naming the source and stream; and log
lines that carry method, path, status and attempt — never a header value, token or body.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from cto_assistant.connectors.base import ConnectorContext
from cto_assistant.errors import (
    AuthError,
    ConnectorError,
    RateLimitedError,
    SchemaDriftError,
    UpstreamError,
)
from cto_assistant.logging import get_logger, install_redaction, register_secret

log = get_logger("http")
install_redaction()

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
BACKOFF_BASE_SECONDS = 0.5
BACKOFF_CAP_SECONDS = 30.0
MAX_WAIT_SECONDS = 120.0
USER_AGENT = "cto-assistant/0.1"
_SECRET_QUERY = re.compile(r"(token|key|secret|password|signature|auth)", re.I)


def safe_url(url: str | httpx.URL) -> str:
    """The URL for a log line: path kept, secret-looking query values masked."""
    parts = urlsplit(str(url))
    if not parts.query:
        return parts.path or "/"
    shown = []
    for pair in parts.query.split("&"):
        name, _, value = pair.partition("=")
        shown.append(f"{name}=***" if _SECRET_QUERY.search(name) else f"{name}={value}")
    return f"{parts.path}?{'&'.join(shown)}"


def retry_after_seconds(response: httpx.Response, *, now: datetime | None = None) -> float | None:
    """Seconds the vendor asks us to wait, from Retry-After or rate-limit reset headers."""
    header = response.headers.get("retry-after")
    if header:
        header = header.strip()
        try:
            return max(0.0, float(header))
        except ValueError:
            try:
                when = parsedate_to_datetime(header)
            except (TypeError, ValueError):
                return None
            current = now or datetime.now(UTC)
            return max(0.0, (when - current).total_seconds())
    reset = response.headers.get("x-ratelimit-reset") or response.headers.get("ratelimit-reset")
    if reset:
        try:
            value = float(reset)
        except ValueError:
            return None
        # Epoch seconds (GitHub) or seconds-from-now (IETF draft, Datadog's x-ratelimit-reset).
        if value > 1_000_000_000:
            epoch_now = (now or datetime.now(UTC)).timestamp()
            return max(0.0, value - epoch_now)
        return max(0.0, value)
    return None


def is_rate_limited(response: httpx.Response) -> bool:
    """429, or GitHub's 403 with no requests remaining."""
    if response.status_code == 429:
        return True
    return response.status_code == 403 and response.headers.get("x-ratelimit-remaining") == "0"


class VendorClient:
    """An httpx client bound to one source, with retries and typed errors."""

    def __init__(
        self,
        context: ConnectorContext,
        *,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | tuple[str, str] | None = None,
        base_url: str | None = None,
        secrets: tuple[str | None, ...] = (),
    ) -> None:
        config = context.config
        self.source = context.name
        self.stats = context.stats
        self.max_attempts = config.max_attempts
        self._sleep: Callable[[float], None] = (
            time.sleep if context.sleep is None else context.sleep
        )
        self._random = random.Random()
        for secret in secrets:
            register_secret(secret)
        all_headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        all_headers.update(headers or {})
        self._client = httpx.Client(
            base_url=(base_url or config.base_url).rstrip("/") + "/",
            headers=all_headers,
            auth=auth,
            timeout=httpx.Timeout(
                config.timeout_seconds, connect=min(10.0, config.timeout_seconds)
            ),
            transport=context.transport,
            follow_redirects=True,
        )

    def backoff(self, attempt: int) -> float:
        """Full-jitter exponential backoff for the given 1-based attempt."""
        ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (attempt - 1))
        return self._random.uniform(0, ceiling)

    def request(
        self,
        method: str,
        url: str,
        *,
        stream: str | None = None,
        ok_statuses: tuple[int, ...] = (),
        **kwargs: Any,
    ) -> httpx.Response:
        """Send a request with retries; return a 2xx response or raise a ConnectorError.

        `ok_statuses` are error statuses the caller handles itself (e.g. GitHub's 404 for an
        unprotected branch): they are returned, not raised.
        """
        url = url.lstrip("/") if not url.startswith("http") else url
        attempt = 0
        while True:
            attempt += 1
            self.stats.requests += 1
            started = time.perf_counter()
            try:
                response = self._client.request(method, url, **kwargs)
            except httpx.TransportError as exc:
                if attempt >= self.max_attempts:
                    raise UpstreamError(
                        self.source,
                        f"{method} {safe_url(url)} failed after {attempt} attempts: "
                        f"{exc.__class__.__name__}",
                        stream=stream,
                    ) from exc
                wait = self.backoff(attempt)
                self._retrying(method, url, attempt, wait, reason=exc.__class__.__name__)
                continue
            elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
            status = response.status_code
            if status < 400 or status in ok_statuses:
                log.debug(
                    "vendor request",
                    source=self.source,
                    method=method,
                    path=safe_url(response.request.url),
                    status=status,
                    ms=elapsed_ms,
                )
                return response
            if is_rate_limited(response):
                asked = retry_after_seconds(response)
                if attempt >= self.max_attempts or (asked is not None and asked > MAX_WAIT_SECONDS):
                    raise RateLimitedError(
                        self.source,
                        f"rate limited on {safe_url(url)} after {attempt} attempts"
                        + (f" (retry after {asked:.0f}s)" if asked is not None else ""),
                        stream=stream,
                        retry_after=asked,
                    )
                self._retrying(
                    method,
                    url,
                    attempt,
                    asked if asked is not None else self.backoff(attempt),
                    reason=str(status),
                )
                continue
            if status in (401, 403):
                raise AuthError(
                    self.source,
                    f"HTTP {status} on {safe_url(url)}: credentials missing, wrong or lacking "
                    "permission",
                    stream=stream,
                )
            if status in RETRY_STATUSES:
                if attempt >= self.max_attempts:
                    raise UpstreamError(
                        self.source,
                        f"HTTP {status} on {method} {safe_url(url)} after {attempt} attempts",
                        stream=stream,
                    )
                asked = retry_after_seconds(response)
                self._retrying(
                    method,
                    url,
                    attempt,
                    asked if asked is not None else self.backoff(attempt),
                    reason=str(status),
                )
                continue
            raise UpstreamError(
                self.source, f"HTTP {status} on {method} {safe_url(url)}", stream=stream
            )

    def _retrying(self, method: str, url: str, attempt: int, wait: float, *, reason: str) -> None:
        self.stats.retries += 1
        self.stats.waited_seconds += wait
        log.info(
            "vendor retry",
            source=self.source,
            method=method,
            path=safe_url(url),
            attempt=attempt,
            reason=reason,
            wait_s=round(wait, 2),
        )
        self._sleep(wait)

    def get_json(self, url: str, *, stream: str | None = None, **kwargs: Any) -> Any:
        """GET and decode JSON; a body that is not JSON is schema drift."""
        return decode_json(self.request("GET", url, stream=stream, **kwargs), self.source, stream)

    def post_json(self, url: str, *, stream: str | None = None, **kwargs: Any) -> Any:
        """POST and decode JSON (empty body → None)."""
        response = self.request("POST", url, stream=stream, **kwargs)
        if not response.content:
            return None
        return decode_json(response, self.source, stream)

    def close(self) -> None:
        """Close the underlying connection pool."""
        self._client.close()


def decode_json(response: httpx.Response, source: str, stream: str | None) -> Any:
    """Decode a response body as JSON or raise SchemaDriftError naming the stream."""
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SchemaDriftError(
            source,
            f"response of {safe_url(response.request.url)} is not valid JSON "
            f"({len(response.content)} bytes, {exc.__class__.__name__})",
            stream=stream,
        ) from exc


def build_client(
    context: ConnectorContext,
    *,
    headers: Mapping[str, str] | None = None,
    auth: httpx.Auth | tuple[str, str] | None = None,
    base_url: str | None = None,
    secrets: tuple[str | None, ...] = (),
) -> VendorClient:
    """Build the retrying client for a connector; pass every secret so logs can mask it."""
    return VendorClient(context, headers=headers, auth=auth, base_url=base_url, secrets=secrets)


__all__ = [
    "ConnectorError",
    "VendorClient",
    "build_client",
    "decode_json",
    "retry_after_seconds",
    "safe_url",
]
