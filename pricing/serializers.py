from __future__ import annotations

from decimal import Decimal

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.serializers import MembershipOrganizationSerializer, ShareSerializer
from pricing.engine.breakeven import run_economics
from pricing.models import AssumptionSet, AssumptionSetVersion, ExperienceDataset, PricingRun

# --- the pricing file and the quote ------------------------------------------------------------


class PricingFileSerializer(serializers.Serializer):
    """A `carebundle.pricing/1` file (docs/formats.md section 6). Numbers may be JSON numbers or decimal strings."""

    format = serializers.CharField(help_text="`carebundle.pricing/1`")
    bundle = serializers.JSONField(help_text="The bundle: tiers, roles and their effort, assessment")
    assumptions = serializers.JSONField(help_text="Wages, loads, trend, markets, ranges...")
    experience = serializers.JSONField(required=False, help_text="Optional: member_months and cost by tier")


class QuoteRequestSerializer(PricingFileSerializer):
    markets = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="Price only these markets (default: every market of the file)",
    )
    lobs = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="Lines of business: one set of rate cells each (LOB factors apply)",
    )


class QuoteResultSerializer(serializers.Serializer):
    engine_version = serializers.CharField()
    bundle = serializers.CharField()
    period = serializers.JSONField()
    rates = serializers.ListField(
        child=serializers.JSONField(),
        help_text=(
            "One per tier x market (x LOB): pmpm, low, high, direct_pmpm, labor_pmpm by role, credibility, "
            "pmpm_without_assessment_fee, cost_per_enrollee and the full build-up"
        ),
    )
    assessment_fee = serializers.DictField(child=serializers.CharField(), help_text="By market")
    assessment_fee_range = serializers.JSONField()
    assessment_buildup = serializers.JSONField()
    trend_months = serializers.IntegerField()
    trend_factor = serializers.CharField()
    expected_months_enrolled = serializers.CharField()
    conversion_rate = serializers.CharField()


class PricingErrorSerializer(serializers.Serializer):
    path = serializers.CharField(help_text="JSON path (`$.assumptions.productivity`) or field (`markets[0]`)")
    code = serializers.CharField()
    message = serializers.CharField()


# --- assumption sets ---------------------------------------------------------------------------


class AssumptionSetSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    latest_version = serializers.IntegerField(source="latest_number", read_only=True, allow_null=True)
    has_draft = serializers.SerializerMethodField()

    class Meta:
        model = AssumptionSet
        fields = ["id", "name", "description", "latest_version", "has_draft", "created_at", "updated_at"]

    def get_has_draft(self, assumption_set) -> bool:
        return bool(getattr(assumption_set, "draft_count", 0))


class AssumptionSetCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    assumptions = serializers.JSONField(
        required=False,
        help_text=(
            "The `assumptions` part of a pricing file; leave out to start from the platform's defaults"
        ),
    )
    sources = serializers.JSONField(
        required=False, help_text='Source text by field key, e.g. {"salaries.np": "..."}'
    )
    notes = serializers.CharField(required=False, allow_blank=True, default="")


class DraftUpdateSerializer(serializers.Serializer):
    assumptions = serializers.JSONField()
    sources = serializers.JSONField(
        required=False,
        help_text=(
            "Source text by field key; a changed field without one is recorded as entered by you today"
        ),
    )
    notes = serializers.CharField(required=False, allow_blank=True)


class AssumptionVersionSummarySerializer(serializers.ModelSerializer):
    status = serializers.CharField(read_only=True, help_text="`draft` or `published`")

    class Meta:
        model = AssumptionSetVersion
        fields = ["number", "status", "content_hash", "notes", "created_at", "published_at"]


class AssumptionVersionSerializer(serializers.ModelSerializer):
    assumption_set_id = serializers.UUIDField(source="assumption_set.public_id", read_only=True)
    based_on = serializers.IntegerField(source="based_on.number", read_only=True, allow_null=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True, allow_null=True)
    status = serializers.CharField(read_only=True, help_text="`draft` or `published`")
    assumptions = serializers.JSONField()
    sources = serializers.JSONField()

    class Meta:
        model = AssumptionSetVersion
        fields = [
            "assumption_set_id",
            "number",
            "status",
            "based_on",
            "content_hash",
            "assumptions",
            "sources",
            "notes",
            "created_by",
            "created_at",
            "published_at",
        ]


class AssumptionSetDetailSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="assumption_set.public_id")
    name = serializers.CharField(source="assumption_set.name")
    description = serializers.CharField(source="assumption_set.description")
    versions = AssumptionVersionSummarySerializer(many=True)


class AssumptionImportSerializer(serializers.Serializer):
    format = serializers.CharField()
    assumptions = serializers.JSONField()
    sources = serializers.JSONField(required=False)


