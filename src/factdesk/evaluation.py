"""Measuring answers against questions with known evidence: `factdesk eval`.

A change to chunking, fusion or the decline threshold can quietly make answers worse. This runs a
question file through the real answerer and reports figures a team can gate changes on: how often
a cited passage holds the evidence (hit@k, MRR), how often the answer itself quotes it, and how
often factdesk declines what it cannot answer, and what it can.
"""

from __future__ import annotations

import json
import re
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from factdesk.answers import Answer, Answerer
from factdesk.conversation import Turn
from factdesk.errors import QuestionFileError
from factdesk.metrics import hit_at_k, mrr_at_k
from factdesk.squad import SquadQuestion, SquadSet, exact_match, f1_score, squad_normalise

# The project's own question file, wherever `factdesk eval` is run from (in a source checkout).
DEFAULT_QUESTIONS = Path(__file__).resolve().parents[2] / "tests" / "seed_questions.jsonl"
HIT_DEPTHS = (1, 3, 5)
# Every figure a report holds, with the name people read; the keys are also the JSON keys.
FIGURES = {
    "questions": "Questions",
    "answerable": "Answerable",
    "unanswerable": "Unanswerable",
    "hit@1": "Evidence in passage [1]",
    "hit@3": "Evidence in passages [1]-[3]",
    "hit@5": "Evidence in passages [1]-[5]",
    "mrr": "Mean reciprocal rank",
    "answer_has_evidence": "Answer quotes the evidence",
    "declined_unanswerable": "Declined when unanswerable",
    "wrongly_declined": "Declined when answerable",
    "latency_median_ms": "Latency, median (ms)",
    "latency_p95_ms": "Latency, p95 (ms)",
}
_MAX_PROBLEMS_SHOWN = 10
_QUOTES = str.maketrans(
    {
        "‘": "'",
        "’": "'",
        "‚": "'",
        "‛": "'",
        "′": "'",
        "“": '"',
        "”": '"',
        "„": '"',
        "‟": '"',
        "″": '"',
    }
)

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Question:
    """One line of a question file; one without evidence must be declined."""

    line: int
    text: str
    evidence: tuple[str, ...] = ()

    @property
    def answerable(self) -> bool:
        return bool(self.evidence)


def load_questions(path: Path) -> list[Question]:
    """Read a JSONL question file, reporting every malformed line at once with its number."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise QuestionFileError(f"No such question file: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise QuestionFileError(f"Cannot read the question file {path}: {exc}") from None
    questions, problems = [], []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            questions.append(parse_question(line, number))
        except ValueError as exc:
            problems.append(f"line {number}: {exc}")
    if problems:
        raise QuestionFileError(_problems_message(path, problems))
    if not questions:
        raise QuestionFileError(f"The question file {path} holds no questions.")
    return questions


def parse_question(line: str, number: int) -> Question:
    """`{"question": str, "evidence": [str, ...]}` or `{"question": str, "answerable": false}`."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc.msg}, column {exc.colno})") from None
    if not isinstance(record, dict):
        raise ValueError("expected a JSON object")
    text = record.get("question")
    if not isinstance(text, str) or not text.strip():
        raise ValueError('"question" must be a non-empty string')
    answerable = record.get("answerable", True)
    if not isinstance(answerable, bool):
        raise ValueError('"answerable" must be true or false')
    evidence = record.get("evidence")
    if not answerable:
        if evidence:
            raise ValueError('a question with "answerable": false cannot have "evidence"')
        return Question(number, text)
    if not isinstance(evidence, list) or not evidence:
        raise ValueError('needs "evidence": a list of strings (or "answerable": false)')
    if not all(isinstance(item, str) and item.strip() for item in evidence):
        raise ValueError('every "evidence" item must be a non-empty string')
    return Question(number, text, tuple(evidence))


def _problems_message(path: Path, problems: list[str]) -> str:
    shown = problems[:_MAX_PROBLEMS_SHOWN]
    more = len(problems) - len(shown)
    lines = [f"The question file {path} has {len(problems)} malformed line(s):", *shown]
    if more:
        lines.append(f"... and {more} more")
    return "\n  ".join(lines)


def normalise_text(text: str) -> str:
    """Text as a reader compares it: whitespace, curly or straight quotes and case do not count."""
    return " ".join(text.translate(_QUOTES).split()).casefold()


