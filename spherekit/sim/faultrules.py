"""Fault injection: rules that make chosen calls fail, stall, or lose their connection.

A rule, as JSON (the control plane's ``POST /_sim/faults``) or as a dict from Python::

    {"method": "PowerOnVM_Task",          # a vim25 method, or "*" for every method
     "object": "vm-42",                    # optional: only calls on this moref value
     "probability": 0.5,                   # optional, default 1
     "count": 1,                           # optional: fire this many times, then retire
     "stage": "call",                      # "call" (default) or "task" (*_Task methods)
     # exactly one action:
     "fault": "InvalidState", "fields": {...}, "message": "...",   # a vSphere fault
     "delay": 2.0,                         # seconds, then the call goes on normally
     "drop": true,                         # close the connection without an answer
     "status": 503}                        # an HTTP status answer (503 Service Unavailable)

``stage: "call"`` rules act in dispatch before the handler (the call itself fails, or its
answer is lost); ``stage: "task"`` rules act when the task of a ``*_Task`` method runs (the
call succeeds, the task ends in ``error`` with the fault, or takes ``delay`` longer). Fault
``fields`` are the fault type's fields by their vim25 names; a MoRef is written
``"VirtualMachine:vm-42"`` or ``{"type": ..., "value": ...}``, a nested data object as a
dict (``"_type"`` names a subtype). Required references left out are filled with the call's
target (``NoPermission.object``), other required primitives with their zero value.

Rules are tried in the order they were added; the first that matches acts. Probabilities are
drawn from a generator seeded with the simulator's seed, so a seeded run is reproducible.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from spherekit.schema import registry as schema
from spherekit.schema.base import ARRAY, OPTIONAL, DataObject, MoRef

if TYPE_CHECKING:
    from spherekit.schema.vim25.data import MethodFault

__all__ = ["DropConnection", "FaultRule", "FaultRules"]

_KEYS = frozenset(
    ["method", "object", "probability", "count", "stage", "fault", "fields", "message", "delay",
     "drop", "status", "id", "hits"]
)  # fmt: skip


#: reference fields that name the call's target, filled with it when left out
_TARGET_FIELDS = frozenset(["object", "obj", "entity"])


class DropConnection(Exception):
    """Raised through the HTTP layer: close the connection without answering."""


@dataclass
class FaultRule:
    """One rule; see the module documentation for the fields."""

    method: str
    object: str | None = None
    probability: float = 1.0
    count: int | None = None
    stage: str = "call"
    fault: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    message: str | None = None
    delay: float = 0.0
    drop: bool = False
    status: int | None = None
    id: int = 0
    #: how many times the rule fired
    hits: int = 0

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FaultRule:
        """A checked rule; ValueError (with what to fix) for a bad one."""
        if not isinstance(data, Mapping):
            raise ValueError("a fault rule is a JSON object")
        unknown = set(data) - _KEYS
        if unknown:
            raise ValueError(f"unknown fault rule keys: {', '.join(sorted(unknown))}")
        method = data.get("method")
        if not isinstance(method, str) or not method:
            raise ValueError('a fault rule needs "method" (a vim25 method name, or "*")')
        if method != "*" and method not in schema.METHODS and method != "Fetch":
            raise ValueError(f"{method!r} is not a vim25 method")
        obj = data.get("object")
        if obj is not None and not isinstance(obj, str):
            raise ValueError('"object" is a moref value such as "vm-42"')
        probability = data.get("probability", 1.0)
        if not isinstance(probability, int | float) or not 0 <= probability <= 1:
            raise ValueError('"probability" is a number from 0 to 1')
        count = data.get("count")
        if count is not None and (not isinstance(count, int) or count < 1):
            raise ValueError('"count" is a positive integer (leave it out for "always")')
        stage = data.get("stage", "call")
        if stage not in ("call", "task"):
            raise ValueError('"stage" is "call" or "task"')
        if stage == "task" and method != "*" and not method.endswith("_Task"):
            raise ValueError(f'stage "task" needs a *_Task method, not {method}')
        actions = [k for k in ("fault", "delay", "drop", "status") if data.get(k)]
        if len(actions) != 1:
            raise ValueError('a fault rule needs exactly one of "fault", "delay", "drop", "status"')
        rule = cls(
            method=method,
            object=obj,
            probability=float(probability),
            count=count,
            stage=stage,
            message=data.get("message"),
        )
        if "fault" in actions:
            name = data["fault"]
            if not isinstance(name, str) or not _is_fault(name):
                raise ValueError(f"{name!r} is not a vSphere fault type (e.g. InvalidState)")
            fields = data.get("fields") or {}
            if not isinstance(fields, Mapping):
                raise ValueError('"fields" is a JSON object of the fault\'s fields')
            rule.fault, rule.fields = name, dict(fields)
            rule.make_fault(MoRef("ManagedObject", "check"))  # refuse bad fields now
        elif "delay" in actions:
            delay = data["delay"]
            if not isinstance(delay, int | float) or delay < 0:
                raise ValueError('"delay" is a number of seconds')
            rule.delay = float(delay)
        elif "drop" in actions:
            if stage == "task":
                raise ValueError('"drop" acts on calls (stage "call"), not on tasks')
            rule.drop = True
        else:
            status = data["status"]
            if not isinstance(status, int) or not 400 <= status <= 599:
                raise ValueError('"status" is an HTTP error status such as 503')
            if stage == "task":
                raise ValueError('"status" acts on calls (stage "call"), not on tasks')
            rule.status = status
        return rule

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "method": self.method, "stage": self.stage}
        if self.object is not None:
            out["object"] = self.object
        out["probability"] = self.probability
        if self.count is not None:
            out["count"] = self.count
        if self.fault is not None:
            out["fault"] = self.fault
            if self.fields:
                out["fields"] = self.fields
            if self.message is not None:
                out["message"] = self.message
        elif self.drop:
            out["drop"] = True
        elif self.status is not None:
            out["status"] = self.status
        else:
            out["delay"] = self.delay
        out["hits"] = self.hits
        return out

    def matches(self, method: str, this: MoRef, stage: str) -> bool:
        if self.stage != stage or (self.method != "*" and self.method != method):
            return False
        if self.object is None:
            return True
        return self.object in (this.value, f"{this.type}:{this.value}")

    def make_fault(self, this: MoRef) -> MethodFault:
        """The rule's fault, for a call on ``this``."""
        assert self.fault is not None
        cls = schema.data_class(self.fault)
        assert cls is not None
        fault: Any = _data(cls, self.fields, this, self.fault)
        fault.msg = self.message or _default_message(self.fault)
        return fault  # type: ignore[no-any-return]


