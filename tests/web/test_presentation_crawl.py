"""One presentation layer: every page of the demo, for every persona, shows numbers and codes
the way people read them.

The demo data is loaded and each demo user follows every link from home (the web pages only).
The visible text of every page (not ``<code>``, ``<pre>``, ``<kbd>``, an element marked
``translate="no"`` such as a username, scripts, styles or attribute values) must not hold:

- a raw code (``medicare_advantage``, ``any_day``): a word with an underscore, or a line of
  business in lower case (``medicaid``); the column names and coded values of our file formats
  are pinned names a user types in a file, so they read as they are;
- a number with five or more decimals (``28.000000``, ``2.903226``);
- an amount of a thousand or more without separators (``1096.22`` is fine, ``12345.67`` is not:
  money is ``$12,345.67``);
- a Python or Django class name or a UUID, as the access log showed (``RosterMemberListApi``);
- a moment as ISO 8601 (``2026-12-06T10:10:03+00:00``): a moment reads ``2026-12-06 10:10``.

A new page is covered without editing this test.
"""

from __future__ import annotations

import re
from collections import deque
from html.parser import HTMLParser

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client, override_settings

from claims.extract import COLUMNS as CLAIMS_COLUMNS
from core.domain.codes import LINES_OF_BUSINESS
from enrollment.ingest.roster import (
    ASSESSMENT_COLUMNS,
    ASSESSMENT_OUTCOMES,
    DISENROLLMENT_REASONS,
    ROSTER_COLUMNS,
)
from performance.ingest import COLUMNS as UTILIZATION_COLUMNS
from pricing.experience import EXPERIENCE_COLUMNS, SPAN_COLUMNS
from tests.security.test_tenancy_crawl import _local

pytestmark = pytest.mark.django_db

PERSONAS = ["plan_analyst", "plan_contracts", "plan_auditor", "urban_admin", "rural_admin"]
MAX_PAGES = 250
#: Pages that show files or machine text on purpose (the API's own docs, downloads).
NOT_PAGES = ("/api/", "/admin/", "/static/", "/logout/", "/media/")

#: Column names and coded values of our file formats: pinned names a user types in a file.
FILE_COLUMNS = {
    *ASSESSMENT_OUTCOMES,
    *DISENROLLMENT_REASONS,
    *CLAIMS_COLUMNS,
    *ROSTER_COLUMNS,
    *ASSESSMENT_COLUMNS,
    *UTILIZATION_COLUMNS,
    *EXPERIENCE_COLUMNS,
    *SPAN_COLUMNS,
}

LEAKS = {
    "raw code": re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b|\b(?:" + "|".join(LINES_OF_BUSINESS) + r")\b"),
    "six-decimal number": re.compile(r"\b\d+\.\d{5,}\b"),
    "unformatted amount": re.compile(r"(?<![\d,.])\d{4,}\.\d{1,2}\b"),
    "class name": re.compile(r"\b[A-Z][a-z]+(?:[A-Z][a-z]+){2,}(?:Api|View|Set)\b"),
    "ISO timestamp": re.compile(r"\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}"),
    "UUID": re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"),
}


class _Page(HTMLParser):
    """The text a person reads on a page, and the links to follow."""

    SKIP = {"code", "pre", "kbd", "script", "style", "samp", "textarea", "template"}

    def __init__(self):
        super().__init__()
        self.text: list[str] = []
        self.links: set[str] = set()
        self._skipping = 0
        self._skipped: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in self.SKIP or attrs.get("translate") == "no":
            self._skipping += 1
            self._skipped.append(tag)
        for name in ("href", "hx-get"):
            if attrs.get(name) and "download" not in attrs:
                self.links.add(attrs[name])

    def handle_endtag(self, tag):
        if self._skipped and tag == self._skipped[-1]:
            self._skipped.pop()
            self._skipping -= 1

    def handle_data(self, data):
        if not self._skipping and data.strip():
            self.text.append(data.strip())


def leaks_in(text: str) -> list[str]:
    found = []
    for name, pattern in LEAKS.items():
        for match in pattern.finditer(text):
            if match.group(0) in FILE_COLUMNS:
                continue
            start = max(0, match.start() - 40)
            found.append(f"{name} {match.group(0)!r} in …{text[start : match.end() + 40]}…")
    return found


def test_the_detector_finds_each_leak_and_passes_formatted_text():
    assert leaks_in("Line of business medicare_advantage") and leaks_in("28.000000 member-months")
    assert leaks_in("Lines of business medicaid, dsnp") and not leaks_in("Column last_name: not a date")
    assert leaks_in("Paid 12345.67") and leaks_in("RosterMemberListApi")
    assert leaks_in("id 0b7e4a8e-1f2c-4c1d-9a57-2b7c3f0e9d11") and leaks_in("at 2026-12-06T10:10:03+00:00")
    assert not leaks_in("Paid $12,345.67 for 28.00 member-months, −$4.10 on 2026-03-01 at 3.5%")
    assert not leaks_in("Medicare Advantage · Any day of the month · Tier 3 · CTR-2026-0002 v2.1")


@pytest.fixture
def demo(settings):
    with override_settings(DEBUG=True):
        call_command("seed_demo", verbosity=0)


def test_every_page_of_the_demo_shows_numbers_and_codes_as_people_read_them(demo):
    User = get_user_model()
    failures: dict[str, list[str]] = {}
    for username in PERSONAS:
        client = Client()
        client.force_login(User.objects.get(username=username))
        queue, seen = deque(["/"]), set()
        while queue and len(seen) < MAX_PAGES:
            path = queue.popleft()
            if path in seen or path.startswith(NOT_PAGES):
                continue
            seen.add(path)
            response = client.get(path)
            if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
                continue
            page = _Page()
            page.feed(response.content.decode())
            for leak in leaks_in(" ".join(page.text)):
                failures.setdefault(path, []).append(f"{username}: {leak}")
            queue.extend(local for link in page.links if (local := _local(link)) and local not in seen)
    report = [f"{path}\n  " + "\n  ".join(sorted(set(items))[:8]) for path, items in sorted(failures.items())]
    assert not failures, f"{len(failures)} pages leak:\n" + "\n".join(report)
