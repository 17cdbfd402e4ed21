from django.contrib import admin

from civicdesk.core.admin import ReadOnlyAdmin
from civicdesk.notifications.models import Delivery, InboundMessage


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "template_key", "channel", "recipient", "status", "attempts")
    list_filter = ("status", "channel", "template_key", "language")
    search_fields = ("recipient", "template_key")
    date_hierarchy = "created_at"


@admin.register(InboundMessage)
class InboundMessageAdmin(ReadOnlyAdmin):
    list_display = ("received_at", "provider", "sender", "text", "handler")
    list_filter = ("provider", "handler")
    search_fields = ("sender", "text")
