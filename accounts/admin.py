from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from accounts.forms import AdminLoginForm
from accounts.models import ApiToken, Membership, Organization

admin.site.login_form = AdminLoginForm  # refuses an overlong username before authenticating it


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Organization)
class OrganizationAdmin(SimpleHistoryAdmin):
    list_display = ["legal_name", "kind", "npi", "tax_id", "created_at"]
    list_filter = ["kind"]
    search_fields = ["legal_name", "short_name", "npi", "tax_id"]
    readonly_fields = ["public_id", "created_at"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(SimpleHistoryAdmin):
    list_display = ["user", "organization", "role", "created_at"]
    list_filter = ["role", "organization__kind"]
    search_fields = ["user__username", "organization__legal_name"]
    list_select_related = ["user", "organization"]
    autocomplete_fields = ["user", "organization"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["user", "created_at", "expires_at", "revoked_at", "last_used_at"]
    list_select_related = ["user"]
    readonly_fields = ["user", "key_hash", "created_at", "expires_at", "last_used_at"]
    search_fields = ["user__username"]

    def has_add_permission(self, request):
        return False  # tokens come from the API, which shows the key once
