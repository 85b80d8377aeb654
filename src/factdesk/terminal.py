"""How answers and the index look in a terminal (rich).

Article text is always wrapped in `Text` objects, never interpreted as rich markup, so an
article containing "[bold]" or similar prints literally; the CLI's consoles escape the control
characters of whatever they print (cli.Printable), so an article cannot drive the terminal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from factdesk.answer.answers import Answer
from factdesk.printable import printable

if TYPE_CHECKING:
    from factdesk.service import IndexStatus
    from factdesk.slack.database import FeedbackSummary


def render_answer(answer: Answer, width: int = 80) -> RenderableType:
    """The answer and how sure the reader is, then one numbered entry per source (or, for a
    declined question, per related passage): title and date, file, link and the quote."""
    parts: list[RenderableType] = []
    if answer.standalone:
        parts.append(Text(f"(read as: {printable(answer.standalone)})", style="dim"))
    short = answer.short_answer if answer.marked_quote() else None
    if short:
        parts.append(indented(Text(printable(" ".join(short.text.split())), "bold"), width, 0))
        parts.append(indented(marked_quote(answer), width, 0))
    else:
        plain = Text(printable(answer.answer), style="bold" if answer.answered else "")
        parts.append(indented(plain, width, 0))
    if answer.mode == "llm":
        parts.append(Text("Written by the LLM; every sentence checked against its sources.", "dim"))
    elif answer.withheld:
        note = (
            f"The LLM's answer was withheld ({answer.withheld.replace('_', ' ')}); quoted instead."
        )
        parts.append(Text(note, style="dim"))
    if answer.citations and answer.answered:
        title = f"Sources (confidence {answer.confidence:.2f})"
        parts.append(Text("\n" + title, style="underline"))
    for citation in answer.citations:
        title = shorten_end(printable(citation.title, lines=False), TITLE_WIDTH)
        heading = Text.assemble((f"[{citation.n}] ", "bold cyan"), (title, "bold"))
        if citation.published:
            heading.append(f" ({citation.published})")
        source = printable(citation.source, lines=False)
        heading.append(f"  {source}:{citation.start}-{citation.end}", style="dim")
        heading.append(f"  score {citation.score:.2f}", style="dim")
        parts.append(indented(heading, width, INDENT, first=0))
        if citation.url:
            url = printable(citation.url, lines=False)
            parts.append(indented(Text(url, style="blue underline"), width))
        if not (short and citation.n == 1):  # [1]'s sentence is quoted above
            quote = printable(" ".join(citation.quote.split()))
            parts.append(indented(Text(quote, style="italic"), width))
    return Group(*parts)


INDENT = 4
# A source is shortened in its middle to this many characters, so `status` fits 80 columns and
# both the folder and the file name's end stay readable.
SOURCE_WIDTH = 32
# A citation's title is cut to this many characters: a page may have a megabyte of <title>.
TITLE_WIDTH = 120


def shorten_end(text: str, width: int) -> str:
    """`text` cut to `width` characters, an ellipsis last when it was cut."""
    return text if len(text) <= width else text[: width - 1] + "…"


def shorten_middle(text: str, width: int) -> str:
    """`seeds/000_d17e…24a59.txt`: the start and the end kept, the middle cut."""
    if len(text) <= width:
        return text
    keep = width - 1
    return text[: keep - keep // 2] + "…" + text[len(text) - keep // 2 :]


def indented(text: Text, width: int, indent: int = INDENT, first: int | None = None) -> Text:
    """Text wrapped to `width`, its first line indented by `first` (default: `indent`) and the
    others by `indent`, with no trailing spaces."""
    first = indent if first is None else first
    lines = text.wrap(Console(width=width), max(20, width - max(indent, first)))
    out = Text(no_wrap=True, overflow="ignore")
    for number, line in enumerate(lines):
        line.rstrip()
        out.append("\n" if number else "")
        out.append(" " * (indent if number else first))
        out.append_text(line)
    return out


def marked_quote(answer: Answer) -> Text:
    """The sentence that holds the short answer, quoted, the answer's words in bold."""
    parts = answer.marked_quote()
    assert parts is not None
    before, span, after = (printable(part.replace("\n", " ")) for part in parts)
    return Text.assemble("“", before, (span, "bold"), after, "” ", ("[1]", "bold cyan"))


