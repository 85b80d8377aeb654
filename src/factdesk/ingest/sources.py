"""Where articles come from: files and folders, article URLs, and RSS/Atom feeds.

Fetching is polite and bounded, because a news bot is pointed at other people's servers, often on
a timer: a User-Agent that names factdesk, at most MAX_CONCURRENT requests at once, retries with
backoff on 429 and 5xx that honour Retry-After, one deadline for each whole request (headers and
redirects included), the size cap of FACTDESK_MAX_FILE_MB, at most MAX_REDIRECTS redirects,
content types checked before the body is read, and at most FACTDESK_FEED_MAX_ITEMS items a feed,
each page parsed as it arrives so that only a few bodies are held at once. A URL or feed named
by the user that cannot be used stops the run before anything is indexed (like a missing path);
a feed item that fails, its address malformed included, is skipped with its reason.

An article from the web is identified by its canonical URL, so the same story reached through a
feed link with tracking parameters, a redirect or the page itself is indexed once.
"""

from __future__ import annotations

import email.utils
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, urldefrag, urlsplit

from factdesk import __version__
from factdesk.config import Settings
from factdesk.errors import FetchError
from factdesk.ingest.documents import (
    Article,
    Scan,
    Skipped,
    capped_title,
    decode_html,
    parse_article,
    parse_date,
    require_paths,
    scan_paths,
)

USER_AGENT = f"factdesk/{__version__} (news question-answering bot; httpx)"
MAX_REDIRECTS = 5
MAX_CONCURRENT = 4
MAX_RETRY_WAIT = 60.0  # seconds; a server asking to wait longer is treated as down
HTML_TYPES = frozenset(["text/html", "application/xhtml+xml"])
FEED_TYPES = frozenset(
    [
        "application/rss+xml",
        "application/atom+xml",
        "application/rdf+xml",
        "application/x-rss+xml",
        "application/xml",
        "text/xml",
    ]
)
# Types some servers send for anything: the body decides.
SNIFFED_TYPES = frozenset(["", "text/plain", "application/octet-stream"])
_ACCEPT = (
    "text/html,application/xhtml+xml,application/rss+xml,application/atom+xml,"
    "application/xml;q=0.9,*/*;q=0.1"
)
_WEB_DEFAULT_CHARSET = "cp1252"

Progress = Callable[[int, int], None]


def is_url(target: str | Path) -> bool:
    """Whether a command-line target names a web address rather than a file or folder."""
    return isinstance(target, str) and target.lower().startswith(("http://", "https://"))


@dataclass(frozen=True)
class Page:
    """A fetched response body; `url` is where it was found after redirects."""

    url: str
    content: bytes
    media_type: str
    charset: str | None

    @property
    def kind(self) -> str | None:
        """ "feed", "html" or None, from the content type and, when that is vague, the body."""
        head = self.content[:512].lstrip().lower()
        looks_like_feed = head.startswith(b"<?xml") and (b"<rss" in head or b"<feed" in head)
        looks_like_feed |= head.startswith((b"<rss", b"<feed", b"<rdf"))
        if self.media_type in FEED_TYPES or looks_like_feed:
            return "feed"
        if self.media_type in HTML_TYPES or head.startswith((b"<!doctype html", b"<html")):
            return "html"
        return None


@dataclass(frozen=True)
class FeedItem:
    """One entry of a feed: the link to fetch and what the feed says about it."""

    feed: str
    link: str | None
    title: str | None
    published: str | None

    @property
    def name(self) -> str:
        return self.link or f"item {self.title or '(untitled)'!r}"


