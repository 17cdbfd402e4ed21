"""Portal pages: an account's bills, one bill and its PDF, and the statement of account."""

from django.urls import path

from civicdesk.portal import bills_views as views

urlpatterns = [
    path("accounts/<str:number>/bills/", views.bills, name="bills"),
    path("accounts/<str:number>/bills/<uuid:public_id>/", views.bill, name="bill"),
    path("accounts/<str:number>/bills/<uuid:public_id>/pdf/", views.bill_pdf, name="bill_pdf"),
    path("accounts/<str:number>/statement/", views.statement, name="statement"),
    path("accounts/<str:number>/statement/csv/", views.statement_csv, name="statement_csv"),
    path("accounts/<str:number>/statement/pdf/", views.statement_pdf, name="statement_pdf"),
]