def _is_fault(name: str) -> bool:
    return schema.data_class(name) is not None and schema.is_subtype(name, "MethodFault")


def _default_message(name: str) -> str:
    words = "".join(f" {c.lower()}" if c.isupper() else c for c in name).strip()
    return f"{words[0].upper()}{words[1:]} (injected by a spherekit.sim fault rule)."


def _data(cls: type[DataObject], values: Mapping[str, Any], this: MoRef, path: str) -> Any:
    known = {f[1]: f for f in cls._fields}
    unknown = set(values) - set(known) - {"_type"}
    if unknown:
        raise ValueError(f"{path}: {cls._wsdl_name} has no field {', '.join(sorted(unknown))}")
    kwargs: dict[str, Any] = {}
    for attr, xml, tname, flags, _since in cls._fields:
        if xml in values and values[xml] is not None:
            kwargs[attr] = _typed(values[xml], tname, flags, this, f"{path}.{xml}")
        elif not flags & OPTIONAL:
            kwargs[attr] = _zero(tname, flags, this, f"{path}.{xml}")
        elif xml in _TARGET_FIELDS and schema.is_managed(tname) and not flags & ARRAY:
            kwargs[attr] = this  # NoPermission.object, ManagedObjectNotFound.obj, ...
    return cls(**kwargs)


