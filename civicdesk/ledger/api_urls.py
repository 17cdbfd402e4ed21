from django.urls import include, path

from civicdesk.ledger.api import accounts, banking, payments, refunds

urlpatterns = [
    path("", include(accounts.urlpatterns)),
    path("", include(payments.urlpatterns)),
    path("", include(banking.urlpatterns)),
    path("", include(refunds.urlpatterns)),
]
