from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from civicdesk.registry.geo import GeoError, locate, parse_boundary

SQUARE = {"type": "Polygon", "coordinates": [[[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]]]}
WITH_HOLE = {
    "type": "Polygon",
    "coordinates": [
        [[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]],
        [[4, 4], [6, 4], [6, 6], [4, 6], [4, 4]],
    ],
}
TWO = {
    "type": "MultiPolygon",
    "coordinates": [
        [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]],
        [[[5, 5], [6, 5], [6, 6], [5, 6], [5, 5]]],
    ],
}


@pytest.mark.parametrize(
    "geojson,point,inside",
    [
        (SQUARE, (5, 5), True),
        (SQUARE, (10, 5), True),  # on an edge
        (SQUARE, (0, 0), True),  # a corner
        (SQUARE, (10.0001, 5), False),
        (WITH_HOLE, (5, 5), False),
        (WITH_HOLE, (4, 5), True),  # on the hole's edge: still the territory's
        (WITH_HOLE, (2, 2), True),
        (TWO, (5.5, 5.5), True),
        (TWO, (3, 3), False),
        ({"type": "Feature", "geometry": SQUARE}, (1, 1), True),
    ],
)
def test_contains(geojson, point, inside):
    assert parse_boundary(geojson).contains(*point) is inside


@pytest.mark.parametrize(
    "bad",
    [
        None,
        "x",
        {"type": "Point", "coordinates": [0, 0]},
        {"type": "Polygon", "coordinates": []},
        {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [0, 0]]]},
        {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]},
        {"type": "Polygon", "coordinates": [[[0, 0], [200, 0], [1, 1], [0, 0]]]},
        {"type": "Polygon", "coordinates": [[["a", 0], [1, 0], [1, 1], ["a", 0]]]},
    ],
)
def test_bad_boundaries_are_refused(bad):
    with pytest.raises(GeoError):
        parse_boundary(bad)


def test_locate_prefers_the_first_match():
    area = parse_boundary(
        {"type": "Polygon", "coordinates": [[[2, 2], [3, 2], [3, 3], [2, 3], [2, 2]]]}
    )
    district = parse_boundary(SQUARE)
    assert locate([("area", area), ("district", district)], 2.5, 2.5) == "area"
    assert locate([("area", area), ("district", district)], 8, 8) == "district"
    assert locate([("area", area)], 8, 8) is None


@given(
    st.floats(-1, 11, allow_nan=False),
    st.floats(-1, 11, allow_nan=False),
)
def test_square_matches_the_obvious_rule(x, y):
    assert parse_boundary(SQUARE).contains(x, y) is (0 <= x <= 10 and 0 <= y <= 10)


@given(
    st.recursive(
        st.none() | st.integers() | st.text(max_size=3),
        lambda c: (
            st.lists(c, max_size=4)
            | st.dictionaries(st.sampled_from(["type", "coordinates", "geometry"]), c, max_size=3)
        ),
        max_leaves=20,
    )
)
def test_garbage_never_crashes(value):
    with contextlib.suppress(GeoError):
        parse_boundary(value)