def holds_evidence(text: str, evidence: Sequence[str]) -> bool:
    normalised = normalise_text(text)
    return any(normalise_text(item) in normalised for item in evidence)


@dataclass(frozen=True)
class Outcome:
    """What factdesk did with one question, and how long it took."""

    question: Question
    answer: Answer
    seconds: float

    @property
    def ranking(self) -> list[int]:
        return [citation.n for citation in self.answer.citations]

    @property
    def relevant(self) -> dict[int, int]:
        """The citations whose passage holds the evidence, as judgements for the metrics."""
        return {
            citation.n: 1
            for citation in self.answer.citations
            if holds_evidence(citation.passage, self.question.evidence)
        }

    @property
    def correct(self) -> bool:
        """Evidence in a cited passage, or, for an unanswerable question, a plain decline."""
        if self.question.answerable:
            return bool(self.relevant)
        return not self.answer.answered


@dataclass(frozen=True)
class Report:
    """The outcome of every question of a file, and the figures they add up to."""

    source: str
    top_k: int
    outcomes: list[Outcome]

    @property
    def misses(self) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if not outcome.correct]

    def figures(self) -> dict[str, float | int | None]:
        """Rates over the questions they concern; None when a file has no such questions."""
        answerable = [o for o in self.outcomes if o.question.answerable]
        unanswerable = [o for o in self.outcomes if not o.question.answerable]
        figures: dict[str, float | int | None] = {
            "questions": len(self.outcomes),
            "answerable": len(answerable),
            "unanswerable": len(unanswerable),
        }
        for k in HIT_DEPTHS:
            measurable = k <= self.top_k  # fewer citations than k cannot show a hit at k
            values = [hit_at_k(o.ranking, o.relevant, k) for o in answerable]
            figures[f"hit@{k}"] = _mean(values) if measurable else None
        figures["mrr"] = _mean([mrr_at_k(o.ranking, o.relevant, self.top_k) for o in answerable])
        figures["answer_has_evidence"] = _mean(
            [
                o.answer.answered and holds_evidence(o.answer.answer, o.question.evidence)
                for o in answerable
            ]
        )
        figures["declined_unanswerable"] = _mean([not o.answer.answered for o in unanswerable])
        figures["wrongly_declined"] = _mean([not o.answer.answered for o in answerable])
        figures |= latency_figures([o.seconds for o in self.outcomes])
        return figures

    def to_dict(self) -> dict:
        """The JSON of `factdesk eval --json`: settings, figures and every miss."""
        return {
            "questions_file": self.source,
            "top_k": self.top_k,
            "figures": self.figures(),
            "misses": [_miss(outcome) for outcome in self.misses],
        }


def latency_figures(seconds: Sequence[float]) -> dict[str, float | int | None]:
    """Median and 95th percentile, in milliseconds."""
    milliseconds = [s * 1000 for s in seconds]
    return {
        "latency_median_ms": round(statistics.median(milliseconds), 1),
        "latency_p95_ms": round(float(np.percentile(milliseconds, 95)), 1),
    }


def _mean(values: Sequence[float | bool]) -> float | None:
    return round(statistics.fmean(values), 4) if values else None


def _miss(outcome: Outcome) -> dict:
    return {
        "line": outcome.question.line,
        "question": outcome.question.text,
        "evidence": list(outcome.question.evidence),
        "answerable": outcome.question.answerable,
        "answered": outcome.answer.answered,
        "answer": outcome.answer.answer,
        "cited": [
            {"n": c.n, "quote": c.quote, "source": c.source, "start": c.start, "end": c.end}
            for c in outcome.answer.citations
        ],
    }


def evaluate(
    answerer: Answerer,
    questions: Sequence[Question],
    top_k: int,
    source: str = "",
    progress: Progress | None = None,
) -> Report:
    """Ask every question once, timing each; one untimed warm-up keeps start-up costs out."""
    answerer.answer(questions[0].text, top_k)
    outcomes = []
    for done, question in enumerate(questions):
        if progress:
            progress(done, len(questions))
        started = time.perf_counter()
        answer = answerer.answer(question.text, top_k)
        outcomes.append(Outcome(question, answer, time.perf_counter() - started))
    if progress:
        progress(len(questions), len(questions))
    return Report(source, top_k, outcomes)


