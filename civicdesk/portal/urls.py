from django.urls import include, path

from civicdesk.portal import claims_urls, meters_urls, money_urls, payments_urls, views

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/", views.accounts, name="accounts"),
    path("accounts/link/", views.link_start, name="link_start"),
    path("accounts/link/<uuid:request_id>/", views.link_confirm, name="link_confirm"),
    path("accounts/invitations/<str:token>/", views.invitation_accept, name="invitation"),
    path("accounts/<str:number>/", views.account_detail, name="account"),
    path("accounts/<str:number>/unlink/", views.account_unlink, name="account_unlink"),
    path("", include(money_urls.urlpatterns)),
    path("", include(payments_urls.urlpatterns)),
    path("", include(claims_urls.urlpatterns)),
    path("", include(meters_urls.urlpatterns)),
    path("", include("civicdesk.portal.bills_urls")),
]
