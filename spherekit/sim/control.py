"""The control plane: reset, seed, task delays, session expiry and fault rules.

From Python: ``sim.control`` (a :class:`Control`). Over HTTP, JSON on the reserved path
``/_sim`` of the served simulator, with HTTP basic authentication by the simulator's own
user and password (the ones in its URL); anything else answers 401::

    GET    /_sim                    status: objects, sessions, task delays, fault rules
    POST   /_sim/reset              {"seed": 7}? -> back to the initial inventory
    POST   /_sim/seed               {"seed": 7}  -> reseed UUIDs, MACs and rule draws now
    GET    /_sim/task-delays        {"CloneVM_Task": 2.0, ...}
    POST   /_sim/task-delays        {"CloneVM_Task": 2.0, "PowerOnVM_Task": null (= default)}
    POST   /_sim/sessions/expire    {"user": "alice"}? -> {"expired": 2} (all sessions if no user)
    GET    /_sim/faults             [rule, ...]
    POST   /_sim/faults             rule -> the rule with its "id" (see spherekit.sim.faultrules)
    DELETE /_sim/faults             remove every rule
    DELETE /_sim/faults/<id>        remove one rule

Errors answer 400 (a bad request: ``{"error": "what to fix"}``), 404 or 405.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from spherekit.sim.faultrules import FaultRule, FaultRules

if TYPE_CHECKING:
    from spherekit.sim.backend import Backend
    from spherekit.sim.http import HttpRequest, HttpResponse

__all__ = ["PREFIX", "Control", "handle_http"]

#: the control plane's reserved path
PREFIX = "/_sim"


class Control:
    """What tests and operators change on a running simulator."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        #: method -> seconds its tasks take (overrides ``Settings.task_delay``)
        self.task_delays: dict[str, float] = {}
        self.faults = FaultRules(backend.settings.seed)

    def clear(self) -> None:
        """Forget task delays and fault rules (part of a reset)."""
        self.task_delays.clear()
        self.faults.clear(self._backend.settings.seed)

    def reset(self, seed: int | None = None) -> None:
        """Back to the initial inventory (see :meth:`Backend.reset`)."""
        self._backend.reset(seed)

    def seed(self, seed: int) -> None:
        """Reseed the generator of UUIDs, MACs and addresses, and of fault-rule draws."""
        b = self._backend
        with b.registry.lock:
            b.settings = replace(b.settings, seed=seed)
            b.registry.rng.seed(seed)
            self.faults.seed(seed)
            if b.store is not None:
                b.store.touch_meta()
                b.store.flush(b)

    def task_delay(self, method: str) -> float:
        """Seconds a task of ``method`` takes from running to done."""
        return self.task_delays.get(method, self._backend.settings.task_delay)

    def set_task_delays(self, delays: Mapping[str, float | None]) -> dict[str, float]:
        """Set per-method task delays (None: back to the default); returns them all."""
        from spherekit.schema import registry as schema

        for method, seconds in delays.items():
            if method not in schema.METHODS or not method.endswith("_Task"):
                raise ValueError(f"{method!r} is not a vim25 *_Task method")
            if seconds is not None and (
                not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0
            ):
                raise ValueError(f"the delay of {method} is a number of seconds (or null)")
        for method, seconds in delays.items():
            if seconds is None:
                self.task_delays.pop(method, None)
            else:
                self.task_delays[method] = float(seconds)
        return dict(self.task_delays)

    def expire_sessions(self, user: str | None = None) -> int:
        """End every session (or ``user``'s) now, as idle expiry would; returns how many."""
        b = self._backend
        with b.registry.lock:
            ended = [s for s in b.sessions.all() if user is None or s.user == user]
            for s in ended:
                b.sessions.end(s)
        return len(ended)

    def add_fault(self, rule: FaultRule | Mapping[str, Any]) -> FaultRule:
        return self.faults.add(rule)

    def remove_fault(self, rule_id: int) -> bool:
        return self.faults.remove(rule_id)

    def clear_faults(self) -> None:
        self.faults.clear(self._backend.settings.seed)

    def status(self) -> dict[str, Any]:
        b = self._backend
        with b.registry.lock:
            return {
                "objects": len(b.registry),
                "version": b.registry.version,
                "sessions": len(b.sessions.all()),
                "seed": b.settings.seed,
                "state": str(b.store.path) if b.store is not None else None,
                "task_delay": b.settings.task_delay,
                "task_delays": dict(self.task_delays),
                "faults": [r.to_json() for r in self.faults.list()],
            }


