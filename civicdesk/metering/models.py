"""Meters, their registers, readings, estimates' true-ups, imports and consumption alerts.

A meter measures one resource on one or more registers (a single-rate meter has ``T``; a
day/night meter ``T1`` (day) and ``T2`` (night); a three-rate meter ``T1`` peak, ``T2`` night,
``T3`` half-peak). Every reading is kept, accepted or not, with its reason. ``MeterRegister`` is
the validation state of one register (last value, last real value, recent monthly use), kept by
the services in the same transaction as the readings, so validating a file of a million
readings needs one row per register instead of each meter's whole history.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from civicdesk.core.identifiers import uuid7
from civicdesk.core.models import TimeStampedModel

QUANTITY = {"max_digits": 15, "decimal_places": 3}


class Resource(models.TextChoices):
    COLD_WATER = "cold_water", _("Cold water")
    HOT_WATER = "hot_water", _("Hot water")
    ELECTRICITY = "electricity", _("Electricity")
    GAS = "gas", _("Gas")
    HEAT = "heat", _("Heat")


# The registry service each resource is billed as (registry.ServiceType values).
RESOURCE_SERVICE = {
    Resource.COLD_WATER: "cold_water",
    Resource.HOT_WATER: "hot_water",
    Resource.ELECTRICITY: "electricity",
    Resource.GAS: "gas",
    Resource.HEAT: "heating",
}

DEFAULT_UNITS = {
    Resource.COLD_WATER: "m3",
    Resource.HOT_WATER: "m3",
    Resource.ELECTRICITY: "kWh",
    Resource.GAS: "m3",
    Resource.HEAT: "Gcal",
}


class Rates(models.TextChoices):
    SINGLE = "single", _("Single rate")
    DAY_NIGHT = "day_night", _("Day/night")
    THREE_RATE = "three_rate", _("Three rates")


REGISTERS = {
    Rates.SINGLE: ("T",),
    Rates.DAY_NIGHT: ("T1", "T2"),
    Rates.THREE_RATE: ("T1", "T2", "T3"),
}

REGISTER_LABELS = {
    "T": _("Total"),
    "T1": _("Day / peak"),
    "T2": _("Night"),
    "T3": _("Half-peak"),
}


class MeteringSettingsQuerySet(models.QuerySet):
    """A bulk change of the settings clears their cache, as saving one does (deleting sends
    post_delete for each row)."""

    def update(self, **kwargs):
        changed = super().update(**kwargs)
        _metering_settings_forget()
        return changed


class MeteringSettings(models.Model):
    """The operator's metering rules. One row; `selectors.metering_settings()` creates it with
    the jurisdiction's defaults (`jurisdictions.py`) the first time it is asked for, and caches
    it (cleared whenever it is saved)."""

    class OutsideWindow(models.TextChoices):
        NEXT_PERIOD = "next_period", _("Accept it for the next period")
        REJECT = "reject", _("Reject it")

    operator = models.OneToOneField(
        "registry.Operator", on_delete=models.CASCADE, related_name="metering_settings"
    )
    # SMS
    sms_grammars = models.JSONField(
        _("accepted SMS formats"),
        default=list,
        help_text=_("Any of: spaced, glued, hash (see docs/sms.md)."),
    )
    sms_codes = models.JSONField(
        _("SMS codes"),
        default=dict,
        help_text=_('Code → resource, e.g. {"ХВ": "cold_water"}.'),
    )
    sms_keywords = models.JSONField(
        _("SMS keywords"),
        default=list,
        blank=True,
        help_text=_("Optional words before the account."),
    )
    sms_any_sender = models.BooleanField(
        _("accept readings from any phone"),
        default=False,
        help_text=_("Otherwise the sender must be linked to the account or be its holder's phone."),
    )
    # Validation
    window_start_day = models.PositiveSmallIntegerField(
        _("submission window opens on day"),
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(31)],
    )
    window_end_day = models.PositiveSmallIntegerField(
        _("submission window closes on day"),
        default=31,
        validators=[MinValueValidator(1), MaxValueValidator(31)],
    )
    outside_window = models.CharField(
        _("a reading outside the window"),
        max_length=12,
        choices=OutsideWindow.choices,
        default=OutsideWindow.NEXT_PERIOD,
    )
    spike_factor = models.DecimalField(
        _("flag use above this many times the trailing average"),
        max_digits=6,
        decimal_places=2,
        default=Decimal("3"),
        validators=[MinValueValidator(Decimal("1"))],
    )
    spike_history_months = models.PositiveSmallIntegerField(
        _("months in the trailing average"),
        default=6,
        validators=[MinValueValidator(1), MaxValueValidator(12)],
    )
    # Estimation
    estimate_average_months = models.PositiveSmallIntegerField(
        _("months averaged for an estimate"),
        default=6,
        validators=[MinValueValidator(1), MaxValueValidator(12)],
    )
    estimate_min_months = models.PositiveSmallIntegerField(
        _("fewest months of history for an average"),
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(12)],
    )
    estimate_max_periods = models.PositiveSmallIntegerField(
        _("periods estimated by average before the norm applies"),
        default=3,
        validators=[MinValueValidator(0), MaxValueValidator(24)],
    )
    norms = models.JSONField(
        _("norms"),
        default=dict,
        blank=True,
        help_text=_('Resource → {"per_occupant": "6.935"} or {"per_m2": "0.0142"} per month.'),
    )
    # Anomalies and reminders
    leak_factor = models.DecimalField(
        _("signal a possible leak above this many times the household's usual use"),
        max_digits=6,
        decimal_places=2,
        default=Decimal("3"),
        validators=[MinValueValidator(Decimal("1"))],
    )
    leak_night_hours = models.PositiveSmallIntegerField(
        _("night hours of continuous flow that signal a leak"),
        default=4,
        validators=[MinValueValidator(1), MaxValueValidator(8)],
    )
    leak_opens_case = models.BooleanField(_("open a possible-leak case"), default=False)
    verification_reminder_days = models.PositiveSmallIntegerField(
        _("remind residents this many days before a meter's verification is due"), default=30
    )

    objects = MeteringSettingsQuerySet.as_manager()

    class Meta:
        verbose_name = _("metering settings")
        verbose_name_plural = _("metering settings")

    def __str__(self) -> str:
        return str(_("Metering settings"))

    def clean(self) -> None:
        """What the fields cannot check alone: SMS codes, formats and keywords the parser can
        use, the window, the estimation limits and the norms (`settings_problems`)."""
        super().clean()
        errors = settings_problems(self)
        if errors:
            raise ValidationError(errors)


def _metering_settings_forget() -> None:
    from civicdesk.metering.selectors import metering_settings_forget

    metering_settings_forget()


@receiver(post_save, sender=MeteringSettings, dispatch_uid="metering-settings-saved")
@receiver(post_delete, sender=MeteringSettings, dispatch_uid="metering-settings-deleted")
@receiver(post_save, sender="registry.Operator", dispatch_uid="metering-settings-operator")
@receiver(post_delete, sender="registry.Operator", dispatch_uid="metering-settings-operator-d")
def _metering_settings_changed(sender, **kwargs) -> None:
    """The cached settings (`selectors.metering_settings`) are gone once they or the operator
    change."""
    _metering_settings_forget()


NORM_BASES = ("per_occupant", "per_m2")


def _decimal_or_none(raw) -> Decimal | None:
    from decimal import InvalidOperation

    if isinstance(raw, bool) or not isinstance(raw, (str, int, float, Decimal)):
        return None
    try:
        value = Decimal(str(raw).strip())
    except (InvalidOperation, ValueError):
        return None
    return value if value.is_finite() else None


def settings_problems(settings_row: MeteringSettings) -> dict[str, list[str]]:
    """The settings' problems by field, in the active language; empty when usable."""
    from civicdesk.metering import sms

    errors: dict[str, list[str]] = {}

    def add(field: str, message) -> None:
        errors.setdefault(field, []).append(message)

    resources = dict(Resource.choices)
    known_resources = ", ".join(Resource.values)

    # SMS formats
    grammars = settings_row.sms_grammars
    if not isinstance(grammars, list) or not all(isinstance(g, str) for g in grammars):
        add(
            "sms_grammars",
            _("Give a list of SMS formats: any of %(formats)s.")
            % {"formats": ", ".join(sms.GRAMMARS)},
        )
    else:
        for grammar in grammars:
            if grammar not in sms.GRAMMARS:
                add(
                    "sms_grammars",
                    _("Unknown SMS format %(format)s: the formats are %(formats)s.")
                    % {"format": grammar, "formats": ", ".join(sms.GRAMMARS)},
                )

    # SMS codes and keywords
    codes = settings_row.sms_codes
    keywords = settings_row.sms_keywords if settings_row.sms_keywords is not None else []
    if not isinstance(codes, dict):
        add("sms_codes", _('Give the SMS codes as code → resource, e.g. {"ХВ": "cold_water"}.'))
        codes = {}
    for code, resource in codes.items():
        if not isinstance(resource, str) or resource not in resources:
            add(
                "sms_codes",
                _(
                    "Code %(code)s is for an unknown resource %(resource)s: the "
                    "resources are %(resources)s."
                )
                % {"code": code, "resource": resource, "resources": known_resources},
            )
    if not isinstance(keywords, list) or not all(isinstance(k, str) for k in keywords):
        add("sms_keywords", _("Give the SMS keywords as a list of words."))
        keywords = []
    code_problems = sms.check_codes(codes)
    all_problems = sms.check_codes(codes, keywords)
    for problem in code_problems:
        if problem.kind == "empty":
            add("sms_codes", _("An SMS code is empty."))
        elif problem.kind == "not_letters":
            add("sms_codes", _("SMS code %(code)s must be letters only.") % {"code": problem.code})
        else:  # same_as
            add(
                "sms_codes",
                _(
                    "SMS codes %(code)s and %(other)s read alike (case and letters "
                    "that look alike, such as Latin X and Cyrillic Х, do not count): "
                    "keep one."
                )
                % {"code": problem.code, "other": problem.other},
            )
    for problem in all_problems[len(code_problems) :]:
        if problem.kind == "keyword_clash":
            add(
                "sms_keywords",
                _(
                    "Keyword %(keyword)s reads like the SMS code %(code)s: a "
                    "message could not be told apart."
                )
                % {
                    "keyword": problem.code,
                    "code": problem.other,
                },
            )
        else:  # not_letters
            add(
                "sms_keywords",
                _("Keyword %(keyword)s must be one or more words of letters.")
                % {"keyword": problem.code},
            )

    # The submission window
    start, end = settings_row.window_start_day, settings_row.window_end_day
    if isinstance(start, int) and isinstance(end, int) and start > end:
        add(
            "window_end_day",
            _("The window cannot close (day %(end)d) before it opens (day %(start)d).")
            % {"start": start, "end": end},
        )

    # Estimation
    least, averaged = settings_row.estimate_min_months, settings_row.estimate_average_months
    if isinstance(least, int) and isinstance(averaged, int) and least > averaged:
        add(
            "estimate_min_months",
            _(
                "The fewest months of history (%(least)d) cannot be more "
                "than the months averaged (%(averaged)d)."
            )
            % {"least": least, "averaged": averaged},
        )
    norms = settings_row.norms if settings_row.norms is not None else {}
    if not isinstance(norms, dict):
        add(
            "norms",
            _('Give the norms as resource → {"per_occupant": "6.935"} or {"per_m2": "0.0142"}.'),
        )
        norms = {}
    for resource, norm in norms.items():
        if resource not in resources:
            add(
                "norms",
                _("Norm for an unknown resource %(resource)s: the resources are %(resources)s.")
                % {"resource": resource, "resources": known_resources},
            )
            continue
        label = resources[resource]
        if not isinstance(norm, dict) or not norm:
            add(
                "norms",
                _('%(resource)s: give {"per_occupant": "6.935"} or {"per_m2": "0.0142"}.')
                % {"resource": label},
            )
            continue
        for key, raw in norm.items():
            if key not in NORM_BASES:
                add(
                    "norms",
                    _("%(resource)s: unknown basis %(basis)s (per_occupant or per_m2).")
                    % {"resource": label, "basis": key},
                )
                continue
            value = _decimal_or_none(raw)
            if value is None or value < 0:
                add(
                    "norms",
                    _("%(resource)s: %(basis)s must be a number, zero or more.")
                    % {"resource": label, "basis": key},
                )
    return errors