def failed_gates(
    figures: dict[str, float | int | None],
    minimums: dict[str, float | None],
    maximums: dict[str, float | None],
) -> list[str]:
    """One line per threshold a figure misses, naming it; a threshold of None is not set."""
    checks = [(name, limit, "minimum") for name, limit in minimums.items()]
    checks += [(name, limit, "maximum") for name, limit in maximums.items()]
    failures = []
    for name, limit, bound in checks:
        value = figures.get(name)
        if limit is None:
            continue
        if value is None:
            failures.append(
                f"{name} was not measured (no questions of that kind); {bound} {limit:g}"
            )
        elif value < limit if bound == "minimum" else value > limit:
            side = "below" if bound == "minimum" else "above"
            failures.append(f"{name} is {value:.3f}, {side} the {bound} {limit:g}")
    return failures


# -- SQuAD: any SQuAD v1.1 or v2.0 file, end to end ------------------------------------------

SQUAD_FIGURES = {
    "questions": "Questions",
    "answerable": "Answerable",
    "unanswerable": "Unanswerable",
    "hit@1": "Passage [1] is the question's paragraph",
    "span": "Answered with a gold answer in the text",
    "short_exact_match": "Short answer: exact match",
    "short_f1": "Short answer: F1",
    "declined_unanswerable": "Declined when unanswerable",
    "wrongly_declined": "Declined when answerable",
    "correct": "Correct decisions (span, or declined)",
    "balanced_correct": "Correct decisions, both kinds weighted equally",
    "latency_median_ms": "Latency, median (ms)",
    "latency_p95_ms": "Latency, p95 (ms)",
}
@dataclass(frozen=True)
class SquadOutcome:
    """What factdesk did with one SQuAD question."""

    question: SquadQuestion
    answer: Answer
    seconds: float

    @property
    def first_passage_is_its_paragraph(self) -> bool:
        citations = self.answer.citations
        return bool(citations) and citations[0].source == self.question.paragraph.doc_id

    @property
    def quotes_an_answer(self) -> bool:
        """The answer text holds one of the gold answers (whatever the decision threshold)."""
        text = squad_normalise(self.answer.answer)
        return any(f" {squad_normalise(a)} " in f" {text} " for a in self.question.answers)

    @property
    def short_answer(self) -> str:
        short = self.answer.short_answer
        return short.text if short and self.answer.answered else ""

    @property
    def short_exact_match(self) -> float:
        return exact_match(self.short_answer, self.question.answers)

    @property
    def short_f1(self) -> float:
        return f1_score(self.short_answer, self.question.answers)

    @property
    def correct(self) -> bool:
        if self.question.answerable:
            return self.answer.answered and self.quotes_an_answer
        return not self.answer.answered


@dataclass(frozen=True)
class SquadReport:
    """Every SQuAD question's outcome, and the figures they add up to."""

    source: str
    top_k: int
    outcomes: list[SquadOutcome]

    @property
    def misses(self) -> list[SquadOutcome]:
        return [outcome for outcome in self.outcomes if not outcome.correct]

    def figures(self) -> dict[str, float | int | None]:
        answerable = [o for o in self.outcomes if o.question.answerable]
        unanswerable = [o for o in self.outcomes if not o.question.answerable]
        span = _mean([o.correct for o in answerable])
        declined = _mean([o.correct for o in unanswerable])
        return {
            "questions": len(self.outcomes),
            "answerable": len(answerable),
            "unanswerable": len(unanswerable),
            "hit@1": _mean([o.first_passage_is_its_paragraph for o in answerable]),
            "span": span,
            "short_exact_match": _mean([o.short_exact_match for o in answerable]),
            "short_f1": _mean([o.short_f1 for o in answerable]),
            "declined_unanswerable": declined,
            "wrongly_declined": _mean([not o.answer.answered for o in answerable]),
            "correct": _mean([o.correct for o in self.outcomes]),
            "balanced_correct": (
                round((span + declined) / 2, 4)
                if span is not None and declined is not None
                else None
            ),
        } | latency_figures([o.seconds for o in self.outcomes])

    def to_dict(self) -> dict:
        """The JSON of `factdesk eval --squad --json`: figures and every miss."""
        return {
            "squad_file": self.source,
            "top_k": self.top_k,
            "figures": self.figures(),
            "misses": [_squad_miss(outcome) for outcome in self.misses],
        }


