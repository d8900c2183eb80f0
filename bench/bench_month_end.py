"""Month-end benchmark: every contract's payment run of a month, spread over 1 and then 2 Celery workers.

Run ``python bench/bench_month_end.py`` (or ``python -m bench month_end``); prints one line per figure.
:func:`run` returns the same figures as dicts (name, value, unit, target, floor) for ``make bench``.

- ``month_end.500x200_1_worker_s``: wall time of a month-end (``payments.services.month_end_start`` as
  a plan analyst, until its bulk operation's ``finished_at`` is set) for 500 active contracts with 200
  member-months each, one worker consuming the heavy queue;
- ``month_end.500x200_2_workers_s``: the same for the next month with two workers;
- ``month_end.2_vs_1_workers_x``: the 2-worker time over the 1-worker time (target <= 0.6, issue 18).

BENCH_MONTH_END_CONTRACTS and BENCH_MONTH_END_MEMBERS change the sizes (the figures' names follow).

A "worker" is one ``celery -A config worker --pool=prefork --concurrency=1 -Q heavy`` process (with its
one pool child), started per run and stopped after it: N workers are N such processes, each with its
own broker connection and prefetch, as ``docker compose up --scale worker=N`` gives N replicas
(the compose file's replicas run ``--concurrency 2`` each; one process each here makes N the number of
items that run at once, so the figures compare one process with two on the 2-core machine).

Needs PostgreSQL and Redis: on SQLite writers take turns, so two workers could not overlap. It uses a
throwaway database (BENCH_DATABASE_URL, default
``postgres://postgres@127.0.0.1:5432/carebundle_bench_month_end``; its name must contain "bench", as it
is dropped, created again and migrated at the start) and a Redis database flushed at the start
(BENCH_REDIS_URL, default ``redis://127.0.0.1:6379/14``). When either is unreachable the bench prints
"skipped: needs PostgreSQL and Redis" and returns no figures.

Setup (in a child process, not timed): contracts through the contracts services, each with its own
provider (so no two overlap), and for each an accepted current roster of January and one of February,
their member-month rows bulk-inserted straight into enrollment's tables (bench_payments' ``_roster``).
The 1-worker run pays January, the 2-worker run February, so each pays months not paid yet (January's
runs stay in review: February's runs have no retroactive lines, the same work as January's). After each
run every item must be done and every contract must have exactly one run of the month, in review, with
all its members; otherwise the bench fails.

Each run also prints (not as figures) where the time went: how long ``month_end_start`` itself took
(creating the items and sending the group), CPU seconds of the worker processes and of the PostgreSQL
server (all its databases: when others use the same server their work is in it too), how busy the
whole machine was (of its cores) and the load average, since other work shares the same cores; the
runs' calculation time summed and how many overlapped at most (N when N workers really share the
month); and in how many of the poller's samples (every 0.1 s) a connection to the bench database was
waiting for a lock (items serialised by a shared row would show here).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
CONTRACTS = int(os.environ.get("BENCH_MONTH_END_CONTRACTS", "500"))
MEMBERS = int(os.environ.get("BENCH_MONTH_END_MEMBERS", "200"))
DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/carebundle_bench_month_end"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
SKIPPED = "skipped: needs PostgreSQL and Redis"
#: (workers, month) per run: each run pays a month of its own (bench_payments' JAN and FEB).
RUNS = ((1, date(2026, 1, 1)), (2, date(2026, 2, 1)))
#: A run taking longer than this has stalled (a dead worker, a lost message): the bench fails.
RUN_TIMEOUT_S = int(os.environ.get("BENCH_MONTH_END_TIMEOUT", "1800"))
SIZE = f"{CONTRACTS}x{MEMBERS}"


def _log(message: str) -> None:
    print(f"  month_end: {message}", file=sys.stderr, flush=True)


# --- the parent: services, database, child ---------------------------------------------------------


def _database_name() -> str:
    return urlsplit(DATABASE_URL).path.lstrip("/")


def _server_url() -> str:
    """The same server, its ``postgres`` database: where the bench database is dropped and created."""
    parts = urlsplit(DATABASE_URL)
    return urlunsplit((parts.scheme, parts.netloc, "/postgres", parts.query, ""))


def _unreachable() -> str | None:
    """Why the bench cannot run (PostgreSQL or Redis not answering), or None."""
    try:
        import psycopg
        import redis
    except ImportError as exc:
        return f"{exc.name} is not installed"
    try:
        psycopg.connect(_server_url(), connect_timeout=3).close()
    except psycopg.Error as exc:
        return f"PostgreSQL at {urlsplit(DATABASE_URL).netloc}: {str(exc).strip().splitlines()[0]}"
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        return f"Redis at {REDIS_URL}: {exc}"
    return None


def _prepare(env: dict[str, str]) -> None:
    import psycopg
    import redis
    from psycopg import sql

    name = _database_name()
    if "bench" not in name:  # it is dropped: never a database that is not obviously a bench's
        raise RuntimeError(
            f"BENCH_DATABASE_URL names {name!r}; the bench drops it, so its name must say bench"
        )
    with psycopg.connect(_server_url(), autocommit=True) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    redis.Redis.from_url(REDIS_URL).flushdb()
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)


def _env(var: str) -> dict[str, str]:
    return {
        **os.environ,
        "CAREBUNDLE_VAR_DIR": var,
        "MEDIA_ROOT": str(Path(var) / "media"),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "CAREBUNDLE_ENV": "development",
        "DEBUG": "0",  # as a deployed worker: no query log kept in memory
        "LOG_LEVEL": "WARNING",
        "DATABASE_URL": DATABASE_URL,
        "REDIS_URL": REDIS_URL,
    }


def run() -> list[dict[str, Any]]:
    """Every figure as {name, value, unit, target, floor} for the bench aggregator; none when skipped."""
    reason = _unreachable()
    if reason:
        print(f"  month_end {SKIPPED} ({reason})", flush=True)
        return []
    with tempfile.TemporaryDirectory() as var:
        env = _env(var)
        _log(f"preparing {_database_name()} (drop, create, migrate) and flushing {REDIS_URL} ...")
        _prepare(env)
        out = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--child"],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.PIPE,  # the figures; progress and diagnostics go to stderr as they come
            text=True,
        )
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- the child: data, workers, month-ends ----------------------------------------------------------


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (its reaped children too), 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # after the ")": state is field 3, so utime/stime/cutime/cstime (14-17) are at 11-14
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def _tree(pid: int) -> list[int]:
    """A process and its descendants (a worker and its pool child)."""
    pids = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in children:
            pids += _tree(int(child))
    return pids


def _machine_busy() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def _postgres_cpu() -> float:
    """CPU seconds the PostgreSQL server has used (its postmaster, the backends it reaped, the live ones):
    Celery closes a task's database connection after it, so each item has a backend of its own. The
    server is shared: other databases' work is counted too."""
    from django.db import connection

    connection.ensure_connection()
    own = connection.connection.info.backend_pid
    postmaster = int(Path(f"/proc/{own}/stat").read_text().rsplit(")", 1)[1].split()[1])
    return sum(_cpu_seconds(pid) for pid in _tree(postmaster))


