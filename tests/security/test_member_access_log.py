"""Every read of member-level data is in the PHI access log (issue 20, finding 6).

Every route of the URL conf is listed below, either as returning member data (names, birth dates,
member ids, a file or message that holds them) or with the reason it does not. A route in neither
list fails :func:`test_every_route_is_listed`, so a new route cannot be added without saying which
it is; and each member-data route is walked with the demo data: every read of it by every insider
who can read it must write an ``AccessEvent`` for that user. A safety net goes with it: any page or
API answer of the crawl that shows a demo member's id must have written an event, whatever its list.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, resolve

from core.models import AccessEvent
from enrollment.models import Member, RosterEntry
from payments.models import PaymentRun
from tests.security.test_tenancy_crawl import INSIDERS, complete, crawl

pytestmark = pytest.mark.django_db

#: Routes whose answer holds member-level data; each read must be in the access log.
MEMBER_DATA: dict[str, str] = {
    "api-roster-detail": "errors and warnings name members; the diff names them",
    "api-roster-issues": "every issue names its member",
    "api-roster-members": "the roster's rows",
    "api-roster-assessments": "the assessments' members",
    "api-roster-file": "the roster as sent",
    "api-eligibility-acknowledgement": "quotes values of members' records (a birth date that did not parse)",
    "api-eligibility-999": "copies the bad values of members' records",
    "api-payment-run": "assessments not paid and months outside the window, by member",
    "api-payment-run-approve": "(POST) answers with the run's detail",
    "api-payment-run-members": "the run's member rows",
    "api-payment-statement-pdf": "summary only, logged with the other formats of the statement",
    "api-payment-statement-csv": "one row per member",
    "api-payment-statement-820": "one remittance line per member",
    "api-performance-upload-list": "each upload's errors name members",
    "api-performance-upload": "the upload's errors name members",
    "api-performance-members": "the members behind the measures",
    "api-experience-file": "the experience and spans files as sent (member ids)",
    "roster-detail": "errors, warnings, assessments and the diff name members",
    "roster-members": "the roster's rows",
    "assessment-list": "the assessments' members, across contracts",
    "api-assessment-list": "the assessments' members, across contracts",
    "roster-error-report": "every issue names its member",
    "roster-file": "the roster as sent",
    "eligibility-detail": "the acknowledgement quotes values of members' records",
    "eligibility-999": "copies the bad values of members' records",
    "eligibility-file": "the 834 as sent",
    "payment-run": "the run's member lines",
    "performance-upload": "the upload's errors name members",
    "api-claims-upload-list": "each upload's errors and warnings name claims and members",
    "api-claims-upload": "the upload's errors and warnings name claims and members",
    "claims-upload": "the upload's errors and warnings name claims and members",
    "claims-upload-999": "the 999 quotes the bad values of members' claims",
    "api-claims-upload-999": "the 999 quotes the bad values of members' claims",
    "performance-members": "the members behind the measures",
    "pricing-experience-file": "the experience and spans files as sent (member ids)",
}
POST_ONLY = {"api-payment-run-approve"}

#: Every other route, grouped by why it holds no member data.
NO_MEMBER_DATA: dict[str, tuple[str, ...]] = {
    "signing in, the user's own account, organisations and their staff (not patients)": (
        "api-token",
        "api-token-revoke",
        "api-me",
        "api-me-preferences",
        "account-settings",
        "api-organization-list",
        "api-organization-detail",
        "api-membership-list",
        "api-membership-detail",
        "login",
        "logout",
        "switch-organization",
        "organization-list",
        "organization-detail",
        "membership-list",
        "home",
        "health",
        "healthz",
        "readyz",
        "metrics",
        "favicon",
        "schema",
        "api-docs",
    ),
    "invitations and member deactivation: staff's e-mail addresses and roles, not patients": (
        "invitation-create",
        "invitation-resend",
        "invitation-revoke",
        "invitation-accept",
        "membership-deactivate",
        "membership-reactivate",
        "api-invitation-list",
        "api-invitation-detail",
        "api-invitation-resend",
        "api-invitation-revoke",
        "api-invitation-accept",
        "api-membership-deactivate",
        "api-membership-reactivate",
    ),
    "two-factor sign-in: the user's own authenticator app and backup codes, an organisation's rule": (
        "two-factor-status",
        "two-factor-setup",
        "two-factor-verify",
        "two-factor-backup-codes",
        "two-factor-backup-codes-regenerate",
        "two-factor-disable",
        "organization-two-factor-requirement",
        "api-me-two-factor",
        "api-me-two-factor-setup",
        "api-me-two-factor-confirm",
        "api-me-two-factor-disable",
        "api-me-two-factor-backup-codes",
        "api-organization-two-factor-requirement",
    ),
    "the workspace and its notifications and webhooks: contracts, months, counts and totals of what "
    "needs doing, never a member": (
        "api-workspace",
        "api-notification-list",
        "api-notification-preferences",
        "api-notification-read",
        "api-notification-read-all",
        "api-webhook-deactivate",
        "api-webhook-delivery-list",
        "api-webhook-list",
        "notification-bell",
        "notification-list",
        "notification-open",
        "notification-preferences",
        "notification-read-all",
        "webhook-deactivate",
        "webhook-list",
    ),
    "the access log itself: who read which object, read by auditors and administrators": (
        "api-access-event-list",
        "access-log",
    ),
    "bundles, markets and roles: the plan's product": (
        "api-bundle-list",
        "api-bundle-import",
        "api-bundle-detail",
        "api-bundle-draft",
        "api-bundle-publish",
        "api-bundle-version",
        "api-bundle-diff",
        "api-bundle-export",
        "api-bundle-new-draft",
        "api-bundle-retire",
        "api-market-list",
        "api-idt-role-list",
        "bundle-list",
        "bundle-new",
        "bundle-import",
        "bundle-detail",
        "bundle-draft",
        "bundle-draft-general",
        "bundle-draft-cell",
        "bundle-draft-roles",
        "bundle-draft-tiers",
        "bundle-draft-phases",
        "bundle-draft-assessment",
        "bundle-draft-eligibility",
        "bundle-draft-publish",
        "bundle-draft-discard",
        "bundle-version",
        "bundle-diff",
        "bundle-export",
        "bundle-new-draft",
        "bundle-retire",
    ),
    "pricing: assumptions, runs and experience summed by tier and month (the spans' member id is never read)": (
        "api-pricing-quote",
        "api-assumption-set-list",
        "api-assumption-defaults",
        "api-assumption-import",
        "api-assumption-set-detail",
        "api-assumption-draft",
        "api-assumption-publish",
        "api-assumption-version",
        "api-assumption-new-draft",
        "api-assumption-export",
        "api-experience-list",
        "api-experience-detail",
        "api-pricing-run-list",
        "api-pricing-run-detail",
        "api-pricing-run-cancel",
        "api-pricing-run-inputs",
        "api-pricing-run-report",
        "pricing-home",
        "pricing-run-new",
        "pricing-run-detail",
        "pricing-run-progress",
        "pricing-run-cancel",
        "pricing-run-report",
        "pricing-run-inputs",
        "pricing-assumption-list",
        "pricing-assumption-detail",
        "pricing-assumption-draft",
        "pricing-assumption-new-draft",
        "pricing-assumption-export",
        "pricing-experience-list",
        "pricing-experience-template",
        "pricing-experience-detail",
        "api-pricing-comparison",
        "api-pricing-run-sensitivity",
        "api-pricing-sensitivity-detail",
        "api-pricing-run-what-if",
        "pricing-compare",
        "pricing-compare-xlsx",
        "pricing-compare-pdf",
        "pricing-run-sensitivity",
        "pricing-sensitivity-detail",
        "pricing-run-what-if",
        "pricing-run-what-if-quote",
        "api-fee-schedule-list",
        "api-fee-schedule-detail",
        "api-fee-schedule-version",
        "pricing-fee-schedule-list",
        "pricing-fee-schedule-template",
        "pricing-fee-schedule-detail",
    ),
    "contracts, their versions and rate sheets": (
        "api-contract-list",
        "api-rate-sheet-export-list",
        "api-rate-sheet-export",
        "api-rate-sheet-export-retry",
        "api-rate-sheet-export-download",
        "api-contract-detail",
        "api-contract-propose",
        "api-contract-accept",
        "api-contract-return",
        "api-contract-counter",
        "api-contract-reject-counter",
        "api-contract-offers",
        "api-contract-terminate",
        "api-contract-amend",
        "api-contract-terms-in-force",
        "api-contract-versions",
        "api-contract-version",
        "api-contract-rates-from-pricing",
        "api-contract-diff",
        "api-rate-sheet-pdf",
        "api-rate-sheet-xlsx",
        "api-rate-sheet-csv",
        "contract-list",
        "contract-create",
        "rate-sheet-export-list",
        "rate-sheet-export",
        "rate-sheet-export-retry",
        "rate-sheet-export-download",
        "contract-detail",
        "contract-propose",
        "contract-accept",
        "contract-return",
        "contract-counter",
        "contract-reject-counter",
        "contract-terminate",
        "contract-amend",
        "contract-version",
        "contract-version-edit",
        "contract-rate-cell",
        "contract-rates-from-pricing",
        "contract-version-diff",
        "contract-rate-sheet",
    ),
    "rosters and eligibility files as lists, counts, progress and blank templates; a submission's answer "
    "(id, status)": (
        "api-contract-rosters",
        "api-roster-list",
        "api-eligibility-file-list",
        "api-eligibility-file",
        "roster-list",
        "roster-template",
        "roster-progress",
        "eligibility-list",
    ),
    "payments by contract, rate cell and period; the ledger; settlements (ADR 0005: no member)": (
        "api-contract-payment-runs",
        "api-contract-payment-history",
        "api-contract-ledger",
        "api-contract-settlements",
        "api-settlement",
        "api-settlement-approve",
        "api-settlement-statement-pdf",
        "api-settlement-statement-csv",
        "payment-home",
        "payment-contract",
        "payment-contract-calculate",
        "payment-contract-settle",
        "payment-settlement",
        "payment-settlement-approve",
        "payment-run-status",
        "payment-run-approve",
        # ledger corrections: an entry's amounts and a reason, never a member
        "api-contract-ledger-corrections",
        "api-ledger-correction",
        "api-ledger-correction-approve",
        "api-ledger-correction-reject",
        "payment-contract-ledger",
        "payment-ledger-correction-request",
        "payment-ledger-correction-approve",
        "payment-ledger-correction-reject",
        # receivables and refunds: amounts, dates and a reason, never a member
        "api-contract-ledger-balance",
        "api-contract-refunds",
        "api-refund",
        "api-refund-approve",
        "api-refund-reject",
        "payment-contract-balance",
        "payment-refund-request",
        "payment-refund-approve",
        "payment-refund-reject",
        # month-end: contracts, statuses, reasons and run totals, never a member
        "api-month-ends",
        "api-month-end",
        "api-month-end-retry",
        "payment-month-end-list",
        "payment-month-end",
        "payment-month-end-retry",
        # a period settled for every contract: contracts, statuses, reasons and settlement totals
        "api-settlement-runs",
        "api-settlement-run",
        "api-settlement-run-retry",
        "payment-settlement-runs",
        "payment-settlement-run",
        "payment-settlement-run-retry",
    ),
    "performance: measures, unit costs, the report and the provider's story (written without names), "
    "uploads sent by a form that redirects": (
        "api-performance-unit-costs",
        "api-performance-contract",
        "api-performance-story",
        "performance-home",
        "performance-upload-create",
        "performance-unit-costs",
        "performance-contract",
        "performance-story",
        "performance-report",
    ),
    "claims: the list of the plan's files (names, counts, dates), the template (made-up lines), and uploads "
    "sent by a form that redirects": (
        "claims-home",
        "claims-template",
        "claims-upload-create",
    ),
    "sharing a bundle version or a pricing run with another organisation, adopting a shared bundle: "
    "organisations' names, notes and the shared product and rates, never a member": (
        "api-organization-counterparties",
        "api-bundle-version-shares",
        "api-bundle-version-share-revoke",
        "api-bundle-adopt",
        "api-pricing-run-shares",
        "api-pricing-run-share-revoke",
        "api-shared-with-us",
        "bundle-version-share",
        "bundle-version-share-revoke",
        "bundle-adopt",
        "pricing-run-share",
        "pricing-run-share-revoke",
        "shared-with-us",
    ),
}
NOT_MEMBER_DATA = {name for names in NO_MEMBER_DATA.values() for name in names}


def named_routes(resolver=None, prefix: str = "") -> dict[str, str]:
    """Route name -> path template of every named route outside the Django admin."""
    resolver = resolver or get_resolver()
    routes: dict[str, str] = {}
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            routes.update(named_routes(entry, route))
        elif isinstance(entry, URLPattern) and entry.name and not route.startswith("admin/"):
            routes[entry.name] = route
    return routes


def test_every_route_is_listed():
    routes = named_routes()
    assert not MEMBER_DATA.keys() & NOT_MEMBER_DATA, "a route is in both lists"
    unlisted = sorted(set(routes) - MEMBER_DATA.keys() - NOT_MEMBER_DATA)
    assert not unlisted, (
        f"routes in neither list: {unlisted}. A route that returns member data goes in MEMBER_DATA and "
        "records every read (core.audit.record_access); any other in NO_MEMBER_DATA, saying why."
    )
    assert not (MEMBER_DATA.keys() | NOT_MEMBER_DATA) - set(routes), "listed routes that no longer exist"


# --------------------------------------------------------------------------- the walk
class AuditingClient(Client):
    """A client that notes, for each GET, its route, status, whether an access event was written for
    its user, and whether the answer shows a member id."""

    def __init__(self, user, member_ids: re.Pattern[bytes], log: list[dict]):
        super().__init__()
        self.force_login(user)
        self.user, self.member_ids, self.log = user, member_ids, log

    def get(self, path, *args, **kwargs):
        before = AccessEvent.objects.filter(user=self.user).count()
        response = super().get(path, *args, **kwargs)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        if response.streaming:  # read once here: the crawl may read it again
            response.streaming_content = [body]
        self.log.append(
            {
                "user": self.user.username,
                "path": path,
                "route": resolve(path.split("?")[0]).url_name,
                "status": response.status_code,
                "logged": AccessEvent.objects.filter(user=self.user).count() > before,
                "shows_member": bool(self.member_ids.search(body)),
            }
        )
        return response


@pytest.fixture
def demo():
    with override_settings(DEBUG=True):
        call_command("seed_demo", verbosity=0)


def test_every_read_of_a_member_data_route_writes_an_access_event(demo):
    User = get_user_model()
    ids = set(Member.objects.values_list("member_id", flat=True)) | set(
        RosterEntry.objects.values_list("member_id", flat=True)
    )
    assert ids
    member_ids = re.compile(b"|".join(re.escape(i.encode()) for i in sorted(ids, key=len, reverse=True)))
    routes = named_routes()
    object_routes = {route for route in routes.values() if "<" in route and not route.startswith("api/<path")}
    api_lists = ["/" + r for r in routes.values() if r.startswith("api/v1/") and "<" not in r]
    log: list[dict] = []
    kwargs_seen: dict[frozenset, list[dict]] = {}
    for username in INSIDERS:
        client = AuditingClient(User.objects.get(username=username), member_ids, log)
        owned: dict[str, str] = {}
        seen: set[str] = set()
        start = ["/", *api_lists]
        for _ in range(4):  # as the tenancy crawl: follow links, fill the routes they don't reach, again
            crawl(client, owned, kwargs_seen, start, seen)
            start = complete(client, owned, kwargs_seen, object_routes)
            if not start:
                break

    reads = [entry for entry in log if entry["status"] == 200]
    assert any(e["shows_member"] for e in reads if e["route"] == "roster-members"), "the net sees member ids"
    unlogged = sorted(
        {f"{e['user']} {e['path']}" for e in reads if e["route"] in MEMBER_DATA and not e["logged"]}
    )
    assert not unlogged, "member data read without an access event:\n" + "\n".join(unlogged)
    shown = sorted(
        {f"{e['user']} {e['path']} ({e['route']})" for e in reads if e["shows_member"] and not e["logged"]}
    )
    assert not shown, "a member id shown without an access event:\n" + "\n".join(shown)
    reached = {e["route"] for e in reads}
    unreached = sorted(MEMBER_DATA.keys() - POST_ONLY - reached)
    assert not unreached, f"member-data routes the walk could not read from the demo data: {unreached}"

    # The one member-data answer to a POST: approving a run answers with its detail.
    run = PaymentRun.objects.filter(status="review").select_related("contract__payer").first()
    assert run is not None, "the demo leaves a run for the analyst to approve"
    analyst = User.objects.get(username="plan_analyst2")  # plan_analyst requested it: four eyes
    api = Client()
    api.force_login(analyst)
    before = AccessEvent.objects.filter(user=analyst, object_id=str(run.public_id)).count()
    response = api.post(f"/api/v1/payment-runs/{run.public_id}/approve/")
    assert response.status_code == 200, response.content[:500]
    assert AccessEvent.objects.filter(user=analyst, object_id=str(run.public_id)).count() == before + 1
