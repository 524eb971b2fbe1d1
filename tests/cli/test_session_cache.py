"""``spherekit session login|logout|whoami`` and the session cache, against a served simulator.

Reuse is proven on the server: the simulator's session table (which sessions exist, and
their keys) is read directly, as it runs in this process.
"""

from __future__ import annotations

import json
import stat
import threading
from pathlib import Path

import pytest

import spherekit
from spherekit.cli.session_cache import Entry, SessionCache, split_url
from spherekit.sim import Simulator
from tests.cli.conftest import Run, as_json


@pytest.fixture
def env(env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    return {**env, "XDG_CACHE_HOME": str(tmp_path / "cache")}


@pytest.fixture
def cache_file(tmp_path: Path) -> Path:
    return tmp_path / "cache" / "spherekit" / "sessions.json"


@pytest.fixture
def sim(served: Simulator) -> Simulator:
    served.control.expire_sessions()  # each test starts with no sessions on the server
    return served


def target(sim: Simulator, *, user: bool = True, password: bool = False) -> list[str]:
    flags = ["--url", sim.sdk_url, "--thumbprint", sim.thumbprint or ""]
    if user:
        flags += ["--user", sim.user]
    if password:
        flags += ["--password", sim.password]
    return flags


def server_sessions(sim: Simulator) -> set[str]:
    with sim.backend.registry.lock:
        return {s.key for s in sim.backend.sessions.all()}


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def login(cli: Run, sim: Simulator) -> dict[str, object]:
    doc: dict[str, object] = as_json(cli(*target(sim, password=True), "session", "login", "--json"))
    return doc


def test_login_keeps_the_session_and_later_commands_reuse_it(
    cli: Run, sim: Simulator, cache_file: Path
) -> None:
    doc = login(cli, sim)
    assert doc["cached"] is True and doc["replaced"] is False
    assert doc["target"] == sim.sdk_url and doc["user"] == sim.user
    assert doc["cache_file"] == str(cache_file)
    (key,) = server_sessions(sim)  # logged in, and left logged in

    # no password: only the cached session can make these work
    who = as_json(cli(*target(sim), "session", "whoami", "--json"))
    assert who["cached"] is True and who["user"] == sim.user
    assert who["login_time"] == doc["login_time"]  # the same session, not a new login
    rows = as_json(cli(*target(sim), "--json", "vm", "ls"))
    assert "DC0_H0_VM0" in {r["name"] for r in rows}
    # with the password too, the cached session is still preferred to a new login
    assert as_json(cli(*target(sim, password=True), "session", "whoami", "--json"))["cached"]
    # the URL alone finds the only cached session of that URL
    assert as_json(cli(*target(sim, user=False), "session", "whoami", "--json"))["cached"]
    assert server_sessions(sim) == {key}  # nothing logged in, nothing logged out


def test_cache_file_is_private_and_holds_no_password(
    cli: Run, sim: Simulator, cache_file: Path
) -> None:
    login(cli, sim)
    assert stat.S_IMODE(cache_file.stat().st_mode) == 0o600
    text = cache_file.read_text()
    assert sim.password not in text
    (entry,) = json.loads(text)["sessions"]
    assert entry["url"] == sim.sdk_url and entry["user"] == sim.user
    assert entry["cookie"].startswith("vmware_soap_session=")
    # a file someone loosened is replaced by a private one on the next login
    cache_file.chmod(0o644)
    doc = login(cli, sim)
    assert doc["replaced"] is True
    assert stat.S_IMODE(cache_file.stat().st_mode) == 0o600
    assert len(server_sessions(sim)) == 1  # the replaced session was logged out


def test_cookie_never_reaches_output_or_trace(
    cli: Run, sim: Simulator, cache_file: Path, tmp_path: Path
) -> None:
    login(cli, sim)
    cookie = json.loads(cache_file.read_text())["sessions"][0]["cookie"]
    value = cookie.partition("=")[2].strip('"')
    trace = tmp_path / "trace.log"
    p = cli(*target(sim), "--trace", str(trace), "session", "whoami", "--json")
    assert as_json(p)["cached"] is True
    assert value not in p.stdout + p.stderr
    log = trace.read_text()
    assert "Cookie" in log and value not in log


def test_expired_session_without_password_says_to_log_in(
    cli: Run, sim: Simulator, cache_file: Path
) -> None:
    login(cli, sim)
    assert sim.control.expire_sessions(sim.user) == 1
    p = cli(*target(sim), "session", "whoami")
    assert p.returncode == 4 and p.stdout == ""
    line = one_line(p.stderr)
    assert "has ended" in line and "spherekit session login" in line
    assert not cache_file.exists()  # the dead entry was dropped (it was the only one)
    p = cli(*target(sim), "session", "whoami")  # now: nothing cached, no password
    assert p.returncode == 2
    assert "no cached session" in one_line(p.stderr) and "session login" in p.stderr


def test_expired_session_with_password_logs_in_normally(
    cli: Run, sim: Simulator, cache_file: Path
) -> None:
    login(cli, sim)
    sim.control.expire_sessions()
    p = cli(*target(sim, password=True), "session", "whoami", "--json")
    doc = as_json(p)
    assert doc["cached"] is False and doc["user"] == sim.user
    assert "has ended" in one_line(p.stderr)
    assert not cache_file.exists()
    assert server_sessions(sim) == set()  # an ordinary login: logged out at the end


def test_session_terminated_by_another_session_is_detected(
    cli: Run, sim: Simulator, cache_file: Path
) -> None:
    login(cli, sim)
    (cached_key,) = server_sessions(sim)
    with spherekit.connect(sim.url, thumbprint=sim.thumbprint) as admin:
        mgr = admin.content.sessionManager
        assert mgr is not None
        admin.call(mgr, "TerminateSession", sessionId=[cached_key])
    p = cli(*target(sim), "--json", "vm", "ls")
    assert p.returncode == 4 and "spherekit session login" in one_line(p.stderr)
    assert not cache_file.exists()


def test_logout_ends_the_session_and_is_idempotent(
    cli: Run, sim: Simulator, cache_file: Path
) -> None:
    login(cli, sim)
    assert len(server_sessions(sim)) == 1
    doc = as_json(cli(*target(sim), "session", "logout", "--json"))
    assert doc == {"target": sim.sdk_url, "user": sim.user, "logged_out": True,
                   "removed": True, "cache_file": str(cache_file)}  # fmt: skip
    assert server_sessions(sim) == set()
    assert not cache_file.exists()
    p = cli(*target(sim), "session", "logout")
    assert p.returncode == 0 and "nothing to log out" in p.stdout
    doc = as_json(cli(*target(sim), "session", "logout", "--json"))
    assert doc["logged_out"] is False and doc["removed"] is False
    p = cli(*target(sim), "session", "whoami")
    assert p.returncode == 2 and "spherekit session login" in one_line(p.stderr)


def test_logout_of_an_ended_session_still_forgets_it(
    cli: Run, sim: Simulator, cache_file: Path
) -> None:
    login(cli, sim)
    sim.control.expire_sessions()
    p = cli(*target(sim), "session", "logout", "--json")
    doc = as_json(p)
    assert doc["logged_out"] is False and doc["removed"] is True
    assert not cache_file.exists()


def test_logout_keeps_other_targets(cli: Run, sim: Simulator, cache_file: Path) -> None:
    other = {"url": "https://vc.example.com/sdk", "user": "someone", "cookie": "x=1",
             "saved": "2026-01-01T00:00:00+00:00"}  # fmt: skip
    cache_file.parent.mkdir(parents=True)
    cache_file.write_text(json.dumps({"version": 1, "sessions": [other]}))
    login(cli, sim)
    assert len(json.loads(cache_file.read_text())["sessions"]) == 2
    as_json(cli(*target(sim), "session", "logout", "--json"))
    assert json.loads(cache_file.read_text())["sessions"] == [other]


@pytest.mark.parametrize(
    "content", ["{not json", '{"version": 99, "sessions": []}', '{"version": 1, "sessions": [1]}']
)
def test_corrupt_cache_file_is_one_clear_line(
    cli: Run, sim: Simulator, cache_file: Path, content: str
) -> None:
    cache_file.parent.mkdir(parents=True)
    cache_file.write_text(content)
    # no password: the cache was the only way in
    p = cli(*target(sim), "session", "whoami")
    assert p.returncode == 2 and p.stdout == ""
    line = one_line(p.stderr)
    assert str(cache_file) in line and "unreadable" in line and "session login" in line
    # with a password: a notice, and the command works
    p = cli(*target(sim, password=True), "session", "whoami", "--json")
    assert as_json(p)["cached"] is False
    assert "unreadable" in one_line(p.stderr)
    # login rewrites the file
    p = cli(*target(sim, password=True), "session", "login", "--json")
    assert as_json(p)["cached"] is True and "replaced it" in one_line(p.stderr)
    assert stat.S_IMODE(cache_file.stat().st_mode) == 0o600
    assert as_json(cli(*target(sim), "session", "whoami", "--json"))["cached"] is True


def test_logout_removes_a_corrupt_cache_file(cli: Run, sim: Simulator, cache_file: Path) -> None:
    cache_file.parent.mkdir(parents=True)
    cache_file.write_bytes(b"\xff\xfe garbage")
    p = cli(*target(sim), "session", "logout", "--json")
    assert as_json(p)["removed"] is True
    assert not cache_file.exists()


def test_several_users_of_one_url_need_user(cli: Run, sim: Simulator, cache_file: Path) -> None:
    login(cli, sim)
    doc = json.loads(cache_file.read_text())
    doc["sessions"].append({**doc["sessions"][0], "user": "other"})
    cache_file.write_text(json.dumps(doc))
    p = cli(*target(sim, user=False), "session", "whoami")
    assert p.returncode == 2 and "--user" in one_line(p.stderr)
    assert as_json(cli(*target(sim), "session", "whoami", "--json"))["cached"] is True


def test_login_needs_a_password(cli: Run, sim: Simulator, cache_file: Path) -> None:
    p = cli(*target(sim), "session", "login")
    assert p.returncode == 2 and "--password" in one_line(p.stderr)
    assert not cache_file.exists()
    p = cli(*target(sim, password=False), "--password", "wrong", "session", "login")
    assert p.returncode == 4 and p.stdout == ""
    one_line(p.stderr)
    assert not cache_file.exists()


def test_lab_verbs_need_no_cache(cli: Run, cache_file: Path) -> None:
    doc = as_json(cli("session", "login", "--json"))
    assert doc["target"] == "lab" and doc["cached"] is False and doc["cache_file"] is None
    p = cli("session", "login")
    assert p.returncode == 0 and "needs no login" in p.stdout
    doc = as_json(cli("session", "logout", "--json"))
    assert doc == {"target": "lab", "user": None, "logged_out": False, "removed": False,
                   "cache_file": None}  # fmt: skip
    who = as_json(cli("session", "whoami", "--json"))
    assert who["target"] == "lab" and who["cached"] is False
    assert not cache_file.parent.exists()


def test_session_help_lists_the_verbs(cli: Run) -> None:
    p = cli("session", "--help")
    assert p.returncode == 0
    for verb in ("login", "logout", "whoami"):
        assert verb in p.stdout


def test_cache_keys_ignore_credentials_and_case() -> None:
    origin, key, user, password = split_url("HTTPS://bob%40corp:p%3Ass@VC.Example.com:8443", None)
    assert origin == "https://VC.Example.com:8443"
    assert key == "https://vc.example.com:8443/sdk"
    assert (user, password) == ("bob@corp", "p:ss")
    assert split_url("https://u:p@vc/sdk/", "alice")[1:3] == ("https://vc/sdk", "alice")


def test_concurrent_writers_lose_no_entry(tmp_path: Path) -> None:
    cache = SessionCache(tmp_path / "c" / "sessions.json")

    def put(i: int) -> None:
        cache.put(Entry.new("https://vc/sdk", f"user{i}", f"vmware_soap_session={i}"))

    threads = [threading.Thread(target=put, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(e.user for e in cache.entries()) == sorted(f"user{i}" for i in range(16))
    assert stat.S_IMODE(cache.path.stat().st_mode) == 0o600
    assert "vmware_soap_session=3" not in repr(cache.find("https://vc/sdk", "user3"))
    assert cache.remove("https://vc/sdk", "user3") and not cache.remove("https://vc/sdk", "user3")
