"""API routes of the tariffs app, mounted under /api/v1/."""

from django.urls import path

from civicdesk.tariffs import api

urlpatterns = [
    path("tariffs", api.TariffListLoad.as_view(), name="tariff-list"),
    path("tariffs/<str:code>", api.TariffVersions.as_view(), name="tariff-versions"),
    path("calculators/tariff-quote", api.TariffQuote.as_view(), name="calculator-tariff-quote"),
    path(
        "calculators/prepaid-purchase",
        api.PrepaidPurchase.as_view(),
        name="calculator-prepaid-purchase",
    ),
]
