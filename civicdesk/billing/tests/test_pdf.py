"""HTML to PDF: Cyrillic and Afrikaans text survive, totals are readable, QR codes decode."""

from __future__ import annotations

import base64
import io
from decimal import Decimal
from html import escape

import pypdf
import pytest

from civicdesk.billing.documents.pdf import html_to_pdf
from civicdesk.billing.documents.qr import PaymentDetails, build_payment_qr
from civicdesk.billing.documents.qrimage import qr_data_uri, qr_svg
from civicdesk.billing.documents.testing import pdf_qr_payloads, pdf_text

GOST = build_payment_qr(
    "gost_r_56042",
    PaymentDetails(
        payee_name="ООО «Водоканал»",
        account="40702810138250123017",
        bank_name="ПАО СБЕРБАНК",
        bic="044525225",
        correspondent_account="30101810400000000225",
        purpose="Оплата ЖКУ за август 2025",
        payer_account="00123456",
        amount=Decimal("1234.56"),
        charset="cp1251",
    ),
)
NBU = build_payment_qr(
    "nbu",
    PaymentDetails(
        payee_name="КП «Харківводоканал»",
        account="UA213223130000026007233566001",
        payee_tax_id="03361715",
        purpose="Оплата за водопостачання, серпень 2025",
        amount=Decimal("576.45"),
    ),
)


def page(body: str, lang: str = "ru") -> str:
    head = '<head><meta charset="utf-8"></head>'
    return f'<!doctype html><html lang="{lang}">{head}<body>{body}</body></html>'


def test_three_languages_totals_and_qr_codes():
    html = page(
        f"""
        <h1>Счёт за август 2025 года</h1>
        <table>
          <tr><td>Холодная вода</td><td class="num">1 000,00</td></tr>
          <tr><td>Итого к оплате</td><td class="num">1 234,56 руб.</td></tr>
        </table>
        <img src="{qr_data_uri(GOST)}" style="width: 35mm" alt="QR">
        <h2>Рахунок за серпень 2025 року</h2>
        <p>Разом до сплати: 576,45 грн. Дякуємо, що сплачуєте вчасно — її, ґанок, є.</p>
        <img src="{qr_data_uri(NBU)}" style="width: 35mm" alt="QR">
        <h2>Rekening vir Augustus 2025</h2>
        <p>Totaal betaalbaar: R 1 234.50 — Stad Kaapstad, rekeningnommer 1234567897.</p>
        """
    )
    pdf = html_to_pdf(html)
    assert pdf.startswith(b"%PDF-")
    text = pdf_text(pdf)
    for phrase in (
        "Счёт за август 2025 года",
        "Итого к оплате",
        "1 234,56 руб.",
        "Рахунок за серпень 2025 року",
        "Разом до сплати: 576,45 грн.",
        "її, ґанок, є",
        "Rekening vir Augustus 2025",
        "Totaal betaalbaar: R 1 234.50",
    ):
        assert phrase in text, phrase
    assert pdf_qr_payloads(pdf) == [GOST.data, NBU.data]


def test_a4_pages_numbered_one_of_n_and_fonts_embedded():
    rows = "".join(f"<p>Строка {n}: показание счётчика {n * 7} м³</p>" for n in range(120))
    pdf = html_to_pdf(page(rows))
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    pages = len(reader.pages)
    assert pages >= 2
    width, height = (float(v) for v in reader.pages[0].mediabox.upper_right)
    assert (round(width / 72 * 25.4), round(height / 72 * 25.4)) == (210, 297)
    text = pdf_text(pdf)
    for number in range(1, pages + 1):
        assert f"{number} / {pages}" in text
    fonts = {
        str(font["/BaseFont"])
        for pdf_page in reader.pages
        for font in pdf_page["/Resources"]["/Font"].values()
    }
    assert any("DejaVu-Sans" in name for name in fonts), fonts


def test_inline_svg_qr_is_drawn_as_vector_not_image():
    pdf = html_to_pdf(page(f"<p>QR</p>{qr_svg(NBU)}"))
    assert pdf_qr_payloads(pdf) == []  # vectors, so no embedded image to decode
    assert "QR" in pdf_text(pdf)


def test_author_css_overrides_the_base_stylesheet():
    html = page("<p style=\"font-family: 'DejaVu Serif'\">Рахунок</p>", lang="uk")
    reader = pypdf.PdfReader(io.BytesIO(html_to_pdf(html)))
    fonts = {str(font["/BaseFont"]) for font in reader.pages[0]["/Resources"]["/Font"].values()}
    assert any("DejaVu-Serif" in name for name in fonts), fonts


@pytest.mark.parametrize(
    "src", ["http://127.0.0.1:9/logo.png", "https://example.org/logo.png", "file:///etc/hostname"]
)
def test_documents_fetch_nothing_from_the_network_or_outside_base_url(src, tmp_path, caplog):
    pdf = html_to_pdf(page(f'<img src="{escape(src)}"><p>Рахунок</p>'), base_url=str(tmp_path))
    assert "Рахунок" in pdf_text(pdf)
    assert any("not allowed" in record.getMessage() for record in caplog.records)


def test_files_under_base_url_are_allowed(tmp_path):
    (tmp_path / "qr.png").write_bytes(base64.b64decode(qr_data_uri(NBU).split(",")[1]))
    pdf = html_to_pdf(page('<img src="qr.png" style="width: 30mm">'), base_url=str(tmp_path) + "/")
    assert pdf_qr_payloads(pdf) == [NBU.data]
