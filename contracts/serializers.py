"""Input validation and output shapes of the contracts API (no business rules here: services own them)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from bundles.definition import episode_days
from contracts import rules
from contracts.models import (
    PRORATION_CHOICES,
    TIER_RULE_CHOICES,
    Contract,
    ContractAcceptance,
    ContractEvent,
    ContractOffer,
    ContractVersion,
    ExportStatus,
    RateScheduleEntry,
    RateSheetExport,
)
from core.domain.codes import LINES_OF_BUSINESS

# --- input -------------------------------------------------------------------------------------


class QualityTermSerializer(serializers.Serializer):
    measure = serializers.ChoiceField(choices=list(rules.QUALITY_MEASURES))
    target = serializers.DecimalField(max_digits=12, decimal_places=4, coerce_to_string=True)
    weight = serializers.DecimalField(
        max_digits=6,
        decimal_places=4,
        coerce_to_string=True,
        help_text="Share of the composite score; the weights add up to 1",
    )
    direction = serializers.ChoiceField(
        choices=list(rules.DIRECTIONS),
        required=False,
        help_text="Which way is better; defaults to the measure's",
    )
    minimum_denominator = serializers.IntegerField(
        min_value=0, default=0, help_text="Below it the measure is reported, not scored"
    )
    n_days = serializers.IntegerField(
        min_value=1, required=False, help_text="For assessment_within_n_days_rate: N days from referral"
    )


class SharedSavingsSerializer(serializers.Serializer):
    baseline_method = serializers.ChoiceField(choices=rules.BASELINE_METHOD_CODES)
    minimum_savings_rate = serializers.DecimalField(max_digits=6, decimal_places=4, coerce_to_string=True)
    sharing_rate = serializers.DecimalField(max_digits=6, decimal_places=4, coerce_to_string=True)
    cap = serializers.DecimalField(
        max_digits=6,
        decimal_places=4,
        coerce_to_string=True,
        help_text="Shared savings are capped at this share of the baseline",
    )
    quality_gate = serializers.DecimalField(
        max_digits=6,
        decimal_places=4,
        coerce_to_string=True,
        help_text="Minimum composite quality score (0-1) to share savings",
    )
    baseline_months = serializers.IntegerField(
        required=False,
        help_text="Months (1-36, default 12) of the members' own history before enrollment: the "
        "baseline of pre_enrollment, and the event rates of avoided events",
    )
    runout_months = serializers.IntegerField(
        required=False,
        help_text="Months (0-24) after the period ends before it may be settled, for its claims to come in",
    )
    completion_threshold = serializers.DecimalField(
        max_digits=6,
        decimal_places=4,
        coerce_to_string=True,
        required=False,
        help_text="0.5-1: a period is settled only once this share of its completed claims cost is paid "
        "(the chain ladder on the plan's claims)",
    )
    benchmark_pmpm = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        coerce_to_string=True,
        required=False,
        help_text="trended_benchmark (required there, ignored otherwise): the benchmark TCOC PMPM, more than 0",
    )
    benchmark_midpoint = serializers.DateField(
        required=False,
        help_text="trended_benchmark (required there): the midpoint of the period the benchmark "
        "was measured on; it is trended from here to the performance period's midpoint",
    )
    annual_trend = serializers.DecimalField(
        max_digits=6,
        decimal_places=4,
        coerce_to_string=True,
        required=False,
        help_text="trended_benchmark (required there): the yearly trend as a fraction, -0.2 to 0.5 (0.035 is 3.5%)",
    )


class QualityBonusSerializer(serializers.Serializer):
    """A bonus paid when the composite quality score reaches a threshold."""

    threshold = serializers.DecimalField(
        max_digits=6,
        decimal_places=4,
        coerce_to_string=True,
        help_text="Minimum composite quality score (a fraction, more than 0 and at "
        "most 1: 0.9 is 90%) for the bonus to be paid",
    )
    percentage = serializers.DecimalField(
        max_digits=6,
        decimal_places=4,
        coerce_to_string=True,
        help_text="The bonus as a fraction of the period's member-month payments "
        "(more than 0 and at most 0.2: 0.02 is 2%)",
    )


class RateInputSerializer(serializers.Serializer):
    tier = serializers.CharField()
    market = serializers.CharField()
    lob = serializers.CharField()
    phase = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=16,
        help_text="A phased bundle's phase code (required there); empty for a bundle without phases",
    )
    pmpm = serializers.DecimalField(max_digits=12, decimal_places=2)
    reason = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="Required when the rate is negotiated (differs from the priced rate)",
    )


class TermsInputSerializer(serializers.Serializer):
    """The terms of a version; on a PATCH every field is optional."""

    effective_start = serializers.DateField(required=False, help_text="The first of a month")
    effective_end = serializers.DateField(
        required=False, allow_null=True, help_text="Exclusive, the first of a month; null: until terminated"
    )
    lines_of_business = serializers.ListField(
        child=serializers.ChoiceField(choices=list(LINES_OF_BUSINESS)), required=False
    )
    markets = serializers.ListField(child=serializers.CharField(), required=False)
    assessment_lookback_months = serializers.IntegerField(required=False)
    proration_rule = serializers.ChoiceField(choices=PRORATION_CHOICES, required=False)
    tier_rule = serializers.ChoiceField(choices=TIER_RULE_CHOICES, required=False)
    retro_window_months = serializers.IntegerField(required=False)
    roster_due_day = serializers.IntegerField(required=False)
    withhold_percentage = serializers.DecimalField(
        max_digits=5, decimal_places=4, required=False, help_text="A fraction: 0.05 is 5%"
    )
    quality_terms = QualityTermSerializer(many=True, required=False)
    shared_savings_terms = SharedSavingsSerializer(required=False, allow_null=True)
    quality_bonus = QualityBonusSerializer(
        required=False,
        allow_null=True,
        help_text="Null: no bonus. A bonus needs at least one quality measure",
    )
    termination_notice_days = serializers.IntegerField(required=False)
    single_approval_limit = serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        required=False,
        allow_null=True,
        help_text="Four eyes: under this amount the person who requested a payment run, settlement, "
        "ledger correction or refund may approve it; null: always two people",
    )
    recovery_offset_share = serializers.DecimalField(
        max_digits=7,
        decimal_places=6,
        required=False,
        allow_null=True,
        help_text="The most of each payment an open receivable (a negative balance the provider owes) "
        "takes back, a fraction 0 < share <= 1; null: 1 (all of it)",
    )
    episode_installments = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text="Episode bundles only: the case rate is paid in this many monthly installments "
        "(1-12) from the episode's first month; null: 1",
    )
    episode_early_exit = serializers.ChoiceField(
        choices=["full", "prorated"],
        required=False,
        allow_null=True,
        help_text="Episode bundles only: on an early exit the episode is paid in full or prorated by "
        "its days enrolled; null: full",
    )
    episode_renewal = serializers.BooleanField(
        required=False,
        allow_null=True,
        help_text="Episode bundles only: whether a new episode may start the day after one ends; "
        "null: no (enrollment past the episode's end is refused)",
    )
    rates = RateInputSerializer(many=True, required=False)
    assessment_fees = serializers.DictField(
        child=serializers.DecimalField(max_digits=14, decimal_places=2),
        required=False,
        help_text="Fee per market code",
    )


class ContractCreateSerializer(TermsInputSerializer):
    provider = serializers.UUIDField(help_text="The provider organisation's id")
    bundle = serializers.UUIDField(help_text="The bundle's id")
    bundle_version = serializers.IntegerField(help_text="A published version number of the bundle")
    effective_start = serializers.DateField(help_text="The first of a month")
    lines_of_business = serializers.ListField(child=serializers.ChoiceField(choices=list(LINES_OF_BUSINESS)))
    markets = serializers.ListField(child=serializers.CharField())


class VersionUpdateSerializer(TermsInputSerializer):
    bundle_version = serializers.IntegerField(
        required=False, help_text="Another published version of the same bundle"
    )


class ReturnSerializer(serializers.Serializer):
    comments = serializers.CharField(help_text="What the provider wants changed")


class CounterRateSerializer(serializers.Serializer):
    tier = serializers.CharField()
    market = serializers.CharField()
    lob = serializers.CharField()
    phase = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=16, help_text="A phased bundle's phase code"
    )
    rate = serializers.DecimalField(max_digits=12, decimal_places=2, help_text="The new PMPM (or case rate)")
    reason = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="Required when the rate changes"
    )


class CounterFeeSerializer(serializers.Serializer):
    market = serializers.CharField()
    fee = serializers.DecimalField(max_digits=14, decimal_places=2)
    reason = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="Required when the fee changes"
    )


class CounterSerializer(serializers.Serializer):
    rates = CounterRateSerializer(many=True, required=False)
    assessment_fees = CounterFeeSerializer(many=True, required=False)
    withhold_percentage = serializers.DecimalField(
        max_digits=5, decimal_places=4, required=False, help_text="A fraction: 0.0500 is 5%"
    )
    withhold_reason = serializers.CharField(required=False, allow_blank=True, default="")
    quality_terms = QualityTermSerializer(many=True, required=False, help_text="The whole list of terms")
    quality_terms_reason = serializers.CharField(required=False, allow_blank=True, default="")
    pricing_run_id = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="A pricing run backing the offer"
    )


def counter_from(validated: dict) -> dict:
    """Validated counter-offer input as the service's keyword arguments."""
    data = dict(validated)
    for key in ("rates", "assessment_fees", "quality_terms"):
        if data.get(key) is not None:
            data[key] = [dict(item) for item in data[key]]
    return data


