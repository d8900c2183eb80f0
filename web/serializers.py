"""The workspace's API body (``GET /api/v1/workspace/``): codes and plain decimals, like every API body."""

from __future__ import annotations

from rest_framework import serializers

from core.api import MonthField
from core.worklist import KIND_CODES


class WorkItemSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=KIND_CODES, help_text="What it is (a code: extended, never renamed)"
    )
    label = serializers.CharField(help_text="The kind in words")
    title = serializers.CharField(help_text="Which contract, month, run or entry")
    detail = serializers.CharField(help_text="Why it needs doing, and the figure")
    url = serializers.CharField(help_text="The page where it is done (a path on this site)")
    due = serializers.DateField(allow_null=True, help_text="By when (rosters), else null")
    urgent = serializers.BooleanField(help_text="Late or stalled: listed first")


class PortfolioMonthSerializer(serializers.Serializer):
    month = MonthField()
    members = serializers.IntegerField(help_text="Members on the rosters in force for the month")
    member_months = serializers.DecimalField(max_digits=14, decimal_places=6)
    paid = serializers.DecimalField(
        max_digits=14, decimal_places=2, help_text="Everything posted to the ledgers for the payment month"
    )
    billed_member_months = serializers.DecimalField(max_digits=14, decimal_places=6)
    pmpm = serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        allow_null=True,
        help_text="paid / billed_member_months; null: none billed",
    )


class RecoverySerializer(serializers.Serializer):
    contract = serializers.CharField()
    counterparty = serializers.CharField()
    open_receivable = serializers.DecimalField(max_digits=14, decimal_places=2)
    url = serializers.CharField()


class ExpectedPaymentSerializer(serializers.Serializer):
    contract = serializers.CharField()
    counterparty = serializers.CharField()
    month = MonthField()
    members = serializers.IntegerField()
    member_months = serializers.DecimalField(max_digits=14, decimal_places=6)
    url = serializers.CharField()


class MeasuresSerializer(serializers.Serializer):
    contract = serializers.CharField()
    counterparty = serializers.CharField()
    period = serializers.CharField(help_text="The latest settled period, e.g. 2026-Q1")
    met = serializers.IntegerField()
    scored = serializers.IntegerField()
    not_met = serializers.ListField(child=serializers.CharField())
    url = serializers.CharField()


class PortfolioSerializer(serializers.Serializer):
    months = PortfolioMonthSerializer(many=True)
    recoveries = RecoverySerializer(many=True)
    expected = ExpectedPaymentSerializer(many=True, help_text="Accepted rosters not paid yet")
    measures = MeasuresSerializer(many=True)


class WorkspaceSerializer(serializers.Serializer):
    worklist = WorkItemSerializer(many=True)
    portfolio = PortfolioSerializer()
