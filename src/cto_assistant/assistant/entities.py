"""Entity resolution: the store's own names (teams, services, repos, epics, people, regions …).

A `Catalog` holds every name the router may meet, each as an `Entity` with its aliases
("checkout" is the Checkout team's name and a short name of checkout-service). `find_mentions`
scans a normalised question for aliases, exactly first and then fuzzily (typos), and returns
`Mention`s whose candidates may be of several kinds: the router picks the kind the tool takes
("checkout" → the service for `vulnerabilities`, the team for `on_call`) and asks back when two
candidates of that kind tie.

Common English words that are also team names ("data", "growth", "mobile") count only with a
cue: "the data team", "for data", "and mobile?" — never in "the latest cloud spend data".
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

KINDS = (
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
WEAK_WORDS = frozenset(
    {
        "data",
        "growth",
        "mobile",
        "identity",
        "platform",
        "checkout",
        "payments",
        "payment",
        "billing",
        "pricing",
        "cart",
        "ledger",
        "auth",
        "notifications",
        "recommendations",
        "analytics",
        "fraud",
        "aws",
        "github",
        "datadog",
        "pagerduty",
        "postgres",
        "ios",
        "android",
        "jira",
        "sre",
        "iso",
        "global",
    }
)
CUE_BEFORE = frozenset(
    {"for", "of", "on", "in", "at", "from", "about", "the", "and", "to", "by", "owns", "with"}
    | {"did", "does", "do", "has", "have", "was", "were", "will", "can", "should", "only", "just"}
)
CUE_AFTER = frozenset({"team", "teams", "squad", "org", "group", "folks", "engineers", "service"})
PROVIDER_ALIASES = {
    "aws": ("aws", "amazon", "amazon web services"),
    "gcp": ("gcp", "google cloud", "google", "gcloud"),
    "azure": ("azure", "microsoft azure", "microsoft"),
    "oci": ("oci", "oracle cloud", "oracle"),
}
FRAMEWORK_ALIASES = {
    "soc2": ("soc2", "soc 2", "soc ii", "soc2 type 2", "soc 2 type ii"),
    "iso27001": ("iso27001", "iso 27001", "iso", "27001", "iso27k"),
}
REGION_EXTRA = {
    "us-east-1": ("virginia", "n virginia", "northern virginia", "us east"),
    "us-west-2": ("oregon", "us west"),
    "eu-west-1": ("ireland", "eu west"),
    "europe-west1": ("belgium",),
}
SYSTEM_EXTRA = {"postgres:prod": ("postgres", "production database", "prod db", "prod database")}
DOCUMENT_GENERIC = frozenset(
    {
        "the", "our", "a", "an", "this", "that", "latest", "new", "last", "recent", "current",
        "report", "reports", "document", "documents", "doc", "docs", "file", "files", "pdf",
        "deck", "paper", "slides", "presentation", "one", "of", "on", "about", "for", "and", "then", "instead", "please",
        "pls", "it", "version", "diagram", "diagrams", "drawing", "spreadsheet", "sheet", "summary", "copy", "i", "meant", "mean", "yes", "no", "oh", "sorry",
    }
)  # fmt: skip
"""Words that say "a document" without saying which (they only break ties between titles)."""
MIN_DOCUMENT_SCORE = 0.6
TOKEN = re.compile(r"[a-z0-9][a-z0-9_./:+-]*[a-z0-9]|[a-z0-9]")


def normalise(text: str, *, lower: bool = True) -> str:
    """Lower-case (unless told not to), straighten quotes and collapse whitespace."""
    text = text.lower() if lower else text
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    text = text.replace("\u201c", '"').replace("\u201d", '"')
    return re.sub(r"\s+", " ", text).strip()


def tokens(text: str) -> list[str]:
    """Word tokens of a normalised text (keeps service-style names like checkout-service)."""
    return TOKEN.findall(text)


@dataclass(frozen=True)
class Entity:
    """One named thing: its kind, the value a tool takes, a display name and its owner team."""

    kind: str
    value: str
    name: str
    team: str | None = None


@dataclass
class Mention:
    """A phrase of the question that names one or more entities."""

    text: str
    start: int
    end: int
    candidates: list[tuple[Entity, float]]
    weak: bool = False

    def of_kind(self, kind: str) -> list[tuple[Entity, float]]:
        """Candidates of one kind, best first."""
        return sorted(
            (c for c in self.candidates if c[0].kind == kind), key=lambda c: (-c[1], c[0].value)
        )


@dataclass
class Catalog:
    """Every entity the router knows, indexed by alias (token tuples)."""

    entities: list[Entity] = field(default_factory=list)
    aliases: dict[tuple[str, ...], list[tuple[Entity, float]]] = field(default_factory=dict)
    by_length: dict[int, list[tuple[str, ...]]] = field(default_factory=dict)

    def add(self, entity: Entity, *aliases: str, weight: float = 1.0) -> None:
        """Register an entity under its aliases (weight < 1 for partial names)."""
        if entity not in self.entities:
            self.entities.append(entity)
        for alias in aliases:
            key = tuple(tokens(normalise(alias)))
            if not key:
                continue
            if key not in self.aliases:
                self.aliases[key] = []
                self.by_length.setdefault(len(key), []).append(key)
            bucket = self.aliases[key]
            existing = next((i for i, (e, _) in enumerate(bucket) if e == entity), None)
            if existing is None:
                bucket.append((entity, weight))
            elif bucket[existing][1] < weight:
                bucket[existing] = (entity, weight)

    def of_kind(self, kind: str) -> list[Entity]:
        """Every entity of one kind."""
        return [e for e in self.entities if e.kind == kind]

    def get(self, kind: str, value: str) -> Entity | None:
        """The entity of `kind` whose value is `value` (case-insensitive)."""
        lowered = value.lower()
        return next(
            (e for e in self.entities if e.kind == kind and e.value.lower() == lowered), None
        )

    def team_of(self, entity: Entity) -> Entity | None:
        """The team that owns a service, repo, epic or person."""
        if entity.kind == "team":
            return entity
        return self.get("team", entity.team) if entity.team else None

    @property
    def vocabulary(self) -> set[str]:
        """Every token of every alias."""
        return {t for key in self.aliases for t in key}

    @classmethod
    def from_records(cls, records: Mapping[str, Iterable[Mapping[str, Any]]]) -> Catalog:
        """Build from plain records per kind (what `load_catalog` reads, or a test fixture)."""
        catalog = cls()
        for row in records.get("team", []):
            entity = Entity(
                "team", str(row["key"]), str(row.get("name") or row["key"]), str(row["key"])
            )
            name = normalise(str(row.get("name") or ""))
            catalog.add(entity, str(row["key"]), f"{row['key']} team", f"team {row['key']}")
            if name:
                catalog.add(entity, name, f"{name} team", f"team {name}", f"{name} squad")
                if name.endswith("s"):
                    catalog.add(entity, name[:-1], weight=0.95)
            if row.get("jira_project") and row["jira_project"] != row["key"]:
                catalog.add(entity, str(row["jira_project"]))
        for row in records.get("service", []):
            value = str(row["name"])
            entity = Entity("service", value, value, row.get("team"))
            spaced = value.replace("-", " ")
            catalog.add(entity, value, spaced)
            stem = re.sub(r"[- ](service|svc|api|app|site|stack|bot)$", "", value)
            if stem != value:
                catalog.add(entity, stem, stem.replace("-", " "), weight=0.9)
                suffix = value[len(stem) + 1 :]
                catalog.add(entity, f"{stem} {suffix}s" if suffix == "service" else f"{stem} svc")
        for row in records.get("repo", []):
            value = str(row["name"])
            short = value.split("/", 1)[-1]
            entity = Entity("repo", value, value, row.get("team"))
            catalog.add(entity, value, f"{short} repo", f"{short} repository")
            catalog.add(entity, short, short.replace("-", " "), weight=0.95)
            stem = re.sub(r"-(service|svc|api|app|site|stack|bot)$", "", short)
            if stem != short:
                catalog.add(entity, stem, weight=0.85)
        for row in records.get("epic", []):
            name = str(row["name"])
            entity = Entity("epic", name, name, row.get("team"))
            catalog.add(entity, name, name.replace("-", " "), str(row.get("key") or name))
            short = name.split(":", 1)[-1].strip()
            if short != name:
                catalog.add(entity, short, weight=0.9)
        for row in records.get("person", []):
            name = str(row["name"])
            entity = Entity("person", str(row.get("email") or name), name, row.get("team"))
            catalog.add(entity, name)
            if row.get("email"):
                catalog.add(entity, str(row["email"]))
            first = name.split()[0]
            catalog.add(entity, first, weight=0.7)
        for region in records.get("region", []):
            name = str(region)
            catalog.add(
                Entity("region", name, name),
                name,
                name.replace("-", " "),
                *REGION_EXTRA.get(name, ()),
            )
        for value, aliases in PROVIDER_ALIASES.items():
            catalog.add(Entity("provider", value, value.upper()), *aliases)
        for value, aliases in FRAMEWORK_ALIASES.items():
            catalog.add(Entity("framework", value, value.upper()), *aliases)
        for system in records.get("system", []):
            name = str(system)
            catalog.add(Entity("system", name, name), name, *SYSTEM_EXTRA.get(name, ()))
        for row in records.get("document", []):
            title = str(row["title"])
            entity = Entity("document", title, title)
            catalog.add(entity, title, weight=1.0 if len(tokens(normalise(title))) > 1 else 0.99)
            source = str(row.get("source") or "").rsplit("/", 1)[-1]
            if source:
                stem = source.rsplit(".", 1)[0] if "." in source else source
                catalog.add(entity, source, weight=0.95)
                catalog.add(entity, re.sub(r"[-_.]+", " ", stem), weight=0.95)
        return catalog

    def resolve_document(self, phrase: str) -> list[tuple[Entity, float]]:
        """Documents a loose phrase may mean ("the security report"), best first, scored 0 to 1.

        Every distinctive word of the phrase must be in the title or file name (typos allowed);
        generic words ("report", "deck") only break ties.
        """
        words = tokens(normalise(phrase).replace("-", " ").replace("_", " "))
        content = [w for w in words if w not in DOCUMENT_GENERIC]
        generic = [w for w in words if w in DOCUMENT_GENERIC and len(w) > 3]
        if not content:
            content, generic = generic, []
        if not content:
            return []
        ranked: list[tuple[Entity, float]] = []
        for entity in self.of_kind("document"):
            names = {
                " ".join(key)
                for key, hits in self.aliases.items()
                if any(e == entity for e, _ in hits)
            }
            title_words = set(tokens(" ".join(names).replace("-", " ").replace("_", " ")))
            matched = [max((_word_match(w, t) for t in title_words), default=0.0) for w in content]
            if min(matched) < 0.8:
                continue
            score = sum(matched) / len(matched)
            if generic:
                hits = sum(1 for w in generic if w in title_words) / len(generic)
                score = score * 0.9 + 0.1 * hits
            else:
                score *= 0.95
            ranked.append((entity, round(min(score, 1.0), 3)))
        ranked.sort(key=lambda c: (-c[1], c[0].value))
        return [c for c in ranked if c[1] >= MIN_DOCUMENT_SCORE]


def load_catalog(session: Session) -> Catalog:
    """Read every name the router may meet from the store."""
    from cto_assistant.store import models as m

    records: dict[str, list[Any]] = defaultdict(list)
    team_keys: dict[str, dict[str, Any]] = {}
    for team in session.scalars(sa.select(m.Team)):
        team_keys[team.key] = {
            "key": team.key,
            "name": team.name,
            "jira_project": team.jira_project,
        }
    for owned in (m.Service, m.Person, m.Epic, m.OncallShift):
        for key in session.scalars(sa.select(owned.team_key).distinct()):
            if key and key not in team_keys:
                team_keys[key] = {"key": key, "name": TEAM_NAMES.get(key, key)}
    records["team"] = list(team_keys.values())
    services = session.execute(sa.select(m.Service.name, m.Service.team_key, m.Service.repo)).all()
    records["service"] = [{"name": n, "team": t} for n, t, _ in services]
    repos: dict[str, str | None] = {}
    for full_name, owner in session.execute(
        sa.select(m.Repository.full_name, m.Repository.team_key)
    ):
        repos[full_name] = owner
    service_team = {n: t for n, t, _ in services}
    for _, owner, repo_name in services:
        if repo_name:
            repos.setdefault(repo_name, owner)
    scanned = [*session.scalars(sa.select(m.QualitySnapshot.repo).distinct())]
    scanned += [*session.scalars(sa.select(m.Vulnerability.repo).distinct())]
    for repo_name in scanned:
        if repo_name and "/" in repo_name:
            repos.setdefault(repo_name, service_team.get(repo_name.split("/", 1)[1]))
    records["repo"] = [{"name": n, "team": t} for n, t in repos.items()]
    records["epic"] = [
        {"name": n, "key": k, "team": t}
        for n, k, t in session.execute(sa.select(m.Epic.name, m.Epic.key, m.Epic.team_key))
    ]
    records["person"] = [
        {"name": n, "email": e, "team": t}
        for n, e, t in session.execute(
            sa.select(m.Person.name, m.Person.email, m.Person.team_key).where(m.Person.active)
        )
    ]
    records["region"] = [
        r for r in session.scalars(sa.select(m.CostDaily.region).distinct()) if r
    ] or list(REGION_EXTRA)
    records["system"] = [
        s for s in session.scalars(sa.select(m.AccessGrant.system).distinct()) if s
    ]
    records["document"] = [
        {"title": t, "source": s}
        for t, s in session.execute(
            sa.select(m.Document.title, m.Document.source).order_by(m.Document.added_at.desc())
        )
    ]
    return Catalog.from_records(records)


TEAM_NAMES = {
    "PLAT": "Platform",
    "PAY": "Payments",
    "CHK": "Checkout",
    "IDN": "Identity",
    "DATA": "Data",
    "MOB": "Mobile",
    "GRW": "Growth",
    "SRE": "SRE",
}
"""Display names for team keys seen in the store before any `team` row was synced."""


def _similar(a: str, b: str) -> float:
    return SequenceMatcher(None, a, b, autojunk=False).ratio()


def _word_match(word: str, candidate: str) -> float:
    """1 for the same word (or a plural of it), else the similarity of two long-enough words."""
    if word == candidate or word.rstrip("s") == candidate.rstrip("s"):
        return 1.0
    if len(word) < 4 or len(candidate) < 4:
        return 0.0
    return _similar(word, candidate)


def find_mentions(
    text: str,
    catalog: Catalog,
    *,
    protected: frozenset[str] = frozenset(),
    original: str | None = None,
) -> list[Mention]:
    """Every entity mention in a normalised text, longest match first, no overlaps.

    `protected` words (the router's own vocabulary) are never fuzzily read as a name.
    `original` is the same text before lower-casing: a capitalised word ("Growth", "AWS") is
    a name even without a cue.
    """
    spans = [(m.group(0), m.start(), m.end()) for m in TOKEN.finditer(text)]
    words = [s[0] for s in spans]
    taken = [False] * len(words)
    found: list[Mention] = []
    max_len = max(catalog.by_length, default=0)
    for size in range(min(max_len, 5), 0, -1):
        for i in range(len(words) - size + 1):
            if any(taken[i : i + size]):
                continue
            key = tuple(words[i : i + size])
            hits = catalog.aliases.get(key)
            score = 1.0
            if hits is None:
                hits, score = _fuzzy(key, catalog, protected)
            if not hits:
                continue
            if size == 1 and key[0] in protected and all(w < 1.0 for _, w in hits):
                continue  # a partial name that is also a common word ("incident", "status")
            phrase = " ".join(key)
            weak = size == 1 and phrase in WEAK_WORDS
            if weak and not _cued(words, i) and not _capitalised(original, spans[i][1], i):
                continue
            for j in range(i, i + size):
                taken[j] = True
            found.append(
                Mention(
                    text=phrase,
                    start=spans[i][1],
                    end=spans[i + size - 1][2],
                    candidates=[(e, w * score) for e, w in hits],
                    weak=weak,
                )
            )
    return sorted(found, key=lambda m: m.start)


def _capitalised(original: str | None, start: int, index: int) -> bool:
    if original is None:
        return False
    word = TOKEN.match(original.lower(), start)
    if word is None:
        return False
    raw = original[start : word.end()]
    return (len(raw) > 1 and raw.isupper()) or (index > 0 and raw[:1].isupper())


def _cued(words: list[str], i: int) -> bool:
    before = words[i - 1] if i > 0 else ""
    after = words[i + 1] if i + 1 < len(words) else ""
    return before in CUE_BEFORE or after in CUE_AFTER or (i == 0 and len(words) <= 2)


def _fuzzy(
    key: tuple[str, ...], catalog: Catalog, protected: frozenset[str]
) -> tuple[list[tuple[Entity, float]] | None, float]:
    phrase = " ".join(key)
    if len(phrase) < 5 or all(w in protected for w in key) or phrase in WEAK_WORDS:
        return None, 0.0
    best: tuple[float, tuple[str, ...]] | None = None
    for alias in catalog.by_length.get(len(key), []):
        candidate = " ".join(alias)
        if abs(len(candidate) - len(phrase)) > 2 or candidate[0] != phrase[0]:
            continue
        ratio = _similar(phrase, candidate)
        if ratio >= 0.86 and (best is None or ratio > best[0]):
            best = (ratio, alias)
    if best is None:
        return None, 0.0
    return catalog.aliases[best[1]], best[0]
