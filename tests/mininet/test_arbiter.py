"""apps/arbiter.py on a real network: unmodified Ryu apps, and apps written to misbehave
(tests/mininet/arbiter/), under the arbiter and, for comparison, without it.

One switch, three hosts (LinearTopo n=1: h1, h2, h3 on s1 ports 1, 2, 3, addresses
10.0.0.1-3).
"""

import json
import os
import re
import time

from controller.cookies import APP_IDS
from controller.stable import pipeline as pipe
from tests.harness import flows, stable
from tests.harness.firewall import allow_icmp
from tests.harness.network import wait_until
from tests.harness.traffic import reachability_matrix
from topologies.linear import LinearTopo
from topologies.ring import topos as ring_topos

HERE = os.path.join(os.path.dirname(__file__), 'arbiter')
FIREWALL_APPS = ['ryu.app.simple_switch_13', 'ryu.app.rest_firewall']
ALLOWED = [('h1', 'h2'), ('h2', 'h1')]  # the firewall's rules: ICMP h1 <-> h2


# The shipped example, as the docs run it: --config-file naming the YAML policy beside it.
EXAMPLE_CONFIG = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    'examples',
    'arbiter',
    'firewall_then_switch.conf',
)


def make_ring(n):
    return ring_topos['ring'](n)


def policy(name):
    return {'arbiter': {'policy': os.path.join(HERE, name)}}


def table_misses(entries, table):
    return [e for e in entries if e.table == table and e.priority == 0 and not e.match]


def firewall_network(controller, network, apps, extra_args=()):
    """simple_switch_13 and rest_firewall (with or without the arbiter in front), the
    firewall enabled and allowing ICMP between h1 and h2 only."""
    ctl = controller(apps, extra_args=extra_args, name='ryu')
    net = network(LinearTopo(n=1, hosts_per_switch=3), ctl)
    allow_icmp(ctl, net, ALLOWED)
    return ctl, net


def test_firewall_and_learning_switch_under_the_arbiter(controller, network, record_property):
    """The firewall filters in table 0, the learning switch forwards what it lets
    through in table 1: h1 and h2 reach each other, h3 is blocked both ways, the switch
    learns (known traffic stops reaching the controller), each app keeps its table-miss
    in its own cookie range, and every blocked packet-in goes to the firewall only."""
    ctl, net = firewall_network(
        controller, network, ['apps/arbiter.py'] + FIREWALL_APPS, ['--config-file', EXAMPLE_CONFIG]
    )
    assert ctl.log_lines('firewall_then_switch.yaml, order rest_firewall'), ctl.log_tail()
    started = time.monotonic()
    reach = reachability_matrix(net.hosts, count=2, timeout=1.0)
    record_property('reachability_s', round(time.monotonic() - started, 2))
    assert not reach.expect(ALLOWED), reach.table()

    apps = ctl.rest('/arbiter/apps')
    ranges = {
        app: int(apps[app]['cookie_range'], 16) for app in ('simple_switch_13', 'rest_firewall')
    }
    entries = flows.dump_flows('s1')

    def owner(entry):
        return next((app for app, number in ranges.items() if entry.cookie >> 48 == number), None)

    (firewall_miss,) = table_misses(entries, 0)
    (switch_miss,) = table_misses(entries, 1)
    assert owner(firewall_miss) == 'rest_firewall' and firewall_miss.sends_to_controller
    assert owner(switch_miss) == 'simple_switch_13' and switch_miss.sends_to_controller
    assert {owner(e) for e in entries if e.table == 0} == {'rest_firewall'}
    assert {owner(e) for e in entries if e.table == 1} == {'simple_switch_13'}
    allow = [e for e in entries if e.table == 0 and e.match.get('nw_src') == '10.0.0.1']
    assert allow and 'goto_table:1' in allow[0].actions, flows.format_flows({'s1': entries})
    learned = [e for e in entries if e.table == 1 and e.priority == 1]
    assert {(e.match.get('dl_src'), e.match.get('dl_dst')) for e in learned} >= {
        (net.get('h1').MAC(), net.get('h2').MAC()),
        (net.get('h2').MAC(), net.get('h1').MAC()),
    }

    # Learning works: a known pair no longer costs the learning switch packet-ins. Only
    # its table-miss (table 1) counts: the firewall's (table 0) also takes the hosts'
    # own IPv6 router solicitations and MLD reports, which come at random times.
    def learning_misses():
        return flows.packet_in_count([e for e in flows.dump_flows('s1') if e.table == 1])

    flows.wait_for_counters()
    before = learning_misses()
    out = net.get('h1').cmd('ping -c 20 -i 0.05 %s' % net.get('h2').IP())
    assert ' 0% packet loss' in out, out
    flows.wait_for_counters()
    extra = learning_misses() - before
    record_property('packet_ins_for_20_known_pings', extra)
    assert extra <= 2, flows.format_flows({'s1': flows.dump_flows('s1')})

    # Blocked traffic went to the firewall's table-miss (and its log), nowhere else.
    assert firewall_miss.n_packets > 0 and ctl.log_lines('Blocked packet'), ctl.log_tail()
    decisions = ctl.rest('/arbiter/decisions?limit=1000')
    assert decisions and {d['app'] for d in decisions} >= {'simple_switch_13', 'rest_firewall'}