def _squad_miss(outcome: SquadOutcome) -> dict:
    return {
        "id": outcome.question.id,
        "question": outcome.question.text,
        "paragraph": outcome.question.paragraph.doc_id,
        "answers": list(outcome.question.answers),
        "answered": outcome.answer.answered,
        "confidence": outcome.answer.confidence,
        "answer": outcome.answer.answer,
        "cited": [c.source for c in outcome.answer.citations],
    }


def evaluate_squad(
    answerer: Answerer, squad: SquadSet, top_k: int, progress: Progress | None = None
) -> SquadReport:
    """Ask every question of a SQuAD set whose paragraphs the answerer's index holds."""
    outcomes = []
    for done, question in enumerate(squad.questions):
        if progress:
            progress(done, len(squad.questions))
        started = time.perf_counter()
        answer = answerer.answer(question.text, top_k)
        outcomes.append(SquadOutcome(question, answer, time.perf_counter() - started))
    if progress:
        progress(len(squad.questions), len(squad.questions))
    return SquadReport(squad.name, top_k, outcomes)


def best_threshold(outcomes: Sequence[SquadOutcome]) -> tuple[float, float]:
    """The confidence threshold that maximises correct decisions, answerable and unanswerable
    questions weighted equally, from outcomes answered with no threshold at all.

    Returns (threshold, balanced correct rate). Weighting the two kinds equally keeps the choice
    from depending on how many unanswerable questions a tuning set happens to hold.
    """
    answerable = [
        (o.answer.confidence, o.quotes_an_answer) for o in outcomes if o.question.answerable
    ]
    unanswerable = [o.answer.confidence for o in outcomes if not o.question.answerable]
    return balanced_threshold(answerable, unanswerable)


def balanced_threshold(
    answerable: Sequence[tuple[float, bool]], unanswerable: Sequence[float]
) -> tuple[float, float]:
    """The lowest threshold with the best balanced correct rate: answerable questions count
    when their confidence reaches it and their answer is right, unanswerable ones when their
    confidence stays below it. Returns (threshold, balanced correct rate)."""
    if not answerable or not unanswerable:
        raise ValueError("choosing a threshold needs answerable and unanswerable questions")
    best = (-1.0, 0.0)
    for threshold in sorted({0.0, *(c for c, _ in answerable), *unanswerable}):
        kept = statistics.fmean(c >= threshold and right for c, right in answerable)
        declined = statistics.fmean(c < threshold for c in unanswerable)
        best = max(best, ((kept + declined) / 2, -threshold))
    return -best[1], round(best[0], 4)


# -- Conversations: follow-ups asked with and without their history --------------------------

DEFAULT_CONVERSATIONS = Path("tests/seed_conversations.jsonl")
CONVERSATION_FIGURES = {
    "conversations": "Conversations",
    "follow_ups": "Follow-ups",
    "first_turns_correct": "First questions answered correctly",
    "follow_ups_correct": "Follow-ups answered correctly",
    "answerable_quoted": "Answerable follow-ups: answer holds the evidence",
    "unanswerable_declined": "Unanswerable follow-ups: declined",
}


@dataclass(frozen=True)
class Conversation:
    """One line of a conversations file: two or more turns, each a question with its evidence
    (or `"answerable": false`)."""

    line: int
    id: str
    turns: tuple[Question, ...]


