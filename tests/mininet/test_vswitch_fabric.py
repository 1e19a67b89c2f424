"""apps/vswitch_policy.py with FAUCET's stacking on a real looped network: a ring of
four switches joined by stack links, three tenants (examples/policies/fabric.yaml,
topologies/ring.py n=4 with 3 hosts a switch).

    h1 h2 h3     h4 h5 h6     h7 h8 h9     h10 h11 h12      red, green, blue on
      s1 ---------- s2 ---------- s3 ---------- s4           ports 1, 2, 3 of each
       \\_____________________________________/

s1 is the stack root; the flood tree is s1-s2, s2-s3, s1-s4 (s3-s4 is off it). The
stable routes of the ring (controller/stable/sft.py) protect the switch opposite a
destination with a fast-failover backup: s1 -> s3 leaves for s2, backup s4.
"""

import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from controller.vswitch import load_policy
from tests.harness import flows
from tests.harness.frames import frame, who_receives
from tests.harness.network import wait_until
from tests.harness.tenants import configure_access_hosts, same_vlan_pairs
from tests.harness.traffic import reachability_matrix, udp_stream
from topologies.ring import RingTopo

POLICY = os.path.join(os.path.dirname(__file__), '..', '..', 'examples', 'policies', 'fabric.yaml')
STACK_PORTS = {'s1': (4, 5), 's2': (4, 5), 's3': (4, 5), 's4': (4, 5)}
TREE_LINKS = 3  # four switches: a broadcast crosses three links, once each
FAILOVER_BOUND_MS = 50  # the figure for a stack link failure


def start(controller, network, tmp_path, apps=('apps/vswitch_policy.py',)):
    policy = tmp_path / 'policy.yaml'
    shutil.copy(POLICY, policy)
    ctl = controller(
        list(apps),
        config={'vswitch_policy': {'policy_file': str(policy), 'reload_poll': 0.3}},
    )
    net = network(RingTopo(n=4, hosts_per_switch=3), ctl)
    assert wait_until(lambda: len(ctl.log_lines('connected:')) == 4, 20), ctl.log_tail()
    endpoints = configure_access_hosts(net, load_policy(str(policy)))
    return ctl, net, endpoints, policy


@pytest.fixture
def fabric(controller, network, tmp_path):
    return start(controller, network, tmp_path)


def ip_of(endpoints, name):
    return next(e.ip for e in endpoints if e.host.name == name)


def stack_rx(net):
    """Packets received on every stack port of the ring."""
    stats = {name: flows.port_stats(name) for name in STACK_PORTS}
    return sum(
        stats[name][port].rx_packets for name, ports in STACK_PORTS.items() for port in ports
    )


def test_tenants_reach_only_their_own_vlan_over_the_ring(fabric):
    """All 12 x 11 pairs, both ways: every tenant reaches its own hosts on all four
    switches (over one, two or three stack links) and no other tenant's."""
    ctl, _, endpoints, _ = fabric
    reach = reachability_matrix(endpoints, timeout=0.5)
    assert len(endpoints) == 12 and len(reach.results) == 12 * 11
    assert not reach.expect(same_vlan_pairs(endpoints)), reach.table()
    assert ctl.log_lines('stack fabric (loaded): 4 switches, 4 live stack links, root')


def test_the_fabric_under_the_arbiter(controller, network, tmp_path):
    """The same network with apps/arbiter.py in front (no arbiter policy: it
    attributes and checks every rule): the isolation matrix holds, every rule of the
    fabric (its fast-failover groups too) was installed through the arbiter, and
    GET /arbiter/apps shows vswitch_policy's rules on all four switches."""
    ctl, _, endpoints, _ = start(
        controller, network, tmp_path, ('apps/arbiter.py', 'apps/vswitch_policy.py')
    )
    reach = reachability_matrix(endpoints, timeout=0.5)
    assert not reach.expect(same_vlan_pairs(endpoints)), reach.table()
    apps = ctl.rest('/arbiter/apps')
    assert all(apps['vswitch_policy']['rules'].get(str(dpid)) for dpid in (1, 2, 3, 4)), apps
    decisions = ctl.rest('/arbiter/decisions?app=vswitch_policy&limit=1000')
    assert decisions and {d['outcome'] for d in decisions} == {'install'}, decisions[-5:]


def test_a_broadcast_crosses_each_tree_link_once_and_costs_no_packet_ins(fabric):
    """20 broadcasts (each sent 3 times) from h1 (red) on the looped ring: each
    reaches exactly the red hosts (h4, h7, h10) of the other switches, the stack
    ports together receive each copy exactly once per tree link (no storm, no copy
    over the link off the tree), and no switch but h1's asks the controller."""
    _, net, _, _ = fabric
    h1 = net.get('h1')
    count = 20
    flows.wait_for_counters()
    rx_before, packet_ins_before = stack_rx(net), flows.total_packet_ins(list(STACK_PORTS))
    bcast = 'ff:ff:ff:ff:ff:ff'
    tokens = ['fabric-bcast-%02d' % i for i in range(count)]
    probes = [(h1, frame(bcast, h1.MAC(), token), token) for token in tokens]
    got = who_receives(net, probes, seconds=10.0)  # the receivers listen while all are sent
    flows.wait_for_counters()
    rx = stack_rx(net) - rx_before
    packet_ins = flows.total_packet_ins(list(STACK_PORTS)) - packet_ins_before
    print(
        '%d broadcasts: %d frames received on stack ports, %d packet-ins' % (count, rx, packet_ins)
    )
    wrong = {token: hosts for token, hosts in got.items() if hosts != {'h4', 'h7', 'h10'}}
    assert not wrong, wrong
    # who_receives sends each frame 3 times; other traffic of the hosts (IPv6
    # neighbour discovery) may add a few frames
    assert TREE_LINKS * 3 * count <= rx <= TREE_LINKS * 3 * count + 12, rx
    assert packet_ins <= count, packet_ins  # h1's learning only: the rest skip learning


