"""API: the staff tool to try an SMS of meter readings without saving anything.

`POST /meter-readings/sms-preview` `{"text": "…"}` reads the message with the operator's SMS
settings and runs the handler's checks (account, meters, values per register, and each
reading's validation against the meter's history), writing nothing. It reads the message even
when the account or a meter is unknown and lists that among the errors. With `sender` it also
checks that phone may send for the account; `reply` is the SMS the sender would get (null when
the message is not meant as readings, so the help text would answer)."""

from __future__ import annotations

import phonenumbers
from django.urls import path
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import permissions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from civicdesk.core.api import StrictCharField
from civicdesk.metering import selectors, sms, sms_handler, validation
from civicdesk.metering.models import Resource

VIEW_READING = "metering.view_reading"
MAX_TEXT = 1600  # as the inbound webhook (notifications.services.MAX_SMS_TEXT)


class StaffWhoViewReadings(permissions.BasePermission):
    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(
            user and user.is_authenticated and user.is_staff and user.has_perm(VIEW_READING)
        )


class PreviewRequest(serializers.Serializer):
    text = StrictCharField(
        max_length=MAX_TEXT,
        allow_blank=True,
        trim_whitespace=False,
        help_text="The SMS as a resident would send it.",
    )
    sender = StrictCharField(
        max_length=32,
        required=False,
        help_text="The sender's phone (E.164). When given, also checks that this phone may "
        "send readings for the account.",
    )

    def validate_sender(self, value: str) -> str:
        raw = value.strip()
        try:
            number = phonenumbers.parse(raw if raw.startswith("+") else f"+{raw}", None)
        except phonenumbers.NumberParseException:
            number = None
        if number is None or not phonenumbers.is_possible_number(number):
            raise serializers.ValidationError(_("Give the phone number as +27821234567."))
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class PreviewReading(serializers.Serializer):
    resource = serializers.ChoiceField(Resource.choices)
    register = serializers.CharField(help_text="T; or T1 (day/peak), T2 (night), T3.")
    value = serializers.CharField(help_text="As read, with a decimal point.")
    code = serializers.CharField(help_text="The operator's code it was sent with.")
    ordinal = serializers.IntegerField(
        help_text="Which meter of the resource: 1 for the first, 2 for a repeated code..."
    )
    meter = serializers.CharField(
        allow_null=True, help_text="The serial number of the meter it goes to (null: none)."
    )
    status = serializers.ChoiceField(
        ["accepted", "flagged", "rejected"],
        allow_null=True,
        help_text="What validation would decide now (null when it cannot be submitted).",
    )
    message = serializers.CharField(help_text="The status and reasons, in your language.")


class PreviewError(serializers.Serializer):
    code = serializers.CharField(
        help_text="empty, no_account, unknown_code, missing_value, bad_number, "
        "too_many_values, stray_value, no_readings, format_not_accepted, unknown_account, "
        "sender_not_linked, no_meter, value_count, code_set, not_saved, or a validation "
        "reason (e.g. lower_than_previous)."
    )
    message = serializers.CharField()
    resource = serializers.CharField(allow_null=True)


class PreviewResponse(serializers.Serializer):
    account_number = serializers.CharField(allow_null=True)
    recognised = serializers.BooleanField(
        help_text="Whether the message is meant as readings (a keyword or a code)."
    )
    grammars = serializers.ListField(child=serializers.CharField())
    keyword = serializers.CharField(allow_null=True)
    readings = PreviewReading(many=True)
    errors = PreviewError(many=True)
    reply = serializers.CharField(allow_null=True)


def _text(value) -> str:
    return format(value, "f")


