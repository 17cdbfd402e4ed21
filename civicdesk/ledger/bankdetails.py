"""Bank details a refund is paid to, checked per jurisdiction (pure: no Django).

- UA: an IBAN is required: ``UA`` + 2 check digits + 6-digit bank code (MFO) + 19-character
  account, 29 characters in all, checked with ISO 7064 MOD 97-10 (python-stdnum). No separate
  account number or branch code.
- ZA: IBAN is not used in South Africa. An account number of 7 to 11 digits and the bank's
  6-digit (universal) branch code.
- RU: a 20-digit account number and the bank's 9-digit BIK (starting 04, Russia's code), and the
  account's control key (its 9th digit) must agree with the BIK, by the Bank of Russia's
  algorithm (Порядок расчета контрольного ключа в номере лицевого счета, ЦБ РФ 08.09.1997
  N 515): the 3-digit conditional number of the bank (BIK digits 7-9; for an account at a Bank
  of Russia cash centre, whose BIK has "00" in digits 7-8, "0" + BIK digits 5-6) followed by the
  20 account digits are weighted 7, 1, 3, 7, 1, 3, ...; the sum of the last digits of the
  products must end in 0. The weights are prime to 10, so any single wrong digit is caught.

The holder's name is required everywhere; the bank's name is optional. Separators people type
(spaces, hyphens, dots) are removed from numbers. Errors are ``BankDetailsError`` with a stable
``code`` and the ``field`` at fault; the services turn them into translated messages.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from stdnum import iban as stdnum_iban
from stdnum.exceptions import InvalidChecksum
from stdnum.exceptions import ValidationError as StdnumError

JURISDICTIONS = ("ZA", "UA", "RU")
FIELDS = ("holder", "iban", "account_number", "branch_code", "bank_name")

HOLDER_MAX = 200
BANK_NAME_MAX = 200
UA_IBAN_LENGTH = 29
ZA_ACCOUNT_DIGITS = (7, 11)
ZA_BRANCH_DIGITS = 6
RU_ACCOUNT_DIGITS = 20
RU_BIK_DIGITS = 9
RU_KEY_POSITION = 8  # the 9th digit of the account (0-based index)
RU_WEIGHTS = (7, 1, 3) * 8  # 23 weights: 3 BIK digits + 20 account digits (one spare)

_SEPARATORS = re.compile(r"[\s\-.]+")
_DIGITS = re.compile(r"[0-9]+")
_UA_IBAN = re.compile(r"UA[0-9]{2}[0-9]{6}[0-9A-Z]{19}")


class BankDetailsError(ValueError):
    """Bank details that cannot be paid to. ``code`` is stable; ``field`` names the input;
    ``params`` fill the message (e.g. lengths)."""

    def __init__(self, code: str, field: str, **params: object) -> None:
        super().__init__(f"{field}: {code}")
        self.code = code
        self.field = field
        self.params = params


@dataclass(frozen=True, slots=True)
class BankDetails:
    """Checked and normalised bank details; fields a jurisdiction does not use are ""."""

    jurisdiction: str
    holder: str
    bank_name: str = ""
    iban: str = ""
    account_number: str = ""
    branch_code: str = ""

    def masked(self) -> str:
        """The account for display to people who need not see all of it: last four kept."""
        number = self.iban or self.account_number
        return f"…{number[-4:]}" if number else ""


def _compact(value: str | None) -> str:
    return _SEPARATORS.sub("", value or "").upper()


def _text(value: str | None) -> str:
    return " ".join((value or "").split())


def _check_text(value: str, field: str, maximum: int, *, required: bool) -> str:
    if required and not value:
        raise BankDetailsError("required", field)
    if len(value) > maximum:
        raise BankDetailsError("too_long", field, max=maximum)
    if any(unicodedata.category(ch).startswith("C") for ch in value):
        raise BankDetailsError("invalid_characters", field)
    return value


def _digits(value: str, field: str, lengths: tuple[int, int]) -> str:
    """``value`` when it is ASCII digits only with a length in ``lengths`` (inclusive)."""
    if not value:
        raise BankDetailsError("required", field)
    if not _DIGITS.fullmatch(value):
        raise BankDetailsError("digits_only", field)
    low, high = lengths
    if not low <= len(value) <= high:
        code = "exact_length" if low == high else "length"
        raise BankDetailsError(code, field, min=low, max=high)
    return value


def _not_used(values: dict[str, str], *fields: str) -> None:
    for field in fields:
        if values[field]:
            raise BankDetailsError("not_used", field)


# --- UA: IBAN ---------------------------------------------------------------------------------


def check_ua_iban(value: str) -> str:
    """The compact IBAN if it is a valid Ukrainian one, else BankDetailsError on "iban"."""
    number = _compact(value)
    if not number:
        raise BankDetailsError("required", "iban")
    if not number.startswith("UA"):
        raise BankDetailsError("iban_country", "iban", country="UA")
    if len(number) != UA_IBAN_LENGTH:
        raise BankDetailsError("exact_length", "iban", min=UA_IBAN_LENGTH, max=UA_IBAN_LENGTH)
    if not _UA_IBAN.fullmatch(number):
        raise BankDetailsError("iban_format", "iban")
    try:
        return stdnum_iban.validate(number)
    except InvalidChecksum as exc:
        raise BankDetailsError("checksum", "iban") from exc
    except StdnumError as exc:
        raise BankDetailsError("iban_format", "iban") from exc


# --- RU: account and BIK ------------------------------------------------------------------------


def ru_conditional_number(bik: str) -> str:
    """The 3 digits the control key is computed with: BIK digits 7-9, or for an account at a
    Bank of Russia cash centre (BIK digits 7-8 are "00") "0" + BIK digits 5-6."""
    return "0" + bik[4:6] if bik[6:8] == "00" else bik[6:9]


def ru_key_sum(bik: str, account: str) -> int:
    """Sum of the last digits of each weighted digit of conditional number + account."""
    digits = ru_conditional_number(bik) + account
    return sum((int(d) * w) % 10 for d, w in zip(digits, RU_WEIGHTS, strict=False))


def ru_control_key(bik: str, account: str) -> str:
    """The control key digit the account must carry at its 9th position for this BIK (the
    key in ``account`` itself is ignored)."""
    zeroed = account[:RU_KEY_POSITION] + "0" + account[RU_KEY_POSITION + 1 :]
    return str(((ru_key_sum(bik, zeroed) % 10) * 3) % 10)


def ru_key_valid(bik: str, account: str) -> bool:
    return ru_key_sum(bik, account) % 10 == 0


def check_ru_bik(value: str) -> str:
    bik = _digits(_compact(value), "branch_code", (RU_BIK_DIGITS, RU_BIK_DIGITS))
    if not bik.startswith("04"):
        raise BankDetailsError("bik_country", "branch_code")
    return bik


def check_ru_account(value: str, bik: str) -> str:
    account = _digits(_compact(value), "account_number", (RU_ACCOUNT_DIGITS, RU_ACCOUNT_DIGITS))
    if not ru_key_valid(bik, account):
        raise BankDetailsError("control_key", "account_number")
    return account


# --- all together -------------------------------------------------------------------------------


def validate_bank_details(
    jurisdiction: str,
    *,
    holder: str | None,
    iban: str | None = "",
    account_number: str | None = "",
    branch_code: str | None = "",
    bank_name: str | None = "",
) -> BankDetails:
    """Checked, normalised bank details for a payout in ``jurisdiction`` ("ZA", "UA", "RU"),
    or BankDetailsError naming the first field at fault (holder first, then the numbers)."""
    if jurisdiction not in JURISDICTIONS:
        raise BankDetailsError("jurisdiction", "jurisdiction")
    holder_text = _check_text(_text(holder), "holder", HOLDER_MAX, required=True)
    bank_text = _check_text(_text(bank_name), "bank_name", BANK_NAME_MAX, required=False)
    values = {
        "iban": _compact(iban),
        "account_number": _compact(account_number),
        "branch_code": _compact(branch_code),
    }
    if jurisdiction == "UA":
        number = check_ua_iban(values["iban"])
        _not_used(values, "account_number", "branch_code")
        return BankDetails("UA", holder_text, bank_text, iban=number)
    if jurisdiction == "ZA":
        _not_used(values, "iban")
        account = _digits(values["account_number"], "account_number", ZA_ACCOUNT_DIGITS)
        branch = _digits(values["branch_code"], "branch_code", (ZA_BRANCH_DIGITS,) * 2)
        return BankDetails("ZA", holder_text, bank_text, account_number=account, branch_code=branch)
    _not_used(values, "iban")
    bik = check_ru_bik(values["branch_code"])
    account = check_ru_account(values["account_number"], bik)
    return BankDetails("RU", holder_text, bank_text, account_number=account, branch_code=bik)
