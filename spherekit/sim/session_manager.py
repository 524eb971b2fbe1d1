"""SessionManager: Login, Logout, SessionIsActive, TerminateSession, the session list.

A successful Login answers with a new ``vmware_soap_session`` cookie; every later call
presents it. Wrong credentials raise ``InvalidLogin``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from spherekit.schema.base import MoRef
from spherekit.sim import faults
from spherekit.sim.accounts import authenticate
from spherekit.sim.events import emit
from spherekit.sim.methods import computed, handler

if TYPE_CHECKING:
    from spherekit.schema.vim25.data import UserSession
    from spherekit.sim.backend import Context

__all__: list[str] = []


@handler("SessionManager", "Login")
def login(
    ctx: Context, this: MoRef, *, userName: str, password: str, locale: str | None = None
) -> UserSession:
    from spherekit.schema.vim25.data import InvalidLogin

    if not authenticate(ctx.backend.accounts, userName, password):
        raise faults.with_msg(
            InvalidLogin(), "Cannot complete login due to an incorrect user name or password."
        )
    s = ctx.backend.sessions.login(userName, ctx.peer, ctx.user_agent, locale or "en")
    ctx.session = s
    ctx.response_cookie = s.cookie
    emit(
        ctx,
        "UserLoginSessionEvent",
        message=f"User {s.user}@{s.ip} logged in as {s.agent}",
        ipAddress=s.ip,
        userAgent=s.agent,
        locale=s.locale,
        sessionId=s.key,
    )
    return s.user_session()


@handler("SessionManager", "Logout")
def logout(ctx: Context, this: MoRef) -> None:
    s = ctx.require_session()
    emit(
        ctx,
        "UserLogoutSessionEvent",
        message=f"User {s.user}@{s.ip} logged out (login time: "
        f"{s.login_time:%A, %d %B, %Y %I:%M:%S %p}, number of API invocations: {s.call_count}, "
        f"user agent: {s.agent})",
        ipAddress=s.ip,
        userAgent=s.agent,
        callCount=s.call_count,
        sessionId=s.key,
        loginTime=s.login_time,
    )
    ctx.backend.sessions.end(s)
    ctx.response_cookie = ""


@handler("SessionManager", "SessionIsActive")
def session_is_active(ctx: Context, this: MoRef, *, sessionID: str, userName: str) -> bool:
    ctx.require_session()
    s = ctx.backend.sessions.by_key(sessionID)
    return s is not None and s.user == userName


@handler("SessionManager", "TerminateSession")
def terminate_session(ctx: Context, this: MoRef, *, sessionId: list[str]) -> None:
    me = ctx.require_session()
    sessions = ctx.backend.sessions
    targets = []
    for key in sessionId:
        s = sessions.by_key(key)
        if s is None:
            from spherekit.schema.vim25.data import NotFound

            raise faults.with_msg(NotFound(), f"session {key} does not exist")
        if s is me:
            raise faults.invalid_argument("sessionId", "a session cannot terminate itself")
        targets.append(s)
    for s in targets:
        emit(
            ctx,
            "SessionTerminatedEvent",
            message=f"A session for user '{s.user}' has stopped",
            sessionId=s.key,
            terminatedUsername=s.user,
        )
        sessions.end(s)


@computed("SessionManager", "currentSession")
def _current_session(ctx: Context, ref: MoRef) -> UserSession | None:
    return ctx.session.user_session() if ctx.session is not None else None


@computed("SessionManager", "sessionList")
def _session_list(ctx: Context, ref: MoRef) -> list[UserSession] | None:
    # vCenter shows the list only to users who may terminate sessions
    me = ctx.require_session()
    a = ctx.backend.access
    if not a.has(me.user, a.root, "Sessions.TerminateSession"):
        raise faults.no_permission(a.root, "Sessions.TerminateSession")
    sessions = [s.user_session() for s in ctx.backend.sessions.all()]
    return sessions or None
