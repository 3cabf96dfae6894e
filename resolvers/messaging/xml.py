"""Safe XML for ISO 20022 messages: parsing that refuses what could hurt, element paths, and a builder.

Parsing (`parse_document`) refuses, before anything is expanded or fetched:
- text longer than `XML_MAX` characters;
- any DOCTYPE, so any entity declaration (a "billion laughs" document) and any external
  reference (SYSTEM "file:///etc/passwd"), through defusedxml;
- text that is not well-formed XML (the message names line and column);
- a root that is not `Document` in the expected namespace.

Paths name where a problem is: a list of strings starting with "Document", then each
element's local name; a repeated element has its 0-based index as its own item after its
name (["Document", "FIToFICstmrCdtTrf", "CdtTrfTxInf", "1", "PmtId", "UETR"]), and an
attribute is the last item, written "@Ccy".

Building (`document`, `add`, `serialize`) writes the namespace as the default namespace (no
"ns0:" prefixes) after the declaration `<?xml version="1.0" encoding="UTF-8"?>`; text is
escaped by ElementTree, and characters XML 1.0 cannot carry are replaced by U+FFFD.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from xml.etree.ElementTree import Element

import defusedxml
import defusedxml.ElementTree

XML_MAX = 2_000_000  # as the API's input boundary allows any string (docs/api.md)
DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'
# What XML 1.0 cannot carry, even escaped.
NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# ISO 20022's text types: an identifier (MsgId, EndToEndId, InstrId) is Max35Text, the
# unstructured remittance Max140Text.
MAX35 = 35
MAX140 = 140


def carried(text: str) -> bool:
    """Whether XML carries `text` unchanged: no character XML 1.0 refuses, and no carriage
    return (an XML parser reads one as a line feed)."""
    return "\r" not in text and NOT_XML.search(text) is None


class XmlError(Exception):
    """What is wrong with a document: where (`path`), in plain English (`message`), and the
    ISO 20022 status reason code a pacs.002 reports for it (`reason`, "FF01" unless said)."""

    def __init__(self, path: Sequence[str], message: str, reason: str = "FF01") -> None:
        super().__init__(message)
        self.path = list(path)
        self.message = message
        self.reason = reason

    def __repr__(self) -> str:
        return f"XmlError({self.path!r}, {self.message!r}, {self.reason!r})"


def parse_document(text: str, namespace: str) -> Element:
    """The root element of `text`, which must be a `Document` in `namespace`; XmlError otherwise."""
    if len(text) > XML_MAX:
        raise XmlError([], f"The document is {len(text)} characters long; at most {XML_MAX} are accepted.")
    try:
        root = defusedxml.ElementTree.fromstring(text, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except defusedxml.DTDForbidden as error:
        raise XmlError([], f"A DOCTYPE is not accepted (found {error.name!r}): entities are never expanded.") from None
    except defusedxml.EntitiesForbidden as error:
        raise XmlError([], f"Entity declarations are not accepted (found {error.name!r}).") from None
    except defusedxml.ExternalReferenceForbidden as error:
        raise XmlError([], f"External references are not accepted (found {error.sysid!r}).") from None
    except ET.ParseError as error:
        line, column = error.position
        raise XmlError(
            [], f"The document is not well-formed XML: {_reason(error)} at line {line}, column {column}."
        ) from None
    if root.tag != f"{{{namespace}}}Document":
        raise XmlError(["Document"], f"The root element must be Document in the namespace {namespace}, not {root.tag}.")
    return root


def _reason(error: ET.ParseError) -> str:
    """Expat's own words, without the position it appends (the message gives it once)."""
    return str(error).split(": line ")[0]


@dataclass(frozen=True)
class Node:
    """An element with its path, walked by local names within one namespace."""

    element: Element
    path: tuple[str, ...]
    namespace: str

    @classmethod
    def root(cls, element: Element, namespace: str) -> Node:
        return cls(element, ("Document",), namespace)

    def at(self, *names: str) -> list[str]:
        """The path of a descendant (or attribute "@Name") of this node, whether or not it exists."""
        return [*self.path, *names]

    def find(self, *names: str) -> Node | None:
        """The descendant reached by taking the first child of each name in turn; None when one is absent."""
        node: Node | None = self
        for name in names:
            if node is None:
                return None
            found = node.element.find(f"{{{self.namespace}}}{name}")
            node = None if found is None else Node(found, (*node.path, name), self.namespace)
        return node

    def all(self, name: str) -> list[Node]:
        """Every child of that name, in order, each with its index in its path."""
        found = self.element.findall(f"{{{self.namespace}}}{name}")
        return [Node(element, (*self.path, name, str(index)), self.namespace) for index, element in enumerate(found)]

    def text(self, *names: str) -> str | None:
        """The stripped text of a descendant ("" when it has none); None when it is absent."""
        node = self.find(*names)
        return None if node is None else (node.element.text or "").strip()

    def attribute(self, name: str) -> str | None:
        """An attribute's stripped value; None when absent."""
        value = self.element.get(name)
        return None if value is None else value.strip()


def document(namespace: str) -> Element:
    """A new `Document` root declaring `namespace` as the default namespace of everything under it.

    Elements are built with local names only (ElementTree would otherwise write "ns0:" prefixes,
    and refuses a default namespace with unqualified attributes such as Ccy)."""
    return Element("Document", {"xmlns": namespace})


def add(parent: Element, *names: str, text: str | None = None, attributes: Mapping[str, str] | None = None) -> Element:
    """Append a chain of elements and return the last, with `text` and `attributes`."""
    element = parent
    for name in names:
        element = ET.SubElement(element, name)
    if text is not None:
        element.text = NOT_XML.sub("\ufffd", text)
    for key, value in (attributes or {}).items():
        element.set(key, NOT_XML.sub("\ufffd", value))
    return element


def serialize(root: Element) -> str:
    """The document as text: the declaration, then the root (whose xmlns gives the default namespace)."""
    return DECLARATION + ET.tostring(root, encoding="unicode") + "\n"


def iso_datetime(moment: datetime) -> str:
    """An ISODateTime in UTC with an explicit offset: "2024-05-01T10:00:00+00:00", with microseconds
    only when it has some ("2024-05-01T10:00:00.250000+00:00"); a naive moment is taken as UTC."""
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.isoformat(timespec="microseconds" if moment.microsecond else "seconds")


DATETIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})?")


def parse_datetime(text: str) -> datetime | None:
    """An ISODateTime as a tz-aware UTC datetime (naive means UTC); None when it is not one."""
    if not DATETIME.fullmatch(text):
        return None
    date_part, _, rest = text.partition("T")
    fraction = re.search(r"\.([0-9]+)", rest)
    if fraction:  # at most microseconds: further digits are dropped, never rounded up
        rest = rest.replace(fraction.group(0), "." + fraction.group(1)[:6].ljust(6, "0"))
    try:
        moment = datetime.fromisoformat(f"{date_part}T{rest}")
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