class RejectCounterSerializer(serializers.Serializer):
    reason = serializers.CharField(help_text="Why the counter-offer is rejected")


class TerminateSerializer(serializers.Serializer):
    end_date = serializers.DateField(help_text="First day the contract no longer applies")
    reason = serializers.CharField()
    for_cause = serializers.BooleanField(default=False, help_text="Waives the notice period")


class AmendSerializer(serializers.Serializer):
    effective_start = serializers.DateField(
        help_text="The first of a month after the current version's start"
    )


class PricingRunInputSerializer(serializers.Serializer):
    run_id = serializers.CharField(help_text="The pricing run to take the rates from")


def terms_from(validated: dict) -> tuple[dict, list | None, dict | None]:
    """Split validated input into (terms, rates, assessment fees) for the services."""
    data = dict(validated)
    rates = data.pop("rates", None)
    fees = data.pop("assessment_fees", None)
    for key in ("provider", "bundle", "bundle_version"):
        data.pop(key, None)
    if "shared_savings_terms" in data and data["shared_savings_terms"] is None:
        data["shared_savings_terms"] = {}
    if "quality_bonus" in data and data["quality_bonus"] is not None:
        data["quality_bonus"] = dict(data["quality_bonus"])
    if "quality_terms" in data:
        data["quality_terms"] = [dict(t) for t in data["quality_terms"]]
    if rates is not None:
        rates = [dict(r) for r in rates]
    return data, rates, fees


