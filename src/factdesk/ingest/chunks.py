"""Cutting articles into passages sized for the embedding model, at sentence boundaries.

all-MiniLM-L6-v2 reads at most 256 word pieces and silently drops the rest, so a passage (with
the article title carried in front of it) never exceeds the configured token budget. Passages
overlap by whole sentences so an answer that straddles a boundary is still found whole.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from factdesk.ingest.documents import Article
from factdesk.ingest.sentences import split_sentences
from factdesk.search.passages import Chunk

CountTokens = Callable[[Sequence[str]], list[int]]
TokenSpans = Callable[[str], list[tuple[int, int]]]


@dataclass(frozen=True)
class _Piece:
    start: int
    end: int
    tokens: int


def chunk_article(
    article: Article,
    count_tokens: CountTokens,
    token_spans: TokenSpans,
    max_tokens: int,
    overlap_tokens: int,
) -> list[Chunk]:
    """Split an article into overlapping passages of at most `max_tokens` word pieces."""
    title_in_text = article.has_own_title
    budget = max_tokens - (count_tokens([article.title])[0] if title_in_text else 0)
    if budget < max_tokens // 2:  # an absurdly long title would crowd out the passage
        budget, title_in_text = max_tokens, False
    pieces = _sentence_pieces(article.text, count_tokens, token_spans, budget)
    spans = _distinct(article.text, _pack(pieces, budget, overlap_tokens))
    content_hash = article.content_hash
    doc_key = hashlib.sha1(article.doc_id.encode("utf-8")).hexdigest()[:16]
    return [
        Chunk(
            id=f"{doc_key}-{content_hash[:16]}-{position:05d}",
            doc_id=article.doc_id,
            source=article.source,
            title=article.title,
            title_in_text=title_in_text,
            url=article.url,
            text=article.text[start:end],
            start=start,
            end=end,
            position=position,
            content_hash=content_hash,
            chunk_count=len(spans),
            published=article.published,
            sentences=tuple(
                (piece.start - start, piece.end - start)
                for piece in pieces
                if start <= piece.start and piece.end <= end
            ),
        )
        for position, (start, end) in enumerate(spans)
    ]


def _sentence_pieces(
    text: str, count_tokens: CountTokens, token_spans: TokenSpans, budget: int
) -> list[_Piece]:
    """Sentences with their token counts; a sentence longer than the budget is cut in windows."""
    sentences = split_sentences(text)
    counts = count_tokens([text[start:end] for start, end in sentences])
    pieces: list[_Piece] = []
    for (start, end), tokens in zip(sentences, counts, strict=True):
        if tokens <= budget:
            pieces.append(_Piece(start, end, tokens))
        else:
            pieces.extend(_windows(text, start, end, token_spans, budget))
    return pieces


def _windows(text: str, start: int, end: int, token_spans: TokenSpans, budget: int) -> list[_Piece]:
    spans = token_spans(text[start:end])
    return [
        _Piece(start + window[0][0], start + window[-1][1], len(window))
        for window in (spans[i : i + budget] for i in range(0, len(spans), budget))
    ]


def _pack(pieces: list[_Piece], budget: int, overlap_tokens: int) -> list[tuple[int, int]]:
    """Greedily fill passages with whole pieces, then step back over up to `overlap_tokens`."""
    spans: list[tuple[int, int]] = []
    first = 0
    while first < len(pieces):
        last, used = first, 0
        while last < len(pieces) and used + pieces[last].tokens <= budget:
            used += pieces[last].tokens
            last += 1
        last = max(last, first + 1)
        spans.append((pieces[first].start, pieces[last - 1].end))
        if last == len(pieces):
            break
        first = _overlap_start(pieces, first, last, overlap_tokens)
    return spans


def _distinct(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The spans with a text of their own: a passage repeated in one article (a paragraph
    pasted three hundred times) is stored once, where it first appears, so that its copies
    cannot fill every place in a search."""
    seen: set[str] = set()
    distinct = []
    for start, end in spans:
        passage = text[start:end]
        if passage not in seen:
            seen.add(passage)
            distinct.append((start, end))
    return distinct


def _overlap_start(pieces: list[_Piece], first: int, last: int, overlap_tokens: int) -> int:
    start, carried = last, 0
    while start - 1 > first and carried + pieces[start - 1].tokens <= overlap_tokens:
        start -= 1
        carried += pieces[start].tokens
    return start
