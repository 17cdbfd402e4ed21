"""Helpers for tests that check generated documents: the PDF's text and the QR codes in it.

Test-only (pypdf and zxing-cpp are development dependencies). QR contents come back as raw
bytes, never as text guessed by the reader, so a windows-1251 GOST payload can be compared
byte for byte and decoded with the encoding its header declares.
"""

from __future__ import annotations

import io
import re

import pypdf
import zxingcpp
from PIL import Image


def pdf_text(pdf_bytes: bytes) -> str:
    """All text of the PDF, page after page, one non-empty line per text line.

    pypdf's layout mode is used because the plain mode splits kerned pairs ("T otaal"); its
    padding is then dropped: runs of spaces become one space and blank lines go, so tests can
    look for phrases without caring about column positions.
    """
    reader = pypdf.PdfReader(io.BytesIO(pdf_bytes))
    lines: list[str] = []
    for page in reader.pages:
        for line in page.extract_text(extraction_mode="layout").splitlines():
            line = re.sub(r"[ \t]+", " ", line).strip()
            if line:
                lines.append(line)
    return "\n".join(lines)


def _decode_image(image: Image.Image) -> list[bytes]:
    # A white frame helps when the image was cropped to the symbol (no quiet zone).
    framed = Image.new("L", (image.width + 40, image.height + 40), 255)
    framed.paste(image.convert("L"), (20, 20))
    results = zxingcpp.read_barcodes(framed, formats=zxingcpp.BarcodeFormat.QRCode)
    return [bytes(result.bytes) for result in results]


def pdf_qr_payloads(pdf_bytes: bytes) -> list[bytes]:
    """The contents of every QR code drawn as an image in the PDF, in page order."""
    reader = pypdf.PdfReader(io.BytesIO(pdf_bytes))
    payloads: list[bytes] = []
    for page in reader.pages:
        for embedded in page.images:
            payloads.extend(_decode_image(embedded.image))
    return payloads


def decode_qr_png(png_bytes: bytes) -> bytes:
    """The content of the single QR code in a PNG; ``ValueError`` if there is not exactly one."""
    found = _decode_image(Image.open(io.BytesIO(png_bytes)))
    if len(found) != 1:
        raise ValueError(f"expected one QR code in the image, found {len(found)}")
    return found[0]
