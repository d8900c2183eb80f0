"""Journey: the plan analyst logs in, sees the home page for their role, and logs out."""

import re

from playwright.sync_api import expect

from tests.e2e.conftest import login


def test_plan_analyst_logs_in_sees_home_and_logs_out(page, live_server, demo):
    page.goto(live_server.url + "/")
    expect(page).to_have_url(re.compile(r"/login/"))

    login(page, live_server, "plan_analyst", "wrong-password")
    expect(page.get_by_role("alert")).to_contain_text("correct username and password")

    login(page, live_server, "plan_analyst")
    expect(page.get_by_role("heading", level=1)).to_have_text("Golden Coast Health Plan")
    expect(page.get_by_test_id("role")).to_have_text("Analyst / actuary")
    expect(page.get_by_role("navigation", name="Main")).to_contain_text("Organisations")

    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login/"))
    page.goto(live_server.url + "/")
    expect(page).to_have_url(re.compile(r"/login/"))
