"""Structured logging: one line per operation, key=value or JSON, secrets never written."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any, TextIO, cast

import structlog

if TYPE_CHECKING:
    from cto_assistant.settings import Settings

_SECRET_KEYS = re.compile(
    r"(token|secret|password|passwd|api[_-]?key|app[_-]?key|authorization|cookie|credential)", re.I
)
_known_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    """Remember a secret value so any log line containing it is masked."""
    if value and len(value) >= 6:
        _known_secrets.add(value)


def redact_text(text: str) -> str:
    """Mask every registered secret inside `text`."""
    for secret in _known_secrets:
        if secret in text:
            text = text.replace(secret, "**********")
    return text


def _redact(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key, value in list(event.items()):
        if _SECRET_KEYS.search(key) and key != "event":
            event[key] = "**********"
        elif isinstance(value, str):
            event[key] = redact_text(value)
    return event


class _RedactingFilter(logging.Filter):
    """Mask registered secrets in stdlib log records (uvicorn, httpx, alembic)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _known_secrets:
            message = record.getMessage()
            masked = redact_text(message)
            if masked != message:
                record.msg, record.args = masked, None
        return True


NOISY_LOGGERS = ("httpx", "httpcore", "uvicorn.access", "botocore", "urllib3")


def install_redaction() -> None:
    """Attach the secret-masking filter to the loggers of libraries that log URLs and headers."""
    for name in NOISY_LOGGERS:
        target = logging.getLogger(name)
        if not any(isinstance(f, _RedactingFilter) for f in target.filters):
            target.addFilter(_RedactingFilter())


class _Stderr:
    """Writes to whatever `sys.stderr` is at the time (test runners swap it)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(settings: Settings | None = None, *, stream: Any = None) -> None:
    """Set up structlog and the stdlib root logger once per process."""
    level = getattr(logging, settings.log_level if settings else "INFO")
    as_json = bool(settings and settings.log_json)
    if settings and settings.secret_key:
        register_secret(settings.secret_key.get_secret_value())
    if settings and settings.demo_password:
        register_secret(settings.demo_password.get_secret_value())
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if as_json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _redact,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=stream or cast(TextIO, _Stderr())),
        cache_logger_on_first_use=False,
    )
    root = logging.getLogger()
    # Replace our previous handler (a reconfiguration may name another stream); keep others.
    for old in [
        h for h in root.handlers if any(isinstance(f, _RedactingFilter) for f in h.filters)
    ]:
        root.removeHandler(old)
    handler = logging.StreamHandler(stream or _Stderr())
    handler.addFilter(_RedactingFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)  # "Context impl …" on every command
    install_redaction()


def get_logger(name: str) -> Any:
    """A structlog logger bound to a component name."""
    return structlog.get_logger(component=name)
