import pytest
from django.core.exceptions import ValidationError

from civicdesk.registry.models import Operator

pytestmark = pytest.mark.django_db


def _operator(**overrides) -> Operator:
    data = {
        "name": "Metro",
        "jurisdiction": "ZA",
        "currency": "zar",
        "timezone": "Africa/Johannesburg",
        "default_language": "af",
        "enabled_languages": ["en", "af"],
    }
    data.update(overrides)
    return Operator(**data)


def test_a_valid_operator():
    operator = _operator()
    operator.full_clean()
    assert operator.currency == "ZAR"


@pytest.mark.parametrize(
    "overrides,field",
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"enabled_languages": ["en", "xx"]}, "enabled_languages"),
        ({"enabled_languages": []}, "enabled_languages"),
        ({"default_language": "ru"}, "default_language"),
        ({"jurisdiction": "US"}, "jurisdiction"),
    ],
)
def test_bad_operator_settings_are_refused(overrides, field):
    with pytest.raises(ValidationError) as exc:
        _operator(**overrides).full_clean()
    assert field in exc.value.message_dict


def test_only_one_operator(operator):
    with pytest.raises(ValidationError):
        _operator().full_clean()


def test_operator_is_editable_in_the_admin(client, make_user, totp_code, operator):
    admin = make_user(role="operator_admin")
    client.post("/login/", {"username": admin.email, "password": admin.raw_password})
    client.post("/mfa/", {"code": totp_code()})
    url = f"/admin/registry/operator/{operator.pk}/change/"
    assert client.get(url).status_code == 200
    response = client.post(
        url,
        {
            "name": "Renamed Metro",
            "jurisdiction": "ZA",
            "currency": "ZAR",
            "timezone": "Africa/Johannesburg",
            "default_language": "en",
            "enabled_languages": '["en", "af"]',
            "email": "",
            "phone": "",
            "website": "",
            "address": "",
            "account_number_algorithm": "luhn",
            "account_number_length": "10",
            "account_number_prefix": "",
            "link_by_code": "on",
            "link_by_last_bill": "on",
            "link_by_document": "on",
            "link_max_attempts": "5",
            "link_max_requests_per_day": "10",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    operator.refresh_from_db()
    assert operator.name == "Renamed Metro"
    assert client.get("/admin/registry/operator/add/").status_code == 403
