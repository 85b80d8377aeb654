"""Articles: finding them on disk, reading them safely and cleaning their text.

Cleaning matters for citations: quotes are cut from the cleaned text, so hard-wrapped lines are
re-flowed into paragraphs and boilerplate (bare URL lines, "Related article: ..." lines) is moved
into metadata instead of polluting passages. HTML, from a file or the web, goes through
trafilatura, which keeps the article and drops menus, cookie banners, newsletter boxes, related
links and footers. A publication date comes from the page's metadata or from a `Date:` or
`Published:` line at the top of a text file.
"""

from __future__ import annotations

import codecs
import email.utils
import hashlib
import logging
import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from factdesk.config import Settings
from factdesk.errors import SourceError
from factdesk.printable import printable

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm")
logger = logging.getLogger("factdesk.documents")
DEFAULT_MAX_FILE_BYTES = int(Settings.model_fields["max_file_mb"].default * 1024 * 1024)

_URL_LINE = re.compile(r"^<?(https?://\S+?)>?$")
_RELATED_LINE = re.compile(
    r"^(?:related(?: article| story| reading)?|read more|see also)\s*:\s*(.+)$", re.I
)
_META_LINE = re.compile(r"^(url|source)\s*:\s*(https?://\S+)\s*$", re.I)
_DATE_LINE = re.compile(r"^(?:date|published(?: on)?|publication date)\s*:\s*(.+)$", re.I)
_DATE_LINES_AT_TOP = 5  # a date line counts only among the first non-blank lines
_DATE_FORMATS = (
    "%Y/%m/%d",
    "%d %B %Y",
    "%d %b %Y",
    "%B %d, %Y",
    "%b %d, %Y",
    "%B %d %Y",
    "%b %d %Y",
)
_WEEKDAY = re.compile(r"^(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?,?\s+", re.I)
_ORDINAL = re.compile(r"(\d)(?:st|nd|rd|th)\b")
_TABLE_RULE = re.compile(r"^\|(?:\s*:?-+:?\s*\|)+$")
_META_CHARSET = re.compile(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.I)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# A text file's byte-order marks, the longer first (UTF-32's starts like UTF-16's).
_TEXT_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    *_BOMS,
)
# Browsers read these labels as windows-1252, and so do pages that declare them.
_WINDOWS_1252_ALIASES = frozenset(["iso8859-1", "ascii"])
_MD_HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")
_MD_LINK = re.compile(r"\[([^\]]+)\]\((https?://[^)\s]+)\)")
_TITLE_MAX_CHARS = 150
# No title is kept longer than this (a page may hold a megabyte in its <title>): every passage
# carries its article's title, and front ends show it.
MAX_TITLE_CHARS = 300
_SENTENCE_ENDINGS = (".", ",", ";", ":", "!", "?", "”", '"')
# A folder where at least this many files, and half of them, are rarely news gets a warning.
_MANY_UNLIKELY = 20
_NOT_NEWS_NAMES = ("LICENSE", "LICENCE", "COPYING", "NOTICE", "AUTHORS", "CHANGELOG", "INSTALLER")
_NOT_NEWS_FOLDERS = frozenset(["site-packages", "dist-packages", "node_modules", "__pycache__"])
_PACKAGE_FOLDERS = (".dist-info", ".egg-info")
OUTSIDE_LINK = "a link to a file outside the folder (FACTDESK_FOLLOW_OUTSIDE_LINKS=true follows it)"


@dataclass(frozen=True)
class Article:
    """One cleaned article, ready to chunk; `doc_id` is stable across runs (its absolute path,
    or for an article from the web its canonical URL). `published` is an ISO date or None."""

    doc_id: str
    source: str
    title: str
    text: str
    url: str | None = None
    links: tuple[str, ...] = ()
    related: tuple[str, ...] = ()
    has_own_title: bool = False
    published: str | None = None
    author: str | None = None

    @property
    def content_hash(self) -> str:
        """Changes whenever anything that ends up in the index changes.

        The date counts only when known, so articles without one keep the hash they had before
        dates existed and are not re-embedded for nothing.
        """
        digest = hashlib.sha256()
        parts = [self.title, self.url or "", self.text, *self.links, *self.related]
        if self.published:
            parts.append(f"published={self.published}")
        for part in parts:
            digest.update(part.encode("utf-8"))
            digest.update(b"\0")
        return digest.hexdigest()


