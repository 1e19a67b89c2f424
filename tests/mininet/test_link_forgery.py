"""Link fabrication (issue 12; TopoGuard, NDSS 2015) on a real network: hosts capture
the controller's LLDP frames, then replay, relay, alter or invent them with raw sockets
(tests/harness/forged_lldp.py). The controller believes no new link: no link in its
log, the same spanning tree in the switches, one refusal line per attacked port; and
the real links still carry traffic (pings, 0% loss)."""

import re
import time

from controller.discovery import FRESHNESS_MARGIN
from controller.l2 import pipeline as l2_pipe
from tests.harness import flows, forged_lldp, l2, stable
from tests.harness.network import host_ports
from tests.harness.traffic import reachability_matrix
from tests.mininet.test_l2_learning import make_topo, start_l2

MAX_AGE = 2 * 1.0 + FRESHNESS_MARGIN  # lldp_interval 1.0 (the default)
REFUSED = re.compile(r'LLDP frame refused on ([0-9a-f]{16}):(\d+): ')
DISCOVERED = re.compile(r'link (\S+ -> \S+) discovered')


def refusals(lines):
    """[(dpid, port, the line)] of the refusal lines among ``lines``."""
    return [
        (int(m.group(1), 16), int(m.group(2)), line)
        for line in lines
        for m in [REFUSED.search(line)]
        if m
    ]


def port_of(net, host):
    """(dpid, port) where ``host`` is attached (switch sN has dpid N)."""
    switch, port = host_ports(net)[host]
    return int(switch[1:]), port


def tree_rules(net):
    """{switch: sorted (table, priority, match, actions)} of the rules l2_learning
    derives from the spanning tree: port drops and floods."""
    kept = {
        (l2_pipe.SOURCE_TABLE, l2_pipe.PRIO_PORT_DROP),
        (l2_pipe.DESTINATION_TABLE, l2_pipe.PRIO_FLOOD),
    }
    return {
        s.name: sorted(
            (f.table, f.priority, f.match_text(), f.actions)
            for f in flows.dump_flows(s.name)
            if (f.table, f.priority) in kept
        )
        for s in net.switches
    }


def attack(net):
    """h1 captures a fresh frame of its switch; h2 relays it at once; h1
    sends it back; h1 and h2 send every forgery of it; once it is stale, h3 replays it,
    then sends the forgeries too. Returns what each host's port sees first:
    {(dpid, port): the reason its refusal line names}."""
    h1, h2, h3 = (net.get(name) for name in ('h1', 'h2', 'h3'))
    captured = forged_lldp.fresh_capture(h1)
    forged_lldp.send(h2, [captured])  # within the window, onto a host port
    forged_lldp.send(h1, [captured])  # back where it came from
    forged = list(forged_lldp.forgeries(captured, time.time()).values())
    for host in (h1, h2):
        forged_lldp.send(host, forged)
    time.sleep(max(0.0, forged_lldp.sent_at(captured) + MAX_AGE + 1.0 - time.time()))
    forged_lldp.send(h3, [captured] + forged)  # replayed after the window
    time.sleep(1.0)  # the controller reads its backlog
    return {
        port_of(net, 'h1'): 'came back in on the port that sent it',
        port_of(net, 'h2'): 'came in on a port where a host has been learned',
        port_of(net, 'h3'): 'signed too long ago',
    }


def assert_refused_once_per_port(new_lines, expected):
    refused = refusals(new_lines)
    assert sorted((dpid, port) for dpid, port, _ in refused) == sorted(expected), '\n'.join(
        line for _, _, line in refused
    )
    for dpid, port, line in refused:
        assert expected[(dpid, port)] in line, line


def test_l2_learning_believes_no_forged_link(controller, network):
    ctl, net = start_l2(controller, network, make_topo('ring', 4))
    assert reachability_matrix(net.hosts).loss_percent == 0  # every host learned
    before = ctl.log_text().splitlines()
    assert len(set(DISCOVERED.findall('\n'.join(before)))) == 8  # 4 links, both ways
    assert refusals(before) == [], 'a genuine frame was refused'
    tree = tree_rules(net)

    expected = attack(net)

    new_lines = ctl.log_text().splitlines()[len(before) :]
    assert [
        line for line in new_lines if 'discovered' in line or 'spanning tree recomputed' in line
    ] == []
    assert_refused_once_per_port(new_lines, expected)
    assert tree_rules(net) == tree
    assert not l2.flooding_problems(net)
    reach = reachability_matrix(net.hosts)
    assert reach.loss_percent == 0, reach.table()


def test_stable_routing_believes_no_forged_link(controller, network):
    """The same attack, the relay onto a host port included."""
    ctl = controller(['apps/stable_routing.py'])
    net = network(make_topo('ring', 4), ctl)
    reachability_matrix(net.hosts)
    status = stable.wait_for_epoch(ctl, net)
    assert status['epoch'], 'no epoch with every host: %s' % status
    before = ctl.log_text().splitlines()
    assert refusals(before) == [], 'a genuine frame was refused'

    expected = attack(net)

    new_lines = ctl.log_text().splitlines()[len(before) :]
    assert [line for line in new_lines if 'link-up' in line] == []
    assert_refused_once_per_port(new_lines, expected)
    assert ctl.rest('/stable/epoch')['epoch'] == status['epoch']
    reach = reachability_matrix(net.hosts)
    assert reach.loss_percent == 0, reach.table()
