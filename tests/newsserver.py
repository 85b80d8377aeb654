"""A small news site on loopback for fetching tests: realistic pages, feeds and broken answers.

Pages are real HTML with the clutter of news sites (navigation, cookie banner, newsletter box,
related links, footer); BOILERPLATE lists phrases of that clutter that must never be indexed.
The server records every request and the most requests it served at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

NEWS = Path(__file__).resolve().parent / "data" / "news"

BOILERPLATE = (
    "cookies",
    "Accept all",
    "Manage preferences",
    "newsletter",
    "Subscribe",
    "Most read",
    "Related stories",
    "Storm warning issued",
    "Bus fares to rise",
    "Council approves new school",
    "All rights reserved",
    "Privacy policy",
    "Terms of use",
    "Contact us",
    "Sign in",
    "Advertisement",
)

HARBOUR_TITLE = "Harbour ferry service to resume in May"
BRIDGE_TITLE = "Kilbride bridge repairs delayed until autumn"

LATIN1_PAGE = """<!DOCTYPE html><html><head><title>Café owners in Zürich</title></head><body>
<nav><a href="/">Home</a> <a href="/news">News</a></nav>
<article><h1>Café owners in Zürich protest rent rises</h1>
<p>Owners of forty cafés in Zürich's old town closed their doors on Monday in protest at rent
rises of up to 35 percent, saying the increases threaten businesses that have served the city's
residents for generations.</p>
<p>The city council said it would meet the café owners' association next week and described the
protest as « légitime ».</p></article>
<footer>All rights reserved</footer></body></html>"""

CP1252_PAGE = """<!DOCTYPE html><html><head>
<meta http-equiv="Content-Type" content="text/html; charset=windows-1252">
<title>Port fees</title></head><body>
<div class="cookie-banner">We use cookies. Accept all</div>
<article><h1>Port Ellen raises harbour fees</h1>
<p>Port Ellen harbour will raise its mooring fees by 12 percent from June, to €1,450 a year
for a ten-metre boat, the harbour trust said in a statement on Friday.</p>
<p>“We have held fees flat for six years, and the pontoons need replacing,” said the trust’s
chair, Morag Lindqvist. Sailing clubs said the rise would push visiting yachts to other ports.</p>
</article></body></html>"""

RSS_ITEM = """<item><title>{title}</title><link>{link}</link><guid>{link}</guid>
<pubDate>{date}</pubDate><description>{title}</description></item>"""

RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>The Coastal Courier</title><link>{base}/</link>
<description>News from the coast</description>{items}</channel></rss>"""

ATOM_ENTRY = """<entry><title>{title}</title><link rel="alternate" href="{link}"/>
<id>tag:courier.example,2024:{link}</id><published>{date}</published><updated>{date}</updated>
</entry>"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>The Coastal Courier</title>
<id>tag:courier.example,2024:feed</id><updated>2024-04-18T06:00:00Z</updated>{entries}</feed>"""


@dataclass
class Response:
    """What a route answers; `delay` waits before answering, `trickle` between body bytes,
    `head_trickle` between the bytes of the status line and headers."""

    body: bytes = b""
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    trickle: float = 0.0
    content_length: bool = True
    head_trickle: float = 0.0


Route = Callable[["NewsServer"], Response]


def rss(base: str, items: list[tuple[str, str, str]]) -> bytes:
    """An RSS 2.0 feed of (title, link, RFC 822 date) items; links may be relative to `base`."""
    body = "".join(RSS_ITEM.format(title=t, link=_absolute(base, u), date=d) for t, u, d in items)
    return RSS.format(base=base, items=body).encode("utf-8")


def atom(entries: list[tuple[str, str, str]]) -> bytes:
    """An Atom feed of (title, href, ISO date) entries; hrefs are left as given (maybe relative)."""
    body = "".join(ATOM_ENTRY.format(title=t, link=u, date=d) for t, u, d in entries)
    return ATOM.format(entries=body).encode("utf-8")


def _absolute(base: str, link: str) -> str:
    return link if "://" in link else base + link


def page(name: str, base: str) -> Response:
    """A page from tests/data/news, its `{base}` placeholders pointing at this server."""
    html = (NEWS / name).read_text(encoding="utf-8").replace("{base}", base)
    return Response(html.encode("utf-8"))


