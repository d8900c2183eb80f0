"""Load: concurrent clients on loopback against gunicorn + PostgreSQL + Redis, mixing page views,
API reads, quotes and roster uploads. Prints p50/p95/p99 latency per kind and the error count.

Needs PostgreSQL and Redis (DATABASE_URL / REDIS_URL, or the local defaults 127.0.0.1). It creates
its own database `carebundle_load`, loads the demo data, starts gunicorn and a Celery worker on
loopback, runs LOAD_CLIENTS clients for LOAD_SECONDS seconds, and stops everything. Every request
loop is bounded by the deadline and only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
PORT = int(os.environ.get("LOAD_PORT", "8765"))
BASE = f"http://127.0.0.1:{PORT}"
CLIENTS = int(os.environ.get("LOAD_CLIENTS", "50"))
SECONDS = int(os.environ.get("LOAD_SECONDS", "60"))
DB_NAME = "carebundle_load"
PG = os.environ.get("LOAD_PG", "postgres://postgres@127.0.0.1:5432")
REDIS = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/9")

QUOTE_FILE = {
    "format": "carebundle.pricing/1",
    "bundle": {
        "name": "Load quote", "period": {"type": "monthly"},
        "tiers": [{"code": "1", "name": "Stable"}, {"code": "2", "name": "Moderate"}, {"code": "3", "name": "High"}],
        "home_share": 0.8,
        "roles": [{"role": "np", "visit_minutes": 60,
                   "by_tier": {"1": {"visits_per_mm": 0.5, "coordination_minutes_per_mm": 15},
                               "2": {"visits_per_mm": 1.0, "coordination_minutes_per_mm": 30},
                               "3": {"visits_per_mm": 2.0, "coordination_minutes_per_mm": 45}}}],
        "assessment": {"roles": [{"role": "np", "minutes": 90}], "home": True},
    },
    "assumptions": {
        "salaries": {"np": {"default": 132000}}, "benefits_load": 0.28, "productivity": 0.75,
        "admin_load": 0.12, "margin": 0.03, "annual_trend": 0.035,
        "base_period_midpoint": "2025-07-01", "rating_period_midpoint": "2026-07-01",
        "markets": [{"code": "URBAN", "travel_minutes_per_visit": 20, "miles_per_visit": 8}],
        "mileage_rate": 0.70, "supplies_pmpm": 15, "on_call_pmpm": 40, "technology_pmpm": 8,
        "full_credibility_member_months": 12000,
    },
}


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env.update({"DATABASE_URL": f"{PG}/{DB_NAME}", "REDIS_URL": REDIS, "DEBUG": "1",
                "CAREBUNDLE_VAR_DIR": str(ROOT / "var" / "load"), "LOG_LEVEL": "WARNING"})
    return env


def _manage(*args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=_env(), check=True,
                   stdout=subprocess.DEVNULL)


def _prepare() -> None:
    subprocess.run(["psql", PG + "/postgres", "-qc", f"DROP DATABASE IF EXISTS {DB_NAME}"], check=True)
    subprocess.run(["psql", PG + "/postgres", "-qc", f"CREATE DATABASE {DB_NAME}"], check=True)
    _manage("migrate", "--no-input")
    _manage("seed_demo")


def _token(username: str) -> str:
    response = requests.post(f"{BASE}/api/v1/auth/token/", json={"username": username, "password": "carebundle-demo"},
                             timeout=10)
    response.raise_for_status()
    return response.json()["token"]


def _roster_csv(month: str) -> bytes:
    lines = ["member_id,last_name,first_name,birth_date,market,enrollment_start,enrollment_end,"
             "disenrollment_reason,tier"]
    for i in range(20):
        lines.append(f"LOAD{i:04d},Member,Load{i},1950-01-01,URBAN,{month}-01,,,1")
    return ("\n".join(lines) + "\n").encode()


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.samples: dict[str, list[float]] = {}
        self.errors: dict[str, list[str]] = {}

    def add(self, kind: str, seconds: float, error: str | None) -> None:
        with self.lock:
            self.samples.setdefault(kind, []).append(seconds)
            if error:
                self.errors.setdefault(kind, []).append(error)


def _client(deadline: float, recorder: Recorder, tokens: dict[str, str], contract_ids: list[str]) -> None:
    web = requests.Session()
    web.post(f"{BASE}/login/", data={"username": "plan_analyst", "password": "carebundle-demo",
                                     "csrfmiddlewaretoken": _csrf(web)}, timeout=10)
    api = requests.Session()
    api.headers["Authorization"] = f"Token {tokens['plan_analyst']}"
    provider_api = requests.Session()
    provider_api.headers["Authorization"] = f"Token {tokens['urban_admin']}"
    rng = random.Random(threading.get_ident())
    while time.monotonic() < deadline:
        kind = rng.choices(["page", "api_read", "quote", "roster_upload"], weights=[40, 40, 15, 5])[0]
        started = time.monotonic()
        error = None
        try:
            if kind == "page":
                response = web.get(BASE + rng.choice(["/", "/bundles/", "/organizations/", "/contracts/"]), timeout=30)
            elif kind == "api_read":
                response = api.get(BASE + rng.choice(["/api/v1/bundles/", "/api/v1/organizations/",
                                                      "/api/v1/contracts/", "/api/v1/markets/"]), timeout=30)
            elif kind == "quote":
                response = api.post(f"{BASE}/api/v1/pricing/quote/", json=QUOTE_FILE, timeout=30)
            else:
                if not contract_ids:
                    continue
                month = time.strftime("%Y-%m")
                response = provider_api.post(
                    f"{BASE}/api/v1/contracts/{rng.choice(contract_ids)}/rosters/",
                    data={"month": month}, files={"file": ("roster.csv", _roster_csv(month), "text/csv")}, timeout=60)
            if response.status_code >= 400 and not (kind == "roster_upload" and response.status_code in (400, 409)):
                error = f"{response.status_code} {response.request.method} {response.url}"
        except requests.RequestException as exc:
            error = f"{type(exc).__name__}: {exc}"
        recorder.add(kind, time.monotonic() - started, error)


def _csrf(session: requests.Session) -> str:
    session.get(f"{BASE}/login/", timeout=10)
    return session.cookies.get("csrftoken", "")


def _percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def run() -> list[dict]:
    _prepare()
    env = _env()
    web = subprocess.Popen([sys.executable, "-m", "gunicorn", "config.wsgi:application", "--bind", f"127.0.0.1:{PORT}",
                            "--workers", "4", "--threads", "4", "--timeout", "120", "--log-level", "warning"],
                           cwd=ROOT, env=env)
    worker = subprocess.Popen([sys.executable, "-m", "celery", "-A", "config", "worker", "-l", "warning",
                               "--concurrency", "2"], cwd=ROOT, env=env)
    try:
        for _ in range(60):
            try:
                if requests.get(f"{BASE}/health/", timeout=2).ok:
                    break
            except requests.RequestException:
                time.sleep(0.5)
        tokens = {u: _token(u) for u in ("plan_analyst", "urban_admin")}
        contracts = requests.get(f"{BASE}/api/v1/contracts/", headers={"Authorization": f"Token {tokens['urban_admin']}"},
                                 timeout=10)
        contract_ids = [c["id"] for c in contracts.json().get("results", [])] if contracts.ok else []
        recorder = Recorder()
        deadline = time.monotonic() + SECONDS
        threads = [threading.Thread(target=_client, args=(deadline, recorder, tokens, contract_ids), daemon=True)
                   for _ in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=SECONDS + 120)
    finally:
        for process in (web, worker):
            process.send_signal(signal.SIGTERM)
        for process in (web, worker):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
    figures = []
    total_errors = sum(len(v) for v in recorder.errors.values())
    for kind, samples in sorted(recorder.samples.items()):
        for q in (0.5, 0.95, 0.99):
            figures.append({"name": f"load.{kind}_p{int(q * 100)}_ms", "value": round(_percentile(samples, q) * 1000, 1),
                            "unit": "ms", "target": None, "floor": None})
        figures.append({"name": f"load.{kind}_requests", "value": len(samples), "unit": "requests", "target": None,
                        "floor": None})
    figures.append({"name": "load.errors", "value": total_errors, "unit": "errors", "target": 0, "floor": None})
    for kind, errors in recorder.errors.items():
        print(f"  {kind}: {len(errors)} errors, e.g. {errors[:3]}")
    return figures


if __name__ == "__main__":
    for figure in run():
        print(f"{figure['name']} {figure['value']} {figure['unit']}")
