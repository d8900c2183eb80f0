"""API fuzzing: schemathesis generates requests from /api/schema/ for every operation, sent as
each kind of user against the demo data. No response may be a 5xx, and every response must
conform to the schema (status code, content type, body)."""

from __future__ import annotations

import pytest
import schemathesis
from django.core import signals
from django.core.management import call_command
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from django.test import override_settings
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.services import token_create

ROLES = ["plan_analyst", "plan_auditor", "urban_admin"]
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def demo_tokens(django_db_setup, django_db_blocker):
    """The demo data, loaded once for the module inside a transaction rolled back at its end."""
    from django.contrib.auth import get_user_model

    # Like Django's test client: keep the connection (and our transaction) open across requests.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            with override_settings(DEBUG=True):
                call_command("seed_demo", verbosity=0)
            users = get_user_model().objects.filter(username__in=ROLES)
            yield {user.username: token_create(user=user)[0] for user in users}
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)
            signals.request_started.connect(close_old_connections)
            signals.request_finished.connect(close_old_connections)


# Generating the schema needs no database; the operations are known at collection time.
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())


@schema.parametrize()
@settings(
    max_examples=8,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
@pytest.mark.django_db
def test_api_conforms_to_its_schema_for_every_role(case, demo_tokens):
    for username in ROLES:
        case.call_and_validate(headers={"Authorization": f"Token {demo_tokens[username]}"}, checks=CHECKS)
