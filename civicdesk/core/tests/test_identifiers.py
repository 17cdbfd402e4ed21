"""Account numbers with check digits: every single-digit error and (Verhoeff, Damm) every
adjacent transposition is caught; what we make, we accept."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from civicdesk.core.identifiers import (
    AccountNumberFormat,
    InvalidIdentifier,
    account_number_check,
    account_number_make,
    normalise,
)

FORMATS = [
    AccountNumberFormat(),
    AccountNumberFormat(algorithm="verhoeff", length=8, prefix="7"),
    AccountNumberFormat(algorithm="damm", length=12, prefix="4401"),
]


def test_worked_example_luhn():
    # 7992739871 + Luhn check digit 3 is the textbook example.
    fmt = AccountNumberFormat(length=11)
    assert account_number_make(fmt, 7992739871) == "79927398713"
    assert account_number_check(fmt, "7992 7398-713") == "79927398713"
    with pytest.raises(InvalidIdentifier) as exc:
        account_number_check(fmt, "79927398710")
    assert exc.value.reason == "check_digit"


@pytest.mark.parametrize(
    "raw,reason",
    [("", "empty"), ("12ab567890", "format"), ("123", "length"), ("12345678901", "length")],
)
def test_reasons(raw, reason):
    with pytest.raises(InvalidIdentifier) as exc:
        account_number_check(AccountNumberFormat(), raw)
    assert exc.value.reason == reason


def test_prefix_is_enforced():
    fmt = AccountNumberFormat(length=8, prefix="7")
    other = account_number_make(AccountNumberFormat(length=8, prefix="5"), 1)
    with pytest.raises(InvalidIdentifier) as exc:
        account_number_check(fmt, other)
    assert exc.value.reason == "prefix"


@pytest.mark.parametrize(
    "bad", [{"algorithm": "crc"}, {"length": 3}, {"prefix": "x1"}, {"length": 6, "prefix": "1234"}]
)
def test_bad_formats_are_refused(bad):
    with pytest.raises(ValueError):
        AccountNumberFormat(**bad)


@given(st.sampled_from(FORMATS), st.data())
def test_made_numbers_are_valid(fmt, data):
    sequence = data.draw(st.integers(min_value=0, max_value=fmt.capacity - 1))
    number = account_number_make(fmt, sequence)
    assert len(number) == fmt.length and number.startswith(fmt.prefix)
    assert account_number_check(fmt, number) == number


@given(st.sampled_from(FORMATS), st.data())
def test_any_single_digit_error_is_caught(fmt, data):
    number = account_number_make(fmt, data.draw(st.integers(0, fmt.capacity - 1)))
    position = data.draw(st.integers(len(fmt.prefix), fmt.length - 1))
    replacement = data.draw(st.sampled_from([d for d in "0123456789" if d != number[position]]))
    typo = number[:position] + replacement + number[position + 1 :]
    with pytest.raises(InvalidIdentifier):
        account_number_check(fmt, typo)


@given(st.sampled_from(FORMATS[1:]), st.data())
def test_adjacent_transpositions_are_caught_by_verhoeff_and_damm(fmt, data):
    number = account_number_make(fmt, data.draw(st.integers(0, fmt.capacity - 1)))
    i = data.draw(st.integers(len(fmt.prefix), fmt.length - 2))
    if number[i] == number[i + 1]:
        return
    swapped = number[:i] + number[i + 1] + number[i] + number[i + 2 :]
    with pytest.raises(InvalidIdentifier):
        account_number_check(fmt, swapped)


@given(st.text(max_size=40))
def test_any_text_is_either_a_number_or_a_reason(text):
    try:
        assert account_number_check(AccountNumberFormat(), text) == normalise(text)
    except InvalidIdentifier as exc:
        assert exc.reason in {"empty", "format", "length", "prefix", "check_digit"}
