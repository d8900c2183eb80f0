"""API tokens that expire and can be revoked (DRF's built-in token does neither)."""

from __future__ import annotations

from django.utils import timezone
from rest_framework import authentication, exceptions

from accounts.models import ApiToken
from core.domain.canonical import sha256_hex

TOKEN_INVALID_MESSAGE = "Invalid, expired or revoked token."  # noqa: S105 - a message


def hash_key(key: str) -> str:
    return sha256_hex(key)


class ExpiringTokenAuthentication(authentication.TokenAuthentication):
    keyword = "Token"

    def authenticate_credentials(self, key: str):
        now = timezone.now()
        token = ApiToken.objects.select_related("user").filter(key_hash=hash_key(key)).first()
        if (
            token is None
            or token.revoked_at is not None
            or token.expires_at <= now
            or not token.user.is_active
        ):
            raise exceptions.AuthenticationFailed(TOKEN_INVALID_MESSAGE)
        # One UPDATE at most per minute per token keeps reads cheap.
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token
