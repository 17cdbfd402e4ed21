"""Finding the territory of a point or an address."""

from __future__ import annotations

import re

from civicdesk.registry.geo import locate, parse_boundary
from civicdesk.registry.models import Building, Territory


def _words(text: str) -> str:
    return " " + re.sub(r"[^\w]+", " ", text.casefold()).strip() + " "


def territory_locate(*, lon: float | None = None, lat: float | None = None, address: str = ""):
    """The most specific territory (an area before its district) containing the point, else the
    territory of a known building at the address, else an area or district named in it."""
    if lon is not None and lat is not None:
        territories = [t for t in Territory.objects.exclude(boundary=None) if t.boundary]
        territories.sort(key=lambda t: t.kind != Territory.Kind.AREA)
        found = locate(((t, parse_boundary(t.boundary)) for t in territories), lon, lat)
        if found is not None or not address:
            return found
    address = (address or "").strip()
    if not address:
        return None
    building = Building.objects.filter(address__iexact=address).select_related("territory").first()
    if building is not None:
        return building.territory
    text = _words(address)
    candidates = sorted(
        Territory.objects.all(), key=lambda t: (t.kind != Territory.Kind.AREA, -len(t.name))
    )
    for territory in candidates:
        if _words(territory.name) in text:
            return territory
    return None
