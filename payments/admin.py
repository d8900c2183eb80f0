from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from payments.models import LedgerEntry, PaymentLine, PaymentRun


class PaymentLineInline(admin.TabularInline):
    model = PaymentLine
    extra = 0
    can_delete = False
    fields = ["kind", "tier", "market", "lob", "service_month", "count", "member_months", "rate", "amount"]
    readonly_fields = fields


@admin.register(PaymentRun)
class PaymentRunAdmin(SimpleHistoryAdmin):
    list_display = ["contract", "month", "number", "kind", "status", "total", "approved_at"]
    list_filter = ["status", "kind"]
    search_fields = ["contract__number"]
    readonly_fields = [f.name for f in PaymentRun._meta.fields]
    inlines = [PaymentLineInline]


@admin.register(LedgerEntry)
class LedgerEntryAdmin(admin.ModelAdmin):
    """Read-only: the ledger is append-only (a database trigger refuses changes)."""

    list_display = ["contract", "sequence", "month", "kind", "amount", "posted_at"]
    list_filter = ["kind"]
    search_fields = ["contract__number"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False
