"""Identity API: tokens and the caller's own profile."""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from civicdesk.core.api import (
    StrictCharField,
    StrictEmailField,
    StrictModelSerializer,
    StrictRegexField,
)
from civicdesk.identity import services
from civicdesk.identity.authentication import BearerTokenAuthentication
from civicdesk.identity.models import ApiToken, User


class TokenRequestSerializer(serializers.Serializer):
    email = StrictEmailField()
    password = StrictCharField(trim_whitespace=False, max_length=256)
    otp = StrictRegexField(
        r"^[0-9]{6,8}$",
        required=False,
        help_text="Staff only: the current code from their authenticator app.",
    )


class TokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField()
    expires_at = serializers.DateTimeField()


class TokenView(APIView):
    """Exchange an e-mail and password (and, for staff, a TOTP code) for a bearer token."""

    authentication_classes = [BearerTokenAuthentication]
    throttle_scope = "auth"
    throttle_classes = [ScopedRateThrottle]

    def get_permissions(self):
        if self.request.method == "DELETE":
            return [IsAuthenticated()]
        return [AllowAny()]

    @extend_schema(
        request=TokenRequestSerializer,
        responses={201: TokenResponseSerializer},
        auth=[],
        summary="Obtain an API token",
    )
    def post(self, request):
        data = TokenRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        email = data.validated_data["email"].lower()
        user = authenticate(
            request._request, username=email, password=data.validated_data["password"]
        )
        if getattr(request._request, "axes_locked_out", False):
            raise exceptions.Throttled(
                detail=_("Too many failed attempts. This login is locked for a while.")
            )
        if user is None or not user.is_active:
            raise exceptions.AuthenticationFailed(_("The e-mail address or password is not right."))
        if user.is_staff:
            otp = data.validated_data.get("otp")
            if not otp:
                raise exceptions.AuthenticationFailed(
                    _("Staff must add the current code from their authenticator app (otp).")
                )
            if services.totp_verify(user=user, token=otp, request=request._request) is None:
                raise exceptions.AuthenticationFailed(_("The authenticator code is not right."))
        elif not user.email_verified:
            raise exceptions.PermissionDenied(_("Verify your e-mail address first."))
        token, key = services.token_create(user=user, request=request._request)
        return Response(
            {"token": key, "expires_at": token.expires_at}, status=status.HTTP_201_CREATED
        )

    @extend_schema(
        responses={204: None},
        summary="Revoke the token used for this request",
        description="Revoke the bearer token sent with this request; other tokens stay valid.",
    )
    def delete(self, request):
        if not isinstance(request.auth, ApiToken):
            raise exceptions.NotAuthenticated(_("Send the token to revoke as a Bearer token."))
        services.token_revoke(token=request.auth, request=request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


# International format, as typed: "+27 82 123 4567". Whether such a number exists is the domain's
# question (422); the shape is the schema's (400). Empty clears the phone.
PHONE_PATTERN = r"^\+[0-9][0-9 ().-]*$"


class MeSerializer(StrictModelSerializer):
    """Your profile: contact details and whether they are verified, language, channel, roles."""

    roles = serializers.SerializerMethodField()
    id = serializers.UUIDField(source="public_id", read_only=True)
    phone = StrictRegexField(
        PHONE_PATTERN,
        allow_blank=True,
        required=False,
        max_length=32,
        help_text="International format starting with +, e.g. +27 82 123 4567; empty to remove.",
    )

    class Meta:
        model = User
        fields = [
            "id",
            "email",
            "full_name",
            "phone",
            "phone_verified",
            "email_verified",
            "preferred_channel",
            "preferred_language",
            "roles",
        ]
        read_only_fields = ["id", "email", "phone_verified", "email_verified", "roles"]
        extra_kwargs = {"full_name": {"min_length": 1}}

    def get_roles(self, user) -> list[str]:
        return user.role_names

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["phone"] = str(instance.phone or "")
        return data


class MeView(APIView):
    """The caller's own profile: language and notification channel included."""

    @extend_schema(responses=MeSerializer, summary="Your profile")
    def get(self, request):
        return Response(MeSerializer(request.user).data)

    @extend_schema(request=MeSerializer, responses=MeSerializer, summary="Change your profile")
    def patch(self, request):
        serializer = MeSerializer(request.user, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        # A rule the schema cannot express (a number that does not exist, SMS without a phone)
        # raises Django's ValidationError: the exception handler answers 422.
        user = services.user_update_profile(user=request.user, **serializer.validated_data)
        return Response(MeSerializer(user).data)
