"""Hand-written roots of the generated vim25 classes.

The generated modules under :mod:`spherekit.schema.vim25` derive from these. Nothing here
talks to a server: a managed-object handle is a cheap value (a reference plus the session
that will carry its method calls), and every method call goes through ``Caller.call``.
"""

from __future__ import annotations

from typing import Any, ClassVar, NamedTuple, Protocol

from spherekit.errors import SpherekitError

# Field flags in DataObject._fields
ARRAY = 1
OPTIONAL = 2
SECRET = 4

#: (python attribute, XML element name, type name, flags, version index)
FieldInfo = tuple[str, str, str, int, int]


class MoRef(NamedTuple):
    """A managed-object reference: the object's type and its server-side id."""

    type: str
    value: str

    def __str__(self) -> str:
        return f"{self.type}:{self.value}"


class Caller(Protocol):
    """What a handle needs from a session: the one path for remote calls."""

    def call(self, this: MoRef | ManagedObject, method: str, /, **params: Any) -> Any: ...


class DataObject:
    """Root of all vim25 data objects.

    Fields are plain attributes; an optional field that is not set is ``None`` and is
    omitted on the wire (``0``, ``False`` and ``""`` are values and are sent).
    """

    _wsdl_name: ClassVar[str] = "DataObject"
    _fields: ClassVar[tuple[FieldInfo, ...]] = ()
    _version: ClassVar[int] = 0

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, f[0]) == getattr(other, f[0]) for f in self._fields)

    __hash__ = None  # type: ignore[assignment]  # mutable values

    def __repr__(self) -> str:
        parts = []
        for attr, _xml, _t, flags, _v in self._fields:
            value = getattr(self, attr)
            if value is not None:
                parts.append(f"{attr}={'<secret>' if flags & SECRET else repr(value)}")
        return f"{self._wsdl_name}({', '.join(parts)})"


class FaultBase(SpherekitError):
    """Behaviour of every vSphere fault as a Python exception (mixed into MethodFault)."""

    _wsdl_name: ClassVar[str]
    # snake_case, so they never clash with a WSDL field (those are camelCase)
    #: the method whose call raised the fault, when it was raised by a call
    method_name: str | None = None
    #: the server's fault string (or a task's localized message)
    msg: str | None = None

    def __str__(self) -> str:
        text = " ".join((self.msg or self._wsdl_name).split())  # one line, always
        where = f"{self.method_name}: " if self.method_name else ""
        return f"{where}{text} ({self._wsdl_name})"


class ManagedObject:
    """A handle on a managed object: its reference and the session that carries calls.

    Creating a handle never talks to the server; neither does any attribute.
    """

    __slots__ = ("_session", "ref")
    _wsdl_name: ClassVar[str] = "ManagedObject"

    def __init__(self, session: Caller, ref: MoRef | str) -> None:
        if isinstance(ref, str):
            ref = MoRef(self._wsdl_name, ref)
        self._session = session
        self.ref = ref

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ManagedObject) and other.ref == self.ref

    def __hash__(self) -> int:
        return hash(self.ref)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.ref.value!r})"
