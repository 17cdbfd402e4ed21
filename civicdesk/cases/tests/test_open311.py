"""Open311 GeoReport v2: discovery, services, service definitions, POST and GET requests,
tokens, errors, JSON and XML. Every JSON body is validated against the official georeport-v2
JSON Schemas in ../shared/open311-schemas/ (skipped, saying so, where that folder is missing)."""

from __future__ import annotations

import datetime as dt
import json
import re
import xml.etree.ElementTree as ET
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
import time_machine
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from civicdesk.cases import services
from civicdesk.cases.models import Case, CaseEvent, Open311Client
from civicdesk.cases.open311 import georeport
from civicdesk.cases.open311.services import open311_client_create
from civicdesk.cases.services import Intake
from civicdesk.cases.tests import factories as cf
from civicdesk.identity.models import digest
from civicdesk.registry.tests import factories as rf

pytestmark = pytest.mark.django_db

BASE = "/open311/v2/"
KEY = "test-open311-key"
# A Tuesday, 10:00 in Johannesburg (08:00 UTC).
TUESDAY = dt.datetime(2026, 3, 3, 8, 0, tzinfo=dt.UTC)
INSIDE_SQUARE = {"lat": "-25.75", "long": "28.25"}

# --- the official JSON Schemas ----------------------------------------------------------------

SCHEMAS = Path(settings.BASE_DIR).parent / "shared" / "open311-schemas"
W3C_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def _format_checker():
    """date-time (RFC 3339, offset required) and uri checked here: jsonschema checks them only
    with optional packages, and would otherwise pass anything."""
    from jsonschema import FormatChecker

    checker = FormatChecker(formats=())

    @checker.checks("date-time", raises=ValueError)
    def _date_time(value) -> bool:
        if not isinstance(value, str):
            return True
        return bool(W3C_DATETIME.match(value)) and dt.datetime.fromisoformat(value) is not None

    @checker.checks("uri")
    def _uri(value) -> bool:
        if not isinstance(value, str):
            return True
        parts = urlsplit(value)
        return value.isascii() and " " not in value and bool(parts.scheme and parts.netloc)

    return checker


@pytest.fixture(scope="session")
def schema():
    """schema(instance, "services.json") validates against that file; $refs between the files
    resolve relative to the folder."""
    if not SCHEMAS.is_dir():
        pytest.skip(f"Open311 JSON Schemas not found at {SCHEMAS}: shared/ is not beside the repo")
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    registry = Registry().with_resources(
        (
            path.resolve().as_uri(),
            Resource.from_contents(json.loads(path.read_text()), default_specification=DRAFT202012),
        )
        for path in SCHEMAS.glob("*.json")
    )
    checker = _format_checker()

    def validate(instance, name: str) -> None:
        ref = {"$ref": (SCHEMAS / name).resolve().as_uri()}
        Draft202012Validator(ref, registry=registry, format_checker=checker).validate(instance)

    return validate


def test_the_schemas_do_reject(schema):
    """The validation is real: a wrong status, a missing code and a local time are refused."""
    from jsonschema import ValidationError

    good = {
        "service_request_id": "C-2026-000001",
        "status": "open",
        "service_code": "leak",
        "requested_datetime": "2026-03-03T10:00:00+02:00",
    }
    schema([good], "requests.json")
    for bad in (
        {**good, "status": "pending"},
        {k: v for k, v in good.items() if k != "service_code"},
        {**good, "requested_datetime": "2026-03-03 10:00"},
        {**good, "lat": "-25.7"},
        {**good, "description": "x" * 4001},
    ):
        with pytest.raises(ValidationError):
            schema([bad], "requests.json")
    with pytest.raises(ValidationError):
        schema([{"service_code": "x", "service_name": "X", "metadata": "no"}], "services.json")


# --- helpers ----------------------------------------------------------------------------------


@pytest.fixture
def key(db):
    open311_client_create("Test client", key=KEY)
    return KEY


