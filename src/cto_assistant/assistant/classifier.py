"""Intent classification without a model: canonical words, typo repair, TF-IDF n-gram k-NN.

A question is lower-cased, its names and time expressions are already masked by the router
(`zzservicezz`, `zztimezz`), synonyms are folded to one word ("vulns", "CVEs" → vulnerabilities),
unknown words are repaired against the examples' vocabulary ("vulnerabilites"), and the result is
compared with every example paraphrase by cosine similarity over word unigrams, bigrams and
character trigrams (the trigrams make it robust to typos the repair missed). An intent scores
its best example; cue patterns add a fixed bonus.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import defaultdict
from collections.abc import Iterable
from difflib import get_close_matches
from functools import lru_cache

from cto_assistant.assistant.intents import Intent

PLACEHOLDER_KINDS = (
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
    "incident",
    "time",
    "query",
)
CUE_BONUS = 0.3
STOPWORDS = frozenset(
    [
        "the",
        "a",
        "an",
        "me",
        "please",
        "pls",
        "can",
        "could",
        "would",
        "you",
        "our",
        "us",
        "i",
        "my",
        "is",
        "are",
        "be",
        "to",
        "of",
        "just",
        "kindly",
        "show",
        "give",
        "tell",
        "list",
        "get",
        "let",
        "know",
        "want",
        "need",
        "some",
        "any",
    ]
)
SYNONYMS: tuple[tuple[str, str], ...] = (
    (r"\bwho'?s\b", "who is"),
    (r"\bwhy'?d\b", "why did"),
    (r"\bwhat'?s\b", "what is"),
    (r"\bhow'?s\b", "how is"),
    (r"\bwhere'?s\b", "where is"),
    (
        r"\b(vulns?|vulnerabilit(y|ies|es)|vulnerabilties|cves?|security holes?|security bugs?)\b",
        "vulnerabilities",
    ),
    (r"\bcriticals\b", "critical vulnerabilities"),  # "the criticals" are findings
    (r"\bhighs\b", "high vulnerabilities"),
    (r"\b(on[- ]call|oncall|on call)\b", "oncall"),
    (r"\b(outages?|incidents|sevs?|sev[- ]?[1-5]s?|p[0-2] incidents?)\b", "incident"),
    (r"\b(spending|spent|spend|costs?|expenses?|expenditure|outlay)\b", "spend"),
    (r"\b(cloud bill|aws bill|bill|invoice)\b", "spend"),
    (r"\b(deploys?|deployments?|releases?|shipping)\b", "deploy"),
    (r"\b(post[- ]?mortems?|retros?|retrospectives?|incident reviews?|pirs?)\b", "postmortem"),
    (r"\b(slos|slas?|service level objectives?)\b", "slo"),
    (r"\b(pull requests?|prs|merge requests?|mrs)\b", "pr"),
    (r"\b(tickets|tix|issues)\b", "ticket"),
    (r"\b(graph|plot|diagram|visual|visualisation|visualization)\b", "chart"),
    (r"\b(analyse|analysis|analyze|analyzing|analysing)\b", "analyze"),
    (r"\b(forecasted|forecasting|projection|projected|project)\b", "forecast"),
    (r"\b(anomalies|anomalous|anomaly)\b", "anomaly"),
    (r"\b(optimise|optimize|optimisation|optimization)\b", "optimize"),
    (r"\b(numbers|figures|stats|statistics|metrics)\b", "metrics"),
)
_SYNONYMS = [(re.compile(p), r) for p, r in SYNONYMS]
FRAMES = ("what is the {}", "show me {}", "can you check {}", "{} please", "quick question {}")


def placeholder(kind: str) -> str:
    """The token that stands for any name of `kind`."""
    return f"zz{kind}zz"


def canonical(text: str) -> str:
    """Fold synonyms and contractions into one word each."""
    for pattern, replacement in _SYNONYMS:
        text = pattern.sub(replacement, text)
    return text


def words_of(text: str) -> list[str]:
    """Alphanumeric words, placeholders included."""
    return re.findall(r"[a-z0-9]+", text)


def template_text(example: str) -> str:
    """An example with `{kind}` slots replaced by their placeholders."""
    return re.sub(r"\{(\w+)\}", lambda m: f" {placeholder(m.group(1))} ", example.lower())


def paraphrases(example: str) -> list[str]:
    """The example and a few generated rewordings of it (question frames)."""
    base = canonical(template_text(example))
    out = [base]
    if len(base.split()) <= 4:
        out.extend(frame.format(base) for frame in FRAMES[:2])
    return out


def features(text: str) -> dict[str, float]:
    """Sparse features: words, word bigrams and character trigrams of real words."""
    words = [w for w in words_of(text) if w not in STOPWORDS]
    feats: dict[str, float] = defaultdict(float)
    for word in words:
        feats["w:" + word] += 1.0
        if word.startswith("zz") and word.endswith("zz"):
            continue
        padded = f"#{word}#"
        for i in range(len(padded) - 2):
            feats["c:" + padded[i : i + 3]] += 0.25
    for a, b in itertools.pairwise(words):
        feats[f"b:{a} {b}"] += 1.0
    return feats


class Classifier:
    """k-NN over TF-IDF vectors of every intent's example paraphrases, plus cue bonuses."""

    def __init__(self, intents: Iterable[Intent]) -> None:
        self.intents = list(intents)
        docs: list[tuple[str, dict[str, float]]] = []
        for intent in self.intents:
            for example in intent.examples:
                for text in paraphrases(example):
                    docs.append((intent.name, features(text)))
        df: dict[str, int] = defaultdict(int)
        for _, feats in docs:
            for name in feats:
                df[name] += 1
        total = len(docs)
        self.idf = {name: math.log((1 + total) / (1 + count)) + 1.0 for name, count in df.items()}
        self.labels: list[str] = []
        self.postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for index, (label, feats) in enumerate(docs):
            vector = self._weigh(feats)
            self.labels.append(label)
            for name, weight in vector.items():
                self.postings[name].append((index, weight))
        self.vocabulary = frozenset(
            {
                w
                for intent in self.intents
                for e in intent.examples
                for w in words_of(canonical(template_text(e)))
            }
            | {
                w
                for intent in self.intents
                for e in intent.examples
                for w in words_of(template_text(e))
            }
            | STOPWORDS
        )
        self.cues = {
            intent.name: [
                re.compile(re.sub(r"\{(\w+)\}", lambda m: placeholder(m.group(1)), cue))
                for cue in intent.cues
            ]
            for intent in self.intents
        }

    def _weigh(self, feats: dict[str, float]) -> dict[str, float]:
        vector = {n: v * self.idf.get(n, 0.0) for n, v in feats.items() if n in self.idf}
        norm = math.sqrt(sum(v * v for v in vector.values())) or 1.0
        return {n: v / norm for n, v in vector.items()}

    def repair(self, text: str, extra_vocabulary: frozenset[str] = frozenset()) -> str:
        """Replace unknown words by the closest known word (typos), then fold synonyms again."""
        out = []
        for word in text.split():
            out.append(self._repair_word(word) if word not in extra_vocabulary else word)
        return canonical(" ".join(out))

    def _repair_word(self, word: str) -> str:
        return _repair(word, self.vocabulary)

    def similarity(self, text: str) -> dict[str, float]:
        """Best cosine similarity per intent."""
        query = self._weigh(features(text))
        scores: dict[int, float] = defaultdict(float)
        for name, weight in query.items():
            for index, doc_weight in self.postings.get(name, ()):
                scores[index] += weight * doc_weight
        best: dict[str, float] = {}
        for index, score in scores.items():
            label = self.labels[index]
            if score > best.get(label, 0.0):
                best[label] = score
        return best

    def cue_hits(self, text: str) -> set[str]:
        """Intents whose cue patterns match."""
        return {name for name, cues in self.cues.items() if any(c.search(text) for c in cues)}

    def scores(self, text: str) -> tuple[dict[str, float], set[str]]:
        """Similarity plus cue bonus per intent, and which intents had a cue."""
        similar = self.similarity(text)
        cued = self.cue_hits(text)
        combined = dict(similar)
        for name in cued:
            combined[name] = combined.get(name, 0.0) + CUE_BONUS
        return combined, cued


@lru_cache(maxsize=4096)
def _repair(word: str, vocabulary: frozenset[str]) -> str:
    if word in vocabulary or len(word) < 4 or not word.isalpha() or word.startswith("zz"):
        return word
    match = get_close_matches(word, vocabulary, n=1, cutoff=0.82)
    return match[0] if match else word
