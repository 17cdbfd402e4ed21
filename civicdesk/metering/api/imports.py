"""API: bulk import of meter readings (CSV files from contractors and AMR systems).

`POST /meter-readings/imports` (multipart: `file`, `dry_run` — true unless you say false —
and `skip_invalid`) checks every row and every reading like the services do and answers with
the report: rows read, readings accepted, flagged for review and rejected (per reason), and
the rows that cannot be read (line, column, code, message in your language). A dry run
writes nothing; a real run writes everything, or nothing at all when a row cannot be read
(unless `skip_invalid`). A file that is not a readings CSV is refused with 422 and the report.
Every run is kept: `GET /meter-readings/imports/{id}`, `GET /meter-readings/imports`.
The upload requires an `Idempotency-Key` header. Format: docs/reading-import.md."""

from __future__ import annotations

from django.http import Http404
from django.urls import path
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import generics, permissions, serializers
from rest_framework import status as http_status
from rest_framework.fields import empty
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from civicdesk.core.api import PROBLEM_TYPE_BASE, Pagination, UnprocessableContent, problem_response
from civicdesk.core.idempotency import idempotent
from civicdesk.metering.importing import FILE_CODES, readings_import
from civicdesk.metering.models import ReadingImport
from civicdesk.metering.reasons import reason_text

VIEW = "metering.view_readingimport"
ADD = "metering.add_readingimport"
MAX_BYTES = 100 * 1024 * 1024


