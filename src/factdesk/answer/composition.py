"""Stage 5 of the road, compose: the `Answer`, built once, here.

Quoted from the articles: the reader's short answer in the sentence that holds it, or (without
a reader) the best sentence, each followed by its citation marker, then the other passages that
answer; or, when the decision was to decline, a plain "not found" listing on-topic passages as
related reading. With an LLM (FACTDESK_LLM_URL), the model answers from the passages quoted and
its answer is shown instead when every sentence passes the citation check (grounding.py);
otherwise, or when the model is down or slow, the quoted answer is shown, saying why the
model's was withheld.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from factdesk.answer.answers import NOT_FOUND, Answer, Citation, ShortAnswer

if TYPE_CHECKING:
    from factdesk.answer.conversation import Turn
    from factdesk.answer.grounding import Claim
    from factdesk.answer.inquiry import Decision, Inquiry, Sentence
    from factdesk.answer.llm import LLM, Budget, LLMFailure, OnText
    from factdesk.search.embeddings import Embedder
    from factdesk.search.retrieval import Hit

logger = logging.getLogger("factdesk.answer")

# A declined question lists, as related reading, passages with a sentence at least this similar:
# at 0.4 nearly every question has one in its own article and few in another.
RELATED_COSINE = 0.4
# Failures that mean the endpoint is unusable right now: after one, no second call is tried.
ENDPOINT_DOWN = {"timeout", "unreachable"}


def compose(
    inquiry: Inquiry,
    attempt: LLMAttempt | None = None,
    embedder: Embedder | None = None,
    on_text: OnText | None = None,
) -> Answer:
    """The answer to show: quoted, or the LLM's when `attempt` is given and its answer passes
    the check (`embedder` reads the claims); `on_text` hears its checked sentences as they
    stream."""
    decision = inquiry.decision
    assert decision is not None, "decide first"
    quoted = quoted_answer(decision, inquiry)
    answered, text, citations = quoted.answered, quoted.text, quoted.citations
    mode, withheld = "extractive", None
    if attempt is not None:
        assert embedder is not None, "the LLM's answer is checked with the embedder"
        written = attempt.write(quoted, inquiry.query.standalone, embedder, on_text)
        if written.text is not None:
            answered, text, citations, mode = True, written.text, written.citations, "llm"
        withheld = written.withheld
    query = inquiry.query
    return Answer(
        question=query.question,
        answered=answered,
        answer=text,
        citations=citations,
        warnings=list(inquiry.warnings),
        confidence=decision.confidence,
        reader=inquiry.reader_version,
        mode=mode,
        withheld=withheld,
        standalone=query.standalone if query.standalone != query.question else None,
        short_answer=quoted.short_answer,
    )


@dataclass(frozen=True)
class Quoted:
    """The answer quoted from the articles (or the decline): what the LLM is measured against."""

    answered: bool
    text: str
    citations: list[Citation]
    short_answer: ShortAnswer | None = None


def quoted_answer(decision: Decision, inquiry: Inquiry) -> Quoted:
    """The answer quoted from the articles, or the decline with its related passages."""
    if not decision.answered:
        return _decline(decision.candidates, inquiry.cited)
    if decision.spans:
        quoted = decision.spans[0]
        citations = [quoted.citation(1)]
        for other in decision.spans[1:]:
            citation = other.citation(len(citations) + 1)
            # Passages overlap: a sentence two of them hold is cited once.
            if len(citations) < inquiry.top_k and not any(_overlap(c, citation) for c in citations):
                citations.append(citation)
        short = quoted.short_answer
        return Quoted(True, f"{short.text}: “{citations[0].quote}” [1]", citations, short)
    first, *neighbour = sorted(decision.sentences, key=lambda s: s.start)
    citation = first.citation(1, *neighbour)
    cited = {decision.sentences[0].hit.chunk.id}
    others = _other_citations(decision.candidates, inquiry.cited, cited)
    return Quoted(True, f"{citation.quote} [1]", [citation, *others])


def _decline(candidates: tuple[Sentence, ...], hits: tuple[Hit, ...]) -> Quoted:
    """Say plainly that the articles do not hold the answer; list on-topic passages, if any,
    as related reading rather than as an answer."""
    related = tuple(c for c in candidates if c.cosine >= RELATED_COSINE)
    by_score = sorted(_other_citations(related, hits, set()), key=lambda c: -c.score)
    citations = [replace(c, n=n) for n, c in enumerate(by_score, 1)]
    text = f"{NOT_FOUND} Related passages:" if citations else NOT_FOUND
    return Quoted(False, text, citations)


def _other_citations(
    candidates: tuple[Sentence, ...], hits: tuple[Hit, ...], cited: set[str]
) -> list[Citation]:
    """One citation per retrieved passage not cited yet, by its most likely sentence."""
    citations: list[Citation] = []
    first_number = len(cited) + 1
    for hit in hits:
        if len(cited) + len(citations) >= len(hits) or hit.chunk.id in cited:
            continue
        own = [c for c in candidates if c.hit.chunk.id == hit.chunk.id]
        if own:
            best = max(own, key=lambda c: (c.deciding_cosine, c.score))
            citations.append(best.citation(first_number + len(citations)))
    return citations


def _overlap(a: Citation, b: Citation) -> bool:
    """Whether two citations quote some of the same characters of one article."""
    return a.source == b.source and a.start < b.end and b.start < a.end


class LLMAttempt:
    """One question's use of the LLM: one budget (FACTDESK_LLM_TIMEOUT) across condensing a
    follow-up and answering, and what failed on the way."""

    def __init__(self, llm: LLM) -> None:
        from factdesk.answer.llm import Budget

        self.llm = llm
        self.budget: Budget = Budget.of(llm.timeout)
        self.failures: list[LLMFailure] = []

    def condense(self, question: str, history: Sequence[Turn]) -> str | None:
        """The follow-up as a standalone question; None when the model fails (the follow-up is
        then read without it)."""
        from factdesk.answer.llm import LLMFailure

        try:
            return self.llm.condense(question, history, self.budget)
        except LLMFailure as exc:
            self.failures.append(exc)
            logger.warning("LLM condense step failed (%s): %s", exc.reason, exc)
            return None

    def write(
        self, quoted: Quoted, standalone: str, embedder: Embedder, on_text: OnText | None
    ) -> Written:
        """The model's answer from the passages `quoted` cites, if it passes the check
        (`embedder` reads its claims; `on_text` hears its checked sentences as they stream);
        else why it was withheld."""
        from factdesk.answer import grounding
        from factdesk.answer.llm import LLMFailure, is_refusal

        if self.failures and self.failures[-1].reason in ENDPOINT_DOWN:
            return _withheld(self.failures[-1].reason, str(self.failures[-1]))
        passages = quoted.citations
        if not passages:  # nothing retrieved is even related: nothing to cite
            return Written()
        stream = grounding.CheckedStream(passages, embedder, on_text) if on_text else None
        try:
            text = self.llm.answer(standalone, passages, self.budget, stream)
        except LLMFailure as exc:
            return _withheld(exc.reason, str(exc))
        if is_refusal(text):
            return _withheld("declined", "the model found no answer in the passages")
        verdict = grounding.check(text, passages, embedder)
        if not verdict.ok:
            return _withheld(verdict.reason, verdict.detail)
        return Written(" ".join(text.split()), _requote(passages, verdict.claims))


@dataclass(frozen=True)
class Written:
    """What came of asking the LLM to answer: its checked answer (`text`, and `citations`
    quoting what supports each claim), or why it was `withheld`; neither when it was not asked."""

    text: str | None = None
    citations: list[Citation] = field(default_factory=list)
    withheld: str | None = None


def _withheld(reason: str | None, detail: str) -> Written:
    logger.warning("LLM answer withheld (%s): %s", reason, detail)
    return Written(withheld=reason or "error")


def _requote(citations: Sequence[Citation], claims: Sequence[Claim]) -> list[Citation]:
    """Each cited passage quoted by the sentence that best supports the LLM's claim, at its
    exact place in the article; passages cited by no claim keep their quote."""
    sources = {}
    for claim in claims:
        if claim.source and claim.source[0] not in sources:
            sources[claim.source[0]] = claim.source[1:]
    requoted = []
    for citation in citations:
        offset = citation.passage.find(citation.quote)
        if citation.n not in sources or offset < 0:
            requoted.append(citation)
            continue
        start, end = sources[citation.n]
        base = citation.start - offset
        quote = citation.passage[start:end]
        requoted.append(replace(citation, quote=quote, start=base + start, end=base + end))
    return requoted
