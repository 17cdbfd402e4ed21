"""Bank details per jurisdiction: worked examples, bad input, and properties (valid generated
numbers pass; any single-digit change fails)."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from stdnum import iban as stdnum_iban

from civicdesk.ledger.bankdetails import (
    BankDetailsError,
    ru_conditional_number,
    ru_control_key,
    ru_key_valid,
    validate_bank_details,
)

UA_IBAN = "UA213223130000026007233566001"  # a published example (PrivatBank)
RU_BIK = "049805746"
RU_ACCOUNT = "40602810700000000025"  # the Bank of Russia's worked example for that BIK


def error(jurisdiction: str, **fields) -> BankDetailsError:
    fields.setdefault("holder", "Naledi Mahlangu")
    with pytest.raises(BankDetailsError) as caught:
        validate_bank_details(jurisdiction, **fields)
    return caught.value


# --- worked examples ---------------------------------------------------------------------------


def test_bank_of_russia_worked_examples():
    # ЦБ РФ 08.09.97 N 515, appendix: client account at a credit institution (key 7) and an
    # account at a cash centre (BIK ending 000: conditional number "0" + digits 5-6, key 8).
    assert ru_control_key("049805746", "40602810000000000025") == "7"
    assert ru_key_valid("049805746", "40602810700000000025")
    assert ru_control_key("049805000", "30101810000000000746") == "8"
    assert ru_key_valid("049805000", "30101810800000000746")
    assert not ru_key_valid("049805746", "40602810600000000025")


def test_ua_iban_normalised():
    details = validate_bank_details(
        "UA", holder="  Ivan   Petrenko ", iban="ua21 3223-1300 0002 6007 2335 6600 1"
    )
    assert details.iban == UA_IBAN
    assert details.holder == "Ivan Petrenko"
    assert details.account_number == details.branch_code == ""
    assert details.masked() == "…6001"


def test_za_account_and_branch():
    details = validate_bank_details(
        "ZA", holder="Naledi", account_number="62 0000 1234", branch_code="250655", bank_name="FNB"
    )
    assert (details.account_number, details.branch_code, details.bank_name) == (
        "6200001234",
        "250655",
        "FNB",
    )
    assert details.iban == ""


def test_ru_account_and_bik():
    details = validate_bank_details(
        "RU", holder="Иван Петров", account_number=RU_ACCOUNT, branch_code=RU_BIK
    )
    assert details.account_number == RU_ACCOUNT and details.branch_code == RU_BIK


# --- bad input ------------------------------------------------------------------------------


def za(account="62000012345", branch="250655", **extra) -> dict:
    return {"account_number": account, "branch_code": branch, **extra}


def ru(account=RU_ACCOUNT, bik=RU_BIK, **extra) -> dict:
    return {"account_number": account, "branch_code": bik, **extra}


ACC, BRANCH = "account_number", "branch_code"


@pytest.mark.parametrize(
    ("jurisdiction", "fields", "code", "field"),
    [
        ("UA", {"holder": "  "}, "required", "holder"),
        ("UA", {"holder": "A" * 201, "iban": UA_IBAN}, "too_long", "holder"),
        ("UA", {"holder": "Ivan\x00", "iban": UA_IBAN}, "invalid_characters", "holder"),
        ("UA", {"iban": ""}, "required", "iban"),
        ("UA", {"iban": "DE89370400440532013000"}, "iban_country", "iban"),
        ("UA", {"iban": UA_IBAN[:-1]}, "exact_length", "iban"),
        ("UA", {"iban": "UA21322313000002600723356600!"}, "iban_format", "iban"),
        ("UA", {"iban": "UA21A" + UA_IBAN[5:]}, "iban_format", "iban"),
        ("UA", {"iban": UA_IBAN[:-1] + "2"}, "checksum", "iban"),
        ("UA", {"iban": UA_IBAN, ACC: "123"}, "not_used", ACC),
        ("UA", {"iban": UA_IBAN, BRANCH: "320649"}, "not_used", BRANCH),
        ("ZA", za(iban=UA_IBAN), "not_used", "iban"),
        ("ZA", za(account=""), "required", ACC),
        ("ZA", za(account="62OO001234"), "digits_only", ACC),
        ("ZA", za(account="١٢٣٤٥٦٧٨"), "digits_only", ACC),  # Arabic-Indic digits
        ("ZA", za(account="123456"), "length", ACC),
        ("ZA", za(account="123456789012"), "length", ACC),
        ("ZA", za(branch=""), "required", BRANCH),
        ("ZA", za(branch="25065"), "exact_length", BRANCH),
        ("RU", ru(bik=""), "required", BRANCH),
        ("RU", ru(bik="04980574"), "exact_length", BRANCH),
        ("RU", ru(bik="149805746"), "bik_country", BRANCH),
        ("RU", ru(account=RU_ACCOUNT[:-1]), "exact_length", ACC),
        ("RU", ru(account=""), "required", ACC),
        ("RU", ru(account="40602810600000000025"), "control_key", ACC),
        ("RU", ru(bik="049805747"), "control_key", ACC),
        ("RU", ru(iban=UA_IBAN), "not_used", "iban"),
        ("XX", {"iban": UA_IBAN}, "jurisdiction", "jurisdiction"),
    ],
)
def test_bad_details_name_the_field(jurisdiction, fields, code, field):
    caught = error(jurisdiction, **fields)
    assert (caught.code, caught.field) == (code, field)


def test_za_never_takes_an_iban_even_a_valid_one():
    caught = error(
        "ZA", iban="GB82WEST12345698765432", account_number="1234567", branch_code="250655"
    )
    assert caught.field == "iban" and caught.code == "not_used"


def test_none_values_are_missing():
    caught = error("UA", iban=None)
    assert (caught.code, caught.field) == ("required", "iban")


# --- properties -------------------------------------------------------------------------------

digits = st.text(alphabet="0123456789", min_size=1, max_size=1)


@st.composite
def ua_ibans(draw) -> str:
    mfo = draw(st.text(alphabet="0123456789", min_size=6, max_size=6))
    account = draw(
        st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=19, max_size=19)
    )
    bban = mfo + account
    return "UA" + stdnum_iban.calc_check_digits(f"UAXX{bban}") + bban


@st.composite
def ru_pairs(draw) -> tuple[str, str]:
    bik = "04" + draw(st.text(alphabet="0123456789", min_size=7, max_size=7))
    account = draw(st.text(alphabet="0123456789", min_size=20, max_size=20))
    key = ru_control_key(bik, account)
    return bik, account[:8] + key + account[9:]


@given(ua_ibans())
def test_generated_ua_ibans_pass(number):
    assert validate_bank_details("UA", holder="X", iban=number).iban == number


@given(ua_ibans(), st.data())
def test_any_single_digit_change_in_a_ua_iban_fails(number, data):
    positions = [i for i, ch in enumerate(number) if ch.isdigit()]
    position = data.draw(st.sampled_from(positions))
    new = data.draw(digits)
    assume(new != number[position])
    changed = number[:position] + new + number[position + 1 :]
    caught = error("UA", iban=changed)
    assert (caught.code, caught.field) == ("checksum", "iban")


@given(ru_pairs())
def test_generated_ru_accounts_pass(pair):
    bik, account = pair
    details = validate_bank_details("RU", holder="X", account_number=account, branch_code=bik)
    assert (details.account_number, details.branch_code) == (account, bik)


@given(ru_pairs(), st.integers(min_value=0, max_value=19), digits)
def test_any_single_digit_change_in_a_ru_account_fails(pair, position, new):
    bik, account = pair
    assume(new != account[position])
    changed = account[:position] + new + account[position + 1 :]
    caught = error("RU", account_number=changed, branch_code=bik)
    assert (caught.code, caught.field) == ("control_key", "account_number")


@given(ru_pairs(), st.integers(min_value=6, max_value=8), digits)
def test_a_digit_change_in_the_bik_part_the_key_uses_fails(pair, position, new):
    bik, account = pair
    changed = bik[:position] + new + bik[position + 1 :]
    # a change that moves the BIK in or out of the cash-centre form ("00" in digits 7-8)
    # uses other digits of the BIK; only a change within the same form must be caught
    assume(new != bik[position] and (bik[6:8] == "00") == (changed[6:8] == "00"))
    assume(ru_conditional_number(changed) != ru_conditional_number(bik))
    caught = error("RU", account_number=account, branch_code=changed)
    assert caught.code == "control_key"


@given(
    st.text(alphabet="0123456789", min_size=7, max_size=11),
    st.text(alphabet="0123456789", min_size=6, max_size=6),
)
def test_za_any_7_to_11_digit_account_with_a_6_digit_branch_passes(account, branch):
    details = validate_bank_details("ZA", holder="X", account_number=account, branch_code=branch)
    assert details.account_number == account


@given(st.text(max_size=40))
def test_arbitrary_text_never_crashes(text):
    for jurisdiction in ("ZA", "UA", "RU"):
        try:
            validate_bank_details(
                jurisdiction, holder=text, iban=text, account_number=text, branch_code=text
            )
        except BankDetailsError as exc:
            assert exc.field in ("holder", "iban", "account_number", "branch_code")
