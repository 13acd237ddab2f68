"""A real-browser check of the rendered book: every page of ``_toc.yml``, opened in headless Chromium.

    jupyter-book build . -W --keep-going       # -> _build/html
    python -m pytest tests/browser -q          # LTDD_BOOK_HTML=<folder> for another build folder

``_build/html`` is served by Python's ``http.server`` on 127.0.0.1 (a free port) and each page is opened in
Debian's Chromium (``/usr/bin/chromium``, ``apt-get install chromium``; ``LTDD_CHROMIUM`` for another binary)
through Playwright. A page fails on

* a navigation that does not answer HTTP 200 (a page of the table of contents that was not built, say);
* a console message of type ``error``, and an uncaught JavaScript exception (``pageerror``);
* a same-origin request that fails or answers 4xx/5xx (a stylesheet, a script, a figure);
* an ``<img>`` whose ``naturalWidth`` is 0 once loaded (lazy images are made eager first);
* an internal link (same origin or relative) to a file that does not exist, or whose ``#fragment`` is no
  ``id`` (or ``<a name>``) on the target page.

Requests to other origins are aborted and listed at the end of the run: they are not part of the book and
cannot load in CI (no internet), so neither they nor the console's "Failed to load resource" lines they cause
count. That includes MathJax, which Jupyter Book loads from a CDN: equations stay as TeX source in this check,
which is acceptable, since it checks the book's own pages, links and figures, not the typesetting. External
links are not followed.

The second half of the module checks the checker on a small fake book with one fault per page.
"""

from __future__ import annotations

import functools
import html.parser
import http.server
import os
import struct
import threading
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlsplit

import pytest
from book_toc import toc_files

ROOT = Path(__file__).resolve().parents[2]
HTML = Path(os.environ.get("LTDD_BOOK_HTML") or ROOT / "_build" / "html")
if not HTML.is_absolute():
    HTML = ROOT / HTML
CHROMIUM = os.environ.get("LTDD_CHROMIUM", "/usr/bin/chromium")
# Headless, as root in a container: no sandbox (needs user namespaces), no GPU, no QUIC, and nothing that
# phones home (component updates, sync, background networking). Playwright's launch() adds --headless and a
# fresh temporary --user-data-dir of its own.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]
NAVIGATION_TIMEOUT_MS = 30_000
SETTLE_TIMEOUT_MS = 5_000  # after "load": wait for the network to go quiet, at most this long
INSTALL_HINT = ("install Debian's chromium (`apt-get install chromium`; .ci/run does it in CI) and the "
                "`playwright` Python package (requirements.txt); never `playwright install`")


