"""Questions asked in a conversation: what to retrieve and read for a follow-up.

"What did he say?" means nothing alone; after "Who is Russia's ambassador in Venezuela?" it asks
what the ambassador said. Without a language model, a follow-up is read with its referent
resolved from the previous question ("What did Russia's ambassador in Venezuela say?"), retrieved
with the earlier turns added at lower weight, and sentences the conversation has already quoted
are passed over when the reader accepts a new one. With a language model, the follow-up is first
condensed into a standalone question (llm.py), as llama-index's condense-question chat engine
does, and read as that.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from factdesk.errors import QuestionError
from factdesk.search.keyword import terms

# Earlier turns used, most recent first: older ones rarely hold what "he" or "it" refers to.
MAX_TURNS = 3
# Weight, in the retrieval vector, of the previous turn relative to the question (1.0); each
# older turn counts half as much again. A follow-up that names its own subject still leans on the
# conversation, but less: its own words should decide.
FOLLOW_UP_WEIGHT = 0.6
SELF_CONTAINED_WEIGHT = 0.2
DECAY = 0.5
# A follow-up with fewer content words than this (after "who", "what", stop words) is elliptical
# ("When?", "And now?", "Contracts for what?") and is read together with the previous question.
MIN_OWN_TERMS = 2
# Among the sentences the reader accepts, one the conversation already quoted counts this much
# less: only a tie-breaker, as follow-ups often ask for a detail of the last quote ("When?").
GIVEN_FACTOR = 0.95
# History answers longer than this are cut: a pasted article must not drown the question.
MAX_ANSWER_CHARS = 1000
MAX_HISTORY_TURNS = 20

_PERSON_PRONOUN = re.compile(r"\b(he|she|him|her|his|hers)\b", re.I)
_THING_PRONOUN = re.compile(r"\b(it|its|they|them|their)\b", re.I)
_DEMONSTRATIVE = re.compile(r"\b(that|this|those|these|there|else|such)\b", re.I)
_CONTINUATION = re.compile(r"^(and|but|so|also|then|what about|how about)\b", re.I)
# Words that ask rather than say what about: "According to whom?" has no content of its own.
_QUESTION_WORDS = "who whom whose what when where which why how else exactly about according now"
# "Who is X?", "What was X?": X is what "he" or "it" in the next question stands for.
_IDENTITY = re.compile(r"^(?:who|what)(?:'s|\s+is|\s+was|\s+are|\s+were)\s+(?P<x>.+?)\W*$", re.I)
# "Who denied the reports?": the person who denied the reports.
_WHO_DID = re.compile(r"^who\s+(?P<rest>.+?)\W*$", re.I)
# "Which newspaper reported the withdrawal?": the newspaper that reported the withdrawal.
_WHICH = re.compile(r"^which\s+(?P<rest>.+?)\W*$", re.I)
_AUXILIARIES = {
    *("is", "are", "was", "were", "has", "have", "had", "do", "does", "did"),
    *("will", "would", "can", "could", "should", "may", "might"),
}
_MARKERS = re.compile(r"\s*\[\d+\]")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Turn:
    """One earlier exchange: what was asked and what factdesk (or the LLM) answered."""

    question: str
    answer: str = ""


@dataclass(frozen=True)
class Query:
    """What to retrieve and read for a question, given the conversation it was asked in.

    `question` is the question as asked (cleaned); `standalone` is what it asks on its own,
    what is embedded to judge sentences and what the reader reads; `own` is the follow-up
    itself with its pronoun resolved (see `asked`); `context` holds earlier turns, most recent
    first, with their weights in the retrieval vector; `given` holds what the conversation
    already quoted (normalised), which the answer prefers not to repeat.
    """

    question: str
    standalone: str
    context: tuple[tuple[str, float], ...] = ()
    given: str = ""
    search_extra: str = ""
    own: str = ""

    @classmethod
    def alone(cls, question: str) -> Query:
        return cls(question, question)

    @property
    def asked(self) -> str:
        """What this question itself asks, its pronoun resolved but without the previous
        question a short follow-up is read with: the words and the kind of answer (a number,
        a date) the quoted sentence should hold."""
        return self.own or self.standalone

    @property
    def search(self) -> str:
        """What keyword retrieval searches: BM25 cannot weight terms, so only the question and,
        for an elliptical follow-up, the previous question's words."""
        return f"{self.standalone} {self.search_extra}".strip()

    def weight(self, sentence: str) -> float:
        """How much the answer wants this sentence, relative to a new one."""
        quoted = self.given and _normalise(sentence) in self.given
        return GIVEN_FACTOR if quoted else 1.0


Condense = Callable[[str, Sequence[Turn]], str | None]


def build_query(question: str, history: Sequence[Turn], condense: Condense | None = None) -> Query:
    """What to retrieve and read for `question` after `history` (oldest turn first).

    `condense` (an LLM's condense step) turns a follow-up into a standalone question; when it is
    missing or fails (returns None), the follow-up is resolved without a language model.
    """
    recent = list(history)[-MAX_TURNS:]
    if not recent:
        return Query.alone(question)
    given = "\n".join(_normalise(turn.answer) for turn in recent)
    condensed = condense(question, recent) if condense else None
    if condensed:
        return Query(question, condensed, given=given)
    dependent = depends_on_history(question)
    first = FOLLOW_UP_WEIGHT if dependent else SELF_CONTAINED_WEIGHT
    context = tuple(
        (_turn_text(turn), first * DECAY**age) for age, turn in enumerate(reversed(recent))
    )
    previous = standalone_history(recent)[-1]
    own = substitute(question, previous) if dependent else question
    standalone = _standing_alone(question, own, previous) if dependent else question
    extra = previous if dependent else ""
    return Query(question, standalone, context, given, extra, own)


