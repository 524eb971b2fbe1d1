"""``spherekit session login|logout|whoami``: the session, and the session cache.

``login`` logs in to the target and keeps the session's cookie in the session cache
(:mod:`spherekit.cli.session_cache`; never the password), so later commands against that
URL and user reuse the session instead of logging in. ``logout`` ends the cached session on
the server and drops it from the cache. The local lab is opened by each command in its own
process and needs no login: there both verbs say so and change nothing.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from spherekit.cli.output import Result, leaf, table
from spherekit.cli.target import Connection, is_not_authenticated, resolve, say

if TYPE_CHECKING:
    from spherekit.cli.session_cache import Entry, SessionCache

__all__ = ["add"]


def add(sub: Any) -> None:
    p = sub.add_parser("session", help="the session: login, logout, whoami")
    verbs = p.add_subparsers(dest="verb", required=True, metavar="VERB")
    leaf(verbs, "login", "log in and keep the session for later commands (not the password)"
         ).set_defaults(handler=login, offline=True)  # fmt: skip
    leaf(verbs, "logout", "end the kept session on the server and forget it"
         ).set_defaults(handler=logout, offline=True)  # fmt: skip
    leaf(verbs, "whoami", "the logged-in user and session").set_defaults(handler=whoami)


def _fields(data: dict[str, Any]) -> str:
    return table([{"k": k, "v": v} for k, v in data.items()], [("k", "FIELD"), ("v", "VALUE")])


def login(_conn: None, args: argparse.Namespace) -> Result:
    from spherekit.cli.session_cache import Entry, SessionCache

    with Connection(args, login=True) as conn:
        us = conn.session.user_session
        data: dict[str, Any] = {
            "target": "lab",
            "user": us.userName if us else None,
            "cached": False,
            "cache_file": None,
            "login_time": us.loginTime if us else None,
            "api_version": conn.session.api_version,
            "replaced": False,
        }
        if conn.lab is not None:
            text = ("the local lab needs no login (each command opens it itself); nothing "
                    "was cached")  # fmt: skip
            return Result(data, text)
        assert conn.key is not None and conn.session.cookie is not None
        url, user = conn.key
        assert user is not None  # a login without one fails earlier
        cache = SessionCache()
        old = _find_quietly(cache, url, user)
        if old is not None:
            _end_quietly(args, old)  # one cached session per target: end the one it replaces
        entry = Entry.new(url, user, conn.session.cookie)
        if cache.put(entry):
            say(f"the session cache {cache.path} was unreadable; replaced it")
        conn.cached = entry  # leave it logged in
        data.update(target=url, user=user, cached=True, cache_file=cache.path,
                    replaced=old is not None)  # fmt: skip
        text = (f"logged in to {url} as {user}; the session is kept in {cache.path} for later "
                "commands (`spherekit session logout` ends it)")  # fmt: skip
        return Result(data, text)


def _find_quietly(cache: SessionCache, url: str, user: str) -> Entry | None:
    from spherekit.cli.session_cache import CacheCorrupt

    try:
        return cache.find(url, user)
    except CacheCorrupt:
        return None


def _end_quietly(args: argparse.Namespace, entry: Entry) -> None:
    """Log out a cached session that is being replaced (it may be gone already)."""
    from spherekit.errors import SpherekitError

    try:
        conn = Connection(args, notice=False, resume=entry)
    except SpherekitError:
        return
    conn.cached = None  # close() logs out
    conn.close()


def logout(_conn: None, args: argparse.Namespace) -> Result:
    from spherekit.cli.session_cache import CacheCorrupt, SessionCache, split_url

    t = resolve(args)
    data: dict[str, Any] = {"target": "lab", "user": None, "logged_out": False,
                            "removed": False, "cache_file": None}  # fmt: skip
    if t.url is None:
        return Result(data, "the local lab has no session to log out (it needs no login)")
    _, url, user, _ = split_url(t.url, t.user)
    cache = SessionCache()
    data.update(target=url, user=user, cache_file=cache.path)
    try:
        entry = cache.find(url, user)
    except CacheCorrupt as e:
        data["removed"] = cache.discard()
        text = (f"the session cache {cache.path} was unreadable ({e}) and was removed; "
                "nothing was logged out on the server")  # fmt: skip
        return Result(data, text)
    who = user or "any user"
    if entry is None:
        return Result(data, f"no cached session of {who} at {url}; nothing to log out")
    data["user"] = entry.user
    try:
        conn = Connection(args, notice=False, resume=entry)
    except Exception as e:
        if not is_not_authenticated(e):
            raise  # the server could not be asked: keep the entry, so logout can be retried
        ended = "the server had already ended it"
    else:
        with conn:
            conn.cached = None  # close() logs out
        data["logged_out"] = True
        ended = "logged it out"
    data["removed"] = cache.remove(entry.url, entry.user)
    return Result(data, f"{ended}; removed the session of {entry.user} at {url} from the cache")


def whoami(conn: Connection, args: argparse.Namespace) -> Result:
    us = conn.session.user_session
    data = {
        "user": us.userName if us else None,
        "full_name": us.fullName if us else None,
        "login_time": us.loginTime if us else None,
        "target": "lab" if conn.key is None else conn.key[0],  # never the URL's password
        "api_version": conn.session.api_version,
        "cached": conn.reused,
    }
    return Result(data, _fields(data))