def test_firewall_and_learning_switch_without_the_arbiter(controller, network):
    """The comparison: the same two apps alone. The firewall's table-miss replaces the
    learning switch's (one priority-0 rule is left), every blocked packet-in also
    reaches simple_switch_13, which forwards it and installs a rule past the firewall:
    h3 is reachable although no rule allows it."""
    ctl, net = firewall_network(controller, network, FIREWALL_APPS)
    reach = reachability_matrix(net.hosts, count=2, timeout=1.0)
    entries = flows.dump_flows('s1')
    misses = table_misses(entries, 0)
    assert len(misses) == 1 and 'CONTROLLER:128' in misses[0].actions, flows.format_flows(
        {'s1': entries}
    )
    assert reach.results[('h1', 'h3')] and reach.results[('h3', 'h1')], reach.table()
    assert ctl.log_lines('Blocked packet')


def steered_to(net, count=20):
    """Ping the steered address from h1 (no reply expected); {port: frames out}."""
    before = flows.port_stats('s1')
    net.get('h1').cmd('arp -s 10.0.0.100 02:00:00:00:01:00')
    net.get('h1').cmd('ping -c %d -i 0.02 -W 0.1 10.0.0.100' % count)
    flows.wait_for_counters()
    after = flows.port_stats('s1')
    return {port: after[port].tx_packets - before[port].tx_packets for port in (2, 3)}


STEERED_MATCH = 'ip,nw_dst=10.0.0.100'  # tests/mininet/arbiter/steering.py's rule


def steering_rule(entries):
    return [e for e in entries if e.match.get('nw_dst') == '10.0.0.100']


def fighting(controller, network, apps, config=None):
    ctl = controller(
        apps + [os.path.join(HERE, 'steer_via_2.py'), os.path.join(HERE, 'steer_via_3.py')],
        config=config,
    )
    net = network(LinearTopo(n=1, hosts_per_switch=3), ctl)
    assert wait_until(lambda: steering_rule(flows.dump_flows('s1')), 10)
    return ctl, net


def test_fighting_apps_are_damped_and_the_winner_stays(controller, network, record_property):
    """steer_via_2 and steer_via_3 re-assert opposite rules ten times a second. Under the
    arbiter the policy's winner (steer_via_2) is installed, the fight is damped within a
    second with an alert, and after that the switch gets no flow-mod for that rule (its
    age grows); the loser is told, and the REST API lists the damped region."""
    ctl, net = fighting(controller, network, ['apps/arbiter.py'], policy('fight.yaml'))
    assert wait_until(lambda: ctl.log_lines('ALERT'), 5), ctl.log_tail()
    # What reaches the switch while both apps go on re-asserting: nothing (the bound).
    changes = flows.table_changes('s1', 3.0, STEERED_MATCH)
    record_property('flow_table_changes_in_3s_while_damped', len(changes))
    assert len(changes) <= 1, changes
    (rule,) = steering_rule(flows.dump_flows('s1'))
    assert rule.output_ports == [2], rule
    record_property('rule_age_after_3s_s', rule.duration)
    assert rule.duration >= 2.5, rule  # not rewritten since the damping began
    assert steered_to(net) == {2: 20, 3: 0}
    (damped,) = ctl.rest('/arbiter/damped')
    assert damped['kept'] == 'steer_via_2' and damped['apps'] == ['steer_via_2', 'steer_via_3']
    record_property('arbiter_apps', ctl.rest('/arbiter/apps'))
    held = [c for c in ctl.rest('/arbiter/conflicts') if c['state'] == 'held back']
    assert [c['app'] for c in held] == ['steer_via_3'], held
    explained = ctl.rest('/arbiter/explain?dpid=1&table=0&match=eth_type=0x800,ipv4_dst=10.0.0.100')
    assert (
        explained['damped']
        and [r['owners'] for r in explained['installed']] == [['steer_via_2']]
        and [r['app'] for r in explained['held']] == ['steer_via_3']
    )
    assert {d['clause'].split(' ')[0] for d in explained['decisions']} >= {'damping'}
    assert ctl.log_lines('steer_via_3 refused') == [], 'a hold is not an error'
    sent = sum(int(m.group(1)) for m in re.finditer(r'(\d+) flow-mods sent', ctl.log_text()))
    assert sent >= 50


