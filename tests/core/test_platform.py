"""Platform plumbing: OpenAPI schema and docs, health, deploy checks, demo data, compose file."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client, override_settings

from accounts.demo import DEMO_PASSWORD, DEMO_USERS
from accounts.models import Membership, Organization

ROOT = Path(__file__).resolve().parents[2]


def production_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    return {
        **env,
        "CAREBUNDLE_ENV": "production",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "0",
        "SECRET_KEY": "x" * 64 + "-production-like-secret",
        "ALLOWED_HOSTS": "carebundle.example.org",
        **extra,
    }


@pytest.mark.django_db
def test_schema_is_valid_openapi_and_documents_errors(provider, member_of, api_for):
    response = Client().get("/api/schema/?format=json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    detail = schema["paths"]["/api/v1/organizations/{organization_id}/"]["get"]["responses"]
    assert {"200", "401", "403", "404"} <= set(detail)
    assert detail["404"]["content"]["application/json"]["schema"]["$ref"].endswith("/Error")
    token = schema["paths"]["/api/v1/auth/token/"]["post"]
    assert "201" in token["responses"] and "400" in token["responses"]


@pytest.mark.django_db
def test_schema_generation_has_no_warnings():
    result = subprocess.run(
        [sys.executable, "manage.py", "spectacular", "--fail-on-warn", "--file", os.devnull],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_api_docs_served_without_cdn():
    body = Client().get("/api/docs/").content.decode()
    assert "swagger-ui" in body
    assert "cdn" not in body.lower()
    assert "/static/drf_spectacular_sidecar/" in body


@pytest.mark.django_db
def test_every_page_has_an_icon_and_favicon_ico_leads_to_it():
    from django.contrib.staticfiles import finders

    assert finders.find("favicon.svg")
    page = Client().get("/login/").content.decode()
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in page
    response = Client().get("/favicon.ico")
    assert (response.status_code, response["Location"]) == (301, "/static/favicon.svg")


@pytest.mark.django_db
def test_health():
    assert Client().get("/health/").json() == {"status": "ok"}


@pytest.mark.django_db
@override_settings(DEBUG=True)
def test_seed_demo_creates_plan_providers_and_users_and_is_idempotent():
    call_command("seed_demo")
    call_command("seed_demo")
    assert Organization.objects.get(legal_name="Golden Coast Health Plan").lines_of_business == [
        "medicaid",
        "medicare_advantage",
    ]
    assert Organization.objects.filter(kind="provider").count() == 2
    client = Client()
    for username, *_ in DEMO_USERS:
        assert client.login(username=username, password=DEMO_PASSWORD), username
        assert Membership.objects.filter(user__username=username).count() == 1


@pytest.mark.django_db
def test_seed_demo_refuses_when_debug_is_off():
    with override_settings(DEBUG=False), pytest.raises(CommandError, match="DEBUG is off"):
        call_command("seed_demo")


def test_production_settings_pass_check_deploy():
    env = production_env()
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_mode_shows_no_stack_trace():
    code = (
        "import django,os;django.setup();"
        "from django.test import Client;"
        "r=Client(raise_request_exception=False).get('/api/v1/organizations/x/', secure=True, HTTP_HOST='carebundle.example.org');"
        "print(r.status_code, r.content[:200])"
    )
    env = production_env(DJANGO_SETTINGS_MODULE="config.settings")
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert result.stdout.startswith("401"), result.stdout + result.stderr
    assert "Traceback" not in result.stdout


def test_compose_file_has_the_services_and_settings_it_needs():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"web", "worker", "beat", "postgres", "redis"} <= set(services)
    for name in ("web", "worker", "beat"):
        env = services[name]["environment"]
        for variable in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG"):
            assert variable in env, (name, variable)
        assert env["DATABASE_URL"].startswith("postgres://")
        assert "@postgres:5432/" in env["DATABASE_URL"]
        assert env["REDIS_URL"].startswith("redis://redis:6379")
    assert "gunicorn" in " ".join(services["web"]["command"])
    assert "celery -A config worker" in " ".join(services["worker"]["command"])
    for name in ("web", "worker"):  # metrics of every process, from a directory emptied at each start
        directory = services[name]["environment"]["PROMETHEUS_MULTIPROC_DIR"]
        assert f"rm -rf {directory} && mkdir -p {directory}" in services[name]["command"][-1]
    assert services["worker"]["environment"]["WORKER_METRICS_PORT"].isdigit()
    assert "beat" in services["beat"]["command"]
    for name in ("postgres", "redis", "web", "worker"):
        assert "healthcheck" in services[name], name
    assert services["web"]["healthcheck"]["test"][-1].endswith("/healthz")
    assert "inspect ping" in services["worker"]["healthcheck"]["test"][-1]
    assert services["web"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert (ROOT / "Dockerfile").exists()
    for name, service in services.items():
        if "build" in service or "image" in service:
            assert service.get("restart") == "unless-stopped", name
    assert {"pgdata", "media"} <= set(compose["volumes"])


def test_heavy_work_has_its_own_queue_and_workers_for_each(settings):
    """`docker compose up --scale worker=N` scales the workers that take heavy work; a light worker
    keeps notifications and heartbeats moving whatever the heavy queue holds."""
    from config.celery import app

    app.loader.import_default_modules()
    tasks = {name for name in app.tasks if not name.startswith("celery.")}
    assert set(settings.HEAVY_TASKS) <= tasks  # every route names a real task
    for name in tasks:
        queue = app.amqp.router.route({}, name)["queue"].name
        assert queue == ("heavy" if name in settings.HEAVY_TASKS else "celery"), name
    # a worker started without -Q (make run, the test worker) consumes both
    assert {q.name for q in app.conf.task_queues} == {"celery", "heavy"}
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]

    def queues(service: str) -> set[str]:
        command = services[service]["command"][-1].split()
        return set(command[command.index("-Q") + 1].split(","))

    assert queues("worker") == {"heavy", "celery"}
    assert queues("worker-light") == {"celery"}
    for name in ("worker", "worker-light"):
        service = services[name]
        assert "ports" not in service and "container_name" not in service, name  # so it can be scaled
        assert "inspect ping" in service["healthcheck"]["test"][-1]
        assert service["environment"]["REDIS_URL"].startswith("redis://redis:6379")