# --- output ------------------------------------------------------------------------------------


class PartySerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    name = serializers.CharField(source="legal_name")


class ContractSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    payer = PartySerializer()
    provider = PartySerializer()
    current_version = serializers.IntegerField(source="current_version.number", allow_null=True)
    bundle = serializers.SerializerMethodField()
    effective_start = serializers.DateField(source="current_version.effective_start", allow_null=True)
    in_force_end = serializers.SerializerMethodField()
    markets = serializers.ListField(source="current_version.markets", child=serializers.CharField())
    lines_of_business = serializers.ListField(
        source="current_version.lines_of_business", child=serializers.CharField()
    )

    class Meta:
        model = Contract
        fields = [
            "id",
            "number",
            "status",
            "payer",
            "provider",
            "current_version",
            "bundle",
            "effective_start",
            "in_force_end",
            "markets",
            "lines_of_business",
            "terminated_on",
            "created_at",
            "updated_at",
        ]

    @extend_schema_field(
        {
            "type": "object",
            "properties": {
                "id": {"type": "string", "format": "uuid"},
                "name": {"type": "string"},
                "version": {"type": "integer"},
            },
        }
    )
    def get_bundle(self, contract) -> dict:
        bundle_version = contract.current_version.bundle_version
        return {
            "id": str(bundle_version.bundle.public_id),
            "name": bundle_version.bundle.name,
            "version": bundle_version.number,
        }

    @extend_schema_field(serializers.DateField(allow_null=True))
    def get_in_force_end(self, contract):
        version = contract.current_version
        return (version.in_force_end or None) if version.activated_at else version.effective_end


class RateSerializer(serializers.ModelSerializer):
    """A rate cell. ``priced_pmpm`` and ``difference`` are the plan's own pricing: null unless the
    ``scope`` in the context is the plan's."""

    difference = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True, read_only=True)

    class Meta:
        model = RateScheduleEntry
        fields = ["lob", "tier", "market", "phase", "pmpm", "priced_pmpm", "difference", "source", "reason"]
        extra_kwargs = {
            "priced_pmpm": {"help_text": "The plan's priced rate (null for the provider)"},
            "phase": {"help_text": "The bundle's phase code; empty: one rate for every month"},
        }

    def to_representation(self, instance):
        data = super().to_representation(instance)
        scope = self.context.get("scope")
        if scope is None or not scope.is_payer:
            data["priced_pmpm"] = data["difference"] = None
        return data