def _zero(tname: str, flags: int, this: MoRef, path: str) -> Any:
    if flags & ARRAY:
        return []
    if schema.is_managed(tname) and (
        tname == "ManagedObject" or schema.is_subtype(this.type, tname)
    ):
        return this  # e.g. NoPermission.object: the call's target
    zeros: dict[str, Any] = {"string": "", "boolean": False, "int": 0, "long": 0, "short": 0}
    if tname in zeros:
        return zeros[tname]
    if tname in ("float", "double"):
        return 0.0
    raise ValueError(f'{path} ({tname}) is required: give it in "fields"')


def _typed(value: Any, tname: str, flags: int, this: MoRef, path: str) -> Any:
    if flags & ARRAY:
        if not isinstance(value, list):
            raise ValueError(f"{path} is a list")
        return [_typed(v, tname, 0, this, f"{path}[{i}]") for i, v in enumerate(value)]
    if schema.is_managed(tname):
        if isinstance(value, Mapping) and {"type", "value"} <= set(value):
            return MoRef(str(value["type"]), str(value["value"]))
        if isinstance(value, str) and ":" in value:
            t, _, v = value.partition(":")
            return MoRef(t, v)
        if isinstance(value, str) and tname != "ManagedObject":
            return MoRef(tname, value)
        raise ValueError(f'{path} is a reference: "Type:value" or {{"type", "value"}}')
    if tname in ("string", "anyURI") or tname in schema.ENUM_NAMES:
        if not isinstance(value, str):
            raise ValueError(f"{path} is a string")
        return value
    if tname == "boolean":
        if not isinstance(value, bool):
            raise ValueError(f"{path} is true or false")
        return value
    if tname in ("int", "long", "short", "byte"):
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError(f"{path} is an integer")
        return value
    if tname in ("float", "double"):
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise ValueError(f"{path} is a number")
        return float(value)
    if tname == "dateTime":
        try:
            return datetime.fromisoformat(str(value))
        except ValueError:
            raise ValueError(f"{path} is an ISO 8601 date and time") from None
    cls = schema.data_class(tname)
    if cls is None or not isinstance(value, Mapping):
        raise ValueError(f"{path} is a {tname} (a JSON object)")
    sub = value.get("_type", tname)
    sub_cls = schema.data_class(sub) if isinstance(sub, str) else None
    if sub_cls is None or not schema.is_subtype(sub, tname):
        raise ValueError(f"{path}: {sub!r} is not a {tname}")
    return _data(sub_cls, value, this, path)


class FaultRules:
    """The rules of one backend (thread-safe)."""

    def __init__(self, seed: int | None) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._rng = random.Random(seed)
        self._next = 0

    def add(self, rule: FaultRule | Mapping[str, Any]) -> FaultRule:
        """Add a rule (a :class:`FaultRule` or its JSON form); returns it with its id."""
        if not isinstance(rule, FaultRule):
            rule = FaultRule.from_json(rule)
        with self._lock:
            self._next += 1
            rule.id = self._next
            self._rules.append(rule)
        return rule

    def remove(self, rule_id: int) -> bool:
        with self._lock:
            before = len(self._rules)
            self._rules = [r for r in self._rules if r.id != rule_id]
            return len(self._rules) != before

    def clear(self, seed: int | None = None) -> None:
        with self._lock:
            self._rules.clear()
            self._rng.seed(seed)

    def seed(self, seed: int | None) -> None:
        with self._lock:
            self._rng.seed(seed)

    def list(self) -> list[FaultRule]:
        with self._lock:
            return list(self._rules)

    def match(self, method: str, this: MoRef, stage: str) -> FaultRule | None:
        """The first rule that fires for this call (its count used up by one), or None."""
        if not self._rules:  # the common case: no lock, no cost
            return None
        with self._lock:
            for rule in self._rules:
                if not rule.matches(method, this, stage):
                    continue
                if rule.probability < 1 and self._rng.random() >= rule.probability:
                    continue
                rule.hits += 1
                if rule.count is not None:
                    rule.count -= 1
                    if rule.count == 0:
                        self._rules.remove(rule)
                return rule
        return None
