"""Dublin Core as XML (``oai_dc``) with ``xml:lang`` on each value.

Used by OAI-PMH (``web.oai``), the per-collection DC XML export (``web.api``) and BagIt bags.
Built with lxml (a proper XML library) so escaping and namespaces are never hand-rolled.
"""
from __future__ import annotations

import re
from typing import Any

from lxml import etree

from repository.models import Item

OAI_DC_NS = "http://www.openarchives.org/OAI/2.0/oai_dc/"
DC_NS = "http://purl.org/dc/elements/1.1/"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
XML_NS = "http://www.w3.org/XML/1998/namespace"
OAI_DC_SCHEMA = "http://www.openarchives.org/OAI/2.0/oai_dc.xsd"

#: characters XML 1.0 cannot carry; dropped rather than letting one odd value break a whole harvest
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(value: str) -> str:
    """``value`` without characters that XML 1.0 cannot represent."""
    return _NOT_XML.sub("", value)


#: our metadata elements that are not among the 15 DC elements, mapped to the closest one
ELEMENT_MAP = {"place": "coverage"}
#: the order of elements inside oai_dc (the schema allows any order; a fixed one reads better)
DC_ORDER = ("title", "creator", "subject", "description", "publisher", "contributor", "date", "type",
            "format", "identifier", "source", "language", "relation", "coverage", "rights")


def dc_values(item: Item, *, item_url: str | None = None) -> list[tuple[str, str, str | None]]:
    """(dc element, value, language) triples of an item, in DC order.

    Adds the DCMI type of the item and, when given, its public URL as an identifier.
    """
    md: dict[str, list[dict[str, Any]]] = item.metadata_ or {}
    out: dict[str, list[tuple[str, str | None]]] = {}
    for element, vals in md.items():
        target = ELEMENT_MAP.get(element, element)
        for v in vals:
            out.setdefault(target, []).append((v["value"], v.get("lang")))
    if not out.get("title"):
        out["title"] = [(item.title, None)]
    types = out.setdefault("type", [])
    if item.type not in [v for v, _ in types]:
        types.insert(0, (item.type, None))
    if item_url:
        out.setdefault("identifier", []).append((item_url, None))
    return [(el, v, lang) for el in DC_ORDER for v, lang in out.get(el, [])]


def oai_dc_element(item: Item, *, item_url: str | None = None) -> etree._Element:
    """An ``<oai_dc:dc>`` element for ``item`` (values carry ``xml:lang`` when known)."""
    root = etree.Element(f"{{{OAI_DC_NS}}}dc", nsmap={"oai_dc": OAI_DC_NS, "dc": DC_NS, "xsi": XSI_NS})
    root.set(f"{{{XSI_NS}}}schemaLocation", f"{OAI_DC_NS} {OAI_DC_SCHEMA}")
    for element, value, lang in dc_values(item, item_url=item_url):
        el = etree.SubElement(root, f"{{{DC_NS}}}{element}")
        el.text = xml_text(value)
        if lang:
            el.set(f"{{{XML_NS}}}lang", lang)
    return root


def item_dc_xml(item: Item, *, item_url: str | None = None) -> bytes:
    """One item's ``oai_dc`` record as a standalone UTF-8 XML document."""
    return etree.tostring(oai_dc_element(item, item_url=item_url), xml_declaration=True,
                          encoding="UTF-8", pretty_print=True)


def collection_dc_xml(items: list[Item], *, collection_slug: str, url_of) -> bytes:
    """A ``<records>`` document with one ``oai_dc:dc`` per item (``url_of(item)`` gives its URL)."""
    root = etree.Element("records", nsmap={"oai_dc": OAI_DC_NS, "dc": DC_NS, "xsi": XSI_NS})
    root.set("collection", collection_slug)
    for item in items:
        rec = etree.SubElement(root, "record", id=str(item.id))
        rec.append(oai_dc_element(item, item_url=url_of(item)))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
