"""Every page of each portal passes axe-core (no serious or critical violation) at desktop and phone width,
and none scrolls sideways on a phone.

Pages are found as the tenancy crawler finds them (tests/support/crawler.py): same-portal links followed
from the portal's home, one page of each shape (PAGES_PER_SHAPE). axe-core is vendored for this test only
(tests/e2e/vendor/README); it is injected into each page, never served by the app.
"""
from __future__ import annotations

from collections import Counter, deque
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from messaging_web.services import demo
from tests.e2e.conftest import ARTIFACTS
from tests.support.crawler import in_portal, shape

# Evaluated through the DevTools protocol, which the app's Content-Security-Policy (script-src 'self') allows.
AXE = "() => {\n" + (Path(__file__).parent / "vendor" / "axe.min.js").read_text() + "\n}"
WIDTHS = (1280, 390)
PAGES_PER_SHAPE = 1
PAGES_PER_PORTAL = 40
# Not pages to look at: signing out, live streams, downloads and thumbnails, the portal's own exports.
SKIPPED = ("/logout", "/live", "/stream", "/attachments/", "/thumbnail", "/download", "/export", ".csv")

# Each portal in another language (the longer French and German words must fit a phone too): the admin in
# English, the store team member's browser asks for French, Bergmann's customer reads the store's German.
BROWSER_LANGUAGES = {"admin": "en-US", "store": "fr-FR", "customer": "en-US"}
# The store team member's device is in Paris: every page offers that zone (the banner is checked too).
BROWSER_ZONES = {"admin": "UTC", "store": "Europe/Paris", "customer": "UTC"}
PAGE_LANGUAGES = {"admin": "en", "store": "fr", "customer": "de"}
PORTALS = {
    "admin": ("/admin/login", "admin@platform.example", "/admin/"),
    "store": ("/store/bergmann/login", "owner@bergmann.example", "/store/bergmann/"),
    "customer": ("/inbox/bergmann/login", "alice@customer.example", "/inbox/bergmann/"),
}
PUBLIC_PAGES = ["/", "/admin/login", "/store/bergmann/login", "/inbox/bergmann/login", "/u/not-a-token"]
# Pages outside the portals' prefixes that each signed-in person reaches from the top bar.
ACCOUNT_PAGES = ["/account/profile", "/account/password"]

RUN_AXE = """async () => {
  const result = await axe.run(document, {
    // The email previews' sandboxed frames hold a template's own HTML, not the app's.
    resultTypes: ["violations"], iframes: false,
    runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]},
  });
  return result.violations
    .filter(v => v.impact === "serious" || v.impact === "critical")
    .map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 3).map(n => n.target.join(" ") + (n.failureSummary ? " :: " +
                  n.failureSummary.split("\\n").slice(1, 2).join("") : ""))}));
}"""

LINKS = """() => [...document.querySelectorAll("a[href]")]
  .filter(a => !a.hasAttribute("download") && !a.closest("[hidden]"))
  .map(a => a.getAttribute("href"))"""

# What has the keyboard focus, and whether it shows: an outline, or for the skip link its place on screen.
FOCUSED = """() => {
  const e = document.activeElement;
  if (e === document.body) return null;  // past the last control: the browser's own, then round again
  const style = getComputedStyle(e), box = e.getBoundingClientRect();
  return {name: e.tagName.toLowerCase() + (e.className && typeof e.className === "string" ? "." + e.className : "") +
                " " + (e.textContent || e.getAttribute("aria-label") || "").trim().slice(0, 30),
          skip: e.classList.contains("skip-link"), shown: box.width > 1 && box.height > 1 && box.top >= 0,
          ring: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2};
}"""
TABS = 12

SETTLED = "() => !document.querySelector('.htmx-request, .htmx-settling, .htmx-swapping')"


@pytest.fixture
def reply_by_email_on(live_app):
    """Reply by email on, so the undelivered replies pages are in the nav too."""
    before = live_app.config.get("INBOUND_EMAIL_DOMAIN", "")
    live_app.config["INBOUND_EMAIL_DOMAIN"] = "reply.a11y.test"
    yield
    live_app.config["INBOUND_EMAIL_DOMAIN"] = before