def load_conversations(path: Path) -> list[Conversation]:
    """Read a JSONL conversations file: {"id": str, "turns": [{"question", "evidence"}, ...]}."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise QuestionFileError(f"No such conversations file: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise QuestionFileError(f"Cannot read the conversations file {path}: {exc}") from None
    conversations, problems = [], []
    for number, line in enumerate(lines, 1):
        if line.strip():
            try:
                conversations.append(_parse_conversation(line, number))
            except ValueError as exc:
                problems.append(f"line {number}: {exc}")
    if problems:
        raise QuestionFileError(_problems_message(path, problems))
    if not conversations:
        raise QuestionFileError(f"The conversations file {path} holds no conversations.")
    return conversations


def _parse_conversation(line: str, number: int) -> Conversation:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc.msg}, column {exc.colno})") from None
    turns = record.get("turns") if isinstance(record, dict) else None
    if not isinstance(turns, list) or len(turns) < 2:
        raise ValueError('needs "turns": a list of at least two questions')
    parsed = []
    for position, turn in enumerate(turns, 1):
        try:
            parsed.append(parse_question(json.dumps(turn), number))
        except ValueError as exc:
            raise ValueError(f"turn {position}: {exc}") from None
    return Conversation(number, str(record.get("id") or number), tuple(parsed))


def answer_is_correct(question: Question, answer: Answer) -> bool:
    """An answerable question's answer holds its evidence (an LLM's answer may paraphrase it,
    so the quotes it cites count too); an unanswerable one is declined."""
    if not question.answerable:
        return not answer.answered
    if not answer.answered:
        return False
    if holds_evidence(answer.answer, question.evidence):
        return True
    cited = {int(n) for n in re.findall(r"\[(\d+)\]", answer.answer)}
    quotes = [c.quote for c in answer.citations if c.n in cited]
    return answer.mode == "llm" and holds_evidence(" ".join(quotes), question.evidence)


@dataclass(frozen=True)
class TurnOutcome:
    """One turn of a conversation, answered alone and with the turns before it."""

    conversation: Conversation
    position: int
    alone: Answer
    in_context: Answer

    @property
    def question(self) -> Question:
        return self.conversation.turns[self.position]

    @property
    def is_follow_up(self) -> bool:
        return self.position > 0


@dataclass(frozen=True)
class ConversationReport:
    """Every turn's outcome, and the figures with and without history side by side."""

    source: str
    top_k: int
    outcomes: list[TurnOutcome]

    @property
    def misses(self) -> list[TurnOutcome]:
        """Follow-ups answered wrongly even with their history."""
        return [
            o
            for o in self.outcomes
            if o.is_follow_up and not answer_is_correct(o.question, o.in_context)
        ]

    def figures(self, with_history: bool = True) -> dict[str, float | int | None]:
        follow_ups = [o for o in self.outcomes if o.is_follow_up]
        answerable = [o for o in follow_ups if o.question.answerable]
        unanswerable = [o for o in follow_ups if not o.question.answerable]

        def answer(o: TurnOutcome) -> Answer:
            return o.in_context if with_history else o.alone

        return {
            "conversations": len({o.conversation.line for o in self.outcomes}),
            "follow_ups": len(follow_ups),
            "first_turns_correct": _mean(
                [
                    answer_is_correct(o.question, o.in_context)
                    for o in self.outcomes
                    if o.position == 0
                ]
            ),
            "follow_ups_correct": _mean(
                [answer_is_correct(o.question, answer(o)) for o in follow_ups]
            ),
            "answerable_quoted": _mean(
                [answer_is_correct(o.question, answer(o)) for o in answerable]
            ),
            "unanswerable_declined": _mean([not answer(o).answered for o in unanswerable]),
        }

    def to_dict(self) -> dict:
        """The JSON of `factdesk eval --conversations --json`."""
        return {
            "conversations_file": self.source,
            "top_k": self.top_k,
            "figures": {"alone": self.figures(False), "with_history": self.figures(True)},
            "misses": [_turn_miss(o) for o in self.misses],
        }


def _turn_miss(outcome: TurnOutcome) -> dict:
    answer = outcome.in_context
    return {
        "conversation": outcome.conversation.id,
        "turn": outcome.position + 1,
        "question": outcome.question.text,
        "read_as": answer.standalone,
        "evidence": list(outcome.question.evidence),
        "answered": answer.answered,
        "mode": answer.mode,
        "answer": answer.answer,
    }


class Asking(Protocol):
    """What evaluating conversations needs: `factdesk.service.Service`."""

    def ask(
        self, question: str, history: Sequence[Turn] = (), top_k: int | None = None
    ) -> Answer: ...


def evaluate_conversations(
    service: Asking,
    conversations: Sequence[Conversation],
    top_k: int,
    source: str = "",
    progress: Progress | None = None,
) -> ConversationReport:
    """Ask every turn with the conversation so far (factdesk's own earlier answers as history)
    and, for follow-ups, alone as well."""
    outcomes = []
    for done, conversation in enumerate(conversations):
        if progress:
            progress(done, len(conversations))
        history: list[Turn] = []
        for position, question in enumerate(conversation.turns):
            in_context = service.ask(question.text, history, top_k)
            alone = service.ask(question.text, (), top_k) if position else in_context
            outcomes.append(TurnOutcome(conversation, position, alone, in_context))
            history.append(Turn(question.text, in_context.answer))
    if progress:
        progress(len(conversations), len(conversations))
    return ConversationReport(source, top_k, outcomes)
