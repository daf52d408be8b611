"""The built course site works offline, checked in a real browser.

The site is built once (``mkdocs build --strict``) and opened from disk (``file://``) in headless
Chromium, driven by Playwright, as a teacher on a closed network would open it. Every request for
anything outside the site's folder is blocked and counted. A tour clicks the Next link from the
home page to the last page and, on each page, reads:

- the formulas: every ``arithmatex`` element typeset by KaTeX, no KaTeX error, and no TeX left
  in the visible text (``$$``, ``\\frac``, any ``\\command`` outside code);
- the footer: Next leads through the sidebar's order to every page of docs/, Previous leads back.

The search box must find "im2col", and no request may leave the site or fail inside it.

Needs the docs extra, Playwright (the dev extra) and a Chromium on PATH (Debian's ``chromium``
package); Playwright drives that Chromium, it downloads no browser. Each missing piece skips the
tests, naming it. ``pytest -s tests/test_site.py`` prints the pages opened, the formulas counted
and the requests blocked.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from test_docs import DOCS, ROOT, mkdocs_build

if TYPE_CHECKING:  # Playwright may be missing: the tests then skip
    from playwright.sync_api import Browser, Page, Request, Route

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
PAGES = sorted(path.with_suffix(".html").name for path in DOCS.glob("*.md"))
KATEX_CSS = DOCS / "assets" / "katex" / "katex.min.css"
TIMEOUT_MS = 15_000  # the longest wait for an element; a page opens in well under a second

# TeX in the visible text: display delimiters, or a backslash command such as \frac or \text.
RAW_TEX = re.compile(r"\$\$|\\[A-Za-z]+")

# The article's visible text: KaTeX's hidden MathML copy (kept for screen readers, it holds the
# TeX source) and code, where TeX may be shown on purpose, left out.
VISIBLE_TEXT_JS = """article => {
    const copy = article.cloneNode(true);
    copy.querySelectorAll(".katex-mathml, pre, code").forEach(element => element.remove());
    return copy.textContent;
}"""


@dataclass
class Traffic:
    """The requests of one browser context: those outside the site are blocked and listed."""

    site_url: str
    blocked: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # requests inside the site that failed

    def route(self, route: Route) -> None:
        url = route.request.url
        if url.startswith(self.site_url):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort()

    def request_failed(self, request: Request) -> None:
        if request.url.startswith(self.site_url):
            self.failed.append(f"{request.url}: {request.failure}")


@dataclass
class PageVisit:
    """What one page showed: its name in the site, its formulas and its footer links."""

    name: str
    formulas: int  # arithmatex elements, one per $...$ or $$...$$
    typeset: int  # those holding KaTeX's output
    errors: int  # .katex-error elements: TeX that KaTeX could not parse
    raw_tex: list[str]
    previous: str | None  # the footer's links, as page names in the site
    next: str | None


@dataclass
class Tour:
    sidebar: list[str]  # the pages in the sidebar's order
    visits: list[PageVisit]
    traffic: Traffic


def chromium_path() -> str | None:
    return next(filter(None, map(shutil.which, CHROMIUM_NAMES)), None)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The course site, built once for the module."""
    for module in ("mkdocs", "material", "mkdocstrings", "pymdownx"):
        pytest.importorskip(module, reason="the docs packages are not installed (docs extra)")
    folder = tmp_path_factory.mktemp("site")
    result = mkdocs_build(ROOT / "mkdocs.yml", folder)
    assert result.returncode == 0, f"mkdocs build failed:\n{result.stdout}{result.stderr}"
    return folder


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Chromium: the system's, driven by Playwright."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")
    executable = chromium_path()
    if executable is None:
        pytest.skip(f"no Chromium on PATH (looked for {', '.join(CHROMIUM_NAMES)})")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True)
        yield browser
        browser.close()


@contextmanager
def offline_page(browser: Browser, site: Path) -> Iterator[tuple[Page, Traffic]]:
    """A new page, showing the home page, whose requests may not leave the site's folder."""
    traffic = Traffic(site_url=site.as_uri() + "/")
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    context.route("**/*", traffic.route)
    page = context.new_page()
    page.on("requestfailed", traffic.request_failed)
    page.goto(traffic.site_url + "index.html")
    try:
        yield page, traffic
    finally:
        context.close()


def page_name(url: str, traffic: Traffic) -> str:
    """``file:///.../site/03-autodiff.html#loss`` -> ``03-autodiff.html``."""
    assert url.startswith(traffic.site_url), f"{url} is outside the site"
    return url.removeprefix(traffic.site_url).split("#")[0]


def link_targets(page: Page, selector: str, traffic: Traffic) -> list[str]:
    """The pages the links lead to (their resolved hrefs), in the order they appear."""
    urls = page.locator(selector).evaluate_all("links => links.map(a => a.href)")
    return [page_name(url, traffic) for url in urls]


