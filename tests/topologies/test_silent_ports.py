"""topologies/common.py's switch keeps its ports quiet from the moment they exist: IPv6
is off on every switch port before any switch starts (a port of a switch that starts
late would otherwise send router solicitations into a neighbour already controlled,
which would take the port for a host's)."""

import pytest
from mininet.net import Mininet

from topologies.common import OVS13_USERSPACE
from topologies.fattree import FatTreeTopo

pytestmark = pytest.mark.mininet


def test_every_switch_port_has_ipv6_off_before_any_switch_starts(mininet_machine):
    net = Mininet(topo=FatTreeTopo(k=4), switch=OVS13_USERSPACE, controller=None, build=True)
    try:
        ports = [intf.name for sw in net.switches for intf in sw.intfList() if intf.name != 'lo']
        ends = [i for link in net.links for i in (link.intf1, link.intf2) if i.node in net.switches]
        assert len(ports) == len(ends) == 80, ports  # k=4: 16 host ports, 32 links between switches
        speaking = []
        for name in ports:
            with open('/proc/sys/net/ipv6/conf/%s/disable_ipv6' % name) as f:
                if f.read().strip() != '1':
                    speaking.append(name)
        assert not speaking, speaking
    finally:
        net.stop()