def audit(page, url: str, problems: list[str]) -> list[str]:
    """axe at each width, the phone width's sideways scroll; the page's links."""
    response = page.goto(url, wait_until="load")
    assert response is not None and response.status < 500, f"GET {url} -> {response and response.status}"
    page.wait_for_function(SETTLED, timeout=5000)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 800})
        if not page.evaluate("() => typeof axe !== 'undefined'"):
            page.evaluate(AXE)
        for violation in page.evaluate(RUN_AXE):
            problems.append(f"{url} @{width}px: {violation['impact']} {violation['id']} ({violation['help']}): "
                            + " | ".join(violation["nodes"]))
        if width < 500:
            scroll, inner = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
            if scroll > inner:
                wide = page.evaluate("""() => [...document.querySelectorAll('body *')]
                    .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
                    .filter(e => ![...e.children].some(c => c.getBoundingClientRect().right > window.innerWidth + 1))
                    .slice(0, 3).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
                      (e.className && typeof e.className === 'string' ? '.' + e.className.trim().split(/\\s+/).join('.') : ''))""")
                problems.append(f"{url} @{width}px: scrolls sideways ({scroll}px wide > {inner}px): {', '.join(wide)}")
    return page.evaluate(LINKS)


def check_focus(page, url: str, problems: list[str]) -> None:
    """The first Tab reaches the skip link, shown on screen; it leads to the main content; the next
    few Tabs each show a focus ring."""
    page.goto(url, wait_until="load")
    page.keyboard.press("Tab")
    first = page.evaluate(FOCUSED) or {"name": "nothing", "skip": False}
    if not (first["skip"] and first["shown"] and first["ring"]):
        problems.append(f"{url}: the first Tab reaches {first['name']!r}, not a visible skip link")
    page.keyboard.press("Enter")
    if page.evaluate("() => document.activeElement.id") != "main":
        problems.append(f"{url}: the skip link does not move the focus to the main content")
    for _ in range(TABS):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        if focused is not None and not (focused["shown"] and focused["ring"]):
            problems.append(f"{url}: no visible focus on {focused['name']!r}")


def crawl_portal(app, page, home: str, prefix: str, problems: list[str]) -> list[str]:
    seen, queue, visited = {home}, deque([home]), []
    shapes = Counter([shape(app, home)])
    while queue and len(visited) < PAGES_PER_PORTAL:
        url = queue.popleft()
        visited.append(url)
        for link in audit(page, url, problems):
            link = link.split("#")[0]
            path = urlsplit(link).path
            if (link and in_portal(link, prefix) and not any(s in path for s in SKIPPED) and link not in seen
                    and shapes[shape(app, link)] < PAGES_PER_SHAPE):
                seen.add(link)
                shapes[shape(app, link)] += 1
                queue.append(link)
    return visited


def test_every_page_passes_axe_and_fits_a_phone(live_app, live_server, browser, reply_by_email_on):
    problems: list[str] = []
    visited: dict[str, list[str]] = {}
    context = browser.new_context(base_url=live_server, viewport={"width": WIDTHS[0], "height": 800})
    try:
        page = context.new_page()
        for url in PUBLIC_PAGES:
            audit(page, url, problems)
        visited["public"] = PUBLIC_PAGES
    finally:
        context.close()
    for portal, (login, email, prefix) in PORTALS.items():
        context = browser.new_context(base_url=live_server, viewport={"width": WIDTHS[0], "height": 800},
                                      locale=BROWSER_LANGUAGES[portal], timezone_id=BROWSER_ZONES[portal])
        try:
            page = context.new_page()
            page.goto(login)
            page.fill("#email", email)
            page.fill("#password", demo.DEMO_PASSWORD)
            page.press("#password", "Enter")
            page.wait_for_url(f"**{prefix}")
            assert page.locator("html").get_attribute("lang") == PAGE_LANGUAGES[portal]
            assert page.locator("[data-zone-offer]").is_visible() == (BROWSER_ZONES[portal] != "UTC")
            check_focus(page, prefix, problems)
            visited[portal] = crawl_portal(live_app, page, prefix, prefix, problems)
            for url in ACCOUNT_PAGES:
                audit(page, url, problems)
            visited[portal] += ACCOUNT_PAGES
        finally:
            context.close()
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "accessibility.txt").write_text(
        "".join(f"{portal}: {' '.join(pages)}\n" for portal, pages in visited.items()) + "\n".join(problems) + "\n")
    # The crawl reached each portal's pages, not just its home.
    assert all(len(pages) > 1 for pages in visited.values()), visited
    assert problems == [], "\n".join(problems)
