"""How `factdesk eval` looks in a terminal (rich): the figures, then every miss.

Question and article text is wrapped in `Text` objects, never read as rich markup.
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from factdesk.evaluation import FIGURES, Outcome, Report

# Figures that are counts or times, not rates over a set of questions.
_PLAIN = {"questions", "answerable", "unanswerable", "latency_median_ms", "latency_p95_ms"}


def render_evaluation(report: Report) -> RenderableType:
    """The figures, each rate with the count behind it, then the misses and what was cited."""
    figures = report.figures()
    table = Table(
        "Figure",
        "Value",
        box=None,
        header_style="bold",
        title=f"{report.source}, top-k {report.top_k}",
        title_justify="left",
    )
    for name, label in FIGURES.items():
        table.add_row(label, _value(name, figures))
    misses = report.misses
    return Group(
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
    total = figures["unanswerable" if name == "declined_unanswerable" else "answerable"]
    return Text(f"{value:.3f}  ({round(value * total)} of {total})")


def _render_miss(outcome: Outcome) -> RenderableType:
    question = outcome.question
    lines = [Text.assemble((f"line {question.line}: ", "dim"), (question.text, "bold"))]
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
                (f"“{citation.quote}”", "italic"),
                (f"  {citation.source}:{citation.start}-{citation.end}", "dim"),
            )
        )
    return Group(*lines)
