"""The L2 learning app's REST endpoints (Ryu WSGI, ``--wsapi-port``) and its metrics,
as functions of the app's state, so the bodies are unit-tested without a web server.

    GET /l2/hosts    hosts learned: switch, port, and whether the port is a host port
    GET /l2/ports    every port of every switch: live, forwarding/blocked/probing,
                     on the tree, to another switch, hosts learned, banned
    GET /l2/tree     switches, discovered links (each with whether it is on the
                     spanning tree) and the tree's ports per switch
    GET /l2/bans     ports that learn no new MAC now, and bans counted so far

JSON in the style of the other apps' endpoints (dpids as 16 hex digits); the server is
guarded by controller/rest.py.
"""

from collections.abc import Iterable
from typing import Any, Protocol

from prometheus_client.core import Metric
from ryu.app.wsgi import ControllerBase, Response, route

from controller.metrics.collectors import LearnBans, learning_families
from controller.rest import json_response

REST_APP = 'l2_learning_app'


class L2State(Protocol):
    """What the endpoints read of apps/l2_learning.py's L2Learning."""

    switches: dict
    tree_ports: dict[int, set[int]]
    graph: Any
    bans: LearnBans

    def live_ports(self, dpid: int) -> set: ...


def dpid_text(dpid: int) -> str:
    return '%016x' % dpid


def _learned(sw: Any) -> Iterable[tuple[str, int]]:
    """(mac, port) of every host a switch has learned."""
    for port in sorted(sw.dp.ports):
        for mac in sorted(sw.macs.macs_on_port(port)):
            yield mac, port


def hosts(app: L2State) -> list[dict]:
    found = []
    for dpid, sw in sorted(app.switches.items()):
        inter_switch = app.graph.inter_switch_ports(dpid)
        for mac, port in _learned(sw):
            found.append(
                {
                    'mac': mac,
                    'switch': dpid_text(dpid),
                    'port': port,
                    'host_port': port not in inter_switch,
                }
            )
    return found


def port_state(app: L2State, sw: Any, port_no: int, live: set) -> str:
    """'down', 'forwarding', 'blocked' (a switch port off the tree) or 'probing' (up,
    waiting for LLDP before it forwards as a host port)."""
    if port_no not in live:
        return 'down'
    if sw.reconcile_at is not None:
        return 'probing'
    if port_no in sw.port_rules.forwarding:
        return 'forwarding'
    if port_no in sw.port_rules.drops:
        return 'blocked'
    return 'probing'


def ports(app: L2State) -> dict:
    body = {}
    for dpid, sw in sorted(app.switches.items()):
        live = app.live_ports(dpid)
        inter_switch = app.graph.inter_switch_ports(dpid)
        tree = app.tree_ports.get(dpid, set())
        body[dpid_text(dpid)] = [
            {
                'port': port_no,
                'name': _port_name(port),
                'state': port_state(app, sw, port_no, live),
                'to_switch': port_no in inter_switch,
                'on_tree': port_no in tree,
                'hosts': len(sw.macs.macs_on_port(port_no)),
                'banned': sw.macs.is_banned(port_no),
            }
            for port_no, port in sorted(sw.dp.ports.items())
            if port_no <= sw.dp.ofproto.OFPP_MAX
        ]
    return body


def _port_name(port: Any) -> str:
    name = getattr(port, 'name', b'')
    return name.decode(errors='replace') if isinstance(name, bytes) else str(name)


def tree(app: L2State) -> dict:
    links = []
    for src, src_port, dst, dst_port in sorted(app.graph.links):
        links.append(
            {
                'src': dpid_text(src),
                'src_port': src_port,
                'dst': dpid_text(dst),
                'dst_port': dst_port,
                'on_tree': src_port in app.tree_ports.get(src, ())
                and dst_port in app.tree_ports.get(dst, ()),
            }
        )
    return {
        'switches': [dpid_text(dpid) for dpid in sorted(app.graph.switches)],
        'links': links,
        'tree_ports': {
            dpid_text(dpid): sorted(tree_ports)
            for dpid, tree_ports in sorted(app.tree_ports.items())
        },
    }


def bans(app: L2State) -> dict:
    banned_now = [
        {'switch': dpid_text(dpid), 'port': port_no}
        for dpid, sw in sorted(app.switches.items())
        for port_no in sorted(sw.dp.ports)
        if sw.macs.is_banned(port_no)
    ]
    counted = [
        {'switch': dpid_text(dpid), 'port': port, 'bans': count}
        for (dpid, port, _), count in sorted(app.bans.counts.items())
    ]
    return {'banned_now': banned_now, 'bans': counted}


def metric_families(app: L2State) -> Iterable[Metric]:
    """Hosts learned per switch and port (no VLAN: the label is empty), and bans."""
    return learning_families(
        ((dpid, '', list(sw.dp.ports), sw.macs) for dpid, sw in sorted(app.switches.items())),
        app.bans,
    )


class L2LearningRest(ControllerBase):
    """The endpoints; ``data[REST_APP]`` is the app."""

    def __init__(self, req: Any, link: Any, data: dict, **config: Any) -> None:
        super().__init__(req, link, data, **config)
        self.app: L2State = data[REST_APP]

    @route('l2', '/l2/hosts', methods=['GET'])
    def hosts(self, req: Any, **_: Any) -> Response:
        return json_response(hosts(self.app))

    @route('l2', '/l2/ports', methods=['GET'])
    def ports(self, req: Any, **_: Any) -> Response:
        return json_response(ports(self.app))

    @route('l2', '/l2/tree', methods=['GET'])
    def tree(self, req: Any, **_: Any) -> Response:
        return json_response(tree(self.app))

    @route('l2', '/l2/bans', methods=['GET'])
    def bans(self, req: Any, **_: Any) -> Response:
        return json_response(bans(self.app))