@pytest.fixture
def leak(operator):
    """A public category with a parent, intake questions of every type and a location."""
    parent = cf.category(
        "water", public=True, names={"en": "Water", "uk": "Вода", "af": "Water", "ru": "Вода"}
    )
    return cf.category(
        "leak",
        kind="leak",
        parent=parent,
        public=True,
        requires_location=True,
        resolution=(2, "working_days"),
        names={"en": "Water leak", "uk": "Витік води", "af": "Waterlek", "ru": "Утечка воды"},
        questions=[
            {"key": "size", "type": "choice", "label": {"en": "How big?", "uk": "Наскільки?"},
             "required": True,
             "choices": [{"value": "small", "label": {"en": "Small", "uk": "Малий"}}, "large"]},
            {"key": "flooding", "type": "boolean", "label": {"en": "Is the street flooded?"}},
            {"key": "since", "type": "date", "label": {"en": "Since when?"}},
            {"key": "litres", "type": "number", "label": {"en": "Litres lost"}},
            {"key": "note", "type": "text", "label": {"en": "Anything else?"}},
        ],
    )  # fmt: skip


def _form(**fields) -> dict:
    return {
        "api_key": KEY,
        "service_code": "leak",
        "email": "reporter@example.org",
        "description": "Water running down the street\nsince this morning",
        "attribute[size]": "small",
        **INSIDE_SQUARE,
        **fields,
    }


def _post(client, data, fmt="json", **extra):
    return client.post(
        f"{BASE}requests.{fmt}",
        urlencode(data, doseq=True),
        content_type="application/x-www-form-urlencoded",
        **extra,
    )


def _xml(response) -> ET.Element:
    assert response["Content-Type"].startswith("text/xml")
    assert response.content.startswith(b"<?xml")
    return ET.fromstring(response.content)


def _xml_text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _same_as_json(element: ET.Element, item: dict) -> None:
    """An XML item carries the same values as its JSON object."""
    for name, value in item.items():
        child = element.find(name)
        assert child is not None, name
        if isinstance(value, list):
            continue
        assert (child.text or None) == _xml_text(value), name


def _error(response, status: int) -> str:
    assert response.status_code == status, response.content
    body = response.json()
    assert isinstance(body, list) and body and all(e["code"] == status for e in body)
    return " | ".join(e["description"] for e in body)


def _case(category, *, when=TUESDAY, **kw) -> Case:
    with time_machine.travel(when, tick=False):
        return services.case_create(
            Intake(
                category=category,
                channel=kw.pop("channel", "portal"),
                subject=kw.pop("subject", "Leak at the corner"),
                contact_email=kw.pop("contact_email", "private.person@example.org"),
                contact_name=kw.pop("contact_name", "Private Person"),
                contact_phone=kw.pop("contact_phone", "+27821234567"),
                answers=kw.pop("answers", {"size": "large"}),
                address=kw.pop("address", "12 Church Street"),
                **kw,
            )
        )


# --- discovery and services -------------------------------------------------------------------


def test_discovery_in_json_and_xml(client, operator):
    response = client.get(f"{BASE}discovery.json")
    assert response.status_code == 200 and response["Content-Type"].startswith("application/json")
    body = response.json()
    [endpoint] = body["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"] == "http://testserver/open311/v2"
    assert endpoint["formats"] == ["application/json", "text/xml"]
    assert W3C_DATETIME.match(body["changeset"])

    root = _xml(client.get(f"{BASE}discovery.xml"))
    assert root.tag == "discovery"
    assert root.findtext("endpoints/endpoint/specification") == endpoint["specification"]
    assert [f.text for f in root.findall("endpoints/endpoint/formats/format")] == endpoint[
        "formats"
    ]


