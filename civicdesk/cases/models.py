"""Cases: categories (a tree with intake questions and SLAs), teams and routing rules, the
cases themselves, their append-only timeline, attachments, calls and Open311 clients."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from civicdesk.cases import workflow
from civicdesk.core.models import AppendOnlyModel, TimeStampedModel
from civicdesk.registry.models import Territory


class Channel(models.TextChoices):
    PORTAL = "portal", _("Portal")
    API = "api", _("API")
    PHONE = "phone", _("Phone")
    WALK_IN = "walk_in", _("Walk-in")
    EMAIL = "email", _("E-mail")
    SMS = "sms", _("SMS")
    OPEN311 = "open311", _("Open311")


class Priority(models.TextChoices):
    LOW = "low", _("Low")
    NORMAL = "normal", _("Normal")
    HIGH = "high", _("High")
    URGENT = "urgent", _("Urgent")


class Status(models.TextChoices):
    NEW = workflow.NEW, _("New")
    ASSIGNED = workflow.ASSIGNED, _("Assigned")
    IN_PROGRESS = workflow.IN_PROGRESS, _("In progress")
    WAITING_CUSTOMER = workflow.WAITING_CUSTOMER, _("Waiting for you")
    RESOLVED = workflow.RESOLVED, _("Resolved")
    CLOSED = workflow.CLOSED, _("Closed")
    REOPENED = workflow.REOPENED, _("Reopened")
    CANCELLED = workflow.CANCELLED, _("Cancelled")


class SlaUnit(models.TextChoices):
    WORKING_HOURS = "working_hours", _("working hours")
    WORKING_DAYS = "working_days", _("working days")
    CALENDAR_DAYS = "calendar_days", _("calendar days")


def validate_translations(value) -> None:
    if not isinstance(value, dict) or not value.get("en"):
        raise ValidationError(_('Give at least the English text, e.g. {"en": "…"}.'))


QUESTION_TYPES = ("text", "number", "choice", "date", "boolean")


def validate_questions(value) -> None:
    if not isinstance(value, list):
        raise ValidationError(_("Intake questions are a list."))
    keys = set()
    for question in value:
        if not isinstance(question, dict) or not question.get("key"):
            raise ValidationError(_("Each question needs a key."))
        if question["key"] in keys:
            raise ValidationError(_("Question keys must be unique."))
        keys.add(question["key"])
        if question.get("type", "text") not in QUESTION_TYPES:
            raise ValidationError(
                _("Unknown question type: %(type)s") % {"type": question.get("type")}
            )
        validate_translations(question.get("label"))
        if question.get("type") == "choice" and not question.get("choices"):
            raise ValidationError(_("A choice question needs choices."))


def translated(texts: dict, language: str | None = None) -> str:
    language = language or translation.get_language() or "en"
    return texts.get(language) or texts.get(language.split("-")[0]) or texts.get("en", "")


class Category(TimeStampedModel):
    class Kind(models.TextChoices):
        ENQUIRY = "enquiry", _("Enquiry")
        COMPLAINT = "complaint", _("Complaint")
        INVOICE_DISPUTE = "invoice_dispute", _("Invoice dispute")
        REFUND = "refund", _("Refund request")
        MISSING_PAYMENT = "missing_payment", _("Missing payment")
        METER_FAULT = "meter_fault", _("Meter fault")
        LEAK = "leak", _("Water leak")
        OUTAGE = "outage", _("Outage")
        VOLTAGE = "voltage", _("Voltage problem")
        DEFECT = "defect", _("Equipment defect")
        APPEAL = "appeal", _("Appeal to the director")
        SCHEME_QUERY = "scheme_query", _("Scheme registration query")
        OTHER = "other", _("Other")

    code = models.SlugField(_("code"), max_length=60, unique=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.ENQUIRY)
    names = models.JSONField(_("names"), validators=[validate_translations])
    descriptions = models.JSONField(_("descriptions"), default=dict, blank=True)
    questions = models.JSONField(
        _("intake questions"), default=list, blank=True, validators=[validate_questions]
    )
    public = models.BooleanField(_("public (Open311)"), default=False)
    requires_location = models.BooleanField(_("needs a location"), default=False)
    default_priority = models.CharField(
        _("default priority"), max_length=10, choices=Priority.choices, default=Priority.NORMAL
    )
    first_response_amount = models.PositiveIntegerField(null=True, blank=True)
    first_response_unit = models.CharField(max_length=15, choices=SlaUnit.choices, blank=True)
    resolution_amount = models.PositiveIntegerField(null=True, blank=True)
    resolution_unit = models.CharField(max_length=15, choices=SlaUnit.choices, blank=True)
    reopen_days = models.PositiveSmallIntegerField(_("reopen within (days)"), default=14)
    active = models.BooleanField(_("active"), default=True)
    order = models.PositiveSmallIntegerField(default=100)

    class Meta:
        ordering = ["order", "code"]
        verbose_name = _("category")
        verbose_name_plural = _("categories")

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return translated(self.names)

    @property
    def description(self) -> str:
        return translated(self.descriptions) if self.descriptions else ""

    def clean(self) -> None:
        for prefix in ("first_response", "resolution"):
            amount, unit = getattr(self, f"{prefix}_amount"), getattr(self, f"{prefix}_unit")
            if (amount is None) != (not unit):
                raise ValidationError({f"{prefix}_unit": _("Give both the amount and the unit.")})


class Team(TimeStampedModel):
    class Strategy(models.TextChoices):
        ROUND_ROBIN = "round_robin", _("Round robin")
        LEAST_LOADED = "least_loaded", _("Least loaded")

    code = models.SlugField(_("code"), max_length=60, unique=True)
    name = models.CharField(_("name"), max_length=150)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="teams")
    strategy = models.CharField(
        _("assignment"), max_length=15, choices=Strategy.choices, default=Strategy.ROUND_ROBIN
    )
    last_assigned = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("team")
        verbose_name_plural = _("teams")

    def __str__(self) -> str:
        return self.name


class RoutingRule(models.Model):
    order = models.PositiveIntegerField(_("order"), default=100)
    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.CASCADE)
    territory = models.ForeignKey(Territory, null=True, blank=True, on_delete=models.CASCADE)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices, blank=True)
    priority = models.CharField(_("priority"), max_length=10, choices=Priority.choices, blank=True)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="rules")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["order", "id"]
        verbose_name = _("routing rule")
        verbose_name_plural = _("routing rules")

    def __str__(self) -> str:
        return f"#{self.order} → {self.team}"


class Case(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    reference = models.CharField(_("reference"), max_length=20, unique=True)
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="cases")
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="cases",
    )
    contact_name = models.CharField(_("contact name"), max_length=150, blank=True)
    contact_email = models.EmailField(_("contact e-mail"), blank=True)
    contact_phone = models.CharField(_("contact phone"), max_length=32, blank=True)
    contact_language = models.CharField(max_length=8, blank=True)
    subject = models.CharField(_("subject"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    answers = models.JSONField(_("answers"), default=dict, blank=True)
    territory = models.ForeignKey(
        Territory, null=True, blank=True, on_delete=models.SET_NULL, related_name="cases"
    )
    latitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    address = models.CharField(_("address"), max_length=300, blank=True)
    priority = models.CharField(_("priority"), max_length=10, choices=Priority.choices)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.NEW, db_index=True
    )
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_cases",
    )
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="duplicates"
    )
    created_at = models.DateTimeField(_("created at"), db_index=True)
    updated_at = models.DateTimeField(_("updated at"))
    first_response_due = models.DateTimeField(null=True, blank=True)
    first_responded_at = models.DateTimeField(null=True, blank=True)
    resolution_due = models.DateTimeField(null=True, blank=True, db_index=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    paused_since = models.DateTimeField(null=True, blank=True)
    pauses = models.JSONField(default=list, blank=True)  # [[start, end], …] ISO, UTC
    sla_state = models.CharField(max_length=10, default="ok", db_index=True)
    rating = models.PositiveSmallIntegerField(null=True, blank=True)
    rating_comment = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("case")
        verbose_name_plural = _("cases")
        indexes = [
            models.Index(fields=["status", "team"]),
            models.Index(fields=["category", "territory", "status"]),
        ]
        permissions = [("work_case", "Can work on cases (notes, status, assignment)")]

    def __str__(self) -> str:
        return f"{self.reference} {self.subject}"

    @property
    def is_open(self) -> bool:
        return self.status in workflow.OPEN


class CaseLink(models.Model):
    """What a case concerns: an account, premises, later invoices, payments, schemes."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="links")
    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE)
    object_id = models.CharField(max_length=64)
    target = GenericForeignKey("content_type", "object_id")
    label = models.CharField(max_length=200)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["case", "content_type", "object_id"], name="case_link_unique"
            )
        ]

    def __str__(self) -> str:
        return self.label


