"""A cold ``spherekit vm ls --json`` on the default lab, beside pyVmomi's bulk listing.

    python -m benchmarks.cli_cold [--repeat 7] [--baseline DIR]

Each sample is a new process (cold: interpreter start, imports, opening the lab, the
listing). Bytecode is compiled first, as a pip install does. Timed, interleaved:

- the CLI on the default lab (opened in the CLI's process), and ``spherekit --help`` (the
  cost of starting the CLI at all);
- against the same lab served by ``spherekit sim serve --state``: the CLI logging in and
  out (``--url``), the CLI reusing a session kept by ``spherekit session login`` (no Login,
  one check of the session), and the peer: a new process running pyVmomi's idiomatic
  listing (SmartConnect + ContainerView + RetrievePropertiesEx of the same fields). So the
  lab's own start-up cost shows.

``--baseline DIR`` times the default-lab, served (login and out) and ``--help`` commands
also with the ``spherekit`` package found in DIR (another revision's tree), interleaved with
this one's. The issue's target: the CLI on the default lab at most 0.5 s.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import unquote

from benchmarks._report import RESULTS, ROOT, environment, summary, table, write_json

PYVMOMI_LIST = """
import ssl, sys
from pyVim.connect import SmartConnect
from pyVmomi import vim, vmodl
host, port, user, pwd = sys.argv[1:5]
si = SmartConnect(host=host, port=int(port), user=user, pwd=pwd, disableSslCertValidation=True)
c = si.RetrieveContent()
view = c.viewManager.CreateContainerView(c.rootFolder, [vim.VirtualMachine], True)
spec = vmodl.query.PropertyCollector.FilterSpec(
    objectSet=[vmodl.query.PropertyCollector.ObjectSpec(obj=view, skip=True, selectSet=[
        vmodl.query.PropertyCollector.TraversalSpec(name="v", type=vim.ContainerView,
                                                     path="view", skip=False)])],
    propSet=[vmodl.query.PropertyCollector.PropertySpec(type=vim.VirtualMachine, pathSet=[
        "name", "runtime.powerState", "config.hardware.numCPU", "config.hardware.memoryMB",
        "guest.ipAddress", "config.template"])])
