"""Payment QR payloads: builders and parsers for the national standards a bill may carry.

Pure module (no Django): plain values in, plain values out. A bill asks for one payload with
:func:`build_payment_qr`; staff tools and tests read payloads back with the ``parse_*``
functions. Every rule below is enforced here, not in templates or views, so a payload that
leaves this module is one a banking app will accept.

Formats
=======

``"gost_r_56042"`` -- Russia, GOST R 56042-2014 (payments by individuals)
    ``ST0001`` + encoding digit (``1`` windows-1251, ``2`` UTF-8, ``3`` KOI8-R) + one separator
    character, then ``Key=Value`` elements. The mandatory block ``Name`` (<= 160),
    ``PersonalAcc`` (20 digits), ``BankName`` (<= 45), ``BIC`` (9 digits), ``CorrespAcc``
    (20 digits, or ``0`` for treasury accounts) comes first and in this order; then the
    optional elements we use, in the order of the standard's appendix example: ``PayeeINN``
    (10 or 12 digits), ``KPP`` (9), ``LastName``, ``FirstName``, ``MiddleName``, ``Purpose``
    (<= 210), ``PayerAddress``, ``Sum`` (kopecks, <= 18 digits), ``PersAcc``, ``PaymPeriod``
    (``MMYYYY``), ``Category``, ``TechCode`` (``01``..``15``; ``02`` = housing and utilities).
    The separator is ``|`` unless a value contains it: the standard lets the issuer declare
    another character in the header, so we take the first of :data:`GOST_SEPARATORS` that no
    value contains. Only the length and shape the standard gives are checked: not the INN
    check digit (the standard's own example INN ``6200098765`` fails it) nor the BIC/account
    control key. ``text`` is the payload as a string, ``data`` its bytes in the declared
    encoding (UTF-8 by default, as in the standard's example; ``charset="cp1251"`` halves the
    size of Cyrillic text).

``"nbu"`` -- Ukraine, National Bank of Ukraine payment QR, **format 003**
    Rules approved by NBU Board resolution No. 97 of 19.08.2025 (in force since 01.11.2025),
    appendix 4: 17 elements separated by LF -- ``BCD``, ``003``, encoding (``1`` UTF-8,
    ``2`` windows-1251, our default: appendix 1 asks for the smaller encoding), function
    (``UCT``/``ICT``/``XCT``), reserved, recipient (<= 140), IBAN (``UA`` + 27 digits, checked
    by MOD 97-10), ``UAH`` + amount (whole hryvnias as ``UAH150``, otherwise exactly two
    decimals: ``UAH2998.39``; at most 999999999.99), recipient code (EDRPOU/RNOKPP/passport,
    <= 10 bytes), category ``CCCC/PPPP`` (ISO 20022 category and purpose; mandatory, we
    default to ``OTHR/OTHR`` because Privat24 rejects an empty one), reference (<= 35,
    ISO 646), purpose (<= 420), display text (<= 140), lock mask (4 hex digits), invoice
    validity and creation time (``YYMMDDhhmmss``, Kyiv local time), signature (left empty:
    the examples' ``RFU`` is the table's placeholder, not a value). Text must be representable
    in windows-1251 (appendix 1, item 4: characters 32..255 except DEL, 0x98 and NBSP) even
    when encoded as UTF-8. The element block is base64url-encoded without padding (at most
    475 characters, table 1) after ``https://qr.bank.gov.ua/``: ``text`` is that URL and
    ``data`` its ASCII bytes. :func:`parse_nbu` also reads formats 001 and 002 and the older
    ``https://bank.gov.ua/qr/`` prefix.

``"epc"`` -- EPC069-12 (SEPA credit transfer, euro only)
    ``BCD``, version (``002`` by default: BIC optional; ``001`` requires it), character set
    (``1`` UTF-8 .. ``8`` ISO 8859-15), ``SCT``, BIC (8 or 11), name (<= 70), IBAN
    (<= 34, checked), ``EUR`` + amount (0.01..999999999.99, trailing zeros dropped:
    ``EUR12.3``), purpose code (4 letters), structured reference (<= 35; ``RF`` references
    are checked as ISO 11649) **or** unstructured text (<= 140), information (<= 70). Empty
    trailing elements are left out; the whole payload is at most 331 bytes.

``"reference"`` -- plain payment reference (the South African default)
    There is no national payment-QR standard for EFT in South Africa, so the code carries
    what a person or a banking app needs to set up a payment, one ``Label: value`` per line
    (LF), empty lines left out::

        Pay: City of Cape Town
        Bank: ABSA
        Account: 4098765432
        Branch code: 632005
        Reference: 1234567897
        Amount: R 1 234.50

    ``Reference`` is the payer's account number (required: it is what allocates the money);
    ``Branch code`` is the 6-digit universal branch code. Amounts use a space as thousands
    separator and a decimal point; ``R`` stands for ZAR, other currencies print their ISO
    code. The labels are English, the language of South African banking. If the operator
    has a pay page, ``pay_url_template`` (``https://...`` with ``{reference}``, ``{account}``,
    ``{amount}`` (``1234.50``), ``{amount_cents}``, ``{currency}``) turns the payload into that
    URL instead, with every value percent-encoded.

Money
=====
Amounts are :class:`~decimal.Decimal` (``int`` is accepted; ``float`` is refused). Nothing is
rounded here: a payment document must carry the exact billed amount, so an amount with more
than two decimal places is an error, not something to round.

Errors
======
Builders and parsers raise :class:`QrPayloadError` only (a :class:`ValueError`), with
``code``, ``field`` (a :class:`PaymentDetails` field name for builders; the standard's element
name, or ``None``, for parsers) and ``params``. Codes, for the Django layer to translate:

``required``              a mandatory value is empty.
``too_long``              ``params``: ``max``, ``length``, ``unit`` (``"characters"``/``"bytes"``).
``invalid_format``        wrong shape; ``params["expected"]`` is a technical hint (not prose).
``invalid_checksum``      IBAN or ISO 11649 reference check digits are wrong.
``invalid_amount``        ``params["reason"]``: ``not_decimal``, ``negative``, ``precision``,
                          ``too_small`` or ``too_large`` (with ``min``/``max`` as strings).
``currency_unsupported``  ``params``: ``currency``, ``expected``.
``invalid_characters``    a control character, or a character the encoding cannot carry;
                          ``params["charset"]``.
``invalid_choice``        ``params``: ``value``, ``allowed``.
``conflict``              two values that exclude each other; ``params["with"]``.
``no_separator``          (GOST) every candidate separator occurs in some value.
``payload_too_long``      ``params``: ``max``, ``length`` (bytes or characters of the payload).
``unsupported_format``    ``params``: ``format``, ``allowed``.
``malformed``             (parsers) the input is not a payload of that format;
                          ``params["reason"]``: ``header``, ``encoding``, ``element``,
                          ``missing_element``, ``duplicate``, ``value``, ``base64``.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from stdnum import bic as stdnum_bic
from stdnum import iban as stdnum_iban
from stdnum import iso11649
from stdnum.exceptions import InvalidChecksum
from stdnum.exceptions import ValidationError as StdnumValidationError

FORMATS = ("gost_r_56042", "nbu", "epc", "reference")

ERROR_CODES = (
    "required",
    "too_long",
    "invalid_format",
    "invalid_checksum",
    "invalid_amount",
    "currency_unsupported",
    "invalid_characters",
    "invalid_choice",
    "conflict",
    "no_separator",
    "payload_too_long",
    "unsupported_format",
    "malformed",
)

GOST_SEPARATORS = "|#;:^_~{}!$%&()*+,/@"
NBU_URL = "https://qr.bank.gov.ua/"
NBU_URL_PREFIXES = (NBU_URL, "https://bank.gov.ua/qr/")
NBU_MAX_ENCODED = 475
EPC_MAX_BYTES = 331

_CENT = Decimal("0.01")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_DIGITS = re.compile(r"[0-9]+")
_ASCII_PRINTABLE = re.compile(r"[\x20-\x7e]*")

_GOST_CHARSETS = {"cp1251": "1", "utf-8": "2", "koi8-r": "3"}
_NBU_CHARSETS = {"utf-8": "1", "cp1251": "2"}
_EPC_CHARSETS = {
    "utf-8": "1",
    "iso-8859-1": "2",
    "iso-8859-2": "3",
    "iso-8859-4": "4",
    "iso-8859-5": "5",
    "iso-8859-7": "6",
    "iso-8859-10": "7",
    "iso-8859-15": "8",
}
_GOST_TECH_CODES = tuple(f"{n:02d}" for n in range(1, 16))
_NBU_FUNCTIONS = ("UCT", "ICT", "XCT")


class QrPayloadError(ValueError):
    """A payment QR payload cannot be built or read; ``code`` says why (see module docs)."""

    def __init__(
        self, code: str, field: str | None = None, params: Mapping[str, Any] | None = None
    ) -> None:
        self.code = code
        self.field = field
        self.params = dict(params or {})
        super().__init__(f"{code} [{field}] {self.params}")


@dataclass(frozen=True, slots=True)
class PaymentDetails:
    """Everything any supported format may carry; each format reads the fields it knows.

    Values are used exactly as given (no trimming, no reformatting) so that what a parser
    reads back equals what was built. Accounts and IBANs are in their electronic form,
    without spaces.
    """

    payee_name: str
    account: str  # GOST PersonalAcc; NBU/EPC IBAN; reference: bank account number
    bank_name: str = ""
    bic: str = ""  # GOST 9-digit BIK; EPC SWIFT BIC
    branch_code: str = ""  # South African universal branch code (reference format)
    correspondent_account: str = ""  # GOST CorrespAcc
    payee_tax_id: str = ""  # GOST PayeeINN; NBU recipient code (EDRPOU/RNOKPP)
    payee_kpp: str = ""  # GOST KPP
    amount: Decimal | None = None
    currency: str = ""  # "" = the format's own currency (RUB, UAH, EUR; ZAR for reference)
    purpose: str = ""  # GOST Purpose; NBU purpose; EPC unstructured remittance text
    reference: str = ""  # EPC structured reference; NBU reference (element 11)
    payer_account: str = ""  # GOST PersAcc; the "Reference:" line of the reference format
    period: tuple[int, int] | None = None  # (year, month); GOST PaymPeriod
    payer_last_name: str = ""
    payer_first_name: str = ""
    payer_middle_name: str = ""
    payer_address: str = ""
    charset: str = ""  # "" = the format's default; "utf-8", "cp1251", "koi8-r", "iso-8859-N"
    gost_category: str = ""  # GOST Category ("вид платежа")
    gost_tech_code: str = ""  # GOST TechCode; "02" for housing and utilities
    nbu_function: str = "UCT"
    nbu_category: str = "OTHR/OTHR"
    nbu_lock_mask: str = ""  # 4 hex digits, or "" to leave the choice to the bank
    display_text: str = ""  # NBU display text; EPC beneficiary-to-originator information
    valid_until: datetime | None = None  # NBU; naive = Kyiv local time
    created_at: datetime | None = None  # NBU; naive = Kyiv local time
    epc_purpose_code: str = ""  # EPC AT-44 purpose, e.g. "GDDS"
    pay_url_template: str = ""  # reference format: the operator's pay page


@dataclass(frozen=True, slots=True)
class QrPayload:
    """A built payload: ``data`` is exactly what goes into the QR symbol (byte mode)."""

    format: str
    text: str
    data: bytes


def build_payment_qr(format: str, details: PaymentDetails) -> QrPayload:
    """Build the payload of ``format`` (one of :data:`FORMATS`) with each format's defaults."""
    builders = {
        "gost_r_56042": build_gost,
        "nbu": build_nbu,
        "epc": build_epc,
        "reference": build_reference,
    }
    builder = builders.get(format)
    if builder is None:
        raise QrPayloadError(
            "unsupported_format", "format", {"format": format, "allowed": list(FORMATS)}
        )
    return builder(details)


