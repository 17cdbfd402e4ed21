"""Resident forms for cases: lodging one (built from the category's intake questions), replying,
reopening and rating. They shape input for the services, which keep the rules."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.utils.functional import lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from civicdesk.cases.models import translated

QUESTION_PREFIX = "q_"
MAX_FILES = 10
FILE_ACCEPT = "image/jpeg,image/png,image/gif,image/webp,application/pdf"


def _file_help() -> str:
    return gettext("JPEG, PNG, GIF, WebP or PDF, up to 10 MB each, at most %(count)d files.") % {
        "count": MAX_FILES
    }


FILE_HELP = lazy(_file_help, str)()
NEEDS_ANSWER = _("This question needs an answer.")
SIX_PLACES = Decimal("0.000001")


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input; each is checked by content and size in the service."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": FILE_ACCEPT}))
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else [data] if data else []
        if len(files) > MAX_FILES:
            raise ValidationError(
                _("Send at most %(count)d files at once.") % {"count": MAX_FILES},
                code="too_many",
            )
        return [super(MultipleFileField, self).clean(f, initial) for f in files]


class ServiceErrorsMixin:
    """Show a service's ValidationError on the form: `answers.<key>` on the question's field,
    `attachments` on the file field, anything the form lacks above the form."""

    file_field = "photos"

    def apply_service_errors(self, exc: ValidationError) -> None:
        if not hasattr(exc, "error_dict"):
            self.add_error(None, exc.messages)
            return
        for key, messages in exc.message_dict.items():
            if key.startswith("answers."):
                field = QUESTION_PREFIX + key.removeprefix("answers.")
            elif key == "attachments":
                field = self.file_field
            else:
                field = key
            self.add_error(field if field in self.fields else None, messages)


def choice_values(question: dict) -> list[tuple[str, str]]:
    choices = []
    for choice in question.get("choices", []):
        if isinstance(choice, dict):
            label = choice.get("label")
            value = str(choice.get("value", ""))
            label = translated(label) if isinstance(label, dict) else str(label or value)
        else:
            value = label = str(choice)
        choices.append((value, label))
    return choices


def question_field(question: dict) -> forms.Field:
    """A form field for one intake question: its type's widget, its label and help in the
    active language, its required flag. The service checks the answer's format."""
    kind = question.get("type", "text")
    required = bool(question.get("required"))
    help_text = question.get("help")
    options = {
        "label": translated(question["label"]),
        "required": required,
        "help_text": translated(help_text) if isinstance(help_text, dict) else "",
        "error_messages": {"required": NEEDS_ANSWER},
    }
    if kind == "choice":
        choices = choice_values(question)
        if len(choices) <= 5:
            return forms.ChoiceField(choices=choices, widget=forms.RadioSelect, **options)
        return forms.ChoiceField(choices=[("", "—"), *choices], **options)
    if kind == "boolean":
        return forms.ChoiceField(
            choices=[("yes", _("Yes")), ("no", _("No"))], widget=forms.RadioSelect, **options
        )
    if kind == "number":
        widget = forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"})
        return forms.CharField(max_length=50, widget=widget, **options)
    if kind == "date":
        return forms.CharField(
            max_length=10, widget=forms.DateInput(attrs={"type": "date"}), **options
        )
    return forms.CharField(max_length=2000, **options)


class CaseLodgeForm(ServiceErrorsMixin, forms.Form):
    """Lodging a case in one category. Fields: the category's questions (q_<key>), subject,
    description, the account it concerns, where (for categories that need a location), photos."""

    same_as = forms.UUIDField(required=False, widget=forms.HiddenInput)
    subject = forms.CharField(
        label=_("Subject"),
        max_length=200,
        help_text=_("In a few words, e.g. “No water since this morning”."),
        error_messages={"required": _("Say briefly what it is about.")},
    )
    description = forms.CharField(
        label=_("Description"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("What happened, since when, anything that helps us."),
    )
    account = forms.ChoiceField(
        label=_("Account or premises it concerns"),
        required=False,
        help_text=_("One of the accounts linked to you: then we know where."),
    )
    address = forms.CharField(
        label=_("Address or place"),
        required=False,
        max_length=300,
        help_text=_("Street and number, or a landmark. Not needed if you chose an account."),
        widget=forms.TextInput(attrs={"autocomplete": "street-address"}),
    )
    latitude = forms.DecimalField(
        label=_("Latitude"),
        required=False,
        min_value=-90,
        max_value=90,
        widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}),
    )
    longitude = forms.DecimalField(
        label=_("Longitude"),
        required=False,
        min_value=-180,
        max_value=180,
        widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}),
    )
    photos = MultipleFileField(label=_("Photos or documents"), help_text=FILE_HELP)

    def __init__(self, *args, category, accounts, **kwargs):
        super().__init__(*args, **kwargs)
        self.category = category
        self.questions = list(category.questions or [])
        question_fields = {
            QUESTION_PREFIX + q["key"]: question_field(q) for q in self.questions if q.get("key")
        }
        self.fields.update(question_fields)
        self.order_fields(["subject", *question_fields])
        self.accounts = {account.number: account for account in accounts}
        if self.accounts:
            self.fields["account"].choices = [
                ("", _("None")),
                *((a.number, f"{a.number} — {a.premises.address}") for a in accounts),
            ]
        else:
            del self.fields["account"]
        if not category.requires_location:
            for name in ("address", "latitude", "longitude"):
                del self.fields[name]
        if self.data.get("same_as"):
            # Joining a known problem: its category says what it is about.
            self.fields["subject"].required = False

    @property
    def question_names(self) -> list[str]:
        return [name for name in self.fields if name.startswith(QUESTION_PREFIX)]

    @property
    def has_location(self) -> bool:
        return "address" in self.fields

    def clean_latitude(self):
        value = self.cleaned_data.get("latitude")
        return value.quantize(SIX_PLACES) if value is not None else None

    def clean_longitude(self):
        value = self.cleaned_data.get("longitude")
        return value.quantize(SIX_PLACES) if value is not None else None

    def clean(self):
        data = super().clean()
        if self.has_location and (data.get("latitude") is None) != (data.get("longitude") is None):
            self.add_error("longitude", _("Give both the latitude and the longitude, or neither."))
        return data

    def answers(self) -> dict:
        return {
            name.removeprefix(QUESTION_PREFIX): self.cleaned_data[name]
            for name in self.question_names
            if self.cleaned_data.get(name) not in (None, "")
        }

    def selected_account(self):
        return self.accounts.get(self.cleaned_data.get("account") or "")


class ReplyForm(ServiceErrorsMixin, forms.Form):
    text = forms.CharField(
        label=_("Your message"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    photos = MultipleFileField(label=_("Attach photos or documents"), help_text=FILE_HELP)


class ReopenForm(ServiceErrorsMixin, forms.Form):
    note = forms.CharField(
        label=_("What is still wrong?"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class RatingForm(ServiceErrorsMixin, forms.Form):
    rating = forms.TypedChoiceField(
        label=_("How well was it resolved? (1 = poorly, 5 = very well)"),
        choices=[(str(n), str(n)) for n in range(1, 6)],
        coerce=int,
        widget=forms.RadioSelect(attrs={"class": "scale"}),
        error_messages={
            "required": _("Give a rating from 1 to 5."),
            "invalid_choice": _("Give a rating from 1 to 5."),
        },
    )
    comment = forms.CharField(
        label=_("Comment"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
