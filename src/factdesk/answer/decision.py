"""Stage 4 of the road, decide: answer or decline, how confident, and what to quote.

With the reader, each span's confidence is its calibration (calibration.py) over the span's
named features (FEATURES); the question is answered when the most confident span reaches the
threshold (the reader's, on its model card, or FACTDESK_MIN_CONFIDENCE). Without a reader, and
for a question read as sentences (one that asks for yes or no), the best sentence's cosine read
alone decides, against BASELINE_COSINE.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from factdesk.answer.inquiry import Decision
from factdesk.errors import ConfigError
from factdesk.search.keyword import terms

if TYPE_CHECKING:
    from factdesk.answer.calibration import Calibration
    from factdesk.answer.conversation import Query
    from factdesk.answer.inquiry import Found, Inquiry, Sentence

# Without a reader: the least cosine, read alone, of a sentence that answers.
BASELINE_COSINE = 0.22


def missing(found: Found, inquiry: Inquiry) -> float:
    """The share of the question's words, weighted by rarity, that the sentence holding the span
    lacks: an unanswerable question often names something its best passage does not."""
    total = sum(weight for _, weight in inquiry.terms)
    if not total:
        return 0.0
    said = set(terms(found.quote))
    return sum(weight for term, weight in inquiry.terms if term not in said) / total


# What the calibration may weigh, by name. The passage's cosine is absolute, unlike the fused
# retrieval score, which depends on how many passages compete.
FEATURES: dict[str, Callable[[Found, Inquiry], float]] = {
    "margin": lambda found, _: found.span.margin,  # how far the span beats "no answer" (logits)
    "passage_cosine": lambda found, _: found.hit.dense or 0.0,
    "missing": missing,
}


def features(found: Found, inquiry: Inquiry) -> dict[str, float]:
    """A span's features, by name."""
    return {name: feature(found, inquiry) for name, feature in FEATURES.items()}


def check_calibration(calibration: Calibration) -> None:
    """A ConfigError when the calibration weighs a feature no span has."""
    unknown = sorted(set(calibration.weights) - set(FEATURES))
    if unknown:
        raise ConfigError(
            f"The reader's calibration weighs {unknown[0]!r}, a feature factdesk does not "
            f"compute (it computes: {', '.join(FEATURES)})."
        )


def decide(
    inquiry: Inquiry,
    calibration: Calibration | None,
    threshold: float,
    sentence_threshold: float,
    lower_passage_weight: float = 1.0,
) -> Inquiry:
    """The inquiry with its decision: by its sentences when it was read as sentences, against
    `sentence_threshold` (a cosine), else by the reader's spans, against `threshold`; a span in
    a passage below the first counts `lower_passage_weight` of its confidence when the one to
    quote is chosen (the reader's, on its model card)."""
    if calibration is None or inquiry.read_as_sentences:
        decision = _by_sentences(inquiry.query, inquiry.sentences, sentence_threshold)
    else:
        decision = _by_spans(inquiry, calibration, threshold, lower_passage_weight)
    return replace(inquiry, decision=decision)


def _by_spans(
    inquiry: Inquiry, calibration: Calibration, threshold: float, lower_passage_weight: float
) -> Decision:
    """The reader's short answer: the most confident span decides; among the spans that pass,
    the one quoted is the strongest after recency, what the conversation already quoted and
    retrieval's order (the reader reads each passage alone; retrieval saw them all)."""
    found = [
        replace(f, confidence=calibration.confidence(features(f, inquiry))) for f in inquiry.spans
    ]
    candidates = inquiry.sentences
    if not found:
        return Decision(False, 0.0, candidates=candidates)
    best = max(found, key=lambda f: f.confidence)
    confidence = round(best.confidence, 4)
    if best.confidence < threshold:
        return Decision(False, confidence, candidates=candidates)
    accepted = [f for f in found if f.confidence >= threshold]
    query = inquiry.query
    quoted = max(
        accepted,
        key=lambda f: (
            f.confidence
            * f.hit.recency
            * query.weight(f.quote)
            * passage_weight(f.span.passage, lower_passage_weight)
        ),
    )
    others = sorted(accepted, key=lambda f: -f.confidence)
    return Decision(True, confidence, spans=(quoted, *others), candidates=candidates)


def passage_weight(passage: int, lower_passage_weight: float) -> float:
    """The share of its confidence a span counts when the span to quote is chosen: all of it in
    the first passage read (0), `lower_passage_weight` in any other."""
    return 1.0 if passage == 0 else lower_passage_weight


def _by_sentences(query: Query, candidates: tuple[Sentence, ...], threshold: float) -> Decision:
    """Without a reader: the best cosine read alone decides; the sentence quoted is the one the
    pre-rank wants most, with its neighbour when that passes too."""
    if not candidates:
        return Decision(False, 0.0)
    best = max(candidates, key=lambda c: c.deciding_cosine)
    confidence = round(best.deciding_cosine, 4)
    if best.deciding_cosine < threshold:
        return Decision(False, confidence, candidates=candidates)
    preferred = _preferred([c for c in candidates if c.confirmed], query)
    chosen = _choose(preferred, candidates, threshold)
    return Decision(True, confidence, sentences=tuple(chosen), candidates=candidates)


def _preferred(eligible: list[Sentence], query: Query) -> Sentence:
    """Among the sentences the answer may quote, the one the pre-rank wants most: a newer
    article's on a current-state question (`hit.recency` is 1 on all others), and in a
    conversation what was not quoted yet."""
    return max(eligible, key=lambda c: c.score * c.hit.recency * query.weight(c.text))


def _choose(best: Sentence, candidates: tuple[Sentence, ...], threshold: float) -> list[Sentence]:
    """The best sentence, and its neighbour when its cosine read alone passes the threshold too
    (the figure in one sentence, who said it in the next)."""
    neighbours = [
        s
        for s in candidates
        if s is not best and s.deciding_cosine >= threshold and _adjacent(best, s)
    ]
    if neighbours:
        return [best, max(neighbours, key=lambda s: s.deciding_cosine)]
    return [best]


def _adjacent(sentence: Sentence, other: Sentence) -> bool:
    """Whether `other` directly precedes or follows `sentence`, in the same passage."""
    chunk = sentence.hit.chunk
    if other.hit.chunk.id != chunk.id:
        return False
    left, right = (sentence, other) if other.start >= sentence.end else (other, sentence)
    gap = chunk.excerpt(left.end, right.start)
    return right.start >= left.end and not gap.strip()
