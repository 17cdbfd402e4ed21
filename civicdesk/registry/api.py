"""Registry API. Staff read and write everything their role allows; residents see only their
own accounts (by account number) and link themselves to more."""

from __future__ import annotations

from django.db import transaction
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from civicdesk.core.api import StrictCharField, StrictModelSerializer, UnprocessableContent
from civicdesk.registry import selectors, services
from civicdesk.registry.geo import GeoError, parse_boundary
from civicdesk.registry.models import (
    AccountHolder,
    AccountService,
    Building,
    HolderRole,
    LinkRequest,
    PersonalAccount,
    Premises,
    Provider,
    ServiceCentre,
    ServiceType,
    Territory,
)
from civicdesk.registry.models.links import LINK_START_METHODS, LinkMethod


class StaffModelPermissions(permissions.DjangoModelPermissions):
    """Staff with the model's view/add/change/delete permission (from their role)."""

    perms_map = {
        **permissions.DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": [],
    }

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_staff) and super().has_permission(
            request, view
        )


def _save(serializer, **extra):
    """Validate through the model (full_clean) and keep history; model errors become 422."""
    instance = serializer.instance
    data = {**serializer.validated_data, **extra}
    if instance is None:
        instance = serializer.Meta.model(**data)
    else:
        for key, value in data.items():
            setattr(instance, key, value)
    services.record_save(instance, actor=serializer.context["request"].user)
    serializer.instance = instance
    return instance


class RecordViewSet(viewsets.ModelViewSet):
    permission_classes = [StaffModelPermissions]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def perform_create(self, serializer):
        _save(serializer)

    def perform_update(self, serializer):
        _save(serializer)

    def perform_destroy(self, instance):
        from django.db.models import ProtectedError

        try:
            instance.delete()
        except ProtectedError as exc:
            raise exceptions.ValidationError(
                _("This record is still in use and cannot be deleted.")
            ) from exc


# --- organisation ---------------------------------------------------------------------------


class ProviderSerializer(StrictModelSerializer):
    services = serializers.ListField(
        child=serializers.ChoiceField(choices=ServiceType.choices), required=False
    )
    phone = StrictCharField(required=False, allow_blank=True, max_length=32)

    class Meta:
        model = Provider
        fields = [
            "code",
            "name",
            "registration_number",
            "tax_number",
            "bank_name",
            "iban",
            "bank_account",
            "bank_code",
            "correspondent_account",
            "services",
            "email",
            "phone",
            "active",
        ]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["phone"] = str(instance.phone or "")
        return data


class ProviderFilter(filters.FilterSet):
    service = filters.ChoiceFilter(choices=ServiceType.choices, method="by_service")
    q = filters.CharFilter(field_name="name", lookup_expr="icontains")

    class Meta:
        model = Provider
        fields = ["active"]

    def by_service(self, queryset, name, value):
        return (
            queryset.filter(services__contains=[value])
            if _json_contains()
            else queryset.filter(services__icontains=f'"{value}"')
        )


def _json_contains() -> bool:
    from django.db import connection

    return connection.vendor == "postgresql"


class ProviderViewSet(RecordViewSet):
    """Suppliers whose services appear on bills."""

    queryset = Provider.objects.all()
    serializer_class = ProviderSerializer
    lookup_field = "code"
    filterset_class = ProviderFilter


class TerritorySerializer(StrictModelSerializer):
    parent = serializers.SlugRelatedField(
        slug_field="code", queryset=Territory.objects.all(), allow_null=True, required=False
    )
    boundary = serializers.JSONField(required=False, allow_null=True)

    class Meta:
        model = Territory
        fields = ["code", "name", "kind", "parent", "boundary"]

    def validate_boundary(self, value):
        if value:
            try:
                parse_boundary(value)
            except GeoError as exc:
                raise serializers.ValidationError(str(exc)) from exc
        return value


