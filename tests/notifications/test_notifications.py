"""Notifications (issue 16, point 2): each new item of a member's worklist becomes one notification
(the bell), e-mailed when the member chose its kind; an item done is marked done; webhooks an
organisation registers get each new item, signed (HMAC-SHA256) and retried by Celery with backoff,
with a delivery log. The sweep can run any number of times, or again after a crash: nothing twice."""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from unittest import mock

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import Role
from notifications import services
from notifications.models import Notification, WebhookDelivery, WebhookEndpoint
from notifications.selectors import preferences
from notifications.tasks import WEBHOOK_MAX_RETRIES, deliver_webhook
from tests.enrollment.conftest import MONTH, make_active_contract, roster_row
from tests.factories import PASSWORD, ProviderFactory
from tests.fixtures.contracts import flushable_after_contracts, media_in_tmp, submit_roster

pytestmark = pytest.mark.django_db
_flushable = flushable_after_contracts()
_media = media_in_tmp()


@pytest.fixture
def contract(plan_scope, provider, provider_admin, bundle_version):
    """An active contract with no roster sent: the provider has rosters due or late (three months)."""
    return make_active_contract(
        plan_scope=plan_scope, provider=provider, provider_admin=provider_admin, bundle_version=bundle_version
    )


def login(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def mine(user):
    return Notification.objects.filter(user=user).order_by("pk")


# --- the sweep -----------------------------------------------------------------------------------


def test_each_item_is_notified_once_and_marked_done_when_it_leaves_the_worklist(
    provider_admin, provider_scope, contract
):
    first = services.notifications_sweep()
    items = list(mine(provider_admin))
    assert first.notified >= 3 and len(items) == first.notified
    assert {n.kind for n in items} <= {"roster_due", "roster_late"}
    assert services.notifications_sweep().notified == 0 and mine(provider_admin).count() == len(items)
    submit_roster(provider_scope=provider_scope, contract=contract, month=MONTH, rows=[roster_row("M001")])
    report = services.notifications_sweep()
    done = [n for n in mine(provider_admin) if n.resolved_at is not None]
    assert report.resolved == 1 and [n.title for n in done] == [
        n.title for n in items if n.title.startswith(f"{MONTH:%B %Y}")
    ]


def test_a_kind_turned_off_in_the_app_is_not_notified(provider_admin, provider_scope, contract):
    services.preferences_save(
        scope=provider_scope, choices={"roster_late": {"in_app": False}, "roster_due": {"in_app": False}}
    )
    assert services.notifications_sweep().notified == 0 and not mine(provider_admin).exists()


def test_chosen_kinds_are_emailed_once_in_one_message_and_a_failed_send_is_sent_by_the_next_sweep(
    provider_admin, provider_scope, contract, settings
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    provider_admin.email = "dana@example.org"
    provider_admin.save()
    services.preferences_save(
        scope=provider_scope, choices={kind: {"email": True} for kind in ("roster_late", "roster_due")}
    )
    with mock.patch("notifications.services.send_mail", side_effect=smtplib.SMTPException("down")) as down:
        report = services.notifications_sweep()
    assert down.call_count == 1 and report.notified >= 3 and report.emailed == 0 and len(mail.outbox) == 0
    assert services.notifications_sweep().emailed == report.notified
    [message] = mail.outbox
    assert message.to == [provider_admin.email] and contract.number in message.body
    assert "http://" in message.body and "/rosters/?contract=" in message.body
    services.notifications_sweep()
    assert len(mail.outbox) == 1  # nothing twice


# --- pages ---------------------------------------------------------------------------------------


def test_the_page_lists_them_opening_one_marks_it_read_and_goes_to_the_work(provider_admin, contract):
    services.notifications_sweep()
    client = login(provider_admin)
    assert "bell-count" in client.get("/notifications/bell/").content.decode()
    html = client.get("/notifications/").content.decode()
    assert html.count('data-testid="notification"') == mine(provider_admin).count()
    note = mine(provider_admin).first()
    assert client.get(f"/notifications/{note.public_id}/open/").status_code == 405
    response = client.post(f"/notifications/{note.public_id}/open/")
    assert response.status_code == 302 and response["Location"] == note.url
    note.refresh_from_db()
    assert note.read_at is not None
    response = client.post("/notifications/read-all/")
    assert response.status_code == 302 and not mine(provider_admin).filter(read_at__isnull=True).exists()
    assert "bell-count" not in client.get("/notifications/bell/").content.decode()


def test_choices_are_saved_from_the_page_and_read_back(provider_admin, provider_scope):
    client = login(provider_admin)
    response = client.post(
        "/notifications/preferences/", {"in_app_roster_due": "on", "email_roster_due": "on"}
    )
    assert response.status_code == 302 and response["Location"] == "/notifications/"
    chosen = {p["kind"]: (p["in_app"], p["email"]) for p in preferences(scope=provider_scope)}
    assert chosen["roster_due"] == (True, True) and chosen["roster_late"] == (False, False)


# --- the API -------------------------------------------------------------------------------------


def test_the_api_lists_marks_read_and_sets_choices(provider_api, provider_admin, contract):
    services.notifications_sweep()
    body = provider_api.get("/api/v1/notifications/?unread=true").json()
    assert body["count"] == mine(provider_admin).count() and not body["results"][0]["read"]
    first = body["results"][0]["id"]
    assert provider_api.post(f"/api/v1/notifications/{first}/read/").json()["read"] is True
    assert provider_api.get("/api/v1/notifications/?unread=true").json()["count"] == body["count"] - 1
    assert provider_api.post("/api/v1/notifications/read-all/").json() == {"marked_read": body["count"] - 1}
    assert provider_api.get("/api/v1/notifications/?unread=maybe").status_code == 400
    put = provider_api.put(
        "/api/v1/notifications/preferences/",
        {"preferences": [{"kind": "roster_late", "in_app": True, "email": True}]},
        format="json",
    )
    assert put.status_code == 200
    assert {"kind": "roster_late", "label": "Roster late", "in_app": True, "email": True} in put.json()[
        "preferences"
    ]
    wrong = provider_api.put(
        "/api/v1/notifications/preferences/",
        {"preferences": [{"kind": "no_such_kind", "in_app": True, "email": True}]},
        format="json",
    )
    assert wrong.status_code == 400


def test_nobody_else_reads_or_marks_them(provider_admin, provider, api_for, member_of, contract):
    services.notifications_sweep()
    note = mine(provider_admin).first()
    colleague = api_for(member_of(provider, Role.SUBMITTER))  # same organisation, another person
    stranger = api_for(member_of(ProviderFactory(), Role.ADMIN))
    for client in (colleague, stranger):
        assert note.public_id not in {n["id"] for n in client.get("/api/v1/notifications/").json()["results"]}
        assert client.post(f"/api/v1/notifications/{note.public_id}/read/").status_code == 404
    other = member_of(ProviderFactory(), Role.ADMIN)
    assert login(other).post(f"/notifications/{note.public_id}/open/").status_code == 404
    note.refresh_from_db()
    assert note.read_at is None


def test_the_list_takes_a_constant_number_of_queries(provider_admin, provider_api, contract):
    def count(path) -> int:
        with CaptureQueriesContext(connection) as queries:
            assert provider_api.get(path).status_code == 200
        return len(queries)

    services.notifications_sweep()
    endpoint = WebhookEndpoint.objects.create(organization=contract.provider, url="https://example.org/hook")
    WebhookDelivery.objects.create(endpoint=endpoint, key="k", kind="roster_due", body="{}")
    count("/api/v1/notifications/")  # the first request of a session writes the token's use
    few = count("/api/v1/notifications/"), count("/api/v1/webhooks/deliveries/")
    for n in range(20):
        Notification.objects.create(
            user=provider_admin,
            organization=contract.provider,
            kind="roster_due",
            key=f"k{n}",
            title="t",
            url="/",
        )
        WebhookDelivery.objects.create(endpoint=endpoint, key=f"k{n}", kind="roster_due", body="{}")
    assert (count("/api/v1/notifications/"), count("/api/v1/webhooks/deliveries/")) == few


# --- webhooks ------------------------------------------------------------------------------------


class Receiver:
    """A local HTTP endpoint answering the given status codes in turn (then 200), keeping what it got."""

    def __init__(self, codes=()):
        self.codes, self.received = list(codes), []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers), body))
                self.send_response(receiver.codes.pop(0) if receiver.codes else 200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = True
    made = []

    def make(codes=()):
        made.append(Receiver(codes))
        return made[-1]

    yield make
    for r in made:
        r.close()


def test_a_delivery_is_signed_retried_with_backoff_until_taken_and_logged(provider_api, receiver, contract):
    hook = receiver(codes=[500, 503])
    created = provider_api.post(
        "/api/v1/webhooks/", {"url": hook.url, "kinds": ["roster_late"]}, format="json"
    )
    assert created.status_code == 201, created.content
    secret = created.json()["secret"]
    report = services.notifications_sweep()
    deliveries = WebhookDelivery.objects.filter(pk__in=report.deliveries)
    assert deliveries.count() >= 2 and {d.kind for d in deliveries} == {"roster_late"}
    delivery = deliveries.first()
    deliver_webhook.apply(args=[delivery.pk])  # Celery's retries run in turn (eagerly)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 3, 200)
    headers, body = hook.received[-1]
    assert len(hook.received) == 3
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-Carebundle-Signature"] == expected and headers["X-Carebundle-Event"] == "roster_late"
    sent = json.loads(body)
    assert sent["event"] == "roster_late" and sent["item"]["url"].startswith("http")
    # delivered once: running the task again (a redelivered message) sends nothing
    deliver_webhook.apply(args=[delivery.pk])
    assert len(hook.received) == 3
    log = provider_api.get("/api/v1/webhooks/deliveries/").json()["results"]
    assert {(d["id"], d["status"], d["attempts"]) for d in log} >= {(str(delivery.public_id), "delivered", 3)}
    # a second sweep makes no delivery twice
    assert services.notifications_sweep().deliveries == [
        d.pk for d in WebhookDelivery.objects.filter(status="pending", attempts=0).order_by("pk")
    ]
    assert WebhookDelivery.objects.count() == deliveries.count()


def test_an_endpoint_that_never_answers_2xx_is_given_up_after_the_last_retry(
    provider_api, receiver, contract
):
    hook = receiver(codes=[500] * (WEBHOOK_MAX_RETRIES + 5))
    provider_api.post("/api/v1/webhooks/", {"url": hook.url, "kinds": ["roster_late"]}, format="json")
    [delivery, *_] = WebhookDelivery.objects.filter(pk__in=services.notifications_sweep().deliveries)
    deliver_webhook.apply(args=[delivery.pk])
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", WEBHOOK_MAX_RETRIES + 1)
    assert delivery.last_error == "The endpoint answered 500."


def test_webhooks_are_for_administrators_and_never_to_a_private_address_in_production(
    api_for, provider, member_of, settings, provider_api
):
    assert (
        api_for(member_of(provider, Role.SUBMITTER))
        .post("/api/v1/webhooks/", {"url": "https://example.org/hook"}, format="json")
        .status_code
        == 403
    )
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES, settings.DEBUG = False, False
    for url in (
        "http://example.org/hook",
        "https://127.0.0.1/hook",
        "https://10.1.2.3/hook",
        "https://[::1]/x",
    ):
        answer = provider_api.post("/api/v1/webhooks/", {"url": url}, format="json")
        assert answer.status_code == 400 and answer.json()["code"] == "invalid_webhook_url", url


def test_the_webhooks_page_registers_stops_and_shows_the_log(provider_admin, receiver, provider, member_of):
    hook = receiver()
    client = login(provider_admin)
    response = client.post("/notifications/webhooks/", {"url": hook.url})
    assert response.status_code == 302 and response["Location"] == "/notifications/webhooks/"
    html = client.get("/notifications/webhooks/").content.decode()
    assert hook.url in html and 'data-testid="deliveries"' in html
    endpoint = WebhookEndpoint.objects.get(organization=provider)
    assert client.post(f"/notifications/webhooks/{endpoint.public_id}/deactivate/").status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.active is False
    assert client.post("/notifications/webhooks/", {"url": "not a url"}).status_code == 400
    assert login(member_of(provider, Role.SUBMITTER)).get("/notifications/webhooks/").status_code == 403
    stranger = member_of(ProviderFactory(), Role.ADMIN)
    assert (
        login(stranger).post(f"/notifications/webhooks/{endpoint.public_id}/deactivate/").status_code == 404
    )
