"""`[llm]` settings and the routing decision (router when sure, model for the rest)."""

from __future__ import annotations

import pytest

from cto_assistant.assistant.llm.config import LLMConfig
from cto_assistant.assistant.llm.routing import decide, is_multi_step
from cto_assistant.assistant.router import Route
from cto_assistant.errors import ConfigError
from cto_assistant.settings import load_settings
from cto_assistant.tools.catalog import load_tools

AUTO = LLMConfig(mode="auto", model="m")


def test_llm_mode_is_off_by_default_and_validated_with_the_settings() -> None:
    assert LLMConfig().mode == "router" and not LLMConfig().enabled
    with pytest.raises(ConfigError, match="needs a model"):
        load_settings(llm={"mode": "llm"})
    with pytest.raises(ConfigError, match=r"llm\.provider"):
        load_settings(llm={"provider": "cohere", "model": "m"})
    with pytest.raises(ConfigError, match=r"llm\.surprise"):
        load_settings(llm={"surprise": 1})
    settings = load_settings(llm={"mode": "auto", "model": "m", "api_key": "sk-secret-1"})
    assert settings.redacted()["llm"]["api_key"] == "**********"


def test_api_key_comes_from_the_named_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_LLM_KEY", "sk-from-env")
    assert LLMConfig(model="m", api_key_env="MY_LLM_KEY").resolved_api_key() == "sk-from-env"


def tool(name: str, confidence: float, **extra: object) -> Route:
    return Route("tool", name, tool=name, confidence=confidence, **extra)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("route", "question", "forced", "who"),
    [
        (tool("on_call", 0.9), "who is on call for payments?", None, "router"),
        (tool("on_call", 0.4), "payments pager person?", None, "model"),
        (
            Route("out_of_scope", "out_of_scope", confidence=0.1),
            "summarise our risks",
            None,
            "model",
        ),
        (
            tool("cloud_spend", 0.9),
            "compare spend growth with deploy frequency growth",
            None,
            "model",
        ),
        (tool("dora_metrics", 0.2, follow_up=True), "and for payments?", None, "router"),
        (Route("clarify", "clarify"), "status of checkout", None, "router"),
        (
            tool("create_jira_ticket", 0.3),
            "create a ticket about vulns and incidents",
            None,
            "router",
        ),
        (tool("on_call", 0.9), "who is on call?", "llm", "model"),
        (Route("out_of_scope", "out_of_scope"), "poem?", "router", "router"),
    ],
)
def test_auto_mode_decides_who_answers(
    route: Route, question: str, forced: str | None, who: str
) -> None:
    load_tools()
    assert decide(AUTO, route, question, forced=forced) == who  # type: ignore[arg-type]


def test_forcing_the_model_without_one_says_so() -> None:
    off = LLMConfig()
    assert decide(off, tool("on_call", 0.1), "x", forced="llm") == "unconfigured"
    assert decide(off, tool("on_call", 0.1), "x", forced="auto") == "router"
    assert decide(off, tool("on_call", 0.1), "x") == "router"


def test_multi_step_means_several_domains() -> None:
    assert is_multi_step("Which team has the most incidents and the highest cloud spend?")
    assert not is_multi_step("compare this month's spend with last month")
