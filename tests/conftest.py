"""Suite-wide fixtures: users in organisations, API clients with tokens, a real Celery worker; and,
from tests/fixtures/contracts.py, a plan and a provider under contract.

In CI (``CI=true``) PostgreSQL and Redis are required: a missing service fails the run, it
never skips a test.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts.models import Role
from accounts.services import token_create
from tests.factories import MembershipFactory, PayerFactory, ProviderFactory

pytest_plugins = ["tests.fixtures.contracts"]

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _remove_stale_sqlite_journals(config) -> None:
    """SQLite runs in WAL mode (config/settings.py). Django replaces an old test database by deleting
    its file, not its ``-wal`` and ``-shm`` (a killed worker leaves them), which SQLite would then read
    as part of the new, empty file."""
    database = settings.DATABASES["default"]
    if "sqlite" not in database["ENGINE"] or config.getoption("reuse_db", default=False):
        return
    name = database.get("TEST", {}).get("NAME")
    if name:
        for suffix in ("-wal", "-shm"):
            Path(f"{name}{suffix}").unlink(missing_ok=True)


def pytest_configure(config):
    _remove_stale_sqlite_journals(config)
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
            client.credentials(
                HTTP_AUTHORIZATION=f"Token {key}", HTTP_X_ORGANIZATION=str(organization.public_id)
            )
        return client

    return make


def die_with_tests() -> None:
    """``preexec_fn`` for the processes tests start (workers, servers): the kernel kills them when the
    test process dies, so an interrupted run leaves no worker behind to take a later run's messages
    (PR_SET_PDEATHSIG, Linux; elsewhere nothing)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG


def open_transactions() -> int:
    """Sessions on the test database inside an open transaction (a worker killed mid-write holds one);
    -1 off PostgreSQL, which cannot tell."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return -1
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND state = 'idle in transaction'"
        )
        return cursor.fetchone()[0]


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
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool=solo",
            "--concurrency=1",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-l",
            "info",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=die_with_tests,
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


#: How a worker of ``celery_worker_factory`` starts: ``python -c`` this, then Celery's own worker.
_WORKER_BOOT = """\
import os, sys
from config.celery import app
if os.environ.get("TEST_BROKER_VISIBILITY_TIMEOUT"):
    # Test-only: an unacknowledged message (its worker was killed) goes back to the queue after this
    # many seconds instead of the production hour; this worker restores it when it starts.
    app.conf.broker_transport_options = {**app.conf.broker_transport_options,
                                         "visibility_timeout": int(os.environ["TEST_BROKER_VISIBILITY_TIMEOUT"])}
"""


def _stop_worker(process: subprocess.Popen, *, kill: bool = False) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    process.log.close()


@pytest.fixture
def celery_worker_factory(transactional_db):
    """start(name, env=..., visibility_timeout=..., prelude=..., pool=...) -> a REAL Celery worker process that
    consumes only this test's own queue (``start.queue``), so that a session worker never takes its
    messages and a message left by a killed worker never reaches another test.

    ``env`` adds environment variables (a test-only step delay); ``visibility_timeout`` (seconds, Redis)
    makes this worker give back a killed worker's unacknowledged message at once; ``prelude`` is Python
    run in the worker before it starts (test-only patches); ``pool="prefork"`` runs tasks in a child
    process, which is what enforces time limits (solo does not). ``start.kill(process)`` is SIGKILL;
    every worker still running is stopped at teardown (before the database is flushed).
    """
    from core.tasks import echo

    queue = f"test-{uuid.uuid4().hex[:12]}"
    started: list[subprocess.Popen] = []

    def start(
        name: str,
        *,
        env: dict[str, str] | None = None,
        visibility_timeout: int | None = None,
        prelude: str = "",
        pool: str = "solo",
    ) -> subprocess.Popen:
        worker_env = dict(os.environ)
        worker_env.update(
            {
                "DATABASE_URL": _test_database_url(),
                "DB_CONN_MAX_AGE": "0",
                "MEDIA_ROOT": str(settings.MEDIA_ROOT),
                **(env or {}),
            }
        )
        if visibility_timeout is not None:
            worker_env["TEST_BROKER_VISIBILITY_TIMEOUT"] = str(visibility_timeout)
        log = open(Path(settings.VAR_DIR) / f"test-worker-{queue}-{name}.log", "w")  # noqa: SIM115 - closed with it
        process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                _WORKER_BOOT + prelude + "\napp.worker_main(sys.argv[1:])\n",
                "worker",
                f"--pool={pool}",
                "--concurrency=1",
                "-Q",
                queue,
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-n",
                f"{name}-{queue}@%h",
                "-l",
                "info",
            ],
            cwd=ROOT,
            env=worker_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_tests,
        )
        process.log = log
        started.append(process)
        try:
            echo.apply_async(args=["ready"], queue=queue).get(timeout=90)
        except Exception:
            _stop_worker(process, kill=True)
            raise
        return process

    def kill(process: subprocess.Popen) -> None:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=20)
        assert process.returncode == -signal.SIGKILL

    start.queue = queue
    start.kill = kill
    start.stop = _stop_worker
    yield start
    for process in started:
        if not process.log.closed:
            _stop_worker(process, kill=True)


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