options = vmodl.query.PropertyCollector.RetrieveOptions()
result = c.propertyCollector.RetrievePropertiesEx([spec], options)
rows = [{p.name: p.val for p in o.propSet} for o in result.objects]
view.Destroy()
print(len(rows))
"""


THUMBPRINT = """
import hashlib, ssl, sys
der = ssl.PEM_cert_to_DER_cert(ssl.get_server_certificate((sys.argv[1], int(sys.argv[2]))))
print(":".join(f"{b:02X}" for b in hashlib.sha256(der).digest()))
"""


def timed(cmd: list[str], env: dict[str, str], expect: str) -> float:
    start = time.perf_counter()
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    elapsed = time.perf_counter() - start
    if expect not in out:  # each run must really have listed the VMs
        raise SystemExit(f"{cmd[:4]} printed {out[:200]!r}, expected {expect!r} in it")
    return elapsed


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--baseline", type=Path, help="a tree holding another revision's spherekit/")
    args = ap.parse_args(argv)
    py = sys.executable
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    trees = [ROOT / "spherekit"]
    if args.baseline is not None:
        if not (args.baseline / "spherekit" / "cli" / "main.py").is_file():
            raise SystemExit(f"--baseline {args.baseline}: no spherekit/cli/main.py there")
        trees.append(args.baseline / "spherekit")
    for tree in trees:
        subprocess.run([py, "-m", "compileall", "-q", str(tree)], env=env, check=True)
    home = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        env["SPHEREKIT_LAB"] = str(Path(tmp) / "lab.db")
        env["SPHEREKIT_JOURNAL"] = str(Path(tmp) / "journal.jsonl")
        env["XDG_CACHE_HOME"] = str(Path(tmp) / "cache")  # the session cache of this run
        env.pop("PYTHONPATH", None)
        # run from a neutral directory: `python -m` puts the working directory first on
        # sys.path, which would shadow --baseline's tree when run from the repository
        os.chdir(tmp)
        base_env = {**env, "PYTHONPATH": str(args.baseline)} if args.baseline else env
        cli = [py, "-m", "spherekit", "vm", "ls", "--json"]
        subprocess.run(cli, env=env, check=True, capture_output=True)  # creates the lab
        cli_samples: list[float] = []
        base_samples: list[float] = []
        served_samples: list[float] = []
        cached_samples: list[float] = []
        base_served: list[float] = []
        py_samples: list[float] = []
        help_cmd = [py, "-m", "spherekit", "--help"]  # no target: the parser's own cost
        help_samples: list[float] = []
        base_help: list[float] = []
        for _ in range(args.repeat):  # interleaved
            cli_samples.append(timed(cli, env, '"name": "DC0_H0_VM0"'))
            help_samples.append(timed(help_cmd, env, "session"))
            if args.baseline is not None:
                base_samples.append(timed(cli, base_env, '"name": "DC0_H0_VM0"'))
                base_help.append(timed(help_cmd, base_env, "session"))
        server = subprocess.Popen(
            [py, "-m", "spherekit", "sim", "serve", "--state", env["SPHEREKIT_LAB"]],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        try:
            assert server.stdout is not None
            url = server.stdout.readline().strip()
            creds, _, hostpart = url.removeprefix("https://").partition("@")
            user, _, pwd = creds.partition(":")
            host, _, port = hostpart.split("/", 1)[0].rpartition(":")
            peer = [py, "-c", PYVMOMI_LIST, host, port, user, pwd]
            thumb = subprocess.run(
                [py, "-c", THUMBPRINT, host, port], capture_output=True, text=True, check=True
            ).stdout.strip()
            served = [py, "-m", "spherekit", "--url", url, "--thumbprint", thumb,
                      "vm", "ls", "--json"]  # fmt: skip
            bare = f"https://{hostpart}"  # no credentials: only the kept session gets in
            cached = [py, "-m", "spherekit", "--url", bare, "--user", unquote(user), "--thumbprint",
                      thumb, "vm", "ls", "--json"]  # fmt: skip
            login = [py, "-m", "spherekit", "--url", url, "--thumbprint", thumb, "session",
                     "login"]  # fmt: skip
            subprocess.run(login, env=env, check=True, capture_output=True)
            # login + logout every time: an empty session cache
            fresh = {**env, "XDG_CACHE_HOME": str(Path(tmp) / "no-cache")}
            base_fresh = {**base_env, "XDG_CACHE_HOME": fresh["XDG_CACHE_HOME"]}
            for _ in range(args.repeat):  # interleaved
                py_samples.append(timed(peer, env, "4"))
                served_samples.append(timed(served, fresh, '"name": "DC0_H0_VM0"'))
                cached_samples.append(timed(cached, env, '"name": "DC0_H0_VM0"'))
                if args.baseline is not None:
                    base_served.append(timed(served, base_fresh, '"name": "DC0_H0_VM0"'))
        finally:
            server.terminate()
            server.wait(timeout=30)
            os.chdir(home)
    cli_s, py_s, served_s = summary(cli_samples), summary(py_samples), summary(served_samples)
    cached_s = summary(cached_samples)
    base_s = summary(base_samples) if base_samples else None
    base_served_s = summary(base_served) if base_served else None
    rows = [
        ("spherekit vm ls --json (lab)", cli_s),
        *([("  the same, --baseline tree", base_s)] if base_s else []),
        ("spherekit vm ls --json (served lab, login + logout)", served_s),
        *([("  the same, --baseline tree", base_served_s)] if base_served_s else []),
        ("spherekit vm ls --json (served lab, kept session)", cached_s),
        ("pyVmomi SmartConnect + bulk read (served lab)", py_s),
        ("spherekit --help", summary(help_samples)),
        *([("  the same, --baseline tree", summary(base_help))] if base_help else []),
    ]
    cells = [[name, f"{st['median']:.3f}", f"{st['min']:.3f}"] for name, st in rows]
    print(table(["cold command", "median s", "min s"], cells))
    verdict = "meets" if cli_s["median"] <= 0.5 else "MISSES"
    print(f"\nspherekit vm ls --json: {cli_s['median']:.3f} s ({verdict} the target 0.5 s)")
    write_json(
        RESULTS / "cli_cold.json",
        {
            "benchmark": "cli_cold",
            "repeat": args.repeat,
            "cli_s": cli_s,
            "cli_baseline_s": base_s,
            "baseline": str(args.baseline) if args.baseline else None,
            "cli_served_s": served_s,
            "cli_served_baseline_s": base_served_s,
            "cli_served_cached_s": cached_s,
            "pyvmomi_s": py_s,
            "help_s": summary(help_samples),
            "help_baseline_s": summary(base_help) if base_help else None,
            "target_s": 0.5,
            "environment": environment(),
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
