"""The one exception tree of CTO Assistant.

    CTOError
    ├── ConfigError                 a setting is missing, malformed or unsafe
    ├── StoreError                  the database refused a write or a migration
    ├── ConnectorError              anything a vendor connector raises (carries `source`)
    │   ├── AuthError               401/403: credentials missing, wrong or revoked
    │   ├── RateLimitedError        429 or vendor rate-limit headers after the retry budget
    │   ├── UpstreamError           5xx, timeouts, connection failures after retries
    │   └── SchemaDriftError        a payload no longer has the shape the mapper expects
    ├── ImportFileError             a bad row or file in `cto import …` (carries line numbers)
    └── ToolError                   a tool could not answer (never crosses the tool boundary)

Callers catch the base of the branch they care about; messages name what is wrong and never
contain a secret.
"""

from __future__ import annotations


class CTOError(Exception):
    """Base of every error this product raises on purpose."""


class ConfigError(CTOError):
    """A setting is missing, malformed or unsafe."""

    def __init__(self, setting: str, problem: str) -> None:
        self.setting = setting
        self.problem = problem
        super().__init__(f"{setting}: {problem}")


class StoreError(CTOError):
    """The database refused a write or a migration."""


class ConnectorError(CTOError):
    """A vendor connector failed; `source` names the configured source."""

    def __init__(self, source: str, message: str, *, stream: str | None = None) -> None:
        self.source = source
        self.stream = stream
        where = f"{source}/{stream}" if stream else source
        super().__init__(f"{where}: {message}")


class AuthError(ConnectorError):
    """The vendor refused the credentials (401/403)."""


class RateLimitedError(ConnectorError):
    """The vendor kept rate-limiting after the retry budget was spent."""

    def __init__(
        self, source: str, message: str, *, stream: str | None = None, retry_after: float | None
    ) -> None:
        self.retry_after = retry_after
        super().__init__(source, message, stream=stream)


class UpstreamError(ConnectorError):
    """The vendor failed (5xx, timeout, connection error) after retries."""


class SchemaDriftError(ConnectorError):
    """A payload no longer has the shape the mapper expects."""

    def __init__(
        self, source: str, message: str, *, stream: str | None = None, field: str | None = None
    ) -> None:
        self.field = field
        super().__init__(source, message, stream=stream)


class ImportFileError(CTOError):
    """A file given to `cto import …` is unreadable or has bad rows."""

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        shown = "; ".join(problems[:5]) + (
            f" (+{len(problems) - 5} more)" if len(problems) > 5 else ""
        )
        super().__init__(f"{path}: {shown}")


class ToolError(CTOError):
    """A tool could not answer; turned into an `error` envelope at the tool boundary."""
