"""The public calculators' forms: a month's bill on a tariff (with only the inputs that tariff
reads, `engine.inputs_used`) and a prepaid electricity purchase. Numbers are typed in the
reader's style (a decimal comma in Russian or Afrikaans); the engine says what a tariff still
needs, and the view puts that on the field it is about."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _

from civicdesk.tariffs import definition, engine, prepaid

# Integer inputs: (lowest, highest).
_COUNTS = {"occupants": (0, 10_000), "days_of_service": (0, 31), "days_in_service": (1, 31)}
_FLAGS = ("indigent", "pensioner")
# Inputs every tariff reads through the period, which the form asks for once, as the month.
_PERIOD_INPUTS = ("period", "period_start", "period_end")
# The order the inputs are asked in.
_ORDER = (
    "consumption",
    "area_m2",
    "heated_area_m2",
    "occupants",
    "meter_size",
    "valuation",
    "building_consumption",
    "building_area_m2",
    "temperature_coefficient",
    "days_of_service",
    "days_in_service",
    "indigent",
    "pensioner",
)
EXTRA_PREFIX = "extra__"


class MonthField(forms.DateField):
    """A month as YYYY-MM (what `<input type="month">` sends); the date is its first day."""

    widget = forms.DateInput(attrs={"type": "month"}, format="%Y-%m")

    def __init__(self, **kwargs):
        kwargs.setdefault("input_formats", ["%Y-%m"])
        super().__init__(**kwargs)


def _quantity(label, *, places: int = 6, help_text: str = "") -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        help_text=help_text,
        required=False,
        min_value=Decimal(0),
        max_digits=18,
        decimal_places=places,
        localize=True,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )


def _meter_sizes(tariff: definition.Tariff) -> tuple[list[str], bool]:
    """The meter sizes the tariff's fixed charges name, and whether one may be left out (a
    charge with a default amount)."""
    sizes: list[str] = []
    optional = True
    for charge in tariff.charges:
        if isinstance(charge, definition.FixedCharge) and charge.by_meter_size:
            sizes.extend(size for size, _amount in charge.by_meter_size if size not in sizes)
            optional = optional and charge.amount is not None
    return sizes, optional


def input_fields(tariff: definition.Tariff) -> dict[str, forms.Field]:
    """A field for each input the tariff's price can depend on, in a stable order."""
    names, extra = engine.inputs_used(tariff)
    unit = tariff.unit
    labels = {
        "consumption": _("Consumption in the month (%(unit)s)") % {"unit": unit},
        "area_m2": _("Area of the premises (m²)"),
        "heated_area_m2": _("Heated area of the premises (m²)"),
        "occupants": _("People living there"),
        "meter_size": _("Meter size"),
        "valuation": _("Municipal valuation of the property (%(currency)s)")
        % {"currency": tariff.currency},
        "building_consumption": _("Building meter: consumption in the month (%(unit)s)")
        % {"unit": unit},
        "building_area_m2": _("Total area the building meter is shared over (m²)"),
        "temperature_coefficient": _("Temperature coefficient"),
        "days_of_service": _("Days heating was supplied"),
        "days_in_service": _("Days of the month with the service"),
        "indigent": _("Registered as an indigent (needy) household"),
        "pensioner": _("Pensioner"),
    }
    helps = {
        "days_in_service": _("Leave empty for the whole month."),
        "temperature_coefficient": _("Leave empty to use the tariff's own."),
    }
    fields: dict[str, forms.Field] = {}
    for name in _ORDER:
        if name not in names:
            continue
        label, help_text = labels[name], helps.get(name, "")
        if name in _COUNTS:
            low, high = _COUNTS[name]
            fields[name] = forms.IntegerField(
                label=label,
                help_text=help_text,
                required=False,
                min_value=low,
                max_value=high,
                widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
            )
        elif name in _FLAGS:
            fields[name] = forms.BooleanField(label=label, required=False)
        elif name == "meter_size":
            sizes, optional = _meter_sizes(tariff)
            choices = [(size, size) for size in sizes]
            if optional:
                choices.insert(0, ("", _("Other or not known")))
            fields[name] = forms.ChoiceField(label=label, choices=choices, required=not optional)
        else:
            places = 2 if name == "valuation" else 6
            fields[name] = _quantity(label, places=places, help_text=help_text)
    for name in extra:
        fields[EXTRA_PREFIX + name] = _quantity(name)
    return fields


