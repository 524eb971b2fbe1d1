"""The opt-in wire log: every request and response, with secrets removed.

Redaction works on the text (bodies are XML, occasionally JSON) with regular expressions
that tolerate namespace prefixes and attributes. It runs on the whole body before the body
is cut to the log's limit, so a cut can never expose half a secret; a body whose secret
element is not terminated is withheld from that element on.

Known limit: values that are secret only by convention of the caller (``guestinfo.*`` keys
in ``extraConfig``, OVF properties) are keyed by a sibling ``<key>`` element and are not
recognised; pass element names in ``secret_fields`` where that is enough.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, TextIO

import httpx

from spherekit.errors import UsageError
from spherekit.wire.messages import header

if TYPE_CHECKING:
    from spherekit.wire.messages import Request, Response

__all__ = ["DEFAULT_SECRET_FIELDS", "SECRET_HEADERS", "WireLog"]

SECRET_HEADERS = frozenset(
    {"cookie", "set-cookie", "authorization", "proxy-authorization", "vmware-api-session-id"}
)
#: Elements whose content is always replaced by ``***`` in the wire log.
DEFAULT_SECRET_FIELDS = frozenset(
    {
        "password",
        "newPassword",
        "oldPassword",
        "adminPassword",  # CustomizationPassword: value + plainText
        "domainAdminPassword",
        "token",
        "samlToken",
        "base64Token",
        "ticket",
        "cloneTicket",
        "sessionCookie",
        "vcSessionCookie",
        "sessionId",  # TerminateSession, HostServiceTicket
        "sessionID",  # SessionIsActive
        "privateKey",
        "Security",  # WS-Security header of LoginByToken (SAML bearer token)
    }
)
_TICKET_METHODS = (
    "AcquireCloneTicket",
    "AcquireGenericServiceTicket",
    "AcquireLocalTicket",
    "AcquireCredentialsInGuest",
)
_SESSION_METHODS = (
    "Login",
    "LoginByToken",
    "LoginBySSPI",
    "LoginExtensionByCertificate",
    "LoginExtensionBySubjectName",
    "ImpersonateUser",
    "CloneSession",
)
_PFX = r"(?:[A-Za-z_][\w.-]*:)?"  # optional namespace prefix
_OPEN_END = r"(?=[\s/>])[^>]*(?<!/)>"  # rest of a start tag (attributes allowed), not <x/>
_NAME_RE = re.compile(r"[A-Za-z_][\w.-]*")


def _alternation(names: Iterable[str]) -> str:
    return "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))


def _element(names: str) -> re.Pattern[str]:
    """``<p:name attr=...>content</p:name>``, content in group ``c``."""
    return re.compile(
        rf"(?P<o><{_PFX}(?P<n>{names}){_OPEN_END})(?P<c>.*?)(?P<e></{_PFX}(?P=n)\s*>)", re.S
    )


def _block(names: str) -> re.Pattern[str]:
    return re.compile(rf"<{_PFX}(?P<n>{names}){_OPEN_END}.*?</{_PFX}(?P=n)\s*>", re.S)


_RETURNVAL = _element("returnval")
_KEY = _element("key")
_TICKET_BLOCK = _block(f"(?:{_alternation(_TICKET_METHODS)})Response")
_SESSION_BLOCK = _block(f"(?:{_alternation(_SESSION_METHODS)})Response|UserSession")
_TYPED_SESSION_BLOCK = re.compile(
    rf"<{_PFX}(?P<n>[A-Za-z_][\w.-]*)\s[^>]*\btype\s*=\s*[\"']{_PFX}UserSession[\"'][^>]*(?<!/)>"
    rf".*?</{_PFX}(?P=n)\s*>",
    re.S,
)
_STARS = r"\g<o>***\g<e>"


class WireLog:
    """Opt-in wire log: each request and response with headers and body, secrets removed.

    ``sink`` is a text stream (written and flushed per entry) or a ``logging.Logger``
    (entries logged at ``level``). Header values of Cookie, Set-Cookie, Authorization,
    Proxy-Authorization and vmware-api-session-id become ``***``; so does the content of
    :data:`DEFAULT_SECRET_FIELDS` elements and of ``secret_fields`` (any namespace prefix,
    any attributes), the ``key`` of every UserSession, and the ``returnval`` of ticket
    methods. Bodies are redacted before being cut to ``body_limit`` characters, and a body
    with an unterminated secret element is withheld from that element on.
    """

    def __init__(
        self,
        sink: TextIO | logging.Logger,
        *,
        secret_fields: Iterable[str] = frozenset(),
        body_limit: int | None = 64 * 1024,
        level: int = logging.DEBUG,
    ) -> None:
        extra = frozenset(secret_fields)
        bad = sorted(n for n in extra if not _NAME_RE.fullmatch(n))
        if bad:
            raise UsageError(f"secret_fields must be XML element names, not {bad!r}")
        self.secret_fields = DEFAULT_SECRET_FIELDS | extra
        self._sink = sink
        self._body_limit = body_limit
        self._level = level
        self._lock = threading.Lock()
        names = _alternation(self.secret_fields)
        self._secret_re = _element(names)
        self._json_re = re.compile(rf"(\"(?:{names})\"\s*:\s*)\"(?:[^\"\\]|\\.)*\"", re.S)
        self._open_res = (
            re.compile(rf"<{_PFX}(?P<n>{names}){_OPEN_END}"),
            re.compile(rf"<{_PFX}(?P<n>(?:{_alternation(_TICKET_METHODS)})Response){_OPEN_END}"),
            re.compile(
                rf"<{_PFX}(?P<n>(?:{_alternation(_SESSION_METHODS)})Response|UserSession)"
                rf"{_OPEN_END}"
            ),
            re.compile(
                rf"<{_PFX}(?P<n>[A-Za-z_][\w.-]*)\s[^>]*\btype\s*=\s*[\"']{_PFX}"
                rf"UserSession[\"'][^>]*(?<!/)>"
            ),
        )

    # -- redaction --

    def redact_headers(self, headers: Mapping[str, str]) -> list[tuple[str, str]]:
        items = headers.multi_items() if isinstance(headers, httpx.Headers) else headers.items()
        return [(k, "***" if k.lower() in SECRET_HEADERS else v) for k, v in items]

    def redact_body(self, body: bytes | str) -> str:
        """The body as text with every secret replaced by ``***``, then cut to the limit."""
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body

        def returnval(m: re.Match[str]) -> str:
            return _RETURNVAL.sub(_STARS, m.group(0))

        def session_key(m: re.Match[str]) -> str:
            return _KEY.sub(_STARS, m.group(0))

        text = _TICKET_BLOCK.sub(returnval, text)
        text = _SESSION_BLOCK.sub(session_key, text)
        text = _TYPED_SESSION_BLOCK.sub(session_key, text)
        text = self._secret_re.sub(_STARS, text)
        text = self._json_re.sub(r'\1"***"', text)
        text = self._withhold_unterminated(text)
        limit = self._body_limit
        if limit is not None and len(text) > limit:
            text = f"{text[:limit]}... [{len(text) - limit} more characters]"
        return text

    def _withhold_unterminated(self, text: str) -> str:
        cut = len(text)
        for open_re in self._open_res:
            for m in open_re.finditer(text, 0, cut):
                close = re.compile(rf"</{_PFX}{re.escape(m.group('n'))}\s*>")
                if not close.search(text, m.end()):
                    cut = min(cut, m.start())
                    break
        if cut == len(text):
            return text
        return text[:cut] + "[rest withheld: unterminated secret element]"

    # -- entries --

    def _emit(self, entry: str) -> None:
        with self._lock:
            if isinstance(self._sink, logging.Logger):
                self._sink.log(self._level, "%s", entry)
            else:
                self._sink.write(entry + "\n")
                self._sink.flush()

    @staticmethod
    def _title(request: Request) -> str:
        parts = [request.method, request.path]
        if request.soap_method:
            parts.append(request.soap_method)
        op_id = header(request.headers, "operationID")
        if op_id:
            parts.append(f"operationID={op_id}")
        return " ".join(parts)

    def _message(self, first: str, headers: Mapping[str, str], body: bytes) -> str:
        lines = [first]
        lines += [f"{k}: {v}" for k, v in self.redact_headers(headers)]
        if body:
            lines += ["", self.redact_body(body)]
        return "\n".join(lines)

    def log_request(self, request: Request) -> None:
        self._emit(self._message(f">>> {self._title(request)}", request.headers, request.body))

    def log_response(self, request: Request, response: Response, *, duration: float) -> None:
        first = (
            f"<<< {response.status} {self._title(request)} {duration * 1000:.1f} ms "
            f"{len(response.body)} bytes"
        )
        self._emit(self._message(first, response.headers, response.body))

    def log_error(self, request: Request, error: BaseException, *, duration: float) -> None:
        self._emit(
            f"!!! {self._title(request)} failed after {duration * 1000:.1f} ms: "
            f"{type(error).__name__}: {error}"
        )
