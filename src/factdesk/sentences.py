"""Sentence boundaries with exact character offsets, so quotes and citations point at the text."""

from __future__ import annotations

import functools
import re

_PARAGRAPH = re.compile(r"[^\n]+")


@functools.cache
def _punkt():
    """NLTK's pre-trained English Punkt model, from the copy bundled with llama-index (offline)."""
    from llama_index.core.utils import globals_helper

    globals_helper.wait_for_nltk_check()
    from nltk.tokenize.punkt import PunktTokenizer

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