class Meter(TimeStampedModel):
    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        REMOVED = "removed", _("Removed")
        FAULTY = "faulty", _("Faulty")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    serial = models.CharField(_("serial number"), max_length=40, unique=True)
    resource = models.CharField(_("resource"), max_length=20, choices=Resource.choices)
    rates = models.CharField(_("rates"), max_length=12, choices=Rates.choices, default=Rates.SINGLE)
    digits = models.PositiveSmallIntegerField(
        _("digits before the decimal point"),
        default=5,
        validators=[MinValueValidator(1), MaxValueValidator(10)],
    )
    multiplier = models.DecimalField(
        _("multiplier"),
        max_digits=10,
        decimal_places=4,
        default=Decimal("1"),
        validators=[MinValueValidator(Decimal("0.0001"))],
    )
    unit = models.CharField(_("unit"), max_length=10)
    installed_on = models.DateField(_("installed on"))
    seal_number = models.CharField(_("seal number"), max_length=40, blank=True)
    sealed_on = models.DateField(_("sealed on"), null=True, blank=True)
    verification_due_on = models.DateField(_("verification due on"), null=True, blank=True)
    verification_reminded_on = models.DateField(null=True, blank=True, editable=False)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.ACTIVE
    )
    removed_on = models.DateField(_("removed on"), null=True, blank=True)
    # An individual meter belongs to premises and the account billed for it; a building-level
    # (common-house) meter has a building and neither.
    building = models.ForeignKey(
        "registry.Building",
        verbose_name=_("building"),
        on_delete=models.PROTECT,
        related_name="meters",
    )
    premises = models.ForeignKey(
        "registry.Premises",
        verbose_name=_("premises"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="meters",
    )
    account = models.ForeignKey(
        "registry.PersonalAccount",
        verbose_name=_("account"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="meters",
    )
    replaces = models.OneToOneField(
        "self",
        verbose_name=_("replaces"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="replaced_by",
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["resource", "serial"]
        verbose_name = _("meter")
        verbose_name_plural = _("meters")
        indexes = [models.Index(fields=["account", "status"])]

    def __str__(self) -> str:
        return f"{self.get_resource_display()} {self.serial}"

    @property
    def registers(self) -> tuple[str, ...]:
        return REGISTERS[self.rates]

    @property
    def is_building_meter(self) -> bool:
        return self.premises_id is None


class MeterRegister(models.Model):
    """Validation state of one register, written with each reading (see the module docstring)."""

    meter = models.ForeignKey(Meter, on_delete=models.CASCADE, related_name="register_states")
    register = models.CharField(max_length=2)
    last_value = models.DecimalField(**QUANTITY, null=True)
    last_taken_at = models.DateTimeField(null=True)
    last_period = models.DateField(null=True)
    last_real_value = models.DecimalField(**QUANTITY, null=True)
    last_real_taken_at = models.DateTimeField(null=True)
    # Consecutive periods estimated since the last real reading, and their estimated use.
    estimated_periods = models.PositiveSmallIntegerField(default=0)
    estimated_quantity = models.DecimalField(**QUANTITY, default=Decimal("0"))
    # The last twelve periods' use: [["2026-09", "12.500"], ...], oldest first.
    recent = models.JSONField(default=list)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["meter", "register"], name="meter_register_unique")
        ]

    def __str__(self) -> str:
        return f"{self.meter_id}/{self.register}"


class Reading(models.Model):
    class Source(models.TextChoices):
        PORTAL = "portal", _("Portal")
        API = "api", _("API")
        SMS = "sms", _("SMS")
        IMPORT = "import", _("File import")
        STAFF = "staff", _("Staff")
        ESTIMATE = "estimate", _("Estimate")

    class Status(models.TextChoices):
        ACCEPTED = "accepted", _("Accepted")
        FLAGGED = "flagged", _("Flagged for review")
        REJECTED = "rejected", _("Rejected")

    # Time-ordered (version 7): new readings go into the unique index at its right-hand edge.
    public_id = models.UUIDField(default=uuid7, unique=True, editable=False)
    # Indexed by reading_meter_time (meter, register, taken_at), whose prefix serves the FK.
    meter = models.ForeignKey(
        Meter, on_delete=models.PROTECT, related_name="readings", db_index=False
    )
    register = models.CharField(_("register"), max_length=2, default="T")
    value = models.DecimalField(_("reading"), **QUANTITY)
    taken_at = models.DateTimeField(_("taken at"))
    # The billing period (first day of the month) the reading counts for.
    period = models.DateField(_("period"))
    # Use since the previous accepted reading or estimate, times the multiplier; None when
    # rejected or the first reading of a register.
    consumption = models.DecimalField(_("consumption"), **QUANTITY, null=True, blank=True)
    rolled_over = models.BooleanField(default=False, db_default=False)
    source = models.CharField(_("source"), max_length=10, choices=Source.choices)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices)
    # Machine-readable reason codes (validation.REASONS), comma-separated; "" when accepted.
    reasons = models.CharField(_("reasons"), max_length=200, blank=True, default="", db_default="")
    # No index on the user columns: every index costs each of a million imported rows, and
    # "readings by this user" is asked only on a user's deletion (SET NULL).
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("submitted by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    photo = models.FileField(
        _("photo"), upload_to="meter-photos/%Y/%m/", blank=True, default="", db_default=""
    )
    created_at = models.DateTimeField(_("received at"))
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-taken_at"]
        verbose_name = _("reading")
        verbose_name_plural = _("readings")
        permissions = [("review_reading", _("Can accept or reject flagged readings"))]
        indexes = [
            models.Index(fields=["meter", "register", "taken_at"], name="reading_meter_time"),
            # The review queue: only flagged readings are indexed, a few among millions.
            models.Index(
                fields=["created_at"],
                name="reading_flagged",
                condition=models.Q(status="flagged"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.meter.serial} {self.register} {self.value} @ {self.taken_at:%Y-%m-%d}"

    @property
    def is_estimate(self) -> bool:
        return self.source == self.Source.ESTIMATE


# The columns the bulk paths (file import, estimates) write for a reading, in this order.
READING_BULK_FIELDS = (
    "public_id",
    "meter_id",
    "register",
    "value",
    "taken_at",
    "period",
    "consumption",
    "rolled_over",
    "source",
    "status",
    "reasons",
    "submitted_by_id",
    "photo",
    "created_at",
)


class EstimateTrueUp(models.Model):
    """When a real reading follows estimates: what was estimated, what was really used, and the
    difference the billing run charges or credits."""

    meter = models.ForeignKey(Meter, on_delete=models.PROTECT, related_name="true_ups")
    register = models.CharField(max_length=2)
    reading = models.OneToOneField(Reading, on_delete=models.PROTECT, related_name="true_up")
    first_period = models.DateField()
    last_period = models.DateField()
    estimated = models.DecimalField(**QUANTITY)
    actual = models.DecimalField(**QUANTITY)
    difference = models.DecimalField(**QUANTITY)
    created_at = models.DateTimeField(auto_now_add=True)
    billed_period = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("estimate true-up")
        verbose_name_plural = _("estimate true-ups")

    def __str__(self) -> str:
        return f"{self.meter_id}/{self.register} {self.first_period}–{self.last_period}"


class ReadingImport(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        DONE = "done", _("Imported")
        CHECKED = "checked", _("Checked (dry run)")
        REFUSED = "refused", _("Refused")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    file_name = models.CharField(max_length=200)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    dry_run = models.BooleanField(default=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    rows_read = models.PositiveIntegerField(default=0)
    accepted = models.PositiveIntegerField(default=0)
    flagged = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    # [{"line", "field", "code", "message"}], the first 1,000; `error_count` counts them all.
    errors = models.JSONField(default=list)
    error_count = models.PositiveIntegerField(default=0)
    reasons = models.JSONField(default=dict)  # reason code → count of readings

    class Meta:
        ordering = ["-started_at"]
        verbose_name = _("reading import")
        verbose_name_plural = _("reading imports")

    def __str__(self) -> str:
        return self.file_name


class ConsumptionAlert(models.Model):
    class Kind(models.TextChoices):
        HIGH_USE = "high_use", _("Use far above the household's usual")
        NIGHT_FLOW = "night_flow", _("Continuous flow at night")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    meter = models.ForeignKey(Meter, on_delete=models.CASCADE, related_name="alerts")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    period = models.DateField()
    consumption = models.DecimalField(**QUANTITY)
    baseline = models.DecimalField(**QUANTITY)
    reading = models.ForeignKey(
        Reading, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    case = models.ForeignKey(
        "cases.Case", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("consumption alert")
        verbose_name_plural = _("consumption alerts")
        constraints = [
            models.UniqueConstraint(
                fields=["meter", "kind", "period"], name="consumption_alert_once_per_period"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.meter_id} {self.period}"