def test_fighting_apps_without_the_arbiter_flap_for_ever(controller, network):
    """The comparison: alone, the two apps overwrite each other's rule ten times a second
    each: the rule on the switch is never older than a fraction of a second and its
    output flips between ports 2 and 3."""
    ctl, net = fighting(controller, network, [])
    changes = flows.table_changes('s1', 3.0, STEERED_MATCH)
    assert len(changes) >= 30, changes  # about 60: each app, ten times a second
    seen, ages = set(), []
    for _ in range(15):
        (rule,) = steering_rule(flows.dump_flows('s1'))
        seen.update(rule.output_ports)
        ages.append(rule.duration)
        time.sleep(0.13)
    assert seen == {2, 3} and max(ages) < 1.0, (seen, ages)


def test_flowspace_and_budget_are_enforced(controller, network):
    """overreach writes one rule outside its flowspace and four inside it with a budget
    of three: the first and the last are refused, it receives an OpenFlow EPERM error
    for each (with the xid it sent), and the arbiter's log says which clause."""
    ctl = controller(
        ['apps/arbiter.py', os.path.join(HERE, 'overreach.py')], config=policy('limits.yaml')
    )
    network(LinearTopo(n=1, hosts_per_switch=3), ctl)
    assert wait_until(lambda: len(ctl.log_lines('overreach: refused')) >= 2, 10), ctl.log_tail()
    sent = {
        m.group(2): int(m.group(1))
        for m in re.finditer(r'sent xid=(\d+) ipv4_dst=(\S+)', ctl.log_text())
    }
    refused = {
        int(m.group(1)): (int(m.group(2)), int(m.group(3)))
        for m in re.finditer(r'refused: xid=(\d+) type=(\d+) code=(\d+)', ctl.log_text())
    }
    eperm = (5, 4)  # OFPET_FLOW_MOD_FAILED, OFPFMFC_EPERM
    assert refused == {sent['192.168.7.7']: eperm, sent['10.0.0.14']: eperm}, refused
    assert [
        line
        for line in ctl.log_lines('apps.overreach.flowspace')
        if 'refuse' in line and 'outside the flowspace' in line
    ], ctl.log_tail()
    assert [
        line
        for line in ctl.log_lines('apps.overreach.max_rules')
        if 'refuse' in line and 'budget is 3' in line
    ], ctl.log_tail()
    installed = {e.match.get('nw_dst') for e in flows.dump_flows('s1')}
    assert installed == {'10.0.0.11', '10.0.0.12', '10.0.0.13'}, installed


