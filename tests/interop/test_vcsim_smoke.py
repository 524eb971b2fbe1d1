"""vcsim (govmomi 0.24.2) answers like a vCenter: the facts later interop tests rely on."""

from __future__ import annotations

import http.client
import ssl
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from http.cookies import SimpleCookie
from xml.sax.saxutils import escape

import pytest
from pyVim.connect import Disconnect, SmartConnect

from tests.interop.conftest import VcsimFactory
from tests.interop.vcsim import Vcsim

VIM = "{urn:vim25}"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
COOKIE = "vmware_soap_session"

# vcsim serves a self-signed localhost certificate; these tests only probe the protocol.
INSECURE = ssl._create_unverified_context()


@dataclass
class Reply:
    status: int
    body: ET.Element  # the child of soapenv:Body
    cookie: str | None  # vmware_soap_session from Set-Cookie, if any

    @property
    def fault(self) -> str | None:
        """The vim fault type (``InvalidLogin``), or None when the call succeeded."""
        detail = self.body.find("detail")
        if self.body.tag != f"{{{SOAP_ENV}}}Fault" or detail is None or len(detail) == 0:
            return None
        return detail[0].get(XSI_TYPE)


def soap(sim: Vcsim, method: str, this: str, args: str = "", cookie: str | None = None) -> Reply:
    """POST one vim25 call to vcsim; ``this`` is ``"Type:value"``."""
    mo_type, mo_value = this.split(":", 1)
    envelope = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}"><soapenv:Body>'
        f'<{method} xmlns="urn:vim25"><_this type="{mo_type}">{mo_value}</_this>{args}</{method}>'
        "</soapenv:Body></soapenv:Envelope>"
    )
    request = urllib.request.Request(
        sim.sdk_url,
        data=envelope.encode(),
        headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": "urn:vim25/6.5"},
    )
    if cookie is not None:
        request.add_header("Cookie", f"{COOKIE}={cookie}")
    try:
        with urllib.request.urlopen(request, context=INSECURE, timeout=10) as response:
            status, raw, headers = response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:  # SOAP faults come with HTTP 500
        with error:
            status, raw, headers = error.code, error.read(), error.headers
    jar: SimpleCookie = SimpleCookie()
    for header in headers.get_all("Set-Cookie") or []:
        jar.load(header)
    body = ET.fromstring(raw).find(f"{{{SOAP_ENV}}}Body")
    assert body is not None and len(body) == 1, raw
    return Reply(status, body[0], jar[COOKIE].value if COOKIE in jar else None)


def login(sim: Vcsim, user: str, password: str) -> Reply:
    args = f"<userName>{escape(user)}</userName><password>{escape(password)}</password>"
    return soap(sim, "Login", "SessionManager:SessionManager", args)


def current_time(sim: Vcsim, cookie: str | None) -> Reply:
    """A call that needs a session (unlike RetrieveServiceContent and RetrieveProperties)."""
    return soap(sim, "CurrentTime", "ServiceInstance:ServiceInstance", cookie=cookie)


def api_version(sim: Vcsim) -> str:
    reply = soap(sim, "RetrieveServiceContent", "ServiceInstance:ServiceInstance")
    version = reply.body.findtext(f"{VIM}returnval/{VIM}about/{VIM}apiVersion")
    assert version, ET.tostring(reply.body)
    return version


def test_url_and_certificate(vcsim: Vcsim) -> None:
    assert vcsim.url == f"https://{vcsim.user}:{vcsim.password}@127.0.0.1:{vcsim.port}/sdk"
    assert vcsim.sdk_url == f"https://127.0.0.1:{vcsim.port}/sdk"
    assert vcsim.cert_pem().startswith("-----BEGIN CERTIFICATE-----")
    thumbprint = vcsim.thumbprint_sha256()
    assert len(thumbprint.split(":")) == 32 and thumbprint == thumbprint.upper()


def test_retrieve_service_content(vcsim: Vcsim) -> None:
    reply = soap(vcsim, "RetrieveServiceContent", "ServiceInstance:ServiceInstance")
    assert reply.status == 200 and reply.fault is None
    assert reply.body.tag == f"{VIM}RetrieveServiceContentResponse"
    assert b"<ns0:apiVersion>" in ET.tostring(reply.body)
    assert api_version(vcsim) == "6.5"  # govmomi 0.24.2's vpx model: vCenter 6.5.0