class QuoteForm(forms.Form):
    """A month on one tariff. `shown_for` is the tariff whose inputs the form shows: when the
    tariff chosen differs (no JavaScript to swap the inputs), the view shows the new inputs
    instead of pricing."""

    tariff = forms.ChoiceField(
        label=_("Tariff"),
        widget=forms.Select(
            attrs={
                "hx-get": reverse_lazy("calculators:inputs"),
                "hx-trigger": "change",
                "hx-target": "#quote-inputs",
                "hx-swap": "outerHTML",
            }
        ),
    )
    period = MonthField(
        label=_("Month"), required=False, help_text=_("This month when left empty.")
    )
    shown_for = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, choices, tariff: definition.Tariff | None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tariff"].choices = choices
        self.tariff = tariff
        if tariff is not None:
            self.fields.update(input_fields(tariff))

    def input_names(self) -> list[str]:
        return [name for name in self.fields if name not in ("tariff", "period", "shown_for")]

    def input_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.input_names()]

    def pricing_inputs(self) -> dict:
        """The engine's inputs (`PricingInput` fields) from the cleaned data; empty fields are
        left out, so the engine says when a tariff needs one."""
        data = self.cleaned_data
        inputs: dict = {}
        extra: dict[str, Decimal] = {}
        for name in self.input_names():
            value = data.get(name)
            if value is None or value == "":
                continue
            if name.startswith(EXTRA_PREFIX):
                extra[name.removeprefix(EXTRA_PREFIX)] = value
            else:
                inputs[name] = value
        if extra:
            inputs["extra"] = extra
        return inputs

    def field_for(self, error: engine.PricingError) -> str | None:
        """The field a pricing error is about, or None for the form as a whole."""
        if error.code == engine.TARIFF_NOT_IN_FORCE:
            return "period"
        if error.code == engine.METER_SIZE_UNKNOWN:
            name = "meter_size"
        else:
            name = str(error.params.get("input") or "")
        if name in _PERIOD_INPUTS:
            return "period"
        if name.startswith("extra."):
            name = EXTRA_PREFIX + name.removeprefix("extra.")
        return name if name in self.fields else None


class PrepaidForm(forms.Form):
    """A prepaid purchase: the payment (tax included) and the units already bought in the
    month."""

    tariff = forms.ChoiceField(label=_("Tariff"))
    amount = forms.DecimalField(
        label=_("Amount to pay, tax included"),
        min_value=Decimal(0),
        max_digits=14,
        decimal_places=2,
        localize=True,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    already_purchased_units = forms.DecimalField(
        label=_("Units already bought this month"),
        required=False,
        min_value=Decimal(0),
        max_digits=18,
        decimal_places=6,
        localize=True,
        help_text=_("Later purchases in a month cost more once the cheaper blocks are used."),
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    period = MonthField(
        label=_("Month"), required=False, help_text=_("This month when left empty.")
    )

    def __init__(self, *args, choices, **kwargs):
        kwargs.setdefault("prefix", "prepaid")
        super().__init__(*args, **kwargs)
        self.fields["tariff"].choices = choices

    def field_for(self, error: engine.PricingError) -> str | None:
        if error.code == engine.TARIFF_NOT_IN_FORCE:
            return "period"
        name = str(error.params.get("input") or "")
        if name in self.fields:
            return name
        return "tariff" if error.code in prepaid.PREPAID_ERROR_CODES else None
