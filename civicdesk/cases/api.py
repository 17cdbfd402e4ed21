"""Cases API. Residents lodge and follow their own cases by reference (anyone else's answers
404); staff read and work every case their role allows. Also: categories with their intake
questions, teams, routing rules and the call log.

Views parse, call one service or selector and serialize. Lookups the schema cannot check (a
category code, a team, an account number that does not exist) are 422, as every refusal by a
rule is; only a request that breaks the schema is a 400."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models, transaction
from django.db.models import Prefetch, Q
from django.http import FileResponse, Http404, QueryDict
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import exceptions, mixins, permissions, serializers, viewsets
from rest_framework import status as http_status
from rest_framework.decorators import action
from rest_framework.fields import empty
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from civicdesk.cases import calls, selectors, services, workflow
from civicdesk.cases.models import (
    QUESTION_TYPES,
    Attachment,
    Call,
    Case,
    CaseEvent,
    CaseLink,
    Category,
    Channel,
    Priority,
    RoutingRule,
    SlaUnit,
    Status,
    Team,
    translated,
)
from civicdesk.cases.staff_selectors import live_sla
from civicdesk.core.api import (
    StrictCharField,
    StrictEmailField,
    StrictModelSerializer,
    UnprocessableContent,
)
from civicdesk.registry.api import StaffModelPermissions
from civicdesk.registry.models import PersonalAccount, Territory

REFERENCE_PATTERN = "C-[0-9]{4}-[0-9]{6}"
UUID_PATTERN = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
CODE_PATTERN = "[-a-zA-Z0-9_]+"

SLA_STATES = [
    ("ok", gettext_lazy("On time")),
    ("at_risk", gettext_lazy("At risk")),
    ("breached", gettext_lazy("Breached")),
]
# The channels staff record a case from; residents' cases through the API are always "api".
STAFF_CHANNELS = [
    (c.value, c.label) for c in (Channel.PHONE, Channel.WALK_IN, Channel.EMAIL, Channel.API)
]
# Event data a resident may see (public events only): nothing about teams, rules or staff.
PUBLIC_EVENT_DATA = frozenset({"channel", "from", "to", "attachment", "name", "parent"})
# Lookups of things that may not exist: a schema-valid value the server refuses, so 422.
UNPROCESSABLE_CODES = frozenset({"does_not_exist", "unprocessable"})

MAX_TEXT = 10_000
MAX_NOTE = 5_000


def _form_data(field) -> bool:
    """Whether the field's serializer is reading a form (every value a string) and not JSON."""
    return isinstance(getattr(field.root, "initial_data", None), QueryDict)


# Strict counterparts of DRF's number and boolean fields, as core.api.StrictCharField is for
# text: in JSON a number is a number and a boolean true or false (DRF takes "5", 0 and
# false for them), and in a form a boolean is "true" or "false". A form leaving a boolean out
# has not sent it, so its default applies (DRF reads it as false).
class StrictBooleanField(serializers.BooleanField):
    default_empty_html = empty

    def to_internal_value(self, data):
        if _form_data(self) and isinstance(data, str) and data.lower() in ("true", "false"):
            return data.lower() == "true"
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class StrictIntegerField(serializers.IntegerField):
    def to_internal_value(self, data):
        if not _form_data(self) and (
            isinstance(data, bool)
            or not isinstance(data, int | float)
            or (isinstance(data, float) and not data.is_integer())
        ):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictFloatField(serializers.FloatField):
    def to_internal_value(self, data):
        if not _form_data(self) and (isinstance(data, bool) or not isinstance(data, int | float)):
            self.fail("invalid")
        return super().to_internal_value(data)


def _check(serializer) -> dict:
    """The validated data, or the errors: 400 when the request breaks the schema, 422 when
    every error is a lookup of something that does not exist (a category code, a team)."""
    if serializer.is_valid():
        return serializer.validated_data
    codes = set(_codes(serializer.errors))
    if codes and codes <= UNPROCESSABLE_CODES:
        raise UnprocessableContent(serializer.errors)
    raise exceptions.ValidationError(serializer.errors)


def _codes(errors):
    if isinstance(errors, dict):
        errors = list(errors.values())
    if isinstance(errors, list):
        for error in errors:
            yield from _codes(error)
    else:
        yield getattr(errors, "code", "invalid")


def _valid(serializer_class, data) -> dict:
    return _check(serializer_class(data=data))


def _is_staff(request) -> bool:
    return bool(request.user and request.user.is_authenticated and request.user.is_staff)


def _staff_user(email: str, field: str):
    """An active member of staff by e-mail address; 422 naming `field` if there is none."""
    user = (
        get_user_model()
        .objects.filter(email__iexact=email.strip(), is_staff=True, is_active=True)
        .first()
    )
    if user is None:
        raise UnprocessableContent({field: [_("No member of staff has this e-mail address.")]})
    return user


