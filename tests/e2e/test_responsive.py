"""Phones: at 390 px every page reachable from each persona's home fits the viewport (tables scroll
inside their own box), the navigation folds behind a Menu button, and no page logs a console error."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e.conftest import crawl, login

PERSONAS = ["plan_analyst", "plan_contracts", "plan_auditor", "urban_admin", "rural_admin"]
PHONE = {"width": 390, "height": 844}
OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const wide = [...document.querySelectorAll('body *')].filter(el => {
    const box = el.getBoundingClientRect();
    return box.width > 0 && box.right > width + 1 && !el.closest('.table, .scroll, pre');
  });
  return {scroll: document.documentElement.scrollWidth, width,
          wide: wide.slice(0, 3).map(el => el.tagName.toLowerCase() + (el.className ? '.' + el.className : ''))};
}"""


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

        for path in crawl(page, live_server):
            fit = page.evaluate(OVERFLOW)
            if fit["scroll"] > fit["width"] + 1 or fit["wide"]:
                failures.append(f"{username} {path}: {fit['scroll']}px wide ({', '.join(fit['wide'])})")
    assert not failures, "pages wider than a phone:\n" + "\n".join(failures)
    assert not errors, "console errors:\n" + "\n".join(sorted(set(errors))[:20])