def test_services_lists_only_public_active_categories_in_two_languages(client, leak, schema):
    cf.category("private-matter", public=False)
    closed = cf.category("closed-one", public=True)
    closed.active = False
    closed.save()

    response = client.get(f"{BASE}services.json")
    assert response.status_code == 200
    body = response.json()
    schema(body, "services.json")
    by_code = {s["service_code"]: s for s in body}
    assert set(by_code) == {"water", "leak"}
    assert by_code["leak"] == {
        "service_code": "leak",
        "service_name": "Water leak",
        "description": None,
        "metadata": True,
        "type": "realtime",
        "keywords": "Water leak",
        "group": "Water",
    }
    assert by_code["water"]["metadata"] is False and by_code["water"]["group"] is None

    ukrainian = client.get(f"{BASE}services.json", HTTP_ACCEPT_LANGUAGE="uk").json()
    schema(ukrainian, "services.json")
    leak_uk = next(s for s in ukrainian if s["service_code"] == "leak")
    assert leak_uk["service_name"] == "Витік води" and leak_uk["group"] == "Вода"
    by_locale = client.get(f"{BASE}services.json?locale=uk_UA", HTTP_ACCEPT_LANGUAGE="en")
    assert by_locale["Content-Language"] == "uk"
    assert "Витік води" in {s["service_name"] for s in by_locale.json()}

    root = _xml(client.get(f"{BASE}services.xml"))
    assert root.tag == "services"
    items = {e.findtext("service_code"): e for e in root.findall("service")}
    assert set(items) == {"water", "leak"}
    _same_as_json(items["leak"], by_code["leak"])


def test_service_definition_from_the_intake_questions(client, leak, schema):
    response = client.get(f"{BASE}services/leak.json", HTTP_ACCEPT_LANGUAGE="uk")
    assert response.status_code == 200
    body = response.json()
    schema(body, "service-definition.json")
    assert body["service_code"] == "leak"
    attributes = {a["code"]: a for a in body["attributes"]}
    assert [a["order"] for a in body["attributes"]] == [1, 2, 3, 4, 5]
    assert {code: a["datatype"] for code, a in attributes.items()} == {
        "size": "singlevaluelist",
        "flooding": "singlevaluelist",
        "since": "datetime",
        "litres": "number",
        "note": "string",
    }
    size = attributes["size"]
    assert size["required"] is True and size["variable"] is True
    assert size["description"] == "Наскільки?"
    assert size["values"] == [{"key": "small", "name": "Малий"}, {"key": "large", "name": "large"}]
    assert [v["key"] for v in attributes["flooding"]["values"]] == ["true", "false"]
    assert attributes["flooding"]["required"] is False
    assert attributes["litres"]["datatype_description"]
    assert attributes["since"]["description"] == "Since when?"  # no Ukrainian label: English
    assert "values" not in attributes["note"]

    root = _xml(client.get(f"{BASE}services/leak.xml", HTTP_ACCEPT_LANGUAGE="uk"))
    assert root.tag == "service_definition" and root.findtext("service_code") == "leak"
    xml_attributes = root.findall("attributes/attribute")
    assert [a.findtext("code") for a in xml_attributes] == list(attributes)
    _same_as_json(xml_attributes[0], size)
    assert [
        (v.findtext("key"), v.findtext("name")) for v in xml_attributes[0].findall("values/value")
    ] == [("small", "Малий"), ("large", "large")]


def test_service_definition_of_an_unknown_or_private_service_is_404(client, operator):
    cf.category("private-matter", public=False, questions=[])
    for code in ("nothing-here", "private-matter"):
        assert "service_code" in _error(client.get(f"{BASE}services/{code}.json"), 404)
    root = _xml(client.get(f"{BASE}services/nothing-here.xml"))
    assert root.tag == "errors" and root.findtext("error/code") == "404"
    assert root.findtext("error/description")


# --- POST requests ----------------------------------------------------------------------------


