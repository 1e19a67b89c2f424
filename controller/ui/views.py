"""What each app adds to the web view's topology (controller/ui/topology.py's Partial),
as functions of its state."""

from typing import Any

from controller.ui.topology import Partial, cable, links_on_ports


def l2_view(app: Any) -> Partial:
    """l2_learning: its discovered links, the spanning tree, the hosts learned on host
    ports (those on switch-to-switch ports are the same hosts seen from afar)."""
    links = list(app.graph.links)
    hosts = []
    for dpid, sw in app.switches.items():
        inter_switch = app.graph.inter_switch_ports(dpid)
        for port in sw.dp.ports:
            if port not in inter_switch:
                hosts += [
                    {'mac': mac, 'switch': dpid, 'port': port} for mac in sw.macs.macs_on_port(port)
                ]
    return Partial(links, links_on_ports(links, app.tree_ports, 'tree'), hosts)


def stable_view(app: Any) -> Partial:
    """stable_routing: its discovered links, those the epoch in force forwards on (a
    stable next hop at either end), its hosts."""
    links = list(app.graph.links)
    roles = {}
    if app.current is not None:
        used = {
            (dpid, route.port)
            for table in app.current.sft.routes.values()
            for dpid, route in table.items()
        }
        roles = {
            cable(link): 'sft'
            for link in links
            if (link[0], link[1]) in used or (link[2], link[3]) in used
        }
    hosts = [{'mac': mac, 'switch': dpid, 'port': port} for mac, (dpid, port) in app.hosts.items()]
    return Partial(links, roles, hosts)


def vswitch_view(app: Any) -> Partial:
    """vswitch_policy: no discovery (the policy says the ports), the hosts by VLAN."""
    hosts = [
        {'mac': mac, 'switch': dpid, 'port': port, 'vlan': vid}
        for dpid, sw in app.switches.items()
        for vid, table in sw.hosts.items()
        for port in sw.plans
        for mac in table.macs_on_port(port)
    ]
    return Partial((), {}, hosts)
