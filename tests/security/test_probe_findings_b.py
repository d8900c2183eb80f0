"""Regression tests for the outside probe's findings 4, 5, 7 and 8 (issue 20), one or more per finding,
each through the real endpoints and each written to fail on the code the probe found.

4. Throttling and lockout behind proxies: one setting, ``TRUSTED_PROXY_COUNT``, says how many proxies
   in front of the app may be believed about ``X-Forwarded-For``; the login throttle, django-axes and the
   request log all take the client's address from it (``core.net.client_ip``). With none, a spoofed
   header changes nothing; behind one, a lockout is per username and client, never per username alone.
5. An organisation administrator cannot add a user of another organisation (nor staff, nor the
   superuser): the answer is the unknown-username answer, word for word.
7. A username longer than the user model allows (150) is refused before anything is stored.
8. SQLite: WAL, a busy timeout, immediate transactions; lock contention is a 503 with Retry-After;
   a body over DATA_UPLOAD_MAX_MEMORY_SIZE is a 413; no response may be stored by a cache; an idle
   session ends; a token login resets the failed-login counter; production refuses DEBUG and the
   development key; the schema needs a login in production; a provider never sees the plan's priced
   rates nor its unsent drafts.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import subprocess
import sys
import time
from datetime import date
from decimal import Decimal

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib.auth import authenticate, get_user_model
from django.contrib.sessions.models import Session
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.test import Client, RequestFactory, override_settings
from rest_framework.test import APIClient

from accounts.models import Membership, Role
from accounts.services import UNKNOWN_USER_MESSAGE, token_create
from contracts import services as contract_services
from tests.conftest import ROOT, _test_database_url
from tests.factories import PASSWORD, ProviderFactory, UserFactory
from tests.fixtures.contracts import contract_terms
from tests.security.test_tenancy_crawl import _patterns, complete, crawl

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token/"


def token_login(client: APIClient, username: str, password: str, forwarded_for: str | None = None):
    extra = {"HTTP_X_FORWARDED_FOR": forwarded_for} if forwarded_for else {}
    return client.post(TOKEN_URL, {"username": username, "password": password}, format="json", **extra)


# --- 4. one proxy setting for the throttle, the lockout and the request log ------------------------


def test_a_spoofed_forwarded_for_does_not_escape_the_login_throttle():
    client = APIClient()
    statuses = [
        token_login(client, f"guess{i}", "x", forwarded_for=f"198.51.100.{i}").status_code for i in range(25)
    ]
    assert statuses[0] == 401
    assert statuses[-1] == 429  # with no trusted proxy the header is the client's word: ignored


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_behind_one_proxy_the_throttle_counts_the_address_the_proxy_saw():
    client = APIClient()
    # The proxy appends the address it saw; whatever the client wrote before it is not believed.
    statuses = [
        token_login(client, f"guess{i}", "x", forwarded_for=f"10.0.0.{i}, 203.0.113.5").status_code
        for i in range(25)
    ]
    assert statuses[0] == 401 and statuses[-1] == 429
    # Another client behind the same proxy has its own budget.
    assert token_login(client, "someone", "x", forwarded_for="203.0.113.6").status_code == 401


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_behind_a_proxy_nobody_can_lock_someone_else_out(provider, member_of):
    victim = member_of(provider)
    attacker = APIClient()
    statuses = [
        token_login(attacker, victim.username, "wrong", forwarded_for="203.0.113.66").status_code
        for _ in range(5)
    ]
    assert statuses == [401, 401, 401, 401, 429]
    assert token_login(attacker, victim.username, PASSWORD, forwarded_for="203.0.113.66").status_code == 429
    # The lockout is keyed on the username AND the client's address (not the proxy's, not the name alone).
    assert set(AccessAttempt.objects.values_list("username", "ip_address")) == {
        (victim.username, "203.0.113.66")
    }
    response = token_login(APIClient(), victim.username, PASSWORD, forwarded_for="198.51.100.7")
    assert response.status_code == 201, response.json()


def test_the_request_log_names_the_client_by_the_same_rule(caplog):
    def logged_client(**headers) -> str:
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="carebundle.request"):
            Client().get("/health/", **headers)
        (record,) = [r for r in caplog.records if r.name == "carebundle.request"]
        assert record.status == 200 and record.path == "/health/"
        return record.client_ip

    assert logged_client(HTTP_X_FORWARDED_FOR="198.51.100.9") == "127.0.0.1"
    with override_settings(TRUSTED_PROXY_COUNT=1):
        assert logged_client(HTTP_X_FORWARDED_FOR="10.9.9.9, 198.51.100.9") == "198.51.100.9"


# --- 5. an administrator adds only people of no other organisation ---------------------------------


def test_an_administrator_cannot_add_a_user_of_another_organisation(provider, member_of, api_for):
    admin = member_of(provider)
    outsider = member_of(ProviderFactory(), Role.SUBMITTER)
    outsider.first_name, outsider.last_name = "Wilhelmina", "Outsiderson"
    outsider.save()
    superuser = get_user_model().objects.create_superuser(
        "probe-root", password=PASSWORD, first_name="Rootina", last_name="Superson"
    )
    staff = UserFactory(is_staff=True, first_name="Stafford", last_name="Backoffice")
    client = api_for(admin)
    url = f"/api/v1/organizations/{provider.public_id}/memberships/"
    unknown = client.post(url, {"username": "nobody-at-all", "role": "admin"})
    assert unknown.status_code == 400
    assert unknown.json()["details"] == {"username": [UNKNOWN_USER_MESSAGE]}
    page = Client()
    page.force_login(admin)
    for user in (outsider, superuser, staff):
        response = client.post(url, {"username": user.username, "role": "admin"})
        # The same answer as for a name nobody has: it says neither that the user exists nor who it is.
        assert (response.status_code, response.json()) == (unknown.status_code, unknown.json())
        assert user.last_name not in response.content.decode()
        form = page.post(
            f"/organizations/{provider.public_id}/members/", {"username": user.username, "role": "admin"}
        )
        assert form.status_code == 400
        assert UNKNOWN_USER_MESSAGE in form.content.decode()
        assert user.last_name not in form.content.decode()
        assert not Membership.objects.filter(user=user, organization=provider).exists()
    # Someone in no organisation yet can still be added (everyone else joins by invitation).
    newcomer = UserFactory()
    assert client.post(url, {"username": newcomer.username, "role": "submitter"}).status_code == 201


# --- 7. an overlong username is refused before anything is stored ----------------------------------


def _stored() -> tuple[int, ...]:
    return (
        AccessAttempt.objects.count(),
        AccessLog.objects.count(),
        AccessFailureLog.objects.count(),
        Session.objects.count(),
    )


def test_a_15_mb_username_is_refused_before_anything_is_stored():
    huge = "u" * (15 * 1024 * 1024)
    before = _stored()
    api = APIClient().post(TOKEN_URL, {"username": huge, "password": "x"}, format="json")
    assert api.status_code == 400
    assert api.json()["code"] == "validation_error" and set(api.json()["details"]) == {"username"}
    assert len(api.content) < 1000
    for login_url in ("/login/", "/admin/login/"):
        page = Client().post(login_url, {"username": huge, "password": "x"})
        assert page.status_code == 200  # the form again, with the error
        assert "at most 150 characters" in page.content.decode()
        assert len(page.content) < 100_000  # the name is not echoed back either
    assert _stored() == before
    # Any other path to authenticate() stores at most the field's length.
    request = RequestFactory().post("/elsewhere/")
    assert authenticate(request, username=huge, password="x") is None
    assert [len(name) for name in AccessAttempt.objects.values_list("username", flat=True)] == [150]


# --- 8. lower findings ----------------------------------------------------------------------------


def test_sqlite_runs_with_wal_a_busy_timeout_and_immediate_transactions(tmp_path):
    code = """\
