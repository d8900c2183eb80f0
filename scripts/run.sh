#!/usr/bin/env bash
# `make run`: migrate, load demo data, start a real Celery worker (with beat) and the web server.
# Embedded defaults (SQLite + kombu's filesystem broker) unless DATABASE_URL / REDIS_URL are set.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${VENV:-.venv}/bin"
# A developer's server: DEBUG and the fixed development key (production refuses both; config/settings.py).
export CAREBUNDLE_ENV="${CAREBUNDLE_ENV:-development}"
PORT="${PORT:-8000}"

"$BIN/python" manage.py migrate --no-input
"$BIN/python" manage.py ensure_partitions --no-detach  # PostgreSQL: the coming months (core.partitions)
"$BIN/python" manage.py seed_demo

"$BIN/celery" -A config worker --beat --pool=solo -l info &
WORKER=$!
trap 'kill $WORKER 2>/dev/null; wait $WORKER 2>/dev/null' EXIT INT TERM

echo "carebundle on http://127.0.0.1:${PORT}/  (demo users: plan_analyst, plan_contracts, plan_auditor, urban_admin, rural_admin; password carebundle-demo)"
"$BIN/python" manage.py runserver "127.0.0.1:${PORT}" --noreload