class TerritoryViewSet(RecordViewSet):
    """Districts and the areas in them; boundaries drive routing by location."""

    queryset = Territory.objects.select_related("parent")
    serializer_class = TerritorySerializer
    lookup_field = "code"
    filterset_fields = ["kind", "parent__code"]

    @extend_schema(
        parameters=[
            OpenApiParameter("lon", float, description="Longitude"),
            OpenApiParameter("lat", float, description="Latitude"),
            OpenApiParameter("address", str, description="An address to find"),
        ],
        responses={200: TerritorySerializer},
        summary="Find the territory of a point or an address",
    )
    @action(detail=False, methods=["get"])
    def locate(self, request):
        from civicdesk.registry.territories import territory_locate

        params = LocateSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        territory = territory_locate(**params.validated_data)
        if territory is None:
            raise exceptions.NotFound(_("No territory covers this place."))
        return Response(TerritorySerializer(territory).data)


class LocateSerializer(serializers.Serializer):
    lon = serializers.FloatField(required=False, min_value=-180, max_value=180)
    lat = serializers.FloatField(required=False, min_value=-90, max_value=90)
    address = StrictCharField(required=False, max_length=300)

    def validate(self, attrs):
        point = "lon" in attrs and "lat" in attrs
        if not point and not attrs.get("address"):
            raise serializers.ValidationError(_("Give lon and lat, or an address."))
        return attrs


class ServiceCentreSerializer(StrictModelSerializer):
    territory = serializers.SlugRelatedField(slug_field="code", queryset=Territory.objects.all())
    hours = serializers.SerializerMethodField()
    phone = StrictCharField(required=False, allow_blank=True, max_length=32)

    class Meta:
        model = ServiceCentre
        fields = ["id", "name", "address", "territory", "phone", "email", "hours"]

    def get_hours(self, centre) -> list[dict]:
        return [
            {
                "weekday": h.weekday,
                "opens": h.opens.strftime("%H:%M"),
                "closes": h.closes.strftime("%H:%M"),
            }
            for h in centre.hours.all()
        ]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["phone"] = str(instance.phone or "")
        return data


class ServiceCentreViewSet(RecordViewSet):
    lookup_value_regex = "[0-9]+"
    queryset = ServiceCentre.objects.select_related("territory").prefetch_related("hours")
    serializer_class = ServiceCentreSerializer
    filterset_fields = ["territory__code"]


# --- property -------------------------------------------------------------------------------


class BuildingSerializer(StrictModelSerializer):
    territory = serializers.SlugRelatedField(slug_field="code", queryset=Territory.objects.all())

    class Meta:
        model = Building
        fields = [
            "code",
            "address",
            "territory",
            "total_area",
            "heated_area",
            "management_form",
            "latitude",
            "longitude",
        ]


class BuildingViewSet(RecordViewSet):
    queryset = Building.objects.select_related("territory")
    serializer_class = BuildingSerializer
    lookup_field = "code"
    filterset_fields = {
        "territory__code": ["exact"],
        "address": ["icontains"],
        "management_form": ["exact"],
    }


class PremisesSerializer(StrictModelSerializer):
    building = serializers.SlugRelatedField(slug_field="code", queryset=Building.objects.all())

    class Meta:
        model = Premises
        fields = [
            "id",
            "building",
            "number",
            "kind",
            "total_area",
            "heated_area",
            "rooms",
            "occupants",
            "municipal_valuation",
            "valuation_date",
            "ownership_share",
        ]


class PremisesViewSet(RecordViewSet):
    lookup_value_regex = "[0-9]+"
    queryset = Premises.objects.select_related("building")
    serializer_class = PremisesSerializer
    filterset_fields = ["building__code", "kind"]


# --- accounts -------------------------------------------------------------------------------


class AccountServiceSerializer(StrictModelSerializer):
    account = serializers.SlugRelatedField(
        slug_field="number", queryset=PersonalAccount.objects.all()
    )
    provider = serializers.SlugRelatedField(slug_field="code", queryset=Provider.objects.all())

    class Meta:
        model = AccountService
        fields = [
            "id",
            "account",
            "service_type",
            "provider",
            "tariff_code",
            "starts_on",
            "ends_on",
        ]


