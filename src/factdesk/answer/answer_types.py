"""What kind of thing a question asks for, and whether a sentence holds a new one of it; and
whether it asks for yes or no, which no span of an article says.

The classic answer-type cue of extractive QA: "how many" wants a number, "when" a date, "who" or
"which company" a name. A sentence counts only when it holds one the question does not already
hold: "How many people lived in Kenya in 2009?" is not answered by a sentence whose only number
is 2009.
"""

from __future__ import annotations

import re

_NUMBER_QUESTION = re.compile(
    r"\bhow (many|much|old|far|long|large|big|tall|high|fast|often|deep|wide|heavy)\b"
    r"|\bwhat (number|amount|percentage|percent|proportion|fraction|size|population|age|rank"
    r"|score)\b",
    re.I,
)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_NUMBER_WORD = re.compile(
    r"\b(one|two|three|four|five|six|seven|eight|nine|ten|twelve|twenty|dozens?|hundreds?"
    r"|thousands?|millions?|billions?|few|several|half)\b",
    re.I,
)
_DATE_QUESTION = re.compile(r"\bwhen\b|\bwhat (year|day|month|date|time)\b|\bhow long\b", re.I)
_DATE = re.compile(
    r"\b(1[0-9]|20)\d\d\b|\b\d{1,2}(st|nd|rd|th)? centur|\b(january|february|march|april|may|june"
    r"|july|august|september|october|november|december)\b",
    re.I,
)
_NAME_QUESTION = re.compile(
    r"\bwho(m|se)?\b|\b(what|which) (company|team|city|country|state|organi[sz]ation|band|group"
    r"|school|university|college|song|album|film|movie|book|newspaper|magazine|network|church"
    r"|party|river|island|language|nation|king|president|person|people|man|woman)\b"
    r"|\bname\b|\bnamed\b|\bcalled\b",
    re.I,
)
# "Did the ambassador admit to any cutbacks?", also after a lead-in ("According to the envoy,
# is ...").
_YES_OR_NO = re.compile(
    r"^(?:[^,?]{0,80},\s*)?(?:is|are|was|were|am|do|does|did|has|have|had|can|could|will"
    r"|would|shall|should|may|might|must)(?:n't)?\b",
    re.I,
)
# "Is it A or B?" and "Does it change to what?" ask for a span.
_NOT_YES_OR_NO = re.compile(r"\b(or|what|which|who|whom|whose|when|where|why|how)\b", re.I)
_CAPITALISED = re.compile(r"\b[A-Z][a-zA-Z]+\b")
_WORD = re.compile(r"\w+")


def holds_new_answer(question: str, sentence: str) -> bool:
    """Whether the sentence holds a number, date or name of the kind the question asks for, and
    one the question does not already hold (a name must not be just the sentence's first word,
    which is capitalised anyway)."""
    return (
        _new_number(question, sentence)
        or _new_date(question, sentence)
        or _new_name(question, sentence)
    )


def asks_yes_or_no(question: str) -> bool:
    """Whether the question asks for yes or no rather than for a thing the article names."""
    return bool(_YES_OR_NO.match(question.strip())) and not _NOT_YES_OR_NO.search(question)


def _new_number(question: str, sentence: str) -> bool:
    if not _NUMBER_QUESTION.search(question):
        return False
    new = set(_NUMBER.findall(sentence)) - set(_NUMBER.findall(question))
    return bool(new or _NUMBER_WORD.search(sentence))


def _new_date(question: str, sentence: str) -> bool:
    if not _DATE_QUESTION.search(question):
        return False
    asked = {m.group(0).lower() for m in _DATE.finditer(question)}
    return any(m.group(0).lower() not in asked for m in _DATE.finditer(sentence))


def _new_name(question: str, sentence: str) -> bool:
    if not _NAME_QUESTION.search(question):
        return False
    words = _WORD.findall(sentence)
    asked = {w.lower() for w in _WORD.findall(question)}
    return any(
        name.lower() not in asked and name != words[0] for name in _CAPITALISED.findall(sentence)
    )
