"""PostgreSQL restarted between two requests: the next request after it is back succeeds.

A REAL server process (gunicorn, one sync worker, so every request uses the same thread and its
persistent connection: ``DB_CONN_MAX_AGE=60``) answers a request, PostgreSQL is restarted for real
(``pg_ctlcluster ... restart``, which ends every session), and the next request is a 200: Django's
``CONN_HEALTH_CHECKS`` (config/settings.py) finds the dead persistent connection at the start of the
request and opens a new one, instead of failing the request with it.

A control server, the same except that its health checks are off, answers that first request after
the restart with a 5xx: proof that the restart did break the persistent connections, so the 200 is
the health check's doing and not luck.

PostgreSQL on this machine only (the restart needs ``pg_ctlcluster`` and root, as in CI's .ci/run);
in CI a missing prerequisite fails the test rather than skipping it.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connections

from accounts.services import token_create
from tests.conftest import IN_CI, ROOT, _test_database_url, die_with_tests
from tests.factories import PASSWORD, MembershipFactory

DB = settings.DATABASES["default"]
ON_POSTGRESQL = "postgresql" in DB["ENGINE"]
HOST = DB.get("HOST") or "127.0.0.1"
PORT = int(DB.get("PORT") or 5432)

pytestmark = [
    pytest.mark.skipif(not ON_POSTGRESQL, reason="a PostgreSQL restart: PostgreSQL only (CI always is)"),
    pytest.mark.django_db(transaction=True),  # the server process must see the test's rows
]

CONTROL_SETTINGS = """\
from config.settings import *  # noqa: F403

DATABASES["default"]["CONN_HEALTH_CHECKS"] = False  # noqa: F405 - the control: a dead connection is reused
"""


def _cluster() -> tuple[str, str]:
    """(version, name) of the local cluster that serves the test database's port."""
    problems = []
    if HOST not in ("127.0.0.1", "localhost", "::1"):
        problems.append(f"the database is not on this machine ({HOST})")
    if not shutil.which("pg_ctlcluster") or not shutil.which("pg_lsclusters"):
        problems.append("pg_ctlcluster is not installed")
    if os.geteuid() != 0:
        problems.append("restarting PostgreSQL needs root")
    if not problems:
        listing = subprocess.run(["pg_lsclusters", "--no-header"], capture_output=True, text=True, check=True)
        for line in listing.stdout.splitlines():
            version, name, port, status, *_ = line.split()
            if int(port) == PORT and status.startswith("online"):
                return version, name
        problems.append(f"no online local cluster on port {PORT}")
    message = "cannot restart PostgreSQL: " + "; ".join(problems)
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _request(base: str, path: str, *, token: str | None = None, body: dict | None = None) -> tuple[int, dict]:
    headers = {"Accept": "application/json"}
    data = None
    if token:
        headers["Authorization"] = f"Token {token}"
    if body is not None:
        headers["Content-Type"] = "application/json"
        data = json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, headers=headers)  # noqa: S310 - loopback only
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            return exc.code, json.loads(raw or b"{}")
        except ValueError:
            return exc.code, {"body": raw[:500].decode(errors="replace")}


def _start_server(name: str, log_dir: Path, **env_extra: str) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = dict(os.environ)
    env.update({"DATABASE_URL": _test_database_url(), "DB_CONN_MAX_AGE": "60", **env_extra})
    log = open(log_dir / f"test-db-restart-{name}.log", "w")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--worker-class",
            "sync",
            "--timeout",
            "60",
            "--access-logfile",
            "-",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=die_with_tests,
    )
    process.log = log
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process, base
        except OSError:
            time.sleep(0.2)
    _stop(process)
    raise AssertionError(f"the {name} server did not start; see {log.name}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    process.log.close()


def _wait_until_accepting(timeout: float = 90.0) -> None:
    import psycopg

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready = subprocess.run(["pg_isready", "-h", HOST, "-p", str(PORT), "-q"], check=False)
        if ready.returncode == 0:
            try:
                psycopg.connect(_test_database_url(), connect_timeout=3).close()
                return
            except psycopg.OperationalError:
                pass
        time.sleep(0.5)
    raise AssertionError(f"PostgreSQL did not come back within {timeout}s")


def _restart_postgresql(version: str, name: str) -> None:
    connections.close_all()  # this process's own connection dies with the restart: open a new one after
    try:
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", "--mode", "fast", version, name, "restart"],
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        _wait_until_accepting()  # whatever happened, the tests after this one need their database


def test_the_next_request_after_a_postgresql_restart_succeeds(tmp_path):
    version, name = _cluster()
    membership = MembershipFactory()
    user, organization = membership.user, membership.organization
    key, _ = token_create(user=user)
    (tmp_path / "restart_control_settings.py").write_text(CONTROL_SETTINGS)
    log_dir = Path(settings.VAR_DIR)

    server, base = _start_server("server", log_dir)
    control = None
    try:
        control, control_base = _start_server(
            "control",
            log_dir,
            DJANGO_SETTINGS_MODULE="restart_control_settings",
            PYTHONPATH=os.pathsep.join([str(tmp_path), str(ROOT)]),
        )
        for url in (base, control_base):  # each server opens its persistent connection
            status, body = _request(url, "/api/v1/organizations/", token=key)
            assert status == 200, body
            assert [row["id"] for row in body["results"]] == [str(organization.public_id)]

        _restart_postgresql(version, name)

        status, body = _request(base, "/api/v1/organizations/", token=key)
        assert status == 200, body  # not a 500: the dead connection was replaced at the request's start
        assert [row["id"] for row in body["results"]] == [str(organization.public_id)]
        status, body = _request(
            base, "/api/v1/auth/token/", body={"username": user.username, "password": PASSWORD}
        )
        assert status == 201 and body["token"], body  # a write too

        status, body = _request(control_base, "/api/v1/organizations/", token=key)
        assert status >= 500, (status, body)  # the control reused its dead connection: the restart was real
    finally:
        _stop(server)
        if control is not None:
            _stop(control)
    # And this process's own new connection works (the tests after this one use it).
    assert MembershipFactory._meta.model.objects.filter(pk=membership.pk).exists()