class DefaultsSerializer(serializers.Serializer):
    scalars = serializers.ListField(child=serializers.JSONField())
    salaries = serializers.ListField(child=serializers.JSONField())
    disenrollment = serializers.JSONField()
    lob_factors = serializers.JSONField()
    plan_assumptions = serializers.JSONField(
        help_text="Your plan's starting assumptions (its markets and roles)"
    )
    plan_sources = serializers.JSONField()


# --- experience ------------------------------------------------------------------------------


class ExperienceUploadSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    program_name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    provider_id = serializers.UUIDField(
        required=False,
        allow_null=True,
        help_text="The provider organisation, when the plan contracts with it",
    )
    file = serializers.FileField(help_text="experience.csv: month, tier, member_months, cost")
    spans_file = serializers.FileField(
        required=False,
        allow_null=True,
        help_text="spans.csv: enrollment_start, enrollment_end, disenrollment_reason",
    )


class ExperienceSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    provider_id = serializers.UUIDField(source="provider.public_id", read_only=True, allow_null=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True, allow_null=True)
    status = serializers.CharField(
        read_only=True,
        help_text="`valid`, `rejected` (nothing loaded) or `processing` (a large upload, being read by a worker)",
    )

    class Meta:
        model = ExperienceDataset
        fields = [
            "id",
            "name",
            "program_name",
            "provider_id",
            "status",
            "original_filename",
            "file_sha256",
            "spans_original_filename",
            "spans_sha256",
            "row_count",
            "spans_count",
            "error_count",
            "created_by",
            "created_at",
        ]


class ExperienceDetailSerializer(ExperienceSerializer):
    summary = serializers.JSONField()
    spans_summary = serializers.JSONField()
    errors = serializers.JSONField(help_text="[{file, row, column, code, message}]; at most 1,000 kept")

    class Meta(ExperienceSerializer.Meta):
        fields = [*ExperienceSerializer.Meta.fields, "summary", "spans_summary", "errors"]


# --- runs ------------------------------------------------------------------------------------


class RunStartSerializer(serializers.Serializer):
    bundle_id = serializers.UUIDField()
    bundle_version = serializers.IntegerField(min_value=1)
    assumption_set_id = serializers.UUIDField()
    assumption_set_version = serializers.IntegerField(
        min_value=1, required=False, help_text="Default: the latest published version"
    )
    experience_id = serializers.UUIDField(required=False, allow_null=True)
    fee_schedule_id = serializers.UUIDField(
        required=False,
        allow_null=True,
        help_text="The plan's fee schedule for the FFS comparison (default: Medicare's)",
    )
    fee_schedule_version = serializers.IntegerField(
        min_value=1, required=False, help_text="Default: the schedule's latest valid version"
    )
    markets = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="Default: every market of the bundle version"
    )
    lobs = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="Default: every line of business of the bundle version",
    )
    seed = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text="Default: derived from the inputs, so the same inputs give the same numbers",
    )
    options = serializers.JSONField(
        required=False,
        help_text=(
            "simulation_years (1,000-100,000; default 20,000), enrollees_per_year (a number or {market: number}; "
            "default 100), tier_mix ({tier: share}; default the experience's mix), lob_mix ({lob: share} of each "
            "market's enrollees, scaled to add up to 1; default alike), minutes_cv (default 0.3)"
        ),
    )


class RunAcceptedSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    status = serializers.CharField(help_text="`queued` at first")
    progress = serializers.IntegerField()
    inputs_hash = serializers.CharField()
    status_url = serializers.SerializerMethodField()

    def get_status_url(self, run) -> str:
        return reverse("api-pricing-run-detail", args=[run.public_id])


class _Reference(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    version = serializers.IntegerField()


class PricingRunSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    bundle = serializers.SerializerMethodField()
    assumption_set = serializers.SerializerMethodField()
    experience_id = serializers.UUIDField(source="experience.public_id", read_only=True, allow_null=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True, allow_null=True)
    status = serializers.CharField(
        read_only=True, help_text="`queued`, `running`, `succeeded`, `failed` or `cancelled`"
    )

    class Meta:
        model = PricingRun
        fields = [
            "id",
            "status",
            "progress",
            "progress_message",
            "cancel_requested",
            "bundle",
            "assumption_set",
            "experience_id",
            "markets",
            "lobs",
            "seed",
            "options",
            "engine_version",
            "inputs_hash",
            "error",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
        ]

    @extend_schema_field(_Reference)
    def get_bundle(self, run) -> dict:
        version = run.bundle_version
        return {"id": version.bundle.public_id, "name": version.bundle.name, "version": version.number}

    @extend_schema_field(_Reference)
    def get_assumption_set(self, run) -> dict:
        version = run.assumption_set_version
        return {
            "id": version.assumption_set.public_id,
            "name": version.assumption_set.name,
            "version": version.number,
        }


class _PhaseRate(serializers.Serializer):
    tier = serializers.CharField()
    market = serializers.CharField()
    lob = serializers.CharField()
    pmpm = serializers.DecimalField(max_digits=12, decimal_places=2, coerce_to_string=True)
    low = serializers.DecimalField(max_digits=12, decimal_places=2, coerce_to_string=True)
    high = serializers.DecimalField(max_digits=12, decimal_places=2, coerce_to_string=True)


class _PhaseRates(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    from_month = serializers.IntegerField(help_text="The phase starts at this month of continuous enrollment")
    rates = _PhaseRate(many=True)


class _CellCost(serializers.Serializer):
    tier = serializers.CharField()
    market = serializers.CharField()
    lob = serializers.CharField(allow_null=True)
    rate_pmpm = serializers.DecimalField(max_digits=12, decimal_places=2)
    cost_pmpm = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        help_text="Blended direct cost / (1 - admin load): the rate with no margin",
    )
    breakeven_pmpm = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        allow_null=True,
        help_text="The cost plus the fixed annual cost spread over the expected member-months",
    )


