"""Portal pages: payments."""

from django.urls import path

from civicdesk.portal import payments_views as views

urlpatterns = [
    path("accounts/<str:number>/pay/", views.pay, name="pay"),
    path("payments/", views.payment_list, name="payments"),
    path("payments/<uuid:payment_id>/", views.payment_detail, name="payment"),
    path("payments/<uuid:payment_id>/go/", views.payment_go, name="payment_go"),
    path(
        "payments/methods/<uuid:method_id>/remove/",
        views.saved_method_remove,
        name="payment_method_remove",
    ),
]
