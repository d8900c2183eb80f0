"""Journey: two-factor sign-in. The provider's administrator sets up an authenticator app from the
top bar (the key read off the setup page, as an app would take it), keeps the backup codes, logs out,
logs in again, is asked for the code after the password, gives it and lands on the home page."""

from __future__ import annotations

import re
import time
from base64 import b32decode

from django_otp.oath import TOTP
from playwright.sync_api import expect

from tests.e2e.conftest import login


def app_code(secret: str, *, ahead: int = 0) -> str:
    """What an authenticator app holding ``secret`` shows (``ahead`` steps of 30 seconds later: a code
    is accepted once per step, and the next step's code is accepted too)."""
    totp = TOTP(b32decode(secret + "=" * (-len(secret) % 8)), step=30, digits=6)
    totp.time = time.time() + 30 * ahead
    return f"{totp.token():06d}"


def test_administrator_turns_on_two_factor_and_signs_in_with_a_code(page, live_server, demo):
    login(page, live_server, "urban_admin")
    expect(page.get_by_role("heading", level=1)).to_have_text("Bayview Home Palliative Care")

    page.get_by_role("link", name="Two-factor sign-in").click()
    expect(page.get_by_test_id("two-factor-status")).to_contain_text("Off")
    page.get_by_role("link", name="Set up two-factor sign-in").click()
    page.get_by_role("button", name="Start setup").click()
    expect(page.get_by_role("img", name=re.compile("QR code"))).to_be_visible()
    secret = page.get_by_test_id("two-factor-secret").inner_text().strip()

    page.get_by_label("Code from the app").fill("000000" if app_code(secret) != "000000" else "111111")
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    expect(page.get_by_role("alert")).to_contain_text("That code is not right")
    time.sleep(1.5)  # django-otp makes the next try wait a second after a wrong code
    page.get_by_label("Code from the app").fill(app_code(secret))
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your backup codes")
    expect(page.get_by_test_id("backup-codes").get_by_role("listitem")).to_have_count(10)

    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login/"))
    login(page, live_server, "urban_admin")
    expect(page).to_have_url(re.compile(r"/accounts/two-factor/verify/"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Enter your sign-in code")
    page.goto(live_server.url + "/contracts/")  # nothing else opens before the code
    expect(page).to_have_url(re.compile(r"/accounts/two-factor/verify/\?next=%2Fcontracts%2F"))
    page.goto(live_server.url + "/")

    page.get_by_label("Code").fill(app_code(secret, ahead=1))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Bayview Home Palliative Care")
    page.get_by_role("link", name="Two-factor sign-in").click()
    expect(page.get_by_test_id("two-factor-status")).to_contain_text("On")
