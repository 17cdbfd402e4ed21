"""Checking uploaded files by their content, never by their name or the browser's claim."""

from __future__ import annotations

from django.utils.translation import gettext as _

# Magic numbers of the formats residents and staff upload.
_SIGNATURES = (
    (b"%PDF-", "application/pdf"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


class UploadRejected(ValueError):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def sniff(head: bytes) -> str | None:
    """The content type the first bytes reveal, or None."""
    for signature, content_type in _SIGNATURES:
        if head.startswith(signature):
            return content_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def check_upload(upload, allowed: set[str], max_bytes: int) -> str:
    """The upload's real content type if it is allowed and small enough; else UploadRejected."""
    size = getattr(upload, "size", None)
    if size is None or size == 0:
        raise UploadRejected(_("The file is empty."))
    if size > max_bytes:
        raise UploadRejected(
            _("The file is too large: at most %(mb)d MB.") % {"mb": max_bytes // (1024 * 1024)}
        )
    upload.seek(0)
    head = upload.read(16)
    upload.seek(0)
    content_type = sniff(head)
    if content_type not in allowed:
        raise UploadRejected(
            _("This file type is not accepted. Send a PDF, JPEG or PNG file.")
            if allowed <= {"application/pdf", "image/jpeg", "image/png"}
            else _("This file type is not accepted.")
        )
    return content_type
