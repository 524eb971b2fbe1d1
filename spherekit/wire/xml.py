"""A hardened lxml parser for everything spherekit reads off the wire.

No DTDs, no entity expansion, no network access, bounded sizes; a document that declares
a DOCTYPE is refused outright (vSphere never sends one).
"""

from __future__ import annotations

import threading

from lxml import etree

from spherekit.errors import ProtocolError

_local = threading.local()


def _parser() -> etree.XMLParser:
    parser: etree.XMLParser | None = getattr(_local, "parser", None)
    if parser is None:
        parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
        )
        _local.parser = parser
    return parser


def parse(body: bytes, *, what: str = "response") -> etree._Element:
    """Parse one XML document; raise ProtocolError for anything that is not plain XML."""
    try:
        root = etree.fromstring(body, _parser())
    except etree.XMLSyntaxError as e:
        snippet = body[:120].decode("utf-8", "replace").replace("\n", " ")
        raise ProtocolError(
            f"the {what} is not well-formed XML ({e}); it starts: {snippet!r}"
        ) from None
    if root.getroottree().docinfo.doctype:  # type: ignore[union-attr]
        raise ProtocolError(f"the {what} declares a DOCTYPE, which vSphere never sends; refused")
    return root
