"""Tariff pages of the back office, mounted at /staff/tariffs/ (namespace backoffice)."""

from django.urls import path

from civicdesk.backoffice import tariff_views as views

urlpatterns = [
    path("", views.tariff_list, name="tariffs"),
    path("load/", views.tariff_load, name="tariff_load"),
    path("<str:code>/", views.tariff_detail, name="tariff"),
]
