"""The resident's payment form: how much, through which gateway, or with a saved card."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from django import forms
from django.utils.translation import gettext_lazy as _

_SPACES = re.compile(r"[\s\u00a0\u202f']")


def parse_amount(text: str) -> Decimal:
    """A typed amount as a Decimal, whatever the resident's decimal mark ("150.00", "150,00",
    "1 234,50", "1,234.50"); never rounded (too many decimals is the service's to refuse)."""
    text = _SPACES.sub("", text or "")
    if "," in text and "." in text:
        text = text.replace(",", "")
    text = text.replace(",", ".")
    if not re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", text):
        raise forms.ValidationError(_("Give the amount as a number, e.g. 150.00."), code="invalid")
    try:
        return Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - the pattern allows only numbers
        raise forms.ValidationError(_("Give the amount as a number, e.g. 150.00.")) from exc


class PayForm(forms.Form):
    amount = forms.CharField(
        label=_("Amount"),
        max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    saved_method = forms.ChoiceField(label=_("Pay with"), required=False, widget=forms.RadioSelect)
    gateway = forms.ChoiceField(label=_("Pay through"), widget=forms.RadioSelect)
    save_method = forms.BooleanField(
        label=_("Save my card for one-click payments next time"), required=False
    )
    invoice = forms.CharField(
        label=_("Invoice number"),
        max_length=100,
        required=False,
        help_text=_("To pay one particular bill first; leave empty to pay the oldest first."),
    )

    def __init__(self, *args, gateways, methods, **kwargs):
        super().__init__(*args, **kwargs)
        self.gateways = {g.name: g for g in gateways}
        self.methods = {str(m.pk): m for m in methods}
        self.fields["gateway"].choices = [(g.name, g.label) for g in gateways]
        if gateways:
            self.fields["gateway"].initial = gateways[0].name
        if self.methods:
            self.fields["saved_method"].choices = [
                ("", _("A new card or account")),
                *[(pk, str(m)) for pk, m in self.methods.items()],
            ]
            self.fields["saved_method"].initial = ""
        else:
            del self.fields["saved_method"]
        if not any(g.supports_saved_methods for g in gateways):
            del self.fields["save_method"]

    def clean_amount(self) -> Decimal:
        return parse_amount(self.cleaned_data["amount"])

    def clean(self):
        data = super().clean()
        method = self.methods.get(data.get("saved_method") or "")
        data["saved_method"] = method
        if method is not None:
            # A saved card belongs to one gateway: pay through that one.
            data["gateway"] = method.gateway
            self.errors.pop("gateway", None)
            data["save_method"] = False
        return data