def test_invariant_gate_refuses_a_loop_and_a_breach_of_isolation(controller, network):
    """gatecrasher asks for a forwarding loop between s1 and s2 and for a path from h1
    to h2, which the policy isolates: the rule that would close each is refused with the
    invariant named, and real packets show neither exists."""
    ctl = controller(
        ['apps/arbiter.py', os.path.join(HERE, 'gatecrasher.py')], config=policy('gate.yaml')
    )
    net = network(LinearTopo(n=2, hosts_per_switch=1), ctl)
    assert wait_until(lambda: len(ctl.log_lines('gatecrasher: refused')) >= 2, 10), ctl.log_tail()
    refused = ctl.log_lines('gatecrasher: refused')
    assert len(refused) == 2 and all('type=5 code=4' in line for line in refused), refused
    assert [line for line in ctl.log_lines('refuse') if 'loop' in line], ctl.log_tail()
    assert [line for line in ctl.log_lines('refuse') if 'isolation' in line], ctl.log_tail()
    rules = {
        (s, e.match.get('nw_dst')): e.output_ports
        for s in ('s1', 's2')
        for e in flows.dump_flows(s)
        if e.match.get('nw_dst')
    }
    # One of each pair is on the switches, never both.
    assert len([k for k in rules if k[1] == '10.0.0.200']) == 1, rules
    assert len([k for k in rules if k[1] == '10.0.0.2']) == 1, rules

    # Traffic to the loop's address crosses the link at most once per packet.
    h1, h2 = net.get('h1', 'h2')
    h1.cmd('arp -s 10.0.0.200 00:00:00:00:00:c8; arp -s %s %s' % (h2.IP(), h2.MAC()))
    flows.wait_for_counters()
    before = flows.port_stats('s1')[2].tx_packets + flows.port_stats('s2')[3].tx_packets
    h1.cmd('ping -c 20 -i 0.05 -W 1 10.0.0.200')
    flows.wait_for_counters()
    after = flows.port_stats('s1')[2].tx_packets + flows.port_stats('s2')[3].tx_packets
    assert after - before <= 20 + 5, 'the link carried %d frames for 20 pings' % (after - before)
    # And h1's packets to h2 never reach h2 (s2:1 is h2's port; nothing else sends there).
    before = flows.port_stats('s2')[1].tx_packets
    h1.cmd('ping -c 10 -i 0.05 -W 1 %s' % h2.IP())
    flows.wait_for_counters()
    assert flows.port_stats('s2')[1].tx_packets - before == 0


# --- our apps composed under the arbiter -----------------------------------------------

FABRIC_CONFIG = os.path.join(os.path.dirname(EXAMPLE_CONFIG), 'fabric.conf')
FABRIC_APPS = ['apps/arbiter.py', 'apps/stable_routing.py', 'ryu.app.rest_firewall']


def new_epoch(ctl, after):
    """The status once an epoch newer than ``after`` is installed and nothing pends."""

    def settled():
        status = ctl.rest('/stable/epoch')
        return (
            status['epoch']
            and status['epoch'] > after
            and status['pending_triggers'] == 0
            and status['epoch'] == status['last_epoch_cut']
            and status
        )

    status = wait_until(settled, 20, interval=0.2)
    assert status, 'no epoch after %d: %s\n%s' % (after, ctl.rest('/stable/epoch'), ctl.log_tail())
    return status


def firewall_log_status(ctl):
    return {switch['log_status'] for switch in ctl.rest('/firewall/log/status')}


def owners_by_table(entries, ranges):
    """{table: {owning app (or the cookie)}} of a switch's flow entries."""
    owners = {}
    for e in entries:
        owner = next((a for a, n in ranges.items() if e.cookie >> 48 == n), hex(e.cookie))
        owners.setdefault(e.table, set()).add(owner)
    return owners


