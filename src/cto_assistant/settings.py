"""Settings: one pydantic-settings class, read from `CTO_*` env vars and an optional `cto.toml`.

Precedence (highest first): constructor arguments, environment (`CTO_…`, nested with `__`),
the TOML file (`CTO_CONFIG`, else `./cto.toml` when present), defaults. Every field has a
description; every secret is a `SecretStr`. Per-source connector settings live under
`[sources.<name>]` and are validated by the connector's own config model.
"""

from __future__ import annotations

import ipaddress
import os
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from cto_assistant.errors import ConfigError

ENV_PREFIX = "CTO_"
DEFAULT_CONFIG_FILE = Path("cto.toml")


def config_file() -> Path | None:
    """Return the TOML file to read: `CTO_CONFIG`, else `./cto.toml` if it exists."""
    explicit = os.environ.get("CTO_CONFIG")
    if explicit:
        return Path(explicit)
    return DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.exists() else None


class Settings(BaseSettings):
    """Effective configuration of one CTO Assistant installation."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    data_dir: Path = Field(
        default=Path(".cto"),
        description="Folder for the SQLite database, reports, uploads and caches.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the store; default: a SQLite file in the data dir.",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Key that signs session cookies and CSRF tokens; required outside demo mode.",
    )
    demo: bool = Field(
        default=False,
        description="Demo mode: the built-in Acme Cloud world; allows a generated secret key.",
    )
    demo_password: SecretStr | None = Field(
        default=None,
        description="Password of the `demo` user that `cto demo` creates; generated when unset.",
    )
    host: str = Field(default="127.0.0.1", description="Address the web server binds to.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port the web server binds to.")
    cookie_secure: Literal["auto", "always", "never"] = Field(
        default="auto",
        description="Secure flag on the session cookie: auto = on unless bound to loopback.",
    )
    session_max_age_hours: int = Field(
        default=12, ge=1, le=24 * 30, description="How long a sign-in lasts."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Lowest level of log lines written."
    )
    log_json: bool = Field(default=False, description="Write log lines as JSON objects.")
    clock: datetime | None = Field(
        default=None,
        description="Pin the current time (demo and tests; the demo pins its world's clock). "
        "Default: the real clock.",
    )
    sync_interval_minutes: int = Field(
        default=30, ge=0, description="How often `cto serve` syncs every source (0 = never)."
    )
    tool_cache_seconds: int = Field(
        default=300,
        ge=0,
        le=3600,
        description="How long a tool's answer is reused while no sync commits (0 = no cache).",
    )
    dashboard_warm: bool = Field(
        default=True,
        description="Recompute the dashboard's widgets after each sync and before they expire.",
    )
    sources: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Per-source connector settings, `[sources.<name>]` with a `kind` key.",
    )
    queue_url: str | None = Field(
        default=None,
        description="Redis URL of the sync job queue (e.g. redis://redis:6379/0). Unset: embedded "
        "mode, `cto serve` syncs in-process. Set: `cto worker` processes run the syncs, "
        "`cto scheduler` enqueues them and web processes never sync (docs/DEPLOYMENT.md).",
    )
    queue_namespace: str = Field(
        default="cto",
        pattern=r"^[A-Za-z0-9_.:-]{1,64}$",
        description="Prefix of every Redis key the job queue uses (one per installation).",
    )
    queue_heartbeat_timeout_seconds: float = Field(
        default=60.0,
        gt=0,
        description="A worker silent this long is presumed dead and its unfinished jobs are "
        "handed to another worker.",
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="Bearer token that `/metrics` requires; unset: `/metrics` is open (it shows "
        "only operational counters, no company data).",
    )
    watch: dict[str, Any] = Field(
        default_factory=dict,
        description="Early-warning rules and notifiers, `[watch]`: per-rule thresholds under "
        "`[watch.rules.<rule>]`, notifiers under `[watch.slack]`, `[watch.email]`, "
        "`[watch.webhook]` (validated by `cto_assistant.watch.config.WatchConfig`).",
    )
    llm: dict[str, Any] = Field(
        default_factory=dict,
        description="Optional LLM mode, `[llm]`: mode (router|auto|llm; default router, no "
        "model), provider (openai|anthropic|openai_compatible), base_url, model, api_key or "
        "api_key_env, and per-conversation token and cost budgets (validated by "
        "`cto_assistant.assistant.llm.config.LLMConfig`).",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        path = config_file()
        chain: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if path is not None:
            chain.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(chain)

    @field_validator("database_url")
    @classmethod
    def _database_url_parses(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        try:
            url = make_url(value)
        except ArgumentError as exc:
            raise ValueError("is not a database URL (e.g. postgresql://user@host/db)") from exc
        if url.get_backend_name() not in {"sqlite", "postgresql"}:
            raise ValueError(
                f"backend {url.get_backend_name()!r} is not supported (sqlite, postgresql)"
            )
        return value

    @field_validator("llm")
    @classmethod
    def _llm_section_is_valid(cls, value: dict[str, Any]) -> dict[str, Any]:
        from cto_assistant.assistant.llm.config import parse_llm_config

        try:
            parse_llm_config(value)
        except ConfigError as exc:
            raise ValueError(f"{exc.problem} ({exc.setting})") from None
        return value

    @model_validator(mode="after")
    def _sources_name_their_kind(self) -> Settings:
        for name, section in self.sources.items():
            if "kind" not in section:
                section["kind"] = name
        return self

    @cached_property
    def effective_database_url(self) -> str:
        """The database URL in use, with psycopg 3 picked for PostgreSQL."""
        if self.database_url:
            url = make_url(self.database_url)
            if url.drivername == "postgresql":
                url = url.set(drivername="postgresql+psycopg")
            return url.render_as_string(hide_password=False)
        return f"sqlite:///{(self.data_dir / 'cto.db').resolve()}"

    @property
    def bound_to_loopback(self) -> bool:
        """Whether the server only listens on this machine."""
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    @property
    def session_cookie_secure(self) -> bool:
        """Whether the session cookie carries the Secure flag."""
        if self.cookie_secure == "auto":
            return not self.bound_to_loopback
        return self.cookie_secure == "always"

    def now(self) -> datetime:
        """The current time: the pinned `clock` if set, else the real UTC clock."""
        if self.clock is not None:
            return self.clock if self.clock.tzinfo else self.clock.replace(tzinfo=UTC)
        return datetime.now(UTC)

    def require_secret_key(self) -> SecretStr:
        """Return the secret key, refusing to run outside demo mode without one."""
        if self.secret_key is not None and len(self.secret_key.get_secret_value()) >= 16:
            return self.secret_key
        if self.secret_key is not None:
            raise ConfigError("CTO_SECRET_KEY", "must be at least 16 characters")
        if self.demo:
            return _demo_secret_key(self.data_dir)
        raise ConfigError(
            "CTO_SECRET_KEY",
            "is required outside demo mode (e.g. `export CTO_SECRET_KEY=$(openssl rand -hex 32)`)",
        )

    def redacted(self) -> dict[str, Any]:
        """The effective settings as plain data with every secret replaced by '**********'."""
        data = self.model_dump(mode="json")
        data["secret_key"] = "**********" if self.secret_key else None
        data["demo_password"] = "**********" if self.demo_password else None
        data["metrics_token"] = "**********" if self.metrics_token else None
        data["queue_url"] = redact_url(self.queue_url)
        data["database_url"] = make_url(self.effective_database_url).render_as_string(
            hide_password=True
        )
        data["sources"] = {name: redact_mapping(section) for name, section in self.sources.items()}
        data["llm"] = redact_mapping(self.llm)
        data["watch"] = redact_mapping(self.watch)
        return data


SECRET_WORDS = ("token", "secret", "password", "key", "credential", "auth")


WEBHOOK_WORDS = ("webhook", "slack")


def redact_mapping(section: dict[str, Any], *, urls_are_secret: bool = False) -> dict[str, Any]:
    """Replace the values of secret-looking keys with a fixed mask.

    Webhook URLs (Slack incoming webhooks, generic webhooks) carry their credential in the
    URL itself, so inside a section named after a webhook every `url` is masked too.
    """
    out: dict[str, Any] = {}
    for key, value in section.items():
        lowered = key.lower()
        secret_url = (urls_are_secret or "webhook" in lowered) and "url" in lowered
        if isinstance(value, dict):
            nested = urls_are_secret or any(word in lowered for word in WEBHOOK_WORDS)
            out[key] = redact_mapping(value, urls_are_secret=nested)
        elif key.endswith("_env"):
            out[key] = value
        elif secret_url or any(word in lowered for word in SECRET_WORDS):
            out[key] = "**********" if value else value
        else:
            out[key] = value
    return out


def redact_url(url: str | None) -> str | None:
    """A URL with its password (if any) masked."""
    if not url:
        return url
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in credentials:
        return url
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:**********@{host}"


def _demo_secret_key(data_dir: Path) -> SecretStr:
    """A per-installation random key for demo mode, kept in the data dir."""
    import secrets

    path = data_dir / "demo-secret-key"
    if path.exists():
        return SecretStr(path.read_text().strip())
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    path.write_text(key)
    path.chmod(0o600)
    return SecretStr(key)


def load_settings(**overrides: Any) -> Settings:
    """Load settings, turning validation problems into a one-line `ConfigError`."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise config_error_from(exc) from None


def config_error_from(exc: ValidationError) -> ConfigError:
    """Name the first bad setting the way a user would write it (env var name)."""
    first = exc.errors()[0]
    loc = [str(part) for part in first["loc"]]
    name = ENV_PREFIX + "__".join(loc).upper() if loc else "settings"
    message = first["msg"]
    if first["type"] == "extra_forbidden":
        where = config_file()
        name = ".".join(loc)  # as written in cto.toml, where unknown keys come from
        message = f"unknown setting{f' in {where}' if where else ''}"
    return ConfigError(name, message.removeprefix("Value error, "))
