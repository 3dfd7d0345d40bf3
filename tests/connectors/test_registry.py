"""The connector registry: built-in kinds, entry-point plugins, config validation, env secrets."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cto_assistant.connectors import registry
from cto_assistant.connectors.generic import GenericConnector
from cto_assistant.connectors.registry import (
    BUILTIN_KINDS,
    available_kinds,
    build_connector,
    check_sources,
    configured_connectors,
    connector_class,
)
from cto_assistant.errors import ConfigError
from cto_assistant.logging import redact_text
from cto_assistant.settings import Settings
from tests.sync.fakes import FakeConfig, FakeConnector

FAKE = "tests.sync.fakes:FakeConnector"


@pytest.fixture
def fake_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make kind 'fake' a built-in for the test."""
    monkeypatch.setitem(BUILTIN_KINDS, "fake", FAKE)


@pytest.fixture
def plugin_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An installed third-party distribution declaring two kinds in our entry-point group."""
    (tmp_path / "acme_cto_plugin.py").write_text(
        textwrap.dedent(
            """
            from tests.sync.fakes import FakeConnector

            class ServiceNowConnector(FakeConnector):
                kind = "servicenow"
            """
        )
    )
    info = tmp_path / "acme_cto_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-cto-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[cto_assistant.connectors]\n"
        "servicenow = acme_cto_plugin:ServiceNowConnector\n"
        "jira = acme_cto_plugin:ServiceNowConnector\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    sys.modules.pop("acme_cto_plugin", None)


def settings(tmp_path: Path, sources: dict[str, dict[str, object]]) -> Settings:
    """Settings with only the given sources."""
    return Settings(data_dir=tmp_path, sources=sources)


def test_every_builtin_kind_points_at_a_class_in_our_package() -> None:
    expected = {
        "jira",
        "github",
        "gitlab",
        "jenkins",
        "circleci",
        "sonarqube",
        "snyk",
        "threat_intel",
        "datadog",
        "pagerduty",
        "opsgenie",
        "aws_cost_explorer",
        "focus",
        "generic",
    }
    assert expected <= set(BUILTIN_KINDS)
    for kind, target in BUILTIN_KINDS.items():
        module, _, attribute = target.partition(":")
        assert module.startswith("cto_assistant.connectors."), kind
        assert attribute.endswith("Connector"), kind


def test_builtin_kinds_that_import_declare_the_same_kind() -> None:
    checked = 0
    for kind in BUILTIN_KINDS:
        try:
            cls = connector_class(kind)
        except ConfigError as exc:
            if "is not available" in exc.problem:
                continue  # that vendor folder is not built here; configuring it would say so
            raise
        assert cls.kind == kind, f"{BUILTIN_KINDS[kind]} declares kind {cls.kind!r}"
        checked += 1
    assert checked >= 1


def test_generic_resolves_to_its_connector() -> None:
    assert connector_class("generic") is GenericConnector


def test_unknown_kind_is_a_clear_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        build_connector("ci", {"kind": "teamcity", "base_url": "https://ci"})
    assert caught.value.setting == "sources.ci.kind"
    assert "unknown connector kind 'teamcity'" in caught.value.problem
    assert "jira" in caught.value.problem  # lists what is known


def test_missing_module_fails_only_when_its_kind_is_configured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_kind: None
) -> None:
    monkeypatch.setitem(BUILTIN_KINDS, "ghost", "cto_assistant.connectors.ghost_xyz:Ghost")
    ok = configured_connectors(settings(tmp_path, {"fake": {"kind": "fake"}}))
    assert [c.name for c in ok] == ["fake"]

    with pytest.raises(ConfigError) as caught:
        configured_connectors(settings(tmp_path, {"g": {"kind": "ghost", "base_url": "x"}}))
    assert caught.value.setting == "sources.g.kind"
    assert "cannot import cto_assistant.connectors.ghost_xyz" in caught.value.problem


def test_a_target_that_is_not_a_connector_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(BUILTIN_KINDS, "bogus", "cto_assistant.errors:ConfigError")
    with pytest.raises(ConfigError, match="not a Connector subclass"):
        connector_class("bogus")


def test_entry_point_plugins_add_kinds_but_never_shadow_builtins(plugin_dist: Path) -> None:
    kinds = available_kinds()
    assert kinds["servicenow"] == "acme_cto_plugin:ServiceNowConnector"
    assert kinds["jira"] == BUILTIN_KINDS["jira"]

    connector = build_connector("snow", {"kind": "servicenow", "items": 2})
    assert type(connector).__name__ == "ServiceNowConnector"
    assert connector.name == "snow"


def test_bad_config_names_the_field(fake_kind: None) -> None:
    with pytest.raises(ConfigError) as caught:
        build_connector("jira2", {"kind": "fake", "page_size": 0})
    assert caught.value.setting == "sources.jira2.page_size"
    assert "greater than or equal to 1" in caught.value.problem

    with pytest.raises(ConfigError) as unknown:
        build_connector("jira2", {"kind": "fake", "colour": "blue"})
    assert unknown.value.setting == "sources.jira2.colour"
    assert "unknown setting" in unknown.value.problem


def test_secret_from_env_var_fills_the_secret_field(fake_kind: None) -> None:
    secret = "tok-from-env-0123456789"
    connector = build_connector(
        "f", {"kind": "fake", "token_env": "FAKE_TOKEN"}, environ={"FAKE_TOKEN": secret}
    )
    config = connector.config
    assert isinstance(config, FakeConfig) and config.token is not None
    assert config.token.get_secret_value() == secret
    assert secret not in repr(config)
    assert secret not in redact_text(f"Authorization: Bearer {secret}")


def test_secret_env_problems_name_the_setting(fake_kind: None) -> None:
    with pytest.raises(ConfigError) as unset:
        build_connector("f", {"kind": "fake", "token_env": "NOPE_UNSET"}, environ={})
    assert unset.value.setting == "sources.f.token_env"
    assert "NOPE_UNSET is not set" in unset.value.problem

    with pytest.raises(ConfigError, match="either token or token_env"):
        build_connector(
            "f", {"kind": "fake", "token": "x" * 20, "token_env": "T"}, environ={"T": "y"}
        )


def test_build_passes_the_http_seams_to_the_context(fake_kind: None) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200))
    naps: list[float] = []
    connector = build_connector("f", {"kind": "fake"}, transport=transport, sleep=naps.append)
    assert connector.context.transport is transport
    assert connector.context.sleep is not None
    assert isinstance(connector, FakeConnector)


def test_configured_connectors_filters_and_routes_transports(
    tmp_path: Path, fake_kind: None
) -> None:
    config = settings(tmp_path, {"a": {"kind": "fake"}, "b": {"kind": "fake"}})
    one, two = (
        httpx.MockTransport(lambda r: httpx.Response(200)),
        httpx.MockTransport(lambda r: httpx.Response(204)),
    )
    built = configured_connectors(config, transport={"a": one, "b": two})
    assert [(c.name, c.context.transport) for c in built] == [("a", one), ("b", two)]
    assert [c.name for c in configured_connectors(config, sources=["b"])] == ["b"]
    with pytest.raises(ConfigError, match="no source named c"):
        configured_connectors(config, sources=["c"])


def test_a_bad_source_is_reported_and_skipped_when_asked(tmp_path: Path, fake_kind: None) -> None:
    config = settings(tmp_path, {"good": {"kind": "fake"}, "bad": {"kind": "fake", "items": -1}})
    reported: dict[str, ConfigError] = {}
    built = configured_connectors(config, on_error=reported.__setitem__)
    assert [c.name for c in built] == ["good"]
    assert reported["bad"].setting == "sources.bad.items"
    assert set(check_sources(config)) == {"bad"}


def test_kind_defaults_to_the_source_name(tmp_path: Path) -> None:
    config = settings(tmp_path, {"generic": {"ingest_token": "0123456789abcdef"}})
    [connector] = configured_connectors(config)
    assert isinstance(connector, GenericConnector)


def test_registry_exports_the_entry_point_group() -> None:
    assert registry.ENTRY_POINT_GROUP == "cto_assistant.connectors"
