"""Hosts of a VLAN policy's access ports as ping endpoints.

Each VLAN gets its own subnet, 10.<n>.0.0/16 with n its position in the policy (1 for
the first), and every access host also gets an address in every other VLAN's subnet:
a ping across tenants is then not stopped by routing, so only VLAN isolation in the
switches can stop it.
"""

from tests.harness.network import host_ports
from tests.harness.traffic import Endpoint


def vlan_subnets(policy):
    """{vid: n} for the 10.n.0.0/16 subnet of each VLAN, in policy order."""
    return {vlan.vid: index for index, vlan in enumerate(policy.vlans.values(), start=1)}


def address(host, subnet):
    return '10.%d.0.%d' % (subnet, int(host.name[1:]))


def access_vids(net, policy):
    """{host name: VID} for every host on an access port of the policy."""
    by_port = {port: host for host, port in host_ports(net).items()}
    vids = {}
    for dp in policy.dps.values():
        switch = next((s.name for s in net.switches if int(s.dpid, 16) == dp.dp_id), None)
        for number, intf in dp.interfaces.items():
            host = by_port.get((switch, number))
            if host and intf.native_vlan is not None and not intf.tagged_vlans:
                vids[host] = intf.native_vlan.vid
    return vids


def configure_access_hosts(net, policy, vids=None):
    """Give the access hosts (all, or those of ``vids``: {host: VID}) their addresses;
    returns an Endpoint per host, named host(VID), at its own VLAN's address."""
    subnets = vlan_subnets(policy)
    endpoints = []
    for name, vid in sorted(
        (vids or access_vids(net, policy)).items(), key=lambda item: int(item[0][1:])
    ):
        host = net.get(name)
        intf = host.intf().name
        host.cmd('ip addr flush dev %s' % intf)
        # Its own subnet first: the address its pings leave from.
        for subnet in [subnets[vid]] + [n for v, n in subnets.items() if v != vid]:
            host.cmd('ip addr add %s/16 dev %s' % (address(host, subnet), intf))
        endpoints.append(Endpoint('%s(%d)' % (name, vid), host, address(host, subnets[vid])))
    return endpoints


def same_vlan_pairs(endpoints):
    vid = {e.name: e.name.split('(')[1].rstrip(')') for e in endpoints}
    return [
        (a.name, b.name)
        for a in endpoints
        for b in endpoints
        if a.host is not b.host and vid[a.name] == vid[b.name]
    ]