import sqlite3
import django
django.setup()
from django.db import connection, transaction
cursor = connection.cursor()
cursor.execute("PRAGMA journal_mode")
mode = cursor.fetchone()[0]
cursor.execute("PRAGMA busy_timeout")
busy = cursor.fetchone()[0]
other = sqlite3.connect(connection.settings_dict["NAME"], timeout=0, isolation_level=None)
with transaction.atomic():  # an immediate transaction holds the write lock from its first statement
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        locked = "no"
    except sqlite3.OperationalError:
        locked = "yes"
print(mode, busy, locked)
"""
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'probe.sqlite3'}"}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    mode, busy, locked = result.stdout.split()
    assert mode == "wal"
    assert int(busy) >= 5000
    assert locked == "yes"


@contextlib.contextmanager
def _database_locked_by_another_session():
    """Another session holds the write lock; this one gives up waiting after a fifth of a second."""
    connection.ensure_connection()
    if connection.vendor == "sqlite":
        other = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        connection.connection.execute("PRAGMA busy_timeout = 200")
        try:
            yield
        finally:
            other.execute("ROLLBACK")
            other.close()
            connection.close()  # the next connection gets the configured busy timeout again
    else:
        import psycopg

        other = psycopg.connect(_test_database_url())
        # Should this test die holding the lock, PostgreSQL ends the session (and the lock) itself.
        other.execute("SET idle_in_transaction_session_timeout = '30s'")
        other.execute("LOCK TABLE accounts_apitoken, django_session IN ACCESS EXCLUSIVE MODE")
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '200ms'")
        try:
            yield
        finally:
            other.rollback()
            other.close()
            with connection.cursor() as cursor:
                cursor.execute("RESET lock_timeout")


@pytest.mark.django_db(transaction=True)
def test_lock_contention_is_a_503_with_retry_after_never_a_500(provider, member_of):
    user = member_of(provider)
    with _database_locked_by_another_session():
        api = APIClient().post(TOKEN_URL, {"username": user.username, "password": PASSWORD}, format="json")
        page = Client().post("/login/", {"username": user.username, "password": PASSWORD})
    assert api.status_code == 503, api.content[:300]
    assert api.json()["code"] == "database_busy" and int(api["Retry-After"]) >= 1
    assert page.status_code == 503, page.content[:300]
    assert int(page["Retry-After"]) >= 1 and "try again" in page.content.decode().lower()
    # Once the other session is done, the same requests succeed.
    assert token_login(APIClient(), user.username, PASSWORD).status_code == 201


def test_a_body_over_the_memory_limit_is_413_for_the_api_and_pages(payer, member_of, api_for, settings):
    api = api_for(member_of(payer, Role.ANALYST))
    body = json.dumps({"definition": {"name": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1024**2)}})
    response = api.post("/api/v1/bundles/", data=body, content_type="application/json")
    assert response.status_code == 413, response.content[:300]
    assert response.json()["code"] == "request_too_large"
    assert response.json()["details"] == {"limit_bytes": settings.DATA_UPLOAD_MAX_MEMORY_SIZE}
    form = Client().post(
        "/login/",
        data="username=a&password=" + "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1024**2),
        content_type="application/x-www-form-urlencoded",
    )
    assert form.status_code == 413
    assert "text/html" in form["Content-Type"]
    # Files are not bodies held in memory: an upload over that size is still read (and judged on its own).
    upload = api.post(
        "/api/v1/performance/uploads/",
        {"file": SimpleUploadedFile("big.csv", b"x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1024**2))},
        format="multipart",
    )
    assert upload.status_code != 413


#: Routes whose responses carry member-level data (PHI): each must be reached by the crawl below.
PHI_ROUTES = {
    "rosters/<str:submission_id>/",
    "rosters/<str:submission_id>/members/",
    "rosters/<str:submission_id>/file/",
    "api/v1/rosters/<str:submission_id>/members/",
    "api/v1/rosters/<str:submission_id>/file/",
    "payments/runs/<str:run_id>/",
    "api/v1/payment-runs/<str:run_id>/members/",
    "api/v1/payment-runs/<str:run_id>/statement.csv",
    "pricing/experience/<str:dataset_id>/file/",
    "api/v1/pricing/experience/<str:dataset_id>/file/",
    "eligibility/<str:file_id>/file/",
    "performance/contracts/<str:contract_id>/members/",
    "api/v1/performance/contracts/<str:contract_id>/members/",
}


class _RecordingClient(Client):
    def __init__(self):
        super().__init__()
        self.answers: list[tuple[str, object]] = []

    def get(self, path, *args, **kwargs):
        response = super().get(path, *args, **kwargs)
        self.answers.append((path, response))
        return response


def test_no_page_file_or_api_answer_may_be_stored_by_a_cache():
    with override_settings(DEBUG=True):
        call_command("seed_demo", verbosity=0)
    routes = {route for route in _patterns() if "<" in route and not route.startswith("admin/")}
    api_lists = ["/" + r for r in _patterns() if r.startswith("api/v1/") and "<" not in r and "(" not in r]
    owned: dict[str, str] = {}
    kwargs_seen: dict[frozenset, list[dict]] = {}
    answers = []
    for username in ("plan_analyst", "urban_admin"):
        client = _RecordingClient()
        client.force_login(get_user_model().objects.get(username=username))
        seen: set[str] = set()
        start = ["/", *api_lists]
        for _ in range(3):
            crawl(client, owned, kwargs_seen, start, seen)
            start = complete(client, owned, kwargs_seen, routes)
            if not start:
                break
        answers += client.answers
    assert PHI_ROUTES <= set(owned), sorted(PHI_ROUTES - set(owned))
    stored = [
        (path, response.get("Cache-Control"))
        for path, response in answers
        if response.status_code == 200 and "no-store" not in response.get("Cache-Control", "")
    ]
    assert not stored, stored[:20]
    assert len(answers) > 100


def test_a_session_ends_after_the_idle_timeout_and_at_its_absolute_age(provider, member_of, settings):
    settings.SESSION_IDLE_TIMEOUT_MINUTES = 0.05  # three seconds
    user = member_of(provider)
    client = Client()
    client.force_login(user)
    assert client.get("/").status_code == 200
    for _ in range(3):  # requests keep it alive past the idle timeout
        time.sleep(1.5)
        assert client.get("/").status_code == 200
    time.sleep(3.5)
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert client.get("/api/v1/me/").status_code in (401, 403)  # the session is gone, not just hidden

    settings.SESSION_COOKIE_AGE = 4  # the absolute limit: activity does not extend it
    client.force_login(user)
    assert client.get("/").status_code == 200
    statuses = []
    for _ in range(4):
        time.sleep(1.5)
        statuses.append(client.get("/").status_code)
    assert statuses[0] == 200 and statuses[-1] == 302


def test_a_successful_token_login_resets_the_failed_login_counter(provider, member_of):
    user = member_of(provider)
    client = APIClient()
    assert [token_login(client, user.username, "wrong").status_code for _ in range(4)] == [401] * 4
    assert token_login(client, user.username, PASSWORD).status_code == 201
    assert not AccessAttempt.objects.filter(username=user.username).exists()
    assert [token_login(client, user.username, "wrong").status_code for _ in range(4)] == [401] * 4
    assert token_login(client, user.username, PASSWORD).status_code == 201


def _start_django(env_overrides: dict[str, str]) -> subprocess.CompletedProcess:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"CAREBUNDLE_ENV", "DEBUG", "SECRET_KEY", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    }
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings", **env_overrides})
    code = "import django;django.setup();from django.conf import settings;print(settings.DEBUG)"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )


def test_production_refuses_debug_and_the_development_secret_key():
    from config.settings import DEVELOPMENT_SECRET_KEY

    real_key = "k" * 60 + "-a-real-production-secret"
    refused = {
        "nothing set": ({}, "SECRET_KEY"),
        "DEBUG on": ({"DEBUG": "1", "SECRET_KEY": real_key}, "DEBUG"),
        "the development key": ({"SECRET_KEY": DEVELOPMENT_SECRET_KEY}, "SECRET_KEY"),
    }
    for name, (env, word) in refused.items():
        result = _start_django(env)
        assert result.returncode != 0, name
        assert word in result.stderr and "CAREBUNDLE_ENV=development" in result.stderr, name
    production = _start_django({"SECRET_KEY": real_key})
    assert (production.returncode, production.stdout.strip()) == (0, "False"), production.stderr
    development = _start_django({"CAREBUNDLE_ENV": "development"})
    assert (development.returncode, development.stdout.strip()) == (0, "True"), development.stderr


@pytest.mark.django_db(transaction=True)  # the production process reads the token from the test database
def test_the_schema_and_api_docs_need_a_login_in_production(provider, member_of):
    key, _ = token_create(user=member_of(provider))
    code = (
        "import django,json,sys;django.setup();"
        "from django.test import Client;"
        "c=Client(raise_request_exception=False);"
        "kw=dict(secure=True,HTTP_HOST='carebundle.example.org');"
        "docs=c.get('/api/docs/',**kw);"
        "print(json.dumps({'schema':c.get('/api/schema/',**kw).status_code,"
        "'docs':docs.status_code,'docs_to':docs.get('Location',''),"
        "'schema_with_token':c.get('/api/schema/',HTTP_AUTHORIZATION='Token '+sys.argv[1],**kw).status_code}))"
    )
    env = {k: v for k, v in os.environ.items() if k not in {"CAREBUNDLE_ENV", "DJANGO_ALLOW_ASYNC_UNSAFE"}}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DEBUG": "0",
            "SECRET_KEY": "s" * 60 + "-production-like",
            "ALLOWED_HOSTS": "carebundle.example.org",
            "DATABASE_URL": _test_database_url(),
        }
    )
    result = subprocess.run(
        [sys.executable, "-c", code, key], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    answers = json.loads(result.stdout.strip().splitlines()[-1])
    assert answers["schema"] == 401
    assert answers["docs"] == 302 and answers["docs_to"].startswith("/login/")
    assert answers["schema_with_token"] == 200


PRICED = {"1": Decimal("271.13"), "2": Decimal("433.17"), "3": Decimal("689.19")}
NEGOTIATED = {"1": "250.00", "2": "410.00", "3": "655.00"}


def _draft_contract(plan_scope, provider, bundle_version):
    return contract_services.contract_create(
        scope=plan_scope,
        provider=provider,
        bundle_version=bundle_version,
        terms=contract_terms(effective_start=date(2026, 1, 1), markets=("URBAN",)),
        rates=[
            {"tier": tier, "market": "URBAN", "lob": "medicaid", "pmpm": pmpm, "reason": "Staffing cost"}
            for tier, pmpm in NEGOTIATED.items()
        ],
        assessment_fees={"URBAN": "341.85"},
    )


def test_a_provider_never_sees_the_plans_priced_rates(
    plan_scope, plan_cm, provider, provider_admin, bundle_version, api_for
):
    contract = _draft_contract(plan_scope, provider, bundle_version)
    table = {
        "run_id": "run-probe",
        "bundle_version_id": bundle_version.pk,
        "rates": [
            {"tier": tier, "market": "URBAN", "lob": "medicaid", "pmpm": pmpm, "low": 0, "high": 0}
            for tier, pmpm in PRICED.items()
        ],
        "assessment_fees": {"URBAN": Decimal("341.85")},
    }
    contract_services.rate_schedule_from_pricing(
        scope=plan_scope, contract_version=contract.versions.get(), rate_table=table
    )
    contract_services.contract_propose(scope=plan_scope, contract=contract)
    secrets_ = [str(p) for p in PRICED.values()] + [
        str(abs(Decimal(NEGOTIATED[t]) - p)) for t, p in PRICED.items()
    ]
    url = f"/api/v1/contracts/{contract.number}/versions/1/"

    plan_rates = api_for(plan_cm).get(url).json()["rates"]
    assert {r["tier"]: r["priced_pmpm"] for r in plan_rates} == {t: str(p) for t, p in PRICED.items()}
    provider_api = api_for(provider_admin)
    provider_rates = provider_api.get(url).json()["rates"]
    assert {r["tier"]: r["pmpm"] for r in provider_rates} == NEGOTIATED
    assert all(r["priced_pmpm"] is None and r["difference"] is None for r in provider_rates)

    plan_page, provider_page = Client(), Client()
    plan_page.force_login(plan_cm)
    provider_page.force_login(provider_admin)
    for path in (f"/contracts/{contract.number}/", f"/contracts/{contract.number}/versions/1/"):
        assert str(PRICED["1"]) in plan_page.get(path).content.decode()
        body = provider_page.get(path).content.decode()
        assert NEGOTIATED["1"] in body
        assert not [s for s in secrets_ if s in body], path
    for fmt in ("csv", "xlsx", "pdf"):
        sheet = provider_api.get(f"/api/v1/contracts/{contract.number}/rate-sheet.{fmt}")
        assert sheet.status_code == 200
        if fmt == "csv":
            assert not [s for s in secrets_ if s in sheet.content.decode()]


def test_an_unsent_draft_contract_shows_the_provider_nothing(
    plan, plan_scope, provider, provider_admin, bundle_version, api_for
):
    contract = _draft_contract(plan_scope, provider, bundle_version)
    bundle = bundle_version.bundle
    client = api_for(provider_admin)
    page = Client()
    page.force_login(provider_admin)

    def visible() -> dict[str, object]:
        return {
            "contract": client.get(f"/api/v1/contracts/{contract.number}/").status_code,
            "contract page": page.get(f"/contracts/{contract.number}/").status_code,
            "bundle": client.get(f"/api/v1/bundles/{bundle.public_id}/").status_code,
            "bundle page": page.get(f"/bundles/{bundle.public_id}/").status_code,
            "bundle version": client.get(f"/api/v1/bundles/{bundle.public_id}/versions/1/").status_code,
            "bundles": [b["id"] for b in client.get("/api/v1/bundles/").json()["results"]],
            "markets": sorted({m["code"] for m in client.get("/api/v1/markets/").json()["results"]}),
            "plan": str(plan.public_id)
            in {o["id"] for o in client.get("/api/v1/organizations/").json()["results"]},
        }

    assert visible() == {
        "contract": 404,
        "contract page": 404,
        "bundle": 404,
        "bundle page": 404,
        "bundle version": 404,
        "bundles": [],
        "markets": [],
        "plan": False,
    }
    contract_services.contract_propose(scope=plan_scope, contract=contract)
    after = visible()
    assert after["contract"] == after["contract page"] == after["bundle"] == after["bundle page"] == 200
    assert after["bundle version"] == 200
    assert after["bundles"] == [str(bundle.public_id)]
    assert "URBAN" in after["markets"] and after["plan"] is True
