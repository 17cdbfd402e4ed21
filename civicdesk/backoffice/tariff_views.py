"""Back-office tariff pages (mounted at /staff/tariffs/): every tariff code with the version in
force today, a code's versions side by side (one column per version, one row per setting and
price, differences marked), and loading definitions from a YAML or JSON file or pasted text,
all or nothing, with every error shown by its path. The rules are the tariffs app's
(`definition.py`, `services.tariffs_load`); these views only parse, call and show."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from civicdesk.core.decorators import staff_required
from civicdesk.tariffs import definition, errors, selectors, services
from civicdesk.tariffs.models import Tariff

VIEW_TARIFF = "tariffs.view_tariff"
ADD_TARIFF = "tariffs.add_tariff"
# A definition text may have MAX_TEXT characters, each up to 4 bytes in UTF-8.
MAX_FILE_BYTES = definition.MAX_TEXT * 4


# --- the list ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CodeRow:
    code: str
    latest: Tariff  # the highest version
    in_force: Tariff | None  # the version in force today
    versions: int


@require_GET
@staff_required
@permission_required(VIEW_TARIFF, raise_exception=True)
def tariff_list(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    in_force = {row.code: row for row in selectors.tariffs_current(today)}
    rows = Tariff.objects.defer("definition", "source").order_by("code", "-version")
    codes = []
    for code, group in groupby(rows, key=lambda row: row.code):
        versions = list(group)
        codes.append(CodeRow(code, versions[0], in_force.get(code), len(versions)))
    return render(
        request,
        "backoffice/tariffs/list.html",
        {"codes": codes, "today": today, "can_load": request.user.has_perm(ADD_TARIFF)},
    )


# --- versions side by side --------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    text: str
    changed: bool  # differs from the version on its left


@dataclass(frozen=True)
class CompareRow:
    label: str
    cells: list[Cell]
    heading: bool = False  # a charge's first row

    @property
    def differs(self) -> bool:
        return any(cell.changed for cell in self.cells)


def _value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    if isinstance(value, dict):
        return "; ".join(f"{key}: {_value(item)}" for key, item in value.items())
    return str(value)


def _band(band: dict) -> str:
    if band.get("up_to") is None:
        return _("above: %(price)s") % {"price": band["price"]}
    return _("up to %(limit)s: %(price)s") % {"limit": band["up_to"], "price": band["price"]}


def _charge_settings(charge: dict) -> dict[str, str]:
    """A canonical charge as (setting → text), each block and meter size on its own."""
    out: dict[str, str] = {}
    for key, value in charge.items():
        if key in ("id", "kind"):
            continue
        if key == "description":
            out[key] = errors.label_text(value)
        elif key in ("blocks", "tiers"):
            for index, band in enumerate(value, start=1):
                out[f"{key} {index}"] = _band(band)
        elif key == "by_meter_size":
            for size, amount in value.items():
                out[f"{key} {size}"] = str(amount)
        else:
            out[key] = _value(value)
    return out


def _tax(data: dict) -> str:
    tax = data.get("tax")
    if not tax:
        return _("none")
    if tax.get("prices_include_tax"):
        text = _("%(name)s %(rate)s, included in the prices")
    else:
        text = _("%(name)s %(rate)s, added to the prices")
    return text % {"name": tax["name"], "rate": tax["rate"]}


def comparison(versions: list[Tariff]) -> list[CompareRow]:
    """Rows of settings and prices, one cell per version (in the order given); a cell is
    marked changed when it differs from the one on its left."""
    definitions = [row.definition for row in versions]

    def row(label: str, texts: list[str], heading: bool = False) -> CompareRow:
        cells = [
            Cell(text, index > 0 and text != texts[index - 1]) for index, text in enumerate(texts)
        ]
        return CompareRow(label, cells, heading)

    rows = [
        row(_("Name"), [data.get("name", "") for data in definitions]),
        row(_("Valid from"), [data["valid_from"] for data in definitions]),
        row(_("Valid to"), [data.get("valid_to", "") for data in definitions]),
        row(_("Service"), [data["service"] for data in definitions]),
        row(_("Unit"), [data["unit"] for data in definitions]),
        row(_("Currency"), [data["currency"] for data in definitions]),
        row(_("Tax"), [_tax(data) for data in definitions]),
        row(
            _("Rounding"),
            [_value(data.get("rounding", {})) for data in definitions],
        ),
    ]
    # Charges by id, in the order they first appear; a version without one shows nothing.
    charges: dict[str, list[dict | None]] = {}
    for index, data in enumerate(definitions):
        for charge in data.get("charges", []):
            charges.setdefault(charge["id"], [None] * len(definitions))[index] = charge
    for charge_id, per_version in charges.items():
        kinds = [charge["kind"] if charge else "" for charge in per_version]
        rows.append(row(_("Charge %(id)s") % {"id": charge_id}, kinds, heading=True))
        settings = [_charge_settings(charge) if charge else {} for charge in per_version]
        keys: list[str] = []
        for found in settings:
            keys.extend(key for key in found if key not in keys)
        rows.extend(row(key, [found.get(key, "") for found in settings]) for key in keys)
    return rows


@require_GET
@staff_required
@permission_required(VIEW_TARIFF, raise_exception=True)
def tariff_detail(request: HttpRequest, code: str) -> HttpResponse:
    versions = sorted(
        selectors.tariff_versions(code), key=lambda row: (row.valid_from, row.version)
    )
    if not versions:
        raise Http404
    current = (
        selectors.versions_in_force(timezone.localdate())
        .filter(code=code)
        .order_by("-valid_from", "-version")
        .first()
    )
    return render(
        request,
        "backoffice/tariffs/detail.html",
        {
            "code": code,
            "versions": versions,
            "current": current,
            "rows": comparison(versions),
            "can_load": request.user.has_perm(ADD_TARIFF),
        },
    )


# --- loading ----------------------------------------------------------------------------------


class TariffLoadForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("File"),
        required=False,
        help_text=gettext_lazy("YAML or JSON, UTF-8; one tariff, a list, or several documents."),
    )
    text = forms.CharField(
        label=gettext_lazy("Or paste the text"),
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 14, "spellcheck": "false", "autocomplete": "off"}),
    )

    def clean(self):
        data = super().clean()
        upload, text = data.get("file"), data.get("text") or ""
        if upload and text.strip():
            raise forms.ValidationError(_("Upload a file or paste the text, not both."))
        if upload:
            if upload.size > MAX_FILE_BYTES:
                raise forms.ValidationError(
                    {
                        "file": _("The file is too large: at most %(kb)d KB.")
                        % {"kb": MAX_FILE_BYTES // 1024}
                    }
                )
            try:
                text = upload.read().decode("utf-8-sig")
            except UnicodeDecodeError:
                raise forms.ValidationError({"file": _("The file is not UTF-8 text.")}) from None
        if not text.strip():
            raise forms.ValidationError(_("Upload a file or paste the text of the tariffs."))
        data["source"] = text
        return data


def _problem(error: dict) -> dict:
    """An error as the page lists it: the path in its own column, the message without it."""
    path, message = error.get("path") or "", str(error["message"])
    return {"path": path, "code": error["code"], "message": message.removeprefix(f"{path}: ")}


@require_http_methods(["GET", "POST"])
@staff_required
@permission_required(ADD_TARIFF, raise_exception=True)
def tariff_load(request: HttpRequest) -> HttpResponse:
    form = TariffLoadForm()
    problems: list[dict] = []
    status = 200
    if request.method == "POST":
        form = TariffLoadForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                loaded = services.tariffs_load(form.cleaned_data["source"], actor=request.user)
            except services.TariffsRejected as exc:
                problems = [_problem(error) for error in exc.errors]
            else:
                for item in loaded:
                    text = (
                        _("%(code)s: version %(version)s loaded.")
                        if item.status == "created"
                        else _("%(code)s: version %(version)s is unchanged.")
                    )
                    messages.success(request, text % {"code": item.code, "version": item.version})
                return redirect("backoffice:tariffs")
        status = 400
    return render(
        request,
        "backoffice/tariffs/load.html",
        {"form": form, "problems": problems},
        status=status,
    )
