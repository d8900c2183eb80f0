"""Suite-wide fixtures: users in organisations, API clients with tokens, a real Celery worker.

In CI (``CI=true``) PostgreSQL and Redis are required: a missing service fails the run, it
never skips a test.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts.models import Role
from accounts.services import token_create
from tests.factories import MembershipFactory, PayerFactory, ProviderFactory

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def pytest_configure(config):
    if not IN_CI:
        return
    problems = []
    if "postgresql" not in settings.DATABASES["default"]["ENGINE"]:
        problems.append("DATABASE_URL must point at PostgreSQL in CI")
    if not settings.REDIS_URL.startswith("redis://"):
        problems.append("REDIS_URL must point at Redis in CI")
    else:
        import redis

        try:
            redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=3).ping()
        except redis.exceptions.RedisError as exc:
            problems.append(f"Redis is not reachable at {settings.REDIS_URL}: {exc}")
    if problems:
        raise pytest.UsageError("CI needs its services: " + "; ".join(problems))


@pytest.fixture(autouse=True)
def _clear_cache():
    # Throttle counters live in the cache; one test's logins must not throttle the next.
    cache.clear()
    yield


@pytest.fixture
def payer(db):
    return PayerFactory()


@pytest.fixture
def provider(db):
    return ProviderFactory()


@pytest.fixture
def member_of(db):
    """member_of(org, role) -> a user who belongs to ``org`` with ``role``."""

    def make(organization, role=Role.ADMIN):
        return MembershipFactory(organization=organization, role=role).user

    return make


@pytest.fixture
def api_for(db):
    """api_for(user) -> an APIClient authenticated with a fresh token of ``user``."""

    def make(user, organization=None):
        key, _ = token_create(user=user)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        if organization is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Token {key}", HTTP_X_ORGANIZATION=str(organization.public_id))
        return client

    return make


def _test_database_url() -> str:
    db = settings.DATABASES["default"]
    if "sqlite" in db["ENGINE"]:
        return f"sqlite:///{db['NAME']}"
    port = db.get("PORT") or 5432
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{port}/{db['NAME']}"


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker):
    """A real Celery worker process on the configured broker, using the test database."""
    env = dict(os.environ)
    env["DATABASE_URL"] = _test_database_url()
    env["DB_CONN_MAX_AGE"] = "0"
    log = open(Path(settings.VAR_DIR) / "test-worker.log", "w")  # closed at teardown
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "--concurrency=1",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "info"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    from core.tasks import echo

    try:
        echo.delay("ready").get(timeout=60)
    except Exception:
        process.kill()
        log.close()
        raise
    yield process
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


@pytest.fixture
def wait_for():
    """wait_for(predicate, timeout) polls until predicate() is truthy."""

    def poll(predicate, timeout=30.0, interval=0.1):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(interval)
        raise AssertionError(f"condition not met within {timeout}s")

    return poll
