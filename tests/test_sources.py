"""Fetching article URLs and feeds from a real news site on loopback (no mocked HTTP)."""

from __future__ import annotations

import pytest

from factdesk.errors import FetchError
from factdesk.ingest.sources import (
    MAX_CONCURRENT,
    Fetcher,
    canonical_url,
    check_targets,
    gather,
    is_url,
)

from .conftest import free_port, make_settings
from .newsserver import (
    BOILERPLATE,
    BRIDGE_TITLE,
    HARBOUR_TITLE,
    NewsServer,
    Response,
    atom,
    failing_then,
    fixed,
    page,
    rss,
)


@pytest.fixture
def settings(tmp_path):
    return make_settings(tmp_path / "index", fetch_timeout=1.0, max_file_mb=0.05, fetch_retries=2)


@pytest.fixture
def fetcher(settings):
    with Fetcher(settings, backoff=0.01) as client:
        yield client


def read(targets, settings, fetcher):
    return gather(targets, settings, fetcher=fetcher)


def assert_no_boilerplate(text: str) -> None:
    found = [phrase for phrase in BOILERPLATE if phrase.lower() in text.lower()]
    assert not found, found


def test_article_url_gives_main_text_title_date_author_and_canonical_url(news, settings, fetcher):
    scan = read([news.url("/news/harbour-ferry?utm_source=rss")], settings, fetcher)
    (article,) = scan.articles
    assert article.doc_id == article.url == article.source == news.url("/news/harbour-ferry")
    assert article.title == HARBOUR_TITLE and article.has_own_title
    assert article.published == "2024-03-05" and article.author == "Dana Whitfield"
    assert article.text.startswith("The harbour ferry between Port Ellen and Kilbride")
    assert "- Weekend sailings every hour from 8am" in article.text  # lists kept as text
    assert "| Adult single | £4.50 |" in article.text  # and tables
    assert_no_boilerplate(article.text)


def test_page_without_canonical_link_is_identified_by_its_address(news, settings, fetcher):
    (article,) = read([news.url("/news/bridge-repairs")], settings, fetcher).articles
    assert article.doc_id == news.url("/news/bridge-repairs")
    assert article.title == BRIDGE_TITLE and article.published == "2024-04-18"
    assert "14 of the bridge's steel bearings" in article.text
    assert_no_boilerplate(article.text)


def test_rss_feed_items_are_fetched_and_indexed_by_canonical_url(news, settings, fetcher):
    scan = read([news.url("/feed.xml")], settings, fetcher)
    assert not scan.skipped
    dates = {article.doc_id: article.published for article in scan.articles}
    assert dates == {
        news.url("/news/harbour-ferry"): "2024-03-05",
        news.url("/news/bridge-repairs"): "2024-04-18",
    }
    for article in scan.articles:
        assert_no_boilerplate(article.text)


def test_atom_feed_gives_its_date_to_a_page_without_one(news, settings, fetcher):
    scan = read([news.url("/atom.xml")], settings, fetcher)
    fees = next(a for a in scan.articles if a.doc_id.endswith("/news/port-fees"))
    assert fees.published == "2024-05-02"  # the page has no date; the entry's <published> is
    assert len(scan.articles) == 2 and not scan.skipped


def test_relative_links_in_a_feed_resolve_against_the_feed(news, settings, fetcher):
    news.routes["/feeds/relative.xml"] = fixed(
        Response(atom([(BRIDGE_TITLE, "/news/bridge-repairs", "2024-04-18T05:00:00Z")]))
    )
    scan = read([news.url("/feeds/relative.xml")], settings, fetcher)
    assert [a.doc_id for a in scan.articles] == [news.url("/news/bridge-repairs")]


def test_failing_feed_items_are_skipped_each_with_its_reason(news, settings, fetcher):
    bad = ["/missing", "/slow", "/trickle", "/big", "/big-unannounced", "/photo.jpg", "/loop-a"]
    bad += ["/always-500", "/feed.xml"]
    items = [("Good", "/news/bridge-repairs", "Thu, 18 Apr 2024 05:00:00 GMT")]
    items += [(path, path, "Thu, 18 Apr 2024 05:00:00 GMT") for path in bad]
    news.routes["/mixed.xml"] = fixed(Response(rss(news.base, items), content_type="text/xml"))
    scan = read([news.url("/mixed.xml")], settings, fetcher)
    assert [a.title for a in scan.articles] == [BRIDGE_TITLE]
    reasons = {item.source.removeprefix(news.base): item.reason for item in scan.skipped}
    assert reasons == {
        "/missing": "HTTP 404 Not Found",
        "/slow": "timed out after 1 s",
        "/trickle": "timed out after 1 s",
        "/big": "too large (over 0.05 MB, FACTDESK_MAX_FILE_MB)",
        "/big-unannounced": "too large (over 0.05 MB, FACTDESK_MAX_FILE_MB)",
        "/photo.jpg": "not an HTML page or a feed (content type image/jpeg)",
        "/loop-a": "too many redirects (more than 5)",
        "/always-500": "HTTP 500 Internal Server Error after 2 retries",
        "/feed.xml": "not an HTML page (content type application/rss+xml)",
    }
    assert {item.feed for item in scan.skipped} == {news.url("/mixed.xml")}