def test_vim_service_versions_xml_is_served(vcsim: Vcsim) -> None:
    # 0.24.2 serves it (Service.ServiceVersions): the current apiVersion plus 6.0 and 5.5
    # as priorVersions. pyVmomi's SmartConnect reads it to pick its version.
    url = f"{vcsim.sdk_url}/vimServiceVersions.xml"
    with urllib.request.urlopen(url, context=INSECURE, timeout=10) as response:
        assert response.status == 200
        doc = ET.fromstring(response.read())
    namespace = doc.find("namespace")
    assert namespace is not None
    assert namespace.findtext("name") == "urn:vim25"
    assert namespace.findtext("version") == api_version(vcsim)
    prior = [v.text for v in namespace.iterfind("priorVersions/version")]
    assert prior == ["6.0", "5.5"]


def test_login_checks_credentials(vcsim: Vcsim) -> None:
    wrong = login(vcsim, vcsim.user, vcsim.password + "-wrong")
    assert (wrong.status, wrong.fault, wrong.cookie) == (500, "InvalidLogin", None)
    assert login(vcsim, "someone-else", vcsim.password).fault == "InvalidLogin"

    right = login(vcsim, vcsim.user, vcsim.password)
    assert (right.status, right.fault) == (200, None)
    assert right.cookie is not None
    assert right.body.findtext(f"{VIM}returnval/{VIM}key") == right.cookie
    assert right.body.findtext(f"{VIM}returnval/{VIM}userName") == vcsim.user

    assert current_time(vcsim, cookie=None).fault == "NotAuthenticated"
    assert current_time(vcsim, cookie=right.cookie).fault is None
    soap(vcsim, "Logout", "SessionManager:SessionManager", cookie=right.cookie)
    assert current_time(vcsim, cookie=right.cookie).fault == "NotAuthenticated"


def test_idle_session_expires(vcsim_factory: VcsimFactory) -> None:
    # vcsim checks each session every SessionIdleTimeout and drops it once it has been
    # idle for longer than that, so with 1s a session dies 1-2s after its last call.
    sim = vcsim_factory(session_idle_timeout="1s", cluster=0, vm=0)
    cookie = login(sim, sim.user, sim.password).cookie
    assert cookie is not None

    deadline = time.monotonic() + 2.5  # calls every 0.4s keep it alive past the timeout
    while time.monotonic() < deadline:
        assert current_time(sim, cookie).fault is None
        time.sleep(0.4)

    time.sleep(3)
    assert current_time(sim, cookie).fault == "NotAuthenticated"


def test_fetch_of_unset_property_drops_the_connection(vcsim: Vcsim) -> None:
    # Known 0.24.2 bug, kept here as a fact: PropertyCollector.Fetch (what pyVmomi >= 8 uses
    # for vm.snapshot etc.) indexes MissingSet[0] when the property is unset; the handler
    # panics and net/http closes the connection without a response. Ours must not.
    cookie = login(vcsim, vcsim.user, vcsim.password).cookie
    fetch = "Fetch", "Folder:group-d1"  # the root folder
    assert soap(vcsim, *fetch, "<prop>name</prop>", cookie=cookie).fault is None
    with pytest.raises(http.client.RemoteDisconnected):
        soap(vcsim, *fetch, "<prop>parent</prop>", cookie=cookie)  # unset on the root
    assert "index out of range" in vcsim.stderr_text()
    assert current_time(vcsim, cookie).fault is None  # the server itself lives on


def test_pyvmomi_smart_connect(vcsim: Vcsim) -> None:
    # pyVim ships py.typed but leaves connect.py unannotated.
    si = SmartConnect(  # type: ignore[no-untyped-call]
        host=vcsim.host,
        port=vcsim.port,
        user=vcsim.user,
        pwd=vcsim.password,
        disableSslCertValidation=True,
    )
    try:
        content = si.RetrieveContent()
        assert content.about.apiVersion == api_version(vcsim)
        assert content.about.apiType == "VirtualCenter"
        assert content.sessionManager.currentSession.userName == vcsim.user
    finally:
        Disconnect(si)  # type: ignore[no-untyped-call]