class AcceptanceSerializer(serializers.ModelSerializer):
    user = serializers.CharField(source="user.get_full_name")
    username = serializers.CharField(source="user.username")

    class Meta:
        model = ContractAcceptance
        fields = ["side", "proposal_round", "user", "username", "at"]


class VersionSummarySerializer(serializers.ModelSerializer):
    bundle_version = serializers.IntegerField(source="bundle_version.number")

    class Meta:
        model = ContractVersion
        fields = [
            "number",
            "status",
            "bundle_version",
            "effective_start",
            "effective_end",
            "in_force_end",
            "fingerprint",
            "proposed_at",
            "activated_at",
            "created_at",
        ]


class VersionSerializer(serializers.ModelSerializer):
    contract = serializers.CharField(source="contract.number")
    status = serializers.CharField(
        help_text="draft, proposed, active, superseded, terminated, expired or withdrawn "
        "(as in VersionSummary)"
    )
    bundle = serializers.SerializerMethodField()
    rates = serializers.SerializerMethodField()
    assessment_fees = serializers.SerializerMethodField()
    acceptances = serializers.SerializerMethodField()
    quality_bonus = serializers.SerializerMethodField()
    fingerprint = serializers.SerializerMethodField()
    rate_sheet = serializers.SerializerMethodField()
    episode_days = serializers.SerializerMethodField(
        help_text="The bundle's episode length in days; null: paid per member-month (the rates are PMPM)"
    )

    class Meta:
        model = ContractVersion
        fields = [
            "contract",
            "number",
            "status",
            "bundle",
            "effective_start",
            "effective_end",
            "in_force_end",
            "lines_of_business",
            "markets",
            "assessment_lookback_months",
            "proration_rule",
            "tier_rule",
            "retro_window_months",
            "roster_due_day",
            "withhold_percentage",
            "quality_terms",
            "shared_savings_terms",
            "quality_bonus",
            "termination_notice_days",
            "single_approval_limit",
            "recovery_offset_share",
            "episode_days",
            "episode_installments",
            "episode_early_exit",
            "episode_renewal",
            "pricing_run_id",
            "rates",
            "assessment_fees",
            "acceptances",
            "proposal_round",
            "fingerprint",
            "proposed_at",
            "activated_at",
            "created_at",
            "updated_at",
            "rate_sheet",
        ]

    @extend_schema_field(
        {
            "type": "object",
            "properties": {
                "id": {"type": "string", "format": "uuid"},
                "name": {"type": "string"},
                "version": {"type": "integer"},
            },
        }
    )
    def get_bundle(self, version) -> dict:
        return {
            "id": str(version.bundle_version.bundle.public_id),
            "name": version.bundle_version.definition["name"],
            "version": version.bundle_version.number,
        }

    def get_episode_days(self, version) -> int | None:
        return episode_days(version.bundle_version.definition)

    @extend_schema_field(QualityBonusSerializer(allow_null=True))
    def get_quality_bonus(self, version) -> dict | None:
        return dict(version.quality_bonus) if version.quality_bonus else None

    @extend_schema_field(RateSerializer(many=True))
    def get_rates(self, version):
        return RateSerializer(version.rates.all(), many=True, context=self.context).data

    @extend_schema_field(
        serializers.DictField(child=serializers.DecimalField(max_digits=14, decimal_places=2))
    )
    def get_assessment_fees(self, version):
        return {fee.market: str(fee.fee) for fee in version.assessment_fees.all()}

    @extend_schema_field(AcceptanceSerializer(many=True))
    def get_acceptances(self, version):
        return AcceptanceSerializer(version.acceptances.select_related("user").all(), many=True).data

    def get_fingerprint(self, version) -> str:
        from contracts.selectors import version_fingerprint

        return version_fingerprint(version)

    @extend_schema_field(
        {"type": "object", "properties": {fmt: {"type": "string"} for fmt in ("pdf", "xlsx", "csv")}}
    )
    def get_rate_sheet(self, version) -> dict:
        base = f"/api/v1/contracts/{version.contract.public_id}/rate-sheet"
        return {fmt: f"{base}.{fmt}?version={version.number}" for fmt in ("pdf", "xlsx", "csv")}


