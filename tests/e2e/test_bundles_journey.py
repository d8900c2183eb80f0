"""Journey: the plan analyst creates a bundle, fills the grid, publishes, sees v1, starts a new draft."""

import re

from playwright.sync_api import expect

from bundles.models import BundleVersion
from tests.e2e.conftest import login

ROLES = ("physician", "np", "rn", "lcsw", "chaplain", "chw")


def test_create_fill_grid_publish_and_start_new_draft(page, live_server, demo):
    login(page, live_server, "plan_analyst")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Bundles").click()
    expect(page.get_by_role("heading", name="Bundles")).to_be_visible()
    page.get_by_role("link", name="New bundle").click()

    page.get_by_label("Name").fill("Journey bundle")
    page.get_by_label("URBAN · San Francisco Bay urban core").check()
    page.get_by_label("Number of tiers").fill("2")
    page.get_by_role("button", name="Create draft").click()
    expect(page.get_by_role("heading", name="Edit draft")).to_be_visible()

    # A bad value is refused in place, without a reload, and nothing is lost.
    cell = page.get_by_label("Nurse practitioner tier 1 visits per member-month")
    cell.fill("-1")
    cell.press("Tab")
    expect(page.locator("#grid-editor .field-error")).to_contain_text("Must be at least 0.")

    for role_name in (
        "Physician",
        "Nurse practitioner",
        "Registered nurse",
        "Licensed clinical social worker",
        "Chaplain",
    ):
        for tier in ("1", "2"):
            field = page.get_by_label(f"{role_name} tier {tier} visits per member-month")
            field.fill("1" if tier == "1" else "2")
            field.press("Tab")
            expect(page.get_by_label(f"{role_name} tier {tier} visits per member-month")).to_have_value(
                "1" if tier == "1" else "2"
            )
    expect(page.get_by_test_id("total-2")).not_to_have_text("0.0")

    # Publishing without an assessment lists what is missing.
    page.get_by_role("button", name="Publish as a new version").click()
    expect(page.get_by_test_id("publish-problems")).to_contain_text("Define the initial assessment")

    page.get_by_label("Nurse practitioner assessment minutes").fill("90")
    page.get_by_role("button", name="Save assessment").click()
    # Publishing asks first and says what it does; declining leaves the draft as it is.
    page.accept_dialogs = False
    page.get_by_role("button", name="Publish as a new version").click()
    expect(page.get_by_role("heading", name="Edit draft")).to_be_visible()
    page.wait_for_function("() => true")  # let the dialog handler run
    assert page.dialogs and "never changes" in page.dialogs[-1]
    assert not BundleVersion.objects.filter(bundle__name="Journey bundle", status="published").exists()
    page.accept_dialogs = True
    page.get_by_role("button", name="Publish as a new version").click()
    expect(page).to_have_url(re.compile(r"/v/1/$"))
    expect(page.get_by_test_id("version-label")).to_contain_text("v1 · Published")

    page.get_by_role("button", name="New draft from v1").click()
    expect(page.get_by_role("heading", name="Edit draft")).to_be_visible()
    expect(page.get_by_text("draft from v1")).to_be_visible()


def test_the_grid_is_used_from_the_keyboard(page, live_server, demo):
    login(page, live_server, "plan_analyst")
    page.goto(f"{live_server.url}/bundles/new/")
    page.get_by_label("Name").fill("Keyboard bundle")
    page.get_by_label("URBAN · San Francisco Bay urban core").check()
    page.get_by_label("Number of tiers").fill("2")
    page.get_by_role("button", name="Create draft").click()
    expect(page.get_by_role("heading", name="Edit draft")).to_be_visible()

    first = page.get_by_label("Physician tier 1 visits per member-month")
    first.focus()
    page.keyboard.type("1.5")
    page.keyboard.press("Enter")  # saves the cell (it is left) and goes down the column
    below = page.get_by_label("Nurse practitioner tier 1 visits per member-month")
    expect(below).to_be_focused()
    page.keyboard.type("2")
    page.keyboard.press("ArrowDown")
    expect(page.get_by_label("Registered nurse tier 1 visits per member-month")).to_be_focused()
    page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowUp")
    expect(page.get_by_label("Physician tier 1 visits per member-month")).to_have_value("1.5")
    expect(page.get_by_label("Physician tier 1 visits per member-month")).to_be_focused()
    page.keyboard.press("Tab")  # along the row: tier 1's coordination minutes
    expect(page.get_by_label("Physician tier 1 coordination minutes per member-month")).to_be_focused()

    # Escape puts back what was saved; nothing is sent.
    nurse = page.get_by_label("Nurse practitioner tier 1 visits per member-month")
    nurse.focus()
    page.keyboard.press("Control+A")
    page.keyboard.type("9")
    page.keyboard.press("Escape")
    expect(nurse).to_have_value("2")
    page.reload()
    expect(page.get_by_label("Physician tier 1 visits per member-month")).to_have_value("1.5")
    expect(page.get_by_label("Nurse practitioner tier 1 visits per member-month")).to_have_value("2")
