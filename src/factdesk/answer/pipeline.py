"""The road a question takes over one index, with the parts loaded for it (service.py loads
them): the stages, in order, each handing the `Inquiry` on to the next (see the package's map in
__init__.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from factdesk.answer import composition, decision, lookup, ranking, reading
from factdesk.answer.composition import LLMAttempt
from factdesk.answer.conversation import Query, build_query
from factdesk.answer.inquiry import Inquiry
from factdesk.answer.question import CleanQuestion

if TYPE_CHECKING:
    from factdesk.answer.answers import Answer
    from factdesk.answer.conversation import Turn
    from factdesk.answer.inquiry import Found
    from factdesk.answer.llm import LLM, OnText
    from factdesk.answer.reader import Reader
    from factdesk.config import Settings
    from factdesk.search.embeddings import Embedder
    from factdesk.search.retrieval import Hit, Retriever


class Pipeline:
    """Answers questions from one index (an `Answerer`): the embedder, the retriever over the
    index, the reader (None: `FACTDESK_READER=none`) and the LLM (None without
    FACTDESK_LLM_URL). One per index and process, safe to share between threads."""

    def __init__(
        self,
        settings: Settings,
        embedder: Embedder,
        retriever: Retriever,
        reader: Reader | None,
        llm: LLM | None = None,
    ) -> None:
        self.settings = settings
        self.embedder = embedder
        self.retriever = retriever
        self.reader = reader
        self.llm = llm
        self.calibration = reader.calibration if reader else None
        self.lower_passage_weight = reader.lower_passage_weight if reader else 1.0
        if self.calibration is not None:
            decision.check_calibration(self.calibration)
        self.min_confidence = (
            settings.min_confidence
            if settings.min_confidence is not None
            else (reader.threshold if reader else decision.BASELINE_COSINE)
        )

    @property
    def sentence_threshold(self) -> float:
        """The least cosine of a sentence that answers, when sentences decide (all questions
        without a reader; those asking for yes or no with one)."""
        return decision.BASELINE_COSINE if self.reader else self.min_confidence

    @property
    def streams(self) -> bool:
        """Whether answers can arrive piece by piece (only an LLM's do)."""
        return self.llm is not None

    @property
    def passage_count(self) -> int:
        """How many passages the index held at the last question (0: nothing indexed yet)."""
        return self.retriever.size

    def check_store(self) -> None:
        """Raises StoreUnavailableError when the index cannot be reached now (a health check:
        one cheap read, the same one every question starts with)."""
        self.retriever.store.generation()

    def refresh(self) -> None:
        """Answer from the index as it is now (after something was indexed into it)."""
        self.retriever.refresh()

    def ask(
        self,
        question: str | CleanQuestion,
        history: Sequence[Turn] = (),
        top_k: int | None = None,
        on_text: OnText | None = None,
    ) -> Answer:
        """The answer to `question` after `history` (oldest first). `on_text` receives the LLM's
        text as it streams, a sentence at a time and only sentences that passed the check; the
        returned answer is the one to show in the end."""
        clean = self._clean(question)
        attempt = LLMAttempt(self.llm) if self.llm else None
        query = build_query(clean.text, history, attempt.condense if attempt else None)
        inquiry = Inquiry(query, top_k or self.settings.top_k, clean.warnings)
        inquiry = lookup.retrieve(inquiry, self.embedder, self.retriever)
        inquiry = ranking.rank(inquiry, self.retriever.keyword_index)
        inquiry = reading.read(inquiry, self.reader, self.embedder, self.sentence_threshold)
        inquiry = decision.decide(
            inquiry,
            self.calibration,
            self.min_confidence,
            self.sentence_threshold,
            self.lower_passage_weight,
        )
        return composition.compose(inquiry, attempt, self.embedder, on_text)

    def search(
        self, question: str | CleanQuestion, history: Sequence[Turn] = (), limit: int | None = None
    ) -> list[Hit]:
        """The passages retrieval finds for `question` after `history`, best first, without an
        answer: a follow-up is read with its conversation as `ask` reads it, without an LLM's
        condensing, so a search costs one retrieval."""
        query = build_query(self._clean(question).text, history)
        limit = limit or self.settings.top_k
        inquiry = lookup.retrieve(Inquiry(query, limit), self.embedder, self.retriever, limit)
        return list(inquiry.hits)

    def spans(self, query: Query) -> list[tuple[Found, dict[str, float]]]:
        """The spans the reader finds in the passages it reads for `query`, each with its
        features: what the decision chooses from (and what its calibration is fitted on)."""
        assert self.reader is not None, "spans are the reader's"
        inquiry = Inquiry(query, lookup.READ_PASSAGES)
        inquiry = lookup.retrieve(inquiry, self.embedder, self.retriever)
        inquiry = ranking.rank(inquiry, self.retriever.keyword_index)
        inquiry = reading.read(inquiry, self.reader, self.embedder, self.sentence_threshold)
        return [(found, decision.features(found, inquiry)) for found in inquiry.spans]

    def _clean(self, question: str | CleanQuestion) -> CleanQuestion:
        if isinstance(question, CleanQuestion):
            return question
        return CleanQuestion.of(question, self.settings.max_question_chars)