@dataclass(frozen=True)
class Skipped:
    """A file or web page that was not indexed, and why, in words for the user; `feed` names the
    feed a skipped web page was listed in. `kept` is set when the file or folder exists but
    cannot be read now: what the index holds from it (its absolute path, or under it) stays."""

    source: str
    reason: str
    feed: str | None = None
    kept: str | None = None


@dataclass
class Scan:
    """The outcome of reading the given paths: articles, skipped files and the folders scanned;
    `notes` are warnings about the run as a whole (a feed cut to its newest items)."""

    articles: list[Article] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    roots: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def kept(self) -> list[str]:
        """Paths whose indexed articles stay although nothing was read from them this time."""
        return [item.kept for item in self.skipped if item.kept]


def scan_paths(
    paths: Iterable[Path],
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    progress: Callable[[int, int], None] | None = None,
    follow_outside_links: bool = False,
) -> Scan:
    """Read every supported file under `paths`; a missing path is an error, a bad file a skip.
    `progress` hears (files read, files found): HTML pages take a while each. A link in a
    folder to a file outside it is skipped unless `follow_outside_links`."""
    paths = list(paths)
    require_paths(paths)
    scan = Scan(roots=[path.resolve() for path in paths])
    unreadable: list[OSError] = []
    files = [(file, path) for path in paths for file in _files_under(path, unreadable.append)]
    for error in unreadable:
        folder = Path(error.filename)
        reason = f"unreadable folder ({error.strerror or error}); what was indexed from it is kept"
        scan.skipped.append(Skipped(display_path(folder), reason, kept=_absolute(folder)))
    for done, (file, root) in enumerate(files, 1):
        _read_into(scan, file, max_file_bytes, None if follow_outside_links else root)
        if progress:
            progress(done, len(files))
    return scan


def _leaves(file: Path, root: Path) -> bool:
    """Whether `file`, found in the folder `root`, is (through links) a file outside it."""
    if not root.is_dir():
        return False  # a file named itself: the person chose it
    return not Path(_absolute(file)).is_relative_to(_absolute(root))


def _absolute(path: Path) -> str:
    """The path with every link resolved; unlike Path.resolve, never raising on a link loop."""
    return os.path.realpath(path)


@dataclass
class Survey:
    """What a run's folders hold, counted before anything is read: `articles` are the files of
    article types; `unlikely` those rarely news (licences, code, packages, caches), which a
    folder given by mistake is full of."""

    files: int = 0
    articles: int = 0
    unlikely: int = 0
    examples: list[str] = field(default_factory=list)

    @property
    def looks_mistaken(self) -> bool:
        return self.unlikely >= _MANY_UNLIKELY and self.unlikely * 2 >= self.files


def survey_paths(paths: Iterable[Path]) -> Survey:
    """Count the files under `paths` and those unlikely to be news, without reading any."""
    survey = Survey()
    for path in paths:
        for file in _files_under(path):
            survey.files += 1
            survey.articles += file.suffix.lower() in SUPPORTED_SUFFIXES
            if kind := _unlikely_kind(file, path):
                survey.unlikely += 1
                if kind not in survey.examples and len(survey.examples) < 3:
                    survey.examples.append(kind)
    return survey


def _unlikely_kind(file: Path, root: Path) -> str | None:
    """Why a file is probably not an article (`LICENSE`, `site-packages/`, `.pyc`), or None."""
    stem = file.stem.upper()
    if stem.startswith(_NOT_NEWS_NAMES):
        return stem.split("-")[0].split("_")[0]
    for part in file.relative_to(root).parts[:-1] if file != root else ():
        if part.lower() in _NOT_NEWS_FOLDERS or part.lower().endswith(_PACKAGE_FOLDERS):
            return f"{part}/"
    suffix = file.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        return suffix or "no extension"
    return None