def render_status(status: IndexStatus, width: int = 80) -> RenderableType:
    """Where the index is, how it was built and what it holds; an article a line in `width`
    columns, its title cut to what the other columns leave."""
    settings, store, documents, exists = (
        status.settings,
        status.store,
        status.documents,
        status.exists,
    )
    overview = Table.grid(padding=(0, 2))
    overview.add_row("Store", settings.store_description)
    overview.add_row("Desk", settings.desk)
    overview.add_row("Collection", settings.collection_name)
    stored = store.stored_fingerprint() if exists else None
    overview.add_row("Built with", stored.describe() if stored else "(no index yet)")
    if stored and stored != store.fingerprint:
        overview.add_row(
            "Settings", f"{store.fingerprint.describe()}: run `factdesk index --rebuild`"
        )
    overview.add_row("Documents", f"{len(documents)} ({sum(d.chunks for d in documents)} chunks)")
    if not documents:
        hint = Text("The index is empty: run `factdesk index` (or just `factdesk ask`).")
        return Group(overview, Text(), hint)
    table = Table(box=None, header_style="bold", expand=False)
    table.add_column("Title", no_wrap=True)
    table.add_column("Published", no_wrap=True)
    table.add_column("Source", no_wrap=True)
    table.add_column("Chunks", justify="right", no_wrap=True)
    rows = [
        (
            printable(document.title, lines=False),
            document.published or "—",
            shorten_middle(printable(document.source, lines=False), SOURCE_WIDTH),
            str(document.chunks),
        )
        for document in documents
    ]
    others = [
        max(len(row[i]) for row in [("", "Published", "Source", "Chunks"), *rows])
        for i in (1, 2, 3)
    ]
    room = max(20, width - sum(others) - 8)  # each column has a space either side
    for title, published, source, chunks in rows:
        cut = Text(title)
        cut.truncate(room, overflow="ellipsis")
        table.add_row(cut, published, Text(source), chunks)
    return Group(overview, Text(), table)


def trimmed(console: Console, renderable: RenderableType) -> Group:
    """`renderable` as `console` lays it out, without the spaces rich pads table cells with at
    the ends of lines."""
    lines = []
    for line in console.render_lines(renderable, pad=False):
        text = Text()
        for segment in line:
            if not segment.control:
                text.append(segment.text, segment.style)
        text.rstrip()
        lines.append(text)
    return Group(*lines)


def render_summary(summary: FeedbackSummary) -> RenderableType:
    """The summary as rich renders it: a totals line, then the least helpful questions."""
    totals: RenderableType = Text(
        f"{summary.answers} answers posted · {summary.up} 👍 · {summary.down} 👎"
    )
    modes = Table(title="By mode", title_justify="left")
    modes.add_column("Mode")
    modes.add_column("Answers", justify="right")
    modes.add_column("👍", justify="right")
    modes.add_column("👎", justify="right")
    for mode in summary.by_mode:
        label = "LLM (checked)" if mode.mode == "llm" else mode.mode
        modes.add_row(label, str(mode.answers), str(mode.up), str(mode.down))
    if summary.by_mode:
        totals = Group(totals, modes)
    if not summary.most_down:
        return Group(totals, Text("No 👎 so far."))
    table = Table(title="Questions with the most 👎", title_justify="left")
    table.add_column("👎", justify="right")
    table.add_column("👍", justify="right")
    table.add_column("Question")
    for row in summary.most_down:
        table.add_row(str(row.down), str(row.up), Text(printable(row.question)))
    return Group(totals, table)
