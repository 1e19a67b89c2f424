"""FAUCET's NFV tutorial's form on a real switch (issue 15): an ACL rule whose output only
rewrites (eth_dst) and allows, so that forwarding sends the rewritten packet on; and an
output to OpenFlow's IN_PORT. Policy tests/mininet/policies/faucet_nfv.yaml: one switch,
h1-h3 on ports 1-3 in VLAN office; h1's UDP port 53 is steered to h3 (the DNS server).
Frames are raw Ethernet frames (tests/harness/frames.py)."""

import os
import shutil

from ryu.lib.packet import ethernet, ipv4, packet, udp

from tests.harness.frames import frame, who_receives
from tests.harness.network import network_fixtures, wait_until
from topologies.linear import LinearTopo

POLICIES = os.path.join(os.path.dirname(__file__), 'policies')
BCAST = 'ff:ff:ff:ff:ff:ff'


def start_nfv(controller, network, folder):
    policy = folder / 'faucet.yaml'
    shutil.copy(os.path.join(POLICIES, 'faucet_nfv.yaml'), policy)
    ctl = controller(
        ['apps/vswitch_policy.py'], config={'vswitch_policy': {'policy_file': str(policy)}}
    )
    net = network(LinearTopo(n=1, hosts_per_switch=3), ctl)
    assert wait_until(lambda: ctl.log_lines('connected:'), 20), ctl.log_tail()
    return ctl, net


shared_nfv = network_fixtures(start_nfv, 'nfv')[1]


def udp_frame(dst_mac, src_mac, src_ip, dst_port, token):
    """An Ethernet/IPv4/UDP frame (hex) to ``dst_port`` of 8.8.8.8 (as the tutorial's
    query: not the receiving host's address, which then answers nothing, no ICMP)
    carrying ``token``."""
    pkt = packet.Packet()
    pkt.add_protocol(ethernet.ethernet(dst=dst_mac, src=src_mac, ethertype=0x0800))
    pkt.add_protocol(ipv4.ipv4(src=src_ip, dst='8.8.8.8', proto=17))
    pkt.add_protocol(udp.udp(src_port=40000, dst_port=dst_port))
    pkt.add_protocol(token.encode().ljust(32, b'.'))
    pkt.serialize()
    return bytes(pkt.data).hex()


class TestOneSwitch:
    """One switch for both tests: the second sends nothing the first's ACL matches."""

    def test_dns_is_steered_to_the_server_by_an_eth_dst_rewrite(self, shared_nfv):
        """h1's UDP port 53 frames addressed to h2 reach h3 (their eth_dst rewritten, then
        forwarded to h3's learned port) and not h2; h1's other UDP to h2 reaches h2 only."""
        ctl, net = shared_nfv
        s1, h1, h2, h3 = net.get('s1', 'h1', 'h2', 'h3')
        # h2 and h3 learned first: the rewritten frame is forwarded, not flooded
        who_receives(
            net,
            [(h, frame(BCAST, h.MAC(), 'hello-' + h.name), 'hello-' + h.name) for h in (h2, h3)],
            seconds=0.5,
        )
        for host in (h2, h3):
            assert wait_until(lambda h=host: ctl.log_lines('host %s learned' % h.MAC()), 5)
        got = who_receives(
            net,
            [
                (h1, udp_frame(h2.MAC(), h1.MAC(), h1.IP(), 53, 'dns-query'), 'dns-query'),
                (h1, udp_frame(h2.MAC(), h1.MAC(), h1.IP(), 5353, 'other-udp'), 'other-udp'),
            ],
        )
        assert got == {'dns-query': {'h3'}, 'other-udp': {'h2'}}, got
        # the port ACL's rewrite did it: its rule counted the three frames sent
        flows = s1.cmd('ovs-ofctl -O OpenFlow13 dump-flows s1')
        [steer] = [
            line for line in flows.splitlines() if 'tp_dst=53' in line or 'udp_dst=53' in line
        ]
        assert 'set_field:00:00:00:00:00:03->eth_dst' in steer, steer
        assert int(steer.split('n_packets=')[1].split(',')[0]) == 3, steer

    def test_in_port_output_sends_the_frame_back_to_its_sender(self, shared_nfv):
        """h1's EtherType 0x88b9 frames go back out of port 1 (IN_PORT) to h1 only; not
        allowed on, no other host gets them."""
        _, net = shared_nfv
        h1, h2 = net.get('h1', 'h2')
        got = who_receives(
            net,
            [
                (h1, frame(BCAST, h1.MAC(), 'bounced', ethertype=0x88B9), 'bounced'),
                (h2, frame(BCAST, h2.MAC(), 'from-h2', ethertype=0x88B9), 'from-h2'),
            ],
        )
        assert got == {'bounced': {'h1'}, 'from-h2': {'h1', 'h3'}}, got
