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
  ``id`` (or ``<a name>``) on the target page;
* at a desktop width (1280 px) and a phone's (390 px; the same load, resized, which finds what a fresh load at
  390 px finds): a page that scrolls sideways, an element of the text column that reaches past it (a wide code
  block, table or equation must scroll inside its own box), any other element (header, sidebars, the links to
  the previous and next page) past the window's edge, a prose element (paragraph, list item, heading, caption,
  ...) whose text runs out of its box, a box that clips (``overflow: hidden``) content it cannot show;
* a ``<figure>`` without a caption or without its number, ``Fig. N.M`` with N the chapter's number (a chapter
  page ``chapters/NN_name.html`` is chapter NN; ``00`` is unnumbered) and M counting 1, 2, 3, ... down the page;
  on a chapter page, an image of a notebook's output outside a figure (the book shows every plot captioned);
* an exercise (sphinx-exercise) not titled ``Exercise N.M`` as the figures are, and a solution whose title names
  another number than its exercise's;
* a chapter page whose Colab launch link does not open its Colab edition,
  ``{colab_url}/github/OWNER/REPO/blob/BRANCH/colab/NN_name.ipynb`` (``_config.yml``; a notebook of ``colab/``),
  and any Colab link that opens a notebook outside ``colab/`` (Colab shows a MyST notebook as raw text).

Requests to other origins are aborted and listed at the end of the run: they are not part of the book and
cannot load in CI (no internet), so neither they nor the console's "Failed to load resource" lines they cause
count. That includes MathJax, which Jupyter Book loads from a CDN: equations stay as TeX source in this check,
which is acceptable, since it checks the book's own pages, links and figures, not the typesetting (so the
widths checked are those of the TeX source; ``_static/ltdd.css`` lets typeset display equations scroll in
their own box). External links are not followed.

