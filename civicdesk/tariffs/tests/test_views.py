"""The public calculator pages: anonymous visitors in English and Russian, the tariffs in
force, the worked example (436 kWh → 1639.90) with each line explained in the reader's number
style, only the inputs a tariff reads, a new tariff's inputs without JavaScript and through
htmx, bad input answered with a translated error on a form that keeps what was typed, and the
prepaid calculator."""

from __future__ import annotations

import re

import pytest
import time_machine

from civicdesk.tariffs import services
from civicdesk.tariffs.tests.test_api import EXAMPLE_YAML, NOW

pytestmark = pytest.mark.django_db

PAGE = "/calculators/"
MAINTENANCE_YAML = """\
code: ru-maintenance
name: Содержание жилого помещения
service: maintenance
unit: m²
currency: RUB
jurisdiction: ru
valid_from: 2025-01-01
charges:
  - {kind: per_m2, rate: "32.17", description: maintenance}
"""
WORKED = {"form": "quote", "tariff": "example-electricity", "shown_for": "example-electricity"}


@pytest.fixture(autouse=True)
def _now(operator):
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def tariffs():
    services.tariffs_load(EXAMPLE_YAML)
    services.tariffs_load(MAINTENANCE_YAML)


def _text(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def _section(html: str, testid: str) -> str:
    match = re.search(rf'data-testid="{testid}".*?</section>', html, re.S)
    assert match, f"no {testid} on the page"
    return match.group(0)


def test_the_page_is_public_and_lists_the_tariffs_in_force(client, tariffs):
    html = _text(client.get(PAGE, HTTP_ACCEPT_LANGUAGE="en"))
    assert '<html lang="en">' in html
    listed = re.findall(r'<li data-code="([^"]+)"', html)
    assert listed == ["example-electricity", "ru-maintenance"]
    assert "Содержание жилого помещения" in html
    # The first tariff is chosen, with only its inputs: consumption, no area.
    assert 'name="consumption"' in html and 'name="area_m2"' not in html
    assert 'data-testid="prepaid-form"' in html  # an electricity tariff can be prepaid
    assert 'data-testid="quote-result"' not in html


def test_the_page_in_russian(client, tariffs):
    html = _text(client.get(PAGE, HTTP_ACCEPT_LANGUAGE="ru"))
    assert '<html lang="ru">' in html
    assert "Войти" in html  # the site's own words, in Russian


def test_the_footer_links_to_the_calculators(client, operator):
    assert 'href="/calculators/"' in _text(client.get("/login/"))


def test_the_worked_example(client, tariffs):
    html = _text(client.get(PAGE, {**WORKED, "consumption": "436", "period": "2025-08"}))
    result = _section(html, "quote-result")
    assert "100 kWh × R2.50 + 300 kWh × R3.00 + 36 kWh × R3.50" in result
    assert re.search(r'data-testid="total-excl-tax">1426\.00<', result)
    assert re.search(r'data-testid="tax">213\.90<', result)
    assert re.search(r'data-testid="total"><strong>1639\.90<', result)
    assert "VAT (15%)" in result and "August 2025" in result
    assert 'value="436"' in html  # the form keeps what was typed


def test_numbers_in_the_readers_style(client, tariffs):
    html = _text(client.get(PAGE, {**WORKED, "consumption": "436,5"}, HTTP_ACCEPT_LANGUAGE="ru"))
    result = _section(html, "quote-result")
    # 436.5 kWh: 1277.75 + 150 = 1427.75, VAT 214.16 (214.1625), total 1641.91.
    assert "36,5 kWh × R3,50" in result
    assert re.search(r'data-testid="total"><strong>1641,91<', result)


def test_bad_input_shows_a_translated_error_and_keeps_the_form(client, tariffs):
    html = _text(
        client.get(
            PAGE, {**WORKED, "consumption": "-5", "period": "2025-08"}, HTTP_ACCEPT_LANGUAGE="ru"
        )
    )
    assert "Убедитесь, что это значение больше либо равно 0." in html
    assert 'value="-5"' in html and 'value="2025-08"' in html
    assert 'data-testid="quote-result"' not in html
    typo = _text(client.get(PAGE, {**WORKED, "consumption": "lots"}, HTTP_ACCEPT_LANGUAGE="ru"))
    assert "Введите число." in typo and 'value="lots"' in typo


def test_what_the_tariff_still_needs_is_said_on_its_field(client, tariffs):
    html = _text(
        client.get(
            PAGE,
            {"form": "quote", "tariff": "ru-maintenance", "shown_for": "ru-maintenance"},
        )
    )
    assert 'name="area_m2"' in html and 'name="consumption"' not in html
    assert re.search(
        r'id="id_area_m2_error">The input “area_m2” is needed to price this tariff', html
    )
    priced = _text(
        client.get(
            PAGE,
            {
                "form": "quote",
                "tariff": "ru-maintenance",
                "shown_for": "ru-maintenance",
                "area_m2": "54.3",
            },
        )
    )
    assert "54.3 m² × ₽32.17" in _section(priced, "quote-result")


def test_a_month_without_the_tariff(client, tariffs):
    html = _text(client.get(PAGE, {**WORKED, "consumption": "1", "period": "2025-06"}))
    assert "The tariff example-electricity is not in force in June 2025." in html


def test_a_new_tariff_chosen_shows_its_inputs_before_pricing(client, tariffs):
    """Without JavaScript the form is sent with the new tariff: its inputs come back."""
    html = _text(
        client.get(
            PAGE,
            {
                "form": "quote",
                "tariff": "ru-maintenance",
                "shown_for": "example-electricity",
                "consumption": "436",
            },
        )
    )
    assert 'name="area_m2"' in html and 'class="error"' not in html
    assert 'data-testid="quote-result"' not in html
    assert 'name="shown_for" value="ru-maintenance"' in html


def test_htmx_swaps_in_the_inputs_of_the_tariff_chosen(client, tariffs):
    select = _text(client.get(PAGE))
    assert 'hx-get="/calculators/inputs/"' in select and 'hx-target="#quote-inputs"' in select
    fragment = _text(client.get("/calculators/inputs/", {"tariff": "ru-maintenance"}))
    assert fragment.startswith('<div id="quote-inputs"')
    assert 'name="area_m2"' in fragment and 'value="ru-maintenance"' in fragment
    unknown = _text(client.get("/calculators/inputs/", {"tariff": "nope"}))
    assert 'name="consumption"' in unknown  # the first tariff's


def test_the_prepaid_calculator(client, tariffs):
    html = _text(
        client.get(
            PAGE,
            {
                "form": "prepaid",
                "prepaid-tariff": "example-electricity",
                "prepaid-amount": "500.00",
                "prepaid-already_purchased_units": "0",
            },
        )
    )
    result = _section(html, "prepaid-result")
    assert "161.5 kWh" in result
    assert "499.68" in result and "65.18" in result and "0.32" in result
    assert "100 kWh × R2.875 + 61.5 kWh × R3.45" in result
    refused = _text(
        client.get(
            PAGE,
            {"form": "prepaid", "prepaid-tariff": "example-electricity", "prepaid-amount": "5.001"},
        )
    )
    assert 'id="id_prepaid-amount_error"' in refused


def test_no_tariffs_yet(client, operator):
    html = _text(client.get(PAGE))
    assert "No tariff is in force today." in html
    assert 'data-testid="quote-form"' not in html and 'data-testid="prepaid-form"' not in html
    assert client.get("/calculators/inputs/").status_code == 200


def test_nothing_is_written_and_only_get_is_allowed(client, tariffs):
    from civicdesk.tariffs.models import Tariff

    count = Tariff.objects.count()
    client.get(PAGE, {**WORKED, "consumption": "436"})
    assert Tariff.objects.count() == count
    assert client.post(PAGE, {**WORKED, "consumption": "436"}).status_code == 405