def require_paths(paths: Iterable[Path]) -> None:
    """Fail on the first path that does not exist: a typo must not index nothing in silence."""
    for path in paths:
        if not path.exists():
            raise SourceError(f"No such file or folder: {path}")


def _files_under(path: Path, unreadable: Callable[[OSError], None] | None = None) -> Iterator[Path]:
    """The files under a folder, in order (not those of linked folders), or the path itself
    when it is no folder; `unreadable` hears of folders that cannot be listed."""
    if not path.is_dir():
        yield path
        return
    for folder, dirs, files in os.walk(path, onerror=unreadable):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith("."):
                yield Path(folder) / name


def _read_into(scan: Scan, file: Path, max_file_bytes: int, within: Path | None) -> None:
    """Read `file` into `scan`, or skip it with its reason; a link out of the folder `within`
    is never read."""
    source = display_path(file)
    if file.suffix.lower() not in SUPPORTED_SUFFIXES:
        scan.skipped.append(Skipped(source, "unsupported file type"))
        return
    if within is not None and _leaves(file, within):
        scan.skipped.append(Skipped(source, OUTSIDE_LINK))
        return
    try:
        article = read_article(file, max_file_bytes)
    except UnreadableFile as exc:
        reason = f"{exc}; what was indexed from it is kept"
        scan.skipped.append(Skipped(source, reason, kept=_absolute(file)))
        return
    except SourceError as exc:
        scan.skipped.append(Skipped(source, str(exc)))
        return
    scan.articles.append(article)


class UnreadableFile(SourceError):
    """A file that is there but cannot be read now (permissions, a link loop, a disk error)."""


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
    has_bom = any(raw.startswith(bom) for bom, _ in _TEXT_BOMS)
    if b"\0" in raw[:8192] and not has_bom:
        raise SourceError("binary file")
    kind = "html" if file.suffix.lower() in (".html", ".htm") else "text"
    content = decode_html(raw) if kind == "html" else decode_text(raw, display_path(file))
    if not content.strip():
        raise SourceError("empty file")
    article = parse_article(content, fallback_title=file.stem, kind=kind)
    if not article.text:
        raise SourceError("no article text")
    return Article(
        doc_id=Path(_absolute(file)).as_posix(),
        source=display_path(file),
        title=article.title,
        text=article.text,
        url=article.url,
        links=article.links,
        related=article.related,
        has_own_title=article.has_own_title,
        published=article.published,
        author=article.author,
    )


def decode_text(raw: bytes, name: str = "") -> str:
    """Text bytes as text: by their byte-order mark, else as UTF-8, else in the encoding
    charset-normalizer finds most likely (newsroom exports are often Latin-1 or Windows-1252),
    with a warning that it was a guess."""
    for bom, codec in _TEXT_BOMS:
        if raw.startswith(bom):
            try:
                return raw.decode(codec)
            except UnicodeDecodeError:
                raise SourceError("binary file") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        from charset_normalizer import from_bytes

        best = from_bytes(raw).best()
        if best is None:
            raise SourceError(f"not UTF-8 (bad byte at offset {exc.start})") from None
        shown = printable(name, lines=False) if name else "A file"
        logger.warning("%s is not UTF-8: read as %s (a guess)", shown, best.encoding)
        return str(best)


def decode_html(raw: bytes, declared: str | None = None, default: str | None = None) -> str:
    """HTML bytes as text, in the encoding a browser would pick: a byte-order mark, then the
    charset `declared` by the server, then a `<meta>` charset, then UTF-8.

    Without any of them, bytes that are not UTF-8 are read as `default` (windows-1252 on the
    web, where that is the historical default) or, for files, refused with a reason.
    """
    for bom, codec in _BOMS:
        if raw.startswith(bom):
            return raw.decode(codec, errors="replace")
    meta = _META_CHARSET.search(raw[:4096])
    for label in (declared, meta.group(1).decode("ascii") if meta else None):
        if chosen := _codec(label):
            return raw.decode(chosen, errors="replace")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        if default:
            return raw.decode(default, errors="replace")
        raise SourceError(
            f"not UTF-8 (bad byte at offset {exc.start}) and no charset declared"
        ) from None


