"""Answers and passages as text, for the doors whose clients show text: a chat front end (the
reply of /v1/chat/completions) and an MCP client (a tool result's text, beside its structured
content). Markdown that reads as plain text too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from factdesk.answer.answers import Answer, Citation
    from factdesk.search.retrieval import Hit

SOURCES = "**Sources**"


def answer_text(answer: Answer) -> str:
    """The answer in its first paragraph, then its citations, one a line, numbered as the
    answer's markers. A decline's answer already ends "Related passages:", before its list."""
    parts = [answer.answer]
    if answer.citations:
        if answer.answered:
            parts.append(SOURCES)
        parts.append("\n".join(_citation(citation) for citation in answer.citations))
    return "\n\n".join(parts)


def first_paragraph(text: str) -> str:
    """What an earlier reply answered, without its list of sources: read as the history of a
    follow-up, the sources' quotes would count as things already said."""
    return text.strip().partition("\n\n")[0]


def _citation(citation: Citation) -> str:
    article = _article(citation.title, citation.url, citation.source, citation.published)
    return f"- **[{citation.n}]** {article}: “{citation.quote}”"


def passages_text(hits: Sequence[Hit]) -> str:
    """Each passage under its article, numbered from 1, best first."""
    if not hits:
        return "No passage was found."
    return "\n\n".join(
        f"**[{n}]** {_article(h.chunk.title, h.chunk.url, h.chunk.source, h.chunk.published)}"
        f"\n{h.chunk.text}"
        for n, h in enumerate(hits, 1)
    )


def _article(title: str, url: str | None, source: str, published: str | None) -> str:
    where = f"[{title}]({url})" if url else f"{title} ({source})"
    return f"{where}, {published[:10]}" if published else where
