"""Checking an LLM's answer against the passages it cites, before anyone sees it.

A model can cite a passage that does not exist, cite one that says something else, or slip in a
figure or a name from nowhere. Every sentence of its answer must pass three tests, or the whole
answer is withheld and the extractive answer is given instead:

1. it cites at least one passage, and every passage it cites exists;
2. the passages it cites support it: one of their sentences (or two neighbouring ones) says the
   same thing in other words, by sentence-embedding cosine, and most of its content words are
   in them. This is the paraphrase check sentence embeddings are trained for; the reader is not
   used here because it judges whether a sentence answers a question, not whether a claim
   restates a passage, and a sentence can answer the question while saying something else;
3. every number and every name in it appears in the passages it cites: embeddings see "300
   officers" and "3,000 officers" as near-identical, so figures are compared exactly.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from factdesk.ingest.sentences import split_sentences
from factdesk.search.keyword import terms

if TYPE_CHECKING:
    from factdesk.answer.answers import Citation
    from factdesk.search.embeddings import Embedder

# Both bars must be met: they part faithful paraphrases from claims citing another passage
# (tests/seed_claims.jsonl; benchmarks/README.md).
SUPPORT_COSINE = 0.5
SUPPORT_COVERAGE = 0.5
# A claim that negates what its support does not ("Rostec has not cut...") is not supported:
# embeddings and shared words both miss a lone "not". A contradiction in other words ("has
# increased" for "has cut") still passes: that needs an entailment model, which factdesk lacks.
_NEGATION = re.compile(r"\b(not|no|never|none|nobody|nothing|neither|nor)\b|n[’']t\b", re.I)
MAX_ANSWER_CHARS = 1500

_MARKER = re.compile(r"\[(\d+(?:\s*[,;]\s*\d+)*)\]")
_LEADING_MARKERS = re.compile(r"^(\s*\[\d+(?:\s*[,;]\s*\d+)*\])+\s*")
_NUMBER = re.compile(r"\d[\d,.]*\d|\d")
_NAME = re.compile(r"\b[A-Z][\w’'-]*")
_NUMBER_WORDS = {
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
    "eleven": "11",
    "twelve": "12",
    "twenty": "20",
    "thirty": "30",
    "fifty": "50",
    "hundred": "100",
    "thousand": "1000",
    "million": "1000000",
    "billion": "1000000000",
}
_QUOTES = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"'})


@dataclass(frozen=True)
class Claim:
    """One sentence of the model's answer, the passages it cites and what supports it."""

    text: str
    cited: tuple[int, ...]
    end: int = 0  # where the sentence, its markers included, ends in the answer
    support: float = 0.0
    source: tuple[int, int, int] | None = None  # (passage n, start, end) of the best support


@dataclass(frozen=True)
class Verdict:
    """Whether an answer may be shown; if not, a reason code (for JSON) and a log line."""

    ok: bool
    reason: str | None = None
    detail: str = ""
    claims: list[Claim] = field(default_factory=list)


def check(text: str, citations: Sequence[Citation], embedder: Embedder) -> Verdict:
    """Test every sentence of an LLM answer against the passages it cites."""
    text = text.strip()
    if not text or len(text) > MAX_ANSWER_CHARS or not re.search(r"[^\W\d_]", text):
        return Verdict(False, "garbage", f"an answer of {len(text)} characters")
    passages = {c.n: c for c in citations}
    checked: list[Claim] = []
    for claim in split_claims(text):
        verdict = check_claim(claim, passages, embedder)
        if not verdict.ok:
            return replace(verdict, claims=checked)
        checked += verdict.claims
    return Verdict(True, claims=checked)


def check_claim(claim: Claim, passages: dict[int, Citation], embedder: Embedder) -> Verdict:
    """The three tests for one sentence; a passing verdict carries the claim with its support."""
    if not claim.cited:
        return Verdict(False, "uncited", f"a sentence cites no passage: {claim.text!r}")
    unknown = [n for n in claim.cited if n not in passages]
    if unknown:
        return Verdict(False, "invented_citation", f"cites [{unknown[0]}], which was not given")
    cited_text = " ".join(passages[n].passage for n in claim.cited)
    if missing := unsupported_figures(claim.text, cited_text):
        return Verdict(False, "unsupported_figure", f"{missing!r} is not in the cited passages")
    if missing := unsupported_names(claim.text, cited_text):
        return Verdict(False, "unsupported_name", f"{missing!r} is not in the cited passages")
    claim = _supported(claim, passages, embedder)
    if not _supports(claim, passages):
        detail = f"the cited passages do not say {claim.text!r} (cosine {claim.support:.2f})"
        return Verdict(False, "unsupported", detail)
    return Verdict(True, claims=[claim])


