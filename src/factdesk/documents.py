"""Articles: finding them on disk, reading them safely and cleaning their text.

Cleaning matters for citations: quotes are cut from the cleaned text, so hard-wrapped lines are
re-flowed into paragraphs and boilerplate (bare URL lines, "Related article: ..." lines) is moved
into metadata instead of polluting passages.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from factdesk.errors import SourceError

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm")
DEFAULT_MAX_FILE_BYTES = 5 * 1024 * 1024

_URL_LINE = re.compile(r"^<?(https?://\S+?)>?$")
_RELATED_LINE = re.compile(
    r"^(?:related(?: article| story| reading)?|read more|see also)\s*:\s*(.+)$", re.I
)
_META_LINE = re.compile(r"^(url|source)\s*:\s*(https?://\S+)\s*$", re.I)
_MD_HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")
_MD_LINK = re.compile(r"\[([^\]]+)\]\((https?://[^)\s]+)\)")
_TITLE_MAX_CHARS = 150
_SENTENCE_ENDINGS = (".", ",", ";", ":", "!", "?", "”", '"')


@dataclass(frozen=True)
class Article:
    """One cleaned article, ready to chunk; `doc_id` is stable across runs (its absolute path)."""

    doc_id: str
    source: str
    title: str
    text: str
    url: str | None = None
    links: tuple[str, ...] = ()
    related: tuple[str, ...] = ()
    has_own_title: bool = False

    @property
    def content_hash(self) -> str:
        """Changes whenever anything that ends up in the index changes."""
        digest = hashlib.sha256()
        for part in (self.title, self.url or "", self.text, *self.links, *self.related):
            digest.update(part.encode("utf-8"))
            digest.update(b"\0")
        return digest.hexdigest()


@dataclass(frozen=True)
class Skipped:
    """A file that was not indexed, and why, in words for the user."""

    source: str
    reason: str


@dataclass
class Scan:
    """The outcome of reading the given paths: articles, skipped files and the folders scanned."""

    articles: list[Article] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    roots: list[Path] = field(default_factory=list)


def scan_paths(paths: Iterable[Path], max_file_bytes: int = DEFAULT_MAX_FILE_BYTES) -> Scan:
    """Read every supported file under `paths`; a missing path is an error, a bad file a skip."""
    paths = list(paths)
    require_paths(paths)
    scan = Scan()
    for path in paths:
        scan.roots.append(path.resolve())
        for file in _files_under(path):
            _read_into(scan, file, max_file_bytes)
    return scan


def require_paths(paths: Iterable[Path]) -> None:
    """Fail on the first path that does not exist: a typo must not index nothing in silence."""
    for path in paths:
        if not path.exists():
            raise SourceError(f"No such file or folder: {path}")


def _files_under(path: Path) -> Iterator[Path]:
    if path.is_file():
        yield path
        return
    for folder, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith("."):
                yield Path(folder) / name


def _read_into(scan: Scan, file: Path, max_file_bytes: int) -> None:
    source = display_path(file)
    if file.suffix.lower() not in SUPPORTED_SUFFIXES:
        scan.skipped.append(Skipped(source, "unsupported file type"))
        return
    try:
        article = read_article(file, max_file_bytes)
    except SourceError as exc:
        scan.skipped.append(Skipped(source, str(exc)))
        return
    scan.articles.append(article)


def display_path(path: Path) -> str:
    """The path as the user would type it: relative to the working folder when inside it."""
    absolute = Path(os.path.abspath(path))
    try:
        return absolute.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return absolute.as_posix()


def read_article(file: Path, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES) -> Article:
    """Read and clean one file, raising SourceError with a short reason when it cannot be used."""
    raw = _read_bytes(file, max_file_bytes)
    if b"\0" in raw[:8192]:
        raise SourceError("binary file")
    try:
        content = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceError(f"not UTF-8 (bad byte at offset {exc.start})") from None
    if not content.strip():
        raise SourceError("empty file")
    kind = "html" if file.suffix.lower() in (".html", ".htm") else "text"
    article = parse_article(content, fallback_title=file.stem, kind=kind)
    if not article.text:
        raise SourceError("no article text")
    resolved = file.resolve()
    return Article(
        doc_id=resolved.as_posix(),
        source=display_path(file),
        title=article.title,
        text=article.text,
        url=article.url,
        links=article.links,
        related=article.related,
        has_own_title=article.has_own_title,
    )


def _read_bytes(file: Path, max_file_bytes: int) -> bytes:
    try:
        size = file.stat().st_size
        if size > max_file_bytes:
            raise SourceError(
                f"too large ({size / 1_048_576:.1f} MB; the limit is "
                f"{max_file_bytes / 1_048_576:.1f} MB, FACTDESK_MAX_FILE_MB)"
            )
        return file.read_bytes()
    except FileNotFoundError:
        raise SourceError("disappeared while indexing") from None
    except OSError as exc:
        raise SourceError(f"unreadable ({exc.strerror or exc})") from None


def parse_article(content: str, fallback_title: str, kind: str = "text") -> Article:
    """Clean raw article text (or HTML) into title, body and metadata; ids are filled by callers."""
    url = None
    if kind == "html":
        page = _HTMLArticle.parse(content)
        content, url = page.text, page.url
        if page.title:
            content = f"# {page.title}\n\n{content}"
    blocks, links, related, meta_url = _split_blocks(content)
    title, paragraphs = _take_title(blocks)
    return Article(
        doc_id="",
        source="",
        title=title or fallback_title,
        has_own_title=title is not None,
        text="\n\n".join(paragraphs),
        url=url or meta_url,
        links=tuple(dict.fromkeys(links)),
        related=tuple(dict.fromkeys(related)),
    )


def _split_blocks(content: str) -> tuple[list[list[str]], list[str], list[str], str | None]:
    """Group lines into paragraphs, pulling URL, related-article and source lines out.

    A Markdown heading is always a block of its own, so it is never glued to the next paragraph.
    """
    lines = content.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    blocks: list[list[str]] = [[]]
    links: list[str] = []
    related: list[str] = []
    meta_url = None
    for raw_line in lines:
        line, inline_links = _strip_markdown_links(raw_line.strip())
        links.extend(inline_links)
        if meta := _META_LINE.match(line):
            meta_url = meta_url or meta.group(2)
        elif url := _URL_LINE.match(line):
            links.append(url.group(1))
        elif rel := _RELATED_LINE.match(line):
            related.append(rel.group(1).strip())
        elif _MD_HEADING.match(line):
            blocks.extend([[line], []])
            continue
        elif line:
            blocks[-1].append(line)
            continue
        blocks.append([])
    return [block for block in blocks if block], links, related, meta_url


def _strip_markdown_links(line: str) -> tuple[str, list[str]]:
    urls = [match.group(2) for match in _MD_LINK.finditer(line)]
    return _MD_LINK.sub(r"\1", line), urls


def _take_title(blocks: list[list[str]]) -> tuple[str | None, list[str]]:
    """The first heading, or a first line that reads as a title, and the remaining paragraphs."""
    title = None
    if blocks and _reads_as_title(blocks[0]):
        title = _heading_text(blocks[0][0]) or blocks[0][0]
        blocks = blocks[1:]
    return title, [_heading_text(block[0]) or _reflow(block) for block in blocks]


def _heading_text(line: str) -> str | None:
    match = _MD_HEADING.match(line)
    return match.group(1) if match else None


def _reads_as_title(block: list[str]) -> bool:
    if len(block) != 1:
        return False
    line = block[0]
    if _heading_text(line):
        return True
    return len(line) <= _TITLE_MAX_CHARS and not line.endswith(_SENTENCE_ENDINGS)


def _reflow(block: list[str]) -> str:
    """Join hard-wrapped lines; a hyphen that ends a line stays glued to the next word."""
    text = block[0]
    for line in block[1:]:
        glued = text.endswith("-") and not text.endswith(" -") and line[:1].isalpha()
        text += line if glued else " " + line
    return re.sub(r"[ \t]+", " ", text)


class _HTMLArticle(HTMLParser):
    """Reduces an HTML page to its article text, title and canonical URL, with the stdlib only."""

    _SKIP = frozenset(
        [
            "script",
            "style",
            "nav",
            "header",
            "footer",
            "aside",
            "form",
            "noscript",
            "svg",
            "figure",
            "button",
            "template",
            "iframe",
        ]
    )
    _BLOCK = frozenset(
        [
            "p",
            "div",
            "section",
            "article",
            "br",
            "li",
            "h1",
            "h2",
            "h3",
            "h4",
            "h5",
            "h6",
            "blockquote",
            "pre",
            "tr",
            "table",
            "ul",
            "ol",
            "main",
            "hr",
        ]
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.article_parts: list[str] | None = None
        self.title = ""
        self.h1 = ""
        self.url: str | None = None
        self._skip_depth = 0
        self._in_title = False
        self._in_h1 = False
        self._article_depth = 0

    @classmethod
    def parse(cls, html: str) -> _HTMLArticle:
        parser = cls()
        parser.feed(html)
        parser.close()
        return parser

    @property
    def text(self) -> str:
        parts = self.article_parts if self.article_parts else self.parts
        return re.sub(r"\n{3,}", "\n\n", "".join(parts)).strip()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag in self._SKIP:
            self._skip_depth += 1
        elif tag == "title":
            self._in_title = True
        elif tag == "h1" and not self.h1:
            self._in_h1 = True
        elif tag == "article":
            self._article_depth += 1
            if self.article_parts is None:
                self.article_parts = []
        self._note_url(tag, values)
        if tag in self._BLOCK:
            self._emit("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and self._skip_depth:
            self._skip_depth -= 1
        elif tag == "title":
            self._in_title = False
        elif tag == "h1":
            self._in_h1 = False
        elif tag == "article" and self._article_depth:
            self._article_depth -= 1
        if tag in self._BLOCK:
            self._emit("\n\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
            return
        if self._skip_depth:
            return
        if self._in_h1:
            self.h1 += data
            return
        self._emit(re.sub(r"\s+", " ", data))

    def _emit(self, text: str) -> None:
        self.parts.append(text)
        if self._article_depth and self.article_parts is not None:
            self.article_parts.append(text)

    def _note_url(self, tag: str, values: dict[str, str | None]) -> None:
        if self.url:
            return
        if tag == "link" and (values.get("rel") or "").lower() == "canonical":
            self.url = values.get("href")
        elif tag == "meta" and values.get("property") == "og:url":
            self.url = values.get("content")

    def close(self) -> None:
        super().close()
        self.title = " ".join((self.h1 or self.title).split())
