"""What the boto3-based connectors (Cost Explorer, IAM) share: the failures every AWS call can
meet, our backoff, and the retry bookkeeping — so both loops classify and wait the same way.

botocore's own retries are off in both clients (they sleep on the real clock); the loops here
retry with the connector's attempt budget and the injectable sleep, like `http.VendorClient`.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from botocore.exceptions import (
    BotoCoreError,
    ConnectionClosedError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from cto_assistant.connectors.base import RequestStats
from cto_assistant.errors import AuthError, RateLimitedError, UpstreamError
from cto_assistant.logging import get_logger

log = get_logger("connectors.aws")

TRANSIENT = (EndpointConnectionError, ConnectionClosedError, ReadTimeoutError)
"""Network-level failures worth another attempt."""

COMMON_FAILURES = (NoCredentialsError, BotoCoreError)
"""What any AWS call may raise besides the service's own ClientError (TRANSIENT included)."""


def backoff(rng: random.Random, attempt: int) -> float:
    """Full-jitter exponential backoff for a 1-based attempt (at most 30 s)."""
    return rng.uniform(0, min(30.0, 0.5 * 2 ** (attempt - 1)))


def common_failure(
    exc: BotoCoreError,
    *,
    source: str,
    action: str,
    attempt: int,
    max_attempts: int,
    stream: str | None,
    rng: random.Random,
) -> float:
    """Raise the typed error for a non-service failure, or return the wait before a retry."""
    if isinstance(exc, NoCredentialsError):
        raise AuthError(
            source, "no AWS credentials found in the config or the AWS chain", stream=stream
        ) from exc
    if isinstance(exc, TRANSIENT):
        if attempt >= max_attempts:
            raise UpstreamError(
                source,
                f"{action} failed after {attempt} attempts: {exc.__class__.__name__}",
                stream=stream,
            ) from exc
        return backoff(rng, attempt)
    raise UpstreamError(source, f"{action}: {exc.__class__.__name__}", stream=stream) from exc


def pause(
    stats: RequestStats,
    sleep: Callable[[float], None],
    *,
    source: str,
    action: str,
    attempt: int,
    wait: float,
) -> None:
    """Count a retry, log it (no parameters, no credentials) and wait."""
    stats.retries += 1
    stats.waited_seconds += wait
    log.info(
        "vendor retry", source=source, operation=action, attempt=attempt, wait_s=round(wait, 2)
    )
    sleep(wait)


def service_failure(
    exc: Exception,
    *,
    source: str,
    action: str,
    status: int,
    code: str,
    headers: dict[str, str],
    attempt: int,
    max_attempts: int,
    stream: str | None,
    rng: random.Random,
    throttle_codes: frozenset[str],
    auth_codes: frozenset[str],
    permission: str,
) -> float:
    """Raise the typed error for a failed service call, or return the wait before a retry.

    Throttling waits Retry-After (or backs off) until the attempts run out; 401/403 and the
    service's auth codes are auth errors naming the permission; 5xx retries; anything else fails.
    """
    if status == 429 or code in throttle_codes:
        retry_after = headers.get("retry-after")
        wait = float(retry_after) if retry_after else backoff(rng, attempt)
        if attempt >= max_attempts:
            raise RateLimitedError(
                source,
                f"{action} throttled ({code}) after {attempt} attempts",
                stream=stream,
                retry_after=wait,
            ) from exc
        return wait
    if status in (401, 403) or code in auth_codes:
        raise AuthError(
            source,
            f"{action}: {code} (credentials missing or wrong, or lacking {permission})",
            stream=stream,
        ) from exc
    if status >= 500:
        if attempt >= max_attempts:
            raise UpstreamError(
                source, f"{action}: HTTP {status} after {attempt} attempts", stream=stream
            ) from exc
        return backoff(rng, attempt)
    raise UpstreamError(source, f"{action}: {code} (HTTP {status})", stream=stream) from exc