class CaseEvent(AppendOnlyModel):
    class Kind(models.TextChoices):
        CREATED = "created", _("Created")
        ROUTED = "routed", _("Routed")
        ASSIGNED = "assigned", _("Assigned")
        STATUS = "status", _("Status changed")
        NOTE = "note", _("Note")
        MESSAGE = "message", _("Message")
        ATTACHMENT = "attachment", _("Attachment")
        SLA_BREACHED = "sla_breached", _("SLA breached")
        RECATEGORISED = "recategorised", _("Category changed")
        LINKED = "linked", _("Linked")
        RATED = "rated", _("Rated")
        DUPLICATE = "duplicate", _("Marked as duplicate")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    public = models.BooleanField(default=False)
    text = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("case event")
        verbose_name_plural = _("case events")

    def __str__(self) -> str:
        return f"{self.case_id} {self.kind}"


class Attachment(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to="case-attachments/%Y/%m/")
    name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    public = models.BooleanField(default=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return self.name


class Call(models.Model):
    class Outcome(models.TextChoices):
        RESOLVED = "resolved", _("Resolved on the call")
        CASE_CREATED = "case_created", _("Case created")
        CASE_UPDATED = "case_updated", _("Case updated")
        CALLBACK = "callback", _("Call back")
        TRANSFERRED = "transferred", _("Transferred")
        DROPPED = "dropped", _("Dropped")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="calls"
    )
    caller_phone = models.CharField(max_length=32, blank=True)
    caller = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    account_number = models.CharField(max_length=20, blank=True)
    case = models.ForeignKey(
        Case, null=True, blank=True, on_delete=models.SET_NULL, related_name="calls"
    )
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    outcome = models.CharField(_("outcome"), max_length=15, choices=Outcome.choices, blank=True)
    first_contact_resolution = models.BooleanField(default=False)
    started_at = models.DateTimeField(db_index=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    handling_seconds = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        verbose_name = _("call")
        verbose_name_plural = _("calls")

    def __str__(self) -> str:
        return f"{self.started_at:%Y-%m-%d %H:%M} {self.caller_phone}"


class ReferenceCounter(models.Model):
    """The next case number per year (C-2026-000123), handed out under a row lock."""

    year = models.PositiveSmallIntegerField(primary_key=True)
    next = models.PositiveIntegerField(default=1)

    def __str__(self) -> str:
        return f"{self.year}: {self.next}"


class WorkingHours(models.Model):
    """The operator's working week for SLAs: windows per weekday, e.g. Mon–Fri 08:00–17:00.
    Public holidays come from the `holidays` library for the operator's country."""

    weekday = models.PositiveSmallIntegerField(choices=[(i, str(i)) for i in range(7)])
    opens = models.TimeField()
    closes = models.TimeField()

    class Meta:
        ordering = ["weekday", "opens"]
        verbose_name = _("working hours")
        verbose_name_plural = _("working hours")

    def __str__(self) -> str:
        return f"{self.weekday} {self.opens}–{self.closes}"


class Closure(models.Model):
    """Days the operator does not work beyond public holidays."""

    starts_on = models.DateField()
    ends_on = models.DateField()
    reason = models.CharField(max_length=200)

    def __str__(self) -> str:
        return f"{self.starts_on}–{self.ends_on} {self.reason}"


class Open311Client(models.Model):
    name = models.CharField(max_length=150)
    key_digest = models.CharField(max_length=64, unique=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name
