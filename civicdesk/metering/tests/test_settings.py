"""The operator's metering settings: cached for every reading and SMS (a change is seen at
once), and checked when saved through a form (`MeteringSettings.clean()`): SMS formats, codes
and keywords the parser can use, the window, the estimation limits, the norms."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from civicdesk.metering import selectors, sms
from civicdesk.metering.jurisdictions import DEFAULTS
from civicdesk.metering.models import MeteringSettings, settings_problems

pytestmark = pytest.mark.django_db


# --- the cache ------------------------------------------------------------------------------


def test_the_settings_are_read_once_then_from_the_cache(operator, django_assert_num_queries):
    made = selectors.metering_settings()  # made with the jurisdiction's defaults (not cached:
    selectors.metering_settings()  # the transaction could still roll it back), then read

    with django_assert_num_queries(0):
        again = selectors.metering_settings()

    assert again.pk == made.pk and again.sms_codes == made.sms_codes


def test_a_saved_change_is_seen_at_once(operator):
    row = selectors.metering_settings()
    selectors.metering_settings()  # cached
    row.window_end_day = 20
    row.sms_any_sender = True
    row.save()

    found = selectors.metering_settings()

    assert (found.window_end_day, found.sms_any_sender) == (20, True)
    assert selectors.validation_rules(found).window_end_day == 20


def test_a_change_made_with_update_is_seen_at_once(operator):
    row = selectors.metering_settings()
    selectors.metering_settings()

    MeteringSettings.objects.filter(pk=row.pk).update(spike_factor=Decimal("7"))

    assert selectors.metering_settings().spike_factor == Decimal("7")


def test_deleted_settings_are_made_again_with_the_defaults(operator):
    row = selectors.metering_settings()
    row.window_end_day = 20
    row.save()
    selectors.metering_settings()

    MeteringSettings.objects.all().delete()
    found = selectors.metering_settings()

    assert found.pk != row.pk and found.window_end_day == DEFAULTS["za"]["window_end_day"]


def test_a_changed_copy_that_is_not_saved_changes_nothing(operator):
    selectors.metering_settings().window_end_day = 3

    assert selectors.metering_settings().window_end_day == DEFAULTS["za"]["window_end_day"]


def test_another_operator_gets_its_own_settings(operator):
    from civicdesk.registry.models import Operator

    za = selectors.metering_settings()
    operator.delete()
    Operator.objects.create(
        name="Расчётный центр", jurisdiction="RU", currency="RUB", timezone="Europe/Moscow"
    )

    ru = selectors.metering_settings()

    assert ru.pk != za.pk and "ХВ" in ru.sms_codes


def test_no_operator_no_settings(db):
    assert selectors.metering_settings() is None


def test_the_sms_handler_sees_a_change_of_codes(operator):
    from civicdesk.metering import sms_handler
    from civicdesk.notifications.dispatcher import InboundSms
    from civicdesk.registry.tests import factories as registry

    account = registry.account(holder_phone="+27821234567")
    settings = selectors.metering_settings()

    def reply(text):
        return sms_handler.handle(
            InboundSms(sender="+27821234567", text=text, received_at=None, provider="test")
        )

    assert reply(f"{account.number} WATER 11") is None  # not a code: not meant as readings
    settings.sms_codes = {**settings.sms_codes, "WATER": "cold_water"}
    settings.save()

    assert reply(f"{account.number} WATER 11") == (
        f"Account {account.number}: There is no cold water meter on this account."
    )


# --- clean(): the defaults are usable -------------------------------------------------------


@pytest.mark.parametrize("jurisdiction", sorted(DEFAULTS))
def test_every_jurisdictions_defaults_pass(operator, jurisdiction):
    row = MeteringSettings(operator=operator, **DEFAULTS[jurisdiction])

    row.full_clean()


def test_the_za_codes_are_those_the_help_sms_shows():
    assert DEFAULTS["za"]["sms_codes"] == {
        "CW": "cold_water",
        "HW": "hot_water",
        "EL": "electricity",
        "G": "gas",
    }
    parsed = sms.parse(
        "12345 CW 11 HW 12 EL 14",
        codes=DEFAULTS["za"]["sms_codes"],
        keywords=DEFAULTS["za"]["sms_keywords"],
    )
    assert parsed.ok and [r.resource for r in parsed.readings] == [
        "cold_water",
        "hot_water",
        "electricity",
    ]


# --- clean(): worked examples of what it refuses --------------------------------------------


def errors_of(**changes) -> dict[str, list[str]]:
    """clean()'s errors for the ZA defaults with ``changes``."""
    row = MeteringSettings(**{**DEFAULTS["za"], **changes})
    with pytest.raises(ValidationError) as caught:
        row.clean()
    return caught.value.message_dict