# --- permissions ----------------------------------------------------------------------------

# What staff need for each action on cases; residents may do the actions in RESIDENT_ACTIONS on
# their own cases. An action missing from STAFF_ACTIONS is not for staff (rating).
STAFF_ACTIONS = {
    "list": "cases.view_case",
    "retrieve": "cases.view_case",
    "timeline": "cases.view_case",
    "attachment": "cases.view_case",
    "create": "cases.add_case",
    "messages": "cases.work_case",
    "status": "cases.work_case",
    "assign": "cases.work_case",
}
RESIDENT_ACTIONS = frozenset(
    {
        "list",
        "retrieve",
        "create",
        "timeline",
        "messages",
        "status",
        "rating",
        "attachments",
        "attachment",
    }
)


class CasePermission(permissions.BasePermission):
    """Residents work on their own cases (the queryset holds no one else's). Staff need the
    permission of their role: cases.view_case to read, add_case to lodge, work_case to write."""

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if not user.is_staff:
            return view.action in RESIDENT_ACTIONS
        if view.action == "attachments":
            safe = request.method in permissions.SAFE_METHODS
            needed = "cases.view_case" if safe else "cases.work_case"
        else:
            needed = STAFF_ACTIONS.get(view.action)
        return needed is not None and user.has_perm(needed)


class CallPermission(permissions.BasePermission):
    """Staff with cases.view_call read calls (their own, or everyone's for supervisors);
    cases.add_call logs one."""

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated and user.is_staff):
            return False
        if request.method in permissions.SAFE_METHODS:
            return user.has_perm("cases.view_call")
        return user.has_perm("cases.add_call")


# --- categories and teams -------------------------------------------------------------------


class SlaTargetSerializer(serializers.Serializer):
    amount = serializers.IntegerField(min_value=1)
    unit = serializers.ChoiceField(choices=SlaUnit.choices)


class QuestionChoiceSerializer(serializers.Serializer):
    value = serializers.CharField()
    label = serializers.CharField()


class QuestionSerializer(serializers.Serializer):
    key = serializers.CharField()
    type = serializers.ChoiceField(choices=[(t, t) for t in QUESTION_TYPES])
    label = serializers.CharField()
    required = serializers.BooleanField()
    choices = QuestionChoiceSerializer(many=True)


def _label(value) -> str:
    return translated(value) if isinstance(value, dict) else str(value)


def _question(question: dict) -> dict:
    choices = []
    for choice in question.get("choices") or ():
        if isinstance(choice, dict):
            value = str(choice.get("value", ""))
            choices.append({"value": value, "label": _label(choice.get("label") or value)})
        else:
            choices.append({"value": str(choice), "label": str(choice)})
    return {
        "key": question["key"],
        "type": question.get("type", "text"),
        "label": _label(question.get("label") or question["key"]),
        "required": bool(question.get("required")),
        "choices": choices,
    }


class CategorySerializer(StrictModelSerializer):
    name = serializers.SerializerMethodField()
    description = serializers.SerializerMethodField()
    parent = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    first_response_target = serializers.SerializerMethodField()
    resolution_target = serializers.SerializerMethodField()
    questions = serializers.SerializerMethodField()

    class Meta:
        model = Category
        fields = [
            "code",
            "name",
            "description",
            "kind",
            "parent",
            "requires_location",
            "default_priority",
            "first_response_target",
            "resolution_target",
            "questions",
        ]
        read_only_fields = fields

    def get_name(self, category) -> str:
        return category.name

    def get_description(self, category) -> str:
        return category.description

    @staticmethod
    def _target(amount, unit):
        return {"amount": amount, "unit": unit} if amount and unit else None

    @extend_schema_field(SlaTargetSerializer(allow_null=True))
    def get_first_response_target(self, category):
        return self._target(category.first_response_amount, category.first_response_unit)

    @extend_schema_field(SlaTargetSerializer(allow_null=True))
    def get_resolution_target(self, category):
        return self._target(category.resolution_amount, category.resolution_unit)

    @extend_schema_field(QuestionSerializer(many=True))
    def get_questions(self, category):
        return [_question(q) for q in category.questions]


@extend_schema_view(
    list=extend_schema(summary="Categories open for new cases, named in your language"),
    retrieve=extend_schema(summary="One category with its intake questions"),
)
class CategoryViewSet(viewsets.ReadOnlyModelViewSet):
    """Active categories, names and questions in the language of Accept-Language."""

    serializer_class = CategorySerializer
    lookup_field = "code"
    lookup_value_regex = CODE_PATTERN
    queryset = Category.objects.none()

    def get_queryset(self):
        return selectors.categories_for_intake()