The second half of the module checks the checker on a small fake book with one fault per page.
"""

from __future__ import annotations

import functools
import html.parser
import http.server
import os
import re
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
DESKTOP = {"width": 1280, "height": 800}
PHONE_WIDTH = 390  # CSS px: an iPhone 12-15's viewport
CHAPTER_PAGE = re.compile(r"^chapters/(?P<number>\d\d)_[\w-]+\.html$")
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


@dataclass(frozen=True)
class ColabEdition:
    """Where Colab links must lead: ``{prefix}NN_name.ipynb`` for a notebook ``NN_name.ipynb`` of ``folder``."""

    prefix: str
    folder: Path

    @classmethod
    def of_book(cls, root: Path = ROOT) -> "ColabEdition":
        """The Colab edition that ``_config.yml`` names: ``launch_buttons.colab_url``, ``/github/``, the owner and
        name of ``repository.url``, ``/blob/``, ``repository.branch``, ``/colab/`` (``python -m ltdd
        colab-edition`` writes it at the repository's root)."""
        import yaml

        config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
        owner_repo = urlsplit(config["repository"]["url"]).path.strip("/")
        branch = config["repository"].get("branch", "main")
        colab_url = config["launch_buttons"]["colab_url"].rstrip("/")
        return cls(f"{colab_url}/github/{owner_repo}/blob/{branch}/colab/", root / "colab")

    @property
    def host(self) -> str:
        return urlsplit(self.prefix).netloc

    def link_for(self, page: str) -> str:
        """``chapters/05_x.html`` -> the Colab address of ``colab/05_x.ipynb``."""
        return f"{self.prefix}{Path(page).stem}.ipynb"


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
_INSPECT = r"""
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
    // <figure>: Sphinx's figures and MyST-NB's captioned outputs; the caption's number and its text
    figures: Array.from(document.querySelectorAll("figure"), figure => {
      const caption = figure.querySelector("figcaption");
      const number = caption && caption.querySelector(".caption-number");
      const text = caption ? caption.cloneNode(true) : null;
      if (text) text.querySelectorAll(".caption-number, .headerlink").forEach(part => part.remove());
      return {id: figure.id, number: number ? number.textContent.trim() : "",
              caption: text ? text.textContent.replace(/\s+/g, " ").trim().slice(0, 60) : null};
    }),
    // images of notebook outputs (MyST-NB's .cell_output) that are not inside a figure
    bareImages: Array.from(document.querySelectorAll(".cell_output img"))
      .filter(img => !img.closest("figure")).map(img => img.getAttribute("src")),
    exercises: Array.from(document.querySelectorAll("div.exercise"), exercise => {
      const number = exercise.querySelector(".admonition-title .caption-number");
      const title = exercise.querySelector(".admonition-title");
      return {id: exercise.id, number: number ? number.textContent.trim() : "",
              title: title ? title.textContent.trim().slice(0, 60) : ""};
    }),
    solutions: Array.from(document.querySelectorAll("div.solution"), solution => {
      const title = solution.querySelector(".admonition-title");
      const link = title && title.querySelector("a[href^='#']");
      return {title: title ? title.textContent.replace(/\s+/g, " ").trim() : "",
              target: link ? decodeURIComponent(link.getAttribute("href").slice(1)) : null};
    }),
    // sphinx-book-theme's launch buttons (the rocket menu)
    launchLinks: Array.from(document.querySelectorAll(".dropdown-launch-buttons a[href]"), a => a.href),
  };
}
"""

# After a resize: every visible element of the text column (``article.bd-article``, else ``main``, else the body)
# lies within it, unless it sits in a box of its own that scrolls (overflow-x auto or scroll); a box that clips
# (hidden, clip) cuts nothing off; a prose element's text stays in its box. The same walk over the rest of the
# page (header, sidebars, the previous/next links), against the window's edge. Each finding names the element
# by tag, classes and first words, and the descendant that reaches furthest right.
_LAYOUT = r"""
async () => {
  await new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)));
  const PROSE = new Set(["P", "LI", "H1", "H2", "H3", "H4", "H5", "H6", "DT", "DD", "FIGCAPTION", "BLOCKQUOTE",
                         "CAPTION", "TD", "TH"]);
  const MAX_REPORTED = 6;
  const px = value => Math.round(value);
  const words = el => (el.innerText || el.textContent || "").trim().replace(/\s+/g, " ").split(" ")
    .slice(0, 8).join(" ").slice(0, 70);
  const describe = el => {
    const classes = typeof el.className === "string" && el.className.trim()
      ? "." + el.className.trim().split(/\s+/).slice(0, 3).join(".") : "";
    return `<${el.tagName.toLowerCase()}${classes}> "${words(el)}"`;
  };
  // The descendant whose box, or whose text where it does not scroll, reaches furthest right.
  const culprit = el => {
    let widest = null, right = el.getBoundingClientRect().right + 1;
    for (const inner of el.querySelectorAll("*")) {
      const box = inner.getBoundingClientRect();
      const scrolls = ["auto", "scroll"].includes(getComputedStyle(inner).overflowX);
      const reach = scrolls ? box.right : Math.max(box.right, box.left + inner.scrollWidth);
      if (reach > right) { right = reach; widest = inner; }
    }
    return widest ? `, because of ${describe(widest)}` : "";
  };
  const walk = (root, left, right, where, skip) => {
    const found = [];
    const stack = Array.from(root.children).reverse();
    while (stack.length && found.length < MAX_REPORTED) {
      const el = stack.pop();
      if (el === skip) continue;
      const style = getComputedStyle(el);
      if (style.display === "none" || style.visibility === "hidden" || style.position === "fixed") continue;
      const box = el.getBoundingClientRect();
      if (box.width > 0 && (box.right > right + 1 || box.left < left - 1)) {
        found.push(`${describe(el)} is ${px(box.width)} px wide, ${px(Math.max(box.right - right, left - box.left))}` +
                   ` px past ${where}${culprit(el)}`);
        continue;
      }
      const overflowing = el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1;
      if (style.overflowX === "auto" || style.overflowX === "scroll") continue;
      if (style.overflowX === "hidden" || style.overflowX === "clip") {
        if (overflowing) found.push(`${describe(el)} cuts off ${px(el.scrollWidth - el.clientWidth)} px of its ` +
                                    `content (overflow-x: ${style.overflowX})${culprit(el)}`);
        continue;
      }
      if (PROSE.has(el.tagName) && overflowing) {
        found.push(`${describe(el)}: its text runs ${px(el.scrollWidth - el.clientWidth)} px out of its box` +
                   culprit(el));
        continue;
      }
      for (let i = el.children.length - 1; i >= 0; i--) stack.push(el.children[i]);
    }
    return found;
  };
  const viewport = document.documentElement.clientWidth;
  const page = document.documentElement.scrollWidth;
  const column = document.querySelector("article.bd-article") || document.querySelector("main") || document.body;
  const box = column.getBoundingClientRect();
  const found = page > viewport + 1 ? [`the page scrolls sideways: ${page} px of content in a ${viewport} px window`]
                                     : [];
  found.push(...walk(column, box.left, box.right, `the text column (${px(box.width)} px)`));
  if (column !== document.body) found.push(...walk(document.body, 0, viewport, "the window's edge", column));
  return found;
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

    def __init__(self, browser, server: LoopbackServer, colab: ColabEdition):
        self.browser = browser
        self.server = server
        self.origin = server.origin
        self.colab = colab
        self._blocked: list[str] | None = None

    def new_context(self):
        context = self.browser.new_context(service_workers="block", viewport=DESKTOP)
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
            chapter = CHAPTER_PAGE.match(page)
            number = int(chapter["number"]) if chapter and int(chapter["number"]) > 0 else None
            self._check_figures(found["figures"], number, problems)
            if chapter:
                problems.extend(f"an output image outside a figure (no caption, no number): {src}"
                                for src in found["bareImages"])
            self._check_exercises(found["exercises"], found["solutions"], number, problems)
            self._check_colab_links(page, found["launchLinks"], found["links"], bool(chapter), problems)
            for width in (DESKTOP["width"], PHONE_WIDTH):
                tab.set_viewport_size({"width": width, "height": DESKTOP["height"]})
                problems.extend(f"at {width} px: {problem}" for problem in tab.evaluate(_LAYOUT))
        finally:
            for event, handler in handlers.items():  # nothing logged while closing counts
                tab.remove_listener(event, handler)
            context.close()
            self._blocked = None
            report.seconds = time.perf_counter() - start
        return report

    @staticmethod
    def _numbered(kind: str, found: str, chapter: int | None, position: int) -> str | None:
        """What is wrong with the number ``found`` ("Fig. 5.2") of the ``position``-th (1, 2, ...) ``kind`` on a
        page of chapter ``chapter`` (``None``: unnumbered, any number will do); ``None`` when nothing is."""
        if chapter is None:
            return None if re.fullmatch(rf"{re.escape(kind)} \d+(\.\d+)*", found) else f"not numbered ({found!r})"
        expected = f"{kind} {chapter}.{position}"
        return None if found == expected else f"numbered {found!r}, not {expected!r} (per chapter, in order)"

    def _check_figures(self, figures, chapter, problems):
        for position, figure in enumerate(figures, 1):
            name = f"figure {position} (id {figure['id']!r})"
            if not figure["caption"]:
                problems.append(f"{name} has no caption")
            fault = self._numbered("Fig.", figure["number"], chapter, position)
            if fault:
                problems.append(f"{name} is {fault}")

    def _check_exercises(self, exercises, solutions, chapter, problems):
        numbers = {}
        for position, exercise in enumerate(exercises, 1):
            numbers[exercise["id"]] = exercise["number"]
            fault = self._numbered("Exercise", exercise["number"], chapter, position)
            if fault:
                problems.append(f"exercise {position} ({exercise['title']!r}, id {exercise['id']!r}) is {fault}")
        for solution in solutions:
            number = numbers.get(solution["target"])
            if number is None:
                problems.append(f"solution {solution['title']!r} names no exercise of this page "
                                f"(links to #{solution['target']})")
            elif solution["title"] != f"Solution to {number}":
                problems.append(f"solution {solution['title']!r} belongs to {number}")

    def _check_colab_links(self, page, launch_links, links, chapter, problems):
        host = self.colab.host
        launch = [url for url in launch_links if urlsplit(url).netloc == host]
        if chapter:
            expected = self.colab.link_for(page)
            if not launch:
                problems.append(f"no Colab launch link (expected {expected})")
            for url in launch:
                if url != expected:
                    problems.append(f"Colab launch link {url} does not open the chapter's Colab edition {expected}")
        for url in {link["url"] for link in links if link["url"] and urlsplit(link["url"]).netloc == host}:
            name = url[len(self.colab.prefix):] if url.startswith(self.colab.prefix) else None
            if name is None or "/" in name:
                problems.append(f"Colab link {url} opens a notebook outside the Colab edition "
                                f"({self.colab.prefix}...)")
            elif not (self.colab.folder / name).is_file():
                problems.append(f"Colab link {url}: no {name} in {self.colab.folder.name}/")

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
        yield BookChecker(browser, server, ColabEdition.of_book())


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


FAKE_COLAB_PREFIX = "https://colab.research.google.com/github/owner/book/blob/main/colab/"


def _chapter(name: str, body: str, launch: str | None = None) -> str:
    """A chapter page as sphinx-book-theme lays it out: the launch menu (Colab: ``launch``, by default the
    chapter's Colab edition; ``""`` for none) above ``article.bd-article``."""
    launch = f"{FAKE_COLAB_PREFIX}{name}.ipynb" if launch is None else launch
    menu = f"<div class='dropdown-launch-buttons'><a href='{launch}' title='Launch on Colab'>Colab</a></div>"
    return f"<header>{menu if launch else ''}</header><main><article class='bd-article'>{body}</article></main>"


def _figure(number: str | None, ident: str, caption: str | None = "What the plot shows.") -> str:
    """MyST-NB's captioned output: ``<figure>`` with the image and ``Fig. 5.1`` + the caption (``None``: none)."""
    number_html = f"<span class='caption-number'>{number} </span>" if number else ""
    caption_html = (f"<figcaption><p>{number_html}<span class='caption-text'>{caption}</span>"
                    f"<a class='headerlink' href='#{ident}'>#</a></p></figcaption>" if caption is not None else "")
    return (f"<div class='cell_output'><figure id='{ident}'><img src='../_images/ok.png' alt='plot'>"
            f"{caption_html}</figure></div>")


def _exercise(number: str | None, ident: str) -> str:
    """sphinx-exercise's exercise: the number in the title (``None``: an unnumbered one)."""
    title = f"<span class='caption-number'>{number} </span>" if number else "Exercise"
    return (f"<div class='exercise admonition' id='{ident}'><p class='admonition-title'>{title}</p>"
            f"<section><p>Try it.</p></section></div>")


def _solution(number: str, ident: str) -> str:
    return (f"<div class='solution admonition'><p class='admonition-title'>Solution to"
            f"<a class='reference internal' href='#{ident}'> {number}</a></p><p>Done.</p></div>")


LONG_WORD = "a" * 60  # about 540 px: wider than a phone's column (390 px), narrower than a desktop's
CLEAN_CHAPTER = (
    "<h1>5. A chapter</h1><p>" + "Ordinary words wrap at any width. " * 30 + "</p>"
    + _figure("Fig. 5.1", "fig-a") + _figure("Fig. 5.2", "fig-b")
    + "<pre style='overflow-x:auto'>" + "wide_code_line = 1; " * 40 + "</pre>"
    + "<div style='overflow-x:auto'><table><tr><td style='min-width:1500px'>a wide table</td></tr></table></div>"
    + "<div class='math' style='overflow-x:auto'><span style='display:inline-block;width:1500px'>x</span></div>"
    + f"<p>Chapter 6 <a href='{FAKE_COLAB_PREFIX}06_other.ipynb'>on Colab</a>.</p>"
    + _exercise("Exercise 5.1", "ex-a") + _solution("Exercise 5.1", "ex-a")
    + _exercise("Exercise 5.2", "ex-b") + _solution("Exercise 5.2", "ex-b"))

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
    # layout, at both widths
    "wide_word.html": (f"<p>A word that cannot break: {LONG_WORD}.</p>",
                       ["at 390 px: the page scrolls sideways", "at 390 px: <p> \"A word that cannot break",
                        "px out of its box"]),
    "wide_table.html": ("<table><tr><td style='min-width:1500px'>a wide table</td></tr></table>",
                        ["at 1280 px: <table> \"a wide table\" is", "at 390 px: <table>", "px past the text column",
                         "at 1280 px: the page scrolls sideways"]),
    "clipped_code.html": (f"<div class='admonition' style='overflow:hidden'><pre>{LONG_WORD}</pre></div>",
                          ["at 390 px: <div.admonition>", "cuts off", "(overflow-x: hidden), because of <pre>"]),
    "clipped_next_link.html": (  # outside the text column: the theme's link to the next page
        "<main><article class='bd-article'><p>Text.</p></article></main><footer><a class='right-next' "
        "style='display:flex;overflow:hidden;max-width:45%'><span>Next</span><b>" + LONG_WORD + "</b></a></footer>",
        ["at 390 px: <a.right-next> \"Next", "cuts off", "because of <b>"]),
    # figures, exercises and Colab links of chapter pages
    "chapters/05_clean.html": (_chapter("05_clean", CLEAN_CHAPTER), []),
    "chapters/05_figure_without_caption.html": (
        _chapter("05_figure_without_caption", _figure("Fig. 5.1", "fig-a") + _figure(None, "fig-b", caption=None)),
        ["figure 2 (id 'fig-b') has no caption", "figure 2 (id 'fig-b') is numbered '', not 'Fig. 5.2'"]),
    "chapters/05_figure_numbered_elsewhere.html": (
        _chapter("05_figure_numbered_elsewhere", _figure("Fig. 5.1", "fig-a") + _figure("Fig. 4.2", "fig-b")),
        ["figure 2 (id 'fig-b') is numbered 'Fig. 4.2', not 'Fig. 5.2' (per chapter, in order)"]),
    "chapters/05_output_image_without_figure.html": (
        _chapter("05_output_image_without_figure", "<div class='cell_output'><img src='../_images/ok.png'></div>"),
        ["an output image outside a figure (no caption, no number): ../_images/ok.png"]),
    "figure_without_number.html": (_figure(None, "fig-a"), ["figure 1 (id 'fig-a') is not numbered ('')"]),
    "chapters/05_exercise_without_number.html": (
        _chapter("05_exercise_without_number", _exercise(None, "ex-a")),
        ["exercise 1 ('Exercise', id 'ex-a') is numbered '', not 'Exercise 5.1'"]),
    "chapters/05_exercises_numbered_across_the_book.html": (
        _chapter("05_exercises_numbered_across_the_book", _exercise("Exercise 17", "ex-a")
                 + _exercise("Exercise 18", "ex-b")),
        ["exercise 1 ('Exercise 17', id 'ex-a') is numbered 'Exercise 17', not 'Exercise 5.1'",
         "'Exercise 18', not 'Exercise 5.2'"]),
    "chapters/05_solution_of_another_exercise.html": (
        _chapter("05_solution_of_another_exercise", _exercise("Exercise 5.1", "ex-a")
                 + _exercise("Exercise 5.2", "ex-b") + _solution("Exercise 5.1", "ex-b")),
        ["solution 'Solution to Exercise 5.1' belongs to Exercise 5.2"]),
    "chapters/05_no_launch_link.html": (
        _chapter("05_no_launch_link", "<p>Text.</p>", launch=""),
        [f"no Colab launch link (expected {FAKE_COLAB_PREFIX}05_no_launch_link.ipynb)"]),
    "chapters/05_launch_opens_the_myst_notebook.html": (
        _chapter("05_launch_opens_the_myst_notebook", "<p>Text.</p>", launch=FAKE_COLAB_PREFIX.replace(
            "/colab/", "/chapters/") + "05_launch_opens_the_myst_notebook.ipynb"),
        ["does not open the chapter's Colab edition", "opens a notebook outside the Colab edition"]),
    "chapters/05_not_in_the_colab_edition.html": (
        _chapter("05_not_in_the_colab_edition", "<p>Text.</p>"),
        ["no 05_not_in_the_colab_edition.ipynb in colab/"]),
}
# Pages that must pass at the desktop width: their fault shows on a phone only.
PHONE_ONLY = {"wide_word.html", "clipped_code.html", "clipped_next_link.html"}


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
    colab = tmp_path_factory.mktemp("fake_repository") / "colab"
    colab.mkdir()
    (colab / "06_other.ipynb").write_text("{}", encoding="utf-8")
    for name, (body, _expected) in FAKE_PAGES.items():
        if body is not None:
            (folder / name).parent.mkdir(exist_ok=True)
            (folder / name).write_text(_html(body), encoding="utf-8")
        if CHAPTER_PAGE.match(name) and "not_in_the_colab_edition" not in name:
            (colab / f"{Path(name).stem}.ipynb").write_text("{}", encoding="utf-8")
    with LoopbackServer(folder) as server:
        yield BookChecker(browser, server, ColabEdition(FAKE_COLAB_PREFIX, colab))


@pytest.mark.parametrize("page", sorted(FAKE_PAGES))
def test_checker_reports_each_fault(fake_book, page):
    expected = FAKE_PAGES[page][1]
    report = fake_book.check(page)
    if not expected:
        assert not report.problems, f"a clean page was reported: {report.problems}"
        if page == "clean.html":
            assert report.images_checked == 2 and report.links_checked == 5, report
            assert any("cdn.example.org/lib.js" in url for url in report.blocked), report.blocked
            assert any("example.org/badge.png" in url for url in report.blocked), report.blocked
        return
    for needle in expected:
        assert any(needle in problem for problem in report.problems), (
            f"{page}: expected a problem containing {needle!r}; reported: {report.problems}")
    if page in PHONE_ONLY:
        at_desktop = [problem for problem in report.problems if problem.startswith(f"at {DESKTOP['width']} px")]
        assert not at_desktop, f"{page} fits a desktop's column, yet: {at_desktop}"