# --- shared checks --------------------------------------------------------------------------


def _text(
    field: str,
    value: str,
    *,
    required: bool = False,
    max_len: int | None = None,
    codec: str | None = None,
    charset: str | None = None,
) -> None:
    """Reject empty mandatory values, control characters, over-long and unencodable text."""
    if not isinstance(value, str):
        raise QrPayloadError("invalid_format", field, {"expected": "text"})
    if not value:
        if required:
            raise QrPayloadError("required", field)
        return
    if _CONTROL.search(value):
        raise QrPayloadError("invalid_characters", field, {"charset": charset or "text"})
    if max_len is not None and len(value) > max_len:
        raise QrPayloadError(
            "too_long", field, {"max": max_len, "length": len(value), "unit": "characters"}
        )
    if codec is not None:
        try:
            value.encode(codec)
        except UnicodeEncodeError:
            raise QrPayloadError("invalid_characters", field, {"charset": charset}) from None


def _shape(field: str, value: str, pattern: str, expected: str) -> None:
    if not isinstance(value, str) or not re.fullmatch(pattern, value):
        raise QrPayloadError("invalid_format", field, {"expected": expected})


def _minor_units(amount: Any, *, minimum: Decimal, maximum: Decimal) -> int:
    """Exact amount in cents/kopecks; refuses floats, negatives, sub-cent digits, range."""
    if isinstance(amount, bool) or not isinstance(amount, Decimal | int):
        raise QrPayloadError("invalid_amount", "amount", {"reason": "not_decimal"})
    value = Decimal(amount)
    if not value.is_finite():
        raise QrPayloadError("invalid_amount", "amount", {"reason": "not_decimal"})
    if value < 0:
        raise QrPayloadError("invalid_amount", "amount", {"reason": "negative"})
    if value > maximum:
        raise QrPayloadError(
            "invalid_amount", "amount", {"reason": "too_large", "max": str(maximum)}
        )
    if value < minimum:
        raise QrPayloadError(
            "invalid_amount", "amount", {"reason": "too_small", "min": str(minimum)}
        )
    if value != value.quantize(_CENT):
        raise QrPayloadError("invalid_amount", "amount", {"reason": "precision"})
    return int(value * 100)


