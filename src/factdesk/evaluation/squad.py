"""SQuAD files (v1.1 and v2.0) as articles to index and questions to ask.

SQuAD is the public yardstick for reading comprehension: questions written by people about
Wikipedia paragraphs, each with the answer's exact span, and in v2.0 questions written to look
answerable from the paragraph when it does not hold the answer. factdesk uses it twice: the reader
is trained and tuned on some articles, and `factdesk eval --squad FILE` measures the whole pipeline
on others. Each paragraph becomes one article, so a question must first find its paragraph.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from factdesk.answer.answers import Answer, Answerer
from factdesk.errors import QuestionFileError
from factdesk.evaluation.metrics import latency_figures, mean
from factdesk.evaluation.questions import Progress, ask_timed
from factdesk.ingest.documents import Article

_PUNCTUATION = re.compile(r"[^\w\s]")
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_QUOTES = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "′": "'", "″": '"'})


def squad_normalise(text: str) -> str:
    """SQuAD's own answer normalisation: case, punctuation, articles and spacing do not count."""
    text = _PUNCTUATION.sub(" ", text.translate(_QUOTES).casefold())
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, answers: Sequence[str]) -> float:
    """1.0 when the prediction equals a gold answer after normalisation (the official EM)."""
    predicted = squad_normalise(prediction)
    return float(any(predicted == squad_normalise(answer) for answer in answers))


def f1_score(prediction: str, answers: Sequence[str]) -> float:
    """The best word-overlap F1 against the gold answers (the official SQuAD F1)."""
    predicted = squad_normalise(prediction).split()
    best = 0.0
    for answer in answers:
        gold = squad_normalise(answer).split()
        common = sum((Counter(predicted) & Counter(gold)).values())
        if not predicted or not gold:
            best = max(best, float(predicted == gold))
        elif common:
            precision, recall = common / len(predicted), common / len(gold)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


@dataclass(frozen=True)
class Paragraph:
    """One SQuAD paragraph, indexed as an article of its own."""

    doc_id: str
    article: str
    title: str
    text: str

    def as_article(self) -> Article:
        return Article(
            doc_id=self.doc_id,
            source=self.doc_id,
            title=self.title,
            text=self.text,
            has_own_title=True,
        )


@dataclass(frozen=True)
class SquadQuestion:
    """A question about one paragraph; without answers it must be declined (SQuAD 2.0)."""

    id: str
    text: str
    paragraph: Paragraph
    answers: tuple[str, ...]
    answer_starts: tuple[int, ...]
    plausible_starts: tuple[int, ...] = ()

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


@dataclass(frozen=True)
class SquadSet:
    """Every paragraph and question of a SQuAD file, in file order."""

    name: str
    paragraphs: list[Paragraph]
    questions: list[SquadQuestion]

    def articles(self) -> list[str]:
        """SQuAD article titles, in file order (for splitting by article)."""
        return list(dict.fromkeys(p.article for p in self.paragraphs))

    def only(self, articles: set[str]) -> SquadSet:
        """The part of this set about the given SQuAD articles."""
        return SquadSet(
            self.name,
            [p for p in self.paragraphs if p.article in articles],
            [q for q in self.questions if q.paragraph.article in articles],
        )


def load_squad(path: Path) -> SquadSet:
    """Read a SQuAD JSON file, as a user-facing error when it is missing or not SQuAD."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise QuestionFileError(f"No such SQuAD file: {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise QuestionFileError(f"Cannot read the SQuAD file {path}: {exc}") from None
    try:
        squad = parse_squad(path.name, data)
    except (KeyError, TypeError, AttributeError) as exc:
        raise QuestionFileError(
            f"{path} is not in SQuAD format (data → paragraphs → context, qas): missing {exc}"
        ) from None
    if not squad.questions:
        raise QuestionFileError(f"The SQuAD file {path} holds no questions.")
    return squad


def parse_squad(name: str, data: dict) -> SquadSet:
    """A SQuAD file's JSON as a set: every paragraph an article of its own."""
    paragraphs: list[Paragraph] = []
    questions: list[SquadQuestion] = []
    for article in data["data"]:
        title = str(article["title"])
        for number, entry in enumerate(article["paragraphs"]):
            paragraph = Paragraph(
                doc_id=f"squad:{title}#{number}",
                article=title,
                title=title.replace("_", " "),
                text=str(entry["context"]),
            )
            paragraphs.append(paragraph)
            questions.extend(_question(qa, paragraph) for qa in entry["qas"])
    return SquadSet(name, paragraphs, questions)


def _question(qa: dict, paragraph: Paragraph) -> SquadQuestion:
    impossible = bool(qa.get("is_impossible", False))
    answers = [] if impossible else qa["answers"]
    return SquadQuestion(
        id=str(qa["id"]),
        text=str(qa["question"]),
        paragraph=paragraph,
        answers=tuple(str(a["text"]) for a in answers),
        answer_starts=tuple(int(a["answer_start"]) for a in answers),
        plausible_starts=tuple(int(a["answer_start"]) for a in qa.get("plausible_answers", [])),
    )


def write_squad(squad: SquadSet, path: Path) -> None:
    """Write a set back in SQuAD v2.0 format (to hand held-out articles to `factdesk eval`)."""
    articles: dict[str, dict[str, dict]] = {}
    for paragraph in squad.paragraphs:
        articles.setdefault(paragraph.article, {})[paragraph.doc_id] = {
            "context": paragraph.text,
            "qas": [],
        }
    for question in squad.questions:
        articles[question.paragraph.article][question.paragraph.doc_id]["qas"].append(
            {
                "id": question.id,
                "question": question.text,
                "is_impossible": not question.answerable,
                "answers": [
                    {"text": text, "answer_start": start}
                    for text, start in zip(question.answers, question.answer_starts, strict=True)
                ],
            }
        )
    data = [
        {"title": title, "paragraphs": list(paragraphs.values())}
        for title, paragraphs in articles.items()
    ]
    path.write_text(json.dumps({"version": "v2.0", "data": data}, ensure_ascii=False))


# -- The end-to-end evaluation of a SQuAD file ------------------------------------------------
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
        span = mean([o.correct for o in answerable])
        declined = mean([o.correct for o in unanswerable])
        return {
            "questions": len(self.outcomes),
            "answerable": len(answerable),
            "unanswerable": len(unanswerable),
            "hit@1": mean([o.first_passage_is_its_paragraph for o in answerable]),
            "span": span,
            "short_exact_match": mean([o.short_exact_match for o in answerable]),
            "short_f1": mean([o.short_f1 for o in answerable]),
            "declined_unanswerable": declined,
            "wrongly_declined": mean([not o.answer.answered for o in answerable]),
            "correct": mean([o.correct for o in self.outcomes]),
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
    timed = ask_timed(answerer, [q.text for q in squad.questions], top_k, progress)
    outcomes = [
        SquadOutcome(question, answer, seconds)
        for question, (answer, seconds) in zip(squad.questions, timed, strict=True)
    ]
    return SquadReport(squad.name, top_k, outcomes)
