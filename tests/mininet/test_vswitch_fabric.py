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

import json
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from controller.config import ConfigError
from controller.vswitch import load_policy, load_policy_text
from tests.harness import flows
from tests.harness.faucet_docs import PolicyTopo, stacking_tutorial
from tests.harness.frames import frame, who_receives
from tests.harness.network import network_fixtures, silence_hosts, wait_until
from tests.harness.tenants import configure_access_hosts, same_vlan_pairs
from tests.harness.traffic import reachability_matrix, udp_stream
from topologies.ring import RingTopo

EXAMPLES = os.path.join(os.path.dirname(__file__), '..', '..', 'examples')
POLICY = os.path.join(EXAMPLES, 'policies', 'fabric.yaml')
ARBITER_CONFIG = os.path.join(EXAMPLES, 'arbiter', 'tenant_fabric.conf')
STACK_PORTS = {'s1': (4, 5), 's2': (4, 5), 's3': (4, 5), 's4': (4, 5)}
TREE_LINKS = 3  # four switches: a broadcast crosses three links, once each
FAILOVER_BOUND_MS = 50  # the figure for a stack link failure


def start(controller, network, tmp_path):
    policy = tmp_path / 'policy.yaml'
    shutil.copy(POLICY, policy)
    ctl = controller(
        ['apps/vswitch_policy.py'],
        config={'vswitch_policy': {'policy_file': str(policy), 'reload_poll': 0.3}},
    )
    net = network(RingTopo(n=4, hosts_per_switch=3), ctl)
    assert wait_until(lambda: len(ctl.log_lines('connected:')) == 4, 20), ctl.log_tail()
    endpoints = configure_access_hosts(net, load_policy(str(policy)))
    return ctl, net, endpoints, policy


fabric, shared_fabric = network_fixtures(start, 'fabric')


def ip_of(endpoints, name):
    return next(e.ip for e in endpoints if e.host.name == name)


def broadcasts(net, sender, count, stack_ports):
    """``count`` broadcasts from host ``sender`` (each sent three times, see
    who_receives): ({token: hosts that got it}, packets received on the stack ports
    ({switch: ports}) meanwhile, packet-ins of those switches meanwhile)."""

    def stack_rx():
        stats = {name: flows.port_stats(name) for name in stack_ports}
        return sum(stats[s][p].rx_packets for s, ports in stack_ports.items() for p in ports)

    host = net.get(sender)
    flows.wait_for_counters()
    rx_before, packet_ins_before = stack_rx(), flows.total_packet_ins(list(stack_ports))
    tokens = ['%s-bcast-%02d' % (sender, i) for i in range(count)]
    probes = [(host, frame('ff:ff:ff:ff:ff:ff', host.MAC(), token), token) for token in tokens]
    got = who_receives(net, probes)
    flows.wait_for_counters()
    rx = stack_rx() - rx_before
    packet_ins = flows.total_packet_ins(list(stack_ports)) - packet_ins_before
    print(
        '%d broadcasts: %d frames received on stack ports, %d packet-ins' % (count, rx, packet_ins)
    )
    return got, rx, packet_ins


