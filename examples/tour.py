"""A tour of the spherekit client against any vCenter (the README runs it against vcsim).

    python examples/tour.py https://user:pass@vcenter.example.com/sdk --thumbprint AB:CD:...

It lists the VMs with one bulk read, powers one off and on again while showing the
task's progress, takes a snapshot, reconfigures the CPU count and puts everything back.
"""

from __future__ import annotations

import argparse
import sys
import time

import spherekit
from spherekit import faults, find, vim


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("url", help="https://user:pass@host/sdk")
    ap.add_argument("--thumbprint", help="the server certificate's SHA-256 thumbprint")
    ap.add_argument("--ca-file", help="a CA bundle that signed the server certificate")
    ap.add_argument("--insecure", action="store_true", help="do not verify TLS (not advised)")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    with spherekit.connect(
        args.url, thumbprint=args.thumbprint, ca_file=args.ca_file, insecure=args.insecure
    ) as s:
        about = s.content.about
        print(
            f"connected to {about.fullName} (API {s.api_version}) "
            f"in {time.perf_counter() - t0:.2f} s"
        )

        paths = [
            "name",
            "runtime.powerState",
            "config.hardware.numCPU",
            "config.hardware.memoryMB",
            "guest.ipAddress",
        ]
        rows = spherekit.fetch(s, "VirtualMachine", paths)
        print(f"\n{len(rows)} VMs (one bulk read):")
        print(f"  {'NAME':<20} {'POWER':<11} {'CPU':>3} {'MEM MB':>7}  IP")
        for _ref, v in sorted(rows, key=lambda r: r[1].get("name", ""))[:10]:
            print(
                f"  {v.get('name', '?'):<20} {v.get('runtime.powerState', ''):<11} "
                f"{v.get('config.hardware.numCPU', ''):>3} "
                f"{v.get('config.hardware.memoryMB', ''):>7}  {v.get('guest.ipAddress') or '-'}"
            )

        ref = find.by_path(s, "/DC0/vm/DC0_H0_VM0")
        vm = vim.VirtualMachine(s, ref)
        print(f"\n/DC0/vm/DC0_H0_VM0 is {ref}")

        def progress(task: spherekit.MoRef, pct: int | None, state: str | None) -> None:
            print(f"  {task.value}: {state} {pct if pct is not None else ''}")

        print("power off:")
        spherekit.wait_for_task(s, vm.PowerOffVM_Task(), on_progress=progress, timeout=60)
        try:
            spherekit.wait_for_task(s, vm.PowerOffVM_Task(), timeout=60)
        except faults.InvalidPowerState as e:
            print(f"power off again -> typed fault: {e}")

        print("snapshot:")
        snap = spherekit.wait_for_task(
            s, vm.CreateSnapshot_Task(name="tour", memory=False, quiesce=False), timeout=60
        )
        print(f"  created {snap}")

        old_cpu = dict(rows)[ref]["config.hardware.numCPU"]
        spec = vim.VirtualMachineConfigSpec(numCPUs=old_cpu + 1)
        spherekit.wait_for_task(s, vm.ReconfigVM_Task(spec=spec), timeout=60)
        new_cpu = dict(spherekit.fetch(s, "VirtualMachine", ["config.hardware.numCPU"]))[ref]
        print(f"reconfigured CPUs: {old_cpu} -> {new_cpu['config.hardware.numCPU']}")

        print("put everything back:")
        spherekit.wait_for_task(
            s,
            vim.VirtualMachineSnapshot(s, snap).RemoveSnapshot_Task(removeChildren=True),
            timeout=60,
        )
        spherekit.wait_for_task(
            s, vm.ReconfigVM_Task(spec=vim.VirtualMachineConfigSpec(numCPUs=old_cpu)), timeout=60
        )
        spherekit.wait_for_task(s, vm.PowerOnVM_Task(), on_progress=progress, timeout=60)
        state = spherekit.wait_for(
            s, vm, "runtime.powerState", lambda p: p == "poweredOn", timeout=30
        )
        print(f"  {ref.value} is {state} again")
    print(f"\ndone in {time.perf_counter() - t0:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
