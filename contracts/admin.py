from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from contracts.models import Contract


@admin.register(Contract)
class ContractAdmin(SimpleHistoryAdmin):
    list_display = ["number", "payer", "provider", "status", "created_at"]
    list_filter = ["status"]
    search_fields = ["number", "payer__legal_name", "provider__legal_name"]
    list_select_related = ["payer", "provider"]
