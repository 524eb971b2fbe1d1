"""A tiny vCenter behind a MockTransport, for session and task unit tests.

It serves ``/sdk/vimServiceVersions.xml`` (or 404s it), ``RetrieveServiceContent``,
``Login`` (setting a ``vmware_soap_session`` cookie), ``Logout``, and answers every other
call with ``NotAuthenticated`` unless the request carries a live session cookie. Methods
are added per test in :attr:`FakeVC.handlers`; a handler returns the value to send back (a
ready :class:`Response` is passed through) or raises a ``MethodFault`` to send it as a
SOAP fault. Every SOAP request is kept in :attr:`FakeVC.log`, in order.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from spherekit import vim
from spherekit.schema.base import MoRef
from spherekit.schema.vim25.data import MethodFault
from spherekit.session import Session, connect
from spherekit.wire.transport import MockTransport, Request, Response
from tests.unit import soap
from tests.unit.soap import Call

USER = "administrator@vsphere.local"
PASSWORD = "Pa55-w0rd-never-shown"
URL = "https://vc.example.com/sdk"
COOKIE = "vmware_soap_session"

Handler = Callable[[Call], Any]

VERSIONS_XML = """<?xml version="1.0" encoding="UTF-8" ?>
<namespaces version="1.0">
 <namespace>
  <name>urn:vim25</name>
  <version>{version}</version>
  <priorVersions><version>6.5</version><version>6.7</version></priorVersions>
 </namespace>
 <namespace><name>urn:vim2</name><version>2.0</version></namespace>
</namespaces>
"""


def about(api_version: str) -> vim.AboutInfo:
    return vim.AboutInfo(
        name="VMware vCenter Server",
        fullName=f"VMware vCenter Server {api_version}",
        vendor="VMware, Inc.",
        version=api_version,
        build="1",
        osType="linux-x64",
        productLineId="vpx",
        apiType="VirtualCenter",
        apiVersion=api_version,
    )


def user_session(key: str) -> vim.UserSession:
    now = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    return vim.UserSession(
        key=key,
        userName=USER,
        fullName="Administrator",
        loginTime=now,
        lastActiveTime=now,
        locale="en",
        messageLocale="en",
        extensionSession=False,
        ipAddress="127.0.0.1",
        userAgent="spherekit",
        callCount=0,
    )


class FakeVC:
    def __init__(self, *, versions_xml: str | None = "8.0.2.0", api_version: str = "8.0.2.0"):
        self.versions_xml = versions_xml
        self.content = vim.ServiceContent(
            rootFolder=MoRef("Folder", "group-d1"),
            propertyCollector=MoRef("PropertyCollector", "propertyCollector"),
            viewManager=MoRef("ViewManager", "ViewManager"),
            sessionManager=MoRef("SessionManager", "SessionManager"),
            searchIndex=MoRef("SearchIndex", "SearchIndex"),
            about=about(api_version),
        )
        self.handlers: dict[str, Handler] = {}
        self.log: list[Call] = []
        self.gets: list[str] = []
        self.live: set[str] = set()
        #: called (with the call) before a NotAuthenticated fault is sent
        self.on_unauthenticated: Callable[[Call], None] | None = None
        self.lock = threading.Lock()
        self._ids = itertools.count(1)
        self.transport = MockTransport(self._handle)

    # -- test helpers -------------------------------------------------------------------

    def connect(self, **kwargs: Any) -> Session:
        kwargs.setdefault("user", USER)
        kwargs.setdefault("password", PASSWORD)
        return connect(URL, transport=self.transport, **kwargs)

    def methods(self) -> list[str]:
        with self.lock:
            return [c.method for c in self.log]

    def calls(self, method: str) -> list[Call]:
        with self.lock:
            return [c for c in self.log if c.method == method]

    def count(self, method: str) -> int:
        return len(self.calls(method))

    def expire(self) -> None:
        """Forget every session, as vCenter does after ~30 idle minutes."""
        with self.lock:
            self.live.clear()

    def reset_log(self) -> None:
        with self.lock:
            self.log.clear()

    def next_id(self, prefix: str) -> str:
        return f"{prefix}-{next(self._ids)}"

    # -- the server ---------------------------------------------------------------------

    def _handle(self, request: Request) -> Response:
        if request.method == "GET":
            self.gets.append(request.path)
            if request.path == "/sdk/vimServiceVersions.xml" and self.versions_xml is not None:
                body = VERSIONS_XML.format(version=self.versions_xml).encode()
                return Response(200, soap.XML_HEADERS, body)
            return Response(404, {"Content-Type": "text/html"}, b"<html>Not Found</html>")
        call = soap.parse_call(request)
        with self.lock:
            self.log.append(call)
        if call.method == "RetrieveServiceContent":
            return soap.ok(call.method, self.content)
        if call.method == "Login":
            return self._login(call)
        cookie = self._cookie(call)
        if cookie is None or cookie not in self.live:
            if self.on_unauthenticated is not None:
                self.on_unauthenticated(call)
            return soap.fault(
                "The session is not authenticated.",
                vim.NotAuthenticated(object=call.this, privilegeId="System.View"),
            )
        if call.method == "Logout":
            with self.lock:
                self.live.discard(cookie)
            return soap.ok(call.method)
        handler = self.handlers.get(call.method)
        if handler is None:
            return soap.fault(
                f"Method {call.method} not implemented in this test",
                vim.MethodNotFound(receiver=call.this, method=call.method),
            )
        try:
            result = handler(call)
        except MethodFault as f:
            return soap.fault(f.msg or f._wsdl_name, f)
        if isinstance(result, Response):
            return result
        return soap.ok(call.method, result)

    def _cookie(self, call: Call) -> str | None:
        header = call.header("Cookie")
        if not header:
            return None
        for part in header.split(";"):
            name, _, value = part.strip().partition("=")
            if name == COOKIE:
                return value
        return None

    def _login(self, call: Call) -> Response:
        if call.params.get("userName") != USER or call.params.get("password") != PASSWORD:
            return soap.fault(
                "Cannot complete login due to an incorrect user name or password.",
                vim.InvalidLogin(),
            )
        key = self.next_id("session")
        value = f'"{key}"'
        with self.lock:
            self.live.add(value)
        headers = {"Set-Cookie": f"{COOKIE}={value}; Path=/; HttpOnly; Secure"}
        return soap.ok(call.method, user_session(key), headers)
