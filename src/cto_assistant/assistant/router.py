"""The default router: one plain-English question → one tool call, with no model and no network.

Steps: find the time expression and the names (entities) in the question and mask them; fold
synonyms and repair typos; score every intent (TF-IDF n-gram k-NN over example paraphrases plus
cue patterns, see `classifier`); decide whether the question is a follow-up to the previous turn
("and for payments?", "break that down by region", "create a ticket for that"); then fill the
chosen tool's arguments from the slots it takes. The outcome is a `Route`: a tool call, a
question back (ambiguous or missing name), help, or a polite "out of scope".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from cto_assistant.assistant.classifier import Classifier, canonical, placeholder
from cto_assistant.assistant.entities import (
    Catalog,
    Entity,
    Mention,
    find_mentions,
    normalise,
)
from cto_assistant.assistant.intents import INTENTS, Intent
from cto_assistant.assistant.timeexpr import TimeSpan, find_time

RouteKind = Literal["tool", "clarify", "help", "out_of_scope"]
ENTITY_SLOTS = (
    "team",
    "service",
    "repo",
    "epic",
    "person",
    "region",
    "provider",
    "framework",
    "system",
)
MIN_SCORE = 0.34
STRONG_SCORE = 0.6
TIE_MARGIN = 0.02
COST_TOOLS = frozenset({"cloud_spend", "explain_cost_change", "cost_anomalies", "cost_forecast"})
GROUPS = {
    "service": "service",
    "services": "service",
    "region": "region",
    "regions": "region",
    "account": "account",
    "accounts": "account",
    "team": "team",
    "teams": "team",
    "provider": "provider",
    "providers": "provider",
    "cloud": "provider",
    "clouds": "provider",
    "vendor": "provider",
    "project": "tag:project",
    "projects": "tag:project",
    "environment": "tag:env",
    "environments": "tag:env",
    "env": "tag:env",
}
GROUP_RE = re.compile(
    r"\b(?:by|per|for each|across|grouped by|split by|broken down by|break(?:down| it| that| this)? down by)\s+"
    r"(?:the\s+|each\s+)?(" + "|".join(GROUPS) + r")\b|\b(" + "|".join(GROUPS) + r")[- ]level\b"
)
SEVERITY_RE = re.compile(
    r"\b(critical|crit|criticals|high|highs|medium|moderate|low|lows)\b(?!\s+priority)"
)
SEVERITY = {
    "crit": "critical",
    "criticals": "critical",
    "highs": "high",
    "moderate": "medium",
    "lows": "low",
}
ENVIRONMENT_RE = re.compile(r"\b(production|prod|live|staging|stage|stg|dev|development|sandbox)\b")
ENVIRONMENT = {
    "prod": "production",
    "live": "production",
    "stage": "staging",
    "stg": "staging",
    "dev": "development",
    "sandbox": "development",
}
PRIORITY_RE = re.compile(
    r"\b(?:priority(?:\s+(?:to|as|of|=|:))?\s+['\"]?(highest|high|medium|low|lowest|p[0-4]|urgent|critical|blocker)['\"]?"
    r"|['\"]?(highest|high|medium|low|lowest|urgent|critical|blocker)['\"]?\s+(?:priority|prio)"
    r"|\b(p[0-4])\b|\b(urgent|asap)\b)"
)
PRIORITY = {
    "p0": "Highest",
    "p1": "High",
    "p2": "Medium",
    "p3": "Low",
    "p4": "Lowest",
    "urgent": "Highest",
    "critical": "Highest",
    "blocker": "Highest",
    "asap": "Highest",
}
CHART_RE = re.compile(r"\b(chart|graph|plot|diagram|visual\w*|screenshot|figure|image)s?\b")
INCIDENT_RE = re.compile(r"\b(?:inc|incident)[- #]?(\d{2,6})\b|#(\d{3,6})\b")
SUMMARY_RE = re.compile(
    r"\bto\s+((?:investigate|look into|look at|fix|check|review|address|reduce|patch|upgrade|clean up|"
    r"remediate|triage|follow up on|dig into|resolve|rotate|remove|revoke|enable|add|update|"
    r"migrate|cut|drop|track|understand|raise|improve|increase|lower|bring down|speed up|"
    r"restore|rollback|roll back|document|audit|assess|evaluate|plan|prepare|write|set up)\b[^.;!?]*)"
    r"|\b(?:about|regarding|titled|called|saying)\s+['\"]?([^.;!?'\"]+)"
)
FOLLOW_START = re.compile(
    r"^(?:and|what about|how about|same (?:for|but|with|thing for)|what of|now|ok|okay|also|only|just|then|"
    r"but|compare(?: that)? (?:to|with))\b"
)
FOLLOW_ANY = re.compile(
    r"\b(?:break|split|slice) (?:that|it|this|those|them) (?:down|up)\b|\b(?:drill (?:down|into))\b"
    r"|\b(?:for|of|on|in|about) (?:that|this|those|it|them)\s*\??$|^(?:that|this) (?:but|for)\b"
)
PRONOUN_RE = re.compile(r"\b(that|this|it|them|those|there)\b")
OUT_OF_SCOPE = (
    "That is outside what I can answer. I know this company's engineering data: delivery "
    "(DORA, sprints, epics, PRs, code quality), security (vulnerabilities, posture, compliance, "
    "access), cloud cost (spend, changes, anomalies, forecast, savings) and reliability "
    "(incidents, SLOs, on-call, infrastructure); and I can file a Jira ticket."
)
HELP = (
    'Ask me about delivery ("DORA metrics for payments", "status of Q2-Payments-Refactor"), '
    'security ("critical vulns in checkout-service", "are we SOC 2 compliant?"), cloud cost '
    '("last month\'s spend by service", "why did spend jump this week?") or reliability '
    '("who is on call for platform now?", "active incidents"). I can also create a Jira ticket '
    "with the analysis and chart attached."
)


@dataclass(frozen=True)
class PreviousTurn:
    """What a follow-up may refer to: the last question and the tool call that answered it."""

    question: str
    tool: str | None
    arguments: dict[str, Any]
    intent: str | None = None
    candidates: tuple[str, ...] = ()


@dataclass
class Route:
    """The router's decision for one question."""

    kind: RouteKind
    intent: str
    tool: str | None = None
    arguments: dict[str, Any] = field(default_factory=dict)
    confidence: float = 0.0
    message: str | None = None
    candidates: list[str] = field(default_factory=list)
    follow_up: bool = False

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready view (for `--json`, the API and the evaluation)."""
        return {
            "kind": self.kind,
            "intent": self.intent,
            "tool": self.tool,
            "arguments": self.arguments,
            "confidence": round(self.confidence, 3),
            "message": self.message,
            "candidates": self.candidates,
            "follow_up": self.follow_up,
        }


@dataclass
class Slots:
    """Everything extracted from one question before choosing a tool."""

    text: str
    masked: str
    time: TimeSpan | None
    mentions: list[Mention]
    incident: str | None
    group_by: str | None
    severity: str | None
    environment: str | None
    priority: str | None
    chart: bool
    summary: str | None

    @property
    def has_any(self) -> bool:
        """Whether the question carries anything a follow-up can apply."""
        return bool(
            self.time
            or self.mentions
            or self.incident
            or self.group_by
            or self.severity
            or self.environment
        )


def follow_up_summary(previous: PreviousTurn) -> str:
    """A ticket title for "create a ticket for that": the previous tool call in words."""
    title = f"Follow up: {(previous.tool or 'previous answer').replace('_', ' ')}"
    values = [str(previous.arguments[k]) for k in sorted(previous.arguments)]
    return f"{title} — {', '.join(values)}" if values else title


class Router:
    """Maps questions to tool calls against one catalog of names."""

    def __init__(self, catalog: Catalog, intents: tuple[Intent, ...] = INTENTS) -> None:
        self.catalog = catalog
        self.intents = {i.name: i for i in intents}
        self.classifier = Classifier(intents)
        self.protected = frozenset(self.classifier.vocabulary)
        self.names = frozenset(catalog.vocabulary)

    # ----------------------------------------------------------------------- extraction

    def extract(self, question: str, now: datetime) -> Slots:
        """Find time, names, grouping, severity, environment and ticket fields."""
        text = normalise(question).rstrip(" ?!.")
        original = normalise(question, lower=False).rstrip(" ?!.")
        mentions = find_mentions(text, self.catalog, protected=self.protected, original=original)
        blanked = text
        for mention in mentions:  # a name wins over a time word inside it ("Q2-Payments-Refactor")
            blanked = (
                blanked[: mention.start]
                + "#" * (mention.end - mention.start)
                + blanked[mention.end :]
            )
        time = find_time(blanked, now)
        if time is not None:
            mentions = [
                m for m in mentions if not (m.start < time.span[1] and m.end > time.span[0])
            ]
        incident = None
        incident_match = INCIDENT_RE.search(text)
        if incident_match:
            incident = f"INC-{incident_match.group(1) or incident_match.group(2)}"
        group = GROUP_RE.search(text) or GROUP_RE.search(self.classifier.repair(text, self.names))
        group_by = GROUPS[group.group(1) or group.group(2)] if group else None
        # severity words only count outside names and outside "high priority"
        severity = None
        for match in SEVERITY_RE.finditer(text):
            if not any(m.start <= match.start() < m.end for m in mentions):
                word = match.group(1)
                severity = SEVERITY.get(word, word)
                break
        env_match = ENVIRONMENT_RE.search(text)
        environment = ENVIRONMENT.get(env_match.group(1), env_match.group(1)) if env_match else None
        priority_match = PRIORITY_RE.search(text)
        priority = None
        if priority_match:
            word = next(g for g in priority_match.groups() if g)
            priority = PRIORITY.get(word, word.capitalize())
        summary = self._summary(question)
        masked = self._mask(text, time, mentions, incident_match)
        return Slots(
            text=text,
            masked=masked,
            time=time,
            mentions=mentions,
            incident=incident,
            group_by=group_by,
            severity=severity,
            environment=environment,
            priority=priority,
            chart=bool(CHART_RE.search(text)),
            summary=summary,
        )

    def _mask(
        self,
        text: str,
        time: TimeSpan | None,
        mentions: list[Mention],
        incident: re.Match[str] | None,
    ) -> str:
        pieces: list[tuple[int, int, str]] = []
        if time:
            pieces.append((*time.span, placeholder("time")))
        for mention in mentions:
            best = max(mention.candidates, key=lambda c: c[1])[0]
            pieces.append((mention.start, mention.end, placeholder(best.kind)))
        if incident:
            pieces.append((*incident.span(), placeholder("incident")))
        out = text
        for start, end, token in sorted(pieces, reverse=True):
            out = f"{out[:start]} {token} {out[end:]}"
        return re.sub(r"\s+", " ", out).strip()

    @staticmethod
    def _summary(question: str) -> str | None:
        text = re.sub(r"\s+", " ", question).strip()
        match = SUMMARY_RE.search(text)
        if not match:
            return None
        summary = (match.group(1) or match.group(2) or "").strip(" '\"")
        for trailer in (
            r",?\s+(?:for|to|with) (?:the )?\S+ team$",
            r",?\s+(?:with|at|as) (?:a )?\S+ priority$",
            r",?\s+(?:p[0-4]|urgent(?:ly)?|asap)$",
        ):
            summary = re.sub(trailer, "", summary, flags=re.IGNORECASE)
        return summary[:1].upper() + summary[1:] if summary else None

    # ----------------------------------------------------------------------- routing

    def route(self, question: str, *, now: datetime, previous: PreviousTurn | None = None) -> Route:
        """Decide which tool answers `question` (in the context of the previous turn)."""
        slots = self.extract(question, now)
        if previous and previous.candidates and slots.mentions:
            resumed = self._resume_clarification(slots, previous, now)
            if resumed is not None:
                return resumed
        text = self.classifier.repair(canonical(slots.masked), self.names)
        scores, cued = self.classifier.scores(text)
        ranked = sorted(scores.items(), key=lambda kv: -kv[1])
        best_name, best_score = ranked[0] if ranked else ("out_of_scope", 0.0)
        if "create_jira_ticket" in cued:  # an instruction to act outranks the topic it names
            best_name, best_score = "create_jira_ticket", scores["create_jira_ticket"]
        if (
            previous is not None
            and previous.tool
            and self._is_follow_up(slots, best_name, best_score, cued, previous)
        ):
            return self._follow_up(slots, previous, best_name, cued)
        if best_name == "out_of_scope" or (best_score < MIN_SCORE and not cued):
            return Route(
                "out_of_scope", "out_of_scope", confidence=best_score, message=OUT_OF_SCOPE
            )
        intent = self.intents[best_name]
        if intent.tool is None:
            return Route("help", intent.name, confidence=best_score, message=HELP)
        return self._build(intent, slots, best_score, previous=previous)

    def _is_follow_up(
        self,
        slots: Slots,
        best: str,
        score: float,
        cued: set[str],
        previous: PreviousTurn,
    ) -> bool:
        if best == "create_jira_ticket" and "create_jira_ticket" in cued:
            return False
        explicit = bool(FOLLOW_START.search(slots.text) or FOLLOW_ANY.search(slots.text))
        if best == "out_of_scope" and score >= MIN_SCORE and not explicit:
            return False
        new_intent = best in cued and best != previous.intent and score >= STRONG_SCORE
        if explicit:
            return not new_intent or not self._has_own_topic(slots, best)
        return slots.has_any and score < STRONG_SCORE and len(slots.masked.split()) <= 6

    def _has_own_topic(self, slots: Slots, best: str) -> bool:
        """Whether the question names a subject of its own beyond the follow-up words."""
        stripped = FOLLOW_START.sub("", slots.masked).strip()
        return (
            len([w for w in stripped.split() if not w.startswith("zz")]) >= 2
            and best != "out_of_scope"
        )

    def _follow_up(self, slots: Slots, previous: PreviousTurn, best: str, cued: set[str]) -> Route:
        tool = previous.tool or ""
        intent = self.intents.get(previous.intent or tool) or self.intents[tool]
        arguments = dict(previous.arguments)
        if (
            slots.group_by
            and "group_by" not in intent.slots
            and tool in COST_TOOLS | {"explain_cost_change"}
        ):
            intent = self.intents["cloud_spend"]
            arguments = {k: v for k, v in arguments.items() if k in intent.slots}
        if slots.mentions:
            for key in (
                "team",
                "service",
                "repo",
                "epic",
                "region",
                "provider",
                "framework",
                "system",
            ):
                if key in intent.slots:
                    arguments.pop(key, None)
        filled = self._arguments(intent, slots, previous=None)
        if isinstance(filled, Route):
            filled.follow_up = True
            return filled
        arguments.update(filled)
        return Route(
            "tool",
            intent.name,
            tool=intent.tool,
            arguments=arguments,
            confidence=1.0,
            follow_up=True,
        )

    def _resume_clarification(
        self, slots: Slots, previous: PreviousTurn, now: datetime
    ) -> Route | None:
        if not previous.intent or previous.intent not in self.intents:
            return None
        intent = self.intents[previous.intent]
        offered = [
            e
            for e in self.catalog.entities
            if e.name in previous.candidates and e.kind in intent.slots
        ]
        chosen: list[Entity] = []
        for mention in slots.mentions:
            for entity, _ in mention.candidates:
                if entity in offered:
                    chosen.append(entity)
                elif entity.kind == "team":
                    chosen += [e for e in offered if e.team == entity.value]
        unique = list(dict.fromkeys(chosen))
        if len(unique) != 1:
            return None
        arguments = dict(previous.arguments)
        arguments[unique[0].kind] = unique[0].value
        return Route("tool", intent.name, tool=intent.tool, arguments=arguments, confidence=1.0)

    def _build(
        self, intent: Intent, slots: Slots, score: float, *, previous: PreviousTurn | None
    ) -> Route:
        if intent.name == "incident_details" and not slots.incident:
            intent = self.intents["active_incidents"]
        if previous is not None and not slots.mentions and PRONOUN_RE.search(slots.text):
            slots.mentions = self._inherited(previous)
        filled = self._arguments(intent, slots, previous=previous)
        if isinstance(filled, Route):
            filled.confidence = score
            return filled
        return Route("tool", intent.name, tool=intent.tool, arguments=filled, confidence=score)

    # ----------------------------------------------------------------------- arguments

    def _arguments(
        self, intent: Intent, slots: Slots, *, previous: PreviousTurn | None
    ) -> dict[str, Any] | Route:
        args: dict[str, Any] = {}
        wanted = [s for s in intent.slots if s in ENTITY_SLOTS]
        team_mentions = [
            m
            for m in slots.mentions
            if m.of_kind("team") and max(c[1] for c in m.of_kind("team")) >= 0.99
        ]
        for mention in slots.mentions:
            choice = self._choose(mention, wanted, team_mentions)
            if isinstance(choice, Route):
                choice.intent = intent.name
                choice.tool = None
                return choice
            if choice is None:
                continue
            slot, entity = choice
            args.setdefault(slot, entity.value)
        if "incident" in intent.slots and slots.incident:
            args["incident"] = slots.incident
        time = slots.time
        if time is not None:
            if "start" in intent.slots and time.start:
                args["start"] = time.start.isoformat()
                args["end"] = time.end.isoformat() if time.end else None
            elif "days" in intent.slots and time.days:
                args["days"] = time.days
            if "at" in intent.slots and time.at:
                args["at"] = time.at.isoformat()
        if "group_by" in intent.slots and slots.group_by:
            args["group_by"] = slots.group_by
        if "severity" in intent.slots and slots.severity:
            args["severity"] = slots.severity
        if "environment" in intent.slots and slots.environment:
            args["environment"] = slots.environment
        if intent.tool == "create_jira_ticket":
            return self._ticket(args, slots, previous)
        for required in intent.required:
            if required not in args:
                return self._ask_for(intent, required)
        return args

    def _choose(
        self, mention: Mention, wanted: list[str], team_mentions: list[Mention]
    ) -> tuple[str, Entity] | Route | None:
        """Pick the slot and entity a mention fills for a tool taking `wanted` kinds."""
        options: list[tuple[float, int, str, list[tuple[Entity, float]]]] = []
        for order, kind in enumerate(wanted):
            candidates = mention.of_kind(kind)
            if candidates:
                options.append((candidates[0][1], -order, kind, candidates))
        if not options:
            if "team" in wanted:
                for entity, _ in mention.candidates:
                    owner = self.catalog.team_of(entity)
                    if owner is not None and entity.kind in ("service", "repo"):
                        return "team", owner
            if "service" in wanted:
                repo = next((e for e, _ in mention.candidates if e.kind == "repo"), None)
                if repo is not None:
                    service = self.catalog.get("service", repo.value.split("/", 1)[-1])
                    if service is not None:
                        return "service", service
            if "repo" in wanted:
                service = next((e for e, _ in mention.candidates if e.kind == "service"), None)
                if service is not None:
                    repo = next(
                        (
                            r
                            for r in self.catalog.of_kind("repo")
                            if r.value.endswith("/" + service.value)
                        ),
                        None,
                    )
                    if repo is not None:
                        return "repo", repo
            return None
        options.sort(key=lambda o: (-o[0], -o[1]))
        _, _, kind, candidates = options[0]
        top = candidates[0]
        tied = [c for c in candidates if top[1] - c[1] <= TIE_MARGIN and c[0].value != top[0].value]
        if tied and team_mentions:
            teams = {
                c[0].value for m in team_mentions for c in m.of_kind("team") if m is not mention
            }
            narrowed = [c for c in [top, *tied] if c[0].team in teams]
            if len(narrowed) == 1:
                return kind, narrowed[0][0]
        if tied:
            names = [top[0].name] + [c[0].name for c in tied]
            return Route(
                "clarify",
                "clarify",
                message=f"Which {kind} do you mean: " + ", ".join(names[:-1]) + f" or {names[-1]}?",
                candidates=names,
            )
        return kind, top[0]

    def _inherited(self, previous: PreviousTurn) -> list[Mention]:
        """The previous turn's names, as if this question had said them ("who owns it?")."""
        mentions = []
        for key in ("team", "service", "repo", "epic"):
            value = previous.arguments.get(key)
            entity = self.catalog.get(key, value) if isinstance(value, str) else None
            if entity is not None:
                mentions.append(Mention(entity.value, 0, 0, [(entity, 1.0)]))
        return mentions

    def _ask_for(self, intent: Intent, slot: str) -> Route:
        known = [e.name for e in self.catalog.of_kind(slot)][:6]
        hint = f" For example: {', '.join(known)}." if known else ""
        return Route(
            "clarify",
            intent.name,
            message=f"Which {slot} do you mean?{hint}",
            candidates=known,
        )

    def _ticket(
        self, args: dict[str, Any], slots: Slots, previous: PreviousTurn | None
    ) -> dict[str, Any] | Route:
        ticket: dict[str, Any] = {}
        team = args.get("team")
        if team is None and previous is not None:
            team = previous.arguments.get("team")
            if team is None:
                for key in ("service", "repo", "epic"):
                    value = previous.arguments.get(key)
                    entity = self.catalog.get(key, value) if isinstance(value, str) else None
                    owner = self.catalog.team_of(entity) if entity else None
                    if owner is not None:
                        team = owner.value
                        break
        if team is None:
            teams = [e.name for e in self.catalog.of_kind("team")]
            return Route(
                "clarify",
                "create_jira_ticket",
                message="Which team should own the ticket? " + ", ".join(teams) + ".",
                candidates=teams,
            )
        ticket["team"] = team
        summary = slots.summary
        if summary is None and previous is not None:
            summary = follow_up_summary(previous)
        ticket["summary"] = summary or "Follow up from the CTO assistant"
        if slots.priority:
            ticket["priority"] = slots.priority
        if slots.chart:
            ticket["attach_chart"] = True
        return ticket
