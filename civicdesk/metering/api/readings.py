"""API: send meter readings; staff list readings and decide the flagged ones.

`POST /meter-readings` takes a reading of one of your meters (`value` for a single-rate meter,
`values` per register for a day/night or three-rate one), as JSON or as a multipart form with a
photo of the dial. Every register is checked (lower than before, in the future, a duplicate,
more digits than the meter has, a spike...): a reading that is refused answers 422 naming the
register and saying why, in your language, and nothing is written; an accepted or flagged one
answers 201. Staff with the permission to enter readings may send them for any meter (their
source is "staff").

`GET /meter-readings` (staff who read readings) lists readings, e.g. `?status=flagged` for the
review queue, and `POST /meter-readings/{id}/review` accepts or rejects a flagged reading."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
)
from rest_framework import exceptions, generics, permissions, serializers
from rest_framework import status as http_status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from civicdesk.core.api import (
    PROBLEM_TYPE_BASE,
    Pagination,
    StrictCharField,
    UnprocessableContent,
    problem_response,
    query_params,
)
from civicdesk.core.idempotency import idempotent
from civicdesk.metering import reasons as reason_texts
from civicdesk.metering import services
from civicdesk.metering import validation as v
from civicdesk.metering.api.meters import ReadingSerializer, meter_for_caller
from civicdesk.metering.models import Meter, Reading, Resource

ADD_READING = "metering.add_reading"
VIEW_READING = "metering.view_reading"
REVIEW_READING = "metering.review_reading"
VALUE_MAX_LENGTH = 30


class HasPermission(permissions.BasePermission):
    """Signed-in staff holding `perm` (set by `requires`)."""

    perm = ""

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.is_staff and user.has_perm(self.perm))


def requires(perm: str) -> type[HasPermission]:
    return type(
        f"Has{perm.split('.')[-1].title().replace('_', '')}", (HasPermission,), {"perm": perm}
    )


# --- serializers ----------------------------------------------------------------------------


class ReadingCreateSerializer(serializers.Serializer):
    meter = serializers.UUIDField(help_text="The meter's id.")
    value = StrictCharField(
        max_length=VALUE_MAX_LENGTH,
        required=False,
        help_text='The reading of a single-rate meter, e.g. "123.4" (a point or a comma).',
    )
    values = serializers.DictField(
        child=StrictCharField(max_length=VALUE_MAX_LENGTH),
        required=False,
        help_text='One reading per register of a multi-rate meter, e.g. {"T1": "1200.5", '
        '"T2": "640"} (T1 day or peak, T2 night, T3 half-peak). In a multipart form send '
        "fields values.T1, values.T2.",
    )
    taken_at = serializers.DateTimeField(
        required=False, help_text="When the dial was read; now when left out."
    )


class ReadingCreateFormSerializer(ReadingCreateSerializer):
    photo = serializers.FileField(
        required=False,
        allow_empty_file=True,  # the service says "the photo is empty", naming photo (422)
        help_text="A photo of the dial: a JPEG, PNG or WebP image of at most 10 MB.",
    )


# Each reading as GET /meters/{id}/readings shows it, plus the message: one Reading component
# (a second component with the same `status` property would make its enum's name ambiguous).
@extend_schema_field(
    {
        "type": "array",
        "items": {
            "allOf": [
                {"$ref": "#/components/schemas/Reading"},
                {
                    "type": "object",
                    "properties": {
                        "message": {
                            "type": "string",
                            "description": "What happened to the reading, in your language.",
                        }
                    },
                    "required": ["message"],
                },
            ]
        },
    }
)
class OutcomesField(serializers.ListField):
    pass


class SubmissionSerializer(serializers.Serializer):
    meter = serializers.UUIDField()
    readings = OutcomesField()


class ReadingFilter(serializers.Serializer):
    status = serializers.ChoiceField(Reading.Status.choices, required=False)
    source = serializers.ChoiceField(Reading.Source.choices, required=False)
    meter = serializers.UUIDField(required=False, help_text="Only this meter's readings.")
    account = StrictCharField(
        max_length=40, required=False, help_text="Only readings of this account's meters."
    )
    resource = serializers.ChoiceField(Resource.choices, required=False)
    order = serializers.ChoiceField(
        [("newest", "newest"), ("oldest", "oldest")],
        required=False,
        default="newest",
        help_text="By the time received: newest first (default) or oldest first, as a review "
        "queue is worked.",
    )


DECISIONS = [("accept", gettext_lazy("Accept")), ("reject", gettext_lazy("Reject"))]


class ReviewSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(DECISIONS)
    note = StrictCharField(max_length=500, required=False, allow_blank=True, default="")


# --- helpers --------------------------------------------------------------------------------


def _meter_for_entry(user, public_id, *, staff_entry: bool):
    """Staff who enter readings may enter them for any meter; a resident for their own."""
    if staff_entry:
        meter = Meter.objects.filter(public_id=public_id).first()
        if meter is None:
            raise exceptions.NotFound(_("There is no such meter."))
        return meter
    return meter_for_caller(user, public_id)


def _values(meter, data) -> tuple[dict[str, object], str]:
    """The register → raw value map to validate, and the request field it came from."""
    registers = meter.registers
    value, values = data.get("value"), data.get("values")
    if value is not None and values:
        raise _unprocessable("value", _("Give either value or values, not both."))
    if value is not None:
        if len(registers) > 1:
            raise _unprocessable(
                "values",
                _("This meter has registers %(registers)s: give a value for each in values.")
                % {"registers": ", ".join(registers)},
            )
        return {registers[0]: value}, "value"
    if not values:
        field = "value" if len(registers) == 1 else "values"
        raise _unprocessable(field, _("Give the reading."))
    return dict(values), "values"


def _unprocessable(field: str, message: str) -> exceptions.ValidationError:
    return UnprocessableContent({field: [message]})


def _field_for(register: str, meter, field: str) -> str:
    return "value" if field == "value" and len(meter.registers) == 1 else f"values.{register}"


def _rejection(exc, meter, field: str):
    """The 422 for readings validation refused (nothing was written): `detail` says why in the
    caller's language, `errors` name the field of each register with the reason code."""
    errors: list[dict[str, str]] = []
    sentences: list[str] = []
    multi = len(meter.registers) > 1
    for outcome in exc.outcomes:
        verdict = outcome.verdict
        if verdict.status != v.REJECTED:
            continue
        codes = [code for code in verdict.reasons if code in v.REJECTIONS] or list(verdict.reasons)
        name = _field_for(outcome.register, meter, field)
        texts = [reason_texts.reason_text(code, verdict.details) for code in codes]
        for code, text in zip(codes, texts, strict=True):
            errors.append({"field": name, "message": text, "code": code})
        sentence = " ".join(texts) or outcome.message
        sentences.append(f"{outcome.register}: {sentence}" if multi else sentence)
    if not errors:  # refused without a rejected register: say what the service said
        errors = [{"field": field, "message": o.message, "code": "rejected"} for o in exc.outcomes]
        sentences = [o.message for o in exc.outcomes]
    return problem_response(
        422,
        str(_("The reading was not accepted")),
        " ".join(sentences),
        problem_type=PROBLEM_TYPE_BASE + "reading-rejected",
        errors=errors,
    )


