"""Validation of providers' legal and bank identifiers (pure: no Django), with python-stdnum
wherever it has a validator. Returns {field: error code}; the model turns codes into
translated messages."""

from __future__ import annotations

from stdnum import iban as stdnum_iban
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.ru import inn as ru_inn
from stdnum.ua import edrpou as ua_edrpou
from stdnum.za import tin as za_tin

TAX_VALIDATORS = {"ZA": za_tin, "UA": ua_edrpou, "RU": ru_inn}
_WEIGHTS = (7, 1, 3) * 8


def _ru_key_ok(digits: str) -> bool:
    """The Bank of Russia control key: Σ (digit × 7,1,3,…) mod 10 over 23 digits must end in 0."""
    return sum(int(d) * w % 10 for d, w in zip(digits, _WEIGHTS, strict=False)) % 10 == 0


def ru_settlement_account_ok(bic: str, account: str) -> bool:
    """A settlement account at a bank: the BIC's last three digits, then the 20-digit account."""
    return (
        bic.isdigit() and len(bic) == 9 and account.isdigit() and len(account) == 20
    ) and _ru_key_ok(bic[-3:] + account)


def ru_correspondent_account_ok(bic: str, account: str) -> bool:
    """A bank's correspondent account: "0", the BIC's 5th and 6th digits, then the account."""
    return (
        bic.isdigit() and len(bic) == 9 and account.isdigit() and len(account) == 20
    ) and _ru_key_ok("0" + bic[4:6] + account)


def provider_errors(
    *,
    jurisdiction: str,
    iban: str = "",
    bank_account: str = "",
    bank_code: str = "",
    tax_number: str = "",
    correspondent_account: str = "",
) -> dict[str, str]:
    errors: dict[str, str] = {}
    if iban:
        try:
            stdnum_iban.validate(iban)
        except StdnumError:
            errors["iban"] = "iban_invalid"
    validator = TAX_VALIDATORS.get(jurisdiction)
    if tax_number and validator is not None:
        try:
            validator.validate(tax_number)
        except StdnumError:
            errors["tax_number"] = "tax_number_invalid"
    if jurisdiction == "ZA" and bank_code and not (bank_code.isdigit() and len(bank_code) == 6):
        errors["bank_code"] = "za_branch_code"
    if jurisdiction == "UA" and bank_account and not iban:
        errors["iban"] = "ua_iban_required"
    if jurisdiction == "RU" and (bank_account or correspondent_account):
        if not (bank_code.isdigit() and len(bank_code) == 9):
            errors["bank_code"] = "ru_bic"
        else:
            if bank_account and not ru_settlement_account_ok(bank_code, bank_account):
                errors["bank_account"] = "ru_account_key"
            if correspondent_account and not ru_correspondent_account_ok(
                bank_code, correspondent_account
            ):
                errors["correspondent_account"] = "ru_account_key"
    return errors
