from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from civicdesk.registry.models import HolderRole, LinkRequest
from civicdesk.registry.models.links import LinkMethod


class LinkStartForm(forms.Form):
    account_number = forms.CharField(
        label=_("Account number"),
        max_length=40,
        help_text=_("As printed on your bill."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    role = forms.ChoiceField(label=_("You are the account's"), choices=HolderRole.choices)
    method = forms.ChoiceField(label=_("How will you prove it is yours?"), widget=forms.RadioSelect)
    document_kind = forms.ChoiceField(
        label=_("Document type"),
        choices=[("", "—"), *LinkRequest.DocumentKind.choices],
        required=False,
    )
    document = forms.FileField(
        label=_("Document (PDF, JPEG or PNG, up to 10 MB)"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": "application/pdf,image/jpeg,image/png"}),
    )

    def __init__(self, *args, methods: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        labels = dict(LinkMethod.choices)
        self.fields["method"].choices = [(m, labels[m]) for m in methods]
        if methods:
            self.fields["method"].initial = methods[0]


class LinkConfirmForm(forms.Form):
    code = forms.CharField(
        label=_("Code"),
        max_length=12,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}),
    )
    amount = forms.CharField(
        label=_("Amount of the last bill"),
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "decimal"}),
    )

    def __init__(self, *args, method: str, **kwargs):
        super().__init__(*args, **kwargs)
        if method == LinkMethod.CODE:
            del self.fields["amount"]
            self.fields["code"].required = True
        else:
            del self.fields["code"]
            self.fields["amount"].required = True


class InviteForm(forms.Form):
    email = forms.EmailField(label=_("Their e-mail address"))
    role = forms.ChoiceField(label=_("As the account's"), choices=HolderRole.choices)