class ProviderEconomicsSerializer(serializers.Serializer):
    """pricing.engine.breakeven.ProviderEconomics: what the bundle costs the provider, and break-even."""

    cells = _CellCost(many=True)
    assessment_cost = serializers.DictField(
        child=serializers.DecimalField(max_digits=12, decimal_places=2), help_text="Per market"
    )
    member_months = serializers.DecimalField(max_digits=14, decimal_places=1, help_text="Expected a year")
    enrollees = serializers.DecimalField(max_digits=14, decimal_places=1, help_text="Expected a year")
    fixed_annual_cost = serializers.DecimalField(max_digits=14, decimal_places=2)
    contribution = serializers.DecimalField(
        max_digits=14, decimal_places=2, help_text="A year at the quoted rates, before the fixed cost"
    )
    expected_result = serializers.DecimalField(max_digits=14, decimal_places=2)
    breakeven_enrollees = serializers.IntegerField(
        allow_null=True, help_text="Enrollees a year that cover the fixed cost; null: the rates never do"
    )


class PricingRunDetailSerializer(PricingRunSerializer):
    progress_log = serializers.JSONField()
    result = serializers.JSONField(
        help_text="null until the run succeeds; then quote, comparison, enrollment, "
        "budgets, risk, credibility, benchmarks, warnings"
    )
    phases = serializers.SerializerMethodField(
        help_text="A phased bundle's rates in each phase of enrollment (the rates of `result.quote` are the "
        "last phase's); empty for a bundle paid one rate whatever the month, or until the run succeeds"
    )
    provider_economics = serializers.SerializerMethodField(
        help_text="What the bundle costs the provider and what breaks even (monthly bundles); null until the "
        "run succeeds"
    )
    links = serializers.SerializerMethodField()

    class Meta(PricingRunSerializer.Meta):
        fields = [
            *PricingRunSerializer.Meta.fields,
            "progress_log",
            "result",
            "phases",
            "provider_economics",
            "links",
        ]

    @extend_schema_field(ProviderEconomicsSerializer(allow_null=True))
    def get_provider_economics(self, run) -> dict | None:
        economics = run_economics(run.inputs, run.result) if run.succeeded else None
        return None if economics is None else ProviderEconomicsSerializer(economics).data

    @extend_schema_field(_PhaseRates(many=True))
    def get_phases(self, run) -> list[dict]:
        phases = ((run.result or {}).get("quote") or {}).get("phases") or []
        return [
            {
                "code": phase["code"],
                "name": phase["name"],
                "from_month": phase["from_month"],
                "rates": [
                    {key: rate[key] for key in ("tier", "market", "lob", "pmpm", "low", "high")}
                    for rate in phase["rates"]
                ],
            }
            for phase in phases
        ]

    @extend_schema_field(serializers.DictField(child=serializers.CharField()))
    def get_links(self, run) -> dict:
        links = {
            "self": reverse("api-pricing-run-detail", args=[run.public_id]),
            "cancel": reverse("api-pricing-run-cancel", args=[run.public_id]),
            "inputs": reverse("api-pricing-run-inputs", args=[run.public_id]),
        }
        if run.succeeded:
            links["report"] = reverse("api-pricing-run-report", args=[run.public_id])
        return links


