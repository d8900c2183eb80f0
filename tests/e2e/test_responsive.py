"""Phones: at 390 px every page reachable from each persona's home fits the viewport (tables scroll
inside their own box), the navigation folds behind a Menu button, and no page logs a console error."""

from __future__ import annotations

from collections import deque
from urllib.parse import urldefrag, urlparse

from playwright.sync_api import expect

from tests.e2e.conftest import login

PERSONAS = ["plan_analyst", "plan_contracts", "plan_auditor", "urban_admin", "rural_admin"]
PHONE = {"width": 390, "height": 844}
#: Pages per persona: enough to reach every kind of page (lists, details, drill-downs, forms).
MAX_PAGES = 45
SKIP = ("/api/", "/admin/", "/static/", "/logout/", "/media/")

LINKS = """() => [...document.querySelectorAll('a[href]:not([download])')].map(a => a.getAttribute('href'))"""
OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const wide = [...document.querySelectorAll('body *')].filter(el => {
    const box = el.getBoundingClientRect();
    return box.width > 0 && box.right > width + 1 && !el.closest('.table, .scroll, pre');
  });
  return {scroll: document.documentElement.scrollWidth, width,
          wide: wide.slice(0, 3).map(el => el.tagName.toLowerCase() + (el.className ? '.' + el.className : ''))};
}"""


def _local(href: str, base: str) -> str | None:
    href = urldefrag(href)[0]
    parsed = urlparse(href)
    if parsed.scheme and not href.startswith(base):
        return None
    path = parsed.path
    if (
        not path.startswith("/")
        or path.startswith(SKIP)
        or path.rsplit(".", 1)[-1] in {"pdf", "csv", "json", "xlsx", "txt", "x12", "edi"}
    ):
        return None
    return path + (f"?{parsed.query}" if parsed.query and "page" not in parsed.query else "")


def test_every_page_fits_a_phone_and_the_navigation_folds(page, live_server, demo):
    failures: list[str] = []
    errors: list[str] = []
    page.on(
        "console", lambda message: message.type == "error" and errors.append(f"{page.url}: {message.text}")
    )
    page.on("pageerror", lambda error: errors.append(f"{page.url}: {error}"))
    page.set_viewport_size(PHONE)
    for username in PERSONAS:
        page.context.clear_cookies()
        login(page, live_server, username)
        nav = page.get_by_role("navigation", name="Main")
        menu = nav.get_by_role("button", name="Menu")
        expect(menu).to_be_visible()
        expect(nav.get_by_role("link").first).to_be_hidden()
        menu.click()
        expect(nav.get_by_role("link").first).to_be_visible()
        expect(menu).to_have_attribute("aria-expanded", "true")

        queue, seen = deque(["/"]), set()
        while queue and len(seen) < MAX_PAGES:
            path = queue.popleft()
            if path in seen:
                continue
            seen.add(path)
            probe = page.request.get(live_server.url + path)
            if probe.status != 200 or "text/html" not in probe.headers.get("content-type", ""):
                continue
            page.goto(live_server.url + path)
            fit = page.evaluate(OVERFLOW)
            if fit["scroll"] > fit["width"] + 1 or fit["wide"]:
                failures.append(f"{username} {path}: {fit['scroll']}px wide ({', '.join(fit['wide'])})")
            for href in page.evaluate(LINKS):
                local = _local(href, live_server.url)
                if local and local not in seen:
                    queue.append(local)
    assert not failures, "pages wider than a phone:\n" + "\n".join(failures)
    assert not errors, "console errors:\n" + "\n".join(sorted(set(errors))[:20])
