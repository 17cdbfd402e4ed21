"""The SVG chart renderer: well-formed, accessible, one bar or point per item, text escaped."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from civicdesk.cases import charts

NS = {"svg": charts.SVG_NS}


def _parse(markup: str) -> ET.Element:
    root = ET.fromstring(markup)
    assert root.tag == f"{{{charts.SVG_NS}}}svg"
    return root


def _bars(root: ET.Element) -> list[ET.Element]:
    return [r for r in root.iter(f"{{{charts.SVG_NS}}}rect") if "bar" in r.get("class", "")]


def test_bar_chart_is_well_formed_with_a_bar_per_category():
    items = [("Water leak", 12), ("Meter fault", 5), ("Enquiry", 0), ("Billing", 7.5)]
    root = _parse(charts.bar_chart(items, title="Cases by category", chart_id="c1"))
    bars = _bars(root)
    assert len(bars) == len(items)
    widths = [float(bar.get("width")) for bar in bars]
    assert widths[0] == max(widths)  # the largest value fills the scale
    assert widths[1] < widths[3] < widths[0]
    assert widths[2] >= 0  # a zero still draws a hairline, never a negative width
    titles = [t.text for t in root.iter(f"{{{charts.SVG_NS}}}title")]
    assert titles[0] == "Cases by category"
    assert "Water leak: 12" in titles and "Billing: 7.5" in titles
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "c1-title c1-desc"
    assert root.find("svg:title", NS).get("id") == "c1-title"


def test_text_is_escaped():
    markup = charts.bar_chart(
        [('<script>alert("x")</script> & Co', 3)], title='Water & "sewer" <b>', chart_id="x"
    )
    root = _parse(markup)  # would not parse if anything leaked through unescaped
    assert "<script>" not in markup and "<b>" not in markup
    texts = [t.text for t in root.iter(f"{{{charts.SVG_NS}}}text")]
    assert '<script>alert("x")</script> & Co' in texts
    assert root.find("svg:title", NS).text == 'Water & "sewer" <b>'


def test_long_labels_are_clipped_on_the_drawing_but_whole_in_the_title():
    label = "A very long category name that goes on and on about a water main burst"
    root = _parse(charts.bar_chart([(label, 1)], title="t"))
    texts = [t.text for t in root.iter(f"{{{charts.SVG_NS}}}text")]
    assert any(t.endswith("…") and len(t) == charts.MAX_LABEL for t in texts)
    assert f"{label}: 1" in [t.text for t in root.iter(f"{{{charts.SVG_NS}}}title")]


def test_line_chart_has_a_point_per_day_and_a_round_top():
    points = [("1 Mar", 3), ("2 Mar", 0), ("3 Mar", 17), ("4 Mar", 9)]
    root = _parse(charts.line_chart(points, title="Per day", chart_id="l"))
    circles = list(root.iter(f"{{{charts.SVG_NS}}}circle"))
    assert len(circles) == 4
    ys = [float(c.get("cy")) for c in circles]
    assert ys[2] < ys[3] < ys[0] < ys[1]  # higher values are drawn higher up
    polyline = root.find("svg:polyline", NS)
    assert len(polyline.get("points").split()) == 4
    texts = [t.text for t in root.iter(f"{{{charts.SVG_NS}}}text")]
    assert "20" in texts and "0" in texts  # axis from 0 to the round ceiling of 17
    assert "1 Mar" in texts and "4 Mar" in texts


@pytest.mark.parametrize("render", (charts.bar_chart, charts.line_chart))
def test_empty_charts_are_well_formed_and_say_so(render):
    root = _parse(render([], title="Nothing", empty_text="No data"))
    assert [t.text for t in root.iter(f"{{{charts.SVG_NS}}}text")] == ["No data"]


def test_a_single_point_is_centred():
    root = _parse(charts.line_chart([("Today", 4)], title="t", width=200))
    (circle,) = root.iter(f"{{{charts.SVG_NS}}}circle")
    assert 80 < float(circle.get("cx")) < 120


@pytest.mark.parametrize(
    ("value", "expected"),
    ((0, 1), (0.3, 0.5), (1, 1), (3, 5), (17, 20), (21, 25), (101, 200), (999, 1000)),
)
def test_nice_ceiling(value, expected):
    assert charts.nice_ceiling(value) == pytest.approx(expected)