# -- HTTP ---------------------------------------------------------------------------------------


def _json(status: int, value: Any, headers: list[tuple[str, str]] | None = None) -> HttpResponse:
    from spherekit.sim.http import HttpResponse

    body = (json.dumps(value, sort_keys=True) + "\n").encode()
    return HttpResponse(status, body, [("content-type", "application/json"), *(headers or [])])


def _authorized(backend: Backend, header: str | None) -> bool:
    if not header or header[:6].lower() != "basic ":
        return False
    try:
        user, sep, password = base64.b64decode(header[6:].strip()).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    s = backend.settings
    ok_user = hmac.compare_digest(user.encode(), s.user.encode())
    ok_password = hmac.compare_digest(password.encode(), s.password.encode())
    return bool(sep) and ok_user and ok_password


def _body(request: HttpRequest) -> Any:
    if not request.body.strip():
        return {}
    try:
        return json.loads(request.body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"the request body is not JSON: {exc}") from None


def handle_http(backend: Backend, request: HttpRequest) -> HttpResponse:
    """Answer one request under ``/_sim``."""
    if not _authorized(backend, request.headers.get("authorization")):
        return _json(
            401,
            {"error": "the control plane needs HTTP basic auth with the simulator's credentials"},
            [("www-authenticate", 'Basic realm="spherekit.sim control"')],
        )
    path = request.path.removeprefix(PREFIX).strip("/")
    c = backend.control
    try:
        body = _body(request)
        a_list_of_rules = path == "faults" and request.method == "POST"
        if not isinstance(body, dict) and not a_list_of_rules:
            raise ValueError("the request body is a JSON object")
        return _route(backend, c, request.method, path, body)
    except ValueError as exc:
        return _json(400, {"error": str(exc)})


def _route(backend: Backend, c: Control, method: str, path: str, body: Any) -> HttpResponse:
    if path == "":
        return _json(200, c.status()) if method == "GET" else _not_allowed("GET")
    if path == "reset":
        if method != "POST":
            return _not_allowed("POST")
        seed = body.get("seed")
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            raise ValueError('"seed" is an integer')
        c.reset(seed)
        return _json(200, c.status())
    if path == "seed":
        if method != "POST":
            return _not_allowed("POST")
        seed = body.get("seed")
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise ValueError('"seed" is an integer')
        c.seed(seed)
        return _json(200, {"seed": seed})
    if path == "task-delays":
        if method == "GET":
            return _json(200, dict(c.task_delays))
        if method in ("POST", "PUT"):
            return _json(200, c.set_task_delays(body))
        return _not_allowed("GET, POST")
    if path == "sessions/expire":
        if method != "POST":
            return _not_allowed("POST")
        user = body.get("user")
        if user is not None and not isinstance(user, str):
            raise ValueError('"user" is a user name')
        return _json(200, {"expired": c.expire_sessions(user)})
    if path == "faults":
        if method == "GET":
            return _json(200, [r.to_json() for r in c.faults.list()])
        if method == "POST":
            rules = body if isinstance(body, list) else [body]
            checked = [FaultRule.from_json(r) for r in rules]
            added = [c.add_fault(r).to_json() for r in checked]
            return _json(200, added if isinstance(body, list) else added[0])
        if method == "DELETE":
            c.clear_faults()
            return _json(200, [])
        return _not_allowed("GET, POST, DELETE")
    if path.startswith("faults/"):
        if method != "DELETE":
            return _not_allowed("DELETE")
        rule_id = path.removeprefix("faults/")
        if not rule_id.isdigit() or not c.remove_fault(int(rule_id)):
            return _json(404, {"error": f"no fault rule {rule_id}"})
        return _json(200, {"removed": int(rule_id)})
    return _json(404, {"error": f"no control endpoint {PREFIX}/{path}"})


def _not_allowed(allowed: str) -> HttpResponse:
    return _json(405, {"error": f"use {allowed}"}, [("allow", allowed)])
