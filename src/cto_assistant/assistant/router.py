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
from difflib import get_close_matches
from typing import Any, Literal

from cto_assistant.assistant.classifier import Classifier, canonical, placeholder
from cto_assistant.assistant.entities import (
    DOCUMENT_GENERIC,
    Catalog,
    Entity,
    Mention,
    find_mentions,
    normalise,
    tokens,
)
from cto_assistant.assistant.intents import INTENTS, Intent
from cto_assistant.assistant.timeexpr import TimeSpan, find_time

RouteKind = Literal["tool", "clarify", "help", "out_of_scope"]
ResearchKind = Literal["web", "news", "docs", "ask", "summarize"]
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
    "document",
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
ALERT_SEVERITY = {"critical": "critical", "high": "critical", "medium": "warning", "low": "info"}
ALERT_SEVERITY_RE = re.compile(
    r"\b(?:(warning)[- ](?:level|severity)|(?:severity|level) (warning)|(?:only|just) (?:the )?(warning)s"
    r"|(warning) alerts?"
    r"|(?:info|informational)[- ](?:level |severity )?alerts?|(?:only|just) (?:the )?info)\b"
)
ALERT_DOMAINS = tuple(
    (re.compile(p), d)
    for p, d in (
        (r"\b(?:security|vulnerabilit\w*|vulns?|cves?|compliance|access)\b", "security"),
        (
            r"\b(?:delivery|dora|deploy\w*|sprints?|epics?|prs?|pull requests?|engineering flow)\b",
            "delivery",
        ),
        (
            r"\b(?:operations|ops|operational|costs?|spend|budget|reliability|slos?|incidents?|infra\w*|on[- ]?call)\b",
            "operations",
        ),
        (r"\b(?:data|sync|syncs|connectors?|freshness|pipelines? health)\b", "data"),
    )
)
ALERT_CLOSED_RE = re.compile(
    r"\b(?:closed|resolved|past|old|previous|history|historic\w*|all (?:the )?alerts|"
    r"including (?:the )?closed|ever|cleared)\b"
)
RESEARCH_INTENTS = frozenset(
    {"web_search", "search_documents", "ask_document", "summarize_document", "list_documents"}
)
_DOCS = (
    r"(?:all\s+)?(?:of\s+)?(?:our|the|my|your)?\s*(?:uploaded\s+|stored\s+|internal\s+)?"
    r"(?:documents|docs|document library|doc library|library|files|uploads|pdfs|documentation)"
)
_WEB = r"(?:online|on the (?:web|internet|net)|on google|in the news)"
_FIND = r"(?:find|search(?: for)?|look for|look up|locate|grep(?: for)?)"
_SAYS = r"(?:say|says|said|mention|state|conclude|recommend|tell us|write|have to say)"
_ABOUT = r"(?:about|on|regarding|re|concerning|for|of)"
WEB_PATTERNS = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        r"\b(?:do|run|make) an? (?:web|internet|online|google) search (?:for |on |about )?(?P<q>.+)$",
        r"\b(?:web|internet|online|google) search(?: for| on| about|:)?\s+(?P<q>.+)$",
        r"\bsearch (?:the )?(?:web|internet|net|online|google)(?: for| about| on|:)?\s+(?P<q>.+)$",
        r"\b(?:google|bing)\s+(?P<q>.+)$",
        rf"\blook up (?P<q>.+?)\s+{_WEB}$",
        rf"\blook (?P<q>.+?) up\s+{_WEB}$",
        rf"\b(?:search|look) (?:for )?(?P<q>.+?)\s+{_WEB}$",
        r"\b(?:any |the )?(?:latest |recent )?(?:news|headlines) (?:about|on|regarding|for)\s+(?P<q>.+)$",
        r"\bfind (?:me )?(?:some )?(?:articles|blog posts|news|web pages|pages|links|results|"
        rf"info(?:rmation)?|something|anything|sources)(?:\s+{_WEB})? (?:about|on|for|regarding)"
        rf"\s+(?P<q>.+?)(?:\s+{_WEB})?$",
        r"^(?:(?:please|pls|can you|could you|would you|go|and|now|then|also)\s+)*"
        r"(?:do (?:some |a bit of |quick )?)?research(?:ing)?(?: on| about| into| for)?\s+(?P<q>.+)$",
        r"\bwhat(?:'s| is| are)? (?:people|folks|they|the (?:web|internet)) (?:saying|writing)"
        rf"(?:\s+{_WEB})? about (?P<q>.+?)(?:\s+{_WEB})?$",
    )
)
"""Questions that say "on the web": their free text is the search query."""
NEWS_PATTERNS = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        r"\bwhat(?:'s| is| are)? (?:new|the latest|happening|the news|the buzz) "
        r"(?:about|on|with|regarding|in|for|around)\s+(?P<q>.+)$",
        r"\b(?:any |the )?(?:latest |recent )?updates (?:about|on|regarding|for)\s+(?P<q>.+)$",
    )
)
ONLINE_RE = re.compile(rf"^(?P<q>.+?)\s+{_WEB}$", re.IGNORECASE)
""""X online": a web search unless X names one of our own things ("is checkout-service online")."""
""""What's new about X": a web search unless X is one of our own subjects."""
DOC_SEARCH_PATTERNS = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        rf"\b{_FIND}\s+(?P<q>.+?)\s+(?:in|across|through|within|from|among)\s+{_DOCS}$",
        rf"\bsearch (?:through |across |in )?{_DOCS}\s+(?:for|about|on)\s+(?P<q>.+)$",
        r"\b(?:which|what|any) (?:documents?|docs?|files?|reports?|pdfs?|uploads?) (?:mentions?|talks? "
        r"about|covers?|discuss(?:es)?|says? (?:anything|something) about|refers? to|contains?|"
        r"includes?|has(?! been)|have(?! been)|deals? with|explains?|describes?)\s+(?P<q>.+)$",
        r"\b(?:do|does|did) (?:any|any of (?:our|the)|our|the) (?:documents?|docs?|files?|reports?) "
        r"(?:mention|talk about|cover|discuss|say anything about|refer to|contain|explain)\s+(?P<q>.+)$",
        r"\bwhere (?:do|does|did) (?:our |the |any )?(?:documents?|docs?) (?:mention|talk about|"
        r"discuss|cover)\s+(?P<q>.+)$",
        rf"\bwhere (?:is|are) (?P<q>.+?) (?:mentioned|documented|discussed|covered|described)"
        rf"(?: in {_DOCS})?$",
        rf"\b(?:anything|something) (?:about|on) (?P<q>.+?) in {_DOCS}$",
        r"\b(?:is|are|was|were) (?P<q>.+?) (?:mentioned|documented|discussed|covered|described) "
        r"(?:in|by) (?:any|our|the|some|one of (?:our|the)) (?:documents?|docs?|files?|reports?)$",
        rf"^(?:and |also )?(?:in|across|through) {_DOCS}[, ]+(?P<q>.+)$",
    )
)
"""Questions over the whole document library: their free text is the full-text query."""
ASK_PATTERNS = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        rf"\bwhat (?:does|do|did) (?P<d>.+?) {_SAYS}(?:\s+{_ABOUT})?\s+(?P<q>.+)$",
        r"\baccording to (?P<d>.+?),\s*(?P<q>.+)$",
        r"\b(?:does|did|do) (?P<d>.+?) (?:say anything|say something|mention|talk|cover|discuss|"
        r"address)(?: about| on)?\s+(?P<q>.+)$",
        r"\bask (?P<d>.+?) (?:about|on|regarding)\s+(?P<q>.+)$",
        rf"\b{_FIND}\s+(?P<q>.+?)\s+in\s+(?P<d>.+)$",
        r"\bwhat(?:'s| is) in (?P<d>.+?) (?:about|on|regarding)\s+(?P<q>.+)$",
        r"\bin (?P<d>(?:the|our) .+?),\s*(?P<q>(?:what|how|where|who|which|is|are|does|do)\b.+)$",
    )
)
"""Questions to one document ("what does the security report say about encryption?")."""
SUMMARIZE_PATTERNS = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        r"\b(?:summari[sz]e|sum up|recap|digest|tl;? ?dr(?: of| for| on)?|summary (?:of|for)|"
        r"(?:gist|key points|main points|highlights|key takeaways|takeaways|outline) (?:of|from|in)|"
        r"what(?:'s| is) in|brief me on|skim)\s+(?P<d>.+)$",
        r"^(?P<d>.+?)[:,]?\s+(?:summary|tl;? ?dr|in a nutshell)$",
    )
)
"""Requests for one document's summary."""
DOC_LEAD = re.compile(r"^(?:the|our|this|that|a|an|my|me|us)\s+", re.IGNORECASE)
QUERY_TRAIL = re.compile(
    rf"(?:\s+(?:{_WEB[3:-1]}|from the web|for me|please|pls|for us|now|quickly|too|as well)"
    r"|\s+in (?:a few|\d+|three|five) (?:bullets?|bullet points|sentences|lines|words)"
    r"|[\s?!.,;:'\"“”\u2018\u2019]+)$",
    re.IGNORECASE,
)
QUERY_LEAD = re.compile(
    r"^(?:(?:for|about|on|regarding|into|me|us|up|some|info on|information on|the topic of)\s+)+",
    re.IGNORECASE,
)
PRONOUN_QUERY = re.compile(r"^(?:that|it|this|those|them|these|the same|same)(?:\s+\w+)?$", re.I)
CVE_RE = re.compile(r"\bcve-\d{4}-\d{4,}\b", re.IGNORECASE)
DOC_NOUN_RE = re.compile(
    r"\b(?:report|doc|docs|document|paper|deck|slides|polic(?:y|ies)|runbook|playbook|spec|"
    r"specification|whitepaper|memo|minutes|handbook|guide|assessment|rfc|adr|pdf|diagram|"
    r"contract|charter|proposal|strategy|notes|file|review|audit|overview|architecture|plan)s?\b",
    re.IGNORECASE,
)
DOC_GENERIC_RE = re.compile(
    r"^(?:(?:any|all|of|our|the|my|your|uploaded|stored|internal|these|those|some)\s+)*"
    r"(?:documents?|docs?|files?|reports?|pdfs?|uploads?|library|document library|documentation)$",
    re.IGNORECASE,
)
CHANNEL_RE = re.compile(
    r"^(?:(?:and|also|now|ok|okay|then|but|maybe|so|what about|how about|same|same thing|"
    r"same question|can you|could you|please)\s+)*"
    r"(?:(?:search|check|look|try|look it up|look that up|find (?:it|that|this)|search for (?:it|that|this))\s+)?"
    r"(?P<channel>online|on the (?:web|internet|net)|the (?:web|internet)|google|"
    r"(?:in|across|through|on) (?:all |all of )?(?:our |the )?(?:documents|docs|files|library|"
    r"document library|uploads|pdfs)|our (?:documents|docs|files))"
    r"(?:\s+(?:too|as well|instead|also))?$"
)
"""A follow-up that only changes where to look ("and on the web?", "what about our docs?")."""
TOPIC_RE = re.compile(
    r"^(?:(?:and|also|now|ok|okay|then|but)\s+)*(?:(?:what|how)\s+)?(?:about|regarding|on)\s+(?P<topic>.+)$"
    r"|^(?:and|also|now|then)\s+(?P<other>(?:the|our)\s+.+)$"
)
"""A follow-up that changes the subject of a research question ("and about backups?")."""
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
class Research:
    """Free text a research question carries: what to search for, which document, what to ask."""

    kind: ResearchKind
    query: str | None = None
    query_span: tuple[int, int] | None = None
    document: str | None = None
    document_span: tuple[int, int] | None = None
    documents: list[tuple[Entity, float]] = field(default_factory=list)


