"""FAUCET's L3 under apps/vswitch_policy.py on a real switch: inter-VLAN routing by a
router, static routes via a host, next hop resolution by the controller, and
restricted_bcast_arpnd (tests/mininet/policies/faucet_routing.yaml: one switch, h1-h5
on ports 1-5).

Hosts have their VLAN's VIP as default gateway: h1 office, h2 and h4 guest (h4 also
holds 172.16.0.1 and fd00:172::1, behind it by the static routes), h3 lab (a VLAN with
a VIP in no router), h5 office.
"""

import json
import os
import shutil
import time

from tests.harness.frames import frame, who_receives
from tests.harness.network import network_fixtures, wait_until
from topologies.linear import LinearTopo

POLICY = os.path.join(os.path.dirname(__file__), 'policies', 'faucet_routing.yaml')
HOSTS = {  # host: (IPv4/24, its gateway, IPv6/64 or None, its gateway)
    'h1': ('10.0.100.1', '10.0.100.254', 'fc00:100::1', 'fc00:100::254'),
    'h2': ('10.0.200.2', '10.0.200.254', 'fc00:200::2', 'fc00:200::254'),
    'h3': ('10.0.30.1', '10.0.30.254', None, None),
    'h4': ('10.0.200.4', '10.0.200.254', 'fc00:200::4', 'fc00:200::254'),
    'h5': ('10.0.100.5', '10.0.100.254', None, None),
}


def start_routed(controller, network, folder):
    policy = folder / 'faucet.yaml'
    shutil.copy(POLICY, policy)
    ctl = controller(
        ['apps/vswitch_policy.py'],
        config={'vswitch_policy': {'policy_file': str(policy), 'reload_poll': 0.5}},
    )
    net = network(LinearTopo(n=1, hosts_per_switch=5), ctl)
    assert wait_until(lambda: ctl.log_lines('connected:'), 20), ctl.log_tail()
    for name, (ip4, gw4, ip6, gw6) in HOSTS.items():
        host = net.get(name)
        intf = host.intf().name
        # IPv4 only: flushing all would take the link-local address too, without which
        # the kernel cannot probe a neighbour (NUD), so that a host's gateway entry
        # fails 8 s after its first use and its IPv6 default route goes dead.
        host.cmd('ip -4 addr flush dev %s' % intf)
        host.cmd('ip addr add %s/24 dev %s' % (ip4, intf))
        host.cmd('ip route add default via %s' % gw4)
        if ip6 is not None:
            host.cmd('sysctl -qw net.ipv6.conf.%s.disable_ipv6=0' % intf)
            host.cmd('ip -6 addr add %s/64 dev %s nodad' % (ip6, intf))
            host.cmd('ip -6 route add default via %s' % gw6)
    h4 = net.get('h4')
    h4.cmd('ip addr add 172.16.0.1/32 dev lo')
    h4.cmd('sysctl -qw net.ipv6.conf.lo.disable_ipv6=0')
    h4.cmd('ip -6 addr add fd00:172::1/128 dev lo')
    return ctl, net


shared_routed = network_fixtures(start_routed, 'routed')[1]


def ping(host, target, count=5, extra=''):
    return host.cmd('ping %s -c %d -i 0.2 -W 1 %s' % (extra, count, target))


def reaches(host, target, extra=''):
    """A warm-up (the first packets wait for the next hop to be resolved), then 5
    pings that must all come back: the output of those."""
    ping(host, target, count=3, extra=extra)
    return ping(host, target, extra=extra)


def fib(net):
    return net.get('s1').cmd('ovs-ofctl -O OpenFlow13 dump-flows s1 table=3')


