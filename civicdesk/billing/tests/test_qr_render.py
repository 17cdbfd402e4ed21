"""Rendered payment QR codes read back, with zxing-cpp, to exactly the payload's bytes."""

from __future__ import annotations

import base64
import re
from dataclasses import replace
from decimal import Decimal

import pytest
import segno.helpers

from civicdesk.billing.documents.qr import (
    PaymentDetails,
    QrPayload,
    QrPayloadError,
    build_payment_qr,
    parse_gost,
    parse_nbu,
)
from civicdesk.billing.documents.qrimage import make_qr, qr_data_uri, qr_png, qr_svg
from civicdesk.billing.documents.testing import decode_qr_png

BILL = {
    "gost_r_56042": PaymentDetails(
        payee_name="ООО «Водоканал Ставрополя»",
        account="40702810138250123017",
        bank_name="ПАО СБЕРБАНК",
        bic="044525225",
        correspondent_account="30101810400000000225",
        payee_tax_id="2635012345",
        purpose="Оплата ЖКУ за август 2025, л/с 00123456",
        payer_last_name="Иванов",
        payer_account="00123456",
        period=(2025, 8),
        gost_tech_code="02",
        amount=Decimal("4567.89"),
    ),
    "nbu": PaymentDetails(
        payee_name="КП «Харківводоканал»",
        account="UA213223130000026007233566001",
        payee_tax_id="03361715",
        purpose="Оплата за водопостачання, о/р 1234567, серпень 2025",
        amount=Decimal("576.45"),
        nbu_category="SUPP/SUPP",
    ),
    "epc": PaymentDetails(
        payee_name="Stadtwerke Musterstadt",
        account="DE89370400440532013000",
        bic="COBADEFFXXX",
        amount=Decimal("12.30"),
        purpose="Rechnung 2025-08, Kundennr. 123456",
    ),
    "reference": PaymentDetails(
        payee_name="Stad Kaapstad",
        bank_name="ABSA",
        account="4098765432",
        branch_code="632005",
        payer_account="1234567897",
        amount=Decimal("1234.50"),
    ),
}


@pytest.mark.parametrize("format_", sorted(BILL))
def test_png_decodes_to_the_exact_payload_bytes(format_):
    payload = build_payment_qr(format_, BILL[format_])
    assert decode_qr_png(qr_png(payload)) == payload.data


@pytest.mark.parametrize("format_", sorted(BILL))
def test_data_uri_is_the_same_png(format_):
    payload = build_payment_qr(format_, BILL[format_])
    uri = qr_data_uri(payload)
    assert uri.startswith("data:image/png;base64,")
    assert decode_qr_png(base64.b64decode(uri.split(",", 1)[1])) == payload.data


def test_gost_windows_1251_symbol_carries_cp1251_and_reads_back_in_cyrillic():
    details = replace(BILL["gost_r_56042"], charset="cp1251")
    payload = build_payment_qr("gost_r_56042", details)
    raw = decode_qr_png(qr_png(payload, scale=3))
    assert raw == payload.data
    assert raw.startswith(b"ST00011|Name=" + "ООО «Водоканал".encode("cp1251"))
    parsed = parse_gost(raw)
    assert parsed["details"]["payee_name"] == "ООО «Водоканал Ставрополя»"
    assert parsed["details"]["purpose"] == "Оплата ЖКУ за август 2025, л/с 00123456"


def test_symbols_use_level_m_and_byte_mode_without_eci():
    for format_, details in BILL.items():
        qr = make_qr(build_payment_qr(format_, details))
        assert qr.error == "M", format_
        assert qr.mode == "byte", format_


def test_nbu_symbols_are_at_least_version_10_and_read_back():
    payload = build_payment_qr("nbu", BILL["nbu"])
    assert 10 <= make_qr(payload).version <= 17
    raw = decode_qr_png(qr_png(payload))
    assert parse_nbu(raw)["details"]["payee_name"] == "КП «Харківводоканал»"


def test_epc_bytes_match_segnos_own_epc_helper():
    # segno.helpers.make_epc_qr is an independent EPC069-12 implementation: the same
    # transfer must give the same symbol content.
    details = replace(BILL["epc"], charset="iso-8859-1")
    ours = build_payment_qr("epc", details)
    theirs = segno.helpers.make_epc_qr(
        name=details.payee_name,
        iban=details.account,
        amount=details.amount,
        text=details.purpose,
        bic=details.bic,
        encoding="iso-8859-1",
    )
    assert make_qr(ours).matrix == theirs.matrix


def test_svg_is_inline_without_xml_declaration():
    payload = build_payment_qr("epc", BILL["epc"])
    svg = qr_svg(payload, title="EPC QR")
    assert svg.startswith("<svg")
    assert "<?xml" not in svg
    assert "<title>EPC QR</title>" in svg
    assert re.search(r'width="\d+"', svg)


def test_raw_bytes_render_too_and_overflow_is_a_payload_error():
    assert decode_qr_png(qr_png(b"plain bytes")) == b"plain bytes"
    with pytest.raises(QrPayloadError) as caught:
        qr_png(QrPayload("reference", "", b"x" * 3000))
    assert caught.value.code == "payload_too_long"
