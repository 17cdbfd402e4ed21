"""Metering pages of the back office, mounted at /staff/metering/ (namespace backoffice)."""

from django.urls import path

from civicdesk.backoffice import metering_views as views

urlpatterns = [
    path("", views.meter_search, name="metering_search"),
    path("flagged/", views.flagged_queue, name="metering_queue"),
    path("meters/<uuid:meter_id>/", views.meter_detail, name="metering_meter"),
    path(
        "readings/<uuid:reading_id>/review/",
        views.reading_review,
        name="metering_review",
    ),
]
