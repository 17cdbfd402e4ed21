"""Payment gateways: the registry.

``settings.PAYMENT_GATEWAYS`` maps a gateway's name to its options (built from environment
variables in :mod:`civicdesk.ledger.gateway_settings`). A gateway whose credentials are missing
is "not configured": :func:`gateway_get` refuses it and :func:`gateways_available` leaves it out.
Gateways are built afresh from the settings on every call (cheap, and settings overrides in tests
take effect at once).

The package never touches the ORM at import time; only the sandbox's default store does, lazily,
when it is used.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from civicdesk.ledger.gateways.base import (
    Checkout,
    Gateway,
    GatewayError,
    GatewayResult,
    NotSupported,
    PaymentOrder,
    SignatureError,
)
from civicdesk.ledger.gateways.liqpay import LiqPayGateway
from civicdesk.ledger.gateways.payfast import PayFastGateway
from civicdesk.ledger.gateways.sandbox import SandboxGateway
from civicdesk.ledger.gateways.yookassa import YooKassaGateway

# In the order they are offered to a resident.
GATEWAY_CLASSES: dict[str, type[Gateway]] = {
    "payfast": PayFastGateway,
    "liqpay": LiqPayGateway,
    "yookassa": YooKassaGateway,
    "sandbox": SandboxGateway,
}
GATEWAY_NAMES = tuple(GATEWAY_CLASSES)

__all__ = [
    "GATEWAY_NAMES",
    "Checkout",
    "Gateway",
    "GatewayError",
    "GatewayResult",
    "NotSupported",
    "PaymentOrder",
    "SignatureError",
    "gateway_get",
    "gateway_is_configured",
    "gateways_available",
]


def _options(name: str) -> dict[str, Any]:
    return dict((getattr(settings, "PAYMENT_GATEWAYS", None) or {}).get(name) or {})


def gateway_is_configured(name: str) -> bool:
    cls = GATEWAY_CLASSES.get(name)
    return cls is not None and cls.is_configured(_options(name))


def gateway_get(name: str) -> Gateway:
    """The configured gateway called ``name``; GatewayError("unknown_gateway") for a name that
    is not a gateway, GatewayError("not_configured") when its credentials are missing."""
    cls = GATEWAY_CLASSES.get(name)
    if cls is None:
        raise GatewayError("unknown_gateway", f"there is no payment gateway {name!r}")
    options = _options(name)
    if not cls.is_configured(options):
        raise GatewayError("not_configured", f"the {name} gateway is not configured")
    return cls(options)


def gateways_available(currency: str | None = None) -> list[Gateway]:
    """The configured gateways (taking ``currency``, when given), in the order to offer them."""
    available = []
    for name in GATEWAY_NAMES:
        if not gateway_is_configured(name):
            continue
        gateway = gateway_get(name)
        if currency is None or gateway.supports_currency(currency):
            available.append(gateway)
    return available
