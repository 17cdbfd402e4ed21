"""Staff upload registry files (CSV or XLSX) to import, try them first as a dry run, and read the
report. The work is the registry's import service; this page only takes the files and shows the
outcome. Large migrations belong on the command line (`manage.py import_registry`)."""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from civicdesk.registry.importer import KINDS
from civicdesk.registry.importing import (
    KIND_LABELS,
    ImportSource,
    kinds_permitted,
    registry_import,
)
from civicdesk.registry.models import ImportRun

PERMISSION = "registry.add_personalaccount"
MAX_FILES = 10
MAX_BYTES = 50 * 1024 * 1024
SHOWN_ERRORS = 500
SUFFIXES = (".csv", ".xlsx")


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    widget = MultipleFileInput

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else [data] if data else []
        if not files:
            raise ValidationError(self.error_messages["required"], code="required")
        if len(files) > MAX_FILES:
            raise ValidationError(_("At most %(count)d files at once.") % {"count": MAX_FILES})
        for upload in files:
            super().clean(upload, initial)
            if not upload.name.lower().endswith(SUFFIXES):
                raise ValidationError(
                    _("%(name)s: send CSV or XLSX files.") % {"name": upload.name}
                )
            if upload.size > MAX_BYTES:
                raise ValidationError(
                    _("%(name)s is too large: at most %(mb)d MB here; use the command line.")
                    % {"name": upload.name, "mb": MAX_BYTES // (1024 * 1024)}
                )
        return files


class ImportForm(forms.Form):
    files = MultipleFileField(
        label=_("Files"),
        help_text=_(
            "CSV (UTF-8, comma or semicolon) or XLSX; the first row names the columns. "
            "Several files are applied in order: territories, providers, buildings, premises, "
            "accounts, holders, services, opening balances."
        ),
    )
    kind = forms.ChoiceField(
        label=_("Kind of records"),
        required=False,
        choices=[("", _("Tell from the columns"))] + [(k, KIND_LABELS[k]) for k in KINDS],
    )
    dry_run = forms.BooleanField(
        label=_("Dry run: check everything and write nothing"), required=False, initial=True
    )
    all_or_nothing = forms.BooleanField(
        label=_("All or nothing: write nothing if any row is bad"), required=False
    )


@login_required
def upload(request: HttpRequest) -> HttpResponse:
    if not (request.user.is_staff and request.user.has_perm(PERMISSION)):
        raise PermissionDenied("registry import")
    report = None
    if request.method == "POST":
        form = ImportForm(request.POST, request.FILES)
        if form.is_valid():
            data = form.cleaned_data
            sources = [ImportSource(name=f.name, stream=f.file) for f in data["files"]]
            try:
                report = registry_import(
                    sources,
                    user=request.user,
                    dry_run=data["dry_run"],
                    all_or_nothing=data["all_or_nothing"],
                    kind=data["kind"] or None,
                    kinds_allowed=kinds_permitted(request.user),
                )
            except ValidationError as exc:
                form.add_error(None, exc)
    else:
        form = ImportForm()
    return render(
        request,
        "backoffice/import_upload.html",
        {
            "form": form,
            "report": report,
            "shown_errors": report.errors[:SHOWN_ERRORS] if report else [],
            "runs": ImportRun.objects.select_related("started_by")[:10],
        },
    )
