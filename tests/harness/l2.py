"""Readiness of apps/l2_learning.py on a running network, read from the flow tables:
a port forwards once the app has given it a flood rule (see the app's pipeline)."""

import networkx as nx

from controller.l2.pipeline import DESTINATION_TABLE, PRIO_FLOOD
from tests.harness import flows
from tests.harness.network import host_ports, switch_links, wait_until


def forwarding_ports(switch):
    return {
        int(f.match['in_port'])
        for f in flows.dump_flows(switch, table=DESTINATION_TABLE)
        if f.priority == PRIO_FLOOD and 'in_port' in f.match
    }


def flooding_problems(net):
    """What still keeps a flood from reaching every host: host ports not forwarding yet,
    or forwarding switch links that do not yet join all switches. Empty when ready."""
    forwarding = {s.name: forwarding_ports(s.name) for s in net.switches}
    problems = [
        '%s port %d (host %s) not forwarding' % (sw, port, host)
        for host, (sw, port) in sorted(host_ports(net).items())
        if port not in forwarding[sw]
    ]
    tree = nx.Graph()
    tree.add_nodes_from(forwarding)
    tree.add_edges_from(
        (a_sw, b_sw)
        for (a_sw, a_port), (b_sw, b_port) in switch_links(net)
        if a_port in forwarding[a_sw] and b_port in forwarding[b_sw]
    )
    if not nx.is_connected(tree):
        problems.append(
            'forwarding links leave the switches in %d parts: %s'
            % (
                nx.number_connected_components(tree),
                [sorted(c) for c in nx.connected_components(tree)],
            )
        )
    return problems


def wait_ready(net, timeout=30.0):
    """Wait until floods reach every host; returns the problems left (empty = ready)."""
    problems = []

    def ready():
        problems[:] = flooding_problems(net)
        return not problems

    wait_until(ready, timeout)
    return problems
