from pathlib import Path

import pytest

from factdesk.errors import SourceError
from factdesk.ingest.documents import (
    decode_html,
    parse_article,
    parse_date,
    read_article,
    scan_paths,
)

from .conftest import SEEDS
from .newsserver import BOILERPLATE, CP1252_PAGE, HARBOUR_TITLE, NEWS

WRAPPED = """Russia's defense conglomerate has withdrawn key advisers from Venezuela, The
Wall Street Journal reported Sunday.

The Kremlin said specialists service pre-
existing contracts.

Related article: How Russia Sank Billions

https://example.com/a-story

Rostec cut its advisers to "just a few dozen" now.
"""


def test_reflows_hard_wrapped_lines_into_paragraphs():
    article = parse_article(WRAPPED, fallback_title="story")
    paragraphs = article.text.split("\n\n")
    assert paragraphs[0] == (
        "Russia's defense conglomerate has withdrawn key advisers from Venezuela, "
        "The Wall Street Journal reported Sunday."
    )
    assert paragraphs[1] == "The Kremlin said specialists service pre-existing contracts."
    assert len(paragraphs) == 3


def test_moves_urls_and_related_lines_into_metadata():
    article = parse_article(WRAPPED, fallback_title="story")
    assert article.links == ("https://example.com/a-story",)
    assert article.related == ("How Russia Sank Billions",)
    assert "http" not in article.text and "Related article" not in article.text


def test_an_article_without_a_headline_is_named_by_its_first_sentence():
    article = parse_article(WRAPPED, fallback_title="story")
    assert not article.has_own_title  # a name to show, not a title to read with the passages
    assert article.title.startswith(article.text[:20]) and len(article.title) <= 80
    lede = "The ferry is back in service. It left at nine."
    assert parse_article(lede, fallback_title="f").title == "The ferry is back in service."
    long = "word " * 40 + "end."
    title = parse_article(long, fallback_title="f").title
    assert title.endswith("…") and len(title) <= 80 and not title[:-1].endswith(" ")
    assert parse_article("", fallback_title="story").title == "story"


@pytest.mark.parametrize(
    "content",
    ["# Rostec pulls out\n\nBody text here.", "Rostec pulls out\n\nBody text here."],
)
def test_title_from_heading_or_title_line(content):
    article = parse_article(content, fallback_title="file")
    assert article.title == "Rostec pulls out" and article.has_own_title
    assert article.text == "Body text here."


def test_source_line_sets_url():
    article = parse_article("Title\n\nURL: https://news.example/x\n\nBody.", fallback_title="f")
    assert article.url == "https://news.example/x"
    assert article.text == "Body."


def test_html_is_reduced_to_article_text():
    html = """<html><head><title>Site | Story</title>
    <link rel="canonical" href="https://news.example/story"><script>var x = 1;</script></head>
    <body><nav>Home News</nav><article><h1>Rostec pulls out</h1>
    <p>First &amp; foremost paragraph.</p><p>Second paragraph.</p></article>
    <footer>Copyright</footer></body></html>"""
    article = parse_article(html, fallback_title="f", kind="html")
    assert article.title == "Rostec pulls out"
    assert article.url == "https://news.example/story"
    assert article.text == "First & foremost paragraph.\n\nSecond paragraph."


def test_seed_article_cleans_without_boilerplate():
    article = read_article(next(SEEDS.glob("*.txt")))
    assert "pre-existing" in article.text
    assert "https://" not in article.text
    assert len(article.links) == 3 and len(article.related) == 2
    assert "\n\n" in article.text and "  " not in article.text


def test_scan_skips_bad_files_with_reasons(tmp_path: Path):
    (tmp_path / "good.txt").write_text("Title\n\nSome news.", encoding="utf-8")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02garbage")
    (tmp_path / "empty.md").write_text("  \n", encoding="utf-8")
    (tmp_path / "big.txt").write_text("word " * 300, encoding="utf-8")
    (tmp_path / "photo.jpg").write_bytes(b"\xff\xd8")
    (tmp_path / ".hidden.txt").write_text("ignored", encoding="utf-8")
    scan = scan_paths([tmp_path], max_file_bytes=1000)
    assert [a.source.rsplit("/", 1)[-1] for a in scan.articles] == ["good.txt"]
    reasons = {s.source.rsplit("/", 1)[-1]: s.reason for s in scan.skipped}
    assert reasons["binary.txt"] == "binary file"
    assert reasons["empty.md"] == "empty file"
    assert reasons["big.txt"].startswith("too large")
    assert reasons["photo.jpg"] == "unsupported file type"
    assert ".hidden.txt" not in reasons


def test_missing_path_is_an_error(tmp_path: Path):
    with pytest.raises(SourceError, match="No such file or folder"):
        scan_paths([tmp_path / "nope"])


def test_doc_id_is_the_absolute_path(tmp_path: Path):
    file = tmp_path / "a.txt"
    file.write_text("Headline\n\nBody.", encoding="utf-8")
    assert read_article(file).doc_id == file.resolve().as_posix()


def test_news_page_keeps_the_story_and_drops_the_site_around_it():
    html = (
        (NEWS / "harbour.html").read_text(encoding="utf-8").replace("{base}", "https://c.example")
    )
    article = parse_article(html, fallback_title="f", kind="html")
    assert article.title == HARBOUR_TITLE and article.has_own_title
    assert article.url == "https://c.example/news/harbour-ferry"
    assert (article.published, article.author) == ("2024-03-05", "Dana Whitfield")
    paragraphs = article.text.split("\n\n")
    assert paragraphs[0].startswith("The harbour ferry between")  # the headline is not repeated
    assert "- Weekday sailings every 40 minutes from 6.10am" in paragraphs
    assert "| Ticket | Price |" in paragraphs and not any("---" in p for p in paragraphs)
    assert paragraphs[-1].startswith("Local businesses in Kilbride")
    leaked = [phrase for phrase in BOILERPLATE if phrase.lower() in article.text.lower()]
    assert not leaked


