"""Back-office views of pricing. Read-only: every change goes through the services (and published
versions and run results are immutable in the database anyway)."""

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from pricing.models import AssumptionSet, AssumptionSetVersion, ExperienceDataset, PricingRun


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AssumptionSet)
class AssumptionSetAdmin(ReadOnlyAdmin):
    list_display = ["name", "payer", "created_at", "updated_at"]
    search_fields = ["name", "payer__legal_name"]
    list_select_related = ["payer"]


@admin.register(AssumptionSetVersion)
class AssumptionSetVersionAdmin(ReadOnlyAdmin, SimpleHistoryAdmin):
    list_display = ["assumption_set", "number", "status", "published_at"]
    list_filter = ["status"]
    list_select_related = ["assumption_set"]


@admin.register(ExperienceDataset)
class ExperienceDatasetAdmin(ReadOnlyAdmin):
    list_display = ["name", "payer", "status", "row_count", "error_count", "created_at"]
    list_filter = ["status"]
    search_fields = ["name", "program_name"]
    list_select_related = ["payer"]


@admin.register(PricingRun)
class PricingRunAdmin(ReadOnlyAdmin, SimpleHistoryAdmin):
    list_display = ["public_id", "payer", "bundle_version", "status", "progress", "created_at", "finished_at"]
    list_filter = ["status"]
    search_fields = ["public_id", "inputs_hash"]
    list_select_related = ["payer", "bundle_version__bundle"]
    exclude = ["inputs", "result"]
