"""Cross-cutting records: who looked at member data (PHI access log) and idempotent POSTs."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from core.domain.display import code_label

#: How an access log action's verb reads (``roster.download`` -> "Downloaded roster").
ACCESS_VERBS = {
    "view": "Viewed",
    "download": "Downloaded",
    "export": "Exported",
    "list": "Listed",
    "members": "Viewed the members of",
}


class AccessEvent(models.Model):
    """One view of a member's data (roster detail, drill-down, statement with member lines).

    Append-only; the plan's and provider's auditors read their own organisation's events.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    organization = models.ForeignKey("accounts.Organization", on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    action = models.CharField(max_length=64, help_text="e.g. roster.view, statement.download")
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64)
    detail = models.CharField(max_length=300, blank=True)
    path = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["organization", "-at"])]

    def __str__(self) -> str:
        return f"{self.user} {self.action} {self.object_type}:{self.object_id} at {self.at:%Y-%m-%d %H:%M}"

    @classmethod
    def tenant_filter(cls, organization) -> Q:
        return Q(organization=organization)

    @property
    def action_label(self) -> str:
        """``roster.view`` -> "Viewed roster", ``payment_run.members`` -> "Viewed the members of payment run"."""
        thing, _, verb = self.action.partition(".")
        return f"{ACCESS_VERBS.get(verb) or code_label(verb)} {code_label(thing).lower()}"

    @property
    def object_label(self) -> str:
        """What was viewed, in words (``roster_submission`` -> "Roster submission")."""
        return code_label(self.object_type)


class IdempotencyRecord(models.Model):
    """The first response to a POST sent with an ``Idempotency-Key``; a repeat gets it again."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=300)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} [{self.key}]"


class WorkerHeartbeat(models.Model):
    """The last time each Celery worker ran the heartbeat task (beat sends it every minute):
    readiness reads it to know that some worker takes work."""

    name = models.CharField(max_length=200, unique=True, help_text="The worker's hostname")
    seen_at = models.DateTimeField()

    class Meta:
        ordering = ["-seen_at"]

    def __str__(self) -> str:
        return f"{self.name} at {self.seen_at:%Y-%m-%d %H:%M:%S}"
