"""Back-office pages for importing meter readings (mounted at /staff/metering/, namespace
backoffice)."""

from django.urls import path

from civicdesk.backoffice import metering_import_views as views

urlpatterns: list = [
    path("imports/", views.imports, name="metering_imports"),
    path("imports/<uuid:import_id>/", views.import_detail, name="metering_import"),
]
