"""Load: concurrent clients on loopback against gunicorn + PostgreSQL + Redis, mixing page views,
API reads, quotes and roster uploads. Prints p50/p95/p99 latency per kind and the error count.

Run it on its own (`.venv/bin/python bench/bench_load.py`) or through `make bench` (run()).

Needs PostgreSQL and Redis (LOAD_PG / REDIS_URL, or the local defaults on 127.0.0.1). It creates
its own database `carebundle_load` (dropped and recreated each run) and uses Redis db 9 (flushed
at the start), loads the demo data, starts gunicorn (gthread: LOAD_WORKERS x LOAD_THREADS) and a
Celery worker on loopback with production settings (DEBUG off: secure cookies, HSTS, the SSL
redirect, hashed static files; the clients stand in for the TLS proxy in front of gunicorn), runs
LOAD_CLIENTS clients for LOAD_SECONDS seconds, and stops everything it started, also on an error
or Ctrl-C. Every request loop is bounded by the deadline
and only 127.0.0.1 is contacted.

Figures: load.<kind>_p50_ms / _p95_ms / _p99_ms and load.<kind>_requests for each kind (page,
api_read, quote, roster_upload), load.<kind>_errors, load.errors (every failed request: a
status other than the expected one, or a connection error or timeout; target 0) and
load.server_log_errors (tracebacks and ERROR lines in the gunicorn and worker logs; target 0).

Everything the servers print goes to var/load/gunicorn.log and var/load/worker.log; the first
error responses (status, URL and body) go to var/load/errors.txt and the first few are printed.

Connections: each gunicorn thread keeps one PostgreSQL connection (DB_CONN_MAX_AGE), the worker
one per process, so the bench holds about workers x threads + concurrency + 2 connections (27 by
default), well below PostgreSQL's max_connections of 100 that other databases on the same server
share too.
"""

from __future__ import annotations

import json
import os
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
CLIENTS = int(os.environ.get("LOAD_CLIENTS", "50"))
SECONDS = int(os.environ.get("LOAD_SECONDS", "60"))
WORKERS = int(os.environ.get("LOAD_WORKERS", "3"))
THREADS = int(os.environ.get("LOAD_THREADS", "8"))
# Longer than a client's session stays idle (each client has three: pages, the plan's API, the
# provider's API). gunicorn closes a kept-alive connection idle for this long (default 2 s) with a
# plain close, which races the client's next request on it: that request gets "connection reset
# by peer" (seen here: about 0.3% of requests failed with the default). Behind a proxy the
# proxy's idle timeout is the shorter one; this stands in for that.
KEEPALIVE = int(os.environ.get("LOAD_KEEPALIVE", str(max(75, SECONDS + 15))))
WORKER_CONCURRENCY = int(os.environ.get("LOAD_WORKER_CONCURRENCY", "2"))
DB_NAME = "carebundle_load"
PG = os.environ.get("LOAD_PG", "postgres://postgres@127.0.0.1:5432")
REDIS = "redis://127.0.0.1:6379/9"
VAR = ROOT / "var" / "load"
PASSWORD = "carebundle-demo"  # noqa: S105 - the demo data's public password
KINDS = ["page", "api_read", "quote", "roster_upload"]
WEIGHTS = [40, 40, 15, 5]
PAGES = ["/", "/bundles/", "/organizations/", "/contracts/"]
API_READS = ["/api/v1/bundles/", "/api/v1/organizations/", "/api/v1/contracts/", "/api/v1/markets/"]
MAX_ERROR_BODIES = 20

