"""Measuring answers against question files with known evidence: `factdesk eval`.

A change to chunking, fusion or the decline threshold can quietly make answers worse. This runs a
question file through the real answerer and reports figures a team can gate changes on: how often
a cited passage holds the evidence (hit@k, MRR), how often the answer itself quotes it, and how
often factdesk declines what it cannot answer, and what it can.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

from factdesk.answer.answers import Answer, Answerer
from factdesk.errors import QuestionFileError
from factdesk.evaluation.metrics import hit_at_k, latency_figures, mean, mrr_at_k

# The seed article's question file, shipped with the package so `factdesk eval` runs anywhere.
DEFAULT_QUESTIONS = Path(__file__).resolve().parent / "seed_questions.jsonl"
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
Record = TypeVar("Record")


class Measured(Protocol):
    """What every report kind offers: its figures, the questions it got wrong, its JSON."""

    @property
    def misses(self) -> Sequence[object]: ...

    def figures(self) -> dict[str, float | int | None]: ...

    def to_dict(self) -> dict: ...


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
    return read_records(path, "question file", "questions", parse_question)


def read_records(
    path: Path, kind: str, plural: str, parse: Callable[[str, int], Record]
) -> list[Record]:
    """Every non-blank line of a JSONL file of `kind`, parsed; every malformed line is reported
    at once, with its number, as one QuestionFileError."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise QuestionFileError(f"No such {kind}: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise QuestionFileError(f"Cannot read the {kind} {path}: {exc}") from None
    records, problems = [], []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            records.append(parse(line, number))
        except ValueError as exc:
            problems.append(f"line {number}: {exc}")
    if problems:
        raise QuestionFileError(_problems_message(path, problems))
    if not records:
        raise QuestionFileError(f"The {kind} {path} holds no {plural}.")
    return records


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
            figures[f"hit@{k}"] = mean(values) if measurable else None
        figures["mrr"] = mean([mrr_at_k(o.ranking, o.relevant, self.top_k) for o in answerable])
        figures["answer_has_evidence"] = mean(
            [
                o.answer.answered and holds_evidence(o.answer.answer, o.question.evidence)
                for o in answerable
            ]
        )
        figures["declined_unanswerable"] = mean([not o.answer.answered for o in unanswerable])
        figures["wrongly_declined"] = mean([not o.answer.answered for o in answerable])
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
    answerer.ask(questions[0].text, top_k=top_k)
    timed = ask_timed(answerer, [q.text for q in questions], top_k, progress)
    outcomes = [Outcome(q, a, seconds) for q, (a, seconds) in zip(questions, timed, strict=True)]
    return Report(source, top_k, outcomes)


def ask_timed(
    answerer: Answerer, questions: Sequence[str], top_k: int, progress: Progress | None = None
) -> list[tuple[Answer, float]]:
    """Each question's answer and the seconds it took, in order, reporting progress."""
    answers = []
    for done, question in enumerate(questions):
        if progress:
            progress(done, len(questions))
        started = time.perf_counter()
        answers.append((answerer.ask(question, top_k=top_k), time.perf_counter() - started))
    if progress:
        progress(len(questions), len(questions))
    return answers


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
