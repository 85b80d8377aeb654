"""Stage 3 of the road, read: what the best candidates say, read closely.

With the reader (reader.py), its spans: it reads the best few retrieved passages whole and finds
in each the short answer, if any. Without it (`FACTDESK_READER=none`), and for a question that
asks for yes or no (no span says "yes"), the pre-rank's best sentences and the best of every
passage that may be cited, the first few embedded alone: read alone, a sentence tells better
whether it answers at all. Only close calls, within CONFIRM_MARGIN of the threshold, pay for that.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from factdesk.answer.answer_types import asks_yes_or_no
from factdesk.answer.inquiry import Found

if TYPE_CHECKING:
    from factdesk.answer.inquiry import Inquiry, Sentence
    from factdesk.answer.reader import Reader, Span
    from factdesk.search.embeddings import Embedder
    from factdesk.search.retrieval import Hit

# The reader reads the best few retrieved passages whole; more finds more answers and more false
# ones (chosen on the tune articles, see the reader's model card).
SPAN_PASSAGES = 3
# The pre-ranked sentences kept as candidates: to be cited, or listed by a decline.
PRE_RANK = 12
CONFIRM = 5
CONFIRM_MARGIN = 0.18


def read(inquiry: Inquiry, reader: Reader | None, embedder: Embedder, threshold: float) -> Inquiry:
    """The inquiry with the reader's spans and the candidate sentences (pre-ranked; read as
    sentences, the first few confirmed against `threshold`, the least cosine that answers)."""
    standalone = inquiry.query.standalone
    if reader is None or asks_yes_or_no(standalone):
        assert inquiry.vector is not None, "retrieve first"
        sentences = confirm(inquiry.vector, inquiry.ranked, inquiry.cited, embedder, threshold)
        return replace(
            inquiry,
            reader_version=reader.version if reader else None,
            read_as_sentences=True,
            sentences=tuple(sentences),
        )
    found = tuple(Found(hit, span) for hit, span in read_spans(standalone, inquiry.hits, reader))
    unread = tuple(replace(s, confirmed=False) for s in inquiry.ranked[:PRE_RANK])
    warnings = inquiry.warnings
    if not reader.fits(standalone):
        warnings += (
            f"The question is longer than the reader reads: it read its first "
            f"{reader.max_question_tokens} word pieces.",
        )
    return replace(
        inquiry, reader_version=reader.version, spans=found, sentences=unread, warnings=warnings
    )


def read_spans(question: str, hits: tuple[Hit, ...], reader: Reader) -> list[tuple[Hit, Span]]:
    """The spans the reader finds in the best SPAN_PASSAGES passages, each with its passage."""
    passages = hits[:SPAN_PASSAGES]
    spans = reader.read(question, [hit.chunk.text for hit in passages])
    return [(passages[span.passage], span) for span in spans if span is not None]


def confirm(
    vector: np.ndarray,
    ranked: tuple[Sentence, ...],
    cited: tuple[Hit, ...],
    embedder: Embedder,
    threshold: float,
) -> list[Sentence]:
    """Without a reader: the pre-rank's best sentences and the best of every passage that may
    be cited, the first CONFIRM confirmed (their cosine read alone, close calls only), the
    others not."""
    keep = list(ranked[:PRE_RANK])
    for hit in cited:
        best = next((s for s in ranked if s.hit.chunk.id == hit.chunk.id), None)
        if best is not None and best not in keep:
            keep.append(best)
    unread = [replace(s, confirmed=False) for s in keep[CONFIRM:]]
    return _confirmed(vector, keep[:CONFIRM], embedder, threshold) + unread


def _confirmed(
    vector: np.ndarray, read: list[Sentence], embedder: Embedder, threshold: float
) -> list[Sentence]:
    """The sentences with their cosine to the question, read alone unless in context one is
    clearly above the threshold."""
    cosines = [s.cosine for s in read]
    if max(cosines, default=0.0) < threshold + CONFIRM_MARGIN:
        cosines = [float(c) for c in embedder.embed([s.text for s in read]) @ vector]
    return [replace(s, cosine=c) for s, c in zip(read, cosines, strict=True)]
