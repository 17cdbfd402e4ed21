from django.contrib import admin

from civicdesk.cases.models import (
    Call,
    Case,
    CaseEvent,
    Category,
    Closure,
    Open311Client,
    RoutingRule,
    Team,
    WorkingHours,
)
from civicdesk.core.admin import ReadOnlyAdmin


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = (
        "code",
        "name",
        "kind",
        "parent",
        "public",
        "active",
        "resolution_amount",
        "resolution_unit",
    )
    list_filter = ("kind", "public", "active")
    search_fields = ("code",)


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "strategy")
    filter_horizontal = ("members",)


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    list_display = (
        "order",
        "category",
        "territory",
        "channel",
        "priority",
        "team",
        "assignee",
        "active",
    )
    list_editable = ("active",)
    list_filter = ("team", "active")
    raw_id_fields = ("assignee",)


class EventInline(admin.TabularInline):
    model = CaseEvent
    extra = 0
    can_delete = False
    fields = ("created_at", "kind", "actor", "public", "text")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Case)
class CaseAdmin(admin.ModelAdmin):
    list_display = (
        "reference",
        "subject",
        "category",
        "status",
        "team",
        "assignee",
        "resolution_due",
        "sla_state",
    )
    list_filter = ("status", "sla_state", "channel", "category", "team")
    search_fields = ("reference", "subject", "contact_email", "contact_phone")
    readonly_fields = [f.name for f in Case._meta.fields]
    inlines = [EventInline]

    def has_add_permission(self, request):
        return False  # cases are created through the portal, the console, the API or Open311


@admin.register(CaseEvent)
class CaseEventAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "case", "kind", "actor", "public")
    list_filter = ("kind", "public")


@admin.register(Call)
class CallAdmin(ReadOnlyAdmin):
    list_display = ("started_at", "agent", "caller_phone", "outcome", "handling_seconds")
    list_filter = ("outcome",)


@admin.register(WorkingHours)
class WorkingHoursAdmin(admin.ModelAdmin):
    list_display = ("weekday", "opens", "closes")


@admin.register(Closure)
class ClosureAdmin(admin.ModelAdmin):
    list_display = ("starts_on", "ends_on", "reason")


@admin.register(Open311Client)
class Open311ClientAdmin(admin.ModelAdmin):
    list_display = ("name", "active", "created_at")
    readonly_fields = ("key_digest",)