def test_post_creates_an_open311_case_located_routed_and_due(
    client, key, leak, schema, mailoutbox, django_capture_on_commit_callbacks
):
    district = rf.territory("central", boundary=rf.SQUARE)
    team = cf.team()
    cf.rule(team, territory=district)
    with (
        time_machine.travel(TUESDAY, tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = _post(
            client,
            _form(
                first_name="Thandi",
                last_name="Mokoena",
                phone="082 123 4567",
                **{
                    "attribute[flooding]": "true",
                    "attribute[since]": "2026-03-02T18:00:00+02:00",
                    "attribute[litres]": "12.5",
                },
            ),
        )
    assert response.status_code == 201, response.content
    [created] = response.json()
    case = Case.objects.get()
    assert created == {
        "service_request_id": case.reference,
        "token": str(case.pk),
        "service_notice": "We aim to resolve it within 2 working days.",
        "account_id": None,
    }
    assert case.channel == "open311" and case.requester is None
    assert case.category == leak and case.territory == district and case.team == team
    assert (case.latitude, case.longitude) == (Decimal("-25.75"), Decimal("28.25"))
    assert case.subject == "Water running down the street"
    assert case.contact_name == "Thandi Mokoena" and case.contact_phone == "+27821234567"
    assert case.contact_email == "reporter@example.org"
    assert case.answers == {
        "size": "small",
        "flooding": True,
        "since": "2026-03-02",
        "litres": "12.5",
    }
    assert mailoutbox[-1].to == ["reporter@example.org"]
    assert case.reference in mailoutbox[-1].subject

    detail = client.get(f"{BASE}requests/{case.reference}.json")
    assert detail.status_code == 200
    schema(detail.json(), "requests.json")
    [shown] = detail.json()
    assert dt.datetime.fromisoformat(shown["expected_datetime"]) == case.resolution_due.replace(
        microsecond=0
    )
    # 2 working days from Tue 10:00 SAST: Thu 10:00 SAST, in the operator's timezone.
    assert shown["expected_datetime"] == "2026-03-05T10:00:00+02:00"
    assert shown["requested_datetime"] == "2026-03-03T10:00:00+02:00"
    assert shown["status"] == "open" and shown["service_code"] == "leak"
    assert shown["agency_responsible"] == team.name
    assert (shown["lat"], shown["long"]) == (-25.75, 28.25)
    assert "Thandi" not in detail.content.decode() and "reporter@" not in detail.content.decode()

    token = client.get(f"{BASE}tokens/{created['token']}.json")
    assert token.json() == [{"service_request_id": case.reference, "token": str(case.pk)}]


def test_post_in_xml_with_an_address_id_and_a_media_url(client, key, leak, schema):
    building = rf.building(address="7 Market Street, Pretoria", code="b-market-7")
    building.latitude, building.longitude = Decimal("-25.700000"), Decimal("28.200000")
    building.save()
    form = _form(address_id="b-market-7", media_url="https://img.example.org/leak.jpg")
    del form["lat"], form["long"]
    response = _post(client, form, "xml")
    assert response.status_code == 201, response.content
    root = _xml(response)
    assert root.tag == "service_requests"
    reference = root.findtext("request/service_request_id")
    case = Case.objects.get(reference=reference)
    assert root.findtext("request/token") == str(case.pk)
    assert case.address == "7 Market Street, Pretoria" and case.territory == building.territory
    assert case.latitude == Decimal("-25.7")

    [shown] = client.get(f"{BASE}requests/{reference}.json").json()
    schema([shown], "requests.json")
    assert shown["address_id"] == "b-market-7"
    assert shown["address"] == "7 Market Street, Pretoria"
    assert shown["media_url"] == "https://img.example.org/leak.jpg"
    event = case.events.get(kind=CaseEvent.Kind.LINKED, data__type="media_url")
    assert event.public is False and event.data["client"] == "Test client"

    root = _xml(client.get(f"{BASE}requests/{reference}.xml"))
    _same_as_json(root.find("request"), shown)


def test_post_with_a_multivalue_attribute_takes_one_value(client, key, leak):
    ok = _post(client, {**_form(), "attribute[size][]": "large"} | {"attribute[size]": ""})
    # attribute[size] and attribute[size][] both given: refused as two answers to one question
    assert "attribute[size]" in _error(ok, 400)
    form = _form()
    del form["attribute[size]"]
    response = _post(client, {**form, "attribute[size][]": ["large"]})
    assert response.status_code == 201, response.content
    assert Case.objects.get().answers["size"] == "large"
    two = _post(client, {**form, "attribute[size][]": ["large", "small"]})
    assert "attribute[size]" in _error(two, 400)


def test_bad_api_key_is_403(client, key, leak):
    assert "api_key" in _error(_post(client, _form(api_key="wrong")), 403)
    form = _form()
    del form["api_key"]
    assert "api_key" in _error(_post(client, form), 403)
    Open311Client.objects.update(active=False)
    _error(_post(client, _form()), 403)
    root = _xml(_post(client, _form(), "xml"))
    assert root.tag == "errors" and root.findtext("error/code") == "403"
    assert not Case.objects.exists()


def test_unknown_or_private_service_is_404(client, key, operator):
    cf.category("private-matter", public=False)
    for code in ("no-such-thing", "private-matter"):
        assert "service_code" in _error(_post(client, _form(service_code=code)), 404)
    assert not Case.objects.exists()


def test_bad_requests_are_400_with_the_parameter_named(client, key, leak):
    cases = [
        ({"service_code": ""}, "service_code"),
        ({"lat": "", "long": ""}, "lat/long, address_string, address_id"),
        ({"long": ""}, "long: Give both lat and long."),
        ({"lat": "91"}, "lat"),
        ({"lat": "NaN"}, "lat"),
        ({"attribute[size]": "huge"}, "attribute[size]"),
        ({"attribute[size]": ""}, "attribute[size]"),
        ({"attribute[colour]": "red"}, "attribute[colour]"),
        ({"attribute[litres]": "a lot"}, "attribute[litres]"),
        ({"email": ""}, "email"),
        ({"email": "not-an-address"}, "email"),
        ({"phone": "call me"}, "phone"),
        ({"media_url": "javascript:alert(1)"}, "media_url"),
        ({"address_id": "nowhere"}, "address_id"),
        ({"description": "x" * 4001}, "description"),
        ({"description": "nul\x00byte"}, "Null characters"),
        ({"first_name": "x" * 75}, "first_name"),
    ]
    for fields, expected in cases:
        described = _error(_post(client, _form(**fields)), 400)
        assert expected in described, (fields, described)
    assert not Case.objects.exists()
    # The location may also be an address alone.
    response = _post(client, _form(lat="", long="", address_string="3 Loop Street"))
    assert response.status_code == 201, response.content


def test_errors_are_in_the_language_asked_for(client, key, leak):
    english = _error(_post(client, _form(email="nope")), 400)
    assert english == "email: Enter a valid email address."
    response = _post(client, _form(email="nope"), HTTP_ACCEPT_LANGUAGE="uk")
    assert response["Content-Language"] == "uk"
    ukrainian = _error(response, 400)
    assert ukrainian.startswith("email: ") and ukrainian != english


def test_only_forms_are_taken_and_only_the_spec_methods(client, key, leak):
    response = client.post(
        f"{BASE}requests.json", json.dumps(_form()), content_type="application/json"
    )
    _error(response, 415)
    _error(client.put(f"{BASE}requests.json"), 405)
    _error(client.delete(f"{BASE}services.json"), 405)
    multipart = client.post(f"{BASE}requests.json", _form())  # multipart/form-data also works
    assert multipart.status_code == 201, multipart.content


def test_unknown_paths_answer_in_the_spec_format(client, operator):
    assert _error(client.get(f"{BASE}nothing.json"), 404)
    assert _error(client.get(f"{BASE}services.csv"), 404)
    assert _error(client.post(f"{BASE}requests"), 404)
    root = _xml(client.get(f"{BASE}nothing/here.xml"))
    assert root.tag == "errors" and root.findtext("error/code") == "404"


# --- GET requests -----------------------------------------------------------------------------


@pytest.fixture
def requests_(leak, make_user):
    """Cases in public categories at known times, an old one, a closed one, a private one."""
    pothole = cf.category("pothole", public=True, resolution=None)
    private = cf.category("private-matter", public=False)
    resident = make_user(full_name="Resident Secret", email="resident.secret@example.org")
    day = dt.timedelta(days=1)
    made = {
        "new_leak": _case(leak, when=TUESDAY),
        "old_leak": _case(leak, when=TUESDAY - 100 * day),
        "pothole": _case(
            pothole, when=TUESDAY - 10 * day, answers={}, requester=resident, contact_email=""
        ),
        "closed_leak": _case(leak, when=TUESDAY - 5 * day),
        "private": _case(private, when=TUESDAY - day, answers={}),
    }
    staff = make_user(role="case_specialist")
    with time_machine.travel(TUESDAY - 4 * day, tick=False):
        services.case_note(
            case=made["closed_leak"], actor=staff, text="A crew is on the way.", public=True
        )
        services.case_note(
            case=made["closed_leak"], actor=staff, text="Internal: call Mrs P.", public=False
        )
        services.case_transition(case=made["closed_leak"], target="resolved", note="Fixed.")
    return made


def _references(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [r["service_request_id"] for r in response.json()]


def test_get_requests_defaults_to_the_last_90_days_of_public_requests(client, requests_, schema):
    with time_machine.travel(TUESDAY + dt.timedelta(hours=1), tick=False):
        response = client.get(f"{BASE}requests.json")
    body = response.json()
    schema(body, "requests.json")
    r = requests_
    assert _references(response) == [
        r["new_leak"].reference,
        r["closed_leak"].reference,
        r["pothole"].reference,
    ]
    text = response.content.decode()
    for private in ("Private Person", "private.person@", "+2782", "Resident Secret", "resident."):
        assert private not in text
    closed = body[1]
    assert closed["status"] == "closed"
    assert closed["status_notes"] == "Fixed."  # the latest public note, never an internal one
    assert body[0]["status_notes"] is None
    pothole = body[2]
    assert pothole["expected_datetime"] is None and pothole["service_notice"] is None
    assert pothole["agency_responsible"] == "Test Metro"  # no team: the operator
    assert pothole["lat"] is None and pothole["address"] == "12 Church Street"

    window = "start_date=2026-02-01T00:00:00Z&end_date=2026-03-04T00:00:00Z"
    root = _xml(client.get(f"{BASE}requests.xml?{window}"))
    assert root.tag == "service_requests"
    items = root.findall("request")
    assert [i.findtext("service_request_id") for i in items] == _references(response)
    for element, item in zip(items, body, strict=True):
        _same_as_json(element, item)


def test_get_requests_filters(client, requests_, schema):
    r = requests_
    window = {"start_date": "2026-02-01T00:00:00+02:00", "end_date": "2026-03-04T00:00:00Z"}

    def refs(**params) -> list[str]:
        response = client.get(f"{BASE}requests.json?{urlencode({**window, **params})}")
        schema(response.json(), "requests.json")
        return _references(response)

    assert refs(status="open") == [r["new_leak"].reference, r["pothole"].reference]
    assert refs(status="closed") == [r["closed_leak"].reference]
    assert len(refs(status="open,closed")) == 3
    assert refs(service_code="pothole") == [r["pothole"].reference]
    assert len(refs(service_code="pothole,leak")) == 3
    assert refs(service_code="private-matter") == []
    assert refs(start_date="2026-02-25T00:00:00Z") == [
        r["new_leak"].reference,
        r["closed_leak"].reference,
    ]
    assert refs(end_date="2026-02-25T00:00:00Z") == [r["pothole"].reference]
    assert refs(start_date="2026-02-20", end_date="2026-02-22") == [r["pothole"].reference]
    # Ids override every other filter, but never show a private case.
    ids = ",".join(r[k].reference for k in ("old_leak", "new_leak", "private"))
    assert sorted(refs(service_request_id=ids, status="closed")) == sorted(
        [r["old_leak"].reference, r["new_leak"].reference]
    )
    assert refs(service_request_id="C-1999-000001") == []


def test_get_requests_refuses_bad_filters(client, requests_):
    for params, expected in (
        ({"status": "pending"}, "status"),
        ({"start_date": "yesterday"}, "start_date"),
        ({"end_date": "2026-02-30T00:00:00Z"}, "end_date"),
        ({"start_date": "2026-03-01T00:00:00Z", "end_date": "2026-01-01T00:00:00Z"}, "start_date"),
        ({"start_date": "2025-01-01T00:00:00Z", "end_date": "2026-01-01T00:00:00Z"}, "90 days"),
        ({"start_date": "0001-01-01T00:00:00+05:00"}, "start_date"),
        ({"start_date": "9999-12-31T00:00:00Z"}, "out of range"),
    ):
        described = _error(client.get(f"{BASE}requests.json?{urlencode(params)}"), 400)
        assert expected in described, (params, described)


def test_one_request_and_tokens(client, requests_, schema):
    r = requests_
    response = client.get(f"{BASE}requests/{r['closed_leak'].reference}.json")
    schema(response.json(), "requests.json")
    assert _references(response) == [r["closed_leak"].reference]
    assert "service_request_id" in _error(
        client.get(f"{BASE}requests/{r['private'].reference}.json"), 404
    )
    _error(client.get(f"{BASE}requests/C-1999-000001.json"), 404)
    _error(client.get(f"{BASE}tokens/{r['private'].pk}.json"), 404)
    _error(client.get(f"{BASE}tokens/not-a-uuid.json"), 404)
    root = _xml(client.get(f"{BASE}tokens/{r['pothole'].pk}.xml"))
    assert root.findtext("request/service_request_id") == r["pothole"].reference
    assert root.findtext("request/token") == str(r["pothole"].pk)


# --- robustness -------------------------------------------------------------------------------

FIELDS = [
    "service_code", "lat", "long", "address_string", "address_id", "email", "device_id",
    "account_id", "first_name", "last_name", "phone", "description", "media_url",
    "attribute[size]", "attribute[size][]", "attribute[since]", "attribute[litres]",
    "attribute[flooding]", "attribute[x]", "jurisdiction_id",
]  # fmt: skip
form_values = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            "small",
            "large",
            "true",
            "no",
            "12,5",
            "2026-03-01",
            "a@example.org",
            "+27821234567",
            "https://img.example.org/a b.png",
            "Burst pipe",
            "b-1",
            "0",
            "-0.0000001",
        ]
    ),
    st.sampled_from(["leak", "-25.75", "28.25", "1e400", "NaN", "true", "2026-02-30", "", " "]),
    st.from_regex(r"-?\d{1,4}(\.\d{1,12})?", fullmatch=True),
    st.text(min_size=290, max_size=310),
)


