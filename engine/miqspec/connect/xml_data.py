"""XML response bodies as JSON-like data (``format: xml`` calls); the only user of defusedxml.

Takes: body bytes (a leading UTF-8 byte order mark is dropped) and the element names that are
always lists (``xml.force_list``). Gives: ``{root: value}``, where an element's value is
- ``None`` when it has no attributes, no children and no text but blanks (``<NextMarker />``);
- its text (a string, kept as written) when it has only text;
- otherwise a dict: attributes as ``@name`` keys, child elements by name (a list when the name
  repeats or is in ``force_list``, in document order), and non-blank text as ``#text``.
Namespaces are dropped from element and attribute names (``{urn:x}Name`` -> ``Name``); all
values are strings (XML has no numbers). Parsing goes through defusedxml, so entity
declarations and external references are refused instead of expanded.
Raises: ``XmlError`` (a ``ValueError``) with a one-line reason and, for syntax errors, the
line and column. No I/O.
"""

from __future__ import annotations

import codecs
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pyexpat import ErrorString
from typing import Any

import defusedxml
import defusedxml.ElementTree as SafeET


class XmlError(ValueError):
    """A body that is not well-formed XML, or one defusedxml refuses."""


def parse_xml(body: bytes, force_list: Iterable[str] = ()) -> dict[str, Any] | None:
    """``body`` as data: ``{root element name: value}``; None for an empty body."""
    if body.startswith(codecs.BOM_UTF8):
        body = body[len(codecs.BOM_UTF8) :]
    if not body.strip():
        return None
    try:
        root = SafeET.fromstring(body)
    except ET.ParseError as exc:
        line, col = exc.position
        raise XmlError(f"{ErrorString(exc.code)} at line {line}, column {col + 1}") from None
    except defusedxml.DefusedXmlException as exc:
        raise XmlError(f"refused: {exc}") from None
    lists = frozenset(force_list)
    try:
        value = _value(root, lists)
    except RecursionError:
        raise XmlError("elements nested too deeply") from None
    name = local_name(root.tag)
    return {name: [value] if name in lists else value}


def local_name(name: str) -> str:
    """``name`` without its namespace: ``{urn:x}Name`` -> ``Name``."""
    return name.rpartition("}")[2] if name.startswith("{") else name


def _value(el: ET.Element, lists: frozenset[str]) -> Any:
    children = list(el)
    if not children and not el.attrib:
        return el.text if el.text and el.text.strip() else None
    out: dict[str, Any] = {f"@{local_name(k)}": v for k, v in el.attrib.items()}
    texts = [el.text or ""]
    for child in children:
        texts.append(child.tail or "")
        name = local_name(child.tag)
        value = _value(child, lists)
        if name in out:  # a repeated name (a value is never a list, so a list is ours)
            known = out[name]
            if isinstance(known, list):
                known.append(value)
            else:
                out[name] = [known, value]
        else:
            out[name] = [value] if name in lists else value
    text = "".join(texts) if children else (el.text or "")
    if text.strip():
        out["#text"] = text.strip() if children else text
    return out