RESEARCH_KEYWORDS = (
    "search",
    "summarize",
    "summarise",
    "summary",
    "research",
    "document",
    "documents",
    "according",
)


def _keyword(word: str, known: frozenset[str]) -> str:
    """A misspelt research keyword put right ("serch" → "search"); other words unchanged."""
    lowered = word.lower()
    if (
        len(lowered) < 5
        or lowered in known
        or lowered in RESEARCH_KEYWORDS
        or not lowered.isalpha()
    ):
        return word
    close = get_close_matches(lowered, RESEARCH_KEYWORDS, n=1, cutoff=0.83)
    return close[0] if close else word


def _named(mention: Mention) -> bool:
    """A mention that surely names one of our things (not a partial name like "cost optimisation")."""
    return max((score for _, score in mention.candidates), default=0.0) >= 0.95


def clean_query(text: str) -> str:
    """A free-text slot without the question's framing ("online", "please", "?", quotes)."""
    text = text.strip()
    previous = None
    while previous != text:
        previous = text
        text = QUERY_TRAIL.sub("", text).strip()
        text = QUERY_LEAD.sub("", text).strip()
        text = text.strip(" '\"“”\u2018\u2019")
    return text


def _span(match: re.Match[str], group: str) -> tuple[str, tuple[int, int]] | None:
    """A named group's cleaned text and the span of that cleaned text in the question."""
    raw = match.group(group)
    if raw is None:
        return None
    cleaned = clean_query(raw)
    if not cleaned:
        return None
    offset = raw.find(cleaned)
    start = match.start(group) + max(offset, 0)
    return cleaned, (start, start + len(cleaned))


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
    research: Research | None = None
    original: str = ""

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
        research = self._research(original if len(original) == len(text) else text, mentions)
        query_span = research.query_span if research else None
        if research is not None:
            mentions = self._research_mentions(research, mentions)
        blanked = text
        if query_span:
            blanked = blanked[: query_span[0]] + "#" * (query_span[1] - query_span[0])
            blanked += text[query_span[1] :]
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
        masked = self._mask(text, time, mentions, incident_match, query_span)
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
            research=research,
            original=original,
        )

    def _mask(
        self,
        text: str,
        time: TimeSpan | None,
        mentions: list[Mention],
        incident: re.Match[str] | None,
        query_span: tuple[int, int] | None = None,
    ) -> str:
        pieces: list[tuple[int, int, str]] = []
        if query_span:
            pieces.append((*query_span, placeholder("query")))
        if time and not (query_span and query_span[0] <= time.span[0] < query_span[1]):
            pieces.append((*time.span, placeholder("time")))
        for mention in mentions:
            best = max(mention.candidates, key=lambda c: c[1])[0]
            pieces.append((mention.start, mention.end, placeholder(best.kind)))
        if incident and not (query_span and query_span[0] <= incident.start() < query_span[1]):
            pieces.append((*incident.span(), placeholder("incident")))
        out = text
        for start, end, token in sorted(pieces, reverse=True):
            out = f"{out[:start]} {token} {out[end:]}"
        return re.sub(r"\s+", " ", out).strip()

    def _research(self, text: str, mentions: list[Mention]) -> Research | None:
        """The free text of a research question: a search query, a document and what to ask it.

        Misspelt keywords ("serch the web", "sumarize") are fixed first; the spans found in the
        fixed text are moved back onto the question by finding the free text in it.
        """
        fixed = " ".join(_keyword(w, self.protected) for w in text.split(" "))
        found = self._research_in(fixed, mentions)
        if found is None or fixed == text:
            return found
        for attr in ("query", "document"):
            value = getattr(found, attr)
            if value:
                at = text.lower().find(value.lower())
                span = (at, at + len(value)) if at >= 0 else None
                setattr(found, f"{attr}_span", span)
                setattr(found, attr, text[at : at + len(value)] if at >= 0 else value)
        return found

    def _research_in(self, text: str, mentions: list[Mention]) -> Research | None:
        for pattern in DOC_SEARCH_PATTERNS:
            match = pattern.search(text)
            if match and (got := _span(match, "q")):
                return Research("docs", query=got[0], query_span=got[1])
        kinds: tuple[tuple[ResearchKind, tuple[re.Pattern[str], ...]], ...] = (
            ("ask", ASK_PATTERNS),
            ("summarize", SUMMARIZE_PATTERNS),
        )
        for kind, patterns in kinds:
            for pattern in patterns:
                match = pattern.search(text)
                if match is None or (named := _span(match, "d")) is None:
                    continue
                phrase = DOC_LEAD.sub("", named[0]).strip()
                span = (named[1][1] - len(phrase), named[1][1])
                if kind == "ask" and DOC_GENERIC_RE.match(phrase):
                    got = _span(match, "q")
                    if got:
                        return Research("docs", query=got[0], query_span=got[1])
                    continue
                documents = self._documents_in(phrase, span, mentions)
                if documents and not DOC_NOUN_RE.search(phrase):
                    documents = [d for d in documents if self._covers(phrase, d[0])]
                if not documents and not DOC_NOUN_RE.search(phrase):
                    if not PRONOUN_QUERY.match(phrase):
                        continue
                    phrase = ""
                found = Research(
                    kind, document=phrase or None, document_span=span, documents=documents
                )
                if kind == "ask":
                    got = _span(match, "q")
                    if got is None:
                        continue
                    found.query, found.query_span = got
                return found
        for pattern in WEB_PATTERNS:
            match = pattern.search(text)
            if match:
                got = _span(match, "q")
                if got is None:
                    return Research("web")
                return Research("web", query=got[0], query_span=got[1])
        for pattern in NEWS_PATTERNS:
            match = pattern.search(text)
            if (
                match
                and (got := _span(match, "q"))
                and self._is_outside_topic(got[0], mentions, got[1])
            ):
                return Research("news", query=got[0], query_span=got[1])
        match = ONLINE_RE.search(text)
        if match and (got := _span(match, "q")):
            inside = [m for m in mentions if got[1][0] <= m.start < got[1][1] and _named(m)]
            if not inside and not re.match(r"(?:is|are|was|were)\b", got[0], re.IGNORECASE):
                return Research("web", query=got[0], query_span=got[1])
        return None

    def _documents_in(
        self, phrase: str, span: tuple[int, int], mentions: list[Mention]
    ) -> list[tuple[Entity, float]]:
        """Documents a phrase names: an exact title or file name first, else the loose match."""
        for mention in mentions:
            exact = [c for c in mention.of_kind("document") if c[1] >= 0.95]
            if exact and span[0] <= mention.start and mention.end <= span[1]:
                covered = phrase.lower().replace(mention.text, "")
                if not re.sub(r"[\W_]+", "", DOC_NOUN_RE.sub("", covered)):
                    return exact
        return self.catalog.resolve_document(phrase) if phrase else []

    @staticmethod
    def _covers(phrase: str, document: Entity) -> bool:
        """Whether a phrase without "report"/"doc" says enough of a title to mean that document."""
        said = set(tokens(normalise(phrase).replace("-", " "))) - DOCUMENT_GENERIC
        title = set(tokens(normalise(document.name).replace("-", " "))) - DOCUMENT_GENERIC
        return bool(title) and len(said & title) * 2 >= len(title)

    def _is_outside_topic(self, query: str, mentions: list[Mention], span: tuple[int, int]) -> bool:
        """Whether "what's new about X" asks the web (X is not one of our own subjects)."""
        if any(
            span[0] <= m.start < span[1] and not m.of_kind("document") and _named(m)
            for m in mentions
        ):
            return False
        topic = self.classifier.repair(canonical(CVE_RE.sub(" ", query.lower())), self.names)
        return not (self.classifier.cue_hits(topic) - RESEARCH_INTENTS)

    @staticmethod
    def _research_mentions(research: Research, mentions: list[Mention]) -> list[Mention]:
        """Names inside free text are not names; a resolved document phrase is one mention."""
        if research.kind in ("web", "docs"):
            return []  # a search takes no names: "google" or "AWS" in it are words of the query
        dropped = [s for s in (research.query_span, research.document_span) if s]
        if not research.documents:
            dropped = [research.query_span] if research.query_span else []
        kept = [m for m in mentions if not any(a < m.end and m.start < b for a, b in dropped)]
        if research.documents and research.document_span:
            start, end = research.document_span
            kept.append(Mention(research.document or "", start, end, list(research.documents)))
        return sorted(kept, key=lambda m: m.start)

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
        if previous and previous.candidates:
            resumed = self._resume_clarification(slots, previous, now)
            if resumed is not None:
                return resumed
        text = self.classifier.repair(canonical(slots.masked), self.names)
        scores, cued = self.classifier.scores(text)
        ranked = sorted(scores.items(), key=lambda kv: -kv[1])
        best_name, best_score = ranked[0] if ranked else ("out_of_scope", 0.0)
        if "create_jira_ticket" in cued:  # an instruction to act outranks the topic it names
            best_name, best_score = "create_jira_ticket", scores["create_jira_ticket"]
        forced = self._forced_research(slots, cued)
        if forced is not None:
            best_name, best_score = forced, max(scores.get(forced, 0.0), STRONG_SCORE)
        if previous is not None and previous.tool and "create_jira_ticket" not in cued:
            switched = self._research_follow_up(slots, previous)
            if switched is not None:
                return switched
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

    @staticmethod
    def _forced_research(slots: Slots, cued: set[str]) -> str | None:
        """The research intent an unmistakable phrasing names ("search the web for …")."""
        research = slots.research
        if research is None or "create_jira_ticket" in cued:
            return None
        if research.kind == "web":
            return "web_search"
        if research.kind == "docs":
            return "search_documents"
        if research.documents and research.kind == "ask":
            return "ask_document"
        if research.documents and research.kind == "summarize":
            return "summarize_document"
        return None

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
        if best in RESEARCH_INTENTS and best in cued and best != previous.intent:
            return False  # "search the web for that" is a new question about the same subject
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
                "document",
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
        if "document" in intent.slots and not slots.mentions:
            loose = self.catalog.resolve_document(DOC_LEAD.sub("", slots.text))
            top = [e for e, score in loose if e in offered and score >= loose[0][1] - TIE_MARGIN]
            chosen += top[:1] if len(top) == 1 else []
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
        if intent.name in RESEARCH_INTENTS:
            return self._research_arguments(intent, args, slots, previous)
        if intent.name == "alerts":
            args.update(self._alert_arguments(slots))
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
        for key in ("team", "service", "repo", "epic", "document"):
            value = previous.arguments.get(key)
            entity = self.catalog.get(key, value) if isinstance(value, str) else None
            if entity is not None:
                mentions.append(Mention(entity.value, 0, 0, [(entity, 1.0)]))
        return mentions

    # ----------------------------------------------------------------------- research

    def _topic(self, previous: PreviousTurn) -> str | None:
        """What the previous turn was about, as free text for a search."""
        for key in ("query", "question"):
            value = previous.arguments.get(key)
            if isinstance(value, str) and value.strip():
                return value
        research = self._research(normalise(previous.question, lower=False).rstrip(" ?!."), [])
        if research is not None and research.query:
            return research.query
        document = previous.arguments.get("document")
        if isinstance(document, str) and document:
            return document
        topic = clean_query(FOLLOW_START.sub("", normalise(previous.question, lower=False)))
        return topic or None

    def _research_follow_up(self, slots: Slots, previous: PreviousTurn) -> Route | None:
        """ "And on the web?", "what about our docs?", "and about backups?" after a research turn."""
        channel = CHANNEL_RE.match(slots.text)
        if channel is not None:
            where = channel.group("channel")
            tool = "web_search" if not re.search(r"doc|file|librar|upload|pdf", where) else None
            tool = tool or "search_documents"
            topic = self._topic(previous)
            if topic is None:
                return None
            return Route(
                "tool", tool, tool=tool, arguments={"query": topic}, confidence=1.0, follow_up=True
            )
        if previous.tool not in RESEARCH_INTENTS - {"list_documents"}:
            return None
        match = TOPIC_RE.match(slots.text)
        if match is None or (slots.research is not None and slots.research.kind != "summarize"):
            return None
        original = normalise(slots.text)
        start = match.start("topic") if match.group("topic") else match.start("other")
        topic = clean_query(original[start:])
        phrase = DOC_LEAD.sub("", topic)
        documents = [m for m in slots.mentions if m.of_kind("document")]
        if previous.tool in ("ask_document", "summarize_document"):
            named = documents[0].of_kind("document") if documents else []
            named = named or self.catalog.resolve_document(phrase)
            if named and (documents or DOC_NOUN_RE.search(phrase) or named[0][1] >= 0.95):
                arguments = dict(previous.arguments)
                top = [c for c in named if named[0][1] - c[1] <= TIE_MARGIN]
                if len(top) > 1:
                    names = [c[0].name for c in top]
                    return Route(
                        "clarify",
                        previous.tool,
                        arguments={k: v for k, v in arguments.items() if k != "document"},
                        message=self._which_document(names),
                        candidates=names,
                        follow_up=True,
                    )
                arguments["document"] = named[0][0].value
                return Route(
                    "tool",
                    previous.tool,
                    tool=previous.tool,
                    arguments=arguments,
                    confidence=1.0,
                    follow_up=True,
                )
        if previous.tool == "summarize_document" or not topic:
            return None
        key = "question" if previous.tool == "ask_document" else "query"
        original_text = self._original_slice(slots, start) or topic
        return Route(
            "tool",
            previous.tool,
            tool=previous.tool,
            arguments={**previous.arguments, key: clean_query(original_text)},
            confidence=1.0,
            follow_up=True,
        )

    @staticmethod
    def _original_slice(slots: Slots, start: int) -> str | None:
        original = slots.original
        return original[start:] if len(original) == len(slots.text) else None

    def _research_arguments(
        self,
        intent: Intent,
        args: dict[str, Any],
        slots: Slots,
        previous: PreviousTurn | None,
    ) -> dict[str, Any] | Route:
        """Fill a research tool's free-text slots (query, document, question)."""
        research = slots.research
        out: dict[str, Any] = {}
        if intent.name == "list_documents":
            return out
        text = research.query if research else None
        if text and PRONOUN_QUERY.match(text):
            text = None
        if text is None and previous is not None and previous.tool:
            text = self._topic(previous)
        if intent.name in ("web_search", "search_documents"):
            if not text:
                where = "the web" if intent.name == "web_search" else "the documents"
                return Route("clarify", intent.name, message=f"What should I search {where} for?")
            return {"query": text}
        document = args.get("document")
        if document is None and research is not None and research.document:
            return self._no_such_document(intent, research.document, text)
        if document is None and previous is not None:
            inherited = previous.arguments.get("document")
            document = inherited if isinstance(inherited, str) else None
        if document is None:
            names = [e.name for e in self.catalog.of_kind("document")]
            message = "Which document do you mean?" + (
                f" For example: {', '.join(names[:6])}." if names else " There are none yet."
            )
            kept = {"question": text} if intent.name == "ask_document" and text else {}
            return Route("clarify", intent.name, arguments=kept, message=message, candidates=names)
        out["document"] = document
        if intent.name == "ask_document":
            if not text:
                return Route(
                    "clarify",
                    intent.name,
                    arguments=out,
                    message=f"What would you like to know from {document}?",
                )
            out["question"] = text
        return out

    def _no_such_document(
        self, intent: Intent, phrase: str, question: str | None
    ) -> Route | dict[str, Any]:
        """No document title fits: offer the ones we have (or let the tool look when none)."""
        names = [e.name for e in self.catalog.of_kind("document")]
        if not names:
            out = {"document": phrase}
            if intent.name == "ask_document" and question:
                out["question"] = question
            return out
        kept = {"question": question} if intent.name == "ask_document" and question else {}
        shown = names[:8]
        return Route(
            "clarify",
            intent.name,
            arguments=kept,
            message=f"I have no document matching “{phrase}”. " + self._which_document(shown),
            candidates=shown,
        )

    @staticmethod
    def _which_document(names: list[str]) -> str:
        if len(names) == 1:
            return f"Did you mean {names[0]}?"
        return "Which one do you mean: " + ", ".join(names[:-1]) + f" or {names[-1]}?"

    @staticmethod
    def _alert_arguments(slots: Slots) -> dict[str, Any]:
        """The alerts tool's filters: severity on its own scale, domain, and open or all."""
        out: dict[str, Any] = {}
        text = slots.text
        severity = ALERT_SEVERITY.get(slots.severity or "")
        if severity is None and (found := ALERT_SEVERITY_RE.search(text)):
            severity = "warning" if found.group(1) else "info"
        if severity:
            out["severity"] = severity
        for pattern, domain in ALERT_DOMAINS:
            if pattern.search(text):
                out["domain"] = domain
                break
        if ALERT_CLOSED_RE.search(text):
            out["open"] = False
        return out

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
