"""Draw payment QR payloads with segno: inline SVG for pages, PNG bytes and data URIs for PDFs.

Every format asks for error correction level M, and the payload's bytes go into the symbol
as they are, in byte mode and without an ECI header: a GOST payload declared as windows-1251
must carry windows-1251 bytes, and readers take the encoding from the payload itself, not
from the symbol. The NBU rules (appendix 1, item 5) allow QR versions 10 to 17 only, so a
short NBU link is drawn at version 10 rather than at the smallest version that would fit;
EPC payloads (331 bytes at most) always fit version 13, the EPC maximum.

Not drawn: the hryvnia sign in a white circle that the NBU rules put in the centre of
format 002/003 codes. Banking apps read the code without it; the sign is a recognition mark.
"""

from __future__ import annotations

import io

import segno

from civicdesk.billing.documents.qr import QrPayload, QrPayloadError

NBU_MIN_VERSION = 10
QUIET_ZONE = 4  # modules, as ISO/IEC 18004 requires


def _data(payload: QrPayload | bytes) -> bytes:
    return payload.data if isinstance(payload, QrPayload) else bytes(payload)


def make_qr(payload: QrPayload | bytes) -> segno.QRCode:
    """The QR symbol for ``payload`` (level M, byte mode, no ECI)."""
    data = _data(payload)
    version = None
    if isinstance(payload, QrPayload) and payload.format == "nbu":
        version = NBU_MIN_VERSION
    try:
        qr = segno.make_qr(data, error="m", boost_error=False, mode="byte", eci=False)
        if version is not None and qr.version < version:
            qr = segno.make_qr(
                data, error="m", boost_error=False, mode="byte", eci=False, version=version
            )
    except segno.DataOverflowError:
        raise QrPayloadError("payload_too_long", None, {"length": len(data)}) from None
    return qr


def qr_svg(payload: QrPayload | bytes, *, scale: int = 4, title: str = "") -> str:
    """Inline SVG (no XML declaration), for HTML pages and WeasyPrint documents alike."""
    options: dict[str, object] = {"scale": scale, "border": QUIET_ZONE}
    if title:
        options["title"] = title
    return make_qr(payload).svg_inline(**options)


def qr_png(payload: QrPayload | bytes, *, scale: int = 4) -> bytes:
    """PNG bytes; ``scale`` is pixels per module (4 px is about 1 mm at 96 dpi)."""
    buffer = io.BytesIO()
    make_qr(payload).save(buffer, kind="png", scale=scale, border=QUIET_ZONE)
    return buffer.getvalue()


def qr_data_uri(payload: QrPayload | bytes, *, scale: int = 4) -> str:
    """``data:image/png;base64,...`` for an ``<img src>`` in HTML or in a PDF template."""
    return make_qr(payload).png_data_uri(scale=scale, border=QUIET_ZONE)
