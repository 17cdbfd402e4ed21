"""GeoReport v2 vocabulary and XML (pure: no Django).

Our case statuses and intake question types mapped onto the spec's, and the spec's XML shape:
a list is a root element holding one element per item (`<services><service>…`), an object is
a root element holding one element per key; lists inside objects are named by NESTED_ITEMS.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

from civicdesk.cases import workflow

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
FORMATS = {"json": "application/json", "xml": "text/xml"}

# Our statuses → the spec's two. Resolved counts as closed: the work is done (it may reopen).
OPEN_STATUSES = workflow.OPEN
CLOSED_STATUSES = frozenset(workflow.STATUSES) - workflow.OPEN
STATUS_FILTERS = ("open", "closed")


def status_of(status: str) -> str:
    return "open" if status in OPEN_STATUSES else "closed"


def statuses_for(spec_status: str) -> frozenset[str]:
    """Our statuses behind one of the spec's ("open" or "closed")."""
    return OPEN_STATUSES if spec_status == "open" else CLOSED_STATUSES


# Intake question type → attribute datatype. Booleans are a list of "true" and "false".
DATATYPES = {
    "text": "string",
    "number": "number",
    "date": "datetime",
    "choice": "singlevaluelist",
    "boolean": "singlevaluelist",
}


def datatype_of(question_type: str) -> str:
    return DATATYPES.get(question_type or "text", "string")


# Lists inside objects: the element name of each item.
NESTED_ITEMS = {
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
}

XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
# Characters XML 1.0 cannot carry at all, not even escaped.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return _NOT_XML.sub("", str(value))


def _fill(element: ET.Element, value: Any, item_name: str = "item") -> None:
    if isinstance(value, dict):
        for key, child in value.items():
            _fill(ET.SubElement(element, key), child, NESTED_ITEMS.get(key, "item"))
    elif isinstance(value, list | tuple):
        for child in value:
            _fill(ET.SubElement(element, item_name), child)
    else:
        element.text = xml_text(value)


def to_xml(data: Any, root: str, item: str = "item") -> bytes:
    """`data` (a list of objects or one object) as a UTF-8 XML document under `root`."""
    element = ET.Element(root)
    _fill(element, data, item)
    return XML_DECLARATION + ET.tostring(element, encoding="unicode").encode()