class TeamSerializer(StrictModelSerializer):
    members = serializers.SerializerMethodField()

    class Meta:
        model = Team
        fields = ["code", "name", "strategy", "members"]
        read_only_fields = fields

    def get_members(self, team) -> list[str]:
        return sorted(m.email for m in team.members.all() if m.is_active)


class TeamViewSet(viewsets.ReadOnlyModelViewSet):
    """Teams cases are routed to, with their members (staff with cases.view_team)."""

    serializer_class = TeamSerializer
    permission_classes = [StaffModelPermissions]
    lookup_field = "code"
    lookup_value_regex = CODE_PATTERN
    queryset = Team.objects.prefetch_related("members").order_by("name", "code")


# --- routing rules --------------------------------------------------------------------------


class RoutingRuleSerializer(StrictModelSerializer):
    serializer_field_mapping = {
        **StrictModelSerializer.serializer_field_mapping,
        models.PositiveIntegerField: StrictIntegerField,
        models.BooleanField: StrictBooleanField,
    }
    category = serializers.SlugRelatedField(
        slug_field="code", queryset=Category.objects.all(), allow_null=True, required=False
    )
    territory = serializers.SlugRelatedField(
        slug_field="code", queryset=Territory.objects.all(), allow_null=True, required=False
    )
    team = serializers.SlugRelatedField(slug_field="code", queryset=Team.objects.all())
    assignee = serializers.SlugRelatedField(
        slug_field="email",
        queryset=get_user_model().objects.filter(is_staff=True, is_active=True),
        allow_null=True,
        required=False,
        help_text="The e-mail address of a member of the team; empty: the team's strategy picks.",
    )

    class Meta:
        model = RoutingRule
        fields = [
            "id",
            "order",
            "category",
            "territory",
            "channel",
            "priority",
            "team",
            "assignee",
            "active",
        ]
        extra_kwargs = {"order": {"max_value": 2_147_483_647}}


class RoutingRuleViewSet(viewsets.ModelViewSet):
    """Routing rules in order: the first rule whose conditions all match a new case picks its
    team (and perhaps its assignee). Staff with the cases.*_routingrule permissions."""

    serializer_class = RoutingRuleSerializer
    permission_classes = [StaffModelPermissions]
    lookup_value_regex = "[0-9]+"
    http_method_names = ["get", "post", "patch", "delete", "head"]
    queryset = RoutingRule.objects.select_related(
        "category", "territory", "team", "assignee"
    ).order_by("order", "id")
    filterset_fields = ["active"]

    def _save(self, serializer):
        data = serializer.validated_data
        instance = serializer.instance or RoutingRule()
        for key, value in data.items():
            setattr(instance, key, value)
        team, assignee = instance.team, instance.assignee
        if assignee is not None and not team.members.filter(pk=assignee.pk).exists():
            raise UnprocessableContent({"assignee": [_("This person is not in the team.")]})
        instance.full_clean()
        instance.save()
        serializer.instance = instance

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        _check(serializer)
        self._save(serializer)
        return Response(serializer.data, status=http_status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        serializer = self.get_serializer(self.get_object(), data=request.data, partial=True)
        _check(serializer)
        self._save(serializer)
        return Response(serializer.data)


# --- cases: reading -------------------------------------------------------------------------


class CaseCategorySerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


class ConcernSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="What the case concerns: personalaccount, premises…")
    label = serializers.CharField(help_text="Its public identifier, e.g. the account number.")


class PersonSerializer(serializers.Serializer):
    email = serializers.EmailField()
    full_name = serializers.CharField()


class CaseHandlingSerializer(serializers.Serializer):
    """Staff only: who handles the case and how to reach the requester."""

    requester = PersonSerializer(allow_null=True)
    contact_name = serializers.CharField()
    contact_email = serializers.CharField()
    contact_phone = serializers.CharField()
    contact_language = serializers.CharField()
    team = serializers.CharField(allow_null=True, help_text="The team's code.")
    assignee = serializers.EmailField(allow_null=True)