@hypothesis_settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    fields=st.dictionaries(st.sampled_from(FIELDS), form_values, max_size=3),
    drop=st.sets(
        st.sampled_from(["service_code", "lat", "long", "email", "attribute[size]"]), max_size=1
    ),
    fmt=st.sampled_from(["json", "xml"]),
)
def test_random_forms_never_give_a_server_error(client, key, leak, fields, drop, fmt):
    from django.core.cache import cache

    cache.clear()  # the API throttle counts every example
    base = {k: v for k, v in _form().items() if k not in drop}
    response = _post(client, {**base, **fields}, fmt)
    assert response.status_code < 500, response.content
    assert response.status_code in (201, 400, 404), response.content
    if fmt == "xml":
        _xml(response)
    else:
        body = response.json()
        if response.status_code != 201:
            assert all(e["code"] == response.status_code for e in body)


@hypothesis_settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    params=st.dictionaries(
        st.sampled_from(["service_request_id", "service_code", "start_date", "end_date", "status"]),
        st.one_of(st.text(max_size=30), st.sampled_from(["open", "2026-01-01", "leak,x"])),
        max_size=4,
    )
)
def test_random_searches_never_give_a_server_error(client, leak, params):
    from django.core.cache import cache

    cache.clear()
    response = client.get(f"{BASE}requests.xml?{urlencode(params)}")
    assert response.status_code in (200, 400), response.content
    _xml(response)


