"""Back-office page for importing meter readings: upload a contractor's or an AMR system's
CSV file, as a dry run first (ticked by default), read the report (counts, reasons, the rows
that cannot be read), and see the recent imports. The work is `metering.importing`; this page
only takes the file and shows the outcome. Large files belong on the command line
(`manage.py import_readings`)."""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from civicdesk.core.decorators import staff_required
from civicdesk.metering.importing import FILE_CODES, readings_import
from civicdesk.metering.models import ReadingImport
from civicdesk.metering.reasons import reason_text

VIEW = "metering.view_readingimport"
ADD = "metering.add_readingimport"
MAX_BYTES = 50 * 1024 * 1024
RECENT = 20


class ReadingImportForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("Readings file"),
        help_text=gettext_lazy(
            "CSV (UTF-8, comma or semicolon) with the columns serial, value and taken_at, "
            "and optionally register and account; at most 50 MB here."
        ),
    )
    dry_run = forms.BooleanField(
        label=gettext_lazy("Dry run: check everything and write nothing"),
        required=False,
        initial=True,
    )
    skip_invalid = forms.BooleanField(
        label=gettext_lazy(
            "Import the good rows even if some rows cannot be read (otherwise nothing is written)"
        ),
        required=False,
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_BYTES:
            raise ValidationError(
                _("The file is too large: at most %(mb)d MB here; use the command line.")
                % {"mb": MAX_BYTES // (1024 * 1024)}
            )
        return upload


def _report(record: ReadingImport | None) -> dict:
    if record is None:
        return {}
    reasons = sorted((record.reasons or {}).items(), key=lambda item: (-item[1], item[0]))
    refusal = None
    if record.status == ReadingImport.Status.REFUSED and record.errors:
        first = record.errors[0]
        if first["code"] in FILE_CODES:
            refusal = first
    return {
        "record": record,
        "reasons": [(code, count, reason_text(code)) for code, count in reasons],
        "refusal": refusal,
        "row_errors": [e for e in record.errors if e is not refusal],
    }


@require_http_methods(["GET", "POST"])
@staff_required
@permission_required(VIEW, raise_exception=True)
def imports(request: HttpRequest) -> HttpResponse:
    can_import = request.user.has_perm(ADD)
    form = ReadingImportForm() if can_import else None
    record, status = None, 200
    if request.method == "POST":
        if not can_import:
            raise PermissionDenied("reading import")
        form = ReadingImportForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            record = readings_import(
                stream=upload,
                file_name=upload.name or "",
                dry_run=form.cleaned_data["dry_run"],
                skip_invalid=form.cleaned_data["skip_invalid"],
                actor=request.user,
            )
            status = 422 if record.status == ReadingImport.Status.REFUSED else 200
        else:
            status = 400
    return render(
        request,
        "backoffice/metering/import.html",
        {
            "form": form,
            "recent": ReadingImport.objects.select_related("started_by")[:RECENT],
            **_report(record),
        },
        status=status,
    )


@require_GET
@staff_required
@permission_required(VIEW, raise_exception=True)
def import_detail(request: HttpRequest, import_id) -> HttpResponse:
    record = get_object_or_404(
        ReadingImport.objects.select_related("started_by"), public_id=import_id
    )
    return render(
        request,
        "backoffice/metering/import.html",
        {"form": None, "recent": None, "detail": True, **_report(record)},
    )
