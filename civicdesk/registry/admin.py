from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from civicdesk.registry.models import (
    AccountHolder,
    AccountLink,
    AccountService,
    Building,
    Closure,
    ImportRun,
    LinkRequest,
    OpeningBalance,
    OpeningHours,
    Operator,
    PersonalAccount,
    Premises,
    Provider,
    ServiceCentre,
    Territory,
)


@admin.register(Operator)
class OperatorAdmin(admin.ModelAdmin):
    list_display = ("name", "jurisdiction", "currency", "timezone", "default_language")
    fieldsets = (
        (None, {"fields": ("name", "jurisdiction", "currency", "timezone")}),
        ("Languages", {"fields": ("default_language", "enabled_languages")}),
        ("Contact", {"fields": ("email", "phone", "website", "address")}),
        (
            "Account numbers and linking",
            {
                "fields": (
                    "account_number_algorithm",
                    "account_number_length",
                    "account_number_prefix",
                    "link_by_code",
                    "link_by_last_bill",
                    "link_by_document",
                    "link_max_attempts",
                    "link_max_requests_per_day",
                )
            },
        ),
    )

    def has_add_permission(self, request):
        return super().has_add_permission(request) and not Operator.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Provider)
class ProviderAdmin(SimpleHistoryAdmin):
    list_display = ("name", "code", "tax_number", "active")
    list_filter = ("active",)
    search_fields = ("name", "code", "tax_number")


@admin.register(Territory)
class TerritoryAdmin(SimpleHistoryAdmin):
    list_display = ("name", "code", "kind", "parent")
    list_filter = ("kind",)
    search_fields = ("name", "code")


class OpeningHoursInline(admin.TabularInline):
    model = OpeningHours
    extra = 0


class ClosureInline(admin.TabularInline):
    model = Closure
    extra = 0


@admin.register(ServiceCentre)
class ServiceCentreAdmin(SimpleHistoryAdmin):
    list_display = ("name", "territory", "address")
    inlines = [OpeningHoursInline, ClosureInline]


@admin.register(Building)
class BuildingAdmin(SimpleHistoryAdmin):
    list_display = ("address", "code", "territory", "management_form", "total_area")
    list_filter = ("territory", "management_form")
    search_fields = ("address", "code")


@admin.register(Premises)
class PremisesAdmin(SimpleHistoryAdmin):
    list_display = ("__str__", "kind", "total_area", "occupants")
    list_filter = ("kind",)
    search_fields = ("building__address", "number")
    raw_id_fields = ("building",)


class HolderInline(admin.TabularInline):
    model = AccountHolder
    extra = 0
    fields = ("role", "full_name", "email", "phone", "id_number", "user")
    raw_id_fields = ("user",)


class ServiceInline(admin.TabularInline):
    model = AccountService
    extra = 0


@admin.register(PersonalAccount)
class PersonalAccountAdmin(SimpleHistoryAdmin):
    list_display = ("number", "premises", "status", "delivery_preference")
    list_filter = ("status", "delivery_preference")
    search_fields = ("number", "holders__full_name", "premises__building__address")
    raw_id_fields = ("premises",)
    inlines = [HolderInline, ServiceInline]


@admin.register(AccountLink)
class AccountLinkAdmin(admin.ModelAdmin):
    list_display = ("user", "account", "role", "method", "created_at", "revoked_at")
    list_filter = ("method", "role")
    search_fields = ("user__email", "account__number")
    raw_id_fields = ("user", "account")


@admin.register(LinkRequest)
class LinkRequestAdmin(admin.ModelAdmin):
    list_display = ("account_number", "user", "method", "status", "created_at")
    list_filter = ("status", "method")
    search_fields = ("account_number", "user__email")
    readonly_fields = [f.name for f in LinkRequest._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(OpeningBalance)
class OpeningBalanceAdmin(admin.ModelAdmin):
    list_display = ("account", "provider", "as_of", "amount_minor", "currency", "posted_at")
    search_fields = ("account__number",)
    raw_id_fields = ("account",)


@admin.register(ImportRun)
class ImportRunAdmin(admin.ModelAdmin):
    list_display = ("started_at", "status", "dry_run", "rows_read", "rows_written")
    readonly_fields = [f.name for f in ImportRun._meta.fields]

    def has_add_permission(self, request):
        return False