NOT_REGISTERS = frozenset({"photo", "taken_at", "source", "values", "value", "meter"})


def _rename(exc: DjangoValidationError, meter, field: str) -> DjangoValidationError:
    """A service's ValidationError naming a register is about values.<register> (or value)."""
    if not hasattr(exc, "error_dict"):
        return exc
    renamed = {}
    for key, errors in exc.error_dict.items():
        if key not in NOT_REGISTERS:
            key = _field_for(key, meter, field) if key in meter.registers else f"values.{key}"
        renamed[key] = errors
    return DjangoValidationError(renamed)


# --- views ----------------------------------------------------------------------------------

READING_ID = OpenApiParameter(
    "reading_id",
    type=OpenApiTypes.UUID,
    location=OpenApiParameter.PATH,
    description="The reading's id.",
)


class ReadingListCreate(generics.ListAPIView):
    serializer_class = ReadingSerializer
    pagination_class = Pagination
    queryset = Reading.objects.none()
    filter_backends: list = []
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    def get_permissions(self):
        if self.request.method == "GET":
            return [requires(VIEW_READING)()]
        return [permissions.IsAuthenticated()]

    @extend_schema(
        parameters=[ReadingFilter],
        summary="Readings (staff), e.g. those flagged for review",
        description="Every reading received, filtered by status, source, meter, account or "
        "resource; `?status=flagged&order=oldest` is the review queue. Staff who may read "
        "readings only.",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        data = query_params(ReadingFilter, self.request)
        queryset = Reading.objects.select_related("meter")
        if data.get("status"):
            queryset = queryset.filter(status=data["status"])
        if data.get("source"):
            queryset = queryset.filter(source=data["source"])
        if data.get("meter"):
            queryset = queryset.filter(meter__public_id=data["meter"])
        if data.get("account"):
            queryset = queryset.filter(meter__account__number=data["account"].strip())
        if data.get("resource"):
            queryset = queryset.filter(meter__resource=data["resource"])
        if data["order"] == "oldest":
            return queryset.order_by("created_at", "pk")
        return queryset.order_by("-created_at", "-pk")

    @extend_schema(
        summary="Send a meter reading",
        description=(
            "A reading of one of your meters: `value` for a single-rate meter, or `values` "
            "with one value per register (T1, T2, T3) for a multi-rate one; `taken_at` when "
            "the dial was read (now by default). Send it as JSON, or as multipart/form-data "
            "with a `photo` of the dial.\n\n"
            "201: the readings were recorded, each `accepted` or `flagged` (kept for a person "
            "to review, e.g. use far above your usual), with a `message` in your language.\n\n"
            "422 (nothing written): a register's reading was refused, e.g. lower than the "
            "previous one, in the future, a duplicate, more digits than the meter has, the "
            "meter removed or faulty; `detail` says why in your language and `errors` name "
            "the field (`value` or `values.T1`...) with the reason code. A photo that is not "
            "an image is refused the same way, naming `photo`. Someone else's meter answers "
            "404.\n\n"
            "Staff with the permission to enter readings may send one for any meter."
        ),
        request={
            "application/json": ReadingCreateSerializer,
            "multipart/form-data": ReadingCreateFormSerializer,
        },
        responses={201: SubmissionSerializer},
        examples=[
            OpenApiExample(
                "A single-rate meter",
                value={"meter": "0b7f4ac2-3d0e-4d77-9c61-1f1b0b0d6a11", "value": "1234.5"},
                request_only=True,
            ),
            OpenApiExample(
                "A day/night meter",
                value={
                    "meter": "0b7f4ac2-3d0e-4d77-9c61-1f1b0b0d6a11",
                    "values": {"T1": "1200.5", "T2": "640"},
                },
                request_only=True,
            ),
        ],
    )
    @idempotent(required=False)
    def post(self, request, *args, **kwargs):
        form = request.content_type.startswith(("multipart/", "application/x-www-form"))
        serializer = ReadingCreateFormSerializer if form else ReadingCreateSerializer
        incoming = serializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        user = request.user
        staff_entry = bool(user.is_staff and user.has_perm(ADD_READING))
        if user.is_staff and not staff_entry:
            raise exceptions.PermissionDenied(_("You may not enter meter readings."))
        meter = _meter_for_entry(user, data["meter"], staff_entry=staff_entry)
        values, field = _values(meter, data)
        try:
            outcomes = services.readings_submit(
                meter=meter,
                values=values,
                taken_at=data.get("taken_at"),
                source=Reading.Source.STAFF if staff_entry else Reading.Source.API,
                submitted_by=user,
                photo=data.get("photo"),
                keep_rejected=False,
            )
        except services.ReadingsRejected as exc:
            return _rejection(exc, meter, field)
        except DjangoValidationError as exc:
            raise _rename(exc, meter, field) from exc
        rows = []
        for outcome in outcomes:
            row = dict(ReadingSerializer(outcome.reading).data) if outcome.reading else {}
            row["message"] = outcome.message
            rows.append(row)
        return Response(
            {"meter": str(meter.public_id), "readings": rows},
            status=http_status.HTTP_201_CREATED,
        )


class ReadingReview(APIView):
    permission_classes = [requires(REVIEW_READING)]

    @extend_schema(
        parameters=[READING_ID],
        request=ReviewSerializer,
        responses={200: ReadingSerializer},
        summary="Accept or reject a flagged reading",
        description="Staff who review readings decide a reading flagged for review: `accept` "
        "counts it (its use is billed), `reject` refuses it; the note is kept with the "
        "decision. A reading that is not flagged answers 422.",
    )
    @idempotent(required=False)
    def post(self, request, reading_id):
        incoming = ReviewSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        reading = Reading.objects.select_related("meter").filter(public_id=reading_id).first()
        if reading is None:
            raise exceptions.NotFound(_("There is no such reading."))
        reading = services.reading_review(
            reading=reading,
            accept=incoming.validated_data["decision"] == "accept",
            actor=request.user,
            note=incoming.validated_data["note"],
        )
        return Response(ReadingSerializer(reading).data)


urlpatterns = [
    path("meter-readings", ReadingListCreate.as_view(), name="meter-reading-list"),
    path(
        "meter-readings/<uuid:reading_id>/review",
        ReadingReview.as_view(),
        name="meter-reading-review",
    ),
]