def test_stable_fabric_and_rest_firewall_composed_under_the_arbiter(
    controller, network, record_property
):
    """stable_routing on a ring of four switches with rest_firewall beside it, both
    under the arbiter with the shipped examples/arbiter/fabric.conf: every host reaches
    every other; the tables show which app owns which rule (each in its cookie range);
    none of the firewall's block-all, ARP, allow or log rules reached a switch (refused:
    outside its flowspace and rights); a cut link is handled by a new epoch, whose
    bundles pass through the arbiter; a deny rule added to the firewall over REST then
    blocks h1 <-> h3 only, placed above the fabric's rules it overlaps (the policy's
    order), and /arbiter/explain names it as the rule in effect; with the firewall's
    logging turned on it becomes a drop-and-log (the firewall logs what it blocked)."""
    ctl = controller(FABRIC_APPS, extra_args=['--config-file', FABRIC_CONFIG])
    net = network(make_ring(4), ctl)
    assert ctl.log_lines('fabric.yaml, order rest_firewall, stable_routing'), ctl.log_tail()
    assert wait_until(lambda: len(ctl.log_lines('Join as firewall')) >= 4, 20), ctl.log_tail()
    ctl.rest('/firewall/module/enable/all', 'PUT')
    reachability_matrix(net.hosts)  # the first pings are flooded: stable_routing learns
    status = stable.wait_for_epoch(ctl, net)
    assert status['epoch'], 'no epoch with every host: %s\n%s' % (status, ctl.log_tail())
    everyone = [(a, b) for a in net.hosts for b in net.hosts if a is not b]
    reach = reachability_matrix(net.hosts)
    assert not reach.expect(everyone), reach.table()

    apps = ctl.rest('/arbiter/apps')
    ranges = {
        app: int(apps[app]['cookie_range'], 16) for app in ('stable_routing', 'rest_firewall')
    }
    assert ranges['stable_routing'] == APP_IDS['stable_routing']
    tables = flows.dump_all([s.name for s in net.switches])
    for name, entries in tables.items():
        owners = owners_by_table(entries, ranges)
        assert set(owners) == {0, 1, 2, 3}, (name, owners)
        assert all(o == {'stable_routing'} for o in owners.values()), (name, owners)
        routes = [e for e in entries if e.table == 2 and stable.cookie_kind(e) == pipe.ROUTE]
        assert routes, (name, flows.format_flows(tables))  # the epoch's forward rules
    assert all(apps['stable_routing']['rules'].get(str(dpid)) for dpid in (1, 2, 3, 4)), apps
    assert apps['rest_firewall']['decisions'].get('refuse'), apps  # told, not installed
    assert not apps['rest_firewall']['rules'], apps
    decisions = ctl.rest('/arbiter/decisions?app=stable_routing&limit=1000')
    assert decisions and {d['outcome'] for d in decisions} == {'install'}, decisions[-5:]

    # A link fails: the next epoch's bundles go through the arbiter and are installed.
    net.configLinkStatus('s1', 's2', 'down')
    after = new_epoch(ctl, status['epoch'])
    record_property('epoch_after_link_failure', after['epoch'])
    reach = reachability_matrix(net.hosts)
    assert not reach.expect(everyone), reach.table()
    decisions = ctl.rest('/arbiter/decisions?app=stable_routing&limit=1000')
    assert {d['outcome'] for d in decisions} == {'install'}, decisions[-5:]

    # rest_firewall's deny rule, over REST: it wins where it overlaps the fabric's rules.
    blocked_before = len(ctl.log_lines('Blocked packet'))
    reply = ctl.rest(
        '/firewall/rules/all',
        'POST',
        {
            'nw_src': '10.0.0.1/32',
            'nw_dst': '10.0.0.3/32',
            'nw_proto': 'ICMP',
            'actions': 'DENY',
            'priority': '10',
        },
    )
    assert 'success' in json.dumps(reply), reply
    blocked = {('h1', 'h3'), ('h3', 'h1')}  # h3's echo requests get no reply
    reach = reachability_matrix(net.hosts)
    assert not reach.expect([p for p in everyone if (str(p[0]), str(p[1])) not in blocked]), (
        reach.table()
    )
    explained = ctl.rest(
        '/arbiter/explain?dpid=1&table=0'
        '&match=eth_type=0x800,ip_proto=1,ipv4_src=10.0.0.1,ipv4_dst=10.0.0.3'
    )
    in_effect = explained['installed'][0]
    assert in_effect['owners'] == ['rest_firewall'], explained
    assert in_effect['asked_priority'] == {'rest_firewall': 10}, explained
    # a plain drop (its logging is off: below): the security app's deny wins
    assert 'rest_firewall.security' in in_effect['clause'], explained
    assert 'deny wins' in in_effect['clause'], explained
    below = {r['app'] for r in explained['installed'][1:]}
    assert below == {'stable_routing'}, explained  # the fabric's rules it overlaps
    record_property('deny_installed_priority', in_effect['priority'])

    def deny_rules():
        return [
            e
            for e in flows.dump_flows('s1', table=0)
            if e.match.get('nw_src') == '10.0.0.1' and e.match.get('nw_dst') == '10.0.0.3'
        ]

    deny = deny_rules()
    assert deny and deny[0].cookie >> 48 == ranges['rest_firewall'], deny
    assert deny[0].priority == in_effect['priority'], deny
    assert not deny[0].output_ports and 'goto_table' not in deny[0].actions, deny
    assert deny[0].priority > max(
        e.priority for e in flows.dump_flows('s1', table=0) if e.match.get('in_port')
    )
    # It reads back its own rules only (its log table-miss was refused): logging is off,
    # the deny a plain drop. Logging on makes it a drop-and-log; the firewall logs it.
    assert not deny[0].sends_to_controller, deny
    assert firewall_log_status(ctl) == {'disable'}
    ctl.rest('/firewall/log/enable/all', 'PUT')
    assert wait_until(lambda: all(e.sends_to_controller for e in deny_rules()), 5)
    reachability_matrix(net.get('h1', 'h3'))
    assert len(ctl.log_lines('Blocked packet')) > blocked_before, ctl.log_tail()
    # a drop-and-log is no plain deny: it wins by the policy's order
    explained = ctl.rest(
        '/arbiter/explain?dpid=1&table=0'
        '&match=eth_type=0x800,ip_proto=1,ipv4_src=10.0.0.1,ipv4_dst=10.0.0.3'
    )
    in_effect = explained['installed'][0]
    assert in_effect['owners'] == ['rest_firewall'], explained
    assert 'rest_firewall before stable_routing' in in_effect['clause'], explained


