from django.urls import include, path

from civicdesk.backoffice import (
    banking_urls,
    billing_urls,
    customer360,
    imports,
    metering_import_urls,
    metering_urls,
    money_urls,
    payments_urls,
    refunds_urls,
    reviews,
    tariff_urls,
    views,
)

app_name = "backoffice"

urlpatterns = [
    path("", views.home, name="home"),
    path("audit/", views.audit_log, name="audit_log"),
    path("customers/", customer360.customer_search_view, name="customer_search"),
    path(
        "customers/account/<str:account_number>/",
        customer360.customer_account,
        name="customer_account",
    ),
    path("customers/user/<uuid:public_id>/", customer360.customer_user, name="customer_user"),
    path("link-reviews/", reviews.link_reviews, name="link_reviews"),
    path("link-reviews/<uuid:request_id>/", reviews.link_review, name="link_review"),
    path(
        "link-reviews/<uuid:request_id>/document/",
        reviews.link_review_document,
        name="link_review_document",
    ),
    path("imports/", imports.upload, name="import_upload"),
    path("money/", include(money_urls.urlpatterns)),
    path("money/", include(payments_urls.urlpatterns)),
    path("money/", include(banking_urls.urlpatterns)),
    path("money/", include(refunds_urls.urlpatterns)),
    path("metering/", include(metering_urls.urlpatterns)),
    path("metering/", include(metering_import_urls.urlpatterns)),
    path("tariffs/", include(tariff_urls.urlpatterns)),
    path("billing/", include(billing_urls.urlpatterns)),
]
