"""The routing evaluation: cases from tests/assistant/cases/*.yaml against the frozen catalog."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from cto_assistant.assistant.conversation import advance_context, turn_from_context
from cto_assistant.assistant.entities import Catalog
from cto_assistant.assistant.router import Route, Router

CASES = Path(__file__).parent / "cases"


@dataclass
class Outcome:
    """One routed question and whether it matched its expectation."""

    question: str
    expected: dict[str, Any]
    route: Route
    ok: bool


def load_router() -> tuple[Router, datetime]:
    """The router over the frozen catalog, and the evaluation's `now`."""
    records = yaml.safe_load((CASES / "catalog.yaml").read_text())
    return Router(Catalog.from_records(records)), datetime.fromisoformat(records["now"])


def conversations() -> list[list[dict[str, Any]]]:
    """Every case as a conversation (a single question is a conversation of one turn)."""
    out: list[list[dict[str, Any]]] = []
    for path in sorted(CASES.glob("*.yaml")):
        if path.name == "catalog.yaml":
            continue
        for case in yaml.safe_load(path.read_text()):
            out.append(case.get("turns", [case]))
    return out


def matches(expected: dict[str, Any], route: Route) -> bool:
    """Exact match: the kind for non-tool outcomes, else tool name and arguments."""
    if "expect" in expected:
        return route.kind == expected["expect"]
    return (
        route.kind == "tool"
        and route.tool == expected["tool"]
        and route.arguments == expected["args"]
    )


def evaluate(router: Router, now: datetime) -> list[Outcome]:
    """Route every case (turn by turn, with the conversation context) and score it."""
    outcomes = []
    for turns in conversations():
        context: dict[str, Any] = {}
        for expected in turns:
            route = router.route(expected["q"], now=now, previous=turn_from_context(context))
            outcomes.append(Outcome(expected["q"], expected, route, matches(expected, route)))
            context = advance_context(context, question=expected["q"], route=route)
    return outcomes
