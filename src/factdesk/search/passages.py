"""Passages: what the index stores and both roads read, with their exact place in an article.

Articles in (ingest/chunks.py) cut them; search stores and retrieves them; answers quote them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Bump when a change to sentence splitting or packing moves passage boundaries: indexes built
# by another version are refused until rebuilt, since their offsets would not line up.
CHUNKER_VERSION = 2


@dataclass(frozen=True)
class Chunk:
    """A passage of an article; `start`/`end` are offsets into the article's cleaned text."""

    id: str
    doc_id: str
    source: str
    title: str
    url: str | None
    text: str
    start: int
    end: int
    position: int
    content_hash: str
    chunk_count: int
    title_in_text: bool = True
    published: str | None = None  # the article's publication date, ISO 8601
    # The passage's sentences (spans within `text`) and their unit vectors (read within the
    # passage), computed at index time so the answer step neither splits nor embeds them per
    # question (close calls aside: answers.CONFIRM).
    sentences: tuple[tuple[int, int], ...] = ()
    sentence_vectors: Any = field(default=None, compare=False, repr=False)

    def excerpt(self, start: int, end: int) -> str:
        """The text between two offsets into the article, which must fall inside this chunk."""
        return self.text[start - self.start : end - self.start]

    @property
    def embedding_text(self) -> str:
        """What the model and BM25 read: the article's own title (not a file name), the passage."""
        return f"{self.title}\n\n{self.text}" if self.title_in_text else self.text
