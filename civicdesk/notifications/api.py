"""Inbound SMS webhooks: Twilio (signed), Africa's Talking (token) and a generic JSON endpoint.

Each parses its provider's request, checks the caller, and hands (sender, text, received_at) to
`inbound_sms_receive`. Bad input is a 4xx application/problem+json naming the field; a caller that
cannot prove who it is gets 403 and nothing is logged.
"""

from __future__ import annotations

import secrets
from datetime import UTC

from django.conf import settings
from django.http import HttpResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from civicdesk.core.api import StrictCharField
from civicdesk.notifications.services import MAX_SMS_TEXT, inbound_sms_receive


def _secret_matches(given: str, expected: str) -> bool:
    return bool(expected) and secrets.compare_digest(given.encode(), expected.encode())


class _InboundView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "sms"


class GenericInboundSerializer(serializers.Serializer):
    # JSON: only strings are text (StrictCharField refuses 0 where "0" was meant).
    # "from" is a Python keyword: declared below under its wire name.
    text = StrictCharField(max_length=MAX_SMS_TEXT, allow_blank=True, trim_whitespace=False)
    received_at = serializers.DateTimeField(required=False)


GenericInboundSerializer._declared_fields["from"] = StrictCharField(max_length=32)


class ReplySerializer(serializers.Serializer):
    reply = serializers.CharField()


class GenericInboundView(_InboundView):
    """Any SMS gateway can POST `{"from": "+27…", "text": "…"}` with the shared secret header."""

    parser_classes = [JSONParser]

    @extend_schema(
        request=GenericInboundSerializer,
        responses={200: ReplySerializer},
        parameters=[
            OpenApiParameter(
                "X-Civicdesk-Sms-Secret",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                required=True,
                description="The shared secret set in SMS_INBOUND_SECRET.",
            )
        ],
        auth=[],
        summary="Receive an SMS (generic JSON)",
    )
    def post(self, request):
        given = request.headers.get("X-Civicdesk-Sms-Secret", "")
        if not _secret_matches(given, settings.SMS_INBOUND_SECRET):
            raise exceptions.PermissionDenied(_("The SMS shared secret is missing or wrong."))
        data = GenericInboundSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        message = inbound_sms_receive(
            provider="generic",
            sender=data.validated_data["from"],
            text=data.validated_data["text"],
            received_at=data.validated_data.get("received_at"),
        )
        return Response({"reply": message.reply})


class TwilioInboundView(_InboundView):
    """Twilio's messaging webhook. The X-Twilio-Signature is checked with Twilio's validator over
    the URL Twilio called and every form field; the reply goes back as TwiML."""

    parser_classes = [FormParser]  # Twilio posts form-encoded fields, never files

    @extend_schema(
        request={"application/x-www-form-urlencoded": OpenApiTypes.OBJECT},
        responses={(200, "text/xml"): OpenApiResponse(OpenApiTypes.STR, description="TwiML")},
        auth=[],
        summary="Receive an SMS from Twilio",
    )
    def post(self, request):
        params = request.data  # a QueryDict: the validator signs repeated fields too
        signature = request.headers.get("X-Twilio-Signature", "")
        try:
            valid = bool(settings.TWILIO_AUTH_TOKEN) and RequestValidator(
                settings.TWILIO_AUTH_TOKEN
            ).validate(request.build_absolute_uri(), params, signature)
        except ValueError:  # e.g. a Host header whose port is out of range
            valid = False
        if not valid:
            raise exceptions.PermissionDenied(_("The Twilio signature is missing or wrong."))
        sender, text = params.get("From") or "", params.get("Body") or ""
        if not sender.strip():
            raise exceptions.ValidationError({"From": [_("The sender is missing.")]})
        message = inbound_sms_receive(provider="twilio", sender=sender, text=text)
        twiml = MessagingResponse()
        twiml.message(message.reply)
        return HttpResponse(str(twiml), content_type="text/xml; charset=utf-8")


class AfricasTalkingInboundSerializer(serializers.Serializer):
    text = serializers.CharField(
        max_length=MAX_SMS_TEXT,
        allow_blank=True,
        required=False,
        default="",
        trim_whitespace=False,
    )
    to = serializers.CharField(max_length=32, required=False)
    id = serializers.CharField(max_length=120, required=False)
    date = serializers.CharField(max_length=64, required=False, allow_blank=True)

    def validate_date(self, value: str):
        """When the provider received the message. Africa's Talking's format is not formally
        specified: an unreadable date is not worth losing the message over, so it means "now"."""
        try:
            parsed = parse_datetime(value.strip())
        except ValueError:
            parsed = None
        if parsed is None:
            return None
        return parsed if timezone.is_aware(parsed) else parsed.replace(tzinfo=UTC)


AfricasTalkingInboundSerializer._declared_fields["from"] = serializers.CharField(max_length=32)


class AfricasTalkingInboundView(_InboundView):
    """Africa's Talking's incoming-message callback (form-encoded). It cannot sign callbacks, so
    the callback URL carries `?token=` (AFRICASTALKING_INBOUND_TOKEN); the reply is sent as a new
    SMS."""

    parser_classes = [FormParser, MultiPartParser]

    @extend_schema(
        request={"application/x-www-form-urlencoded": AfricasTalkingInboundSerializer},
        responses={200: ReplySerializer},
        parameters=[OpenApiParameter("token", OpenApiTypes.STR, OpenApiParameter.QUERY)],
        auth=[],
        summary="Receive an SMS from Africa's Talking",
    )
    def post(self, request):
        expected = settings.AFRICASTALKING_INBOUND_TOKEN
        if expected:
            if not _secret_matches(request.query_params.get("token", ""), expected):
                raise exceptions.PermissionDenied(_("The callback token is missing or wrong."))
        elif settings.PRODUCTION:
            raise exceptions.PermissionDenied(_("This callback is not configured."))
        data = AfricasTalkingInboundSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        message = inbound_sms_receive(
            provider="africastalking",
            sender=data.validated_data["from"],
            text=data.validated_data.get("text", ""),
            received_at=data.validated_data.get("date"),
            reply_by_sms=True,
        )
        return Response({"reply": message.reply})