def test_an_item_without_a_link_is_skipped(news, settings, fetcher):
    feed = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>
        <item><title>Linkless</title><description>No link here.</description></item>
        </channel></rss>"""
    news.routes["/linkless.xml"] = fixed(Response(feed, content_type="application/rss+xml"))
    scan = read([news.url("/linkless.xml")], settings, fetcher)
    assert not scan.articles
    assert [(s.source, s.reason) for s in scan.skipped] == [
        ("item 'Linkless'", "the feed gives no link")
    ]


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/missing", "HTTP 404 Not Found"),
        ("/gone", "HTTP 410 Gone"),
        ("/slow", "timed out after 1 s"),
        ("/big", "too large (over 0.05 MB, FACTDESK_MAX_FILE_MB)"),
        ("/photo.jpg", "not an HTML page or a feed (content type image/jpeg)"),
        ("/loop-a", "too many redirects (more than 5)"),
        ("/hops/6", "too many redirects (more than 5)"),
        ("/always-500", "HTTP 500 Internal Server Error after 2 retries"),
        ("/broken.xml", "not an RSS or Atom feed"),
    ],
)
def test_a_url_that_cannot_be_used_stops_the_run(news, settings, fetcher, path, reason):
    news.routes["/broken.xml"] = fixed(
        Response(b"<html><p>not xml", content_type="application/rss+xml")
    )
    with pytest.raises(FetchError) as failure:
        read([news.url("/news/bridge-repairs"), news.url(path)], settings, fetcher)
    assert str(failure.value).startswith("Cannot ") and news.url(path) in str(failure.value)
    assert str(failure.value).endswith(reason)
    assert failure.value.exit_code == 8


def test_a_dead_server_is_one_clear_reason(settings, fetcher):
    url = f"http://127.0.0.1:{free_port()}/feed.xml"
    with pytest.raises(FetchError, match=r"^Cannot fetch http://127\.0\.0\.1:\d+/feed\.xml: "):
        read([url], settings, fetcher)
    with pytest.raises(FetchError, match=r"connection refused$"):
        read([url], settings, fetcher)


def test_five_redirects_are_followed(news, settings, fetcher):
    (article,) = read([news.url("/hops/5")], settings, fetcher).articles
    assert article.doc_id == news.url("/hops/0") and article.title == BRIDGE_TITLE


def test_charset_from_the_content_type_header(news, settings, fetcher):
    (article,) = read([news.url("/news/cafes")], settings, fetcher).articles
    assert article.title == "Café owners in Zürich protest rent rises"
    assert "Owners of forty cafés in Zürich's old town" in article.text
    assert "« légitime »" in article.text


def test_charset_from_a_meta_tag(news, settings, fetcher):
    (article,) = read([news.url("/news/port-fees")], settings, fetcher).articles
    assert "to €1,450 a year" in article.text
    assert "“We have held fees flat for six years" in article.text and "trust’s" in article.text
    assert_no_boilerplate(article.text)


def test_retry_after_is_honoured_on_503(news, settings):
    news.routes["/flaky"] = failing_then(
        [Response(b"busy", 503, headers={"Retry-After": "1"})],
        lambda s: page("bridge.html", s.base),
    )
    waits: list[float] = []
    with Fetcher(settings, backoff=30.0, sleep=waits.append) as fetcher:
        found = fetcher.get(news.url("/flaky"))
    assert found.kind == "html" and news.hits("/flaky") == 2
    assert waits == [1.0]  # the server's Retry-After, not the 30 s backoff


def test_429_is_retried_with_backoff_then_given_up(news, settings):
    news.routes["/busy"] = fixed(Response(b"slow down", 429))
    waits: list[float] = []
    with (
        Fetcher(settings, backoff=0.5, sleep=waits.append) as fetcher,
        pytest.raises(FetchError, match=r"^HTTP 429 Too Many Requests after 2 retries$"),
    ):
        fetcher.get(news.url("/busy"))
    assert waits == [0.5, 1.0] and news.hits("/busy") == 3


def test_a_retry_after_too_long_is_not_waited_for(news, settings, fetcher):
    news.routes["/down"] = fixed(Response(b"", 503, headers={"Retry-After": "3600"}))
    with pytest.raises(FetchError, match="retry asked after 3600 s"):
        fetcher.get(news.url("/down"))
    assert news.hits("/down") == 1


def test_user_agent_names_factdesk_and_its_version(news, settings, fetcher):
    from factdesk import __version__

    read([news.url("/feed.xml")], settings, fetcher)
    agents = {headers["User-Agent"] for _, headers in news.requests}
    assert agents == {f"factdesk/{__version__} (news question-answering bot; httpx)"}


def test_at_most_four_requests_at_once(news, settings, fetcher):
    for n in range(12):
        news.routes[f"/story/{n}"] = lambda s: Response(page("bridge.html", s.base).body, delay=0.3)
    items = [(f"Story {n}", f"/story/{n}", "Thu, 18 Apr 2024 05:00:00 GMT") for n in range(12)]
    news.routes["/many.xml"] = fixed(Response(rss(news.base, items), content_type="text/xml"))
    scan = read([news.url("/many.xml")], settings, fetcher)
    assert len(scan.articles) == 12 and not scan.skipped
    assert 2 <= news.most_in_flight <= MAX_CONCURRENT  # in parallel, never more than four


def test_a_link_listed_twice_is_fetched_once(news, settings, fetcher):
    items = [(BRIDGE_TITLE, "/news/bridge-repairs", "Thu, 18 Apr 2024 05:00:00 GMT")] * 2
    news.routes["/twice.xml"] = fixed(Response(rss(news.base, items), content_type="text/xml"))
    scan = read([news.url("/twice.xml"), news.url("/feed.xml")], settings, fetcher)
    assert len(scan.articles) == 2 and news.hits("/news/bridge-repairs") == 1


def test_feed_items_on_another_site_are_fetched_there(news, settings, fetcher):
    with NewsServer(host="127.0.0.2") as other:
        other.routes["/world/story"] = lambda s: page("bridge.html", s.base)
        other.routes["/world/claims"] = lambda s: Response(
            page("harbour.html", "https://courier.example").body
        )
        items = [
            ("Elsewhere", other.url("/world/story"), "Thu, 18 Apr 2024 05:00:00 GMT"),
            ("Claims", other.url("/world/claims"), "Tue, 05 Mar 2024 08:30:00 GMT"),
        ]
        news.routes["/links-out.xml"] = fixed(
            Response(rss(news.base, items), content_type="application/rss+xml")
        )
        scan = read([news.url("/links-out.xml")], settings, fetcher)
    ids = sorted(article.doc_id for article in scan.articles)
    # The second page names an article on a third site as its canonical URL: not trusted.
    assert ids == [other.url("/world/claims"), other.url("/world/story")]
    assert other.hits("/world/story") == 1 and news.hits("/world/story") == 0


def test_files_and_urls_mix_in_one_run(news, settings, fetcher, tmp_path):
    (tmp_path / "local.md").write_text("# Local news\n\nDate: 2024-02-01\n\nA fair.", "utf-8")
    scan = read([str(tmp_path), news.url("/news/bridge-repairs")], settings, fetcher)
    assert sorted(a.source.rsplit("/", 1)[-1] for a in scan.articles) == [
        "bridge-repairs",
        "local.md",
    ]
    assert [a.published for a in scan.articles] == ["2024-02-01", "2024-04-18"]


def test_missing_path_is_found_before_anything_is_fetched(tmp_path):
    from factdesk.errors import SourceError

    with pytest.raises(SourceError, match="No such file or folder"):
        check_targets(["https://example.invalid/feed.xml", str(tmp_path / "nope")])
    check_targets(["https://example.invalid/feed.xml", str(tmp_path)])


@pytest.mark.parametrize(
    ("declared", "fetched", "expected"),
    [
        ("https://news.example/a", "https://news.example/a?utm=1", "https://news.example/a"),
        ("https://www.news.example/a", "https://news.example/a#top", "https://www.news.example/a"),
        ("https://other.example/a", "https://news.example/a", "https://news.example/a"),
        ("https://news.example/", "https://news.example/a", "https://news.example/a"),
        ("/a", "https://news.example/b", "https://news.example/b"),
        (None, "https://news.example/b#x", "https://news.example/b"),
    ],
)
def test_canonical_url_is_trusted_only_on_its_own_site(declared, fetched, expected):
    assert canonical_url(declared, fetched) == expected


def test_is_url():
    assert is_url("https://x.example/feed") and is_url("HTTP://x.example")
    assert not is_url("seeds") and not is_url("ftp://x.example") and not is_url("http.txt")