def test_codes_that_read_alike_are_refused():
    errors = errors_of(sms_codes={"ХВ": "cold_water", "XB": "hot_water"})

    assert list(errors) == ["sms_codes"]
    assert errors["sms_codes"] == [
        "SMS codes XB and ХВ read alike (case and letters that look alike, such as Latin X and "
        "Cyrillic Х, do not count): keep one."
    ]


def test_codes_differing_only_in_case_are_refused():
    assert "sms_codes" in errors_of(sms_codes={"CW": "cold_water", "cw": "hot_water"})


def test_a_code_that_is_not_letters_is_refused():
    errors = errors_of(sms_codes={"C1": "cold_water", "": "gas"})

    assert errors["sms_codes"] == [
        "SMS code C1 must be letters only.",
        "An SMS code is empty.",
    ]


def test_a_code_for_an_unknown_resource_is_refused():
    errors = errors_of(sms_codes={"CW": "coldwater", "SEW": ["sewage"]})

    assert errors["sms_codes"][0] == (
        "Code CW is for an unknown resource coldwater: the resources are cold_water, hot_water, "
        "electricity, gas, heat."
    )
    assert len(errors["sms_codes"]) == 2


def test_codes_that_are_not_a_mapping_are_refused():
    errors = errors_of(sms_codes=["CW", "HW"])

    assert errors["sms_codes"] == [
        'Give the SMS codes as code → resource, e.g. {"ХВ": "cold_water"}.'
    ]


def test_a_keyword_that_reads_like_a_code_is_refused():
    errors = errors_of(sms_keywords=["READ", "cw"])

    assert errors == {
        "sms_keywords": [
            "Keyword cw reads like the SMS code CW: a message could not be told apart."
        ]
    }


def test_a_keyword_of_several_words_may_not_contain_a_code():
    errors = errors_of(sms_keywords=["MY G READING"])

    assert errors["sms_keywords"] == [
        "Keyword MY G READING reads like the SMS code G: a message could not be told apart."
    ]


def test_keywords_must_be_words():
    assert errors_of(sms_keywords=["READ 2"])["sms_keywords"] == [
        "Keyword READ 2 must be one or more words of letters."
    ]
    assert errors_of(sms_keywords="READ")["sms_keywords"] == [
        "Give the SMS keywords as a list of words."
    ]


def test_an_unknown_format_is_refused():
    errors = errors_of(sms_grammars=["spaced", "comma"])

    assert errors == {
        "sms_grammars": ["Unknown SMS format comma: the formats are spaced, glued, hash."]
    }
    assert errors_of(sms_grammars="spaced")["sms_grammars"] == [
        "Give a list of SMS formats: any of spaced, glued, hash."
    ]


def test_a_window_that_closes_before_it_opens_is_refused():
    errors = errors_of(window_start_day=25, window_end_day=15)

    assert errors == {
        "window_end_day": ["The window cannot close (day 15) before it opens (day 25)."]
    }


def test_fewer_months_averaged_than_the_history_needed_is_refused():
    errors = errors_of(estimate_average_months=2, estimate_min_months=3)

    assert errors == {
        "estimate_min_months": [
            "The fewest months of history (3) cannot be more than the months averaged (2)."
        ]
    }