def standalone_history(turns: Sequence[Turn]) -> list[str]:
    """Each earlier question as it was read: resolved against the one before it, in order, so
    that "What is his name?" after "How did he describe them?" still knows who "he" is."""
    readings: list[str] = []
    for turn in turns:
        if readings and depends_on_history(turn.question):
            readings.append(resolve(turn.question, readings[-1]))
        else:
            readings.append(turn.question)
    return readings


def depends_on_history(question: str) -> bool:
    """Whether a question leans on what came before: a pronoun, a continuation ("And now?") or
    too few words of its own to be asked alone ("When?", "Contracts for what?")."""
    text = question.strip()
    return bool(
        _PERSON_PRONOUN.search(text)
        or _THING_PRONOUN.search(text)
        or _DEMONSTRATIVE.search(text)
        or _CONTINUATION.match(text)
        or len(_own_terms(text)) < MIN_OWN_TERMS
    )


def resolve(question: str, previous: str) -> str:
    """The follow-up with its pronoun replaced by what the previous question was about, and, if
    it is still too short to stand alone, the previous question after it."""
    return _standing_alone(question, substitute(question, previous), previous)


def _standing_alone(question: str, substituted: str, previous: str) -> str:
    """The substituted follow-up, with the previous question after it if it is still too short
    to stand alone."""
    if substituted == question or len(_own_terms(substituted)) < MIN_OWN_TERMS:
        return f"{substituted.rstrip()} ({previous.strip()})"
    return substituted


def substitute(question: str, previous: str) -> str:
    """The follow-up with its pronoun replaced by what the previous question was about."""
    referent = referent_of(previous)
    if not referent:
        return question
    pattern = _PERSON_PRONOUN if referent.person else _THING_PRONOUN
    return pattern.sub(lambda m: _substitute(m.group(0), referent.text), question, 1)


@dataclass(frozen=True)
class Referent:
    """What a previous question was about, and whether it is a person ("he") or not ("it")."""

    text: str
    person: bool


def referent_of(question: str) -> Referent | None:
    """The subject of an identity or "which" question, in words that can replace a pronoun."""
    text = question.strip()
    if match := _IDENTITY.match(text):
        return Referent(_lower_article(match["x"]), text.lower().startswith("who"))
    if match := _WHO_DID.match(text):
        return Referent(f"the person who {match['rest']}", True)
    if match := _WHICH.match(text):
        words = match["rest"].split()
        split = next((i for i, w in enumerate(words) if w.lower() in _AUXILIARIES), 1)
        split = max(1, min(split, 2))
        noun, rest = " ".join(words[:split]), " ".join(words[split:])
        return Referent(f"the {noun} that {rest}".strip(), False)
    return None


def _substitute(pronoun: str, referent: str) -> str:
    possessive = pronoun.lower() in {"his", "hers", "its", "their"}
    return f"{referent}'s" if possessive else referent


def _lower_article(text: str) -> str:
    return re.sub(r"^(The|A|An)\b", lambda m: m.group(0).lower(), text)


def _own_terms(question: str) -> list[str]:
    return [t for t in terms(question) if t not in _question_terms()]


@functools.cache
def _question_terms() -> frozenset[str]:
    return frozenset(terms(_QUESTION_WORDS))


def _turn_text(turn: Turn) -> str:
    return f"{turn.question} {clean_answer(turn.answer)}".strip()


def clean_answer(answer: str) -> str:
    """An earlier answer as context: citation markers removed, cut to MAX_ANSWER_CHARS."""
    text = _SPACE.sub(" ", _MARKERS.sub("", answer or "")).strip()
    return text[:MAX_ANSWER_CHARS]


def _normalise(text: str) -> str:
    return _SPACE.sub(" ", _MARKERS.sub("", text)).strip().casefold()


def parse_history(value: object) -> list[Turn]:
    """History as JSON gives it: a list of {"question": str, "answer": str} objects."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise QuestionError('"history" must be a list of {"question", "answer"} objects.')
    turns = []
    for number, item in enumerate(value[-MAX_HISTORY_TURNS:], 1):
        if not isinstance(item, dict) or not isinstance(item.get("question"), str):
            raise QuestionError(f'History turn {number} needs a "question" string.')
        answer = item.get("answer", "")
        if not isinstance(answer, str):
            raise QuestionError(f'History turn {number}: "answer" must be a string.')
        turns.append(Turn(item["question"], answer))
    return turns


def parse_request(line: str) -> tuple[str, list[Turn]]:
    """One line of `factdesk ask --json -`: plain text is a question alone; a JSON object is
    {"question": str, "history": [{"question": str, "answer": str}, ...]}."""
    text = line.strip()
    if not text.startswith("{"):
        return text, []
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        message = f"The line is not valid JSON ({exc.msg}, column {exc.colno})."
        raise QuestionError(message) from None
    except RecursionError:  # `[` a hundred thousand times: no question is nested like that
        raise QuestionError("The line's JSON is nested too deeply to read.") from None
    if not isinstance(record, dict) or not isinstance(record.get("question"), str):
        raise QuestionError('A JSON line needs a "question" string.')
    return record["question"], parse_history(record.get("history"))


@dataclass
class Session:
    """A conversation kept in memory (`factdesk chat`): its turns, and a way to start over."""

    turns: list[Turn] = field(default_factory=list)

    def add(self, question: str, answer: str) -> None:
        self.turns.append(Turn(question, answer))
        del self.turns[:-MAX_HISTORY_TURNS]

    def clear(self) -> None:
        self.turns.clear()
