"""SearchIndex.FindByIp / FindByDnsName (and FindAll*) over the guest model's addresses."""

from __future__ import annotations

import spherekit
from spherekit import find, vim
from spherekit.sim import Simulator


def test_vms_are_found_by_guest_address_and_host_name() -> None:
    sim = Simulator(seed=3, guest_ip_delay=0.01)
    try:
        s = spherekit.connect(sim.inprocess_url, transport=sim.transport())
        vm = find.by_path(s, "/DC0/vm/DC0_H0_VM0")
        handle = vim.VirtualMachine(s, vm)
        spherekit.wait_for_task(s, handle.PowerOffVM_Task(), timeout=30)
        spherekit.wait_for_task(s, handle.PowerOnVM_Task(), timeout=30)  # the guest boots
        ip = spherekit.wait_for(s, vm, "guest.ipAddress", bool, timeout=30)
        assert find.by_ip(s, ip) == vm
        assert find.by_dns_name(s, "DC0_H0_VM0") == vm  # the guest's host name: the VM name
        index = s.content.searchIndex
        assert index is not None
        assert s.call(index, "FindAllByIp", ip=ip, vmSearch=True) == [vm]
        assert s.call(index, "FindAllByDnsName", dnsName="nope", vmSearch=True) in (None, [])
        dc = find.by_path(s, "/DC0")
        assert find.by_ip(s, ip, datacenter=dc) == vm
        host = find.by_path(s, "/DC0/host/DC0_H0/DC0_H0")
        assert find.by_dns_name(s, "DC0_H0", vm=False) == host
        try:
            find.by_ip(s, "192.0.2.1")
        except find.NotFound as e:
            assert "192.0.2.1" in str(e)
        else:
            raise AssertionError("an unknown address was found")
        s.close()
    finally:
        sim.stop()
