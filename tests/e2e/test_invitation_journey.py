"""Journey: Bayview's administrator invites a nurse by e-mail from the People page; the nurse follows the
link, creates an account and lands in Bayview's workspace; a revoked invitation's link says it no longer
works; the administrator deactivates a member (issue 16, point 3)."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from accounts.demo import URBAN_NAME
from accounts.models import Invitation, Membership, Organization
from tests.e2e.conftest import login

LINK = re.compile(r"https?://\S+/invitations/[A-Za-z0-9_-]{40,}/")


@pytest.fixture
def people_url(demo, live_server) -> str:
    urban = Organization.objects.get(legal_name=URBAN_NAME)
    return f"{live_server.url}/organizations/{urban.public_id}/members/"


def test_an_invited_nurse_signs_up_from_the_link(page, browser, live_server, people_url):
    login(page, live_server, "urban_admin")
    page.goto(people_url)
    page.get_by_label("E-mail address").fill("not an address")
    page.get_by_role("button", name="Send the invitation").click()
    expect(page.locator("#invite-email-error")).to_contain_text("valid email")
    expect(page.get_by_label("E-mail address")).to_have_value("not an address")  # kept to correct

    page.get_by_label("E-mail address").fill("Ana.Lima@bayview.example.org")
    page.locator("#id_invite_role").select_option(label="Contract manager")
    page.get_by_role("button", name="Send the invitation").click()
    expect(page).to_have_url(people_url)  # post/redirect/get: reloading sends nothing twice
    notice = page.get_by_text("Invitation sent to ana.lima@bayview.example.org")
    expect(notice).to_be_visible()
    link = LINK.search(notice.inner_text()).group(0)
    assert mail.outbox and link.split("/invitations/")[1] in mail.outbox[-1].body
    row = page.get_by_role("row").filter(has_text="ana.lima@bayview.example.org")
    expect(row).to_contain_text("Pending until")

    invitee = browser.new_context().new_page()
    invitee.goto(link)
    expect(invitee.get_by_role("heading", level=1)).to_have_text("Join Bayview")
    expect(invitee.locator("main")).to_contain_text("as Contract manager")
    invitee.get_by_label("Username").fill("ana")
    invitee.get_by_label("First name").fill("Ana")
    invitee.get_by_label("Password", exact=True).fill("a long and unusual passphrase 42")
    invitee.get_by_label("Password again").fill("a long and unusual passphrase 42")
    invitee.get_by_role("button", name="Create my account and join").click()
    expect(invitee).to_have_url(f"{live_server.url}/")
    expect(invitee.get_by_text("Welcome to Bayview")).to_be_visible()
    invitee.context.close()

    page.reload()
    expect(page.get_by_role("row").filter(has_text="ana.lima@bayview.example.org")).to_contain_text(
        "Accepted"
    )
    expect(page.get_by_role("row", name=re.compile(r"^ana Ana"))).to_contain_text("Contract manager")


def test_a_revoked_link_stops_working_and_a_member_is_deactivated(page, browser, live_server, people_url):
    login(page, live_server, "urban_admin")
    page.goto(people_url)
    row = page.get_by_role("row").filter(has_text="nurse.lead@bayview.example.org")  # the demo's invitation
    row.get_by_role("button", name="Resend").click()
    link = LINK.search(page.get_by_text("Invitation sent again").inner_text()).group(0)
    page.get_by_role("row").filter(has_text="nurse.lead@bayview.example.org").get_by_role(
        "button", name="Revoke"
    ).click()
    assert "Its link stops working at once" in page.dialogs[-1]
    expect(page.get_by_text("revoked: its link no longer works")).to_be_visible()
    invitation = Invitation.objects.get(email="nurse.lead@bayview.example.org")
    assert invitation.status == "revoked" and invitation.send_count == 2

    invitee = browser.new_context().new_page()
    invitee.goto(link)
    expect(invitee.get_by_role("heading", level=1)).to_have_text("This invitation is no longer valid")
    invitee.context.close()

    # A second administrator, then the first deactivates them: they keep their row, marked so.
    second = Membership.objects.filter(organization__legal_name=URBAN_NAME).exclude(
        user__username="urban_admin"
    )
    assert not second.exists()
    page.get_by_text("Add someone who already has an account").click()
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_user("bayview_helper", password="carebundle-demo")
    page.get_by_label("Username").fill("bayview_helper")
    page.get_by_role("button", name="Add", exact=True).click()
    helper = page.get_by_role("row").filter(has_text="bayview_helper")
    helper.get_by_role("button", name="Deactivate").click()
    assert "can no longer sign in to act for Bayview" in page.dialogs[-1]
    expect(page.get_by_role("row").filter(has_text="bayview_helper")).to_contain_text("Deactivated")
    assert not Membership.objects.get(user__username="bayview_helper").is_active