# --- N-version voting ---------------------------------------------------------------------

VOTERS = [
    'ryu.app.simple_switch_13',
    os.path.join(HERE, 'learning_replica.py'),
    os.path.join(HERE, 'misrouting_replica.py'),
]


def test_a_voting_group_outvotes_the_wrong_replica(controller, network, record_property):
    """simple_switch_13 and two replicas of it vote (tests/mininet/arbiter/voting.yaml):
    every host reaches every other, pings get no duplicate (each packet-out is sent
    once), and no rule of the replica that sends frames back where they came from
    reaches the switch: every rule on it is simple_switch_13's, carried by the vote.
    /arbiter/votes names the dissenter in each ballot it lost."""
    ctl = controller(['apps/arbiter.py'] + VOTERS, config=policy('voting.yaml'))
    net = network(LinearTopo(n=1, hosts_per_switch=3), ctl)
    everyone = [(a, b) for a in net.hosts for b in net.hosts if a is not b]
    reach = reachability_matrix(net.hosts, count=2, timeout=1.0)
    assert not reach.expect(everyone), reach.table()
    out = net.get('h1').cmd('ping -c 10 -i 0.05 %s' % net.get('h2').IP())
    assert ' 0% packet loss' in out and 'DUP!' not in out, out

    apps = ctl.rest('/arbiter/apps')
    ss13 = int(apps['simple_switch_13']['cookie_range'], 16)
    entries = flows.dump_flows('s1')
    assert entries and {e.cookie >> 48 for e in entries} == {ss13}, flows.format_flows(
        {'s1': entries}
    )
    assert not [e for e in entries if 'IN_PORT' in e.actions], flows.format_flows({'s1': entries})
    learned = {(e.match.get('dl_src'), e.match.get('dl_dst')) for e in entries if e.priority == 1}
    macs = {h.name: h.MAC() for h in net.hosts}
    assert learned >= {(macs[a], macs[b]) for a, b in (('h1', 'h2'), ('h2', 'h1'))}, learned

    votes = ctl.rest('/arbiter/votes')
    counts = votes['groups']['l2']['counts']
    record_property('votes', counts)
    assert counts.get('rule dissent:misrouting_replica', 0) >= 3, votes
    assert counts.get('packet carried', 0) > 0, votes
    assert not [k for k in counts if k.startswith('rule dissent:') and 'misrouting' not in k]
    assert votes['disagreements'], votes
    assert all(d['dissent'] == ['misrouting_replica'] for d in votes['disagreements']), votes
    assert all(d['votes']['misrouting_replica'] == 'output:IN_PORT' for d in votes['disagreements'])
    refused = ctl.rest('/arbiter/decisions?app=misrouting_replica&limit=1000')
    assert {d['outcome'] for d in refused} <= {'merge', 'refuse'}, refused
    assert all(
        'misrouting_replica proposed output:IN_PORT' in d['reason']
        for d in refused
        if d['outcome'] == 'refuse'
    ), refused


def test_the_wrong_replica_alone_cuts_known_pairs_off(controller, network):
    """The comparison: the misrouting replica with no vote. The first packets of a pair
    are flooded, then its rule sends them back where they came from: pings fail."""
    ctl = controller([os.path.join(HERE, 'misrouting_replica.py')])
    net = network(LinearTopo(n=1, hosts_per_switch=3), ctl)
    out = net.get('h1').cmd('ping -c 10 -i 0.1 %s' % net.get('h2').IP())
    assert ' 0% packet loss' not in out, out
    entries = flows.dump_flows('s1')
    assert [e for e in entries if 'IN_PORT' in e.actions], flows.format_flows({'s1': entries})