class HolderSerializer(StrictModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    account = serializers.SlugRelatedField(
        slug_field="number", queryset=PersonalAccount.objects.all()
    )
    phone = StrictCharField(required=False, allow_blank=True, max_length=32)

    class Meta:
        model = AccountHolder
        fields = ["id", "account", "role", "full_name", "id_number", "email", "phone"]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["phone"] = str(instance.phone or "")
        return data


class AccountSerializer(StrictModelSerializer):
    account_number = serializers.CharField(source="number", read_only=True)
    premises = serializers.PrimaryKeyRelatedField(queryset=Premises.objects.all(), write_only=True)
    address = serializers.CharField(source="premises.address", read_only=True)
    territory = serializers.CharField(source="premises.building.territory.code", read_only=True)
    services = serializers.SerializerMethodField()
    holders = serializers.SerializerMethodField()

    class Meta:
        model = PersonalAccount
        fields = [
            "account_number",
            "premises",
            "address",
            "territory",
            "status",
            "opened_on",
            "suspended_on",
            "closed_on",
            "delivery_preference",
            "services",
            "holders",
        ]

    def get_services(self, account) -> list[dict]:
        return [
            {
                "service_type": s.service_type,
                "provider": s.provider.name,
                "tariff_code": s.tariff_code,
                "starts_on": s.starts_on.isoformat(),
                "ends_on": s.ends_on.isoformat() if s.ends_on else None,
            }
            for s in account.services.all()
        ]

    def get_holders(self, account) -> list[dict]:
        return [{"full_name": h.full_name, "role": h.role} for h in account.holders.all()]


class AccountPermission(permissions.BasePermission):
    """Residents read their own accounts; staff need the model permissions of their role."""

    def has_permission(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return False
        if request.user.is_staff:
            return StaffModelPermissions().has_permission(request, view)
        return view.action in ("list", "retrieve", "unlink", "invite")


class AccountFilter(filters.FilterSet):
    territory = filters.CharFilter(field_name="premises__building__territory__code")
    building = filters.CharFilter(field_name="premises__building__code")
    q = filters.CharFilter(method="search")

    class Meta:
        model = PersonalAccount
        fields = ["status", "delivery_preference"]

    def search(self, queryset, name, value):
        ids = selectors.accounts_search(value).values("pk")
        return queryset.filter(pk__in=ids)


class AccountViewSet(RecordViewSet):
    """Personal accounts. Residents: only those linked to them (anyone else's answers 404)."""

    serializer_class = AccountSerializer
    permission_classes = [AccountPermission]
    lookup_field = "number"
    lookup_url_kwarg = "account_number"
    filterset_class = AccountFilter
    queryset = PersonalAccount.objects.none()

    def get_queryset(self):
        user = self.request.user
        if getattr(self, "swagger_fake_view", False) or not user.is_authenticated:
            return PersonalAccount.objects.none()
        if user.is_staff:
            return PersonalAccount.objects.select_related(
                "premises__building__territory"
            ).prefetch_related("services__provider", "holders")
        return selectors.accounts_for_user(user)

    def perform_create(self, serializer):
        account = services.account_open(actor=self.request.user, **serializer.validated_data)
        serializer.instance = account

    @extend_schema(request=None, responses={204: None}, summary="Unlink this account from you")
    @action(detail=True, methods=["post"])
    def unlink(self, request, account_number=None):
        account = selectors.account_for_user(request.user, account_number)
        services.link_revoke(user=request.user, account=account)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=inline_serializer(
            "InvitationRequest",
            {
                "email": serializers.EmailField(),
                "role": serializers.ChoiceField(HolderRole.choices),
            },
        ),
        responses={201: inline_serializer("Invitation", {"id": serializers.UUIDField()})},
        summary="Invite someone to this account",
    )
    @action(detail=True, methods=["post"])
    def invite(self, request, account_number=None):
        account = selectors.account_for_user(request.user, account_number)
        data = InvitationSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        invitation, _token = services.invitation_create(
            inviter=request.user,
            account=account,
            base_url=request.build_absolute_uri("/"),
            **data.validated_data,
        )
        return Response({"id": str(invitation.id)}, status=status.HTTP_201_CREATED)


class InvitationSerializer(serializers.Serializer):
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=HolderRole.choices)


class HolderViewSet(RecordViewSet):
    queryset = AccountHolder.objects.select_related("account")
    serializer_class = HolderSerializer
    lookup_field = "public_id"
    lookup_url_kwarg = "id"
    lookup_value_regex = "[0-9a-fA-F-]{36}"
    filterset_fields = ["account__number", "role"]


