"""Territory boundaries (pure: no Django). GeoJSON Polygon/MultiPolygon, longitude first.

Point-in-polygon by ray casting with holes; a point on an edge counts as inside. Enough for
district boundaries; installations on PostGIS may swap this for ST_Contains later.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass

Ring = tuple[tuple[float, float], ...]


class GeoError(ValueError):
    pass


@dataclass(frozen=True)
class Boundary:
    polygons: tuple[tuple[Ring, ...], ...]  # each polygon: outer ring, then holes
    bbox: tuple[float, float, float, float]  # min lon, min lat, max lon, max lat

    def contains(self, lon: float, lat: float) -> bool:
        min_x, min_y, max_x, max_y = self.bbox
        if not (min_x <= lon <= max_x and min_y <= lat <= max_y):
            return False
        for outer, *holes in self.polygons:
            if _in_ring(outer, lon, lat) and not any(_in_ring_strict(h, lon, lat) for h in holes):
                return True
        return False


def _ring(raw) -> Ring:
    if not isinstance(raw, list) or len(raw) < 4:
        raise GeoError("A ring needs at least four positions (the first repeated last).")
    points = []
    for position in raw:
        if (
            not isinstance(position, list | tuple)
            or len(position) < 2
            or not all(isinstance(c, int | float) and not isinstance(c, bool) for c in position[:2])
        ):
            raise GeoError("Each position is [longitude, latitude].")
        lon, lat = float(position[0]), float(position[1])
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise GeoError("Longitude must be within ±180 and latitude within ±90.")
        points.append((lon, lat))
    if points[0] != points[-1]:
        raise GeoError("A ring must end where it starts.")
    return tuple(points)


def parse_boundary(geojson) -> Boundary:
    if not isinstance(geojson, dict):
        raise GeoError("The boundary must be a GeoJSON object.")
    if geojson.get("type") == "Feature":
        geojson = geojson.get("geometry") or {}
    kind, coordinates = geojson.get("type"), geojson.get("coordinates")
    if kind == "Polygon":
        raw_polygons = [coordinates]
    elif kind == "MultiPolygon":
        raw_polygons = coordinates
    else:
        raise GeoError("The boundary must be a GeoJSON Polygon or MultiPolygon.")
    if not isinstance(raw_polygons, list) or not raw_polygons:
        raise GeoError("The boundary has no coordinates.")
    polygons = []
    for raw in raw_polygons:
        if not isinstance(raw, list) or not raw:
            raise GeoError("A polygon needs at least one ring.")
        polygons.append(tuple(_ring(r) for r in raw))
    xs = [p[0] for poly in polygons for p in poly[0]]
    ys = [p[1] for poly in polygons for p in poly[0]]
    return Boundary(tuple(polygons), (min(xs), min(ys), max(xs), max(ys)))


def _on_segment(a, b, x, y) -> bool:
    (x1, y1), (x2, y2) = a, b
    cross = (x2 - x1) * (y - y1) - (y2 - y1) * (x - x1)
    if abs(cross) > 1e-12:
        return False
    return (
        min(x1, x2) - 1e-12 <= x <= max(x1, x2) + 1e-12
        and min(y1, y2) - 1e-12 <= y <= max(y1, y2) + 1e-12
    )


def _crossings(ring: Ring, x: float, y: float) -> bool:
    inside = False
    for (x1, y1), (x2, y2) in itertools.pairwise(ring):
        if (y1 > y) != (y2 > y):
            x_cross = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
            if x < x_cross:
                inside = not inside
    return inside


def _in_ring(ring: Ring, x: float, y: float) -> bool:
    if any(_on_segment(a, b, x, y) for a, b in itertools.pairwise(ring)):
        return True
    return _crossings(ring, x, y)


def _in_ring_strict(ring: Ring, x: float, y: float) -> bool:
    if any(_on_segment(a, b, x, y) for a, b in itertools.pairwise(ring)):
        return False
    return _crossings(ring, x, y)


def locate(candidates: Iterable[tuple[object, Boundary]], lon: float, lat: float):
    """The first candidate whose boundary contains the point (give areas before districts)."""
    for key, boundary in candidates:
        if boundary.contains(lon, lat):
            return key
    return None