def warm(net, endpoints, pairs):
    """Teach every switch the hosts of ``pairs`` (ARP and a ping both ways)."""
    for a, b in pairs:
        out = net.get(a).cmd('ping -c 2 -i 0.2 -W 1 %s' % ip_of(endpoints, b))
        assert ' 0% packet loss' in out, out


def test_stack_link_failure_fails_over_in_the_switch(fabric, record_property):
    """h1 (s1) -> h7 (s3) at 1000 packets/s leaves s1 for s2 (its backup: s4).
    Cutting s1-s2 under the stream: s1's fast-failover group moves it to s4 at once
    (< 50 ms lost). h4 (s2) -> h1 crosses the same link with no loop-free backup on
    a ring of four: it waits for the controller's new routes (recorded). Afterwards
    the fabric is computed again without the link and every tenant still reaches its
    own hosts."""
    ctl, net, endpoints, _ = fabric
    h1, h4, h7 = net.get('h1', 'h4', 'h7')
    warm(net, endpoints, [('h1', 'h7'), ('h4', 'h1')])
    with ThreadPoolExecutor(2) as pool:
        protected = pool.submit(udp_stream, h1, h7, 1000, 5, 5001, ip_of(endpoints, 'h7'))
        unprotected = pool.submit(udp_stream, h4, h1, 1000, 5, 5002, ip_of(endpoints, 'h1'))
        time.sleep(2.0)
        net.configLinkStatus('s1', 's2', 'down')
        result, recovered = protected.result(), unprotected.result()
    record_property('fabric_failover_longest_outage_ms', result.longest_gap_ms)
    record_property('fabric_failover_lost_packets', len(result.lost_seqs))
    record_property('fabric_unprotected_longest_outage_ms', recovered.longest_gap_ms)
    print('stack link s1-s2 cut, protected: %s' % result.summary())
    print('stack link s1-s2 cut, unprotected: %s' % recovered.summary())
    assert result.received > 0 and not result.duplicates, result.summary()
    assert result.longest_gap_ms < FAILOVER_BOUND_MS, result.summary()
    assert recovered.received > 0 and recovered.longest_gap_ms < 2000, recovered.summary()
    assert wait_until(lambda: ctl.log_lines('3 live stack links'), 10), ctl.log_tail()
    reach = reachability_matrix(endpoints, timeout=0.5)
    assert not reach.expect(same_vlan_pairs(endpoints)), reach.table()


def test_a_stack_link_removed_and_added_back_by_reload_loses_nothing(fabric, record_property):
    """h10 (s4) <-> h7 (s3), 1000 packets/s each way over the direct stack link
    s3-s4. The policy drops that link (its ports leave the file), then a second
    reload adds it back: each time the new routes are installed and confirmed on
    every switch before any old rule is deleted, so neither stream loses a packet.
    While the link is out, its ports carry nothing."""
    ctl, net, endpoints, policy = fabric
    h7, h10 = net.get('h7', 'h10')
    warm(net, endpoints, [('h10', 'h7')])
    text = policy.read_text()
    removed = text.replace('      4: {stack: {dp: s4, port: 5}}\n', '').replace(
        '      5: {stack: {dp: s3, port: 4}}\n', ''
    )
    assert removed.count('stack: {dp') == text.count('stack: {dp') - 2
    old_link_rules = {}

    def remove_then_add_back():
        time.sleep(2.0)
        policy.write_text(removed)
        assert wait_until(lambda: ctl.log_lines('stack fabric (reloaded): 4 switches, 3 live'), 5)
        time.sleep(1.0)
        old_link_rules.update(
            {
                switch: [
                    entry
                    for entry in flows.dump_flows(switch)
                    if entry.match.get('in_port') == str(port) or port in entry.output_ports
                ]
                for switch, port in (('s3', 4), ('s4', 5))
            }
        )
        policy.write_text(text)
        assert wait_until(lambda: ctl.log_lines('stack fabric (reloaded): 4 switches, 4 live'), 5)

    with ThreadPoolExecutor(3) as pool:
        there = pool.submit(udp_stream, h10, h7, 1000, 7, 5001, ip_of(endpoints, 'h7'))
        back = pool.submit(udp_stream, h7, h10, 1000, 7, 5002, ip_of(endpoints, 'h10'))
        pool.submit(remove_then_add_back).result()
        results = [there.result(), back.result()]
    for result in results:
        print('stack link s3-s4 removed, then added back, by reload: %s' % result.summary())
    record_property('fabric_planned_lost_packets', sum(len(r.lost_seqs) for r in results))
    for result in results:
        assert result.received == result.sent and not result.lost_seqs, result.summary()
        assert not result.duplicates, result.summary()
    # while it was out, nothing matched or output to the old link's ports
    assert old_link_rules == {'s3': [], 's4': []}, old_link_rules
