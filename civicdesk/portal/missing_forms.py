"""The resident's "a payment does not show" form. It shapes input; the ledger's service keeps
the rules (amount and its decimals, dates, the proof's content)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

PROOF_ACCEPT = "image/jpeg,image/png,image/gif,image/webp,application/pdf"


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d", **kwargs)


class MissingPaymentForm(forms.Form):
    paid_on = forms.DateField(
        label=_("Date you paid"),
        widget=DateInput(),
        help_text=_("As on your bank statement or receipt."),
    )
    amount = forms.DecimalField(
        label=_("Amount paid"),
        max_digits=14,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    bank_reference = forms.CharField(
        label=_("Bank reference"),
        required=False,
        max_length=100,
        help_text=_("The reference or transaction number your bank gave the payment, if any."),
    )
    proof = forms.FileField(
        label=_("Proof of payment"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": PROOF_ACCEPT}),
        help_text=_("A receipt or bank statement: PDF, JPEG or PNG, up to 10 MB."),
    )
