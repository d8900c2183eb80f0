"""Tokens and the error body for bad input."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiToken
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def test_token_for_good_credentials_works_on_the_api(provider, member_of):
    user = member_of(provider)
    client = APIClient()
    response = client.post(
        "/api/v1/auth/token/", {"username": user.username, "password": PASSWORD}, format="json"
    )
    assert response.status_code == 201
    token = response.json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/organizations/").status_code == 200
    assert not ApiToken.objects.filter(key_hash=token).exists()  # only the hash is stored


def test_wrong_password_is_401_with_error_body(provider, member_of):
    user = member_of(provider)
    response = APIClient().post(
        "/api/v1/auth/token/", {"username": user.username, "password": "nope"}, format="json"
    )
    assert response.status_code == 401
    assert response.json() == {
        "code": "invalid_credentials",
        "message": "Wrong username or password.",
        "details": {},
    }


def test_missing_fields_list_each_field():
    response = APIClient().post("/api/v1/auth/token/", {}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_error"
    assert set(body["details"]) == {"username", "password"}


def test_malformed_json_is_400_with_error_body():
    response = APIClient().post("/api/v1/auth/token/", data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_request"


def test_missing_token_is_401():
    response = APIClient().get("/api/v1/organizations/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_expired_and_revoked_tokens_are_refused(provider, member_of, api_for):
    user = member_of(provider)
    client = api_for(user)
    assert client.get("/api/v1/me/").status_code == 200
    ApiToken.objects.filter(user=user).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client.get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"

    client = api_for(user)
    assert client.post("/api/v1/auth/token/revoke/").status_code == 405  # DELETE only
    assert client.delete("/api/v1/auth/token/revoke/").status_code == 204
    assert client.get("/api/v1/me/").status_code == 401


def test_unknown_api_url_is_json_404():
    response = APIClient().get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_account_locks_after_five_failures_even_with_the_right_password(provider, member_of):
    user = member_of(provider)
    client = APIClient()
    statuses = [
        client.post(
            "/api/v1/auth/token/", {"username": user.username, "password": "bad"}, format="json"
        ).status_code
        for _ in range(5)
    ]
    assert statuses == [401, 401, 401, 401, 429]  # the fifth failure locks the account
    locked = client.post(
        "/api/v1/auth/token/", {"username": user.username, "password": PASSWORD}, format="json"
    )
    assert locked.status_code == 429 and locked.json()["code"] == "locked_out"


def test_token_endpoint_is_rate_limited_per_client():
    client = APIClient()
    statuses = [
        client.post(
            "/api/v1/auth/token/", {"username": f"guess{i}", "password": "x"}, format="json"
        ).status_code
        for i in range(25)
    ]
    assert statuses[0] == 401
    assert statuses[-1] == 429