def _codec(label: str | None) -> str | None:
    if not label:
        return None
    try:
        name = codecs.lookup(label.strip()).name
    except LookupError:
        return None
    return "cp1252" if name in _WINDOWS_1252_ALIASES else name


# Opening never waits (a FIFO would block until a writer came) and never takes a terminal.
_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0)
_SPECIAL_KINDS = (
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISCHR, "a device"),
    (stat.S_ISBLK, "a device"),
    (stat.S_ISSOCK, "a socket"),
)


def _read_bytes(file: Path, max_file_bytes: int) -> bytes:
    """A regular file's bytes, at most the size cap: a pipe, a device (a link to /dev/zero)
    or a file growing while read never makes a read that does not end."""
    try:
        descriptor = os.open(file, _OPEN_FLAGS)
    except FileNotFoundError:
        raise SourceError("disappeared while indexing") from None
    except OSError as exc:
        raise UnreadableFile(f"unreadable ({exc.strerror or exc})") from None
    with os.fdopen(descriptor, "rb") as handle:
        try:
            info = os.fstat(descriptor)
            if not stat.S_ISREG(info.st_mode):
                kind = next((name for test, name in _SPECIAL_KINDS if test(info.st_mode)), None)
                raise SourceError(f"not a regular file ({kind or 'a special file'})")
            if info.st_size > max_file_bytes:
                raise _too_large(f"{info.st_size / 1_048_576:.1f} MB", max_file_bytes)
            raw = handle.read(max_file_bytes + 1)  # one byte more tells a file that grew
        except OSError as exc:
            raise UnreadableFile(f"unreadable ({exc.strerror or exc})") from None
    if len(raw) > max_file_bytes:
        raise _too_large(f"over {max_file_bytes / 1_048_576:.1f} MB", max_file_bytes)
    return raw


def _too_large(size: str, max_file_bytes: int) -> SourceError:
    return SourceError(
        f"too large ({size}; the limit is {max_file_bytes / 1_048_576:.1f} MB, "
        "FACTDESK_MAX_FILE_MB)"
    )


def parse_article(
    content: str, fallback_title: str, kind: str = "text", url: str | None = None
) -> Article:
    """Clean raw article text (or HTML) into title, body and metadata; ids are filled by callers.

    `url` is where an HTML page was fetched from: trafilatura reads it as the page's address
    when the page declares no canonical one.
    """
    if kind == "html":
        return _parse_html(content, fallback_title, url)
    parts = _split_blocks(content)
    title, paragraphs = _take_title(parts.blocks)
    return Article(
        doc_id="",
        source="",
        title=capped_title(title or _lede_title(paragraphs) or fallback_title),
        has_own_title=title is not None,
        text="\n\n".join(paragraphs),
        url=parts.url,
        links=tuple(dict.fromkeys(parts.links)),
        related=tuple(dict.fromkeys(parts.related)),
        published=parts.published,
    )


_FIRST_SENTENCE = re.compile(r"^(.{20,}?[.!?][\"”’)]*)(?:\s|$)", re.S)
TITLE_CHARS = 80


