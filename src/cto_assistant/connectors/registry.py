"""Which connector class serves which `kind`, and how a `[sources.<name>]` section becomes one.

Built-in kinds are listed by import path (the CI_CD folder serves one kind per tool: gitlab,
jenkins, circleci; GitHub Actions is part of `github`) and imported only when a source of that kind is
configured, so a broken or absent vendor module never stops the others. Third parties add kinds
through the entry-point group `cto_assistant.connectors` without touching this file:

    # their pyproject.toml
    [project.entry-points."cto_assistant.connectors"]
    servicenow = "acme_cto_servicenow:ServiceNowConnector"

Secrets in a section are given as a value, by environment variable name (`token_env =
"JIRA_TOKEN"` fills the config model's `token` field from `$JIRA_TOKEN`) or by the name of a secret
stored encrypted in the database (`token_secret = "JIRA_TOKEN"`, see `cto secrets set`).
Every secret value is registered with the log redactor before the connector is built.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Iterable, Mapping
from importlib.metadata import entry_points
from typing import Any

import httpx
from pydantic import BaseModel, SecretStr, ValidationError

from cto_assistant.connectors.base import Connector, ConnectorConfig, ConnectorContext
from cto_assistant.errors import ConfigError
from cto_assistant.logging import get_logger, register_secret
from cto_assistant.secrets import SecretLookup, secret_lookup
from cto_assistant.settings import Settings

log = get_logger("connectors.registry")

ENTRY_POINT_GROUP = "cto_assistant.connectors"
ENV_SUFFIX = "_env"
SECRET_SUFFIX = "_secret"  # noqa: S105 - a key suffix, not a secret

BUILTIN_KINDS: dict[str, str] = {
    "catalog": "cto_assistant.connectors.catalog:CatalogConnector",
    "evidence": "cto_assistant.connectors.evidence:EvidenceConnector",
    "jira": "cto_assistant.connectors.jira:JiraConnector",
    "github": "cto_assistant.connectors.github:GitHubConnector",
    "gitlab": "cto_assistant.connectors.cicd:GitLabConnector",
    "jenkins": "cto_assistant.connectors.cicd:JenkinsConnector",
    "circleci": "cto_assistant.connectors.cicd:CircleCIConnector",
    "sonarqube": "cto_assistant.connectors.sonarqube:SonarQubeConnector",
    "snyk": "cto_assistant.connectors.snyk:SnykConnector",
    "threat_intel": "cto_assistant.connectors.threat_intel:ThreatIntelConnector",
    "datadog": "cto_assistant.connectors.datadog:DatadogConnector",
    "pagerduty": "cto_assistant.connectors.pagerduty:PagerDutyConnector",
    "opsgenie": "cto_assistant.connectors.opsgenie:OpsgenieConnector",
    "aws_cost_explorer": "cto_assistant.connectors.aws_cost_explorer:AwsCostExplorerConnector",
    "focus": "cto_assistant.connectors.focus:FocusConnector",
    "generic": "cto_assistant.connectors.generic:GenericConnector",
    "aws_iam": "cto_assistant.connectors.aws_iam:AwsIamConnector",
    "postgres_access": "cto_assistant.connectors.postgres_access:PostgresAccessConnector",
    "roster": "cto_assistant.connectors.roster:RosterConnector",
    "web_search": "cto_assistant.connectors.web_search:WebSearchConnector",
}

TransportChoice = httpx.BaseTransport | Mapping[str, httpx.BaseTransport] | None


def plugin_kinds() -> dict[str, str]:
    """Kinds added by installed distributions through the `cto_assistant.connectors` group."""
    found: dict[str, str] = {}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        if entry.name in BUILTIN_KINDS:
            log.warning(
                "connector plugin ignored: kind is built in", kind=entry.name, target=entry.value
            )
            continue
        found[entry.name] = entry.value
    return found


def available_kinds() -> dict[str, str]:
    """Every known kind → its 'module:Class' target, built-ins first."""
    return {**BUILTIN_KINDS, **plugin_kinds()}


def connector_class(kind: str, *, setting: str = "kind") -> type[Connector]:
    """Import and return the connector class of `kind`; problems name `setting`."""
    kinds = available_kinds()
    target = kinds.get(kind)
    if target is None:
        raise ConfigError(
            setting, f"unknown connector kind {kind!r} (known: {', '.join(sorted(kinds))})"
        )
    module_name, _, attribute = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            setting,
            f"connector kind {kind!r} is not available: cannot import {module_name} ({exc})",
        ) from exc
    cls = getattr(module, attribute, None) if attribute else None
    if cls is None:
        raise ConfigError(
            setting, f"connector kind {kind!r} is not available: {module_name} has no {attribute}"
        )
    if not (isinstance(cls, type) and issubclass(cls, Connector)):
        raise ConfigError(setting, f"connector kind {kind!r}: {target} is not a Connector subclass")
    return cls


def resolve_env_fields(
    section: Mapping[str, Any],
    model: type[BaseModel],
    *,
    setting_prefix: str,
    environ: Mapping[str, str] | None = None,
    secrets: SecretLookup | None = None,
) -> dict[str, Any]:
    """Replace `<field>_env = "VAR"` by `$VAR` and `<field>_secret = "NAME"` by a stored secret.

    Keys the model declares itself (a field really named `..._env`) are left alone. Giving both
    `token` and `token_env` is refused, as is naming an unset variable or an unknown secret.
    """
    env = os.environ if environ is None else environ
    fields = model.model_fields
    resolved: dict[str, Any] = {}
    for key, value in section.items():
        suffix = next((s for s in (ENV_SUFFIX, SECRET_SUFFIX) if key.endswith(s)), "")
        target = key.removesuffix(suffix) if suffix else key
        if key == target or key in fields or target not in fields:
            resolved.setdefault(key, value)
            continue
        if target in section:
            raise ConfigError(f"{setting_prefix}.{key}", f"give either {target} or {key}, not both")
        if not isinstance(value, str) or not value:
            what = "an environment variable" if suffix == ENV_SUFFIX else "a stored secret"
            raise ConfigError(f"{setting_prefix}.{key}", f"must name {what}")
        if suffix == SECRET_SUFFIX:
            found = secrets(value) if secrets is not None else None
            if found is None:
                raise ConfigError(
                    f"{setting_prefix}.{key}", f"no stored secret {value} (`cto secrets set`)"
                )
            resolved[target] = found
            continue
        if value not in env:
            raise ConfigError(f"{setting_prefix}.{key}", f"environment variable {value} is not set")
        resolved[target] = env[value]
    return resolved


def register_config_secrets(config: BaseModel) -> None:
    """Tell the log redactor about every SecretStr value in a config (nested models too)."""
    for name in type(config).model_fields:
        value = getattr(config, name)
        if isinstance(value, SecretStr):
            register_secret(value.get_secret_value())
        elif isinstance(value, BaseModel):
            register_config_secrets(value)


def connector_config(
    name: str,
    section: Mapping[str, Any],
    *,
    environ: Mapping[str, str] | None = None,
    secrets: SecretLookup | None = None,
) -> tuple[type[Connector], ConnectorConfig]:
    """Validate `[sources.<name>]` against its connector's config model; errors name the field."""
    prefix = f"sources.{name}"
    data = dict(section)
    kind = str(data.setdefault("kind", name))
    cls = connector_class(kind, setting=f"{prefix}.kind")
    data = resolve_env_fields(
        data, cls.config_model, setting_prefix=prefix, environ=environ, secrets=secrets
    )
    try:
        config = cls.config_model.model_validate(data)
    except ValidationError as exc:
        raise config_error_for(prefix, exc) from None
    register_config_secrets(config)
    return cls, config


