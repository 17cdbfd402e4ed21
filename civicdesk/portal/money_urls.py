"""Portal pages: an account's balance and transactions."""

from django.urls import path

from civicdesk.portal import money_views

urlpatterns = [
    path("accounts/<str:number>/money/", money_views.money, name="money"),
]
