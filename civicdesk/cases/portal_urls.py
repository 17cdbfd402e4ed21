from django.urls import path

from civicdesk.cases import portal_views as views

app_name = "cases_portal"

urlpatterns = [
    path("", views.case_list, name="list"),
    path("new/", views.category_choose, name="new"),
    path("new/<slug:code>/", views.case_lodge, name="lodge"),
    path("known-problems/", views.known_problems, name="known_problems"),
    path("<str:reference>/", views.case_detail, name="detail"),
    path("<str:reference>/reply/", views.case_reply, name="reply"),
    path("<str:reference>/reopen/", views.case_reopen, name="reopen"),
    path("<str:reference>/rate/", views.case_rate, name="rate"),
    path(
        "<str:reference>/attachments/<uuid:attachment_id>/",
        views.attachment_download,
        name="attachment",
    ),
]