def test_related_lines_that_slip_through_html_extraction_become_metadata():
    body = " ".join(["The council met on Monday and agreed the budget for next year."] * 6)
    html = f"""<html><body><article><h1>Budget agreed</h1><p>{body}</p>
        <p>Related article: Council tax to rise</p><p>{body}</p></article></body></html>"""
    article = parse_article(html, fallback_title="f", kind="html")
    assert article.related == ("Council tax to rise",)
    assert "Related" not in article.text and "budget for next year" in article.text


@pytest.mark.parametrize(
    "line",
    ["Date: 2024-03-05", "Published: March 5, 2024", "published: Tue, 05 Mar 2024 08:30:00 GMT"],
)
def test_date_line_at_the_top_of_a_text_file(line):
    article = parse_article(f"# Ferry returns\n{line}\n\nThe ferry is back.", fallback_title="f")
    assert article.published == "2024-03-05"
    assert article.text == "The ferry is back." and article.title == "Ferry returns"


def test_date_line_further_down_or_unreadable_stays_text():
    lines = ["Ferry returns", "", *[f"Paragraph {n}." for n in range(6)], "Date: 2024-03-05"]
    article = parse_article("\n".join(lines), fallback_title="f")
    assert article.published is None and article.text.endswith("Date: 2024-03-05")
    vague = parse_article("Ferry returns\nDate: last spring\n\nBody.", fallback_title="f")
    assert vague.published is None and "Date: last spring" in vague.text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-05", "2024-03-05"),
        ("2024-03-05T23:30:00-05:00", "2024-03-05"),
        ("2024-03-05T08:30:00Z", "2024-03-05"),
        ("Tue, 05 Mar 2024 08:30:00 GMT", "2024-03-05"),
        ("5 March 2024", "2024-03-05"),
        ("Tuesday, March 5th, 2024", "2024-03-05"),
        ("Mar 5 2024", "2024-03-05"),
        ("2024/03/05", "2024-03-05"),
        ("last spring", None),
        ("", None),
        ("2024-13-45", None),
    ],
)
def test_parse_date(text, expected):
    assert parse_date(text) == expected


def test_publication_date_changes_the_content_hash():
    article = parse_article("Title\n\nBody.", fallback_title="f")
    dated = parse_article("Title\nDate: 2024-03-05\n\nBody.", fallback_title="f")
    assert article.text == dated.text and article.content_hash != dated.content_hash


def test_html_charset_comes_from_a_meta_tag_or_the_server():
    raw = CP1252_PAGE.encode("cp1252")
    assert "€1,450" in decode_html(raw) and "“We have held" in decode_html(raw)
    latin = "<p>Zürich café</p>".encode("latin-1")
    assert decode_html(latin, declared="ISO-8859-1") == "<p>Zürich café</p>"
    assert decode_html(latin, default="cp1252") == "<p>Zürich café</p>"
    with pytest.raises(SourceError, match="no charset declared"):
        decode_html(latin)


def test_html_file_in_another_charset_is_read_by_its_meta_tag(tmp_path: Path):
    (tmp_path / "fees.html").write_bytes(CP1252_PAGE.encode("cp1252"))
    (tmp_path / "bare.html").write_bytes("<html><p>Zürich</p></html>".encode("latin-1"))
    scan = scan_paths([tmp_path])
    (article,) = scan.articles
    assert "to €1,450 a year" in article.text and "cookies" not in article.text
    assert [(s.source.rsplit("/", 1)[-1], s.reason[:10]) for s in scan.skipped] == [
        ("bare.html", "not UTF-8 ")
    ]


def test_latin1_and_utf16_files_are_read(tmp_path: Path, caplog):
    story = "Café owners in Zürich protest\n\nThe café association said fees rose by 12 %."
    (tmp_path / "latin1.txt").write_bytes(story.encode("latin-1"))
    (tmp_path / "utf16.txt").write_bytes(story.encode("utf-16"))  # with its byte-order mark
    with caplog.at_level("WARNING"):
        scan = scan_paths([tmp_path])
    assert not scan.skipped
    assert {a.title for a in scan.articles} == {"Café owners in Zürich protest"}
    assert all("The café association" in a.text for a in scan.articles)
    assert "latin1.txt is not UTF-8: read as" in caplog.text  # a guess is said to be one
    assert "utf16.txt" not in caplog.text


def test_a_cache_folder_looks_mistaken_and_a_newsroom_export_does_not(tmp_path):
    from factdesk.ingest.documents import survey_paths

    cache = tmp_path / "cache"
    (cache / "http" / "a").mkdir(parents=True)
    for n in range(30):
        (cache / "http" / "a" / f"{n:040x}").write_bytes(b"\0")  # a hash for a name
    (cache / "LICENSE.md").write_text("MIT License")
    (cache / "story.md").write_text("# Story\n\nThe harbour reopened.")
    survey = survey_paths([cache])
    assert (survey.files, survey.articles, survey.unlikely) == (32, 2, 31)
    assert survey.looks_mistaken and survey.examples == ["LICENSE", "no extension"]

    export = tmp_path / "export"
    export.mkdir()
    for n in range(40):
        (export / f"{n}.txt").write_text(f"Story {n}\n\nThe council met.")
    for n in range(20):
        (export / f"{n}.jpg").write_bytes(b"\xff\xd8")
    assert not survey_paths([export]).looks_mistaken  # a third are photos: that is news
