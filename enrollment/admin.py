from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from enrollment.models import EligibilityFile, InsuranceLineMapping, RosterSubmission


@admin.register(InsuranceLineMapping)
class InsuranceLineMappingAdmin(admin.ModelAdmin):
    """How each plan's HD03 insurance line codes map to lines of business (read when an 834 is loaded)."""

    list_display = ["payer", "code", "lob"]
    list_filter = ["lob"]
    search_fields = ["payer__legal_name", "code"]


@admin.register(EligibilityFile)
class EligibilityFileAdmin(admin.ModelAdmin):
    list_display = [
        "original_filename",
        "payer",
        "status",
        "full_file",
        "member_count",
        "error_count",
        "uploaded_at",
    ]
    list_filter = ["status", "full_file"]
    list_select_related = ["payer"]
    readonly_fields = [f.name for f in EligibilityFile._meta.fields]


@admin.register(RosterSubmission)
class RosterSubmissionAdmin(SimpleHistoryAdmin):
    list_display = [
        "contract",
        "month",
        "version",
        "status",
        "is_current",
        "late",
        "member_count",
        "submitted_at",
    ]
    list_filter = ["status", "is_current", "late"]
    search_fields = ["contract__number", "public_id"]
    list_select_related = ["contract"]
    readonly_fields = [f.name for f in RosterSubmission._meta.fields]
