"""Fetching refuses internal addresses by default: loopback, private, link-local, reserved, even
after a redirect or when a name changes its answer between the check and the connection."""

from __future__ import annotations

import socket

import httpcore
import pytest

from factdesk.errors import FetchError
from factdesk.ingest.addresses import address_kind
from factdesk.ingest.sources import Fetcher

from .conftest import make_settings
from .newsserver import redirect

PUBLIC = "93.184.215.14"  # stands in for a news site on the internet


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("169.254.169.254", "link-local (cloud metadata)"),
        ("fe80::1", "link-local"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fd00::1", "private"),
        ("0.0.0.0", "unspecified"),
        ("100.64.0.1", "reserved"),
        ("240.0.0.1", "reserved"),
        ("224.0.0.1", "multicast"),
        ("2002:7f00:1::", "loopback"),  # 6to4 around 127.0.0.1
        ("2002:a9fe:a9fe::", "link-local (cloud metadata)"),  # and around 169.254.169.254
        ("2002:a00:1::", "private"),
        ("fec0::1", "private"),  # site-local
        ("192.0.0.8", "reserved"),  # the IPv4 dummy address
        (PUBLIC, None),
        ("2606:4700:4700::1111", None),
        ("2002:5db8:d70e::", None),  # 6to4 around a public address
        ("192.0.0.9", None),  # an anycast service IANA lists as global
    ],
)
def test_each_internal_range_is_named_and_public_addresses_pass(address, kind):
    assert address_kind(address) == kind


def test_the_refusal_reads_as_english():
    from factdesk.ingest.addresses import BlockedAddress

    assert "0.0.0.0 is an unspecified address: refused" in str(
        BlockedAddress("0.0.0.0", "0.0.0.0", "unspecified")
    )
    assert "redirected to 10.0.0.8, a private address" in str(
        BlockedAddress("10.0.0.8", "10.0.0.8", "private").after_redirect()
    )


@pytest.fixture
def guarded(tmp_path):
    with Fetcher(make_settings(tmp_path / "index", fetch_allow_private=False)) as fetcher:
        yield fetcher


@pytest.fixture
def internet(monkeypatch, news):
    """news.example resolves to a public address, whose packets reach the loopback test server;
    `answers` can make the name change its answer from one lookup to the next."""
    real_lookup, real_connect = socket.getaddrinfo, httpcore.SyncBackend.connect_tcp
    answers: list[str] = []

    def lookup(host, port, *args, **kwargs):
        if host == "news.example":
            address = answers.pop(0) if answers else PUBLIC
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]
        return real_lookup(host, port, *args, **kwargs)

    def connect(self, host, port, *args, **kwargs):
        return real_connect(self, "127.0.0.1" if host == PUBLIC else host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    monkeypatch.setattr(httpcore.SyncBackend, "connect_tcp", connect)
    port = news.base.rsplit(":", 1)[1]
    return answers, f"http://news.example:{port}"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("{base}/news/harbour-ferry", "127.0.0.1 is a loopback address: refused"),
        ("http://localhost:{port}/news/harbour-ferry", "localhost (127.0.0.1) is a loopback"),
        ("http://2130706433:{port}/news/harbour-ferry", "(127.0.0.1) is a loopback address"),
        ("http://169.254.169.254/latest/meta-data/", "link-local (cloud metadata) address"),
        ("http://10.0.0.8/intranet", "10.0.0.8 is a private address"),
    ],
)
def test_internal_urls_are_refused_by_default_without_a_request(news, guarded, url, reason):
    port = news.base.rsplit(":", 1)[1]
    with pytest.raises(FetchError) as refused:
        guarded.get(url.format(base=news.base, port=port))
    assert reason in str(refused.value)
    assert "FACTDESK_FETCH_ALLOW_PRIVATE=true allows it" in str(refused.value)
    assert news.requests == []


def test_a_public_page_is_fetched(news, guarded, internet):
    _, public = internet
    page = guarded.get(public + "/news/harbour-ferry")
    assert b"Harbour ferry" in page.content


def test_a_public_url_redirecting_to_loopback_is_refused(news, guarded, internet):
    _, public = internet
    news.routes["/moved"] = redirect(news.url("/news/harbour-ferry"))
    with pytest.raises(FetchError) as refused:
        guarded.get(public + "/moved")
    assert str(refused.value).startswith("redirected to 127.0.0.1, a loopback address: refused")
    assert news.hits("/moved") == 1
    assert news.hits("/news/harbour-ferry") == 0


def test_a_name_that_turns_internal_after_the_check_is_refused_at_connection(
    news, guarded, internet
):
    answers, public = internet
    answers += [PUBLIC, "127.0.0.1"]  # the request's check, then the connection's
    with pytest.raises(FetchError, match=r"news.example \(127.0.0.1\) is a loopback address"):
        guarded.get(public + "/news/harbour-ferry")
    assert news.requests == []


def test_the_opt_in_fetches_loopback(news, tmp_path):
    with Fetcher(make_settings(tmp_path / "index", fetch_allow_private=True)) as fetcher:
        assert b"Harbour ferry" in fetcher.get(news.url("/news/harbour-ferry")).content


def test_a_redirect_away_from_http_is_refused(news, tmp_path):
    news.routes["/to-file"] = redirect("file:///etc/passwd")
    with Fetcher(make_settings(tmp_path / "index")) as fetcher, pytest.raises(FetchError) as error:
        fetcher.get(news.url("/to-file"))
    assert "not an http(s) address" in str(error.value)