def test_xml_drops_characters_xml_cannot_carry(client, leak):
    case = _case(leak, when=TUESDAY, subject="bell\x07 and\x0b tab", description="")
    root = _xml(client.get(f"{BASE}requests/{case.reference}.xml"))
    assert root.findtext("request/description") == "bell and tab"


# --- clients ----------------------------------------------------------------------------------


def test_client_keys_are_random_and_stored_as_digests(db):
    client, key = open311_client_create("City app")
    _other, other_key = open311_client_create("Another app")
    assert len(key) >= 40 and key != other_key
    assert client.key_digest == digest(key) and key not in client.key_digest
    with pytest.raises(ValidationError, match="already in use"):
        open311_client_create("Copy", key=key)
    with pytest.raises(ValidationError, match="name"):
        open311_client_create("  ")


def test_command_registers_a_client_and_prints_its_key(client, leak, capsys):
    call_command("open311_client", "Neighbourhood app")
    out, err = capsys.readouterr()
    key = out.strip()
    assert "Neighbourhood app" in err
    assert Open311Client.objects.get(name="Neighbourhood app").key_digest == digest(key)
    response = _post(client, _form(api_key=key))
    assert response.status_code == 201, response.content

    call_command("open311_client", "Demo", "--key", "demo-open311-key")
    assert capsys.readouterr().out.strip() == "demo-open311-key"
    with pytest.raises(CommandError, match="already in use"):
        call_command("open311_client", "Demo again", "--key", "demo-open311-key")


