"""Resident pages. They compose the apps' services and selectors; they own no business rules."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from civicdesk.core.forms import apply_validation_error
from civicdesk.portal import forms
from civicdesk.registry import selectors, services
from civicdesk.registry.models import LinkRequest
from civicdesk.registry.models.links import LinkMethod


def home(request: HttpRequest) -> HttpResponse:
    accounts = selectors.accounts_for_user(request.user) if request.user.is_authenticated else []
    return render(request, "portal/home.html", {"accounts": accounts})


@login_required
def accounts(request: HttpRequest) -> HttpResponse:
    pending = selectors.link_requests_for_user(request.user).filter(
        status__in=[LinkRequest.Status.PENDING, LinkRequest.Status.IN_REVIEW]
    )
    return render(
        request,
        "portal/accounts.html",
        {"accounts": selectors.accounts_for_user(request.user), "pending": pending},
    )


@login_required
def account_detail(request: HttpRequest, number: str) -> HttpResponse:
    account = selectors.account_for_user(request.user, number)
    link = selectors.link_for(request.user, account)
    form = forms.InviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.invitation_create(
                inviter=request.user,
                account=account,
                base_url=request.build_absolute_uri("/"),
                **form.cleaned_data,
            )
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(
                request,
                _("We sent an invitation to %(email)s.") % {"email": form.cleaned_data["email"]},
            )
            return redirect("portal:account", number=account.number)
    return render(
        request,
        "portal/account.html",
        {
            "account": account,
            "link": link,
            "form": form,
            "can_invite": link.role in ("owner", "payer"),
        },
    )


@login_required
@require_POST
def account_unlink(request: HttpRequest, number: str) -> HttpResponse:
    account = selectors.account_for_user(request.user, number)
    services.link_revoke(user=request.user, account=account)
    messages.success(
        request, _("Account %(number)s is no longer linked to you.") % {"number": number}
    )
    return redirect("portal:accounts")


def _methods() -> list[str]:
    operator = selectors.operator_get()
    if operator is None:
        return []
    return [
        method
        for method, enabled in (
            (LinkMethod.CODE, operator.link_by_code),
            (LinkMethod.LAST_BILL, operator.link_by_last_bill),
            (LinkMethod.DOCUMENT, operator.link_by_document),
        )
        if enabled
    ]


@login_required
def link_start(request: HttpRequest) -> HttpResponse:
    form = forms.LinkStartForm(request.POST or None, request.FILES or None, methods=_methods())
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            link_request = services.link_request_start(
                user=request.user,
                account_number=data["account_number"],
                method=data["method"],
                role=data["role"],
                document=data.get("document"),
                document_kind=data.get("document_kind") or "",
            )
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            return redirect("portal:link_confirm", request_id=link_request.id)
    return render(request, "portal/link_start.html", {"form": form})


@login_required
def link_confirm(request: HttpRequest, request_id) -> HttpResponse:
    link_request = get_object_or_404(selectors.link_requests_for_user(request.user), id=request_id)
    if link_request.status != LinkRequest.Status.PENDING:
        return render(request, "portal/link_status.html", {"link_request": link_request})
    form = forms.LinkConfirmForm(request.POST or None, method=link_request.method)
    if request.method == "POST" and form.is_valid():
        outcome = services.link_request_confirm(
            user=request.user,
            request_id=link_request.id,
            code=form.cleaned_data.get("code", ""),
            amount=form.cleaned_data.get("amount", ""),
        )
        if outcome.ok:
            messages.success(request, outcome.message)
            return redirect("portal:account", number=link_request.account_number)
        form.add_error(None, outcome.message)
        link_request.refresh_from_db()
        if link_request.status != LinkRequest.Status.PENDING:
            return render(request, "portal/link_status.html", {"link_request": link_request})
    return render(request, "portal/link_confirm.html", {"form": form, "link_request": link_request})


@login_required
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    if request.method == "POST":
        try:
            link = services.invitation_accept(token=token, user=request.user)
        except ValidationError as exc:
            return render(
                request, "portal/invitation.html", {"error": " ".join(exc.messages)}, status=400
            )
        messages.success(request, _("The account is linked."))
        return redirect("portal:account", number=link.account.number)
    return render(request, "portal/invitation.html", {})