class StaffPermission(permissions.BasePermission):
    """Staff whose role holds the permissions the view names for the request's method."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_staff):
            return False
        return user.has_perms(view.staff_permissions.get(request.method, (VIEW,)))


class FormBooleanField(serializers.BooleanField):
    """A form field left out takes the field's default (DRF's own would read it as false)."""

    default_empty_html = empty


# --- serializers ------------------------------------------------------------------------------


class ImportUploadSerializer(serializers.Serializer):
    file = serializers.FileField(
        required=False,  # Django's multipart parser drops an empty file part: see the view
        allow_empty_file=True,
        max_length=255,
        help_text="The CSV file (UTF-8, comma or semicolon; at most 100 MB).",
    )
    dry_run = FormBooleanField(
        default=True, help_text="Check everything and write nothing (the default)."
    )
    skip_invalid = FormBooleanField(
        default=False,
        help_text="Import the good rows even when some rows cannot be read (else nothing is "
        "written when one cannot).",
    )


class ImportErrorSerializer(serializers.Serializer):
    line = serializers.IntegerField(help_text="The file's line (the header is line 1).")
    field = serializers.CharField(help_text="The column, or empty for the whole row or file.")
    code = serializers.CharField()
    message = serializers.CharField()


class ImportReasonSerializer(serializers.Serializer):
    code = serializers.CharField()
    count = serializers.IntegerField()
    message = serializers.CharField()


class ReadingImportSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    started_by = serializers.SerializerMethodField()
    errors = ImportErrorSerializer(many=True, read_only=True)
    reasons = serializers.SerializerMethodField()
    written = serializers.SerializerMethodField()

    class Meta:
        model = ReadingImport
        fields = [
            "id",
            "file_name",
            "dry_run",
            "status",
            "written",
            "started_by",
            "started_at",
            "finished_at",
            "rows_read",
            "accepted",
            "flagged",
            "rejected",
            "error_count",
            "errors",
            "reasons",
        ]
        read_only_fields = fields

    def get_started_by(self, record) -> str | None:
        return record.started_by.email if record.started_by_id else None

    def get_written(self, record) -> bool:
        """Whether the readings were stored (a real run that was not refused)."""
        return record.status == ReadingImport.Status.DONE

    @extend_schema_field(ImportReasonSerializer(many=True))
    def get_reasons(self, record) -> list[dict]:
        ordered = sorted((record.reasons or {}).items(), key=lambda item: (-item[1], item[0]))
        return [
            {"code": code, "count": count, "message": reason_text(code)} for code, count in ordered
        ]


# --- views ------------------------------------------------------------------------------------


def _imports():
    return ReadingImport.objects.select_related("started_by").order_by("-started_at", "-pk")


class ImportListCreate(generics.ListAPIView):
    serializer_class = ReadingImportSerializer
    permission_classes = [StaffPermission]
    staff_permissions = {"GET": (VIEW,), "POST": (VIEW, ADD)}
    parser_classes = [MultiPartParser, FormParser]
    pagination_class = Pagination
    queryset = ReadingImport.objects.none()
    filter_backends: list = []

    def get_queryset(self):
        return _imports()

    @extend_schema(summary="Reading imports, newest first")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Import a file of meter readings (a dry run unless dry_run=false)",
        description=(
            "Columns (header names, any order): `serial` (or `meter`), `register` (optional, "
            "T by default; T1/T2/T3 on day/night and three-rate meters), `value` (or "
            "`reading`; a point or a comma), `taken_at` (or `date`: 2026-03-15, "
            "2026-03-15T08:30, with an offset or in the operator's time, or 15.03.2026), "
            "`account` (optional: checked against the meter's).\n\n"
            "Every reading is decided like one sent by a resident: accepted, flagged for "
            "review (a spike) or rejected (lower than before, a duplicate, more digits than "
            "the meter, in the future, the meter removed...), and stored with its reason. "
            "Rows that cannot be read (not a number or a date, an unknown meter or register, "
            "a row twice) are listed and make the import write nothing, unless "
            "`skip_invalid`. A dry run does all the work and writes nothing.\n\n"
            "201 with the report (`written` says whether the readings were stored). 422 with "
            "the report under `import` when the file is not a readings CSV or when rows "
            "cannot be read in a real run without `skip_invalid`."
        ),
        request={"multipart/form-data": ImportUploadSerializer},
        responses={201: ReadingImportSerializer},
    )
    @idempotent
    def post(self, request, *args, **kwargs):
        incoming = ImportUploadSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        upload = data.get("file")
        if upload is None:  # no file part, or an empty one (which the parser drops)
            raise UnprocessableContent({"file": [_("Attach the file of readings; it is empty.")]})
        if upload.size > MAX_BYTES:
            raise UnprocessableContent(
                {
                    "file": [
                        _("The file is too large: at most %(mb)d MB here; use the command line.")
                        % {"mb": MAX_BYTES // (1024 * 1024)}
                    ]
                }
            )
        record = readings_import(
            stream=upload,
            file_name=upload.name or "",
            dry_run=data["dry_run"],
            skip_invalid=data["skip_invalid"],
            actor=request.user,
        )
        record = _imports().get(pk=record.pk)
        report = ReadingImportSerializer(record).data
        location = request.build_absolute_uri(f"{request.path}/{record.public_id}")
        if record.status == ReadingImport.Status.REFUSED:
            # An answer, not an exception: the import's record is kept (and replayed).
            first = record.errors[0] if record.errors else None
            detail = _("Nothing was written.")
            if first is not None and first["code"] in FILE_CODES:
                detail = f"{first['message']} {detail}"
            elif record.error_count:
                detail = _(
                    "%(count)d rows cannot be read, so nothing was written (see errors; "
                    "skip_invalid imports the good rows)."
                ) % {"count": record.error_count}
            return problem_response(
                422,
                _("The readings were not imported"),
                detail,
                problem_type=PROBLEM_TYPE_BASE + "reading-import-refused",
                errors=[
                    {"field": e["field"] or "file", "message": e["message"], "code": e["code"]}
                    for e in record.errors[:20]
                ],
                headers={"Location": location},
                **{"import": report},
            )
        return Response(report, status=http_status.HTTP_201_CREATED, headers={"Location": location})


class ImportDetail(generics.RetrieveAPIView):
    serializer_class = ReadingImportSerializer
    permission_classes = [StaffPermission]
    staff_permissions = {"GET": (VIEW,)}
    queryset = ReadingImport.objects.none()
    filter_backends: list = []

    @extend_schema(
        summary="One reading import's report",
        parameters=[OpenApiParameter("import_id", OpenApiTypes.UUID, OpenApiParameter.PATH)],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_object(self):
        record = _imports().filter(public_id=self.kwargs["import_id"]).first()
        if record is None:
            raise Http404
        return record


urlpatterns = [
    path("meter-readings/imports", ImportListCreate.as_view(), name="meter-reading-import-list"),
    path(
        "meter-readings/imports/<uuid:import_id>",
        ImportDetail.as_view(),
        name="meter-reading-import-detail",
    ),
]
