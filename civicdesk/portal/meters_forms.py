"""The resident's meter-reading form: one field per register of the meter, and an optional
photo. The values stay text here: the metering services parse them (either decimal mark) and
say in the resident's language what is wrong with them."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from civicdesk.metering.models import REGISTER_LABELS, Meter

MAX_VALUE_LENGTH = 20


def field_name(register: str) -> str:
    return f"value_{register}"


class ReadingForm(forms.Form):
    """Built for one meter; several of them share a page, so each gets the meter's prefix."""

    photo = forms.FileField(
        label=_("Photo of the meter (optional)"),
        required=False,
        help_text=_("A photo of the dial helps us if the reading is questioned."),
        widget=forms.ClearableFileInput(attrs={"accept": "image/*"}),
    )

    def __init__(
        self, *args, meter: Meter, previous: dict[str, str] | None = None, partial=False, **kw
    ):
        """``previous``: register → a line about its previous reading, shown under the field."""
        kw.setdefault("prefix", prefix_for(meter))
        super().__init__(*args, **kw)
        self.meter = meter
        previous = previous or {}
        fields = {}
        single = len(meter.registers) == 1
        for register in meter.registers:
            fields[field_name(register)] = forms.CharField(
                label=_("New reading") if single else REGISTER_LABELS.get(register, register),
                max_length=MAX_VALUE_LENGTH,
                # While typing (the instant check) an empty register is simply not checked yet.
                required=not partial,
                error_messages={"required": _("Enter the reading shown on the meter.")},
                widget=forms.TextInput(
                    attrs={
                        "inputmode": "decimal",
                        "autocomplete": "off",
                        "spellcheck": "false",
                        "data-register": register,
                    }
                ),
            )
        # The registers first, then the photo.
        self.fields = {**fields, "photo": self.fields["photo"]}
        for register, text in previous.items():
            if field_name(register) in self.fields:
                self.fields[field_name(register)].help_text = text

    def register_fields(self) -> list[forms.BoundField]:
        return [self[field_name(register)] for register in self.meter.registers]

    def values(self) -> dict[str, str]:
        """register → the typed text, only for the registers typed in."""
        data = self.cleaned_data
        return {
            register: data[field_name(register)].strip()
            for register in self.meter.registers
            if (data.get(field_name(register)) or "").strip()
        }

    def add_service_error(self, exc: ValidationError) -> None:
        """A service's ValidationError on the form: a register's name onto its field."""
        if hasattr(exc, "error_dict"):
            for key, errors in exc.message_dict.items():
                name = field_name(key) if key in self.meter.registers else key
                self.add_error(name if name in self.fields else None, errors)
        else:
            self.add_error(None, exc.messages)


def prefix_for(meter: Meter) -> str:
    return f"m{meter.public_id.hex[:12]}"