def _currency(details: PaymentDetails, expected: str) -> None:
    if details.currency not in ("", expected):
        raise QrPayloadError(
            "currency_unsupported", "currency", {"currency": details.currency, "expected": expected}
        )


def _charset(details: PaymentDetails, table: Mapping[str, str], default: str) -> tuple[str, str]:
    """(charset name, the digit the format declares for it)."""
    name = details.charset or default
    digit = table.get(name)
    if digit is None:
        raise QrPayloadError("invalid_choice", "charset", {"value": name, "allowed": list(table)})
    return name, digit


def _iban(field: str, value: str) -> None:
    """An IBAN in electronic form (no spaces, capitals), known country, right check digits."""
    _text(field, value, required=True)
    if value != stdnum_iban.compact(value):
        raise QrPayloadError("invalid_format", field, {"expected": "IBAN without spaces"})
    _text(field, value, max_len=34)
    try:
        stdnum_iban.validate(value)
    except StdnumValidationError as exc:
        code = "invalid_checksum" if isinstance(exc, InvalidChecksum) else "invalid_format"
        raise QrPayloadError(code, field, {"expected": "IBAN"}) from None


def _cents_text(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _amount_from_cents(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(_CENT)


def _malformed(reason: str, field: str | None = None, **params: Any) -> QrPayloadError:
    return QrPayloadError("malformed", field, {"reason": reason, **params})


# --- GOST R 56042-2014 ----------------------------------------------------------------------

_GOST_CODECS = {"1": "cp1251", "2": "utf-8", "3": "koi8_r"}
_GOST_NAMES = {"1": "cp1251", "2": "utf-8", "3": "koi8-r"}
_GOST_REQUIRED = ("Name", "PersonalAcc", "BankName", "BIC", "CorrespAcc")
_GOST_TEXT_KEYS = {  # element -> PaymentDetails field, for plain text elements
    "Name": "payee_name",
    "PersonalAcc": "account",
    "BankName": "bank_name",
    "BIC": "bic",
    "CorrespAcc": "correspondent_account",
    "PayeeINN": "payee_tax_id",
    "KPP": "payee_kpp",
    "LastName": "payer_last_name",
    "FirstName": "payer_first_name",
    "MiddleName": "payer_middle_name",
    "Purpose": "purpose",
    "PayerAddress": "payer_address",
    "PersAcc": "payer_account",
    "Category": "gost_category",
    "TechCode": "gost_tech_code",
}


def build_gost(details: PaymentDetails) -> QrPayload:
    """GOST R 56042-2014 payload (see the module docstring for the elements and rules)."""
    name, digit = _charset(details, _GOST_CHARSETS, "utf-8")
    codec = _GOST_CODECS[digit]
    _currency(details, "RUB")

    def text(field: str, **kw: Any) -> None:
        _text(field, getattr(details, field), codec=codec, charset=name, **kw)

    text("payee_name", required=True, max_len=160)
    text("account", required=True)
    _shape("account", details.account, r"[0-9]{20}", "20 digits")
    text("bank_name", required=True, max_len=45)
    text("bic", required=True)
    _shape("bic", details.bic, r"[0-9]{9}", "9 digits")
    text("correspondent_account", required=True)
    _shape("correspondent_account", details.correspondent_account, r"[0-9]{20}|0", "20 digits")
    if details.payee_tax_id:
        _shape("payee_tax_id", details.payee_tax_id, r"[0-9]{10}|[0-9]{12}", "10 or 12 digits")
    if details.payee_kpp:
        _shape("payee_kpp", details.payee_kpp, r"[0-9]{4}[0-9A-Z]{2}[0-9]{3}", "9 characters")
    text("purpose", max_len=210)
    for field in (
        "payer_last_name",
        "payer_first_name",
        "payer_middle_name",
        "payer_address",
        "payer_account",
        "gost_category",
    ):
        text(field)
    if details.gost_tech_code and details.gost_tech_code not in _GOST_TECH_CODES:
        raise QrPayloadError(
            "invalid_choice",
            "gost_tech_code",
            {"value": details.gost_tech_code, "allowed": list(_GOST_TECH_CODES)},
        )

    elements: list[tuple[str, str]] = [
        ("Name", details.payee_name),
        ("PersonalAcc", details.account),
        ("BankName", details.bank_name),
        ("BIC", details.bic),
        ("CorrespAcc", details.correspondent_account),
        ("PayeeINN", details.payee_tax_id),
        ("KPP", details.payee_kpp),
        ("LastName", details.payer_last_name),
        ("FirstName", details.payer_first_name),
        ("MiddleName", details.payer_middle_name),
        ("Purpose", details.purpose),
        ("PayerAddress", details.payer_address),
    ]
    if details.amount is not None:
        kopecks = _minor_units(
            details.amount, minimum=Decimal(0), maximum=Decimal("9999999999999999.99")
        )
        elements.append(("Sum", str(kopecks)))
    elements.append(("PersAcc", details.payer_account))
    if details.period is not None:
        elements.append(("PaymPeriod", _gost_period(details.period)))
    elements += [("Category", details.gost_category), ("TechCode", details.gost_tech_code)]
    elements = [(key, value) for key, value in elements if value]

    separator = next(
        (c for c in GOST_SEPARATORS if not any(c in value for _, value in elements)), None
    )
    if separator is None:
        raise QrPayloadError("no_separator")
    payload = f"ST0001{digit}{separator}" + separator.join(f"{k}={v}" for k, v in elements)
    return QrPayload("gost_r_56042", payload, payload.encode(codec))


def _gost_period(period: tuple[int, int]) -> str:
    try:
        year, month = period
    except (TypeError, ValueError):
        raise QrPayloadError("invalid_format", "period", {"expected": "(year, month)"}) from None
    if not (isinstance(year, int) and isinstance(month, int)):
        raise QrPayloadError("invalid_format", "period", {"expected": "(year, month)"})
    if not (1 <= month <= 12 and 1000 <= year <= 9999):
        raise QrPayloadError("invalid_format", "period", {"expected": "(year, month)"})
    return f"{month:02d}{year:04d}"


def parse_gost(payload: bytes | str) -> dict[str, Any]:
    """Read a GOST R 56042-2014 payload.

    Returns ``{"format", "charset", "separator", "elements": {key: value, ...},
    "details": {PaymentDetails field: value}}``. ``elements`` keeps every element, also the
    ones civicdesk does not use (CBC, OKTMO, ...). The mandatory block must be present (in
    any order: readers in the wild are lenient, so are we), ``Sum`` must be kopecks;
    ``PaymPeriod`` reaches ``details`` only when it is ``MMYYYY``.
    """
    if isinstance(payload, bytes | bytearray):
        raw = bytes(payload)
        if len(raw) < 8 or not raw[:8].isascii():
            raise _malformed("header")
        header = raw[:8].decode("ascii")
    elif isinstance(payload, str):
        header = payload[:8]
    else:
        raise _malformed("header")
    if len(header) < 8 or header[:6] != "ST0001" or header[6] not in _GOST_CODECS:
        raise _malformed("header")
    digit, separator = header[6], header[7]
    if separator.isalnum() or separator == "=" or separator.isspace():
        raise _malformed("header")
    if isinstance(payload, str):
        body = payload[8:]
    else:
        try:
            body = raw[8:].decode(_GOST_CODECS[digit])
        except UnicodeDecodeError:
            raise _malformed("encoding") from None

    elements: dict[str, str] = {}
    for segment in body.split(separator):
        if not segment:
            continue
        key, equals, value = segment.partition("=")
        if not equals or not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", key):
            raise _malformed("element")
        if key in elements:
            raise _malformed("duplicate", key)
        elements[key] = value
    for key in _GOST_REQUIRED:
        if not elements.get(key):
            raise _malformed("missing_element", key)

    details: dict[str, Any] = {"charset": _GOST_NAMES[digit], "currency": "RUB"}
    for key, field in _GOST_TEXT_KEYS.items():
        if elements.get(key):
            details[field] = elements[key]
    if "Sum" in elements:
        if not _DIGITS.fullmatch(elements["Sum"]) or len(elements["Sum"]) > 18:
            raise _malformed("value", "Sum")
        details["amount"] = _amount_from_cents(int(elements["Sum"]))
    period = elements.get("PaymPeriod", "")
    if re.fullmatch(r"(0[1-9]|1[0-2])[0-9]{4}", period) and int(period[2:]) >= 1000:
        details["period"] = (int(period[2:]), int(period[:2]))
    return {
        "format": "gost_r_56042",
        "charset": _GOST_NAMES[digit],
        "separator": separator,
        "elements": elements,
        "details": details,
    }


# --- NBU (Ukraine), format 003 --------------------------------------------------------------

_NBU_CODECS = {"1": "utf-8", "2": "cp1251"}


@functools.cache
def _kyiv() -> ZoneInfo:
    """Kyiv's zone, loaded on first use; older tz databases only know it as Europe/Kiev."""
    try:
        return ZoneInfo("Europe/Kyiv")
    except ZoneInfoNotFoundError:
        return ZoneInfo("Europe/Kiev")


def _nbu_text(details: PaymentDetails, field: str, codec: str, charset: str, **kw: Any) -> None:
    """NBU text elements: windows-1251's repertoire whatever the encoding; no NBSP."""
    value = getattr(details, field)
    _text(field, value, codec="cp1251", charset="cp1251", **kw)
    _text(field, value, codec=codec, charset=charset)
    if "\xa0" in value:
        raise QrPayloadError("invalid_characters", field, {"charset": "cp1251"})


def _nbu_datetime(field: str, value: datetime | None) -> str:
    if value is None:
        return ""
    if not isinstance(value, datetime):
        raise QrPayloadError("invalid_format", field, {"expected": "datetime"})
    if value.tzinfo is not None:
        value = value.astimezone(_kyiv()).replace(tzinfo=None)
    if not 2000 <= value.year <= 2099:
        raise QrPayloadError("invalid_format", field, {"expected": "year 2000..2099"})
    return value.strftime("%y%m%d%H%M%S")


def build_nbu(details: PaymentDetails) -> QrPayload:
    """NBU payment QR, format 003, as the ``https://qr.bank.gov.ua/`` link a QR code carries."""
    charset, digit = _charset(details, _NBU_CHARSETS, "cp1251")
    codec = _NBU_CODECS[digit]
    _currency(details, "UAH")
    if details.nbu_function not in _NBU_FUNCTIONS:
        raise QrPayloadError(
            "invalid_choice",
            "nbu_function",
            {"value": details.nbu_function, "allowed": list(_NBU_FUNCTIONS)},
        )
    _nbu_text(details, "payee_name", codec, charset, required=True, max_len=140)
    _iban("account", details.account)
    _shape("account", details.account, r"UA[0-9]{27}", "UA + 27 digits")
    amount = ""
    if details.amount is not None:
        cents = _minor_units(details.amount, minimum=Decimal(0), maximum=Decimal("999999999.99"))
        amount = f"UAH{cents // 100}" if cents % 100 == 0 else f"UAH{_cents_text(cents)}"
    _nbu_text(details, "payee_tax_id", codec, charset, required=True)
    code_bytes = len(details.payee_tax_id.encode(codec))
    if code_bytes > 10:
        raise QrPayloadError(
            "too_long", "payee_tax_id", {"max": 10, "length": code_bytes, "unit": "bytes"}
        )
    _text("nbu_category", details.nbu_category, required=True)
    _shape("nbu_category", details.nbu_category, r"[A-Z0-9]{4}/[A-Z0-9]{4}", "CCCC/PPPP")
    _text("reference", details.reference, max_len=35)
    if not details.reference.isascii():
        raise QrPayloadError("invalid_characters", "reference", {"charset": "ascii"})
    _nbu_text(details, "purpose", codec, charset, required=True, max_len=420)
    _nbu_text(details, "display_text", codec, charset, max_len=140)
    if details.nbu_lock_mask:
        _shape("nbu_lock_mask", details.nbu_lock_mask, r"[0-9A-F]{4}", "4 hex digits")

    def enc(value: str) -> bytes:
        return value.encode(codec)

    elements = [
        b"BCD",
        b"003",
        digit.encode(),
        details.nbu_function.encode(),
        b"",  # 5: unique recipient identifier, reserved
        enc(details.payee_name),
        details.account.encode(),
        amount.encode(),
        enc(details.payee_tax_id),
        details.nbu_category.encode(),
        details.reference.encode(),
        enc(details.purpose),
        enc(details.display_text),
        details.nbu_lock_mask.encode(),
        _nbu_datetime("valid_until", details.valid_until).encode(),
        _nbu_datetime("created_at", details.created_at).encode(),
        b"",  # 17: electronic signature, not used
    ]
    encoded = base64.urlsafe_b64encode(b"\n".join(elements)).rstrip(b"=").decode("ascii")
    if len(encoded) > NBU_MAX_ENCODED:
        raise QrPayloadError(
            "payload_too_long", None, {"max": NBU_MAX_ENCODED, "length": len(encoded)}
        )
    url = NBU_URL + encoded
    return QrPayload("nbu", url, url.encode("ascii"))


def parse_nbu(payload: bytes | str) -> dict[str, Any]:
    """Read an NBU payment QR: the link (either prefix) or the bare element block.

    Accepts formats 001, 002 and 003. Returns ``{"format", "version", "charset", "url",
    "elements": [decoded element strings], "details": {PaymentDetails field: value}}``.
    Typed elements (amount, dates) must be well formed; IBAN check digits are not verified
    (a reader reports what the code says).
    """
    if isinstance(payload, bytes | bytearray):
        raw: bytes | str = bytes(payload)
        text_form = raw.decode("ascii") if raw.isascii() else None
    elif isinstance(payload, str):
        text_form = payload
        raw = payload
    else:
        raise _malformed("header")

    url = None
    if text_form is not None and text_form.startswith(NBU_URL_PREFIXES):
        url = text_form
        prefix = next(p for p in NBU_URL_PREFIXES if text_form.startswith(p))
        encoded = text_form[len(prefix) :]
        if not re.fullmatch(r"[A-Za-z0-9_-]+", encoded) or len(encoded) % 4 == 1:
            raise _malformed("base64")
        try:
            raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        except (binascii.Error, ValueError):
            raise _malformed("base64") from None
    else:
        raw = raw.lstrip()

    newline = b"\n" if isinstance(raw, bytes) else "\n"
    carriage = b"\r" if isinstance(raw, bytes) else "\r"
    parts = [part.removesuffix(carriage) for part in raw.split(newline)]  # type: ignore[arg-type]

    def ascii_part(index: int) -> str:
        if index >= len(parts):
            return ""
        part = parts[index]
        if isinstance(part, str):
            if not _ASCII_PRINTABLE.fullmatch(part):
                raise _malformed("element", str(index + 1))
            return part
        if not _ASCII_PRINTABLE.fullmatch(part.decode("latin-1")):
            raise _malformed("element", str(index + 1))
        return part.decode("ascii")

    if len(parts) < 4 or ascii_part(0) != "BCD":
        raise _malformed("header")
    version, digit, function = ascii_part(1), ascii_part(2), ascii_part(3)
    if version not in ("001", "002", "003") or digit not in _NBU_CODECS:
        raise _malformed("header")
    if function not in _NBU_FUNCTIONS:
        raise _malformed("header")
    size = 17 if version == "003" else 13
    if len(parts) == size + 1 and not parts[-1]:
        parts.pop()
    if len(parts) > size:
        raise _malformed("element")
    if len(parts) < 12:
        raise _malformed("missing_element")
    codec = _NBU_CODECS[digit]

    def text_part(index: int) -> str:
        if index >= len(parts):
            return ""
        part = parts[index]
        if isinstance(part, str):
            value = part
        else:
            try:
                value = part.decode(codec)
            except UnicodeDecodeError:
                raise _malformed("encoding", str(index + 1)) from None
        if _CONTROL.search(value):
            raise _malformed("element", str(index + 1))
        return value

    decoded = [text_part(i) if i in (5, 8, 11, 12) else ascii_part(i) for i in range(len(parts))]
    details: dict[str, Any] = {
        "charset": "cp1251" if digit == "2" else "utf-8",
        "currency": "UAH",
        "nbu_function": function,
    }
    for index, field in ((5, "payee_name"), (6, "account"), (8, "payee_tax_id"), (11, "purpose")):
        if not decoded[index]:
            raise _malformed("missing_element", str(index + 1))
        details[field] = decoded[index]
    if decoded[7]:
        details["amount"] = _nbu_amount(decoded[7])
    optional = [(10, "reference"), (12, "display_text")]
    if version == "003":
        optional += [(9, "nbu_category"), (13, "nbu_lock_mask")]
    for index, field in optional:
        if index < len(decoded) and decoded[index]:
            details[field] = decoded[index]
    for index, field in ((14, "valid_until"), (15, "created_at")):
        if version == "003" and index < len(decoded) and decoded[index]:
            details[field] = _nbu_parse_datetime(decoded[index], str(index + 1))
    return {
        "format": "nbu",
        "version": version,
        "charset": details["charset"],
        "url": url,
        "elements": decoded,
        "details": details,
    }


def _nbu_amount(value: str) -> Decimal:
    match = re.fullmatch(r"UAH([0-9]{1,9})(?:\.([0-9]{2}))?", value)
    if match is None:
        raise _malformed("value", "8")
    return _amount_from_cents(int(match[1]) * 100 + int(match[2] or 0))


def _nbu_parse_datetime(value: str, element: str) -> datetime:
    if not re.fullmatch(r"[0-9]{12}", value):
        raise _malformed("value", element)
    try:
        return datetime.strptime("20" + value, "%Y%m%d%H%M%S")
    except ValueError:
        raise _malformed("value", element) from None


# --- EPC069-12 ------------------------------------------------------------------------------

_EPC_CODECS = {digit: name for name, digit in _EPC_CHARSETS.items()}


def build_epc(details: PaymentDetails, *, version: str = "002") -> QrPayload:
    """EPC069-12 SEPA credit transfer payload (version ``002`` unless ``001`` is asked for)."""
    if version not in ("001", "002"):
        raise QrPayloadError(
            "invalid_choice", "version", {"value": version, "allowed": ["001", "002"]}
        )
    charset, digit = _charset(details, _EPC_CHARSETS, "utf-8")
    _currency(details, "EUR")

    def text(field: str, **kw: Any) -> None:
        _text(field, getattr(details, field), codec=charset, charset=charset, **kw)

    text("bic", required=version == "001")
    if details.bic and (
        stdnum_bic.compact(details.bic) != details.bic or not stdnum_bic.is_valid(details.bic)
    ):
        raise QrPayloadError("invalid_format", "bic", {"expected": "BIC (8 or 11)"})
    text("payee_name", required=True, max_len=70)
    _iban("account", details.account)
    amount = ""
    if details.amount is not None:
        cents = _minor_units(details.amount, minimum=_CENT, maximum=Decimal("999999999.99"))
        amount = "EUR" + _cents_text(cents).rstrip("0").rstrip(".")
    if details.epc_purpose_code:
        _shape("epc_purpose_code", details.epc_purpose_code, r"[A-Z]{4}", "4 letters")
    text("reference", max_len=35)
    if details.reference.upper().startswith("RF") and not iso11649.is_valid(details.reference):
        raise QrPayloadError("invalid_checksum", "reference", {"expected": "ISO 11649"})
    text("purpose", max_len=140)
    if details.reference and details.purpose:
        raise QrPayloadError("conflict", "purpose", {"with": "reference"})
    text("display_text", max_len=70)

    lines = [
        "BCD",
        version,
        digit,
        "SCT",
        details.bic,
        details.payee_name,
        details.account,
        amount,
        details.epc_purpose_code,
        details.reference,
        details.purpose,
        details.display_text,
    ]
    while not lines[-1]:
        lines.pop()
    payload = "\n".join(lines)
    data = payload.encode(charset)
    if len(data) > EPC_MAX_BYTES:
        raise QrPayloadError("payload_too_long", None, {"max": EPC_MAX_BYTES, "length": len(data)})
    return QrPayload("epc", payload, data)


def parse_epc(payload: bytes | str) -> dict[str, Any]:
    """Read an EPC069-12 payload (LF or CRLF line ends, empty trailing elements omitted).

    Returns ``{"format", "version", "charset", "elements": [...], "details": {...}}``.
    """
    if isinstance(payload, bytes | bytearray):
        lines_raw: list[Any] = bytes(payload).split(b"\n")
    elif isinstance(payload, str):
        lines_raw = payload.split("\n")
    else:
        raise _malformed("header")
    if len(lines_raw) > 1 and not lines_raw[-1]:
        lines_raw.pop()  # a final line end
    if len(lines_raw) < 7 or len(lines_raw) > 12:
        raise _malformed("element")
    head = []
    for line in lines_raw[:4]:
        line = line.removesuffix(b"\r" if isinstance(line, bytes) else "\r")
        if isinstance(line, bytes):
            line = line.decode("latin-1")
        head.append(line)
    if head[0] != "BCD" or head[1] not in ("001", "002") or head[3] != "SCT":
        raise _malformed("header")
    charset = _EPC_CODECS.get(head[2])
    if charset is None:
        raise _malformed("header")
    lines: list[str] = []
    for index, line in enumerate(lines_raw):
        if isinstance(line, bytes):
            try:
                line = line.decode(charset)
            except UnicodeDecodeError:
                raise _malformed("encoding", str(index + 1)) from None
        line = line.removesuffix("\r")
        if _CONTROL.search(line):
            raise _malformed("element", str(index + 1))
        lines.append(line)
    lines += [""] * (12 - len(lines))

    details: dict[str, Any] = {"charset": charset, "currency": "EUR"}
    if not lines[5] or not lines[6]:
        raise _malformed("missing_element", "name" if not lines[5] else "IBAN")
    if head[1] == "001" and not lines[4]:
        raise _malformed("missing_element", "BIC")
    details["payee_name"] = lines[5]
    details["account"] = lines[6]
    for index, field in (
        (4, "bic"),
        (8, "epc_purpose_code"),
        (9, "reference"),
        (10, "purpose"),
        (11, "display_text"),
    ):
        if lines[index]:
            details[field] = lines[index]
    if lines[7]:
        match = re.fullmatch(r"EUR([0-9]{1,9})(?:\.([0-9]{1,2}))?", lines[7])
        if match is None:
            raise _malformed("value", "amount")
        cents = int(match[1]) * 100 + int((match[2] or "0").ljust(2, "0"))
        if cents < 1:
            raise _malformed("value", "amount")
        details["amount"] = _amount_from_cents(cents)
    return {
        "format": "epc",
        "version": head[1],
        "charset": charset,
        "elements": lines,
        "details": details,
    }


# --- plain payment reference ----------------------------------------------------------------

_REFERENCE_LABELS = (
    ("Pay", "payee_name"),
    ("Bank", "bank_name"),
    ("Account", "account"),
    ("Branch code", "branch_code"),
    ("Reference", "payer_account"),
    ("Amount", "amount"),
)
_URL_PLACEHOLDERS = ("reference", "account", "amount", "amount_cents", "currency")


def _money_text(currency: str, cents: int) -> str:
    grouped = f"{cents // 100:,}".replace(",", " ")
    symbol = "R" if currency == "ZAR" else currency
    return f"{symbol} {grouped}.{cents % 100:02d}"


def build_reference(details: PaymentDetails) -> QrPayload:
    """Plain payment reference text, or the operator's pay-page URL when it has a template."""
    currency = details.currency or "ZAR"
    _shape("currency", currency, r"[A-Z]{3}", "ISO 4217 code")
    for field, required, max_len in (
        ("payee_name", True, 140),
        ("bank_name", False, 70),
        ("account", True, 34),
        ("branch_code", False, 6),
        ("payer_account", True, 35),
    ):
        _text(field, getattr(details, field), required=required, max_len=max_len, codec="utf-8")
    if details.branch_code:
        _shape("branch_code", details.branch_code, r"[0-9]{6}", "6 digits")
    cents = None
    if details.amount is not None:
        cents = _minor_units(details.amount, minimum=Decimal(0), maximum=Decimal("999999999.99"))

    if details.pay_url_template:
        url = _pay_url(details, currency, cents)
        return QrPayload("reference", url, url.encode("utf-8"))
    values = {
        "payee_name": details.payee_name,
        "bank_name": details.bank_name,
        "account": details.account,
        "branch_code": details.branch_code,
        "payer_account": details.payer_account,
        "amount": "" if cents is None else _money_text(currency, cents),
    }
    text = "\n".join(
        f"{label}: {values[field]}" for label, field in _REFERENCE_LABELS if values[field]
    )
    return QrPayload("reference", text, text.encode("utf-8"))


def _pay_url(details: PaymentDetails, currency: str, cents: int | None) -> str:
    template = details.pay_url_template
    _text("pay_url_template", template, max_len=500, codec="utf-8", charset="utf-8")
    if not template.startswith("https://"):
        raise QrPayloadError("invalid_format", "pay_url_template", {"expected": "https://..."})
    values = {
        "reference": details.payer_account,
        "account": details.account,
        "amount": "" if cents is None else _cents_text(cents),
        "amount_cents": "" if cents is None else str(cents),
        "currency": currency,
    }

    def fill(match: re.Match[str]) -> str:
        name = match[1]
        if name not in _URL_PLACEHOLDERS:
            raise QrPayloadError(
                "invalid_choice",
                "pay_url_template",
                {"value": name, "allowed": list(_URL_PLACEHOLDERS)},
            )
        if name.startswith("amount") and cents is None:
            raise QrPayloadError("required", "amount")
        return urllib.parse.quote(values[name], safe="")

    url = re.sub(r"\{([^{}]*)\}", fill, template)
    if "{" in url or "}" in url:
        raise QrPayloadError("invalid_format", "pay_url_template", {"expected": "{placeholder}"})
    return url


def parse_reference(payload: bytes | str) -> dict[str, Any]:
    """Read the text form of a plain payment reference (not the pay-page URL form).

    Returns ``{"format", "lines": {label: value}, "details": {...}}``.
    """
    if isinstance(payload, bytes | bytearray):
        try:
            text = bytes(payload).decode("utf-8")
        except UnicodeDecodeError:
            raise _malformed("encoding") from None
    elif isinstance(payload, str):
        text = payload
    else:
        raise _malformed("header")
    fields = dict(_REFERENCE_LABELS)
    lines: dict[str, str] = {}
    for line in text.split("\n"):
        label, colon, value = line.partition(": ")
        if not colon or label not in fields or not value:
            raise _malformed("element")
        if label in lines:
            raise _malformed("duplicate", label)
        lines[label] = value
    for label in ("Pay", "Account", "Reference"):
        if label not in lines:
            raise _malformed("missing_element", label)
    details: dict[str, Any] = {}
    for label, value in lines.items():
        if label != "Amount":
            details[fields[label]] = value
    details["currency"] = "ZAR"
    if "Amount" in lines:
        match = re.fullmatch(
            r"(R|[A-Z]{3}) ([0-9]{1,3}(?: [0-9]{3})*)\.([0-9]{2})", lines["Amount"]
        )
        if match is None:
            raise _malformed("value", "Amount")
        details["currency"] = "ZAR" if match[1] == "R" else match[1]
        try:
            cents = int(match[2].replace(" ", "")) * 100 + int(match[3])
        except (ValueError, InvalidOperation):
            raise _malformed("value", "Amount") from None
        details["amount"] = _amount_from_cents(cents)
    return {"format": "reference", "lines": lines, "details": details}