class TestOneRingRead:
    """Tests that only send traffic and look at what it did: they share one ring. The
    broadcasts first, on a ring whose hosts have no neighbours to refresh yet (their
    ARP probes would cross the stack ports counted)."""

    def test_a_broadcast_crosses_each_tree_link_once_and_costs_no_packet_ins(self, shared_fabric):
        """20 broadcasts (each sent 3 times) from h1 (red) on the looped ring: each
        reaches exactly the red hosts (h4, h7, h10) of the other switches, the stack
        ports together receive each copy exactly once per tree link (no storm, no copy
        over the link off the tree), and no switch but h1's asks the controller."""
        _, net, _, _ = shared_fabric
        count = 20
        got, rx, packet_ins = broadcasts(net, 'h1', count, STACK_PORTS)
        wrong = {token: hosts for token, hosts in got.items() if hosts != {'h4', 'h7', 'h10'}}
        assert not wrong, wrong
        # who_receives sends each frame 3 times; other traffic of the hosts (IPv6
        # neighbour discovery) may add a few frames
        assert TREE_LINKS * 3 * count <= rx <= TREE_LINKS * 3 * count + 12, rx
        assert packet_ins <= count, packet_ins  # h1's learning only: the rest skip learning

    def test_tenants_reach_only_their_own_vlan_over_the_ring(self, shared_fabric):
        """All 12 x 11 pairs, both ways: every tenant reaches its own hosts on all four
        switches (over one, two or three stack links) and no other tenant's."""
        ctl, _, endpoints, _ = shared_fabric
        reach = reachability_matrix(endpoints, timeout=0.5)
        assert len(endpoints) == 12 and len(reach.results) == 12 * 11
        assert not reach.expect(same_vlan_pairs(endpoints)), reach.table()
        assert ctl.log_lines('stack fabric (loaded): 4 switches, 4 live stack links, root')


def firewall_rules(ctl):
    """{dpid: [(rule_id, priority, actions)]} as rest_firewall reports its rules."""
    rules = {}
    for switch in ctl.rest('/firewall/rules/all'):
        listed = [r for acl in switch['access_control_list'] for r in acl['rules']]
        rules[int(switch['switch_id'], 16)] = sorted(
            (r['rule_id'], r['priority'], r['actions']) for r in listed
        )
    return rules


def firewall_reports(ctl, what):
    """{dpid: status} of GET /firewall/module/status or /firewall/log/status."""
    key = 'status' if what == 'module' else 'log_status'
    return {int(s['switch_id'], 16): s[key] for s in ctl.rest('/firewall/%s/status' % what)}