class Fetcher:
    """One HTTP client for a run, shared by its threads, applying every fetching limit."""

    def __init__(
        self, settings: Settings, backoff: float = 1.0, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        import httpx

        from factdesk.ingest.deadline import DeadlineBackend

        self.timeout = settings.fetch_timeout
        self.retries = settings.fetch_retries
        self.max_bytes = settings.max_file_bytes
        self.max_items = settings.feed_max_items
        self.backoff = backoff
        self._sleep = sleep
        self._slots = threading.BoundedSemaphore(MAX_CONCURRENT)
        limits = httpx.Limits(max_connections=MAX_CONCURRENT)
        transport = httpx.HTTPTransport(limits=limits)
        hooks: dict[str, Any] = {}
        backend: Any = None
        if not settings.fetch_allow_private:
            from factdesk.ingest.addresses import PublicOnlyBackend, check_url

            backend = PublicOnlyBackend()
            hooks = {"request": [lambda r: check_url(r.url)]}
        # httpx has no public way to choose the connection backend; httpcore's pool has one
        transport._pool._network_backend = DeadlineBackend(backend)
        self._client = httpx.Client(
            timeout=httpx.Timeout(self.timeout),
            follow_redirects=True,
            max_redirects=MAX_REDIRECTS,
            transport=transport,
            headers={"User-Agent": USER_AGENT, "Accept": _ACCEPT},
            event_hooks=hooks,
        )

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections; requests still running in other threads fail at once."""
        self._client.close()

    def get(self, url: str) -> Page:
        """The body at `url`, retried on 429 and 5xx; FetchError with a short reason otherwise."""
        attempt = 0
        while True:
            with self._slots:
                outcome = self._attempt(url)
            if isinstance(outcome, Page):
                return outcome
            status, wait = outcome
            if attempt >= self.retries:
                raise FetchError(_status_text(status) + _after_retries(attempt))
            wait = self.backoff * 2**attempt if wait is None else wait
            if wait > MAX_RETRY_WAIT:
                raise FetchError(f"{_status_text(status)}, retry asked after {wait:.0f} s")
            self._sleep(wait)
            attempt += 1

    def _attempt(self, url: str) -> Page | tuple[int, float | None]:
        """One request: a page, or (status, Retry-After seconds) when it is worth retrying."""
        import httpx

        from factdesk.ingest.addresses import BlockedAddress
        from factdesk.ingest.deadline import within

        deadline = time.monotonic() + self.timeout
        try:
            urlsplit(url).port  # noqa: B018  (httpx lets `[::1` or port 99999 through, or fails late)
            with within(self.timeout), self._client.stream("GET", url) as response:
                if response.status_code == 429 or response.status_code >= 500:
                    return response.status_code, _retry_after(response.headers.get("retry-after"))
                if response.status_code >= 400:
                    raise FetchError(_status_text(response.status_code))
                media_type, charset = _content_type(response.headers.get("content-type", ""))
                if media_type not in HTML_TYPES | FEED_TYPES | SNIFFED_TYPES:
                    raise FetchError(f"not an HTML page or a feed (content type {media_type})")
                body = self._read(response, deadline)
                return Page(str(response.url), body, media_type, charset)
        except BlockedAddress as exc:
            parts = _split(url)
            if parts is None or parts.hostname != exc.host:
                raise exc.after_redirect() from None
            raise
        except (httpx.InvalidURL, ValueError) as exc:  # an address no request can be made to
            raise FetchError(f"not a valid web address ({_first_line(exc)})") from None
        except httpx.TooManyRedirects:
            raise FetchError(f"too many redirects (more than {MAX_REDIRECTS})") from None
        except httpx.TimeoutException:
            raise FetchError(f"timed out after {self.timeout:g} s") from None
        except httpx.UnsupportedProtocol:
            raise FetchError("not an http(s) address") from None
        except httpx.HTTPError as exc:
            raise FetchError(_network_reason(exc)) from None

    def _read(self, response: Any, deadline: float) -> bytes:
        """The body, stopped at the size cap and at the deadline (a slow trickle never ends)."""
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise FetchError(self._too_large())
        body = bytearray()
        for piece in response.iter_bytes():
            body += piece
            if len(body) > self.max_bytes:
                raise FetchError(self._too_large())
            if time.monotonic() > deadline:
                raise FetchError(f"timed out after {self.timeout:g} s")
        return bytes(body)

    def _too_large(self) -> str:
        return f"too large (over {round(self.max_bytes / 1_048_576, 2):g} MB, FACTDESK_MAX_FILE_MB)"


def _content_type(header: str) -> tuple[str, str | None]:
    media_type, _, parameters = header.partition(";")
    charset = None
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip("\"'") or None
    return media_type.strip().lower(), charset


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header: a number of seconds or an HTTP date."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _after_retries(attempts: int) -> str:
    if not attempts:
        return ""
    return f" after {attempts} retr{'y' if attempts == 1 else 'ies'}"


def _status_text(status: int) -> str:
    try:
        return f"HTTP {status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP {status}"


def _network_reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    if "refused" in text.lower():
        return "connection refused"
    if "name or service not known" in text.lower() or "nodename nor servname" in text.lower():
        return "unknown host"
    return _first_line(exc)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:200]


def _split(url: str) -> SplitResult | None:
    """The parts of a URL; None for one that cannot be taken apart (`http://[::1/`)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (a port out of range raises only when read)
    except ValueError:
        return None
    return parts


# -- pages and feeds to articles ---------------------------------------------------------------


def web_article(page: Page, item: FeedItem | None = None) -> Article:
    """The article in an HTML page, identified by its canonical URL; a feed item fills in the
    date and title the page does not give."""
    html = decode_html(page.content, page.charset, default=_WEB_DEFAULT_CHARSET)
    parsed = parse_article(html, fallback_title=_name_in_url(page.url), kind="html", url=page.url)
    if not parsed.text:
        raise FetchError("no article text found in the page")
    address = canonical_url(parsed.url, page.url)
    title, own_title = parsed.title, parsed.has_own_title
    if not own_title and item and item.title:
        title, own_title = capped_title(item.title), True
    return replace(
        parsed,
        doc_id=address,
        source=address,
        url=address,
        title=title,
        has_own_title=own_title,
        published=parsed.published or (item.published if item else None),
    )


def canonical_url(declared: str | None, fetched: str) -> str:
    """The page's own address for it, trusted only on the site it was fetched from.

    A page may name any URL as canonical; accepting another site's would let it overwrite that
    site's article in the index, and a site-wide canonical (the home page) would merge every
    article into one.
    """
    from courlan import is_external

    fetched = urldefrag(fetched).url
    if not declared or not is_url(declared) or _split(declared) is None:
        return fetched
    declared = urldefrag(declared).url
    try:
        external = is_external(declared, fetched)
    except ValueError:  # courlan takes apart what urlsplit accepts, not always the same way
        return fetched
    if external or (_is_home(declared) and not _is_home(fetched)):
        return fetched
    return declared


def same_article_key(url: str | None) -> str | None:
    """What makes two articles one: their canonical URL, compared without fragment, case of the
    host or a trailing slash. None for no URL, or a home page (a site-wide canonical)."""
    if not url or not is_url(url) or (parts := _split(urldefrag(url).url)) is None:
        return None
    if _is_home(url):
        return None
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path.rstrip('/')}?{parts.query}"


