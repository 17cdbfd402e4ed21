"""The SMS reading grammar (pure): worked examples for every syntax, and properties: whatever
the formatter writes, the parser reads back exactly; no text makes it raise."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from civicdesk.metering import sms
from civicdesk.metering.jurisdictions import DEFAULTS
from civicdesk.metering.sms import (
    BAD_NUMBER,
    EMPTY,
    FORMAT_NOT_ACCEPTED,
    MISSING_VALUE,
    NO_ACCOUNT,
    NO_READINGS,
    STRAY_VALUE,
    TOO_MANY_VALUES,
    UNKNOWN_CODE,
    CodeProblem,
    CodeSetError,
    ParsedReading,
    ParseError,
    check_codes,
    fold,
    format_message,
    parse,
)

RU = DEFAULTS["ru"]["sms_codes"]
UA = DEFAULTS["ua"]["sms_codes"]
ZA = DEFAULTS["za"]["sms_codes"]
KEYWORDS = {j: DEFAULTS[j]["sms_keywords"] for j in DEFAULTS}
D = Decimal


def ru(text, grammars=sms.GRAMMARS, keywords=KEYWORDS["ru"]):
    return parse(text, codes=RU, grammars=grammars, keywords=keywords)


def read(message) -> list[tuple[str, int, tuple]]:
    """(resource, ordinal, values as text) per reading."""
    return [(r.resource, r.ordinal, tuple(str(v) for v in r.values)) for r in message.readings]


STAVROPOL = [
    ("cold_water", 1, ("11",)),
    ("hot_water", 1, ("12",)),
    ("electricity", 1, ("14",)),
    ("gas", 1, ("15",)),
]


# --- worked examples: the grammars ----------------------------------------------------------


def test_the_stavropol_format():
    message = ru("12345 ХВ 11 ГВ 12 ЭЛ 14 ГЗ 15")

    assert message.ok and message.recognised
    assert message.account_number == "12345"
    assert read(message) == STAVROPOL
    assert message.grammars == {"spaced"}
    assert message.readings[0] == ParsedReading("ХВ", "cold_water", 1, (D("11"),))
    assert message.readings[0].registers == ("T",)


def test_any_subset_in_any_order():
    message = ru("12345 ГЗ 15 ХВ 11")

    assert message.ok
    assert read(message) == [("gas", 1, ("15",)), ("cold_water", 1, ("11",))]


@pytest.mark.parametrize(
    "text",
    ["12345 ХВ11 ГВ12 ЭЛ14 ГЗ15", "12345ХВ11ГВ12ЭЛ14ГЗ15", "12345 ХВ11ГВ12ЭЛ14ГЗ15"],
)
def test_codes_glued_to_values(text):
    message = ru(text)

    assert message.ok, message.errors
    assert (message.account_number, read(message)) == ("12345", STAVROPOL)
    assert message.grammars == {"glued"}


@pytest.mark.parametrize(
    "text",
    [
        "12345#ХВ#11#ГВ#12#ЭЛ#14#ГЗ#15",
        "12345#ХВ11#ГВ12#ЭЛ14#ГЗ15",
        "12345 # ХВ # 11 # ГВ # 12 # ЭЛ # 14 # ГЗ # 15",
        "#12345#ХВ#11#ГВ#12#ЭЛ#14#ГЗ#15#",
    ],
)
def test_hash_separated_fields(text):
    message = ru(text)

    assert message.ok, message.errors
    assert (message.account_number, read(message)) == ("12345", STAVROPOL)
    assert message.grammars == {"hash"}


@pytest.mark.parametrize(
    "text",
    [
        "12345 ЭЛ 1234 567",
        "12345 ЭЛ 1234/567",
        "12345 ЭЛ 1234 / 567",
        "12345 ЭЛ1234/567",
        "12345#ЭЛ#1234#567",
        "12345#ЭЛ#1234/567",
        "12345#ЭЛ1234/567",
    ],
)
def test_day_night_pairs(text):
    message = ru(text)

    assert message.ok, message.errors
    (reading,) = message.readings
    assert reading.values == (D("1234"), D("567"))
    assert reading.registers == ("T1", "T2")
    assert reading.by_register() == {"T1": D("1234"), "T2": D("567")}


def test_three_rate_values_and_a_reading_after_them():
    message = ru("12345 ЭЛ 100 200 300 ХВ 5")

    assert read(message) == [("electricity", 1, ("100", "200", "300")), ("cold_water", 1, ("5",))]
    assert message.readings[0].registers == ("T1", "T2", "T3")


def test_a_repeated_code_is_the_next_meter_of_that_resource():
    message = ru("12345 ХВ 11 ГВ 7 ХВ 12 ХВ 13")

    assert read(message) == [
        ("cold_water", 1, ("11",)),
        ("hot_water", 1, ("7",)),
        ("cold_water", 2, ("12",)),
        ("cold_water", 3, ("13",)),
    ]


@pytest.mark.parametrize(
    "text", ["ПОКАЗ 12345 ХВ 11", "показания 12345 ХВ 11", "ПОКАЗ12345 ХВ 11", "ПОКАЗ#12345#ХВ#11"]
)
def test_a_keyword_prefix(text):
    message = ru(text)

    assert message.ok, message.errors
    assert message.account_number == "12345"
    assert read(message) == [("cold_water", 1, ("11",))]
    assert message.keyword in ("ПОКАЗ", "ПОКАЗАНИЯ")


def test_a_keyword_of_several_words():
    message = parse("мои показания 12345 ХВ 11", codes=RU, keywords=["МОИ ПОКАЗАНИЯ"])

    assert message.ok and message.keyword == "МОИ ПОКАЗАНИЯ"


@pytest.mark.parametrize(
    "text",
    [
        "12345 XB 11 ГB 12 ЭЛ 14 Г3 15",  # Latin X, B; and a digit 3 is not a letter З
        "12345 хв 11 гв 12 эл 14 гз 15",
        "12345 Xb 11 гB 12 эЛ 14 ГЗ 15",
    ],
)
def test_latin_look_alikes_and_case(text):
    message = ru(text)

    assert message.readings[:3] == tuple(
        ParsedReading(code, resource, 1, (D(value),))
        for code, resource, value in [
            ("ХВ", "cold_water", "11"),
            ("ГВ", "hot_water", "12"),
            ("ЭЛ", "electricity", "14"),
        ]
    )


def test_the_look_alike_example_with_the_digit_three_is_an_unknown_code():
    message = ru("12345 Г3 15")

    assert ParseError(UNKNOWN_CODE, "Г") in message.errors


def test_both_decimal_separators():
    message = ru("12345 ХВ 11,5 ГВ 12.25 ЭЛ 1234,5/567.75")

    assert read(message) == [
        ("cold_water", 1, ("11.5",)),
        ("hot_water", 1, ("12.25",)),
        ("electricity", 1, ("1234.5", "567.75")),
    ]
    assert message.readings[0].typed == ("11,5",)


def test_punctuation_separates_like_spaces_and_a_final_full_stop_is_ignored():
    message = ru("12345: ХВ=11, ГВ - 12; ЭЛ 14.")

    assert message.ok, message.errors
    assert read(message)[:3] == STAVROPOL[:3]


def test_an_account_number_typed_with_dashes():
    assert ru("1234-5678-90 ХВ 11").account_number == "1234567890"


def test_digits_of_other_scripts_and_full_width_digits_are_read():
    message = ru("１２３４５ ХВ ١١")

    assert message.account_number == "12345"
    assert read(message) == [("cold_water", 1, ("11",))]


@pytest.mark.parametrize(
    ("codes", "keywords", "text", "expected"),
    [
        (UA, KEYWORDS["ua"], "ПОКАЗНИКИ 12345 ХВ 11 ГВ 12 ЕЛ 14 ГАЗ 15", ["ХВ", "ГВ", "ЕЛ", "ГАЗ"]),
        (UA, KEYWORDS["ua"], "12345ТЕП3,5", ["ТЕП"]),
        (ZA, KEYWORDS["za"], "READ 12345 CW 11 HW 12 EL 14 G 15", ["CW", "HW", "EL", "G"]),
        (ZA, KEYWORDS["za"], "12345CW11HW12EL1234/567", ["CW", "HW", "EL"]),
        (ZA, KEYWORDS["za"], "meter 12345#cw#11#hw#12", ["CW", "HW"]),
        (ZA, KEYWORDS["za"], "12345 CW 11 HW 12 EL 14", ["CW", "HW", "EL"]),  # the help SMS
    ],
)
def test_every_jurisdictions_default_codes(codes, keywords, text, expected):
    message = parse(text, codes=codes, keywords=keywords)

    assert message.ok, message.errors
    assert [r.code for r in message.readings] == expected


# --- worked examples: errors ----------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_an_empty_message(text):
    message = ru(text)

    assert message.errors == (ParseError(EMPTY),)
    assert not message.recognised


def test_no_account_number_still_reads_the_readings():
    message = ru("ХВ 11 ГВ 12")

    assert message.errors == (ParseError(NO_ACCOUNT),)
    assert message.account_number is None
    assert read(message) == STAVROPOL[:2]
    assert message.recognised


def test_a_decimal_is_no_account_number():
    assert ru("123,45 ХВ 11").errors == (ParseError(NO_ACCOUNT, "123,45"),)


def test_an_unknown_code_is_named_and_its_value_set_aside():
    message = ru("12345 ХВ 11 ХЗ 5 ГВ 12")

    assert message.errors == (ParseError(UNKNOWN_CODE, "ХЗ"),)
    assert read(message) == STAVROPOL[:2]


def test_a_code_without_a_value():
    message = ru("12345 ХВ ГВ 12 ЭЛ")

    assert message.errors == (
        ParseError(MISSING_VALUE, "ХВ", "cold_water", 1),
        ParseError(MISSING_VALUE, "ЭЛ", "electricity", 1),
    )
    assert read(message) == [("hot_water", 1, ("12",))]


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("12345 ХВ 1l ГВ 12", "1l"),
        ("12345 ХВ 1O5 ГВ 12", "1O5"),
        ("12345 ХВ одиннадцать ГВ 12", "одиннадцать"),
        ("12345 ХВ 1.2.3 ГВ 12", "1.2.3"),
        ("12345 ХВ 11-12 ГВ 12", "11-12"),
        ("12345 ХВ " + "9" * 40 + " ГВ 12", "9" * 40),
    ],
)
def test_a_value_that_is_not_a_number(text, detail):
    message = ru(text)

    assert message.errors == (ParseError(BAD_NUMBER, detail, "cold_water", 1),)
    assert read(message) == [("hot_water", 1, ("12",))]


def test_too_many_values_for_a_code():
    message = ru("12345 ЭЛ 1 2 3 4 ХВ 11")

    assert message.errors == (ParseError(TOO_MANY_VALUES, "ЭЛ", "electricity", 1),)
    assert read(message) == [("cold_water", 1, ("11",))]


def test_a_value_before_any_code():
    assert ru("12345 99 ХВ 11").errors == (ParseError(STRAY_VALUE, "99"),)


def test_an_account_and_nothing_else():
    message = ru("12345")

    assert message.errors == (ParseError(NO_READINGS),)
    assert not message.recognised


@pytest.mark.parametrize(
    ("text", "enabled", "refused"),
    [
        ("12345 ХВ11", ["spaced", "hash"], "glued"),
        ("12345 ХВ 11", ["glued"], "spaced"),
        ("12345#ХВ#11", ["spaced", "glued"], "hash"),
        ("12345 ХВ 11 ГВ12", ["spaced"], "glued"),
    ],
)
def test_a_grammar_the_operator_has_not_enabled(text, enabled, refused):
    message = ru(text, grammars=enabled)

    assert ParseError(FORMAT_NOT_ACCEPTED, refused) in message.errors
    assert message.readings  # read anyway, so the reply can say what it understood


def test_random_words_are_not_recognised_as_readings():
    message = ru("Hello, when is my bill due?")

    assert not message.recognised
    assert message.errors[0] == ParseError(NO_ACCOUNT)


def test_message_errors_are_the_ones_that_spoil_the_whole_message():
    message = ru("ХВ 11 ХЗ 2", grammars=["glued"])

    assert [e.code for e in message.message_errors] == [NO_ACCOUNT, FORMAT_NOT_ACCEPTED]


# --- the operator's codes -------------------------------------------------------------------


def test_codes_that_read_alike_are_refused():
    problems = check_codes({"ХВ": "cold_water", "XB": "hot_water", "хв": "gas"})

    assert problems == [CodeProblem("same_as", "XB", "ХВ"), CodeProblem("same_as", "хв", "ХВ")]
    with pytest.raises(CodeSetError):
        parse("12345 ХВ 11", codes={"ХВ": "cold_water", "XB": "hot_water"})


def test_codes_must_be_letters_and_keywords_must_not_read_like_a_code():
    assert check_codes({"Х1": "cold_water", " ": "gas"}) == [
        CodeProblem("not_letters", "Х1"),
        CodeProblem("empty", " "),
    ]
    assert check_codes({"ХВ": "cold_water"}, ["XB"]) == [CodeProblem("keyword_clash", "XB", "ХВ")]
    assert check_codes(RU, KEYWORDS["ru"]) == []
    assert check_codes(UA, KEYWORDS["ua"]) == []
    assert check_codes(ZA, KEYWORDS["za"]) == []


def test_fold_compares_case_and_look_alikes():
    assert fold("xb") == fold("ХВ") == fold("Хв")
    assert fold("HW") == fold("НW")
    assert fold("ГАЗ") == fold("ГA3".replace("3", "З"))


# --- the formatter --------------------------------------------------------------------------

READINGS = [("ХВ", ["11"]), ("ЭЛ", ["1234", "567.5"]), ("ХВ", [D("12")])]


@pytest.mark.parametrize(
    ("grammar", "options", "expected"),
    [
        ("spaced", {}, "12345 ХВ 11 ЭЛ 1234 567.5 ХВ 12"),
        ("spaced", {"register_separator": "/"}, "12345 ХВ 11 ЭЛ 1234/567.5 ХВ 12"),
        ("glued", {}, "12345 ХВ11 ЭЛ1234/567.5 ХВ12"),
        ("glued", {"compact": True}, "12345ХВ11ЭЛ1234/567.5ХВ12"),
        ("hash", {}, "12345#ХВ#11#ЭЛ#1234#567.5#ХВ#12"),
        ("hash", {"compact": True}, "12345#ХВ11#ЭЛ1234/567.5#ХВ12"),
        (
            "spaced",
            {"keyword": "ПОКАЗ", "decimal_separator": ","},
            "ПОКАЗ 12345 ХВ 11 ЭЛ 1234 567,5 ХВ 12",
        ),
        ("hash", {"keyword": "ПОКАЗ"}, "ПОКАЗ#12345#ХВ#11#ЭЛ#1234#567.5#ХВ#12"),
    ],
)
def test_the_formatter_writes_each_grammar(grammar, options, expected):
    text = format_message("12345", READINGS, grammar, RU, **options)

    assert text == expected
    assert read(ru(text)) == [
        ("cold_water", 1, ("11",)),
        ("electricity", 1, ("1234", "567.5")),
        ("cold_water", 2, ("12",)),
    ]


def test_the_formatter_takes_resources_and_parsed_readings():
    parsed = ru("12345 ГВ 3").readings
    assert format_message("1", [("electricity", ["7"]), *parsed], "spaced", RU) == "1 ЭЛ 7 ГВ 3"


@pytest.mark.parametrize(
    ("account", "readings"),
    [
        ("12a", [("ХВ", ["1"])]),
        ("1", [("ХЗ", ["1"])]),
        ("1", [("ХВ", ["-1"])]),
        ("1", [("ХВ", ["NaN"])]),
        ("1", [("ХВ", ["x"])]),
        ("1", [("ХВ", [])]),
        ("1", [("ХВ", ["1", "2", "3", "4"])]),
    ],
)
def test_the_formatter_refuses_what_no_message_could_say(account, readings):
    with pytest.raises(ValueError):
        format_message(account, readings, "spaced", RU)


# --- properties -----------------------------------------------------------------------------

CYRILLIC = "АБВГДЕЖЗИКЛМНОПРСТУФХЦЧШЩЫЭЮЯІЇЄҐ"
LATIN = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
TWINS = {**dict(zip("ABCEHIKMOPTXY", "АВСЕНІКМОРТХУ", strict=True))}
TWINS.update({v: k for k, v in list(TWINS.items())})
RESOURCES = ["cold_water", "hot_water", "electricity", "gas", "heat"]


@st.composite
def code_sets(draw):
    """The jurisdictions' defaults, or random letter codes that can be told apart."""
    jurisdiction = draw(st.sampled_from([*DEFAULTS, "random"]))
    if jurisdiction != "random":
        return DEFAULTS[jurisdiction]["sms_codes"], DEFAULTS[jurisdiction]["sms_keywords"]
    letters = st.text(alphabet=CYRILLIC + LATIN, min_size=1, max_size=4)
    codes = draw(st.dictionaries(letters, st.sampled_from(RESOURCES), min_size=1, max_size=6))
    keywords = draw(st.lists(st.text(alphabet=CYRILLIC + LATIN, min_size=2, max_size=9)))
    assume(not check_codes(codes, keywords))
    return codes, keywords