def preview(text: str, *, sender: str | None = None) -> dict:
    """The preview of ``text`` (see the module docstring). Writes nothing."""
    from civicdesk.identity.models import User
    from civicdesk.metering import services

    settings = selectors.metering_settings()
    empty = {
        "account_number": None,
        "recognised": False,
        "grammars": [],
        "keyword": None,
        "readings": [],
        "errors": [],
        "reply": None,
    }
    if settings is None:
        return {
            **empty,
            "errors": [
                {
                    "code": sms_handler.CODE_SET,
                    "message": _("There is no operator to take readings for."),
                    "resource": None,
                }
            ],
        }
    try:
        parsed = sms_handler.parse_text(text, settings)
    except sms.CodeSetError as exc:
        return {
            **empty,
            "errors": [
                {
                    "code": sms_handler.CODE_SET,
                    "message": _(
                        "The SMS codes in the metering settings cannot be told apart: %(codes)s."
                    )
                    % {"codes": ", ".join(p.code for p in exc.problems)},
                    "resource": None,
                }
            ],
        }
    user = None
    if sender:
        user = (
            User.objects.filter(phone=sender, phone_verified_at__isnull=False, is_active=True)
            .order_by("pk")
            .first()
        )
    check = sms_handler.message_check(
        parsed, settings=settings, sender=sender, user=user, check_sender=bool(sender)
    )
    # As the handler: a refused message is not submitted, so its readings are not validated.
    results = (
        []
        if check.refusals
        else sms_handler.items_run(
            check,
            lambda item: services.readings_check(
                meter=item.meter, values=item.values, source=sms_handler.SOURCE
            ),
        )
    )
    outcomes = {id(item): found for item, found in results}

    readings, errors = [], []
    for problem in check.refusals:
        errors.append({"code": problem.code, "message": problem.message, "resource": None})
    for item in check.items:
        found = {o.register: o for o in outcomes.get(id(item), [])}
        for register, value in item.values.items():
            outcome = found.get(register)
            readings.append(
                {
                    "resource": item.reading.resource,
                    "register": register,
                    "value": _text(value),
                    "code": item.reading.code,
                    "ordinal": item.reading.ordinal,
                    "meter": item.meter.serial if item.meter is not None else None,
                    "status": outcome.verdict.status if outcome else None,
                    "message": (
                        outcome.message
                        if outcome
                        else (item.problem.message if item.problem else "")
                    ),
                }
            )
            if outcome is not None and outcome.verdict.status == validation.REJECTED:
                errors.append(
                    {
                        "code": outcome.verdict.reasons[0] if outcome.verdict.reasons else "",
                        "message": sms_handler.outcomes_text(item, [outcome], check),
                        "resource": item.reading.resource,
                    }
                )
        if item.problem is not None:
            errors.append(
                {
                    "code": item.problem.code,
                    "message": item.problem.message,
                    "resource": item.problem.resource,
                }
            )
    for problem in check.errors:
        errors.append(
            {"code": problem.code, "message": problem.message, "resource": problem.resource}
        )
    return {
        "account_number": parsed.account_number,
        "recognised": parsed.recognised,
        "grammars": [g for g in sms.GRAMMARS if g in parsed.grammars],
        "keyword": parsed.keyword,
        "readings": readings,
        "errors": errors,
        "reply": sms_handler.reply_text(check, results) if parsed.recognised else None,
    }


class SmsPreview(APIView):
    permission_classes = [StaffWhoViewReadings]

    @extend_schema(
        request=PreviewRequest,
        responses={200: PreviewResponse},
        summary="Try an SMS of meter readings (nothing is saved)",
        description="Reads the message with the operator's SMS settings (codes, accepted "
        "formats, keywords; see docs/sms.md) and runs the same checks as the SMS handler: "
        "the account, a meter for each reading, the number of values, and each reading's "
        "validation against the meter's history as of now. Nothing is written. The message "
        "is read even when the account or a meter is unknown; that is listed in `errors`. "
        "`reply` is the SMS the sender would get (null when the message is not meant as "
        "readings and the help text would answer). Staff who may view readings only.",
        examples=[
            OpenApiExample(
                "Stavropol format",
                value={"text": "12345 ХВ 11 ГВ 12 ЭЛ 1234 567"},
                request_only=True,
            )
        ],
    )
    def post(self, request):
        data = PreviewRequest(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(
            preview(data.validated_data["text"], sender=data.validated_data.get("sender"))
        )


urlpatterns = [
    path("meter-readings/sms-preview", SmsPreview.as_view(), name="meter-reading-sms-preview"),
]