def _is_home(url: str) -> bool:
    parts = _split(url)
    return parts is not None and parts.path in ("", "/")


def _name_in_url(url: str) -> str:
    parts = _split(url)
    if parts is None:
        return url
    return parts.path.rstrip("/").rsplit("/", 1)[-1] or parts.netloc


def feed_items(page: Page) -> list[FeedItem]:
    """The entries of an RSS or Atom feed, links resolved against where the feed was found, in
    the feed's order."""
    import feedparser

    headers = {"content-location": page.url}
    if page.charset:
        headers["content-type"] = f"{page.media_type}; charset={page.charset}"
    parsed = feedparser.parse(page.content, response_headers=headers)
    if not parsed.get("version") and not parsed.entries:
        raise FetchError("not an RSS or Atom feed")
    return [_item(page.url, entry) for entry in parsed.entries]


def _item(feed: str, entry: Any) -> FeedItem:
    stamp = entry.get("published_parsed") or entry.get("updated_parsed")
    published = time.strftime("%Y-%m-%d", stamp) if stamp else None
    raw = entry.get("published") or entry.get("updated")
    title = " ".join(str(entry.get("title") or "").split()) or None
    link = entry.get("link") or None
    return FeedItem(feed, link, title, published or (parse_date(raw) if raw else None))


# -- a run's targets -----------------------------------------------------------------------


def check_targets(targets: Iterable[str | Path]) -> None:
    """Fail on a missing path before anything slow happens (a typo must not index nothing)."""
    require_paths([Path(target) for target in targets if not is_url(target)])


def gather(
    targets: Sequence[str | Path],
    settings: Settings,
    progress: Progress | None = None,
    fetcher: Fetcher | None = None,
    reading: Progress | None = None,
) -> Scan:
    """Read every target: files and folders from disk, URLs and feeds from the web. `progress`
    hears about feed items fetched, `reading` about files read.

    Raises FetchError if a URL itself cannot be used; feed items that fail become skips.
    """
    paths = [Path(target) for target in targets if not is_url(target)]
    urls = list(dict.fromkeys(str(target) for target in targets if is_url(target)))
    scan = Scan()
    if paths:
        scan = scan_paths(paths, settings.max_file_bytes, reading, settings.follow_outside_links)
    if urls:
        with _fetcher(settings, fetcher) as web:
            web_scan = read_urls(urls, web, progress)
        scan.articles.extend(web_scan.articles)
        scan.skipped.extend(web_scan.skipped)
        scan.notes.extend(web_scan.notes)
    return scan