class CaseSerializer(StrictModelSerializer):
    category = serializers.SerializerMethodField()
    territory = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    duplicate_of = serializers.SlugRelatedField(
        source="parent", slug_field="reference", read_only=True, allow_null=True
    )
    concerns = serializers.SerializerMethodField()
    sla_state = serializers.SerializerMethodField()
    handling = serializers.SerializerMethodField()

    class Meta:
        model = Case
        fields = [
            "reference",
            "category",
            "channel",
            "status",
            "priority",
            "subject",
            "description",
            "answers",
            "territory",
            "address",
            "latitude",
            "longitude",
            "concerns",
            "duplicate_of",
            "created_at",
            "updated_at",
            "first_response_due",
            "first_responded_at",
            "resolution_due",
            "resolved_at",
            "closed_at",
            "sla_state",
            "rating",
            "rating_comment",
            "handling",
        ]
        read_only_fields = fields

    @extend_schema_field(CaseCategorySerializer)
    def get_category(self, case):
        return {"code": case.category.code, "name": case.category.name}

    @extend_schema_field(ConcernSerializer(many=True))
    def get_concerns(self, case):
        return [{"kind": link.content_type.model, "label": link.label} for link in case.links.all()]

    @extend_schema_field(serializers.ChoiceField(choices=SLA_STATES))
    def get_sla_state(self, case) -> str:
        return getattr(case, "live_sla", None) or case.sla_state

    @extend_schema_field(
        CaseHandlingSerializer(
            allow_null=True,
            help_text="Staff only (null for residents): the team, the assignee and the "
            "requester's contact details.",
        )
    )
    def get_handling(self, case):
        if not self.context.get("staff"):
            return None
        requester = case.requester
        return {
            "requester": (
                {"email": requester.email, "full_name": requester.full_name} if requester else None
            ),
            "contact_name": case.contact_name,
            "contact_email": case.contact_email,
            "contact_phone": case.contact_phone,
            "contact_language": case.contact_language,
            "team": case.team.code if case.team else None,
            "assignee": case.assignee.email if case.assignee else None,
        }


class CaseEventSerializer(StrictModelSerializer):
    by = serializers.SerializerMethodField()
    actor = serializers.SerializerMethodField()
    data = serializers.SerializerMethodField()

    class Meta:
        model = CaseEvent
        fields = ["kind", "created_at", "public", "by", "actor", "text", "data"]
        read_only_fields = fields

    @extend_schema_field(
        serializers.ChoiceField(
            choices=[("requester", "requester"), ("staff", "staff"), ("system", "system")]
        )
    )
    def get_by(self, event) -> str:
        if event.actor_id is None:
            return "system"
        if event.actor_id == event.case.requester_id or not event.actor.is_staff:
            return "requester"
        return "staff"

    @extend_schema_field(
        serializers.EmailField(allow_null=True, help_text="Staff only (null for residents).")
    )
    def get_actor(self, event):
        return event.actor.email if self.context.get("staff") and event.actor_id else None

    @extend_schema_field(serializers.DictField(help_text="Details of the event, by kind."))
    def get_data(self, event):
        data = event.data if isinstance(event.data, dict) else {}
        if not self.context.get("staff"):
            return {k: v for k, v in data.items() if k in PUBLIC_EVENT_DATA}
        if isinstance(data.get("assignee"), int):  # routing records the user's key: show whom
            data = {**data, "assignee": self.context.get("emails", {}).get(data["assignee"])}
        return data


class AttachmentSerializer(StrictModelSerializer):
    download = serializers.SerializerMethodField()

    class Meta:
        model = Attachment
        fields = ["id", "name", "content_type", "size", "public", "created_at", "download"]
        read_only_fields = fields

    def get_download(self, attachment) -> str:
        return reverse(
            "case-attachment",
            kwargs={"reference": attachment.case.reference, "attachment_id": attachment.pk},
        )


class UtcDateTimeFilter(filters.IsoDateTimeFilter):
    """Compared in UTC: any offset ISO 8601 allows (even +17:01) is accepted, and a moment
    that falls outside the calendar once in UTC is a clear 400, not a database error."""

    def filter(self, qs, value):
        if value is not None:
            try:
                value = value.astimezone(dt.UTC)
            except OverflowError as exc:
                raise exceptions.ValidationError(
                    {self.field_name: [_("This date is out of range.")]}
                ) from exc
        return super().filter(qs, value)


class CaseFilter(filters.FilterSet):
    status = filters.ChoiceFilter(choices=Status.choices)
    category = filters.CharFilter(method="by_category", help_text="A category code (and its own).")
    territory = filters.CharFilter(method="by_territory", help_text="A territory code (and areas).")
    team = filters.CharFilter(field_name="team__code", help_text="A team's code.")
    assignee = filters.CharFilter(
        field_name="assignee__email", lookup_expr="iexact", help_text="The assignee's e-mail."
    )
    sla_state = filters.ChoiceFilter(choices=SLA_STATES, method="by_sla_state")
    created_after = UtcDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Case
        fields: list[str] = []

    # The schema types these (an enum, a date-time): an empty value is not one of them.
    NOT_EMPTY = ("status", "sla_state", "created_after", "created_before")

    def is_valid(self):
        valid = super().is_valid()
        for name in self.NOT_EMPTY:
            if "" in self.data.getlist(name):
                self.form.add_error(name, _("Give a value or leave the parameter out."))
                valid = False
        return valid

    def by_category(self, queryset, name, value):
        return queryset.filter(Q(category__code=value) | Q(category__parent__code=value))

    def by_territory(self, queryset, name, value):
        return queryset.filter(Q(territory__code=value) | Q(territory__parent__code=value))

    def by_sla_state(self, queryset, name, value):
        return queryset.filter(live_sla=value)


