"""Portal pages: an account's meters, sending readings, history and consumption."""

from django.urls import path

from civicdesk.portal import meters_views as views

urlpatterns = [
    path("accounts/<str:number>/meters/", views.meters, name="meters"),
    path("accounts/<str:number>/meters/<uuid:meter_id>/", views.meter_detail, name="meter"),
    path(
        "accounts/<str:number>/meters/<uuid:meter_id>/check/",
        views.meter_check,
        name="meter_check",
    ),
    path(
        "accounts/<str:number>/meters/<uuid:meter_id>/submit/",
        views.meter_submit,
        name="meter_submit",
    ),
    path("accounts/<str:number>/consumption/", views.consumption, name="consumption"),
]
