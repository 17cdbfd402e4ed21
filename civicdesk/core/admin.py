from django.contrib import admin

from civicdesk.core.models import AuditEvent, IdempotencyKey


class ReadOnlyAdmin(admin.ModelAdmin):
    """For append-only records: staff read them, nobody edits or deletes them."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("occurred_at", "action", "identifier", "ip_address", "path")
    list_filter = ("action",)
    search_fields = ("identifier", "ip_address", "path")
    date_hierarchy = "occurred_at"


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "scope", "key", "method", "path", "state", "response_status")
    list_filter = ("state", "method")
    search_fields = ("scope", "key", "path")
    date_hierarchy = "created_at"
