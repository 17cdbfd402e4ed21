import pytest

from civicdesk.registry.validation import (
    provider_errors,
    ru_correspondent_account_ok,
    ru_settlement_account_ok,
)


def test_real_russian_bank_details():
    # Sberbank, Moscow: BIC 044525225, correspondent account 30101810400000000225.
    assert ru_correspondent_account_ok("044525225", "30101810400000000225")
    assert not ru_correspondent_account_ok("044525225", "30101810400000000226")
    assert ru_settlement_account_ok("044525225", "40702810938000000001")
    assert not ru_settlement_account_ok("044525225", "40702810938000000002")


@pytest.mark.parametrize(
    "jurisdiction,fields,errors",
    [
        ("ZA", {"iban": "", "tax_number": "0001339050", "bank_code": "250655"}, {}),
        ("ZA", {"bank_code": "25065"}, {"bank_code": "za_branch_code"}),
        ("ZA", {"tax_number": "0001339051"}, {"tax_number": "tax_number_invalid"}),
        ("UA", {"iban": "UA213223130000026007233566001", "tax_number": "32855961"}, {}),
        ("UA", {"iban": "UA213223130000026007233566002"}, {"iban": "iban_invalid"}),
        ("UA", {"bank_account": "26007233566001"}, {"iban": "ua_iban_required"}),
        ("UA", {"tax_number": "32855962"}, {"tax_number": "tax_number_invalid"}),
        (
            "RU",
            {
                "tax_number": "7707083893",
                "bank_code": "044525225",
                "bank_account": "40702810938000000001",
                "correspondent_account": "30101810400000000225",
            },
            {},
        ),
        ("RU", {"bank_code": "04452522", "bank_account": "1"}, {"bank_code": "ru_bic"}),
        (
            "RU",
            {"bank_code": "044525225", "bank_account": "40702810938000000009"},
            {"bank_account": "ru_account_key"},
        ),
        ("RU", {"tax_number": "7707083894"}, {"tax_number": "tax_number_invalid"}),
    ],
)
def test_provider_errors(jurisdiction, fields, errors):
    assert provider_errors(jurisdiction=jurisdiction, **fields) == errors
