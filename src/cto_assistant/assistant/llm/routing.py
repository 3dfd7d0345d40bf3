"""When the model takes a question: the router answers what it is sure of, the model the rest.

In `auto` mode the deterministic router keeps a question when it is sure: a tool route with
a score of at least `SURE_SCORE`, a follow-up it resolved from the conversation, a question
back (it needs a name), help, or an explicit write command ("create a ticket …"). The model takes out-of-scope questions, low-score routes and
questions that span several domains ("compare our spend growth with our deploy frequency
growth"), which need several tools and a synthesis. `llm` sends everything to the model;
`router` nothing. The user can force either per question.
"""

from __future__ import annotations

import re
from typing import Literal

from cto_assistant.assistant.llm.config import LLMConfig, Mode
from cto_assistant.assistant.router import Route
from cto_assistant.tools.base import REGISTRY

Decision = Literal["router", "model", "unconfigured"]
SURE_SCORE = 0.5
DOMAINS = {
    "cost": r"spend|spending|costs?|bill(?:ing)?|budget|savings?|finops|\$",
    "delivery": r"deploy\w*|dora|lead time|sprints?|epics?|pull requests?|prs?|cycle time|"
    r"velocity|throughput|code quality|coverage|releases?",
    "security": r"vuln\w*|cves?|security|complian\w*|soc ?2|iso ?27001|access|threats?|"
    r"advisor\w*",
    "reliability": r"incidents?|outages?|slos?|error budget|on[- ]call|pages|paging|uptime|"
    r"mttr|mtta|postmortems?",
}
DOMAIN_RES = {
    name: re.compile(rf"(?<!\w)(?:{pattern})(?!\w)", re.I) for name, pattern in DOMAINS.items()
}


def domains(question: str) -> set[str]:
    """The subject areas a question names."""
    return {name for name, pattern in DOMAIN_RES.items() if pattern.search(question)}


def is_multi_step(question: str) -> bool:
    """Whether the question spans several domains (several tools and a synthesis)."""
    return len(domains(question)) >= 2


def decide(
    config: LLMConfig, route: Route, question: str, *, forced: Mode | None = None
) -> Decision:
    """Who answers: the router, the model, or nobody because the model is not configured."""
    mode = forced or config.mode
    if mode == "router":
        return "router"
    if not config.enabled:
        return "unconfigured" if forced == "llm" else "router"
    if mode == "llm":
        return "model"
    if route.kind in ("clarify", "help") or route.follow_up:
        return "router"
    spec = REGISTRY.get(route.tool or "")
    if spec is not None and spec.writes:  # an explicit command the router already parsed
        return "router"
    if route.kind == "out_of_scope" or is_multi_step(question):
        return "model"
    return "router" if route.confidence >= SURE_SCORE else "model"
