"""Builders for bank statement tests: formats, CSV and camt.053 files."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from xml.sax.saxutils import escape

from civicdesk.ledger.models import BankFormat

CSV_MAPPING = {
    "columns": {
        "date": "Date",
        "amount": "Amount",
        "reference": "Description",
        "counterparty": "Payer",
        "bank_ref": "Transaction ID",
    },
    "default_currency": "ZAR",
    "statement_id": "fnb",
}


def csv_format(code: str = "fnb-csv", **extra) -> BankFormat:
    return BankFormat.objects.create(
        code=code,
        name=extra.pop("name", "First National Bank (CSV)"),
        kind=BankFormat.Kind.CSV,
        mapping=extra.pop("mapping", CSV_MAPPING),
        bank_account=extra.pop("bank_account", "62000000001"),
        **extra,
    )


def camt_format(code: str = "camt", **extra) -> BankFormat:
    return BankFormat.objects.create(
        code=code,
        name=extra.pop("name", "Bank (camt.053)"),
        kind=BankFormat.Kind.CAMT053,
        **extra,
    )


def csv_file(
    rows: list[tuple], *, header=("Date", "Amount", "Description", "Payer", "Transaction ID")
) -> bytes:
    """rows: (date, amount, description, payer, transaction id)."""
    lines = [",".join(header)]
    for row in rows:
        cells = []
        for cell in row:
            text = cell.isoformat() if isinstance(cell, dt.date) else str(cell)
            if "," in text or '"' in text:
                text = '"' + text.replace('"', '""') + '"'
            cells.append(text)
        lines.append(",".join(cells))
    return ("\n".join(lines) + "\n").encode()


def camt_file(
    entries: list[dict],
    *,
    statement_id: str = "STMT-2026-001",
    iban: str = "ZA00BANK0000000001",
    currency: str = "ZAR",
    statements: int = 1,
) -> bytes:
    """entries: dicts with amount (Decimal), booked (date), reference, payer, ref, currency,
    credit (bool, default True)."""

    def entry_xml(entry: dict) -> str:
        ccy = entry.get("currency", currency)
        indicator = "CRDT" if entry.get("credit", True) else "DBIT"
        booked = entry["booked"].isoformat()
        payer = escape(entry.get("payer", ""))
        return f"""
      <Ntry>
        <Amt Ccy="{ccy}">{entry["amount"]}</Amt>
        <CdtDbtInd>{indicator}</CdtDbtInd>
        <Sts>BOOK</Sts>
        <BookgDt><Dt>{booked}</Dt></BookgDt>
        <ValDt><Dt>{booked}</Dt></ValDt>
        <AcctSvcrRef>{escape(entry.get("ref", ""))}</AcctSvcrRef>
        <NtryDtls><TxDtls>
          <RltdPties><Dbtr><Nm>{payer}</Nm></Dbtr></RltdPties>
          <RmtInf><Ustrd>{escape(entry.get("reference", ""))}</Ustrd></RmtInf>
        </TxDtls></NtryDtls>
      </Ntry>"""

    body = "".join(entry_xml(e) for e in entries)
    stmts = "".join(
        f"""
    <Stmt>
      <Id>{statement_id}{"" if n == 0 else f"-{n}"}</Id>
      <CreDtTm>2026-03-02T06:00:00</CreDtTm>
      <Acct><Id><IBAN>{iban}</IBAN></Id><Ccy>{currency}</Ccy></Acct>
      {body}
    </Stmt>"""
        for n in range(statements)
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">
  <BkToCstmrStmt>
    <GrpHdr><MsgId>MSG-1</MsgId><CreDtTm>2026-03-02T06:00:00</CreDtTm></GrpHdr>{stmts}
  </BkToCstmrStmt>
</Document>
""".encode()


def bad_check_digit(number: str) -> str:
    """The account number with its check digit changed (so it no longer verifies)."""
    return number[:-1] + str((int(number[-1]) + 1) % 10)


def money(text: str) -> Decimal:
    return Decimal(text)


def revenue_queue(*members):
    """The operator's revenue team, with the missing-payment category routed to it."""
    from civicdesk.cases.models import Category
    from civicdesk.cases.tests import factories as case_factories

    team = case_factories.team("revenue", members=members)
    category = case_factories.category(
        "missing-payment",
        kind=Category.Kind.MISSING_PAYMENT,
        names={
            "en": "Missing payment",
            "af": "Ontbrekende betaling",
            "uk": "Платіж",
            "ru": "Платёж",
        },
    )
    case_factories.rule(team, order=1, category_=category)
    return team


def linked_resident(make_user, account=None, **extra):
    """A resident with ``account`` (a new one by default) linked to them as owner."""
    from civicdesk.registry.services import link_by_staff
    from civicdesk.registry.tests import factories

    user = make_user(**extra)
    account = account or factories.account()
    link_by_staff(user=user, account=account, role="owner")
    return user, account


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def pdf_upload(name: str = "receipt.pdf"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, PDF, content_type="application/pdf")
