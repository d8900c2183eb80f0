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

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token/"


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
