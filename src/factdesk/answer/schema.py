"""The JSON shape of an answer: what `factdesk ask --json` prints, what the HTTP API and the MCP
tools return. Every field is described once, here; the README's table of fields and the API's
OpenAPI schema are generated from these descriptions.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from factdesk.answer.answers import Answer, Citation, ShortAnswer


class CitationJSON(BaseModel):
    """A quoted passage: the sentence quoted and the passage around it, at its exact place in
    its article."""

    n: int = Field(description="The number the answer's markers refer to: `[1]` is `n` 1.")
    quote: str = Field(description="The sentence or sentences quoted, verbatim.")
    passage: str = Field(description="The indexed passage the quote was found in.")
    source: str = Field(description="The article: its file path or URL, as it was indexed.")
    title: str = Field(description="The article's title.")
    url: str | None = Field(description="The article's (canonical) URL; null for a file.")
    start: int = Field(description="Where the quote starts in the article's cleaned text.")
    end: int = Field(description="Where the quote ends in the article's cleaned text.")
    score: float = Field(
        description="How well the quote answers: the reader's confidence, or the sentence's "
        "cosine to the question (related passages of a decline)."
    )
    published: str | None = Field(
        default=None, description="The article's publication date (ISO 8601), when known."
    )

    @classmethod
    def of(cls, citation: Citation) -> CitationJSON:
        return cls(
            n=citation.n,
            quote=citation.quote,
            passage=citation.passage,
            source=citation.source,
            title=citation.title,
            url=citation.url,
            start=citation.start,
            end=citation.end,
            score=citation.score,
            published=citation.published,
        )


class ShortAnswerJSON(BaseModel):
    """The reader's short answer: its exact characters in the article of the first citation."""

    text: str = Field(description="The answer's words, as the article has them.")
    start: int = Field(description="Where they start in the article's cleaned text.")
    end: int = Field(description="Where they end in the article's cleaned text.")

    @classmethod
    def of(cls, short: ShortAnswer) -> ShortAnswerJSON:
        return cls(text=short.text, start=short.start, end=short.end)


class AnswerJSON(BaseModel):
    """factdesk's answer to a question, with its citations; or, when the indexed articles do not
    say, a decline with related passages."""

    question: str = Field(
        description="The question as asked (spaces and control characters tidied)."
    )
    standalone_question: str | None = Field(
        description='The question as its conversation read it ("What did he say?" read as '
        '"What did Russia\'s ambassador in Venezuela say?"); null when read as asked.'
    )
    answered: bool = Field(
        description="Whether the articles answer it; false: a decline, its citations (if any) "
        "related reading rather than an answer."
    )
    answer: str = Field(
        description="The answer as text, with citation markers `[n]`: the short answer and the "
        "sentence quoted, an LLM's checked answer, or the decline."
    )
    mode: Literal["extractive", "llm"] = Field(
        description="`extractive`: quoted from the articles; `llm`: an LLM's answer that passed "
        "the citation check."
    )
    llm_withheld: str | None = Field(
        description="Why an LLM's answer was not shown (`uncited`, `timeout`, `declined`...); "
        "null when none was asked for or it was shown."
    )
    short_answer: ShortAnswerJSON | None = Field(
        description="The reader's short answer (`text`, `start`, `end`: offsets in the article); "
        "null for a decline, an LLM's answer, a question asking for yes or no, or without the "
        "reader."
    )
    confidence: float = Field(
        description="Calibrated confidence in the answer, 0 to 1; below FACTDESK_MIN_CONFIDENCE "
        "factdesk declines."
    )
    reader: str | None = Field(description="The span reader's version; null without a reader.")
    citations: list[CitationJSON] = Field(
        description="The passages cited, numbered as the answer's markers; for a decline, "
        "related passages, most related first."
    )

    @classmethod
    def of(cls, answer: Answer) -> AnswerJSON:
        short = answer.short_answer
        return cls(
            question=answer.question,
            standalone_question=answer.standalone,
            answered=answer.answered,
            answer=answer.answer,
            mode="llm" if answer.mode == "llm" else "extractive",
            llm_withheld=answer.withheld,
            short_answer=ShortAnswerJSON.of(short) if short else None,
            confidence=answer.confidence,
            reader=answer.reader,
            citations=[CitationJSON.of(citation) for citation in answer.citations],
        )


def answer_json(answer: Answer) -> dict:
    """The answer as `factdesk ask --json` prints it (warnings go to stderr, not here)."""
    return AnswerJSON.of(answer).model_dump(mode="json")
