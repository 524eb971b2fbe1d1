"""The CLI against a served simulator (--url/--thumbprint), and network/TLS/login errors."""

from __future__ import annotations

import socket

from spherekit.sim import Simulator
from tests.cli.conftest import Run, as_json


def _flags(sim: Simulator, password: str | None = None) -> list[str]:
    return ["--url", sim.sdk_url, "--user", sim.user, "--password", password or sim.password,
            "--thumbprint", sim.thumbprint or ""]  # fmt: skip


def test_served_about_and_vm_ls(cli: Run, served: Simulator) -> None:
    p = cli(*_flags(served), "about", "--json")
    doc = as_json(p)
    assert doc["target"] == served.sdk_url and doc["lab"] is None
    assert "local lab" not in p.stderr
    rows = as_json(cli(*_flags(served), "--json", "vm", "ls"))
    assert "DC0_H0_VM0" in {r["name"] for r in rows}
    # credentials in the URL: shown without the password
    with_password = served.sdk_url.replace("://", f"://{served.user}:{served.password}@")
    p = cli("--url", with_password, "--thumbprint", served.thumbprint or "", "about", "--json")
    assert as_json(p)["target"] == served.sdk_url
    assert served.password not in p.stdout + p.stderr


def test_environment_and_profile(cli: Run, served: Simulator, env: dict[str, str]) -> None:
    e = {"SPHEREKIT_URL": served.url, "SPHEREKIT_THUMBPRINT": served.thumbprint or ""}
    assert as_json(cli("session", "whoami", "--json", extra=e))["user"] == served.user
    cfg = f"{env['XDG_CONFIG_HOME']}/spherekit"
    import os

    os.makedirs(cfg)
    with open(f"{cfg}/config.toml", "w") as f:
        f.write(
            f'[profiles.sim]\nurl = "{served.sdk_url}"\nuser = "{served.user}"\n'
            f'password = "{served.password}"\nthumbprint = "{served.thumbprint}"\n'
        )
    assert as_json(cli("--profile", "sim", "about", "--json"))["target"] == served.sdk_url
    p = cli("--profile", "nope", "about")
    assert p.returncode == 2 and "no profile 'nope'" in p.stderr


def test_wrong_password_exits_4(cli: Run, served: Simulator) -> None:
    p = cli(*_flags(served, password="wrong"), "about")
    assert p.returncode == 4 and p.stdout == ""
    assert len(p.stderr.strip().splitlines()) == 1 and "--password" in p.stderr


def test_wrong_certificate_exits_7(cli: Run, served: Simulator) -> None:
    flags = _flags(served)
    flags[-1] = "AA:" * 31 + "AA"
    p = cli(*flags, "about")
    assert p.returncode == 7 and len(p.stderr.strip().splitlines()) == 1
    assert "--thumbprint" in p.stderr
    p = cli("--url", served.url, "about")  # not pinned: the system CAs do not know it
    assert p.returncode == 7 and len(p.stderr.strip().splitlines()) == 1
    # the fix in this command's flags, with the certificate's own thumbprint to pin
    assert f"--thumbprint {served.thumbprint}" in p.stderr
    assert "thumbprint=" not in p.stderr and "insecure=True" not in p.stderr
    p = cli("sim", "fault", "list", "--url", served.url)
    assert p.returncode == 1 and len(p.stderr.strip().splitlines()) == 1
    assert f"--thumbprint {served.thumbprint}" in p.stderr and "insecure=True" not in p.stderr


def test_unreachable_host_exits_7(cli: Run) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    p = cli("--url", f"https://u:p@127.0.0.1:{port}/sdk", "about")
    assert p.returncode == 7 and len(p.stderr.strip().splitlines()) == 1
    assert "p@" not in p.stderr
