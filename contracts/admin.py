from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from contracts.models import (
    AssessmentFee,
    Contract,
    ContractAcceptance,
    ContractEvent,
    ContractOffer,
    ContractVersion,
    RateScheduleEntry,
    RateSheetExport,
    StoredRateSheet,
)


class VersionInline(admin.TabularInline):
    model = ContractVersion
    fields = [
        "number",
        "status",
        "bundle_version",
        "effective_start",
        "effective_end",
        "in_force_end",
        "fingerprint",
    ]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True


@admin.register(Contract)
class ContractAdmin(SimpleHistoryAdmin):
    list_display = ["number", "payer", "provider", "status", "created_at"]
    list_filter = ["status"]
    search_fields = ["number", "payer__legal_name", "provider__legal_name"]
    list_select_related = ["payer", "provider"]
    inlines = [VersionInline]


class RateInline(admin.TabularInline):
    model = RateScheduleEntry
    fields = ["lob", "tier", "market", "phase", "pmpm", "priced_pmpm", "source", "reason"]
    extra = 0


class FeeInline(admin.TabularInline):
    model = AssessmentFee
    extra = 0


class AcceptanceInline(admin.TabularInline):
    model = ContractAcceptance
    readonly_fields = ["side", "proposal_round", "user", "at"]
    extra = 0
    can_delete = False


class OfferInline(admin.TabularInline):
    """The rounds of a proposal's negotiation: append-only, read here, never edited."""

    model = ContractOffer
    fields = ["round", "side", "kind", "author", "created_at", "reason", "pricing_run_id", "fingerprint"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ContractVersion)
class ContractVersionAdmin(SimpleHistoryAdmin):
    list_display = ["contract", "number", "status", "effective_start", "in_force_end", "fingerprint"]
    list_filter = ["status"]
    search_fields = ["contract__number"]
    list_select_related = ["contract"]
    inlines = [RateInline, FeeInline, AcceptanceInline, OfferInline]


@admin.register(RateScheduleEntry)
class RateScheduleEntryAdmin(SimpleHistoryAdmin):
    list_display = ["version", "lob", "tier", "market", "phase", "pmpm", "priced_pmpm", "source"]
    list_select_related = ["version__contract"]
    search_fields = ["version__contract__number"]


@admin.register(ContractEvent)
class ContractEventAdmin(admin.ModelAdmin):
    list_display = ["contract", "version", "kind", "user", "organization", "at"]
    list_filter = ["kind"]
    list_select_related = ["contract", "version", "user", "organization"]


@admin.register(StoredRateSheet)
class StoredRateSheetAdmin(admin.ModelAdmin):
    list_display = ["version", "format", "size", "sha256", "created_at"]
    exclude = ["content"]
    list_select_related = ["version__contract"]


@admin.register(RateSheetExport)
class RateSheetExportAdmin(admin.ModelAdmin):
    list_display = ["public_id", "organization", "status", "done", "total", "created_at", "finished_at"]
    exclude = ["content"]
