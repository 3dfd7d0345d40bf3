"""Settings: sources and precedence, validation with one-line errors, secrets, derived values."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from cto_assistant.errors import ConfigError
from cto_assistant.settings import Settings, load_settings


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("CTO_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_defaults_are_safe() -> None:
    settings = load_settings()
    assert settings.host == "127.0.0.1"
    assert settings.port == 8000
    assert settings.data_dir == Path(".cto")
    assert settings.secret_key is None and settings.demo is False
    assert settings.effective_database_url == f"sqlite:///{Path('.cto/cto.db').resolve()}"


def test_every_setting_has_a_description() -> None:
    missing = [name for name, field in Settings.model_fields.items() if not field.description]
    assert missing == []


def test_environment_beats_the_toml_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "custom.toml"
    config.write_text('port = 9000\nlog_level = "DEBUG"\n[sources.jira]\nbase_url = "https://j"\n')
    monkeypatch.setenv("CTO_CONFIG", str(config))
    monkeypatch.setenv("CTO_PORT", "9100")
    settings = load_settings()
    assert settings.port == 9100
    assert settings.log_level == "DEBUG"
    assert settings.sources == {"jira": {"base_url": "https://j", "kind": "jira"}}


def test_cto_toml_in_the_working_directory_is_read(tmp_path: Path) -> None:
    (tmp_path / "cto.toml").write_text("session_max_age_hours = 3\n")
    assert load_settings().session_max_age_hours == 3


def test_unknown_key_in_toml_names_the_key_and_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "cto.toml"
    config.write_text('colour = "blue"\n')
    monkeypatch.setenv("CTO_CONFIG", str(config))
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert caught.value.setting == "colour"
    assert str(caught.value) == f"colour: unknown setting in {config}"


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("not a url", "is not a database URL"),
        ("mysql://u@h/db", "backend 'mysql' is not supported"),
    ],
)
def test_bad_database_url_names_the_setting(
    monkeypatch: pytest.MonkeyPatch, url: str, problem: str
) -> None:
    monkeypatch.setenv("CTO_DATABASE_URL", url)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert caught.value.setting == "CTO_DATABASE_URL"
    assert problem in str(caught.value)
    assert "\n" not in str(caught.value)


def test_out_of_range_port_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CTO_PORT", "70000")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert caught.value.setting == "CTO_PORT"


def test_postgresql_url_uses_psycopg_3() -> None:
    settings = load_settings(database_url="postgresql://cto:pw@db:5432/cto")
    assert settings.effective_database_url == "postgresql+psycopg://cto:pw@db:5432/cto"


def test_secret_key_is_required_outside_demo() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings().require_secret_key()
    assert caught.value.setting == "CTO_SECRET_KEY"
    assert "required outside demo mode" in str(caught.value)


def test_short_secret_key_is_refused() -> None:
    with pytest.raises(ConfigError, match="at least 16 characters"):
        load_settings(secret_key="short").require_secret_key()


def test_demo_mode_keeps_a_private_generated_key(tmp_path: Path) -> None:
    settings = load_settings(demo=True, data_dir=tmp_path / "data")
    key = settings.require_secret_key().get_secret_value()
    assert len(key) == 64
    assert settings.require_secret_key().get_secret_value() == key
    mode = stat.S_IMODE((tmp_path / "data" / "demo-secret-key").stat().st_mode)
    assert mode == 0o600


@pytest.mark.parametrize(
    ("host", "cookie_secure", "secure"),
    [
        ("127.0.0.1", "auto", False),
        ("localhost", "auto", False),
        ("::1", "auto", False),
        ("10.1.2.3", "auto", True),
        ("cto.example.com", "auto", True),
        ("127.0.0.1", "always", True),
        ("10.1.2.3", "never", False),
    ],
)
def test_session_cookie_secure_follows_the_bind_address(
    host: str, cookie_secure: str, secure: bool
) -> None:
    settings = load_settings(host=host, cookie_secure=cookie_secure)
    assert settings.session_cookie_secure is secure


def test_redacted_hides_every_secret() -> None:
    settings = load_settings(
        secret_key="0123456789abcdef-secret",
        demo_password="demo-password-1",
        database_url="postgresql://cto:dbpass@db/cto",
        sources={"jira": {"api_token": "tok-123", "token_env": "JIRA_TOKEN", "email": "a@b"}},
    )
    data = settings.redacted()
    text = repr(data)
    for secret in ("0123456789abcdef-secret", "demo-password-1", "dbpass", "tok-123"):
        assert secret not in text
    assert data["sources"]["jira"]["token_env"] == "JIRA_TOKEN"
    assert data["sources"]["jira"]["email"] == "a@b"
    assert "0123456789abcdef-secret" not in repr(settings)


def test_webhook_urls_and_tokens_are_redacted() -> None:
    settings = Settings(
        watch={
            "slack": {
                "url": "https://hooks.slack.com/services/T0/B0/XYZ",
                "min_severity": "warning",
            },
            "webhook": {"url": "https://hooks.example/in?token=abc", "secret": "s3cr3t"},
            "base_url": "https://cto.example",
        },
        sources={
            "jira": {
                "base_url": "https://acme.atlassian.net",
                "token": "t0k3n",
                "token_env": "JIRA_TOKEN",
            }
        },
    )
    shown = str(settings.redacted())
    for secret in ("XYZ", "token=abc", "s3cr3t", "t0k3n"):
        assert secret not in shown
    for kept in ("https://cto.example", "https://acme.atlassian.net", "JIRA_TOKEN", "warning"):
        assert kept in shown