values = st.builds(
    lambda digits, scale: Decimal(digits).scaleb(-scale),
    st.integers(min_value=0, max_value=10**12),
    st.integers(min_value=0, max_value=3),
)


def disguise(text: str, flips: list[bool], cases: list[bool]) -> str:
    """Swap letters for their look-alike twins and change case where the flags say so."""
    out = []
    for n, ch in enumerate(text):
        if flips[n % len(flips)] and ch in TWINS:
            ch = TWINS[ch]
        if cases[n % len(cases)]:
            ch = ch.lower()
        out.append(ch)
    return "".join(out)


@settings(max_examples=400, deadline=None)
@given(
    code_set=code_sets(),
    data=st.data(),
    account=st.from_regex(r"[0-9]{1,20}", fullmatch=True),
    grammar=st.sampled_from(sms.GRAMMARS),
    compact=st.booleans(),
    decimal_separator=st.sampled_from([".", ","]),
    flips=st.lists(st.booleans(), min_size=1, max_size=8),
    cases=st.lists(st.booleans(), min_size=1, max_size=8),
)
@example(
    code_set=(RU, KEYWORDS["ru"]),
    data=None,
    account="12345",
    grammar="spaced",
    compact=False,
    decimal_separator=".",
    flips=[False],
    cases=[False],
).via("the Stavropol example")
def test_whatever_the_formatter_writes_the_parser_reads_back(
    code_set, data, account, grammar, compact, decimal_separator, flips, cases
):
    codes, keywords = code_set
    if data is None:  # the explicit example
        chosen = [(c, [D(v)]) for c, v in (("ХВ", 11), ("ГВ", 12), ("ЭЛ", 14), ("ГЗ", 15))]
        keyword, register_separator = None, None
    else:
        chosen = data.draw(
            st.lists(
                st.tuples(st.sampled_from(sorted(codes)), st.lists(values, min_size=1, max_size=3)),
                min_size=1,
                max_size=7,
            )
        )
        keyword = data.draw(st.none() | st.sampled_from(keywords)) if keywords else None
        register_separator = data.draw(st.sampled_from([None, " ", "/"]))
    text = format_message(
        account,
        chosen,
        grammar,
        codes,
        keyword,
        decimal_separator=decimal_separator,
        register_separator=register_separator,
        compact=compact,
    )
    text = disguise(text, flips, cases)

    message = parse(text, codes=codes, grammars=[grammar], keywords=keywords)

    seen: dict[str, int] = {}
    expected = []
    for code, vals in chosen:
        resource = codes[code]
        seen[resource] = seen.get(resource, 0) + 1
        expected.append(ParsedReading(code.strip(), resource, seen[resource], tuple(vals)))
    assert message.errors == (), text
    assert message.account_number == account
    assert list(message.readings) == expected
    assert [r.values for r in message.readings] == [tuple(v) for _, v in chosen]  # exact
    assert message.grammars == {grammar}
    assert message.keyword == (keyword.strip() if keyword else None)
    assert message.recognised