# --- cases: writing -------------------------------------------------------------------------


class CaseCreateSerializer(serializers.Serializer):
    category = serializers.SlugRelatedField(slug_field="code", queryset=Category.objects.all())
    subject = StrictCharField(max_length=200)
    description = StrictCharField(max_length=MAX_TEXT, required=False, allow_blank=True)
    answers = serializers.DictField(
        required=False, help_text="Answers to the category's questions, by question key."
    )
    territory = serializers.SlugRelatedField(
        slug_field="code", queryset=Territory.objects.all(), required=False
    )
    latitude = StrictFloatField(required=False, min_value=-90, max_value=90)
    longitude = StrictFloatField(required=False, min_value=-180, max_value=180)
    address = StrictCharField(max_length=300, required=False, allow_blank=True)
    account_number = StrictCharField(
        max_length=40,
        required=False,
        help_text="The account the case is about. Residents: one of their linked accounts.",
    )
    # Staff only: on behalf of whom, and how they reached us.
    channel = serializers.ChoiceField(
        choices=STAFF_CHANNELS, required=False, help_text="Staff only (residents': api)."
    )
    priority = serializers.ChoiceField(
        choices=Priority.choices, required=False, help_text="Staff only."
    )
    requester = StrictEmailField(
        required=False, help_text="Staff only: the e-mail address of the resident's login."
    )
    contact_name = StrictCharField(max_length=150, required=False, help_text="Staff only.")
    contact_email = StrictEmailField(required=False, help_text="Staff only.")
    contact_phone = StrictCharField(max_length=32, required=False, help_text="Staff only.")

    STAFF_ONLY = (
        "channel",
        "priority",
        "requester",
        "contact_name",
        "contact_email",
        "contact_phone",
    )

    def intake(self, user) -> services.Intake:
        """The Intake this request describes, for `user` (a resident for themself, or staff)."""
        data = self.validated_data
        staff = user.is_staff
        if not staff:
            sent = [f for f in self.STAFF_ONLY if f in data]
            if sent:
                raise UnprocessableContent({f: [_("Only staff set this.")] for f in sent})
        account = self._account(user, data.get("account_number"))
        requester = user if not staff else self._requester(data.get("requester"))
        phone = ""
        if data.get("contact_phone"):
            try:
                phone = calls.phone_normalise(data["contact_phone"])
            except DjangoValidationError as exc:
                raise UnprocessableContent({"contact_phone": exc.messages}) from exc
        return services.Intake(
            category=data["category"],
            channel=data.get("channel", Channel.API) if staff else Channel.API,
            subject=data["subject"],
            description=data.get("description", ""),
            requester=requester,
            contact_name=data.get("contact_name", ""),
            contact_email=data.get("contact_email", ""),
            contact_phone=phone,
            answers=data.get("answers", {}),
            priority=data.get("priority", ""),
            territory=data.get("territory"),
            latitude=_coordinate(data.get("latitude")),
            longitude=_coordinate(data.get("longitude")),
            address=data.get("address", ""),
            concerns=[account, account.premises] if account is not None else [],
            actor=user,
        )

    @staticmethod
    def _account(user, number):
        if not number:
            return None
        from civicdesk.registry.selectors import accounts_for_user

        accounts = (
            PersonalAccount.objects.select_related("premises__building__territory")
            if user.is_staff
            else accounts_for_user(user)
        )
        account = accounts.filter(number=number.strip()).first()
        if account is None:
            message = (
                _("There is no account with this number.")
                if user.is_staff
                else _("None of your linked accounts has this number.")
            )
            raise UnprocessableContent({"account_number": [message]})
        return account

    @staticmethod
    def _requester(email):
        if not email:
            return None
        user = (
            get_user_model()
            .objects.filter(email__iexact=email, is_staff=False, is_active=True)
            .first()
        )
        if user is None:
            raise UnprocessableContent({"requester": [_("No resident has this e-mail address.")]})
        return user


def _coordinate(value) -> Decimal | None:
    return None if value is None else Decimal(str(round(value, 6)))


class MessageSerializer(serializers.Serializer):
    text = StrictCharField(max_length=MAX_NOTE)
    public = StrictBooleanField(
        required=False,
        default=False,
        help_text="Staff only: whether the requester sees the note (default: internal). "
        "Residents' messages are always seen by staff and by themselves.",
    )


class StatusChangeSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Status.choices)
    note = StrictCharField(max_length=MAX_NOTE, required=False, allow_blank=True)
    public = StrictBooleanField(
        required=False,
        default=True,
        help_text="Staff only: whether the requester is told (default yes).",
    )


class AssignSerializer(serializers.Serializer):
    team = StrictCharField(max_length=60, allow_null=True, help_text="A team's code, or null.")
    assignee = StrictEmailField(
        required=False, allow_null=True, help_text="A member of the team, by e-mail address."
    )
    reason = StrictCharField(max_length=MAX_NOTE)


