"""Sentence boundaries with exact character offsets, so quotes and citations point at the text."""

from __future__ import annotations

import functools
import importlib.util
import re
from pathlib import Path

_PARAGRAPH = re.compile(r"[^\n]+")


@functools.cache
def _punkt():
    """NLTK's pre-trained English Punkt model, from the copy bundled with llama-index.

    Found by path rather than through llama-index's own helper, which imports all of
    llama-index first (a second of every `factdesk index` start) and downloads what is missing.
    """
    import nltk.data
    from nltk.tokenize.punkt import PunktTokenizer

    llama_index_core = importlib.util.find_spec("llama_index.core")
    folders = llama_index_core.submodule_search_locations if llama_index_core else None
    if folders:
        bundled = str(Path(next(iter(folders))) / "_static" / "nltk_cache")
        if bundled not in nltk.data.path:
            nltk.data.path.append(bundled)
    return PunktTokenizer("english")


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Spans of the sentences of `text`; a sentence never crosses a paragraph (line) break."""
    tokenizer = _punkt()
    spans: list[tuple[int, int]] = []
    for paragraph in _PARAGRAPH.finditer(text):
        offset = paragraph.start()
        paragraph_spans: list[tuple[int, int]] = []
        for start, end in tokenizer.span_tokenize(paragraph.group()):
            start, end = _strip_span(text, offset + start, offset + end)
            if end <= start:
                continue
            if paragraph_spans and _continues(text[start]):
                paragraph_spans[-1] = (paragraph_spans[-1][0], end)
            else:
                paragraph_spans.append((start, end))
        spans.extend(paragraph_spans)
    return spans


def _continues(first_char: str) -> bool:
    """Punkt splits after a quoted question ('...own?” the source said'); a sentence does not
    start in lower case, so such a piece belongs to the sentence before it."""
    return first_char.islower()


def _strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
