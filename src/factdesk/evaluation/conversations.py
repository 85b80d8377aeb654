"""Conversations: follow-ups asked with and without their history (`eval --conversations`)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from factdesk.answer.answers import Answer, Answerer
from factdesk.answer.conversation import Turn
from factdesk.evaluation.metrics import mean
from factdesk.evaluation.questions import (
    Progress,
    Question,
    holds_evidence,
    parse_question,
    read_records,
)

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
    return read_records(path, "conversations file", "conversations", _parse_conversation)


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
            "first_turns_correct": mean(
                [
                    answer_is_correct(o.question, o.in_context)
                    for o in self.outcomes
                    if o.position == 0
                ]
            ),
            "follow_ups_correct": mean(
                [answer_is_correct(o.question, answer(o)) for o in follow_ups]
            ),
            "answerable_quoted": mean(
                [answer_is_correct(o.question, answer(o)) for o in answerable]
            ),
            "unanswerable_declined": mean([not answer(o).answered for o in unanswerable]),
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


def evaluate_conversations(
    answerer: Answerer,
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
            in_context = answerer.ask(question.text, history, top_k)
            alone = answerer.ask(question.text, (), top_k) if position else in_context
            outcomes.append(TurnOutcome(conversation, position, alone, in_context))
            history.append(Turn(question.text, in_context.answer))
    if progress:
        progress(len(conversations), len(conversations))
    return ConversationReport(source, top_k, outcomes)