class EventSerializer(serializers.ModelSerializer):
    version = serializers.IntegerField(source="version.number", allow_null=True)
    user = serializers.SerializerMethodField()
    organization = serializers.CharField(source="organization.legal_name", allow_null=True)

    class Meta:
        model = ContractEvent
        fields = ["kind", "version", "user", "organization", "comment", "at"]

    def get_user(self, event) -> str | None:
        return event.user.get_full_name() or event.user.username if event.user else None


class OfferChangeSerializer(serializers.Serializer):
    field = serializers.CharField(help_text="rates, assessment_fees, withhold_percentage or quality_terms")
    cell = serializers.JSONField(allow_null=True, help_text="The rate cell or the fee's market")
    label = serializers.CharField()
    before = serializers.JSONField(allow_null=True)
    after = serializers.JSONField(allow_null=True)
    reason = serializers.CharField(allow_blank=True)


class OfferSerializer(serializers.ModelSerializer):
    author = serializers.SerializerMethodField()
    changes = OfferChangeSerializer(many=True)

    class Meta:
        model = ContractOffer
        fields = [
            "round",
            "side",
            "kind",
            "author",
            "created_at",
            "reason",
            "changes",
            "terms",
            "pricing_run_id",
            "fingerprint",
        ]

    def get_author(self, offer) -> str:
        return offer.author.get_full_name() or offer.author.username


class OfferListSerializer(serializers.Serializer):
    version = serializers.IntegerField(source="version.number")
    status = serializers.CharField(source="version.status")
    proposal_round = serializers.IntegerField(source="version.proposal_round")
    on_the_table = serializers.CharField(help_text="The side whose offer the terms are (payer or provider)")
    offers = OfferSerializer(many=True)


class ContractDetailSerializer(serializers.Serializer):
    contract = ContractSerializer()
    pending_version = serializers.IntegerField(allow_null=True, help_text="The version in draft or proposed")
    actions = serializers.ListField(
        child=serializers.CharField(),
        help_text="What your role may do now: edit, propose, accept, return, ...",
    )
    termination_reason = serializers.CharField(source="contract.termination_reason")
    versions = VersionSummarySerializer(many=True)
    events = EventSerializer(many=True)


class DiffChangeSerializer(serializers.Serializer):
    section = serializers.ChoiceField(choices=list(rules.SECTIONS))
    path = serializers.CharField()
    label = serializers.CharField()
    change = serializers.ChoiceField(choices=["added", "removed", "changed"])
    before = serializers.CharField(allow_null=True)
    after = serializers.CharField(allow_null=True)
    difference = serializers.CharField(allow_null=True, help_text="after - before, for money")
    term = serializers.ChoiceField(choices=list(rules.TERMS_BY_FIELD), help_text="The term changed")
    moves_money = serializers.BooleanField(help_text="The term changes what the provider is paid")


# One boolean per section holding a term that moves money (contracts.rules.TERMS): a section added
# there appears here without another edit.
PaymentTermsChangedSerializer = type(
    "PaymentTermsChangedSerializer",
    (serializers.Serializer,),
    {section: serializers.BooleanField() for section in rules.PAYMENT_SECTIONS},
)


class DiffSerializer(serializers.Serializer):
    from_version = serializers.IntegerField()
    to_version = serializers.IntegerField()
    sections_changed = serializers.ListField(child=serializers.CharField())
    payment_terms_changed = PaymentTermsChangedSerializer()
    money_terms_changed = serializers.ListField(
        child=serializers.ChoiceField(choices=list(rules.MONEY_TERMS)),
        help_text="Every changed term that moves money, in the order of contracts.rules.TERMS",
    )
    changes = DiffChangeSerializer(many=True)


class ExportSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id")
    # Live from the export's bulk operation while it runs (contracts.selectors annotates its items).
    status = serializers.ChoiceField(choices=ExportStatus.choices, source="progress_status", read_only=True)
    done = serializers.IntegerField(source="progress_done", read_only=True)
    error = serializers.CharField(source="progress_error", read_only=True)
    percent = serializers.IntegerField()
    download = serializers.SerializerMethodField()

    class Meta:
        model = RateSheetExport
        fields = [
            "id",
            "status",
            "total",
            "done",
            "percent",
            "size",
            "sha256",
            "error",
            "created_at",
            "finished_at",
            "download",
        ]

    def get_download(self, export) -> str | None:
        if export.progress_status != "done":
            return None
        return f"/api/v1/contracts/rate-sheet-exports/{export.public_id}/download/"