def _supports(claim: Claim, passages: dict) -> bool:
    if claim.source is None or claim.support < SUPPORT_COSINE:
        return False
    if _coverage(claim, passages) < SUPPORT_COVERAGE:
        return False
    n, start, end = claim.source
    return not (
        _NEGATION.search(claim.text) and not _NEGATION.search(passages[n].passage[start:end])
    )


def split_claims(text: str) -> list[Claim]:
    """The answer's sentences with the passage numbers each cites; a marker standing alone
    after a full stop ("... now. [1]") belongs to the sentence before it."""
    claims: list[Claim] = []
    for start, end in split_sentences(text):
        piece = text[start:end]
        leading = _LEADING_MARKERS.match(piece)
        if claims and leading:  # Punkt puts "[1]" after a full stop at the next sentence's start
            last, piece = claims[-1], piece[leading.end() :]
            marks = _numbers(leading.group())
            claims[-1] = replace(last, cited=last.cited + marks, end=start + leading.end())
        cited = _numbers(piece)
        body = " ".join(re.sub(r"\s*" + _MARKER.pattern, " ", piece).split())
        body = re.sub(r"\s+([.!?,;:])", r"\1", body)
        if claims and not re.search(r"[^\W\d_]", body):
            last = claims[-1]
            claims[-1] = replace(last, cited=last.cited + cited, end=end)
            continue
        claims.append(Claim(body, cited, end))
    return claims


def _numbers(text: str) -> tuple[int, ...]:
    return tuple(int(n) for group in _MARKER.findall(text) for n in re.split(r"[,;]", group))


def unsupported_figures(sentence: str, passages: str) -> str | None:
    """The first number in the sentence (digits or a number word) the passages do not hold."""
    known = {_digits(n) for n in _NUMBER.findall(passages)}
    words = {w.lower() for w in re.findall(r"[A-Za-z]+", passages)}
    for number in _NUMBER.findall(sentence):
        if _digits(number) not in known:
            return number
    for word in re.findall(r"[A-Za-z]+", sentence):
        value = _NUMBER_WORDS.get(word.lower())
        if value and word.lower() not in words and value not in known:
            return word
    return None


def unsupported_names(sentence: str, passages: str) -> str | None:
    """The first capitalised word, other than a sentence's first, the passages do not hold."""
    sentence, passages = sentence.translate(_QUOTES), passages.translate(_QUOTES)
    known = {_bare(w) for w in _NAME.findall(passages)}
    for position, match in enumerate(_NAME.finditer(sentence)):
        word = _bare(match.group())
        if match.start() == _first_letter(sentence) and position == 0:
            continue
        if word and word not in known:
            return word
    return None


def _supported(claim: Claim, passages: dict, embedder: Embedder) -> Claim:
    """The claim with its best support among the cited passages' sentences and sentence pairs."""
    windows: list[tuple[int, int, int, str]] = []
    for n in claim.cited:
        passage = passages[n].passage
        spans = split_sentences(passage)
        for i, (start, end) in enumerate(spans):
            windows.append((n, start, end, passage[start:end]))
            if i + 1 < len(spans):
                windows.append((n, start, spans[i + 1][1], passage[start : spans[i + 1][1]]))
    if not windows:
        return claim
    vectors = embedder.embed([claim.text, *(w[3] for w in windows)], batch_size=32)
    scores = vectors[1:] @ vectors[0]
    best = int(np.argmax(scores))
    n, start, end, _ = windows[best]
    return replace(claim, support=float(scores[best]), source=(n, start, end))


def _coverage(claim: Claim, passages: dict) -> float:
    words = set(terms(claim.text))
    if not words:
        return 1.0
    cited = set(terms(" ".join(passages[n].passage for n in claim.cited)))
    return len(words & cited) / len(words)


def _digits(number: str) -> str:
    return number.replace(",", "").rstrip(".")


def _bare(word: str) -> str:
    return re.sub(r"('s|')$", "", word.strip("'-"))


def _first_letter(text: str) -> int:
    match = re.search(r"[^\W\d_]", text)
    return match.start() if match else 0


class CheckedStream:
    """Passes an LLM's streamed text on a sentence at a time, each only once it has passed
    `check_claim`, so that not even a draft shows an invented citation, figure or name.

    A sentence counts as finished when the next one begins (its citation marker may still be
    coming until then); the last sentence is left to the final, complete check.
    """

    def __init__(
        self, citations: Sequence[Citation], embedder: Embedder, on_text: Callable[[str], None]
    ) -> None:
        self.text = ""
        self._passages = {c.n: c for c in citations}
        self._embedder = embedder
        self._on_text = on_text
        self._shown = 0
        self._checked = 0
        self._failed = False

    def __call__(self, piece: str) -> None:
        self.text += piece
        if self._failed:
            return
        claims = split_claims(self.text)
        for claim in claims[self._checked : -1]:
            if not check_claim(claim, self._passages, self._embedder).ok:
                self._failed = True
                return
            self._on_text(self.text[self._shown : claim.end])
            self._shown, self._checked = claim.end, self._checked + 1
