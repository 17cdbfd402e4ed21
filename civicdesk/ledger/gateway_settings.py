"""``PAYMENT_GATEWAYS``: the payment gateways' options, from environment variables.

settings.py imports ``PAYMENT_GATEWAYS`` from here. A gateway whose credentials are missing is
not configured and not offered (see civicdesk.ledger.gateways). The sandbox gateway is always on
in development and test, and in production only with ``PAYMENT_SANDBOX_ENABLED=1`` and a
``SANDBOX_GATEWAY_SECRET``.

| variable | meaning | default |
| --- | --- | --- |
| PAYFAST_MERCHANT_ID, PAYFAST_MERCHANT_KEY | PayFast credentials (both needed) | |
| PAYFAST_PASSPHRASE | the passphrase set on the PayFast account (signatures; the API) | |
| PAYFAST_BASE_URL | payment pages and ITN validation | https://sandbox.payfast.co.za |
| PAYFAST_API_URL | PayFast's API (``fetch``) | https://api.payfast.co.za |
| PAYFAST_ALLOWED_NETWORKS | comma-separated CIDRs ITNs may come from (empty: not checked) | |
| LIQPAY_PUBLIC_KEY, LIQPAY_PRIVATE_KEY | LiqPay credentials (both needed) | |
| LIQPAY_BASE_URL | LiqPay | https://www.liqpay.ua |
| LIQPAY_SANDBOX | test mode: LiqPay's "sandbox" status counts as paid | off in production |
| YOOKASSA_SHOP_ID, YOOKASSA_SECRET_KEY | YooKassa credentials (both needed) | |
| YOOKASSA_BASE_URL | YooKassa's API | https://api.yookassa.ru |
| YOOKASSA_ALLOWED_NETWORKS | comma-separated CIDRs webhooks may come from (empty: not checked) | |
| PAYMENT_SANDBOX_ENABLED | offer the sandbox gateway in production | off |
| SANDBOX_GATEWAY_SECRET | HMAC secret of sandbox notifications | a fixed one outside production |
| SANDBOX_DECLINE_MARKER | the sandbox declines a saved-method token ending in this | _decline |
| PAYMENT_GATEWAY_TIMEOUT | seconds to wait for a gateway's answer | 15 |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

DEV_SANDBOX_SECRET = "civicdesk-development-sandbox-gateway-secret"


def _bool(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def _list(value: str | None) -> list[str]:
    return [item.strip() for item in (value or "").split(",") if item.strip()]


def _env_name(environ: Mapping[str, str]) -> str:
    """CIVICDESK_ENV as settings.py reads it."""
    return (
        (environ.get("CIVICDESK_ENV") or ("test" if "PYTEST_VERSION" in environ else "development"))
        .strip()
        .lower()
    )


def build_payment_gateways(
    environ: Mapping[str, str], env_name: str | None = None
) -> dict[str, dict[str, Any]]:
    """The options of every gateway from ``environ`` (os.environ for the real settings)."""
    get = environ.get
    production = (env_name or _env_name(environ)) == "production"
    timeout = float(get("PAYMENT_GATEWAY_TIMEOUT") or 15)
    return {
        "payfast": {
            "merchant_id": get("PAYFAST_MERCHANT_ID", ""),
            "merchant_key": get("PAYFAST_MERCHANT_KEY", ""),
            "passphrase": get("PAYFAST_PASSPHRASE", ""),
            "base_url": get("PAYFAST_BASE_URL") or "https://sandbox.payfast.co.za",
            "api_url": get("PAYFAST_API_URL") or "https://api.payfast.co.za",
            "allowed_networks": _list(get("PAYFAST_ALLOWED_NETWORKS")),
            "timeout": timeout,
        },
        "liqpay": {
            "public_key": get("LIQPAY_PUBLIC_KEY", ""),
            "private_key": get("LIQPAY_PRIVATE_KEY", ""),
            "base_url": get("LIQPAY_BASE_URL") or "https://www.liqpay.ua",
            "sandbox": _bool(get("LIQPAY_SANDBOX")) if get("LIQPAY_SANDBOX") else not production,
            "timeout": timeout,
        },
        "yookassa": {
            "shop_id": get("YOOKASSA_SHOP_ID", ""),
            "secret_key": get("YOOKASSA_SECRET_KEY", ""),
            "base_url": get("YOOKASSA_BASE_URL") or "https://api.yookassa.ru",
            "allowed_networks": _list(get("YOOKASSA_ALLOWED_NETWORKS")),
            "timeout": timeout,
        },
        "sandbox": {
            "enabled": (not production) or _bool(get("PAYMENT_SANDBOX_ENABLED")),
            "secret": get("SANDBOX_GATEWAY_SECRET") or ("" if production else DEV_SANDBOX_SECRET),
            "decline_marker": get("SANDBOX_DECLINE_MARKER") or "_decline",
            "timeout": timeout,
        },
    }


PAYMENT_GATEWAYS = build_payment_gateways(os.environ)
