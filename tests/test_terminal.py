"""How answers look in the terminal: the short answer first, its sentence with the span in bold,
wrapped lines indented alike and without trailing spaces."""

from __future__ import annotations

from rich.console import Console

from factdesk.answer.answers import Answer, Citation, ShortAnswer
from factdesk.terminal import marked_quote, render_answer, shorten_middle

SENTENCE = (
    "Russia’s defense conglomerate Rostec has cut its defense advisers in Venezuela from 1,000 "
    "several years ago to “just a few dozen” now, WSJ cited its source as saying."
)
START = 474  # where the sentence sits in its article


def citation(n: int, quote: str, start: int, score: float) -> Citation:
    return Citation(
        n=n,
        quote=quote,
        passage=quote,
        source="seeds/000_d17e3c436e124a59.txt",
        title="Russia Withdraws Advisers",
        url=None,
        start=start,
        end=start + len(quote),
        score=score,
    )


def short_answer() -> Answer:
    offset = SENTENCE.index("just a few dozen")
    short = ShortAnswer("just a few dozen", START + offset, START + offset + 16)
    other = citation(2, "Analyst Mark Galeotti estimates there are 300 officers.", 1517, 0.7)
    return Answer(
        "How many advisers remain?",
        True,
        f"just a few dozen: “{SENTENCE}” [1]",
        [citation(1, SENTENCE, START, 0.9), other],
        confidence=0.9,
        short_answer=short,
    )


def rendered(answer: Answer, width: int = 60) -> tuple[str, Console]:
    console = Console(width=width, record=True, color_system="truecolor", force_terminal=True)
    console.print(render_answer(answer, width))
    return console.export_text(), console


def test_the_short_answer_leads_and_its_sentence_is_quoted_once():
    text, _ = rendered(short_answer())
    lines = text.splitlines()
    assert lines[0] == "just a few dozen"
    assert lines[1].startswith("“Russia’s defense")
    assert text.count("several years ago") == 1  # source [1] does not repeat the sentence
    assert "Analyst Mark Galeotti" in text  # other sources are quoted


def test_the_span_is_bold_inside_its_sentence():
    quote = marked_quote(short_answer())
    bold = [quote.plain[s.start : s.end] for s in quote.spans if "bold" in str(s.style)]
    assert "just a few dozen" in bold
    assert quote.plain.startswith("“Russia’s") and quote.plain.endswith("” [1]")


def test_wrapped_lines_keep_their_indentation_and_have_no_trailing_spaces():
    text, _ = rendered(short_answer(), width=50)
    for line in text.splitlines():
        assert line == line.rstrip()
    sources = text.split("Sources")[1].splitlines()[1:]
    quoted = [line for line in sources if not line.startswith("[")]
    assert quoted and all(line.startswith("    ") for line in quoted)


def test_a_declined_answer_has_no_blank_sources_heading():
    declined = Answer(
        "Who is the chief executive of Rostec?",
        False,
        "I couldn't find that in the indexed articles. Related passages:",
        [citation(1, SENTENCE, START, 0.5)],
    )
    text, _ = rendered(declined)
    assert "\n\n\n" not in text and "Sources" not in text


def test_long_sources_are_shortened_in_the_middle():
    source = "https://example.com/news/2024/05/14/a-very-long-story-slug-that-goes-on.html"
    short = shorten_middle(source, 32)
    assert len(short) == 32 and short.startswith("https://example") and short.endswith(".html")
    assert shorten_middle("seeds/a.txt", 32) == "seeds/a.txt"