class AccountServiceViewSet(RecordViewSet):
    lookup_value_regex = "[0-9]+"
    queryset = AccountService.objects.select_related("account", "provider")
    serializer_class = AccountServiceSerializer
    filterset_fields = ["account__number", "service_type", "provider__code"]


# --- linking --------------------------------------------------------------------------------


class LinkRequestSerializer(serializers.ModelSerializer):
    message = serializers.SerializerMethodField()

    class Meta:
        model = LinkRequest
        fields = [
            "id",
            "account_number",
            "method",
            "role",
            "status",
            "expires_at",
            "created_at",
            "message",
        ]

    def get_message(self, request) -> str:
        return {
            LinkRequest.Status.PENDING: (
                _(
                    "If the account number is right, we sent a code to the contact details on "
                    "file for it."
                )
                if request.method == LinkMethod.CODE
                else _("Enter the amount of the last bill of this account.")
            ),
            LinkRequest.Status.IN_REVIEW: _("Staff will review your document and let you know."),
        }.get(request.status, services._link_status_message(request))


class LinkStartSerializer(serializers.Serializer):
    account_number = StrictCharField(max_length=40)
    method = serializers.ChoiceField(choices=LINK_START_METHODS)
    role = serializers.ChoiceField(choices=HolderRole.choices, default=HolderRole.OWNER)


class LinkStartUploadSerializer(LinkStartSerializer):
    """The same, as multipart/form-data, with the document that proves the account."""

    document = serializers.FileField(required=False)
    document_kind = serializers.ChoiceField(
        choices=LinkRequest.DocumentKind.choices, required=False
    )


class LinkConfirmSerializer(serializers.Serializer):
    code = serializers.RegexField(r"^[0-9]{6}$", required=False)
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, required=False)

    def validate(self, attrs):
        if "code" not in attrs and "amount" not in attrs:
            raise serializers.ValidationError(_("Give the code or the amount."))
        return attrs


class LinkRequestViewSet(
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """A resident links an account: start with the number and a proof, then confirm."""

    serializer_class = LinkRequestSerializer
    lookup_value_regex = "[0-9a-fA-F-]{36}"
    parser_classes = [JSONParser, MultiPartParser]
    queryset = LinkRequest.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False) or not self.request.user.is_authenticated:
            return LinkRequest.objects.none()
        return selectors.link_requests_for_user(self.request.user)

    @extend_schema(
        request={
            "application/json": LinkStartSerializer,
            "multipart/form-data": LinkStartUploadSerializer,
        },
        responses={201: LinkRequestSerializer},
        summary="Start linking an account",
    )
    def create(self, request, *args, **kwargs):
        multipart = request.content_type.startswith("multipart/")
        data = (LinkStartUploadSerializer if multipart else LinkStartSerializer)(data=request.data)
        data.is_valid(raise_exception=True)
        link_request = services.link_request_start(user=request.user, **data.validated_data)
        return Response(self.get_serializer(link_request).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=LinkConfirmSerializer,
        responses={200: LinkRequestSerializer},
        summary="Confirm a link with the code or the last bill's amount",
    )
    @action(detail=True, methods=["post"])
    def confirm(self, request, pk=None):
        link_request = get_object_or_404(self.get_queryset(), pk=pk)
        data = LinkConfirmSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        outcome = services.link_request_confirm(
            user=request.user,
            request_id=link_request.pk,
            code=data.validated_data.get("code", ""),
            amount=str(data.validated_data.get("amount", "")),
        )
        if not outcome.ok:
            raise UnprocessableContent({"non_field_errors": [outcome.message]})
        return Response(self.get_serializer(outcome.request).data)


class InvitationAcceptView(APIView):
    @extend_schema(
        request=inline_serializer("InvitationAccept", {"token": serializers.CharField()}),
        responses={200: AccountSerializer},
        summary="Accept an invitation to an account",
    )
    def post(self, request):
        token = request.data.get("token") if isinstance(request.data, dict) else None
        if not isinstance(token, str) or not token:
            raise exceptions.ValidationError({"token": [_("This field is required.")]})
        with transaction.atomic():
            link = services.invitation_accept(token=token, user=request.user)
        return Response(AccountSerializer(link.account).data)
