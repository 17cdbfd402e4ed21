from django.urls import path

from civicdesk.identity import views

app_name = "identity"

urlpatterns = [
    path("register/", views.register, name="register"),
    path("verify/", views.verify_email, name="verify_email"),
    path("verify/phone/", views.verify_phone, name="verify_phone"),
    path("verify/<str:kind>/resend/", views.resend_code, name="resend_code"),
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("mfa/", views.mfa, name="mfa"),
    path("profile/", views.profile, name="profile"),
    path("profile/notifications/", views.preferences, name="preferences"),
    path("password/", views.password_change, name="password_change"),
    path("password/reset/", views.password_reset, name="password_reset"),
    path("password/reset/code/", views.password_reset_code, name="password_reset_code"),
    path(
        "password/reset/<str:uidb64>/<str:token>/",
        views.password_reset_confirm,
        name="password_reset_confirm",
    ),
    path("sessions/", views.sessions, name="sessions"),
]