class RatingSerializer(serializers.Serializer):
    rating = StrictIntegerField(min_value=1, max_value=5)
    comment = StrictCharField(max_length=2000, required=False, allow_blank=True)


class AttachmentUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="A PDF, JPEG, PNG, GIF or WebP file, at most 10 MB.")
    public = StrictBooleanField(
        required=False,
        default=True,
        help_text="Staff only: whether the requester sees it (default yes).",
    )


class FileNegotiation(BaseContentNegotiation):
    """A download answers with the file's own type whatever the client accepts (Accept:
    image/png is not refused); errors are problem+json as everywhere."""

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


REFERENCE_PARAMETER = OpenApiParameter(
    "reference",
    str,
    OpenApiParameter.PATH,
    pattern=f"^{REFERENCE_PATTERN}$",
    description="The case reference, e.g. C-2026-000123.",
    examples=[OpenApiExample("A case reference", value="C-2026-000123")],
)


@extend_schema_view(
    list=extend_schema(
        summary="Cases: a resident's own, or all of them for staff (with filters)",
    ),
    retrieve=extend_schema(summary="One case by reference", parameters=[REFERENCE_PARAMETER]),
)
class CaseViewSet(
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Cases by reference. A resident sees and works on their own only: anyone else's case
    answers 404 on every endpoint. Staff read with cases.view_case, lodge with add_case and
    write notes, statuses and assignments with work_case."""

    serializer_class = CaseSerializer
    permission_classes = [CasePermission]
    lookup_field = "reference"
    lookup_value_regex = REFERENCE_PATTERN
    filterset_class = CaseFilter
    http_method_names = ["get", "post", "head"]
    queryset = Case.objects.none()

    @staticmethod
    def _related(cases):
        return cases.select_related(
            "category", "territory", "team", "assignee", "requester", "parent"
        ).prefetch_related(
            Prefetch("links", queryset=CaseLink.objects.select_related("content_type"))
        )

    def get_queryset(self):
        user = self.request.user
        if getattr(self, "swagger_fake_view", False) or not user.is_authenticated:
            return Case.objects.none()
        cases = (
            selectors.cases_for_staff(user)
            if user.is_staff
            else selectors.cases_for_requester(user)
        )
        return self._related(cases).annotate(live_sla=live_sla(timezone.now()))

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "staff": _is_staff(self.request)}

    def filter_queryset(self, queryset):
        """The filters are the list's; a case by reference is found whatever the query says."""
        return super().filter_queryset(queryset) if self.action == "list" else queryset

    def _case(self, case: Case, code: int = http_status.HTTP_200_OK) -> Response:
        """The case as it is now (with its live SLA state), after a service changed it."""
        fresh = self._related(Case.objects).annotate(live_sla=live_sla(timezone.now()))
        return Response(self.get_serializer(fresh.get(pk=case.pk)).data, status=code)

    def _events(self, events) -> Response:
        page = self.paginate_queryset(events)
        context = self.get_serializer_context()
        assignees = {e.data.get("assignee") for e in page if isinstance(e.data, dict)}
        assignees = {pk for pk in assignees if isinstance(pk, int)}
        if context["staff"] and assignees:
            users = get_user_model().objects.filter(pk__in=assignees)
            context["emails"] = dict(users.values_list("pk", "email"))
        data = CaseEventSerializer(page, many=True, context=context).data
        return self.get_paginated_response(data)

    @extend_schema(
        request=CaseCreateSerializer,
        responses={201: CaseSerializer},
        summary="Lodge a case",
        description="Residents lodge for themselves (channel api) and may name one of their "
        "linked accounts. Staff lodge on behalf of a resident (`requester`) or a contact "
        "(`contact_email` or `contact_phone`) and say how they were reached (`channel`).",
        examples=[
            OpenApiExample(
                "A resident's report",
                value={
                    "category": "water-leak",
                    "subject": "Water running in the street",
                    "answers": {"since": "2026-03-02"},
                    "address": "12 Long Street",
                },
                request_only=True,
            )
        ],
    )
    def create(self, request, *args, **kwargs):
        serializer = CaseCreateSerializer(data=request.data)
        _check(serializer)
        case = services.case_create(serializer.intake(request.user))
        return self._case(case, http_status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[REFERENCE_PARAMETER],
        responses={200: CaseEventSerializer(many=True)},
        summary="The case's timeline, oldest first (residents: public events only)",
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def timeline(self, request, reference=None):
        case = self.get_object()
        return self._events(selectors.timeline(case, public_only=not request.user.is_staff))

    @extend_schema(
        parameters=[REFERENCE_PARAMETER],
        request=MessageSerializer,
        responses={201: CaseEventSerializer},
        summary="Write on a case: the requester's reply, or a staff note (internal or public)",
        examples=[
            OpenApiExample(
                "A reply", value={"text": "The water is back, thank you."}, request_only=True
            )
        ],
    )
    @action(detail=True, methods=["post"])
    def messages(self, request, reference=None):
        case = self.get_object()
        data = _valid(MessageSerializer, request.data)
        if request.user.is_staff:
            event = services.case_note(
                case=case, actor=request.user, text=data["text"], public=data["public"]
            )
        else:
            event = services.case_reply(case=case, user=request.user, text=data["text"])
        event = CaseEvent.objects.select_related("actor", "case").get(pk=event.pk)
        context = self.get_serializer_context()
        return Response(CaseEventSerializer(event, context=context).data, status=201)

    @extend_schema(
        parameters=[REFERENCE_PARAMETER],
        request=StatusChangeSerializer,
        responses={200: CaseSerializer},
        summary="Change the case's status (residents: reopen or cancel their own)",
        examples=[
            OpenApiExample(
                "Cancelling", value={"status": "cancelled", "note": "Fixed."}, request_only=True
            )
        ],
        description="Only moves the status machine allows are made; any other answers 422 and "
        "changes nothing.",
    )
    @action(detail=True, methods=["post"])
    def status(self, request, reference=None):
        case = self.get_object()
        data = _valid(StatusChangeSerializer, request.data)
        staff = request.user.is_staff
        if not staff and data["status"] not in workflow.REQUESTER_MAY_SET:
            raise UnprocessableContent(
                {"status": [_("You can reopen or cancel your case; staff set its other statuses.")]}
            )
        case = services.case_transition(
            case=case,
            target=data["status"],
            actor=request.user,
            note=data.get("note", ""),
            public=data["public"] if staff else True,
        )
        return self._case(case)

    @extend_schema(
        parameters=[REFERENCE_PARAMETER],
        request=AssignSerializer,
        responses={200: CaseSerializer},
        summary="Reassign the case to a team and perhaps a member (staff; with a reason)",
    )
    @action(detail=True, methods=["post"])
    def assign(self, request, reference=None):
        case = self.get_object()
        data = _valid(AssignSerializer, request.data)
        team = None
        if data["team"] is not None:
            team = Team.objects.filter(code=data["team"]).first()
            if team is None:
                raise UnprocessableContent({"team": [_("There is no team with this code.")]})
        assignee = _staff_user(data["assignee"], "assignee") if data.get("assignee") else None
        case = services.case_assign(
            case=case, team=team, assignee=assignee, actor=request.user, reason=data["reason"]
        )
        return self._case(case)

    @extend_schema(
        parameters=[REFERENCE_PARAMETER],
        request=RatingSerializer,
        responses={200: CaseSerializer},
        summary="Rate how your resolved case was handled (the requester)",
        examples=[
            OpenApiExample(
                "A rating", value={"rating": 5, "comment": "Quick and kind."}, request_only=True
            )
        ],
    )
    @action(detail=True, methods=["post"])
    def rating(self, request, reference=None):
        case = self.get_object()
        data = _valid(RatingSerializer, request.data)
        case = services.case_rate(
            case=case, user=request.user, rating=data["rating"], comment=data.get("comment", "")
        )
        return self._case(case)

    @extend_schema(
        methods=["GET"],
        parameters=[REFERENCE_PARAMETER],
        responses={200: AttachmentSerializer(many=True)},
        summary="The case's attachments (residents: those they may see)",
    )
    @extend_schema(
        methods=["POST"],
        parameters=[REFERENCE_PARAMETER],
        request={"multipart/form-data": AttachmentUploadSerializer},
        responses={201: AttachmentSerializer},
        summary="Attach a PDF or an image to the case",
    )
    @action(
        detail=True, methods=["get", "post"], parser_classes=[MultiPartParser], filter_backends=[]
    )
    def attachments(self, request, reference=None):
        case = self.get_object()
        if request.method == "GET":
            attachments = _visible_attachments(case, staff=request.user.is_staff)
            page = self.paginate_queryset(attachments)
            return self.get_paginated_response(AttachmentSerializer(page, many=True).data)
        data = _valid(AttachmentUploadSerializer, request.data)
        attachment = services.attachment_add(
            case=case,
            upload=data["file"],
            actor=request.user,
            public=data["public"] if request.user.is_staff else True,
        )
        return Response(AttachmentSerializer(attachment).data, status=http_status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[
            REFERENCE_PARAMETER,
            OpenApiParameter("attachment_id", OpenApiTypes.UUID, OpenApiParameter.PATH),
        ],
        responses={
            (200, content_type): OpenApiResponse(OpenApiTypes.BINARY, description="The file.")
            for content_type in sorted(services.ATTACHMENT_TYPES)
        },
        summary="Download an attachment (Content-Disposition: attachment)",
    )
    @action(
        detail=True,
        methods=["get"],
        url_path=f"attachments/(?P<attachment_id>{UUID_PATTERN})",
        content_negotiation_class=FileNegotiation,
    )
    def attachment(self, request, reference=None, attachment_id=None):
        case = self.get_object()
        attachment = _visible_attachments(case, staff=request.user.is_staff).filter(
            pk=attachment_id
        )
        attachment = attachment.first()
        if attachment is None:
            raise Http404
        try:
            handle = attachment.file.open("rb")
        except FileNotFoundError as exc:  # the row outlived its file
            raise Http404 from exc
        return FileResponse(
            handle,
            as_attachment=True,
            filename=attachment.name,
            content_type=attachment.content_type,
        )


def _visible_attachments(case: Case, *, staff: bool):
    """The case's attachments a viewer may see: all for staff, public ones for the requester."""
    attachments = case.attachments.select_related("case").order_by("created_at", "id")
    return attachments if staff else attachments.filter(public=True)


# --- calls ----------------------------------------------------------------------------------


class CallSerializer(StrictModelSerializer):
    agent = serializers.SlugRelatedField(slug_field="email", read_only=True)
    caller = serializers.SlugRelatedField(slug_field="email", read_only=True, allow_null=True)
    case = serializers.SlugRelatedField(slug_field="reference", read_only=True, allow_null=True)

    class Meta:
        model = Call
        fields = [
            "id",
            "agent",
            "started_at",
            "ended_at",
            "handling_seconds",
            "caller_phone",
            "caller",
            "account_number",
            "case",
            "reason",
            "outcome",
            "first_contact_resolution",
        ]
        read_only_fields = fields


class CallLogSerializer(serializers.Serializer):
    started_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField()
    reason = StrictCharField(max_length=calls.REASON_MAX)
    outcome = serializers.ChoiceField(choices=Call.Outcome.choices)
    first_contact_resolution = StrictBooleanField(required=False, default=False)
    caller_phone = StrictCharField(max_length=32, required=False, allow_blank=True)
    account_number = StrictCharField(max_length=20, required=False, allow_blank=True)
    case = StrictCharField(
        required=False,
        max_length=20,
        help_text="The reference of the case the call was about, e.g. C-2026-000123.",
    )


@transaction.atomic
def _call_log(*, agent, case=None, **data) -> Call:
    """Record a call after the fact. Belongs in cases/calls.py as `call_log` (calls.py starts
    and ends live calls only); it reuses its phone check and call_end's rules."""
    started, ended = data["started_at"], data["ended_at"]
    errors = {}
    if started > timezone.now() + dt.timedelta(minutes=1):
        errors["started_at"] = [_("The call cannot start in the future.")]
    if ended < started:
        errors["ended_at"] = [_("The call cannot end before it started.")]
    if errors:
        raise DjangoValidationError(errors)
    call = Call.objects.create(
        agent=agent,
        caller_phone=calls.phone_normalise(data.get("caller_phone", "")),
        account_number=data.get("account_number", "").strip(),
        case=case,
        started_at=started,
    )
    return calls.call_end(
        call=call,
        reason=data["reason"],
        outcome=data["outcome"],
        first_contact_resolution=data["first_contact_resolution"],
        now=ended,
    )


@extend_schema_view(
    list=extend_schema(summary="Calls: your own, or every agent's for supervisors"),
    retrieve=extend_schema(summary="One call"),
    create=extend_schema(
        request=CallLogSerializer, responses={201: CallSerializer}, summary="Log a call"
    ),
)
class CallViewSet(
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """The call log. Agents see their own calls; supervisors (operator admins, quality
    controllers) everyone's."""

    serializer_class = CallSerializer
    permission_classes = [CallPermission]
    lookup_value_regex = UUID_PATTERN
    http_method_names = ["get", "post", "head"]
    queryset = Call.objects.none()
    filterset_fields = ["outcome"]

    def get_queryset(self):
        from civicdesk.cases.reports import sees_all_agents

        user = self.request.user
        if getattr(self, "swagger_fake_view", False) or not user.is_authenticated:
            return Call.objects.none()
        calls_ = Call.objects.select_related("agent", "caller", "case").order_by("-started_at")
        return calls_ if sees_all_agents(user) else calls_.filter(agent=user)

    def create(self, request, *args, **kwargs):
        data = dict(_valid(CallLogSerializer, request.data))
        reference = data.pop("case", "")
        case = None
        if reference:
            case = selectors.cases_for_staff(request.user).filter(reference=reference).first()
            if case is None:
                raise UnprocessableContent({"case": [_("There is no case with this reference.")]})
        call = _call_log(agent=request.user, case=case, **data)
        return Response(self.get_serializer(call).data, status=http_status.HTTP_201_CREATED)
