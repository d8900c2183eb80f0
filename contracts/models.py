"""Contracts between a payer and a provider.

The contract is also what makes two organisations visible to each other (tenancy): a provider
sees the plan it contracts with, and the plan sees the provider.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords


class ContractStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PROPOSED = "proposed", "Proposed"
    ACTIVE = "active", "Active"
    TERMINATED = "terminated", "Terminated"
    EXPIRED = "expired", "Expired"


class Contract(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    number = models.CharField(max_length=20, unique=True, help_text="Public id, e.g. CTR-2026-0001")
    payer = models.ForeignKey("accounts.Organization", on_delete=models.PROTECT, related_name="payer_contracts")
    provider = models.ForeignKey(
        "accounts.Organization", on_delete=models.PROTECT, related_name="provider_contracts"
    )
    status = models.CharField(max_length=16, choices=ContractStatus.choices, default=ContractStatus.DRAFT)
    bundle_versions = models.ManyToManyField(
        "bundles.BundleVersion", through="ContractBundleVersion", related_name="contracts", blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["number"]
        constraints = [
            models.CheckConstraint(condition=~Q(payer=models.F("provider")), name="contract_two_parties"),
        ]

    def __str__(self) -> str:
        return self.number

    @classmethod
    def tenant_filter(cls, organization) -> Q:
        return Q(payer=organization) | Q(provider=organization)


class ContractBundleVersion(models.Model):
    """A bundle version a contract pays for; a referenced version can never be deleted."""

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="bundle_links")
    bundle_version = models.ForeignKey("bundles.BundleVersion", on_delete=models.PROTECT, related_name="contract_links")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["contract", "bundle_version"], name="contract_bundle_version_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.contract} -> {self.bundle_version_id}"