QUOTE_FILE = {
    "format": "carebundle.pricing/1",
    "bundle": {
        "name": "Load quote",
        "period": {"type": "monthly"},
        "tiers": [
            {"code": "1", "name": "Stable"},
            {"code": "2", "name": "Moderate"},
            {"code": "3", "name": "High"},
        ],
        "home_share": 0.8,
        "roles": [
            {
                "role": "np",
                "visit_minutes": 60,
                "by_tier": {
                    "1": {"visits_per_mm": 0.5, "coordination_minutes_per_mm": 15},
                    "2": {"visits_per_mm": 1.0, "coordination_minutes_per_mm": 30},
                    "3": {"visits_per_mm": 2.0, "coordination_minutes_per_mm": 45},
                },
            }
        ],
        "assessment": {"roles": [{"role": "np", "minutes": 90}], "home": True},
    },
    "assumptions": {
        "salaries": {"np": {"default": 132000}},
        "benefits_load": 0.28,
        "productivity": 0.75,
        "admin_load": 0.12,
        "margin": 0.03,
        "annual_trend": 0.035,
        "base_period_midpoint": "2025-07-01",
        "rating_period_midpoint": "2026-07-01",
        "markets": [{"code": "URBAN", "travel_minutes_per_visit": 20, "miles_per_visit": 8}],
        "mileage_rate": 0.70,
        "supplies_pmpm": 15,
        "on_call_pmpm": 40,
        "technology_pmpm": 8,
        "full_credibility_member_months": 12000,
    },
}


class SetupError(RuntimeError):
    pass


def _free_port() -> int:
    requested = os.environ.get("LOAD_PORT")
    if requested:
        return int(requested)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


#: One per bench run: the servers run with production settings (DEBUG off), which need a real key.
SECRET_KEY = secrets.token_urlsafe(50)


def _env(*, debug: bool = False) -> dict[str, str]:
    """The servers' environment: production settings (DEBUG off: secure cookies, HSTS, the SSL redirect,
    compressed static files, no query log) behind a TLS proxy that the clients stand in for. Only
    seed_demo runs with DEBUG on: it refuses to create the demo users otherwise."""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "CAREBUNDLE_ENV": "development" if debug else "production",
            "DATABASE_URL": f"{PG}/{DB_NAME}",
            "REDIS_URL": REDIS,
            "DEBUG": "1" if debug else "0",
            "SECRET_KEY": SECRET_KEY,
            "ALLOWED_HOSTS": "127.0.0.1",
            "CAREBUNDLE_VAR_DIR": str(VAR),
            "MEDIA_ROOT": str(VAR / "media"),
            "LOG_LEVEL": "WARNING",
            "DB_CONN_MAX_AGE": "60",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def _manage(*args: str, debug: bool = False) -> None:
    subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=_env(debug=debug),
        check=True,
        stdout=subprocess.DEVNULL,
        timeout=600,
    )


class _BehindTLSProxy(requests.Session):
    """A client as gunicorn sees it behind the TLS proxy: plain HTTP marked https by the proxy's header.
    Production cookies are Secure; a browser sends them over https, so this client sends them too."""

    def __init__(self, token: str | None = None):
        super().__init__()
        self.headers["X-Forwarded-Proto"] = "https"  # what the proxy sets: no redirect to https
        if token:
            self.headers["Authorization"] = f"Token {token}"

    def send(self, request, **kwargs):
        response = super().send(request, **kwargs)
        for cookie in self.cookies:  # the jar would keep Secure cookies off a plain-HTTP connection
            cookie.secure = False
        return response


