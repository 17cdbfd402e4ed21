"""Forms of the resident's refund pages. The bank fields follow the operator's jurisdiction:
an IBAN in Ukraine, account number and branch code in South Africa, account number and BIK in
Russia. The rules themselves are the ledger's (civicdesk.ledger.bankdetails); these forms only
collect the values."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

# Bank fields shown per jurisdiction, in order, with their label and help.
BANK_FIELDS = {
    "UA": {
        "iban": (_("IBAN"), _("29 characters starting with UA, as on your bank card's statement.")),
    },
    "ZA": {
        "bank_account_number": (_("Account number"), _("7 to 11 digits.")),
        "branch_code": (
            _("Branch code"),
            _("6 digits; your bank's universal branch code (e.g. 250655) will do."),
        ),
    },
    "RU": {
        "bank_account_number": (_("Account number"), _("20 digits.")),
        "branch_code": (_("BIK"), _("The bank's 9-digit BIK, starting with 04.")),
    },
}


class RefundForm(forms.Form):
    amount = forms.DecimalField(
        label=_("Amount to refund"),
        localize=True,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    holder = forms.CharField(
        label=_("Account holder"),
        max_length=200,
        help_text=_("The name the bank account is in."),
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    iban = forms.CharField(max_length=50, required=False)
    bank_account_number = forms.CharField(max_length=40, required=False)
    branch_code = forms.CharField(max_length=20, required=False)
    bank_name = forms.CharField(label=_("Bank"), max_length=200, required=False)

    def __init__(self, *args, jurisdiction: str, currency: str, **kwargs):
        super().__init__(*args, **kwargs)
        shown = BANK_FIELDS.get(jurisdiction, {})
        for name in ("iban", "bank_account_number", "branch_code"):
            if name not in shown:
                del self.fields[name]
                continue
            label, help_text = shown[name]
            field = self.fields[name]
            field.label, field.help_text, field.required = label, help_text, True
            field.widget.attrs.update({"autocomplete": "off", "spellcheck": "false"})
            if name != "iban":
                field.widget.attrs["inputmode"] = "numeric"
        self.fields["amount"].help_text = _("In %(currency)s, at most the credit available.") % {
            "currency": currency
        }
        self.order_fields(["amount", "holder", *shown, "bank_name"])

    def bank_details(self) -> dict[str, str]:
        data = self.cleaned_data
        return {
            name: data.get(name, "") or ""
            for name in ("holder", "iban", "bank_account_number", "branch_code", "bank_name")
        }


class CancelForm(forms.Form):
    reason = forms.CharField(
        label=_("Why (optional)"),
        max_length=500,
        required=False,
        widget=forms.TextInput(),
    )
