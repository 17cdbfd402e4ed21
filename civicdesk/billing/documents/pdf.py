"""HTML to PDF with WeasyPrint, for bills and certificates alike.

The base stylesheet gives every document A4 pages, margins, a font with Cyrillic (DejaVu
Sans, then Noto Sans, Liberation Sans, Arial, any sans-serif fontconfig finds) and a page
number "1 / 2" at the bottom of each page. It is a *user* stylesheet: a template's own CSS
overrides any of it.

Resources are never fetched over the network: a document must embed its images as
``data:`` URIs (see :func:`civicdesk.billing.documents.qrimage.qr_data_uri`) or keep them in
the local directory given as ``base_url``. That keeps rendering fast and deterministic, works
on a machine without internet, and means a crafted URL in a document cannot make the server
fetch anything (or read files outside ``base_url``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

from weasyprint import CSS, HTML
from weasyprint.urls import default_url_fetcher

BASE_CSS = """
@page {
  size: A4;
  margin: 18mm 16mm 20mm 16mm;
  @bottom-center {
    content: counter(page) " / " counter(pages);
    font-family: "DejaVu Sans", "Noto Sans", "Liberation Sans", Arial, sans-serif;
    font-size: 8pt;
    color: #555;
  }
}
html {
  font-family: "DejaVu Sans", "Noto Sans", "Liberation Sans", Arial, sans-serif;
  font-size: 10pt;
  line-height: 1.35;
  color: #000;
}
h1 { font-size: 16pt; margin: 0 0 6pt; }
h2 { font-size: 12pt; margin: 12pt 0 4pt; }
h3 { font-size: 10.5pt; margin: 8pt 0 3pt; }
p { margin: 0 0 4pt; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: 2pt 4pt; }
thead { display: table-header-group; }
tr { break-inside: avoid; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
img, svg { max-width: 100%; }
"""


def _local_root(base_url: str | None) -> Path | None:
    """The directory ``file:`` resources may come from: the one ``base_url`` names, if local."""
    if not base_url:
        return None
    parts = urlsplit(base_url)
    if parts.scheme not in ("", "file"):
        return None
    path = Path(url2pathname(parts.path) if parts.scheme == "file" else base_url).resolve()
    return path if base_url.endswith("/") or path.is_dir() else path.parent


def _fetcher(root: Path | None) -> Callable[..., dict[str, Any]]:
    """A WeasyPrint URL fetcher for ``data:`` URIs and files under ``root``; nothing else."""

    def fetch(url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        scheme = urlsplit(url).scheme
        if scheme == "data":
            return default_url_fetcher(url, *args, **kwargs)
        if scheme == "file" and root is not None:
            path = Path(url2pathname(urlsplit(url).path)).resolve()
            if path.is_relative_to(root):
                return default_url_fetcher(url, *args, **kwargs)
        raise ValueError(f"resource not allowed in documents: {url[:80]}")

    return fetch


def html_to_pdf(html: str, *, base_url: str | None = None) -> bytes:
    """Render ``html`` (a complete document) to PDF bytes with the base stylesheet."""
    document = HTML(string=html, base_url=base_url, url_fetcher=_fetcher(_local_root(base_url)))
    return document.write_pdf(stylesheets=[CSS(string=BASE_CSS)])
