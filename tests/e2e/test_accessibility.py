"""WCAG 2.1 AA (issue 16, point 8): axe-core finds no serious or critical violation on any page
reachable from each persona's home (the crawl of test_responsive), so every input has a label."""

from __future__ import annotations

import re
from collections import defaultdict

from axe_playwright_python.sync_playwright import Axe

from tests.e2e.conftest import crawl, login

PERSONAS = ["plan_analyst", "plan_contracts", "plan_auditor", "urban_admin", "rural_admin"]
#: The WCAG 2.0 and 2.1 success criteria, levels A and AA.
OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
    "resultTypes": ["violations"],
}
IMPACTS = {"serious", "critical"}
TARGETS = 3

#: Known violations waiting for a fix in a file this change could not touch: (rule id, regular
#: expression the page path must match fully) -> the file and the fix. Empty it as they are fixed.
ALLOWED: dict[tuple[str, str], str] = {}


def _allowed(rule: str, path: str) -> bool:
    return any(rule == allowed and re.fullmatch(pattern, path) for allowed, pattern in ALLOWED)


def test_no_serious_or_critical_axe_violation_on_any_page(page, live_server, demo):
    axe = Axe()
    found: dict[str, list[str]] = defaultdict(list)
    for username in PERSONAS:
        page.context.clear_cookies()
        login(page, live_server, username)
        for path in crawl(page, live_server):
            page.wait_for_load_state("networkidle")  # panels htmx loads on arrival
            for violation in axe.run(page, options=OPTIONS).response["violations"]:
                if violation["impact"] not in IMPACTS or _allowed(violation["id"], path):
                    continue
                targets = [" ".join(map(str, node["target"])) for node in violation["nodes"]]
                more = f" (+{len(targets) - TARGETS} more)" if len(targets) > TARGETS else ""
                found[f"{violation['id']} ({violation['impact']})"].append(
                    f"{username} {path}: {', '.join(targets[:TARGETS])}{more}"
                )
    report = [
        f"{rule} on {len(pages)} page(s):\n  " + "\n  ".join(pages) for rule, pages in sorted(found.items())
    ]
    assert not found, "serious or critical axe violations:\n" + "\n".join(report)