def test_the_fabric_and_rest_firewall_under_the_arbiter(controller, network):
    """The same network with apps/arbiter.py in front and ryu.app.rest_firewall beside
    vswitch_policy, with the shipped examples/arbiter/tenant_fabric.conf (the firewall
    a deny-list ranked first). Every rule of the fabric (its fast-failover groups too)
    is installed through the arbiter as asked and attributed to vswitch_policy on all
    four switches; the firewall's own start (block-all, ARP allow, log table-miss) is
    refused and it is told. Its REST API reports what is in force: enabled, logging
    off, no rules. A deny over REST (h1 -> h7, red, ICMP) then blocks that pair both
    ways and nothing else, in effect above the fabric's rules; an allow from green to
    red is refused and opens nothing: the isolation matrix holds throughout. Logging
    turned on makes the deny a drop-and-log (the firewall logs what it blocked) without
    touching the fabric's rules; deleting the firewall's rules gives h1 <-> h7 back."""
    ctl = controller(
        ['apps/arbiter.py', 'apps/vswitch_policy.py', 'ryu.app.rest_firewall'],
        extra_args=['--config-file', ARBITER_CONFIG],
    )
    net = network(RingTopo(n=4, hosts_per_switch=3), ctl)
    assert wait_until(lambda: len(ctl.log_lines('connected:')) == 4, 20), ctl.log_tail()
    assert ctl.log_lines('tenant_fabric.yaml, order rest_firewall, vswitch_policy'), ctl.log_tail()
    assert wait_until(lambda: len(ctl.log_lines('Join as firewall')) >= 4, 20), ctl.log_tail()
    endpoints = configure_access_hosts(net, load_policy(POLICY))
    ctl.rest('/firewall/module/enable/all', 'PUT')
    dpids = (1, 2, 3, 4)
    # It reads back its own rules only: none is in force (its start was refused).
    assert firewall_reports(ctl, 'module') == dict.fromkeys(dpids, 'enable')
    assert firewall_reports(ctl, 'log') == dict.fromkeys(dpids, 'disable')
    assert firewall_rules(ctl) == dict.fromkeys(dpids, [])
    isolated = same_vlan_pairs(endpoints)
    reach = reachability_matrix(endpoints, timeout=0.5)
    assert not reach.expect(isolated), reach.table()

    apps = ctl.rest('/arbiter/apps')
    assert all(apps['vswitch_policy']['rules'].get(str(dpid)) for dpid in dpids), apps
    fabric_rules = apps['vswitch_policy']['rules']
    decisions = ctl.rest('/arbiter/decisions?app=vswitch_policy&limit=1000')
    assert decisions and {d['outcome'] for d in decisions} == {'install'}, decisions[-5:]
    refused = ctl.rest('/arbiter/decisions?app=rest_firewall&limit=1000')
    assert not apps['rest_firewall']['rules'], apps
    # block-all, ARP allow and log table-miss on each switch: outside its flowspace
    assert len(refused) == 3 * len(dpids), refused
    assert {d['outcome'] for d in refused} == {'refuse'}, refused
    assert all('flowspace' in d['clause'] for d in refused), refused
    assert not ctl.rest('/arbiter/conflicts'), ctl.rest('/arbiter/conflicts')

    h1, h7 = ip_of(endpoints, 'h1'), ip_of(endpoints, 'h7')
    deny = {'nw_src': h1 + '/32', 'nw_dst': h7 + '/32', 'nw_proto': 'ICMP'}
    reply = ctl.rest('/firewall/rules/all', 'POST', dict(deny, actions='DENY', priority='10'))
    assert 'success' in json.dumps(reply), reply
    # an allow from green to red: output NORMAL, refused (may: drop, controller)
    h2 = ip_of(endpoints, 'h2')
    ctl.rest('/firewall/rules/all', 'POST', {'nw_src': h2 + '/32', 'nw_dst': h7 + '/32'})
    assert firewall_rules(ctl) == dict.fromkeys(dpids, [(1, 10, 'DENY')])
    blocked = {name for name in isolated if {name[0][:3], name[1][:3]} == {'h1(', 'h7('}}
    assert len(blocked) == 2, blocked  # h7's replies to h1 are dropped too
    reach = reachability_matrix(endpoints, timeout=0.5)
    assert not reach.expect([pair for pair in isolated if pair not in blocked]), reach.table()
    told = ctl.rest('/arbiter/decisions?app=rest_firewall&limit=1000')[len(refused) :]
    assert sorted(d['outcome'] for d in told) == ['install'] * 4 + ['refuse'] * 4, told
    assert all('may' in d['clause'] for d in told if d['outcome'] == 'refuse'), told
    match = 'eth_type=0x800,ip_proto=1,ipv4_src=%s,ipv4_dst=%s' % (h1, h7)
    explained = ctl.rest('/arbiter/explain?dpid=1&table=0&match=' + match)
    in_effect = explained['installed'][0]
    assert in_effect['owners'] == ['rest_firewall'], explained
    assert in_effect['asked_priority'] == {'rest_firewall': 10}, explained
    assert {r['app'] for r in explained['installed'][1:]} == {'vswitch_policy'}, explained
    drops = [e for e in flows.dump_flows('s1', table=0) if e.match.get('nw_dst') == h7]
    assert len(drops) == 1 and drops[0].actions == 'drop', drops
    assert drops[0].cookie >> 48 == int(
        ctl.rest('/arbiter/apps')['rest_firewall']['cookie_range'], 16
    )

    # Logging on: the firewall re-adds its own rules (the deny) as drop-and-log, and
    # only those: the fabric's rules are untouched.
    blocked_before = len(ctl.log_lines('Blocked packet'))
    ctl.rest('/firewall/log/enable/all', 'PUT')
    assert wait_until(
        lambda: all(
            e.sends_to_controller
            for e in flows.dump_flows('s1', table=0)
            if e.match.get('nw_dst') == h7
        ),
        5,
    ), flows.dump_flows('s1', table=0)
    out = net.get('h1').cmd('ping -c 2 -i 0.2 -W 1 %s' % h7)
    assert ' 100% packet loss' in out, out
    assert len(ctl.log_lines('Blocked packet')) > blocked_before, ctl.log_tail()
    assert ctl.rest('/arbiter/apps')['vswitch_policy']['rules'] == fabric_rules
    decisions = ctl.rest('/arbiter/decisions?app=vswitch_policy&limit=1000')
    assert {d['outcome'] for d in decisions} == {'install'}, decisions[-5:]

    # Its rules deleted (by the priority it asked for): h1 <-> h7 again.
    reply = ctl.rest('/firewall/rules/all', 'DELETE', {'rule_id': 'all'})
    assert 'success' in json.dumps(reply), reply
    assert wait_until(lambda: not ctl.rest('/arbiter/apps')['rest_firewall']['rules'], 5)
    reach = reachability_matrix(endpoints, timeout=0.5)
    assert not reach.expect(isolated), reach.table()


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


