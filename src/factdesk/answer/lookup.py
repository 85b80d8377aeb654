"""Stage 1 of the road, retrieve: the question embedded, and the passages retrieval finds for it.

Two vectors: for retrieval, the standalone question's with the earlier turns' at their lower
weights (normalised); for judging sentences, the standalone question's alone, so that a sentence
close to the earlier turns is not taken for an answer.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from factdesk.answer.conversation import Query
    from factdesk.answer.inquiry import Inquiry
    from factdesk.search.embeddings import Embedder
    from factdesk.search.retrieval import Retriever

# Passages retrieved at least, for their sentences to be pre-ranked and the best read.
READ_PASSAGES = 5


def retrieve(
    inquiry: Inquiry, embedder: Embedder, retriever: Retriever, n: int | None = None
) -> Inquiry:
    """The inquiry with its vectors and the `n` best passages (by default the more of its
    `top_k` and READ_PASSAGES)."""
    query = inquiry.query
    search_vector, vector = vectors(query, embedder)
    count = n or max(inquiry.top_k, READ_PASSAGES)
    hits = retriever.retrieve(query.search, search_vector, count)
    return replace(inquiry, search_vector=search_vector, vector=vector, hits=tuple(hits))


def vectors(query: Query, embedder: Embedder) -> tuple[np.ndarray, np.ndarray]:
    """The vector to search with and the question's own (the same one for a question alone)."""
    if not query.context:
        vector = embedder.embed_one(query.standalone)
        return vector, vector
    texts = [query.standalone, *(text for text, _ in query.context)]
    weights = np.array([1.0, *(weight for _, weight in query.context)], dtype=np.float32)
    embedded = embedder.embed(texts, batch_size=len(texts))
    combined = weights @ embedded
    return combined / (np.linalg.norm(combined) or 1.0), embedded[0]