def capped_title(title: str) -> str:
    """A title of at most MAX_TITLE_CHARS, cut at a word."""
    if len(title) <= MAX_TITLE_CHARS:
        return title
    cut = title[: MAX_TITLE_CHARS - 1]
    return (cut.rsplit(" ", 1)[0] if " " in cut[MAX_TITLE_CHARS // 2 :] else cut) + "…"


def _lede_title(paragraphs: list[str]) -> str | None:
    """A name for an article without a headline: its first sentence, cut at a word near
    TITLE_CHARS. Only shown (status, citations, Slack); never read as the article's title."""
    if not paragraphs:
        return None
    text = " ".join(paragraphs[0].split())
    match = _FIRST_SENTENCE.match(text)
    sentence = match.group(1) if match else text
    if len(sentence) <= TITLE_CHARS:
        return sentence
    return sentence[: TITLE_CHARS - 1].rsplit(" ", 1)[0].rstrip(",;:") + "…"


def _parse_html(html: str, fallback_title: str, url: str | None) -> Article:
    """The article in a page, through trafilatura; related-article and bare URL lines that slip
    through are moved into metadata as for text files."""
    document = _extract_html(html, url)
    title = " ".join((document.title or "").split()) if document else ""
    lines = _html_lines(document.text or "", title) if document else []
    parts = _split_blocks("\n\n".join(lines))
    return Article(
        doc_id="",
        source="",
        title=capped_title(title or fallback_title),
        has_own_title=bool(title),
        text="\n\n".join(_reflow(block) for block in parts.blocks),
        url=document.url if document else None,
        links=tuple(dict.fromkeys(parts.links)),
        related=tuple(dict.fromkeys(parts.related)),
        published=parse_date(document.date) if document and document.date else None,
        author=" ".join(document.author.split()) if document and document.author else None,
    )


def _extract_html(html: str, url: str | None) -> Any:
    """trafilatura's main-text extraction, tuned for precision: a menu or banner quoted as news
    is worse than a paragraph missed. Dates come from the page's metadata, not guessed from
    its text."""
    import trafilatura

    return trafilatura.bare_extraction(
        html,
        url=url,
        with_metadata=True,
        favor_precision=True,
        include_comments=False,
        include_tables=True,
        include_links=False,
        include_images=False,
        deduplicate=False,
        date_extraction_params={"extensive_search": False, "original_date": True},
    )


def _html_lines(text: str, title: str) -> list[str]:
    """trafilatura's lines without the headline it repeats and the rules under table headers."""
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line and not _TABLE_RULE.match(line)]
    if lines and title and " ".join(lines[0].split()).casefold() == title.casefold():
        lines = lines[1:]
    return lines


def parse_date(text: str) -> str | None:
    """An ISO date (YYYY-MM-DD) from the ways news writes dates: ISO 8601, RFC 2822 (feeds and
    e-mail) and "5 March 2024" / "March 5, 2024"; None when it is not a date."""
    text = text.strip().rstrip(".")
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date().isoformat()
    except ValueError:
        pass
    try:
        return email.utils.parsedate_to_datetime(text).date().isoformat()
    except (TypeError, ValueError, IndexError):
        pass
    plain = _ORDINAL.sub(r"\1", _WEEKDAY.sub("", text))
    for form in _DATE_FORMATS:
        try:
            return datetime.strptime(plain, form).date().isoformat()
        except ValueError:
            continue
    return None


@dataclass
class _Parts:
    """A text file taken apart: paragraphs (as lists of lines) and what was pulled out of them."""

    blocks: list[list[str]] = field(default_factory=lambda: [[]])
    links: list[str] = field(default_factory=list)
    related: list[str] = field(default_factory=list)
    url: str | None = None
    published: str | None = None


def _split_blocks(content: str) -> _Parts:
    """Group lines into paragraphs, pulling URL, related-article, source and date lines out.

    A Markdown heading is always a block of its own, so it is never glued to the next paragraph.
    A date line counts only at the top, where a dateline sits; further down it is text.
    """
    parts = _Parts()
    seen = 0
    for raw_line in content.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line, inline_links = _strip_markdown_links(raw_line.strip())
        parts.links.extend(inline_links)
        seen += bool(line)
        if _take_metadata(parts, line, at_top=seen <= _DATE_LINES_AT_TOP):
            parts.blocks.append([])
        elif _MD_HEADING.match(line):
            parts.blocks.extend([[line], []])
        elif line:
            parts.blocks[-1].append(line)
        else:
            parts.blocks.append([])
    parts.blocks = [block for block in parts.blocks if block]
    return parts


def _take_metadata(parts: _Parts, line: str, at_top: bool) -> bool:
    """Move a URL, related-article, source or date line into `parts`; False for any other."""
    if meta := _META_LINE.match(line):
        parts.url = parts.url or meta.group(2)
    elif url := _URL_LINE.match(line):
        parts.links.append(url.group(1))
    elif rel := _RELATED_LINE.match(line):
        parts.related.append(rel.group(1).strip())
    elif at_top and not parts.published and (date := _DATE_LINE.match(line)):
        parts.published = parse_date(date.group(1))
        return parts.published is not None
    else:
        return False
    return True


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
