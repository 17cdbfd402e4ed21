from django.contrib import admin

from civicdesk.registry.models import Operator


@admin.register(Operator)
class OperatorAdmin(admin.ModelAdmin):
    list_display = ("name", "jurisdiction", "currency", "timezone", "default_language")
    fieldsets = (
        (None, {"fields": ("name", "jurisdiction", "currency", "timezone")}),
        ("Languages", {"fields": ("default_language", "enabled_languages")}),
        ("Contact", {"fields": ("email", "phone", "website", "address")}),
    )

    def has_add_permission(self, request):
        return super().has_add_permission(request) and not Operator.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False