@contextmanager
def _fetcher(settings: Settings, given: Fetcher | None) -> Iterator[Fetcher]:
    if given is not None:
        yield given
        return
    with Fetcher(settings) as fetcher:
        yield fetcher


def read_urls(urls: Sequence[str], fetcher: Fetcher, progress: Progress | None = None) -> Scan:
    """Articles from article URLs and from the newest items of feed URLs, fetched in parallel;
    each item's page becomes an article (or a skip) as soon as it arrives."""
    pool = ThreadPoolExecutor(MAX_CONCURRENT, thread_name_prefix="factdesk-fetch")
    scan = Scan()
    try:
        pages = list(pool.map(lambda url: _required(fetcher, url), urls))
        items = _split_pages(urls, pages, fetcher.max_items, scan)
        del pages  # the feeds' bodies are read: let them go before the items' arrive
        for item, outcome in _fetch_items(pool, fetcher, items, progress):
            if isinstance(outcome, FetchError):
                scan.skipped.append(Skipped(item.name, str(outcome), feed=item.feed))
            else:
                scan.articles.append(outcome)
    except BaseException as exc:
        if not isinstance(exc, FetchError):  # Ctrl-C: stop the requests in flight, don't wait
            fetcher.close()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return scan


def _item_article(fetcher: Fetcher, item: FeedItem) -> Article:
    """The article an item links to, read from its page at once so that the body can go."""
    if not item.link:
        raise FetchError("the feed gives no link")
    page = fetcher.get(item.link)
    if page.kind != "html":
        raise FetchError(f"not an HTML page (content type {page.media_type or 'none'})")
    return web_article(page, item)


def _required(fetcher: Fetcher, url: str) -> Page:
    """A page named by the user: any failure is the run's failure, named with its URL."""
    try:
        page = fetcher.get(url)
        if page.kind is None:
            kind = page.media_type or "none"
            raise FetchError(f"not an HTML page or a feed (content type {kind})")
        return page
    except FetchError as exc:
        raise FetchError(f"Cannot fetch {url}: {exc}") from None


def _split_pages(
    urls: Sequence[str], pages: Sequence[Page], max_items: int, scan: Scan
) -> list[FeedItem]:
    """Article pages become articles in `scan` now; feeds give the items still to fetch, the
    newest `max_items` of each (a note in `scan` says when a feed was cut)."""
    items: list[FeedItem] = []
    seen: set[str] = set()  # a link listed twice, in one feed or two, is fetched once
    for url, page in zip(urls, pages, strict=True):
        try:
            if page.kind == "feed":
                listed = feed_items(page)
                for item in newest(listed, max_items):
                    if item.link is None or item.link not in seen:
                        items.append(item)
                        seen.add(item.link or "")
                if len(listed) > max_items:
                    scan.notes.append(
                        f"The feed {url} lists {len(listed):,} items: only the newest "
                        f"{max_items:,} are read (FACTDESK_FEED_MAX_ITEMS)."
                    )
            else:
                scan.articles.append(web_article(page))
        except FetchError as exc:
            raise FetchError(f"Cannot use {url}: {exc}") from None
    return items


def newest(items: Sequence[FeedItem], count: int) -> list[FeedItem]:
    """The `count` newest items: dated ones by their dates, newest first, then the undated in
    the feed's order (feeds list their newest first)."""
    order = sorted(range(len(items)), key=lambda n: items[n].published or "", reverse=True)
    return [items[n] for n in sorted(order[:count])]


def _fetch_items(
    pool: ThreadPoolExecutor, fetcher: Fetcher, items: list[FeedItem], progress: Progress | None
) -> Iterator[tuple[FeedItem, Article | FetchError]]:
    """Every item with its article or the reason it could not be had, in the items' order."""

    def fetch(item: FeedItem) -> Article | FetchError:
        try:
            return _item_article(fetcher, item)
        except FetchError as exc:
            return exc

    if progress:
        progress(0, len(items))
    for done, (item, outcome) in enumerate(zip(items, pool.map(fetch, items), strict=True), 1):
        yield item, outcome
        if progress:
            progress(done, len(items))