def _prepare() -> None:
    VAR.mkdir(parents=True, exist_ok=True)
    for name in ("gunicorn.log", "worker.log", "errors.txt"):
        (VAR / name).unlink(missing_ok=True)
    psql = ["psql", PG + "/postgres", "-v", "ON_ERROR_STOP=1", "-qc"]
    subprocess.run([*psql, f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)"], check=True, timeout=60)
    subprocess.run([*psql, f"CREATE DATABASE {DB_NAME}"], check=True, timeout=60)
    import redis

    redis.Redis.from_url(REDIS).flushdb()  # db 9 is this bench's alone: no task left from an earlier run
    _manage("migrate", "--no-input")
    _manage("collectstatic", "--no-input")  # DEBUG off serves the hashed, compressed files (whitenoise)
    _manage("seed_demo", debug=True)


def _accepted_rosters(base: str, token: str) -> list[tuple[str, str, str, bytes]]:
    """The provider's current accepted rosters (contract id, month, file name, content): a client
    sends one of them again, a resubmission that the worker processes in full and that replaces the
    previous version, as a provider correcting a month does."""
    api = _BehindTLSProxy(token)
    response = api.get(f"{base}/api/v1/rosters/?page_size=500", timeout=30)
    if not response.ok:
        raise SetupError(f"roster list: {response.status_code} {response.text[:500]}")
    rosters = []
    for submission in response.json().get("results", []):
        if submission.get("status") != "accepted" or not submission.get("is_current"):
            continue
        file = api.get(f"{base}/api/v1/rosters/{submission['id']}/file/", timeout=30)
        if not file.ok:
            raise SetupError(f"roster file: {file.status_code} {file.text[:500]}")
        rosters.append((submission["contract"]["id"], submission["month"], "roster.csv", file.content))
    if not rosters:
        raise SetupError("urban_admin has no accepted roster in the demo data to send again")
    return rosters


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.samples: dict[str, list[float]] = {kind: [] for kind in KINDS}
        self.errors: dict[str, list[str]] = {kind: [] for kind in KINDS}
        self.bodies: list[str] = []

    def add(self, kind: str, seconds: float, error: str | None, body: str = "") -> None:
        with self.lock:
            self.samples[kind].append(seconds)
            if error:
                self.errors[kind].append(error)
                if len(self.bodies) < MAX_ERROR_BODIES:
                    self.bodies.append(f"--- {kind}: {error}\n{body[:4000]}\n")


def _login(base: str, username: str) -> requests.Session:
    session = _BehindTLSProxy()
    session.get(f"{base}/login/", timeout=30)
    # An https request: Django's CSRF check wants a same-origin https Referer, as a browser sends.
    referer = base.replace("http://", "https://", 1) + "/login/"
    response = session.post(
        f"{base}/login/",
        data={
            "username": username,
            "password": PASSWORD,
            "csrfmiddlewaretoken": session.cookies.get("csrftoken", ""),
        },
        headers={"Referer": referer},
        timeout=30,
        allow_redirects=False,
    )
    if response.status_code != 302 or "sessionid" not in session.cookies:
        raise SetupError(f"login of {username} failed: {response.status_code} {response.text[:500]}")
    return session


def _client(
    base: str,
    deadline: float,
    stop: threading.Event,
    recorder: Recorder,
    tokens: dict[str, str],
    rosters: list[tuple[str, str, str, bytes]],
    seed: int,
) -> None:
    try:
        web = _login(base, "plan_analyst")
    except (requests.RequestException, SetupError) as exc:
        recorder.add("page", 0.0, f"login: {type(exc).__name__}: {exc}")
        return
    api = _BehindTLSProxy(tokens["plan_analyst"])
    provider_api = _BehindTLSProxy(tokens["urban_admin"])
    rng = random.Random(seed)
    while not stop.is_set() and time.monotonic() < deadline:
        kind = rng.choices(KINDS, weights=WEIGHTS)[0]
        timeout = 30
        started = time.monotonic()
        error = None
        body = ""
        try:
            if kind == "page":
                response = web.get(base + rng.choice(PAGES), timeout=timeout, allow_redirects=False)
                expected = (200,)
            elif kind == "api_read":
                response = api.get(base + rng.choice(API_READS), timeout=timeout)
                expected = (200,)
            elif kind == "quote":
                response = api.post(f"{base}/api/v1/pricing/quote/", json=QUOTE_FILE, timeout=timeout)
                expected = (200,)
            else:
                contract_id, month, filename, content = rng.choice(rosters)
                response = provider_api.post(
                    f"{base}/api/v1/contracts/{contract_id}/rosters/",
                    data={"month": month},
                    files={"file": (filename, content, "text/csv")},
                    timeout=timeout,
                )
                expected = (201, 202)
            if response.status_code not in expected:
                error = f"{response.status_code} {response.request.method} {response.url}"
                body = response.text
        except requests.RequestException as exc:
            error = f"{type(exc).__name__}: {exc}"
        recorder.add(kind, time.monotonic() - started, error, body)


def _percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def _start(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
    with log.open("ab") as out:
        # Its own process group: stopping it stops its children (gunicorn's workers, celery's pool).
        return subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def _stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        try:  # whatever is left of the group (a worker child that ignored SIGTERM)
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


def _wait_ready(base: str, processes: list[subprocess.Popen]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for process in processes:
            if process.poll() is not None:
                raise SetupError(f"{process.args[2]} exited with {process.returncode}; see {VAR}")
        try:
            if requests.get(f"{base}/health/", timeout=2).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise SetupError(f"gunicorn did not answer {base}/health/ within 60 s; see {VAR / 'gunicorn.log'}")


def _worker_ready(processes: list[subprocess.Popen]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if processes[1].poll() is not None:
            raise SetupError(
                f"the Celery worker exited with {processes[1].returncode}; see {VAR / 'worker.log'}"
            )
        result = subprocess.run(
            [sys.executable, "-m", "celery", "-A", "config", "inspect", "ping", "--timeout", "2"],
            cwd=ROOT,
            env=_env(),
            capture_output=True,
            timeout=30,
        )
        if result.returncode == 0:
            return
        time.sleep(1)
    raise SetupError(f"the Celery worker did not answer a ping within 60 s; see {VAR / 'worker.log'}")


LOG_ERROR = re.compile(r"^Traceback|\[ERROR\]|^ERROR|\bERROR/|\bCRITICAL\b|WORKER TIMEOUT", re.MULTILINE)


def _log_errors() -> list[str]:
    found = []
    for name in ("gunicorn.log", "worker.log"):
        path = VAR / name
        if path.exists():
            text = path.read_text(errors="replace")
            found += [
                f"{name}: {text[m.start() : m.start() + 300].splitlines()[0]}"
                for m in LOG_ERROR.finditer(text)
            ]
    return found


def _roster_outcomes(base: str, token: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    url = f"{base}/api/v1/rosters/?page_size=200"
    for _ in range(50):
        response = _BehindTLSProxy(token).get(url, timeout=30)
        if not response.ok:
            break
        data = response.json()
        for submission in data.get("results", []):
            counts[submission.get("status", "?")] = counts.get(submission.get("status", "?"), 0) + 1
        url = data.get("next")
        if not url or not url.startswith(base):
            break
    return counts


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def run() -> list[dict]:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = _env()
    processes: list[subprocess.Popen] = []
    stop = threading.Event()
    previous_sigterm = signal.getsignal(signal.SIGTERM)
    if threading.current_thread() is threading.main_thread():  # a `kill` stops the servers too
        signal.signal(signal.SIGTERM, _interrupt)
    try:
        print(f"  load: preparing {DB_NAME} (migrate, seed_demo) ...", flush=True)
        _prepare()
        loadavg_before = Path("/proc/loadavg").read_text().split()[:3]
        processes.append(
            _start(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "config.wsgi:application",
                    "--bind",
                    f"127.0.0.1:{port}",
                    "--worker-class",
                    "gthread",
                    "--workers",
                    str(WORKERS),
                    "--threads",
                    str(THREADS),
                    "--keep-alive",
                    str(KEEPALIVE),
                    "--backlog",
                    "512",
                    "--timeout",
                    "120",
                    "--graceful-timeout",
                    "10",
                    "--log-level",
                    "warning",
                    "--error-logfile",
                    "-",
                ],
                VAR / "gunicorn.log",
                env,
            )
        )
        processes.append(
            _start(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "config",
                    "worker",
                    "-l",
                    "warning",
                    "--concurrency",
                    str(WORKER_CONCURRENCY),
                    "--without-heartbeat",
                    "--without-gossip",
                    "--without-mingle",
                    "-n",
                    f"load-{port}@%h",
                ],
                VAR / "worker.log",
                env,
            )
        )
        _wait_ready(base, processes)
        _worker_ready(processes)
        tokens = {}
        for username in ("plan_analyst", "urban_admin"):
            response = _BehindTLSProxy().post(
                f"{base}/api/v1/auth/token/", json={"username": username, "password": PASSWORD}, timeout=30
            )
            if not response.ok:
                raise SetupError(f"token for {username}: {response.status_code} {response.text[:500]}")
            tokens[username] = response.json()["token"]
        rosters = _accepted_rosters(base, tokens["urban_admin"])
        outcomes_before = _roster_outcomes(base, tokens["urban_admin"])
        recorder = Recorder()
        print(
            f"  load: {CLIENTS} clients for {SECONDS} s against {base} (gunicorn gthread {WORKERS}x{THREADS}, "
            f"keep-alive {KEEPALIVE} s, "
            f"worker concurrency {WORKER_CONCURRENCY}) ...",
            flush=True,
        )
        deadline = time.monotonic() + SECONDS
        threads = [
            threading.Thread(
                target=_client,
                args=(base, deadline, stop, recorder, tokens, rosters, i),
                daemon=True,
                name=f"load-client-{i}",
            )
            for i in range(CLIENTS)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()) + 60)
        stop.set()
        loadavg_during = Path("/proc/loadavg").read_text().split()[:3]
        hung = sum(thread.is_alive() for thread in threads)
        time.sleep(2)  # let the worker finish what the last uploads queued before the logs are read
        outcomes = {
            status: count - outcomes_before.get(status, 0)
            for status, count in _roster_outcomes(base, tokens["urban_admin"]).items()
        }
    finally:
        stop.set()
        _stop(processes)
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, previous_sigterm)

    log_errors = _log_errors()
    if recorder.bodies:
        (VAR / "errors.txt").write_text("".join(recorder.bodies))
    figures = []
    for kind in KINDS:
        samples = recorder.samples[kind]
        if samples:
            for q in (0.5, 0.95, 0.99):
                figures.append(
                    {
                        "name": f"load.{kind}_p{int(q * 100)}_ms",
                        "value": round(_percentile(samples, q) * 1000, 1),
                        "unit": "ms",
                        "target": None,
                        "floor": None,
                    }
                )
        figures.append(
            {
                "name": f"load.{kind}_requests",
                "value": len(samples),
                "unit": "requests",
                "target": None,
                "floor": None,
            }
        )
        figures.append(
            {
                "name": f"load.{kind}_errors",
                "value": len(recorder.errors[kind]),
                "unit": "errors",
                "target": 0,
                "floor": None,
            }
        )
    total_errors = sum(len(v) for v in recorder.errors.values()) + hung
    total_requests = sum(len(v) for v in recorder.samples.values())
    figures.append(
        {"name": "load.requests", "value": total_requests, "unit": "requests", "target": None, "floor": None}
    )
    figures.append(
        {
            "name": "load.requests_per_s",
            "value": round(total_requests / SECONDS, 1),
            "unit": "req/s",
            "target": None,
            "floor": None,
        }
    )
    figures.append(
        {"name": "load.errors", "value": total_errors, "unit": "errors", "target": 0, "floor": None}
    )
    figures.append(
        {
            "name": "load.machine_loadavg_1min",
            "value": float(loadavg_during[0]),
            "unit": "load",
            "target": None,
            "floor": None,
        }
    )
    figures.append(
        {
            "name": "load.server_log_errors",
            "value": len(log_errors),
            "unit": "lines",
            "target": 0,
            "floor": None,
        }
    )
    print(
        f"  load: loadavg before {' '.join(loadavg_before)}, at the end {' '.join(loadavg_during)}; "
        f"roster submissions during the run by status {json.dumps(outcomes, sort_keys=True)}"
        + (f"; {hung} clients still running after the deadline" if hung else ""),
        flush=True,
    )
    for kind, errors in recorder.errors.items():
        if errors:
            print(f"  load: {kind}: {len(errors)} errors, e.g. {errors[:3]}")
    if recorder.bodies:
        print(f"  load: first error bodies (all {len(recorder.bodies)} kept in {VAR / 'errors.txt'}):")
        for body in recorder.bodies[:3]:
            print("    " + body[:1500].replace("\n", "\n    "))
    if log_errors:
        print(f"  load: {len(log_errors)} error lines in {VAR}/gunicorn.log and worker.log, e.g.:")
        for line in log_errors[:5]:
            print("    " + line)
    return figures


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    for figure in run():
        target = "" if figure["target"] is None else f"  target {figure['target']}"
        print(f"{figure['name']:<32} {figure['value']:>10} {figure['unit']}{target}")
