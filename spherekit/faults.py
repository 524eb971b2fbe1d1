"""Every exception spherekit raises, in one namespace.

vSphere faults mirror the WSDL hierarchy, so ``except faults.NotFound`` also catches its
subclasses and ``except faults.MethodFault`` catches every fault the server sends. Each
raised fault carries its fields (``e.requestedState``), the server's message
(``e.msg``) and the method whose call raised it (``e.method_name``). The errors that are
not vSphere faults (:class:`TransportError`, :class:`UsageError`, ...) come from
:mod:`spherekit.errors`; everything derives from :class:`SpherekitError`.
"""

from spherekit.errors import *  # noqa: F403
from spherekit.errors import __all__ as _errors
from spherekit.schema.vim25.faults import *  # noqa: F403
from spherekit.schema.vim25.faults import __all__ as _faults

__all__ = [*_errors, *_faults]
