"""Shared pieces of the OVF reader: the error type carrying vCenter's OVF fault, the fault
builders (with vCenter's "Line N: ..." messages), namespace-lenient element helpers and
allocation units (``byte * 2^20``)."""

from __future__ import annotations

import re

from lxml import etree

from spherekit.schema.vim25 import data as d
from spherekit.sim.faults import with_msg

__all__ = [
    "OvfProblem",
    "bad_reference",
    "invalid_element",
    "localized",
    "missing_attribute",
    "missing_element",
    "units",
    "xml_attr",
    "xml_child",
    "xml_children",
    "xml_int",
    "xml_line",
    "xml_local",
    "xml_text",
]


class OvfProblem(Exception):
    """A problem with an OVF package, carrying the OVF fault vCenter reports for it."""

    def __init__(self, fault: d.MethodFault) -> None:
        super().__init__(fault.msg)
        self.fault = fault


def localized(fault: d.MethodFault) -> d.LocalizedMethodFault:
    """The fault as an entry of a result's ``error`` / ``warning`` list."""
    return d.LocalizedMethodFault(fault=fault, localizedMessage=fault.msg or None)


# -- faults ------------------------------------------------------------------------------


def invalid_element(line: int, name: str, value: str) -> d.OvfElementInvalidValue:
    return with_msg(
        d.OvfElementInvalidValue(lineNumber=line, name=name, value=value),
        f"Line {line}: Invalid value '{value}' for element '{name}'.",
    )


def missing_element(line: int, name: str) -> d.OvfMissingElement:
    return with_msg(
        d.OvfMissingElement(lineNumber=line, name=name),
        f"Line {line}: Missing required element '{name}'.",
    )


def missing_attribute(line: int, element: str, attribute: str) -> d.OvfMissingAttribute:
    return with_msg(
        d.OvfMissingAttribute(lineNumber=line, elementName=element, attributeName=attribute),
        f"Line {line}: Missing required attribute '{attribute}' on element '{element}'.",
    )


def bad_reference(line: int, element: str, attribute: str, value: str) -> d.OvfInvalidValue:
    return with_msg(
        d.OvfInvalidValueReference(
            lineNumber=line, elementName=element, attributeName=attribute, value=value
        ),
        f"Line {line}: Invalid value '{value}' for attribute '{attribute}' on element '{element}'.",
    )


# -- helpers ------------------------------------------------------------------------------

_UNITS = {"byte": 1, "kilobytes": 2**10, "megabytes": 2**20, "gigabytes": 2**30, "kb": 2**10}
_UNITS |= {"mb": 2**20, "gb": 2**30, "tb": 2**40, "terabytes": 2**40}


def units(text: str | None, default: int = 1) -> int | None:
    """The multiplier of an allocation unit: ``byte * 2^20`` -> 1048576; None if unknown."""
    if text is None or not text.strip():
        return default
    t = text.strip().lower().replace(" ", "")
    m = re.fullmatch(r"byte(?:\*(\d+)(?:\^(\d+))?)?", t)
    if m:
        base = int(m[1]) if m[1] else 1
        return base ** int(m[2]) if m[2] else base
    return _UNITS.get(t)


def xml_line(el: etree._Element) -> int:
    line = el.sourceline
    return line if isinstance(line, int) else 0


def xml_local(el: etree._Element) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


def xml_attr(el: etree._Element, name: str, ns: str) -> str | None:
    """An attribute in the envelope's namespace (or, leniently, without one)."""
    value = el.get(f"{{{ns}}}{name}")
    return value if value is not None else el.get(name)


def xml_children(el: etree._Element, name: str) -> list[etree._Element]:
    return [c for c in el if xml_local(c) == name]


def xml_child(el: etree._Element, name: str) -> etree._Element | None:
    return next(iter(xml_children(el, name)), None)


def xml_text(el: etree._Element | None) -> str:
    return (el.text or "").strip() if el is not None else ""


def xml_int(el: etree._Element, name: str, ns: str, required: bool) -> int | None:
    text = xml_attr(el, name, ns)
    if text is None:
        if required:
            raise OvfProblem(missing_attribute(xml_line(el), xml_local(el), f"ovf:{name}"))
        return None
    try:
        return int(text.strip())
    except ValueError:
        raise OvfProblem(
            with_msg(
                d.OvfInvalidValueFormatMalformed(
                    lineNumber=xml_line(el),
                    elementName=xml_local(el),
                    attributeName=f"ovf:{name}",
                    value=text,
                ),
                f"Line {xml_line(el)}: Invalid value '{text}' for attribute 'ovf:{name}' "
                f"on element '{xml_local(el)}'.",
            )
        ) from None
