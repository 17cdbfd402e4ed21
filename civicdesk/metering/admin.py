"""Metering in the admin. Meters and the operator's metering settings are edited here (meters
keep their history); readings, true-ups, imports and alerts are read-only — readings arrive and
are reviewed only through the services (portal, API, SMS, files, the back-office queue)."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from civicdesk.core.admin import ReadOnlyAdmin
from civicdesk.metering.models import (
    ConsumptionAlert,
    EstimateTrueUp,
    Meter,
    MeteringSettings,
    Reading,
    ReadingImport,
)


@admin.register(MeteringSettings)
class MeteringSettingsAdmin(admin.ModelAdmin):
    list_display = ("__str__", "window_start_day", "window_end_day", "sms_any_sender")
    fieldsets = (
        (None, {"fields": ("operator",)}),
        (_("SMS"), {"fields": ("sms_grammars", "sms_codes", "sms_keywords", "sms_any_sender")}),
        (
            _("Validation"),
            {
                "fields": (
                    "window_start_day",
                    "window_end_day",
                    "outside_window",
                    "spike_factor",
                    "spike_history_months",
                )
            },
        ),
        (
            _("Estimation"),
            {
                "fields": (
                    "estimate_average_months",
                    "estimate_min_months",
                    "estimate_max_periods",
                    "norms",
                )
            },
        ),
        (
            _("Alerts and reminders"),
            {
                "fields": (
                    "leak_factor",
                    "leak_night_hours",
                    "leak_opens_case",
                    "verification_reminder_days",
                )
            },
        ),
    )


@admin.register(Meter)
class MeterAdmin(SimpleHistoryAdmin):
    list_display = ("serial", "resource", "rates", "status", "account", "verification_due_on")
    list_filter = ("resource", "rates", "status")
    search_fields = ("serial", "account__number", "building__address")
    raw_id_fields = ("building", "premises", "account", "replaces")
    readonly_fields = ("public_id",)


@admin.register(Reading)
class ReadingAdmin(ReadOnlyAdmin):
    list_display = ("taken_at", "meter", "register", "value", "consumption", "source", "status")
    list_filter = ("status", "source")
    search_fields = ("meter__serial", "meter__account__number")
    date_hierarchy = "taken_at"
    list_select_related = ("meter",)


@admin.register(EstimateTrueUp)
class EstimateTrueUpAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "meter", "register", "estimated", "actual", "difference")


@admin.register(ReadingImport)
class ReadingImportAdmin(ReadOnlyAdmin):
    list_display = ("started_at", "file_name", "status", "rows_read", "accepted", "rejected")
    list_filter = ("status", "dry_run")


@admin.register(ConsumptionAlert)
class ConsumptionAlertAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "meter", "kind", "period", "consumption", "baseline", "case")
    list_filter = ("kind",)