# --- FAUCET's stacking tutorial, as its docs give it -------------------------------------

# docs/tutorials/stacking.rst of FAUCET 1.10.12: its stack configs run here as they are;
# the other two stack configs, which route ('routers') and tunnel ('tunnel'), load, and
# their behaviour is tested in test_vswitch_routing.py and test_vswitch_tunnel.py.
TUTORIAL_STACKS = ('switch-stacking-yaml', 'redundant-links-yaml', 'multiple-root-yaml')


@pytest.fixture(scope='module')
def tutorial():
    return stacking_tutorial()


def test_every_config_of_faucets_stacking_tutorial_loads(tutorial):
    """Every YAML block of the tutorial loads as it is: the three stack configs above,
    the one without stacking, and the two that route between VLANs and tunnel."""
    refused = {}
    for name, text in tutorial.items():
        try:
            load_policy_text(text, name)
        except ConfigError as error:
            refused[name] = str(error)
    assert set(tutorial) >= set(TUTORIAL_STACKS) | {
        'multiple-switches-yaml',
        'ivr-switch-stacking-yaml',
        'faucet-tunneling-yaml',
    }, sorted(tutorial)
    assert not refused, refused


@pytest.mark.parametrize('name', TUTORIAL_STACKS)
def test_faucets_stacking_tutorial_runs_on_mininet(name, tutorial, controller, network, tmp_path):
    """The tutorial's config as it is, on switches cabled as it says (a host on every
    access port): the fabric comes up with every stack link and the root FAUCET would
    pick (the lowest priority, then dp_id), every host reaches every other, and 10
    broadcasts (each sent three times) from h1 reach every other host and cross each
    tree link exactly once, at no packet-in beyond h1's learning."""
    path = tmp_path / 'faucet.yaml'
    path.write_text(tutorial[name])
    policy = load_policy(str(path))
    ctl = controller(
        ['apps/vswitch_policy.py'], config={'vswitch_policy': {'policy_file': str(path)}}
    )
    net = network(PolicyTopo(policy=policy), ctl)
    dps = policy.dps.values()
    assert wait_until(lambda: len(ctl.log_lines('connected:')) == len(dps), 20), ctl.log_tail()
    links = sum(len(dp.stack_ports) for dp in dps) // 2
    root = min((dp.stack_priority, dp.dp_id) for dp in dps if dp.stack_priority)[1]
    loaded = 'stack fabric (loaded): %d switches, %d live stack links, root %016x' % (
        len(dps),
        links,
        root,
    )
    assert ctl.log_lines(loaded), ctl.log_tail()
    silence_hosts(net)  # no IPv6 chatter (solicitations, MLD) in the frames counted
    everyone = [(a, b) for a in net.hosts for b in net.hosts if a is not b]
    reach = reachability_matrix(net.hosts, timeout=0.5)
    assert not reach.expect(everyone), reach.table()

    count = 10
    stack_ports = {'s%d' % dp.dp_id: tuple(dp.stack_ports) for dp in dps}
    got, rx, packet_ins = broadcasts(net, 'h1', count, stack_ports)
    others = {host.name for host in net.hosts} - {'h1'}
    assert all(hosts == others for hosts in got.values()) and len(got) == count, got
    tree = len(dps) - 1
    assert tree * 3 * count <= rx <= tree * 3 * count + 12, rx
    assert packet_ins <= count, packet_ins