GRAMMAR_ALPHABET = "0123456789 #/.,-:ХВГЭЛЗхвXBxbЕЛАТПabc\n\t١"


def _check_shape(message, codes):
    assert isinstance(message, sms.ParsedMessage)
    assert message.account_number is None or message.account_number.isdigit()
    assert all(e.code in sms.ERRORS for e in message.errors)
    assert message.grammars <= set(sms.GRAMMARS)
    for reading in message.readings:
        assert 1 <= len(reading.values) <= sms.MAX_VALUES
        assert all(v.is_finite() and not v.is_signed() for v in reading.values)
        assert codes[reading.code] == reading.resource
        assert reading.ordinal >= 1


@settings(max_examples=500, deadline=None)
@given(
    text=st.text() | st.text(alphabet=GRAMMAR_ALPHABET, max_size=80),
    grammars=st.sets(st.sampled_from(sms.GRAMMARS)),
)
def test_arbitrary_text_never_raises(text, grammars):
    for codes, keywords in ((RU, KEYWORDS["ru"]), (ZA, KEYWORDS["za"]), (UA, KEYWORDS["ua"])):
        message = parse(text, codes=codes, grammars=grammars, keywords=keywords)
        _check_shape(message, codes)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_decoded_any_way_never_raise(raw):
    for text in (raw.decode("utf-8", "replace"), raw.decode("latin-1")):
        _check_shape(parse(text, codes=RU, keywords=KEYWORDS["ru"]), RU)


@given(
    st.text(alphabet=CYRILLIC + LATIN + "abcxyz", max_size=12), st.lists(st.booleans(), min_size=1)
)
def test_look_alike_twins_fold_the_same(word, flips):
    assert fold(disguise(word, flips, [False])) == fold(word)
