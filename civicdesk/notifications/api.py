"""Inbound SMS webhooks: Twilio (signed), Africa's Talking (token) and a generic JSON endpoint."""

from __future__ import annotations

import secrets
from xml.sax.saxutils import escape

from django.conf import settings
from django.http import HttpResponse
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

from civicdesk.notifications.services import inbound_sms_receive, sms_reply_send


class _InboundView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "sms"


class GenericInboundSerializer(serializers.Serializer):
    # "from" is a Python keyword: declared below under its wire name.
    text = serializers.CharField(max_length=1600, allow_blank=True, trim_whitespace=False)
    received_at = serializers.DateTimeField(required=False)


GenericInboundSerializer._declared_fields["from"] = serializers.CharField(max_length=32)


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
        expected = settings.SMS_INBOUND_SECRET
        given = request.headers.get("X-Civicdesk-Sms-Secret", "")
        if not expected or not secrets.compare_digest(given.encode(), expected.encode()):
            raise exceptions.PermissionDenied(_("The SMS shared secret is missing or wrong."))
        data = GenericInboundSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        message, _language = inbound_sms_receive(
            provider="generic",
            sender=data.validated_data["from"],
            text=data.validated_data["text"],
            received_at=data.validated_data.get("received_at"),
        )
        return Response({"reply": message.reply})


class TwilioInboundView(_InboundView):
    """Twilio's messaging webhook. The X-Twilio-Signature is checked with Twilio's validator;
    the reply goes back as TwiML."""

    parser_classes = [FormParser, MultiPartParser]

    @extend_schema(
        request={"application/x-www-form-urlencoded": OpenApiTypes.OBJECT},
        responses={(200, "text/xml"): OpenApiResponse(OpenApiTypes.STR, description="TwiML")},
        auth=[],
        summary="Receive an SMS from Twilio",
    )
    def post(self, request):
        validator = RequestValidator(settings.TWILIO_AUTH_TOKEN)
        params = {key: request.POST.get(key) for key in request.POST}
        signature = request.headers.get("X-Twilio-Signature", "")
        if not settings.TWILIO_AUTH_TOKEN or not validator.validate(
            request.build_absolute_uri(), params, signature
        ):
            raise exceptions.PermissionDenied(_("The Twilio signature is missing or wrong."))
        sender, text = params.get("From") or "", params.get("Body") or ""
        if not sender:
            raise exceptions.ValidationError({"From": [_("The sender is missing.")]})
        message, _language = inbound_sms_receive(provider="twilio", sender=sender, text=text)
        twiml = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f"<Response><Message>{escape(message.reply)}</Message></Response>"
        )
        return HttpResponse(twiml, content_type="text/xml; charset=utf-8")


class AfricasTalkingInboundSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=1600, allow_blank=True, required=False, default="")
    to = serializers.CharField(max_length=32, required=False)
    id = serializers.CharField(max_length=120, required=False)
    date = serializers.CharField(max_length=64, required=False)


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
        given = request.query_params.get("token", "")
        if expected:
            if not secrets.compare_digest(given.encode(), expected.encode()):
                raise exceptions.PermissionDenied(_("The callback token is missing or wrong."))
        elif settings.PRODUCTION:
            raise exceptions.PermissionDenied(_("This callback is not configured."))
        data = AfricasTalkingInboundSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        message, language = inbound_sms_receive(
            provider="africastalking",
            sender=data.validated_data["from"],
            text=data.validated_data.get("text", ""),
        )
        sms_reply_send(to=message.sender, body=message.reply, language=language, user=message.user)
        return Response({"reply": message.reply})