class TestOneRouter:
    """One router for the three tests: each sends its own traffic and reads what it did;
    none changes the policy or a host."""

    def test_router_routes_between_its_vlans_not_to_others(self, shared_routed):
        """h1 (office) and h2 (guest) reach each other through the router, IPv4 and IPv6,
        with the TTL decremented once (a reply from a Linux host leaves with 64); a packet
        sent with TTL 1 dies in the router. h3 (lab, in no router) is not reached and
        reaches nothing routed. A UDP stream office -> guest loses nothing measurable."""
        ctl, net = shared_routed
        h1, h2, h3 = net.get('h1', 'h2', 'h3')
        out = reaches(h1, '10.0.200.2')
        assert ' 0% packet loss' in out and 'ttl=63' in out, out
        out = reaches(h1, 'fc00:200::2', extra='-6')
        assert ' 0% packet loss' in out and 'ttl=63' in out, out
        out = reaches(h2, '10.0.100.1')
        assert ' 0% packet loss' in out and 'ttl=63' in out, out
        assert '100% packet loss' in ping(h1, '10.0.200.2', count=3, extra='-t 1')
        assert '100% packet loss' in ping(h1, '10.0.30.1', count=3)
        assert '100% packet loss' in ping(h3, '10.0.100.1', count=3)
        assert '100% packet loss' in ping(h3, '10.0.200.2', count=3)
        # the lab VIP answers in its own VLAN only
        assert ' 0% packet loss' in ping(h3, '10.0.30.254', count=3)
        assert '100% packet loss' in ping(h1, '10.0.30.254', count=3)

        h2.cmd('iperf3 -s -1 -D -p 5201')
        time.sleep(0.5)
        report = json.loads(h1.cmd('iperf3 -c 10.0.200.2 -p 5201 -u -b 5M -t 3 -J'))
        udp = report['end']['sum']
        print(
            'routed UDP 5 Mb/s for 3 s: %d of %d datagrams lost (%.2f%%)'
            % (udp['lost_packets'], udp['packets'], udp['lost_percent'])
        )
        assert udp['packets'] > 1000 and udp['lost_percent'] < 1.0, udp

        table = fib(net)
        # host rules of the resolved neighbours, rewriting to the egress VLAN
        assert 'nw_dst=10.0.200.2' in table and 'dec_ttl' in table, table
        assert 'set_field:%s->eth_dst' % h2.MAC() in table, table
        assert 'ipv6_dst=fc00:200::2' in table, table
        # lab's host has its rule in lab only (lab routes its own subnet)
        lab_rules = [line for line in table.splitlines() if 'nw_dst=10.0.30.1 ' in line]
        assert lab_rules and all('dl_vlan=300' in line for line in lab_rules), table
        assert ctl.log_lines('next hop resolved')

    def test_static_route_via_a_host_and_a_silent_gateway(self, shared_routed):
        """guest's static routes: 172.16.0.0/24 and fd00:172::/64 via h4 are reached from
        office (h4 holds 172.16.0.1 and fd00:172::1 itself); 192.168.99.0/24 via
        10.0.200.99, which nobody answers, is not installed: its packets are dropped by
        the router (no packet-in for each) and the controller keeps asking the gateway."""
        ctl, net = shared_routed
        h1, h4 = net.get('h1', 'h4')
        # asked for by the controller alone (h4 sends nothing): within its backoff
        assert wait_until(lambda: 'nw_dst=172.16.0.0/24' in fib(net), 40), fib(net)
        out = reaches(h1, '172.16.0.1')
        assert ' 0% packet loss' in out and 'ttl=63' in out, out
        out = reaches(h1, 'fd00:172::1', extra='-6')
        assert ' 0% packet loss' in out, out
        table = fib(net)
        assert 'set_field:%s->eth_dst' % h4.MAC() in table, table
        assert 'ipv6_dst=fd00:172::/64' in table, table
        assert '192.168.99' not in table, table
        assert '100% packet loss' in ping(h1, '192.168.99.1', count=5)
        assert not ctl.log_lines('Traceback'), ctl.log_tail()
        # said once, after five requests without an answer
        assert wait_until(lambda: ctl.log_lines('gateway 10.0.200.99 of VLAN 200'), 40), (
            ctl.log_tail()
        )
        assert len(ctl.log_lines('gateway 10.0.200.99 of VLAN 200')) == 1
        assert '192.168.99' not in fib(net)

    def test_restricted_ports_get_no_broadcast_but_arp_from_each_other(self, shared_routed):
        """h1 and h5 (office) are both restricted_bcast_arpnd: h1's broadcasts other than
        ARP do not reach h5; its ARP broadcasts do."""
        _, net = shared_routed
        h1 = net.get('h1')
        bcast = 'ff:ff:ff:ff:ff:ff'
        got = who_receives(
            net,
            [
                (h1, frame(bcast, h1.MAC(), 'plain'), 'plain'),
                (h1, frame(bcast, h1.MAC(), 'arp-like', ethertype=0x0806), 'arp-like'),
            ],
        )
        assert got == {'plain': set(), 'arp-like': {'h5'}}, got