class WhatIfSerializer(serializers.Serializer):
    """The what-if levers; a lever left out keeps the run's value."""

    conversion_rate = serializers.DecimalField(
        max_digits=4, decimal_places=2, min_value=Decimal("0.05"), max_value=Decimal(1), required=False
    )
    productivity = serializers.DecimalField(
        max_digits=4, decimal_places=2, min_value=Decimal("0.40"), max_value=Decimal(1), required=False
    )
    wage_change = serializers.DecimalField(
        max_digits=5,
        decimal_places=3,
        min_value=Decimal("-0.3"),
        max_value=Decimal("0.5"),
        required=False,
        help_text="Every salary's change as a fraction: 0.05 is 5% higher",
    )
    enrollment_change = serializers.DecimalField(
        max_digits=5,
        decimal_places=2,
        min_value=Decimal("-0.9"),
        max_value=Decimal(3),
        required=False,
        help_text="Every market's enrollees a year moved by this fraction: 0.5 is half as many again",
    )
    save = serializers.BooleanField(
        default=False, help_text="Keep the levers: a new assumption set and a pricing run with it (202)"
    )


class SensitivityStartSerializer(serializers.Serializer):
    tier = serializers.CharField()
    market = serializers.CharField()
    lob = serializers.CharField()
    simulation_years = serializers.IntegerField(
        required=False, help_text="Simulated years a point (default: the run's), 1,000 to 100,000"
    )


class SensitivitySerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    run_id = serializers.UUIDField(source="run.public_id")
    tier = serializers.CharField()
    market = serializers.CharField()
    lob = serializers.CharField()
    points = serializers.IntegerField()
    simulation_years = serializers.IntegerField(source="n_years")
    status = serializers.CharField(help_text="queued, running, succeeded or failed")
    progress = serializers.IntegerField()
    progress_message = serializers.CharField()
    error = serializers.JSONField(allow_null=True)
    status_url = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)

    def get_status_url(self, analysis) -> str:
        return reverse("api-pricing-sensitivity-detail", args=[analysis.public_id])


class SensitivityDetailSerializer(SensitivitySerializer):
    result = serializers.JSONField(
        allow_null=True,
        help_text="pmpm and probability_of_loss at the run's values; per assumption its values, pmpm, "
        "probability_of_loss and swings, largest PMPM swing first; by_loss: the order by loss swing",
    )


class FeeScheduleUploadSerializer(serializers.Serializer):
    name = serializers.CharField(
        max_length=200, help_text="A new schedule's name, or an existing one's (a new version)"
    )
    file = serializers.FileField(help_text="CSV: code, modifier, rate, effective_start, effective_end")
    notes = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class FeeScheduleVersionSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    schedule_id = serializers.UUIDField(source="schedule.public_id")
    number = serializers.IntegerField(allow_null=True, help_text="Set for a valid upload: 1, 2, ...")
    status = serializers.CharField(help_text="valid or rejected")
    original_filename = serializers.CharField()
    file_sha256 = serializers.CharField()
    row_count = serializers.IntegerField()
    error_count = serializers.IntegerField()
    notes = serializers.CharField()
    created_at = serializers.DateTimeField()
    url = serializers.SerializerMethodField(help_text="A valid version's rates (null for a rejected upload)")

    def get_url(self, version) -> str | None:
        if version.number is None:
            return None
        return reverse("api-fee-schedule-version", args=[version.schedule.public_id, version.number])


class FeeScheduleVersionDetailSerializer(FeeScheduleVersionSerializer):
    rows = serializers.JSONField(help_text="[{code, modifier, rate, effective_start, effective_end}]")
    errors = serializers.JSONField(help_text="[{file, row, column, code, message}]")


class FeeScheduleSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    name = serializers.CharField()
    latest_version = serializers.IntegerField(source="latest_number", allow_null=True)
    uploads = serializers.IntegerField(source="upload_count")


class FeeScheduleDetailSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    name = serializers.CharField()
    versions = serializers.SerializerMethodField()

    @extend_schema_field(FeeScheduleVersionSerializer(many=True))
    def get_versions(self, schedule) -> list:
        return FeeScheduleVersionSerializer(self.context["versions"], many=True).data


class PricingRunShareSerializer(ShareSerializer):
    links = serializers.SerializerMethodField()

    @extend_schema_field(serializers.DictField(child=serializers.CharField()))
    def get_links(self, share) -> dict:
        return {
            "revoke": reverse("api-pricing-run-share-revoke", args=[share.run.public_id, share.public_id])
        }


class SharedPricingRunSerializer(serializers.Serializer):
    """A pricing run another organisation shares with yours."""

    share_id = serializers.UUIDField(source="public_id")
    run_id = serializers.UUIDField(source="run.public_id")
    bundle_name = serializers.CharField(source="run.bundle_version.bundle.name")
    bundle_version = serializers.IntegerField(source="run.bundle_version.number")
    finished_at = serializers.DateTimeField(source="run.finished_at", allow_null=True)
    owner = MembershipOrganizationSerializer(source="run.payer")
    note = serializers.CharField()
    shared_at = serializers.DateTimeField()
    url = serializers.SerializerMethodField()

    def get_url(self, share) -> str:
        return reverse("api-pricing-run-detail", args=[share.run.public_id])
