from pathlib import Path

import pytest

from factdesk.documents import parse_article, read_article, scan_paths
from factdesk.errors import SourceError

from .conftest import SEEDS

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


def test_title_falls_back_to_file_name_when_first_line_is_prose():
    article = parse_article(WRAPPED, fallback_title="story")
    assert article.title == "story" and not article.has_own_title


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
    (tmp_path / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    (tmp_path / "empty.md").write_text("  \n", encoding="utf-8")
    (tmp_path / "big.txt").write_text("word " * 300, encoding="utf-8")
    (tmp_path / "photo.jpg").write_bytes(b"\xff\xd8")
    (tmp_path / ".hidden.txt").write_text("ignored", encoding="utf-8")
    scan = scan_paths([tmp_path], max_file_bytes=1000)
    assert [a.source.rsplit("/", 1)[-1] for a in scan.articles] == ["good.txt"]
    reasons = {s.source.rsplit("/", 1)[-1]: s.reason for s in scan.skipped}
    assert reasons["binary.txt"] == "binary file"
    assert reasons["latin1.txt"].startswith("not UTF-8")
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