def visit(page: Page, traffic: Traffic) -> PageVisit:
    """Read the page shown: count its formulas and find its footer links."""
    assert page.locator("article").count() == 1, f"{page.url} shows no page of the course"
    text = page.locator("article").evaluate(VISIBLE_TEXT_JS)
    return PageVisit(
        name=page_name(page.url, traffic),
        formulas=page.locator(".arithmatex").count(),
        typeset=page.locator(".arithmatex > .katex, .arithmatex > .katex-display").count(),
        errors=page.locator(".katex-error").count(),
        raw_tex=RAW_TEX.findall(text),
        previous=next(iter(link_targets(page, "a.md-footer__link--prev", traffic)), None),
        next=next(iter(link_targets(page, "a.md-footer__link--next", traffic)), None),
    )


@pytest.fixture(scope="module")
def tour(browser: Browser, site: Path) -> Tour:
    """From the home page, click Next until the last page, reading each page on the way."""
    with offline_page(browser, site) as (page, traffic):
        sidebar = link_targets(page, ".md-nav--primary a.md-nav__link[href]", traffic)
        sidebar = list(dict.fromkeys(sidebar))  # a page's sections link it again
        visits = [visit(page, traffic)]
        while visits[-1].next is not None and len(visits) <= len(sidebar):
            page.locator("a.md-footer__link--next").click()
            page.wait_for_load_state()
            visits.append(visit(page, traffic))
    formulas, typeset = sum(v.formulas for v in visits), sum(v.typeset for v in visits)
    print(
        f"\nsite tour: {len(visits)} pages opened, {formulas} formulas counted ({typeset} "
        f"typeset), {len(traffic.blocked)} requests blocked"
    )
    return Tour(sidebar, visits, traffic)


def test_next_links_lead_through_every_page(tour: Tour) -> None:
    visited = [visit.name for visit in tour.visits]
    assert visited == tour.sidebar, "the Next links do not follow the sidebar"
    assert sorted(visited) == PAGES, "the tour did not reach every page of docs/ exactly once"


def test_previous_links_lead_back(tour: Tour) -> None:
    names = [visit.name for visit in tour.visits]
    assert [visit.previous for visit in tour.visits] == [None, *names[:-1]]


def test_formulas_are_typeset_on_every_page(tour: Tour) -> None:
    for visit in tour.visits:
        assert visit.typeset == visit.formulas, (
            f"{visit.name}: {visit.typeset} of {visit.formulas} formulas typeset"
        )
        assert visit.errors == 0, f"{visit.name}: KaTeX could not parse {visit.errors} formulas"
        assert not visit.raw_tex, f"{visit.name}: TeX left in the visible text: {visit.raw_tex}"
    pages_with_math = [visit.name for visit in tour.visits if visit.formulas]
    assert "10-losses.html" in pages_with_math, "the formulas were not found at all"


def test_no_request_leaves_the_site(tour: Tour) -> None:
    assert tour.traffic.blocked == [], "the site asked for files from outside itself"
    assert tour.traffic.failed == [], "files of the site could not be loaded"


def test_search_finds_im2col(browser: Browser, site: Path) -> None:
    with offline_page(browser, site) as (page, traffic):
        page.locator("input.md-search__input").click()
        page.locator("input.md-search__input").press_sequentially("im2col")
        results = page.locator(".md-search-result__item")
        results.first.wait_for()
        found, first_result = results.count(), results.first.inner_text()
        targets = link_targets(page, ".md-search-result__item a", traffic)
    print(f"\nsearch: {found} pages found for im2col, {len(traffic.blocked)} requests blocked")
    assert "im2col" in first_result.lower()
    assert "08-convolution.html" in targets
    assert traffic.blocked == [] and traffic.failed == []


def test_a_request_leaving_the_site_is_blocked(browser: Browser, site: Path) -> None:
    """The guard itself: a picture from outside, added to a page, is blocked and counted."""
    outside = "https://example.invalid/picture.png"
    with offline_page(browser, site) as (page, traffic), page.expect_event("requestfailed"):
        page.evaluate(f"document.body.append(Object.assign(new Image(), {{src: '{outside}'}}))")
    assert outside in traffic.blocked


def test_katex_fonts_are_all_shipped() -> None:
    """The vendored stylesheet names only font files that docs/assets/katex/ holds."""
    fonts = re.findall(r"url\(([^)]+)\)", KATEX_CSS.read_text())
    assert fonts, f"{KATEX_CSS} names no font"
    missing = [font for font in fonts if not (KATEX_CSS.parent / font).is_file()]
    assert missing == [], f"fonts named by {KATEX_CSS.name} but not shipped"
