"""Public calculator pages, mounted at /calculators/."""

from django.urls import path

from civicdesk.tariffs import views

app_name = "calculators"

urlpatterns = [
    path("", views.calculators, name="index"),
    path("inputs/", views.quote_inputs, name="inputs"),
]