class NewsServer:
    """http.server in a thread on a loopback address; routes can be changed by each test."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, 0), _handler(self))
        self._server.daemon_threads = True
        self._server.handle_error = lambda request, address: None  # clients hang up on purpose
        self.base = f"http://{host}:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> NewsServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def url(self, path: str) -> str:
        return self.base + path

    def hits(self, path: str) -> int:
        return sum(1 for requested, _ in self.requests if requested == path)

    def _enter(self, path: str, headers: dict[str, str]) -> None:
        with self._lock:
            self.requests.append((path, headers))
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)

    def _leave(self) -> None:
        with self._lock:
            self.in_flight -= 1


def _handler(server: NewsServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            # In flight until the response starts: once its last byte is out, the client may
            # send its next request before this thread runs again, and that is no overlap.
            server._enter(self.path, dict(self.headers.items()))
            try:
                route = server.routes.get(self.path)
                response = route(server) if route else Response(b"Not found", 404)
                time.sleep(response.delay)
            finally:
                server._leave()
            self._answer(response)

        def _answer(self, response: Response) -> None:
            if response.head_trickle:
                self._trickle_head(response)
                return
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            if response.content_length:
                self.send_header("Content-Length", str(len(response.body)))
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if not response.trickle:
                self.wfile.write(response.body)
                return
            for byte in response.body:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(response.trickle)

        def _trickle_head(self, response: Response) -> None:
            """Status line and headers a byte at a time: each read of the client is quick, the
            whole answer is not."""
            head = f"HTTP/1.1 {response.status} OK\r\nContent-Type: {response.content_type}\r\n"
            head += f"Content-Length: {len(response.body)}\r\n\r\n"
            for byte in head.encode("latin-1"):
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(response.head_trickle)
            self.wfile.write(response.body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


def fixed(response: Response) -> Route:
    return lambda server: response


def redirect(location: str, status: int = 302) -> Route:
    return fixed(Response(b"", status, headers={"Location": location}))


def failing_then(failures: list[Response], then: Route) -> Route:
    """Answers with each of `failures` in turn, then as `then` does."""
    remaining = list(failures)

    def route(server: NewsServer) -> Response:
        return remaining.pop(0) if remaining else then(server)

    return route


def news_site(server: NewsServer) -> None:
    """The routes most tests use: two articles, their feeds, and every way a fetch goes wrong."""
    base = server.base
    routes = server.routes
    routes["/news/harbour-ferry"] = lambda s: page("harbour.html", base)
    routes["/news/harbour-ferry?utm_source=rss"] = lambda s: page("harbour.html", base)
    routes["/news/bridge-repairs"] = lambda s: page("bridge.html", base)
    routes["/news/cafes"] = fixed(
        Response(LATIN1_PAGE.encode("latin-1"), content_type="text/html; charset=ISO-8859-1")
    )
    routes["/news/port-fees"] = fixed(
        Response(CP1252_PAGE.encode("cp1252"), content_type="text/html")
    )
    routes["/feed.xml"] = fixed(
        Response(
            rss(
                base,
                [
                    (
                        HARBOUR_TITLE,
                        "/news/harbour-ferry?utm_source=rss",
                        "Tue, 05 Mar 2024 08:30:00 GMT",
                    ),
                    (BRIDGE_TITLE, "/news/bridge-repairs", "Thu, 18 Apr 2024 05:00:00 GMT"),
                ],
            ),
            content_type="application/rss+xml; charset=utf-8",
        )
    )
    routes["/atom.xml"] = fixed(
        Response(
            atom(
                [
                    (BRIDGE_TITLE, base + "/news/bridge-repairs", "2024-04-18T05:00:00Z"),
                    (
                        "Port Ellen raises harbour fees",
                        base + "/news/port-fees",
                        "2024-05-02T10:00:00Z",
                    ),
                ]
            ),
            content_type="application/atom+xml",
        )
    )
    routes["/photo.jpg"] = fixed(
        Response(b"\xff\xd8\xff\xe0" + b"0" * 100, content_type="image/jpeg")
    )
    routes["/slow"] = lambda s: replace(page("bridge.html", base), delay=5.0)
    routes["/trickle"] = lambda s: replace(page("bridge.html", base), trickle=0.05)
    big = b"<html><body><p>" + b"word " * 30_000 + b"</p></body></html>"
    routes["/big"] = fixed(Response(big))
    routes["/big-unannounced"] = fixed(Response(big, content_length=False))
    routes["/loop-a"] = redirect("/loop-b")
    routes["/loop-b"] = redirect("/loop-a")
    for hop in range(1, 7):
        routes[f"/hops/{hop}"] = redirect(f"/hops/{hop - 1}", 301)
    routes["/hops/0"] = lambda s: page("bridge.html", base)
    routes["/always-500"] = fixed(Response(b"oops", 500))
    routes["/gone"] = fixed(Response(b"gone", 410))
