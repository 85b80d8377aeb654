"""A question as factdesk reads it: control characters out, spaces tidied, an empty one refused
and an over-long one cut, with a warning that says so."""

from __future__ import annotations

import re
from dataclasses import dataclass

from factdesk.errors import QuestionError

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class CleanQuestion:
    """A question as `clean_question` left it, so that nothing downstream cleans it again."""

    text: str
    warnings: tuple[str, ...] = ()

    @classmethod
    def of(cls, question: str, max_chars: int) -> CleanQuestion:
        text, warnings = clean_question(question, max_chars)
        return cls(text, tuple(warnings))


def clean_question(question: str, max_chars: int) -> tuple[str, list[str]]:
    """Normalise a question; empty ones are refused and over-long ones cut, with a warning."""
    text = _CONTROL.sub(" ", question or "")
    text = " ".join(text.split())
    if not text:
        raise QuestionError('The question is empty. Ask something like "How many advisers remain?"')
    warnings = []
    if len(text) > max_chars:
        text = text[:max_chars].rsplit(" ", 1)[0] or text[:max_chars]
        warnings.append(f"The question was longer than {max_chars:,} characters and was cut.")
    return text, warnings
