"""Browser journeys: Playwright's Python package driving Debian's Chromium against live_server.

Chromium comes from `apt-get install chromium` (never `playwright install`). In CI a missing
browser fails the run; on a developer machine without it the journeys are skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urldefrag, urlparse

import pytest
from playwright.sync_api import expect

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "e2e"


def pytest_collection_modifyitems(items):
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def browser():
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        message = f"Chromium not found at {CHROMIUM}: apt-get install chromium"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in the test thread; the ORM calls the test itself
    # makes (fixtures, assertions) are still synchronous and safe.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    # Publish, retire, propose, terminate and approve ask first (data-confirm): a journey accepts
    # (or declines, with page.accept_dialogs = False) and keeps each question to read what it said.
    page.dialogs, page.accept_dialogs = [], True

    def answer(dialog):
        page.dialogs.append(dialog.message)
        dialog.accept() if page.accept_dialogs else dialog.dismiss()

    page.on("dialog", answer)
    page.set_default_timeout(15_000)
    expect.set_options(timeout=15_000)  # htmx saves queue up; a loaded CI machine is slow
    yield page
    if getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture
def demo(transactional_db, settings):
    """The demo data, as `make run` loads it."""
    from django.core.management import call_command

    settings.DEBUG = True
    call_command("seed_demo", verbosity=0)
    settings.DEBUG = False


def login(page, live_server, username: str, password: str = "carebundle-demo") -> None:
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


#: Pages per persona for `crawl`: enough to reach every kind of page (lists, details, drill-downs, forms).
MAX_PAGES = 45
SKIP = ("/api/", "/admin/", "/static/", "/logout/", "/media/")
DOWNLOADS = {"pdf", "csv", "json", "xlsx", "txt", "x12", "edi"}
LINKS = """() => [...document.querySelectorAll('a[href]:not([download])')].map(a => a.getAttribute('href'))"""


def _local(href: str, base: str) -> str | None:
    """The path (and query, but not a page number) of a link to an HTML page of this site, or None."""
    href = urldefrag(href)[0]
    parsed = urlparse(href)
    if parsed.scheme and not href.startswith(base):
        return None
    path = parsed.path
    if not path.startswith("/") or path.startswith(SKIP) or path.rsplit(".", 1)[-1] in DOWNLOADS:
        return None
    return path + (f"?{parsed.query}" if parsed.query and "page" not in parsed.query else "")


def crawl(page, live_server, max_pages: int = MAX_PAGES) -> Iterator[str]:
    """Breadth first from the home page, open each HTML page the logged-in user can reach by a link
    (no API, admin, downloads or logout) and yield its path while the page is showing; its links
    are read after the caller is done with it."""
    queue, seen = deque(["/"]), set()
    while queue and len(seen) < max_pages:
        path = queue.popleft()
        if path in seen:
            continue
        seen.add(path)
        probe = page.request.get(live_server.url + path)
        if probe.status != 200 or "text/html" not in probe.headers.get("content-type", ""):
            continue
        page.goto(live_server.url + path)
        yield path
        for href in page.evaluate(LINKS):
            local = _local(href, live_server.url)
            if local and local not in seen:
                queue.append(local)
