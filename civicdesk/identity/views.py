"""Account pages: register, verify, log in, MFA, profile, password, sessions. Thin: forms parse,
services decide."""

from __future__ import annotations

import base64

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, login, logout, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlsafe_base64_decode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django.views.i18n import set_language as django_set_language
from django_otp import login as otp_login

from civicdesk.core.api import problem_api_view_response
from civicdesk.core.forms import apply_validation_error
from civicdesk.identity import forms, selectors, services
from civicdesk.identity.models import Channel, User
from civicdesk.identity.services import CodeResult, Purpose, code_error_message

PENDING_USER = "civicdesk_pending_user"
RESET_USER = "civicdesk_reset_user"


def _safe_next(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def _home_for(user) -> str:
    return reverse("backoffice:home") if user.is_staff else reverse("portal:home")


def _pending_user(request: HttpRequest) -> User | None:
    if request.user.is_authenticated:
        return request.user
    pk = request.session.get(PENDING_USER)
    return User.objects.filter(pk=pk).first() if pk else None


def lockout_response(request, credentials, *args, **kwargs):
    """django-axes calls this when too many logins failed: a clear message, never a 500."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    message = _(
        "Too many failed attempts. For your safety this login is locked for %(minutes)d minutes."
    ) % {"minutes": minutes}
    if request.path.startswith("/api/"):
        return problem_api_view_response(request, 429, message)
    form = forms.LoginForm(request)
    return render(request, "identity/login.html", {"form": form, "lockout": message}, status=429)


def register(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect(_home_for(request.user))
    form = forms.RegisterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.user_register(
                **form.cleaned_data,
                preferred_language=request.LANGUAGE_CODE,
                request=request,
            )
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            request.session[PENDING_USER] = user.pk
            messages.success(
                request, _("We sent a 6-digit code to %(email)s.") % {"email": user.email}
            )
            return redirect("identity:verify_email")
    return render(request, "identity/register.html", {"form": form})


def verify_email(request: HttpRequest) -> HttpResponse:
    user = _pending_user(request)
    if user is None:
        return redirect("identity:login")
    if user.email_verified:
        return redirect("identity:verify_phone" if _needs_phone(user) else _home_for(user))
    form = forms.CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        result = services.email_verify(user=user, code=form.cleaned_data["code"])
        if result is CodeResult.OK:
            messages.success(request, _("Your e-mail address is verified."))
            if not request.user.is_authenticated and not user.is_staff:
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            request.session.pop(PENDING_USER, None)
            return redirect("identity:verify_phone" if _needs_phone(user) else "portal:home")
        form.add_error("code", code_error_message(result))
    return render(
        request, "identity/verify.html", {"form": form, "destination": user.email, "kind": "email"}
    )


def _needs_phone(user: User) -> bool:
    return user.preferred_channel == Channel.SMS and bool(user.phone) and not user.phone_verified


@login_required
def verify_phone(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not user.phone or user.phone_verified:
        return redirect("identity:profile")
    form = forms.CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        result = services.phone_verify(user=user, code=form.cleaned_data["code"])
        if result is CodeResult.OK:
            messages.success(request, _("Your mobile number is verified."))
            return redirect("identity:profile")
        form.add_error("code", code_error_message(result))
    return render(
        request,
        "identity/verify.html",
        {"form": form, "destination": str(user.phone), "kind": "phone"},
    )


@require_POST
def resend_code(request: HttpRequest, kind: str) -> HttpResponse:
    user = _pending_user(request)
    if user is None:
        return redirect("identity:login")
    if kind == "phone" and user.phone and not user.phone_verified:
        services.code_issue(user=user, purpose=Purpose.VERIFY_PHONE)
        messages.info(request, _("We sent a new code."))
        return redirect("identity:verify_phone")
    if kind == "email" and not user.email_verified:
        services.code_issue(user=user, purpose=Purpose.VERIFY_EMAIL)
        messages.info(request, _("We sent a new code."))
    return redirect("identity:verify_email")


def login_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect(_safe_next(request, _home_for(request.user)))
    form = forms.LoginForm(request, data=request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.user
        if not user.email_verified and not user.is_staff:
            services.code_issue(user=user, purpose=Purpose.VERIFY_EMAIL)
            request.session[PENDING_USER] = user.pk
            messages.info(
                request, _("Please verify your e-mail address first. We sent you a new code.")
            )
            return redirect("identity:verify_email")
        login(request, user)
        if user.is_staff:
            return redirect(
                f"{reverse('identity:mfa')}?next={_safe_next(request, _home_for(user))}"
            )
        return redirect(_safe_next(request, _home_for(user)))
    return render(request, "identity/login.html", {"form": form, "next": _safe_next(request, "")})


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    messages.info(request, _("You have logged out."))
    return redirect("portal:home")


@login_required
def mfa(request: HttpRequest) -> HttpResponse:
    user = request.user
    next_url = _safe_next(request, _home_for(user))
    if user.is_verified():
        return redirect(next_url)
    device = services.totp_confirmed_device(user)
    enrol = None
    if device is None:
        pending = user.totpdevice_set.filter(confirmed=False).first() or services.totp_enrol_start(
            user=user
        )
        secret = base64.b32encode(pending.bin_key).decode()
        qr = segno.make(pending.config_url, error="m")
        enrol = {"secret": secret, "qr_svg": qr.svg_inline(scale=4, dark="#000", light="#fff")}
    form = forms.CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        accepted = services.totp_verify(user=user, token=form.cleaned_data["code"], request=request)
        if accepted is not None:
            otp_login(request, accepted)
            return redirect(next_url)
        form.add_error("code", _("That code is not right. Use the current code from your app."))
    return render(
        request, "identity/mfa.html", {"form": form, "enrol": enrol, "next": next_url}, status=200
    )


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    user = request.user
    initial = {
        "full_name": user.full_name,
        "phone": user.phone,
        "preferred_language": user.preferred_language,
    }
    form = forms.ProfileForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.user_update_profile(user=user, **form.cleaned_data)
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, _("Your profile is saved."))
            return redirect("identity:profile")
    return render(request, "identity/profile.html", {"form": form})


@login_required
def preferences(request: HttpRequest) -> HttpResponse:
    user = request.user
    initial = {
        "preferred_channel": user.preferred_channel,
        "preferred_language": user.preferred_language,
    }
    form = forms.PreferencesForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.user_update_profile(user=user, **form.cleaned_data)
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            if _needs_phone(user):
                messages.info(request, _("We sent a code to your phone. Enter it to use SMS."))
                return redirect("identity:verify_phone")
            messages.success(request, _("Your notification preferences are saved."))
            return redirect("identity:preferences")
    return render(request, "identity/preferences.html", {"form": form})


@login_required
def password_change(request: HttpRequest) -> HttpResponse:
    form = forms.PasswordChangeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.password_change(user=request.user, request=request, **form.cleaned_data)
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            update_session_auth_hash(request, request.user)
            messages.success(
                request,
                _("Your password is changed. You can log out your other sessions below."),
            )
            return redirect("identity:sessions")
    return render(request, "identity/password_change.html", {"form": form})


def password_reset(request: HttpRequest) -> HttpResponse:
    form = forms.PasswordResetStartForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        started = services.password_reset_start(
            identifier=form.cleaned_data["identifier"], base_url=request.build_absolute_uri("/")
        )
        if started.channel == Channel.SMS:
            request.session[RESET_USER] = started.user.pk
            messages.info(request, _("If that number is registered, we sent it a code."))
            return redirect("identity:password_reset_code")
        return render(request, "identity/password_reset_sent.html")
    return render(request, "identity/password_reset.html", {"form": form})


def password_reset_code(request: HttpRequest) -> HttpResponse:
    pk = request.session.get(RESET_USER)
    user = User.objects.filter(pk=pk).first() if pk else None
    form = forms.SmsResetForm(user, request.POST or None)
    if request.method == "POST" and form.is_valid() and user is not None:
        result = services.code_check(
            user=user, purpose=Purpose.RESET_PASSWORD, code=form.cleaned_data["code"]
        )
        if result is CodeResult.OK:
            services.password_reset_complete(
                user=user, new_password=form.cleaned_data["new_password"], request=request
            )
            request.session.pop(RESET_USER, None)
            messages.success(request, _("Your password is changed. Log in with it now."))
            return redirect("identity:login")
        form.add_error("code", code_error_message(result))
    elif request.method == "POST" and user is None:
        form.add_error("code", code_error_message(CodeResult.EXPIRED))
    return render(request, "identity/password_reset_code.html", {"form": form})


def password_reset_confirm(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    try:
        pk = urlsafe_base64_decode(uidb64).decode()
        user = get_user_model().objects.filter(pk=int(pk)).first()
    except (ValueError, TypeError, OverflowError, UnicodeDecodeError):
        user = None
    if user is None or not default_token_generator.check_token(user, token):
        return render(request, "identity/password_reset_invalid.html", status=400)
    form = forms.SetPasswordForm(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.password_reset_complete(
            user=user, new_password=form.cleaned_data["new_password"], request=request
        )
        messages.success(request, _("Your password is changed. Log in with it now."))
        return redirect("identity:login")
    return render(request, "identity/password_reset_confirm.html", {"form": form})


@login_required
def sessions(request: HttpRequest) -> HttpResponse:
    current = request.session.session_key
    if request.method == "POST":
        count = services.sessions_end(user=request.user, keep_session_key=current, request=request)
        messages.success(request, _("Other sessions logged out: %(count)d.") % {"count": count})
        return redirect("identity:sessions")
    rows = selectors.sessions_for(user=request.user)
    return render(request, "identity/sessions.html", {"rows": rows, "current": current})


def set_language(request: HttpRequest) -> HttpResponse:
    """Django's set_language, and a signed-in user's preference follows the switcher."""
    response = django_set_language(request)
    language = request.POST.get("language")
    if (
        request.method == "POST"
        and request.user.is_authenticated
        and language in dict(settings.LANGUAGES)
    ):
        services.user_update_profile(user=request.user, preferred_language=language)
    return response
