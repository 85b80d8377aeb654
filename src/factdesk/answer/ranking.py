"""Stage 2 of the road, rank sentences: every sentence of the retrieved passages scored against
the question, best first.

The pre-rank: the sentence's cosine to the question, plus the share of the question's
(IDF-weighted) words in the sentence and in the sentence with the one before it, plus a bonus
for a new thing of the kind asked for (answer_types.py). Without a reader it chooses the
sentence to quote; with one, it orders a decline's related passages.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from factdesk.answer.answer_types import holds_new_answer
from factdesk.answer.inquiry import Sentence
from factdesk.search.keyword import terms

if TYPE_CHECKING:
    from factdesk.answer.inquiry import Inquiry
    from factdesk.search.keyword import KeywordIndex
    from factdesk.search.retrieval import Hit

# Fitted on SQuAD train articles (benchmarks/README.md, "The pre-rank").
OVERLAP_WEIGHT = 0.25
WITH_PREVIOUS_WEIGHT = 0.35
ANSWER_TYPE_BONUS = 0.15


def rank(inquiry: Inquiry, keyword_index: KeywordIndex) -> Inquiry:
    """The inquiry with every sentence of its passages ranked for what the question asks, and
    the words of the question it reads, weighted by their rarity."""
    assert inquiry.vector is not None, "retrieve first"
    ranked = rank_sentences(inquiry.query.asked, inquiry.vector, inquiry.hits, keyword_index)
    weights = term_weights(inquiry.query.standalone, keyword_index)
    return replace(inquiry, ranked=tuple(ranked), terms=tuple(weights.items()))


def term_weights(question: str, keyword_index: KeywordIndex) -> dict[str, float]:
    """The question's words (stemmed, without stop words), each weighted by its inverse
    document frequency in the index; a word no passage holds weighs the most any word can,
    since what no article mentions is what the articles most surely don't say."""
    unseen = keyword_index.max_idf()
    return {term: keyword_index.idf(term) or unseen for term in sorted(set(terms(question)))}


def rank_sentences(
    question: str, vector: np.ndarray, hits: tuple[Hit, ...], keyword_index: KeywordIndex
) -> list[Sentence]:
    """Score every sentence of `hits` against the question, best first; a sentence two
    overlapping passages hold is scored once."""
    question_terms = set(terms(question))
    weights = {term: keyword_index.idf(term) or 1.0 for term in question_terms}
    total_weight = sum(weights.values())

    def share(found: set[str]) -> float:
        return sum(weights[t] for t in found) / total_weight if total_weight else 0.0

    seen: set[tuple[str, int]] = set()
    ranked = []
    for hit in hits:
        chunk = hit.chunk
        texts = [chunk.text[start:end] for start, end in chunk.sentences]
        shared = [question_terms.intersection(terms(text)) for text in texts]
        for index, (relative_start, _) in enumerate(chunk.sentences):
            start = chunk.start + relative_start
            if (chunk.doc_id, start) in seen:
                continue
            seen.add((chunk.doc_id, start))
            with_previous = shared[index] | (shared[index - 1] if index else set())
            cosine = float(np.dot(vector, chunk.sentence_vectors[index]))
            score = (
                cosine
                + OVERLAP_WEIGHT * share(shared[index])
                + WITH_PREVIOUS_WEIGHT * share(with_previous)
                + ANSWER_TYPE_BONUS * holds_new_answer(question, texts[index])
            )
            ranked.append(Sentence(hit, start, start + len(texts[index]), cosine, score))
    ranked.sort(key=lambda s: -s.score)
    return ranked
