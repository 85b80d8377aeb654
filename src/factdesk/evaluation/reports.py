"""How `factdesk eval` looks in a terminal (rich): the figures, then every miss.

Question and article text is wrapped in `Text` objects, never read as rich markup.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.table import Table
from rich.text import Text

from factdesk.evaluation.conversations import CONVERSATION_FIGURES, ConversationReport
from factdesk.evaluation.questions import FIGURES, Outcome, Report
from factdesk.evaluation.squad import SQUAD_FIGURES, SquadOutcome, SquadReport
from factdesk.printable import printable
from factdesk.terminal import shorten_middle

# Figures that are counts or times, not rates over a set of questions.
_PLAIN = {"questions", "answerable", "unanswerable", "latency_median_ms", "latency_p95_ms"}
# The questions each rate is worked out over, when not the answerable ones.
_OVER = {
    "declined_unanswerable": "unanswerable",
    "correct": "questions",
    "balanced_correct": "questions",
}


def render_evaluation(report: Report | SquadReport, where: str = "") -> RenderableType:
    """What was asked where, the figures, each rate with the count behind it, then the misses
    and what was cited."""
    figures = report.figures()
    labels = SQUAD_FIGURES if isinstance(report, SquadReport) else FIGURES
    table = _figures_table("Value")
    for name, label in labels.items():
        table.add_row(label, _value(name, figures))
    misses = report.misses
    return Group(
        Heading(report, where),
        table,
        Text(f"\nMisses ({len(misses)})", style="underline"),
        *(_render_miss(outcome) for outcome in misses),
    )


def _value(name: str, figures: dict) -> Text:
    value = figures[name]
    if value is None:
        return Text("—", style="dim")
    if name in _PLAIN:
        return Text(f"{value:g}")
    if name == "mrr":
        return Text(f"{value:.3f}")
    if name == "balanced_correct":
        return Text(f"{value:.3f}")
    total = figures[_OVER.get(name, "answerable")]
    return Text(f"{value:.3f}  ({round(value * total)} of {total})")


def _render_miss(outcome: Outcome | SquadOutcome) -> RenderableType:
    if isinstance(outcome, SquadOutcome):
        return _render_squad_miss(outcome)
    question = outcome.question
    lines = [Text.assemble((f"line {question.line}: ", "dim"), (printable(question.text), "bold"))]
    if question.answerable:
        lines.append(Text("    expected: " + " | ".join(f"“{e}”" for e in question.evidence)))
    else:
        lines.append(Text("    expected: a decline"))
    if not outcome.answer.answered:
        lines.append(Text("    got: declined", style="yellow"))
    for citation in outcome.answer.citations:
        lines.append(
            Text.assemble(
                (f"    cited [{citation.n}] ", "cyan"),
                (f"“{printable(citation.quote)}”", "italic"),
                (f"  {printable(citation.source)}:{citation.start}-{citation.end}", "dim"),
            )
        )
    return Group(*lines)


def _render_squad_miss(outcome: SquadOutcome) -> RenderableType:
    question, answer = outcome.question, outcome.answer
    expected = " | ".join(f"“{a}”" for a in question.answers) or "a decline"
    got = answer.answer if answer.answered else "declined"
    return Group(
        Text.assemble((f"{question.id}: ", "dim"), (question.text, "bold")),
        Text(f"    expected: {expected}"),
        Text(f"    got ({answer.confidence:.2f}): {got}", style="yellow"),
    )


def render_conversations(report: ConversationReport, where: str = "") -> RenderableType:
    """Each figure without and with history, side by side, then the follow-ups still missed."""
    alone, in_context = report.figures(with_history=False), report.figures(with_history=True)
    table = _figures_table("Alone", "With history")
    for name, label in CONVERSATION_FIGURES.items():
        if name in {"conversations", "follow_ups", "first_turns_correct"}:
            table.add_row(label, "", _plain(in_context[name]))
        else:
            table.add_row(label, _plain(alone[name]), _plain(in_context[name]))
    misses = report.misses
    lines: list[RenderableType] = [
        Heading(report, where),
        table,
        Text(f"\nMissed with history ({len(misses)})", "underline"),
    ]
    for outcome in misses:
        answer = outcome.in_context
        lines.append(
            Text.assemble(
                (f"{outcome.conversation.id} turn {outcome.position + 1}: ", "dim"),
                (outcome.question.text, "bold"),
            )
        )
        if answer.standalone:
            lines.append(Text(f"    read as: {answer.standalone}", style="dim"))
        expected = " | ".join(f"“{e}”" for e in outcome.question.evidence) or "a decline"
        lines.append(Text(f"    expected: {expected}"))
        got = answer.answer if answer.answered else "declined"
        lines.append(Text(f"    got ({answer.mode}): {got}", style="yellow"))
    return Group(*lines)


def _plain(value: float | int | None) -> Text:
    if value is None:
        return Text("—", style="dim")
    return Text(f"{value:g}" if isinstance(value, int) else f"{value:.3f}")


def _figures_table(*columns: str) -> Table:
    """A report's table: a figure a row."""
    return Table("Figure", *columns, box=None, header_style="bold")


class Heading:
    """The question file, top-k and where it was measured, on one line at any width: the file's
    folder is left out, and what is still too long is shortened in its middle."""

    def __init__(self, report: Report | SquadReport | ConversationReport, where: str) -> None:
        parts = [Path(report.source).name, f"top-k {report.top_k}", where]
        self.text = " · ".join(part for part in parts if part)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield Text(shorten_middle(self.text, options.max_width), style="bold", no_wrap=True)