# ------------------------------------------------------------------------------------------ the pages
def toc_pages() -> list[str]:
    """The HTML page of every entry of ``_toc.yml``: ``file: chapters/01_x`` -> ``chapters/01_x.html``."""
    import yaml

    entries = toc_files(yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8")))
    pages = []
    for entry in entries:
        stem = entry[: -len(Path(entry).suffix)] if Path(entry).suffix in {".md", ".ipynb", ".rst"} else entry
        pages.append(f"{stem}.html")
    return pages


# ------------------------------------------------------------------------------------------ the server
class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass


class LoopbackServer:
    """``folder`` over HTTP on 127.0.0.1, a free port, in a daemon thread."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        handler = functools.partial(_QuietHandler, directory=str(self.folder))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.origin = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "LoopbackServer":
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


# ------------------------------------------------------------------------------------------ the checker
class _Ids(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if value and (name == "id" or (tag == "a" and name == "name")):
                self.ids.add(value)


@functools.lru_cache(maxsize=None)
def _static_ids(path: Path) -> frozenset[str]:
    parser = _Ids()
    parser.feed(path.read_text(encoding="utf-8", errors="replace"))
    return frozenset(parser.ids)


# Once "load" has fired: make lazy images eager, wait for every image to settle, and report what the page holds.
_INSPECT = """
async () => {
  const images = Array.from(document.images);
  for (const img of images) { if (img.loading === "lazy") img.loading = "eager"; }
  await Promise.all(images.map(img => img.complete ? null : new Promise(done => {
    img.addEventListener("load", done, {once: true});
    img.addEventListener("error", done, {once: true});
    setTimeout(done, 10000);
  })));
  const ids = Array.from(document.querySelectorAll("[id]"), e => e.id)
    .concat(Array.from(document.querySelectorAll("a[name]"), e => e.getAttribute("name")));
  return {
    images: images.map(img => ({src: img.currentSrc || img.src || "", raw: img.getAttribute("src"),
                                naturalWidth: img.naturalWidth, complete: img.complete})),
    links: Array.from(document.querySelectorAll("a[href]"), a => {
      const raw = a.getAttribute("href");
      let url = null;
      try { url = new URL(raw, document.baseURI).href; } catch (e) {}
      return {raw: raw, url: url};
    }),
    ids: ids,
  };
}
"""


@dataclass
class PageReport:
    page: str
    problems: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)  # external requests aborted (not part of the book)
    links_checked: int = 0
    images_checked: int = 0
    seconds: float = 0.0


class BookChecker:
    """Opens pages of a folder served at ``server.origin`` and reports their faults.

    Each page gets a fresh browser context, as a first-time reader's browser would be: no cookies, no
    ``localStorage``, no cache, so a page's result does not depend on which pages were opened before it.
    """

    def __init__(self, browser, server: LoopbackServer):
        self.browser = browser
        self.server = server
        self.origin = server.origin
        self._blocked: list[str] | None = None

    def new_context(self):
        context = self.browser.new_context(service_workers="block")
        context.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)
        context.route(lambda url: not self._same_origin(url), self._abort_external)
        return context

    # -- requests to other origins: aborted and recorded
    def _same_origin(self, url: str) -> bool:
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https", "ws", "wss"}:
            return True  # data:, blob:, about: never leave the machine; let them through
        return f"{parts.scheme}://{parts.netloc}" == self.origin

    def _abort_external(self, route):
        if self._blocked is not None:
            self._blocked.append(route.request.url)
        route.abort()

    # -- the file a same-origin URL names, as http.server maps it
    def _file_for(self, url: str) -> Path:
        path = unquote(urlsplit(url).path).lstrip("/")
        target = self.server.folder / path
        if path == "" or path.endswith("/") or target.is_dir():
            target = target / "index.html"
        return target

    def check(self, page: str) -> PageReport:
        report = PageReport(page)
        problems, blocked = report.problems, report.blocked
        self._blocked = blocked
        url = f"{self.origin}/{page}"
        start = time.perf_counter()
        context = self.new_context()
        tab = context.new_page()

        def on_console(message):
            if message.type != "error":
                return
            source = (message.location or {}).get("url", "")
            # Chromium's own line for a request we aborted ("Failed to load resource: net::ERR_FAILED").
            if source and not self._same_origin(source) and message.text.startswith("Failed to load resource"):
                return
            where = f" ({source}:{message.location.get('lineNumber')})" if source else ""
            problems.append(f"console error: {message.text}{where}")

        def on_request_failed(request):
            if self._same_origin(request.url):
                problems.append(f"request failed: {request.url} ({request.failure})")

        def on_response(response):
            if response.status >= 400 and self._same_origin(response.url):
                problems.append(f"HTTP {response.status} for {response.url}")

        def on_page_error(error):
            problems.append(f"uncaught JavaScript exception: {error}")

        handlers = {"console": on_console, "pageerror": on_page_error, "requestfailed": on_request_failed,
                    "response": on_response}
        for event, handler in handlers.items():
            tab.on(event, handler)
        try:
            try:
                response = tab.goto(url, wait_until="load")
            except Exception as error:  # playwright's Error/TimeoutError: the page did not load
                problems.append(f"navigation failed: {url}: {str(error).splitlines()[0]}")
                return report
            if response is None or response.status != 200:
                problems.append(f"page did not load: {url} answered "
                                f"{'nothing' if response is None else f'HTTP {response.status}'}")
                return report
            try:
                tab.wait_for_load_state("networkidle", timeout=SETTLE_TIMEOUT_MS)
            except Exception:
                pass  # a page that keeps polling is no fault in itself; what it logged is still checked
            found = tab.evaluate(_INSPECT)
            self._check_images(found["images"], problems, report)
            self._check_links(page, found["links"], set(found["ids"]), problems, report)
        finally:
            for event, handler in handlers.items():  # nothing logged while closing counts
                tab.remove_listener(event, handler)
            context.close()
            self._blocked = None
            report.seconds = time.perf_counter() - start
        return report

    def _check_images(self, images, problems, report):
        for image in images:
            if image["src"] and not self._same_origin(image["src"]):
                continue  # an external image: blocked, not part of the book
            report.images_checked += 1
            if not image["src"]:
                problems.append(f"image without a source: <img src={image['raw']!r}>")
            elif image["naturalWidth"] == 0:
                problems.append(f"image did not load (naturalWidth 0): {image['raw']} -> {image['src']}")

    def _check_links(self, page, links, live_ids, problems, report):
        here = self._file_for(f"{self.origin}/{page}")
        seen = set()
        for link in links:
            raw, url = link["raw"], link["url"]
            if url is None:
                problems.append(f"malformed link: href={raw!r}")
                continue
            if not self._same_origin(url) or urlsplit(url).scheme not in {"http", "https"}:
                continue  # external, mailto:, javascript:, data: - not checked
            if url in seen:
                continue
            seen.add(url)
            report.links_checked += 1
            address, fragment = urldefrag(url)
            target = self._file_for(address)
            if not target.is_file():
                problems.append(f"broken internal link: href={raw!r} -> {address} (no such file)")
                continue
            fragment = unquote(fragment)
            if not fragment or fragment.startswith(":~:") or target.suffix != ".html":
                continue
            ids = live_ids | _static_ids(here) if target == here else _static_ids(target)
            if fragment not in ids:
                problems.append(f"broken internal link: href={raw!r} -> no id {fragment!r} on "
                                f"{target.relative_to(self.server.folder).as_posix()}")


# ------------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="session")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail(f"the browser check needs the `playwright` Python package: {INSTALL_HINT}", pytrace=False)
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(f"no Chromium at {CHROMIUM}: {INSTALL_HINT}", pytrace=False)
    with sync_playwright() as playwright:
        try:
            launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        except Exception as error:
            pytest.fail(f"Chromium at {CHROMIUM} did not start: {error}\n{INSTALL_HINT}", pytrace=False)
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def book(browser):
    if not (HTML / "index.html").is_file():
        pytest.fail(f"no built book at {HTML}: run `jupyter-book build . -W --keep-going` first "
                    f"(or point LTDD_BOOK_HTML at the HTML folder)", pytrace=False)
    with LoopbackServer(HTML) as server:
        yield BookChecker(browser, server)


def _record(request, report: PageReport):
    blocked = request.config._ltdd_blocked
    for url in report.blocked:
        blocked.setdefault(url, set()).add(report.page)
    print(f"{report.page}: {report.seconds:.1f} s, {report.links_checked} internal links, "
          f"{report.images_checked} images, {len(report.blocked)} external requests blocked")
    for url in sorted(set(report.blocked)):
        print(f"  blocked: {url}")


# ------------------------------------------------------------------------------------------ the book
@pytest.mark.parametrize("page", toc_pages())
def test_page_renders_cleanly(book, page, request):
    """Every page of the table of contents loads with no console error, failed request, broken figure or
    broken internal link."""
    report = book.check(page)
    _record(request, report)
    assert not report.problems, f"{page}: {len(report.problems)} problem(s)\n  " + "\n  ".join(report.problems)


def test_book_root_redirects_to_the_first_page(book, request):
    """``index.html`` at the top of the site (what a reader opens first) sends the browser to the root page."""
    root_page = toc_pages()[0]
    report = book.check("index.html")
    _record(request, report)
    assert not report.problems, "index.html:\n  " + "\n  ".join(report.problems)
    context = book.new_context()
    try:
        tab = context.new_page()
        tab.goto(f"{book.origin}/index.html", wait_until="load")
        tab.wait_for_url(f"**/{root_page}", timeout=10_000)
    finally:
        context.close()


# ------------------------------------------------------------------------------------------ the checker's own test
def _png(width: int = 2, height: int = 2) -> bytes:
    """A valid grey PNG, written by hand."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def _html(body: str, head: str = "") -> str:
    return f"<!doctype html><html><head><meta charset='utf-8'><title>t</title>{head}</head><body>{body}</body></html>"


# page -> (body, the problems it must produce: substrings, each matched by some reported problem)
FAKE_PAGES = {
    "clean.html": (
        "<h1 id='top'>Clean</h1><p><a href='#top'>here</a> <a href='sub/other.html#there'>there</a> "
        "<a href='sub/'>folder</a> <a href='_images/ok.png'>figure file</a> <a href='https://example.org/x'>out</a> "
        "<a href='mailto:a@example.org'>mail</a> <a href='#'>nothing</a></p>"
        "<img src='_images/ok.png' alt='figure'><img src='https://example.org/badge.png' alt='external'>"
        "<div style='height:5000px'></div><img loading='lazy' src='_images/ok.png' alt='far below'>"
        "<script src='https://cdn.example.org/lib.js'></script>"
        "<link rel='stylesheet' href='https://cdn.example.org/style.css'>",
        []),
    "broken_link.html": ("<a href='missing.html'>gone</a>", ["broken internal link: href='missing.html'"]),
    "missing_anchor.html": (
        "<a href='sub/other.html#nowhere'>a</a><a href='#absent'>b</a>",
        ["no id 'nowhere' on sub/other.html", "no id 'absent' on missing_anchor.html"]),
    "missing_image.html": ("<img src='_images/nope.png' alt='x'>",
                           ["image did not load", "HTTP 404 for", "console error: Failed to load resource"]),
    "corrupt_image.html": ("<img src='_images/corrupt.png' alt='x'>", ["image did not load (naturalWidth 0)"]),
    "console_error.html": ("<script>console.error('boom from the page')</script>",
                           ["console error: boom from the page"]),
    "page_error.html": ("<script>throw new Error('kaboom')</script>", ["uncaught JavaScript exception: ", "kaboom"]),
    "missing_script.html": ("<script src='_static/nope.js'></script>", ["HTTP 404 for", "/_static/nope.js"]),
    "not_built.html": (None, ["page did not load", "HTTP 404"]),
}


@pytest.fixture(scope="module")
def fake_book(browser, tmp_path_factory):
    folder = tmp_path_factory.mktemp("fake_book")
    (folder / "_images").mkdir()
    (folder / "_images" / "ok.png").write_bytes(_png())
    (folder / "_images" / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really a png")
    (folder / "sub").mkdir()
    (folder / "sub" / "other.html").write_text(_html("<p id='there'>there</p>"), encoding="utf-8")
    (folder / "sub" / "index.html").write_text(_html("<p>folder</p>"), encoding="utf-8")
    (folder / "index.html").write_text(_html("<a href='clean.html'>start</a>"), encoding="utf-8")
    for name, (body, _expected) in FAKE_PAGES.items():
        if body is not None:
            (folder / name).write_text(_html(body), encoding="utf-8")
    with LoopbackServer(folder) as server:
        yield BookChecker(browser, server)


@pytest.mark.parametrize("page", sorted(FAKE_PAGES))
def test_checker_reports_each_fault(fake_book, page):
    expected = FAKE_PAGES[page][1]
    report = fake_book.check(page)
    if not expected:
        assert not report.problems, f"a clean page was reported: {report.problems}"
        assert report.images_checked == 2 and report.links_checked == 5, report
        assert any("cdn.example.org/lib.js" in url for url in report.blocked), report.blocked
        assert any("example.org/badge.png" in url for url in report.blocked), report.blocked
        return
    for needle in expected:
        assert any(needle in problem for problem in report.problems), (
            f"{page}: expected a problem containing {needle!r}; reported: {report.problems}")
