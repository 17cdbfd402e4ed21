"""The staff work queue of link requests proved by a document (lease, title deed, ID): look at
the document next to the account it names, then approve or reject with a reason."""

from __future__ import annotations

import mimetypes

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from civicdesk.core.decorators import staff_required
from civicdesk.core.forms import apply_validation_error
from civicdesk.registry import services
from civicdesk.registry.models import AccountHolder, LinkRequest
from civicdesk.registry.selectors import link_review_queue

REVIEW = "registry.review_linkrequest"


class ApproveForm(forms.Form):
    """Nothing to fill in: the button says `decision=approve`."""


class RejectForm(forms.Form):
    note = forms.CharField(
        label=gettext_lazy("Reason for rejecting"),
        help_text=gettext_lazy("The resident receives this reason."),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


def _link_request(request_id) -> LinkRequest:
    holders = AccountHolder.objects.order_by("role", "full_name")
    return get_object_or_404(
        LinkRequest.objects.select_related(
            "user", "reviewed_by", "account__premises__building"
        ).prefetch_related(Prefetch("account__holders", queryset=holders)),
        id=request_id,
    )


@require_GET
@staff_required
@permission_required(REVIEW, raise_exception=True)
def link_reviews(request: HttpRequest) -> HttpResponse:
    page = Paginator(link_review_queue(), 50).get_page(request.GET.get("page"))
    return render(request, "backoffice/link_reviews.html", {"page": page})


@require_http_methods(["GET", "POST"])
@staff_required
@permission_required(REVIEW, raise_exception=True)
def link_review(request: HttpRequest, request_id) -> HttpResponse:
    link_request = _link_request(request_id)
    approve_form, reject_form = ApproveForm(), RejectForm()
    status = 200
    if request.method == "POST":
        decision = request.POST.get("decision")
        if decision == "approve":
            form = approve_form = ApproveForm(request.POST)
        elif decision == "reject":
            form = reject_form = RejectForm(request.POST)
        else:
            form, status = None, 400
        if form is not None and form.is_valid():
            try:
                services.link_request_review(
                    request_id=link_request.id,
                    reviewer=request.user,
                    approve=decision == "approve",
                    note=form.cleaned_data.get("note", ""),
                )
            except ValidationError as exc:
                apply_validation_error(form, exc)
            else:
                message = (
                    _("Approved: %(number)s is linked to %(email)s.")
                    if decision == "approve"
                    else _("Rejected the request for %(number)s from %(email)s.")
                )
                messages.success(
                    request,
                    message
                    % {"number": link_request.account_number, "email": link_request.user.email},
                )
                return redirect("backoffice:link_reviews")
    return render(
        request,
        "backoffice/link_review.html",
        {
            "link_request": link_request,
            "account": link_request.account,
            "approve_form": approve_form,
            "reject_form": reject_form,
            "in_review": link_request.status == LinkRequest.Status.IN_REVIEW,
        },
        status=status,
    )


@require_GET
@staff_required
@permission_required(REVIEW, raise_exception=True)
def link_review_document(request: HttpRequest, request_id) -> FileResponse:
    """The uploaded document, always as a download with the content type its bytes showed on
    upload, never rendered inline by the browser and never from /media/."""
    link_request = get_object_or_404(LinkRequest, id=request_id)
    if not link_request.document:
        raise Http404
    try:
        handle = link_request.document.open("rb")
    except FileNotFoundError as exc:
        raise Http404 from exc
    content_type = link_request.document_content_type or "application/octet-stream"
    extension = mimetypes.guess_extension(content_type) or ".bin"
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=f"{link_request.document_kind or 'document'}-{link_request.account_number}"
        f"{extension}",
        content_type=content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