def _waiting_for_locks() -> int:
    """1 if a connection to the bench database waits for a lock now (items serialised by a shared row)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
            "WHERE NOT l.granted AND a.datname = current_database())"
        )
        return int(cursor.fetchone()[0])


def _start_workers(count: int, var: Path) -> list[subprocess.Popen]:
    workers = []
    for i in range(1, count + 1):
        log = var / f"worker-{count}-{i}.log"
        with log.open("ab") as out:
            workers.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "celery",
                        "-A",
                        "config",
                        "worker",
                        "--pool=prefork",
                        "--concurrency=1",
                        "-Q",
                        "heavy",
                        "-n",
                        f"bench{count}-{i}@%h",
                        "-l",
                        "warning",
                        "--without-gossip",
                        "--without-mingle",
                        "--without-heartbeat",
                    ],
                    cwd=ROOT,
                    env=os.environ,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its own group: stopping it stops its pool child
                )
            )
        workers[-1].log = log
    return workers


def _log_tail(worker: subprocess.Popen) -> str:
    return "\n".join(worker.log.read_text(errors="replace").splitlines()[-30:])


def _check_alive(workers: list[subprocess.Popen]) -> None:
    for worker in workers:
        if worker.poll() is not None:
            raise RuntimeError(f"a worker exited with {worker.returncode}:\n{_log_tail(worker)}")


def _wait_ready(workers: list[subprocess.Popen], count: int) -> None:
    """Until every worker answers a ping (broadcast through Redis)."""
    from config.celery import app

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        _check_alive(workers)
        replies = app.control.ping(timeout=1.0)
        names = {name for reply in replies for name in reply if name.startswith(f"bench{count}-")}
        if len(names) == count:
            return
    raise RuntimeError(f"{count} worker(s) did not all answer a ping within 120 s")


def _stop_workers(workers: list[subprocess.Popen]) -> None:
    for worker in workers:
        if worker.poll() is None:
            try:
                os.killpg(worker.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    for worker in workers:
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        try:  # whatever is left of the group (a pool child that ignored SIGTERM)
            os.killpg(worker.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            worker.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


def _setup() -> tuple[dict, list]:
    from bench.bench_payments import _contract, _roster
    from bench.bench_payments import _setup as payments_setup

    ctx = payments_setup()
    started = time.perf_counter()
    contracts = []
    for n in range(CONTRACTS):
        contract = _contract(ctx, f"Bench Month-End Provider {n:04d}")
        for _, month in RUNS:
            _roster(contract, month, MEMBERS)
        contracts.append(contract)
        if (n + 1) % 100 == 0:
            _log(f"  {n + 1} contracts set up ({time.perf_counter() - started:.0f} s)")
    _log(
        f"set up {CONTRACTS} contracts x {MEMBERS} members x 2 months in {time.perf_counter() - started:.1f} s"
    )
    return ctx, contracts


def _check(operation, month, contracts) -> None:
    """Fail loudly unless every item is done and every contract has exactly one run of the month, in review,
    paying all its members."""
    from django.db.models import Count, Q

    from payments.models import PaymentRun

    operation.refresh_from_db()
    statuses = dict(operation.items.values_list("status").annotate(n=Count("pk")))
    if operation.status != "done" or statuses != {"done": len(contracts)}:
        failed = list(operation.items.exclude(status="done").values_list("label", "status", "message")[:5])
        raise RuntimeError(
            f"month-end {month}: operation {operation.status}, items {statuses}; e.g. {failed}"
        )
    runs = {
        row["contract"]: row
        for row in PaymentRun.objects.filter(month=month)
        .values("contract")
        .annotate(
            n=Count("pk"),
            review=Count("pk", filter=Q(status="review")),
            complete=Count("pk", filter=Q(member_count=MEMBERS)),
        )
    }
    wrong = [
        (c.number, runs.get(c.pk))
        for c in contracts
        if (runs.get(c.pk) or {}).get("n") != 1 or runs[c.pk]["review"] != 1 or runs[c.pk]["complete"] != 1
    ]
    if wrong or len(runs) != len(contracts):
        raise RuntimeError(
            f"month-end {month}: {len(wrong)} contracts without exactly one full run in review: {wrong[:5]}"
        )


def _month_end(ctx: dict, contracts: list, count: int, month: str, var: Path) -> float:
    from core.models import BulkOperation
    from payments.services import month_end_start

    workers = _start_workers(count, var)
    try:
        _wait_ready(workers, count)
        postgres_before = _postgres_cpu()
        workers_before = {pid: _cpu_seconds(pid) for w in workers for pid in _tree(w.pid)}
        busy_before, total_before = _machine_busy()
        load_before = " ".join(Path("/proc/loadavg").read_text().split()[:3])
        started = time.perf_counter()
        operation, queued = month_end_start(scope=ctx["analyst"], month=month)
        start_call = time.perf_counter() - started
        if len(queued) != len(contracts):
            raise RuntimeError(f"month-end {month} queued {len(queued)} items, not {len(contracts)}")
        deadline = time.monotonic() + RUN_TIMEOUT_S
        samples = waiting = 0
        while BulkOperation.objects.filter(pk=operation.pk, finished_at__isnull=True).exists():
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"month-end {month} with {count} worker(s) not finished after {RUN_TIMEOUT_S} s"
                )
            _check_alive(workers)
            samples += 1
            waiting += _waiting_for_locks()
            time.sleep(0.1)
        elapsed = time.perf_counter() - started
        busy_after, total_after = _machine_busy()
        worker_cpu = sum(
            _cpu_seconds(pid) - workers_before.get(pid, 0.0) for w in workers for pid in _tree(w.pid)
        )
        postgres_cpu = _postgres_cpu() - postgres_before
        load_after = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    finally:
        _stop_workers(workers)
    _check(operation, month, contracts)
    calculating, at_once = _calculations(month)
    cores = os.cpu_count() or 1
    _log(
        f"{count} worker(s), {month:%Y-%m}: {len(contracts)} contracts in {elapsed:.2f} s "
        f"(month_end_start {start_call:.2f} s of it; {elapsed * count / len(contracts) * 1000:.0f} ms per item "
        f"per worker); CPU: workers {worker_cpu:.1f} s, PostgreSQL server {postgres_cpu:.1f} s; machine busy "
        f"{(busy_after - busy_before) / (total_after - total_before) * cores:.2f} of {cores} cores; "
        f"load average {load_before} before, {load_after} after; the runs' calculations took {calculating:.1f} "
        f"of the {elapsed * count:.1f} worker-seconds (the rest: requesting the run, the item's bookkeeping, "
        f"the broker, connecting), at most {at_once} at once; a backend waiting for a lock in {waiting} of "
        f"{samples} samples"
    )
    return elapsed


def _calculations(month) -> tuple[float, int]:
    """The month's runs' calculation time (started_at to calculated_at) summed, and how many overlapped
    at most: with N workers really sharing the month, N."""
    from payments.models import PaymentRun

    spans = list(PaymentRun.objects.filter(month=month).values_list("started_at", "calculated_at"))
    events = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    running = at_once = 0
    for _, step in events:
        running += step
        at_once = max(at_once, running)
    return sum((end - start).total_seconds() for start, end in spans), at_once


def _child() -> list[dict[str, Any]]:
    import django

    sys.path.insert(0, str(ROOT))
    django.setup()
    ctx, contracts = _setup()
    var = Path(os.environ["CAREBUNDLE_VAR_DIR"])
    times = {count: _month_end(ctx, contracts, count, month, var) for count, month in RUNS}
    return [
        {
            "name": f"month_end.{SIZE}_1_worker_s",
            "value": round(times[1], 2),
            "unit": "s",
            "target": None,
            "floor": None,
        },
        {
            "name": f"month_end.{SIZE}_2_workers_s",
            "value": round(times[2], 2),
            "unit": "s",
            "target": None,
            "floor": None,
        },
        {
            "name": "month_end.2_vs_1_workers_x",
            "value": round(times[2] / times[1], 3),
            "unit": "x",
            "target": "<= 0.6",
            "floor": None,
        },
    ]


def main() -> None:
    if len(sys.argv) == 2 and sys.argv[1] == "--child":
        print(json.dumps(_child()))
        return
    for figure in run():
        target = f" (target {figure['target']})" if figure["target"] else ""
        print(f"{figure['name']} {figure['value']:.2f} {figure['unit']}{target}", flush=True)


if __name__ == "__main__":
    main()