def test_the_status_mapping_covers_every_status():
    from civicdesk.cases import workflow

    assert {s: georeport.status_of(s) for s in workflow.STATUSES} == {
        "new": "open",
        "assigned": "open",
        "in_progress": "open",
        "waiting_customer": "open",
        "reopened": "open",
        "resolved": "closed",
        "closed": "closed",
        "cancelled": "closed",
    }


def test_throttled_clients_are_told_when_to_come_back(client, operator, monkeypatch):
    from rest_framework.throttling import AnonRateThrottle

    monkeypatch.setattr(AnonRateThrottle, "rate", "2/min", raising=False)
    for _ in range(2):
        assert client.get(f"{BASE}services.json").status_code == 200
    response = client.get(f"{BASE}services.json")
    _error(response, 429)
    assert int(response["Retry-After"]) > 0


def test_null_characters_are_refused_before_any_query(client, leak):
    """PostgreSQL cannot compare text holding NUL: a 400, never a 500."""
    for path in (
        "services/le%00ak.json",
        "requests/C%00.json",
        "tokens/%00.xml",
        "requests.json?service_request_id=C%00",
        "requests.json?service_code=%00",
        "services.json?locale=%00",
    ):
        response = client.get(BASE + path)
        assert response.status_code == 400, (path, response.content)


@pytest.mark.django_db
def test_dates_with_large_offsets_are_compared_in_utc(client, operator):
    response = client.get(
        "/open311/v2/requests.json",
        {"start_date": "2026-03-01T00:00:00+17:01", "end_date": "2026-03-20T00:00:00+17:01"},
    )
    assert response.status_code == 200