def config_error_for(prefix: str, exc: ValidationError) -> ConfigError:
    """Turn the first pydantic error into a ConfigError naming `prefix.<field>`."""
    first = exc.errors(include_url=False, include_input=False)[0]
    loc = ".".join(str(part) for part in first["loc"])
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = "unknown setting for this connector kind"
    more = len(exc.errors()) - 1
    if more:
        message += f" (and {more} more problem{'s' if more > 1 else ''})"
    return ConfigError(f"{prefix}.{loc}" if loc else prefix, message)


def build_connector(
    name: str,
    section: Mapping[str, Any],
    *,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] | None = None,
    environ: Mapping[str, str] | None = None,
    secrets: SecretLookup | None = None,
) -> Connector:
    """Build the connector of source `name` from its settings section (validated first)."""
    cls, config = connector_config(name, section, environ=environ, secrets=secrets)
    context = ConnectorContext(name=name, config=config, transport=transport, sleep=sleep)
    return cls(context)


def configured_connectors(
    settings: Settings,
    *,
    sources: Iterable[str] | None = None,
    transport: TransportChoice = None,
    sleep: Callable[[float], None] | None = None,
    environ: Mapping[str, str] | None = None,
    on_error: Callable[[str, ConfigError], None] | None = None,
) -> list[Connector]:
    """Build every configured source (or only `sources`), in settings order.

    `transport` is one transport for all sources or a mapping source name → transport (the
    demo mounts one simulator per vendor). A source whose config is bad raises ConfigError,
    unless `on_error` is given: then it is reported there and skipped.
    """
    names = list(settings.sources)
    if sources is not None:
        wanted = list(dict.fromkeys(sources))
        unknown = [name for name in wanted if name not in settings.sources]
        if unknown:
            configured = ", ".join(names) or "none"
            raise ConfigError(
                "sources", f"no source named {', '.join(unknown)} (configured: {configured})"
            )
        names = wanted
    built: list[Connector] = []
    lookup = secret_lookup(settings.effective_database_url, environ)
    for name in names:
        chosen = transport.get(name) if isinstance(transport, Mapping) else transport
        try:
            built.append(
                build_connector(
                    name,
                    settings.sources[name],
                    transport=chosen,
                    sleep=sleep,
                    environ=environ,
                    secrets=lookup,
                )
            )
        except ConfigError as exc:
            if on_error is None:
                for connector in built:
                    connector.close()
                raise
            on_error(name, exc)
    return built


def check_sources(
    settings: Settings, *, environ: Mapping[str, str] | None = None
) -> dict[str, ConfigError]:
    """Validate every `[sources.*]` section without building clients; bad ones by name."""
    problems: dict[str, ConfigError] = {}
    lookup = secret_lookup(settings.effective_database_url, environ)
    for name, section in settings.sources.items():
        try:
            connector_config(name, section, environ=environ, secrets=lookup)
        except ConfigError as exc:
            problems[name] = exc
    return problems


__all__ = [
    "BUILTIN_KINDS",
    "ENTRY_POINT_GROUP",
    "available_kinds",
    "build_connector",
    "check_sources",
    "configured_connectors",
    "connector_class",
    "connector_config",
    "plugin_kinds",
    "resolve_env_fields",
]