@pytest.mark.parametrize(
    ("norms", "message"),
    [
        (
            {"water": {"per_occupant": "6"}},
            "Norm for an unknown resource water: the resources are cold_water, hot_water, "
            "electricity, gas, heat.",
        ),
        ({"gas": "10"}, 'Gas: give {"per_occupant": "6.935"} or {"per_m2": "0.0142"}.'),
        ({"gas": {}}, 'Gas: give {"per_occupant": "6.935"} or {"per_m2": "0.0142"}.'),
        ({"heat": {"per_flat": "1"}}, "Heat: unknown basis per_flat (per_occupant or per_m2)."),
        ({"heat": {"per_m2": "-0.1"}}, "Heat: per_m2 must be a number, zero or more."),
        ({"heat": {"per_m2": "lots"}}, "Heat: per_m2 must be a number, zero or more."),
        ({"heat": {"per_m2": True}}, "Heat: per_m2 must be a number, zero or more."),
        ({"heat": {"per_m2": "NaN"}}, "Heat: per_m2 must be a number, zero or more."),
        (
            [["gas", "10"]],
            'Give the norms as resource → {"per_occupant": "6.935"} or {"per_m2": "0.0142"}.',
        ),
    ],
)
def test_a_norm_of_the_wrong_shape_is_refused(norms, message):
    assert errors_of(norms=norms) == {"norms": [message]}


def test_good_norms_pass():
    row = MeteringSettings(
        **{
            **DEFAULTS["za"],
            "norms": {
                "cold_water": {"per_occupant": "6.935"},
                "heat": {"per_m2": 0.016},
                "gas": {"per_occupant": 10, "per_m2": "0"},
            },
        }
    )

    row.clean()


def test_a_form_shows_the_errors_beside_their_fields(operator):
    from django.forms import modelform_factory

    row = selectors.metering_settings()
    form_class = modelform_factory(
        MeteringSettings, fields=["sms_grammars", "sms_codes", "sms_keywords", "window_end_day"]
    )
    data = {
        "sms_codes": '{"CW": "cold_water", "cw": "hot_water"}',
        "sms_grammars": '["spaced"]',
        "sms_keywords": '["READ"]',
        "window_end_day": "31",
    }

    form = form_class(data=data, instance=row)

    assert not form.is_valid()
    assert list(form.errors) == ["sms_codes"]
    assert "read alike" in form.errors["sms_codes"][0]
    assert selectors.metering_settings().sms_codes == DEFAULTS["za"]["sms_codes"]


# --- clean(): properties --------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)


@given(codes=JSON, keywords=JSON, grammars=JSON, norms=JSON)
@hypothesis_settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
def test_any_json_in_the_settings_gets_errors_never_a_crash(codes, keywords, grammars, norms):
    row = MeteringSettings(
        **{
            **DEFAULTS["za"],
            "sms_codes": codes,
            "sms_keywords": keywords,
            "sms_grammars": grammars,
            "norms": norms,
        }
    )

    problems = settings_problems(row)

    assert set(problems) <= {"sms_codes", "sms_keywords", "sms_grammars", "norms"}
    assert all(isinstance(str(m), str) and m for messages in problems.values() for m in messages)


LETTERS = st.text(alphabet="ABCEHKMOPTXYWLGАВСЕНКМОРТХУГЗЛЭ", min_size=1, max_size=3)


@given(codes=st.dictionaries(LETTERS, st.sampled_from(["cold_water", "gas", "heat"]), max_size=5))
@hypothesis_settings(max_examples=200)
def test_codes_pass_exactly_when_the_parser_can_use_them(codes):
    row = MeteringSettings(**{**DEFAULTS["za"], "sms_codes": codes, "sms_keywords": []})

    problems = settings_problems(row)

    assert ("sms_codes" in problems) == bool(sms.check_codes(codes))
    if "sms_codes" not in problems:
        sms.parse("12345", codes=codes)  # the parser takes them: no CodeSetError
