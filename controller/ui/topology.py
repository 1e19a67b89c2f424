"""The network as the web view draws it, merged from what the apps of the process know.

Each app that knows something of the network adds a *view* (``add_view``): a function
returning a :class:`Partial` — the links it discovered, which of them it forwards on (the
spanning tree of l2_learning, the SFT of stable_routing), the hosts it learned. The
switches and their ports come from the OpenFlow counters (controller/metrics/openflow.py),
which see every connection of the process.

A link once seen and now missing (its LLDP timed out, its port went down, a switch
left) is shown *down* until it comes back: the page is where an operator sees a
failure, not only what still works. At most ``MAX_DOWN_LINKS`` are remembered (the
oldest forgotten first).
"""

from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from controller.metrics.openflow import OPENFLOW, OpenFlowCounters, port_live

Link = tuple[int, int, int, int]  # (dpid, port, dpid, port), one direction
LinkKey = tuple[tuple[int, int], tuple[int, int]]  # both ends, in order: one cable
MAX_DOWN_LINKS = 1024


@dataclass
class Partial:
    """What one app knows: link directions, the cables it forwards on by role
    ('tree', 'sft'), and hosts ({'mac', 'switch' (dpid), 'port', 'vlan' (optional)})."""

    links: Iterable[Link] = ()
    roles: dict[LinkKey, str] = field(default_factory=dict)
    hosts: list[dict] = field(default_factory=list)


View = Callable[[], Partial]


def cable(link: Link) -> LinkKey:
    """The key of the cable a link direction is on (both directions give the same)."""
    a, pa, b, pb = link
    return ((a, pa), (b, pb)) if (a, pa) <= (b, pb) else ((b, pb), (a, pa))


def dpid_text(dpid: int) -> str:
    return '%016x' % dpid


class Topology:
    """The views of the process and the cables seen so far."""

    def __init__(self, counters: OpenFlowCounters = OPENFLOW) -> None:
        self.counters = counters
        self.views: dict[str, View] = {}
        self.seen: OrderedDict[LinkKey, None] = OrderedDict()  # cables ever seen, oldest first

    def add_view(self, name: str, view: View) -> None:
        """Have ``view()`` read at every request (``name``: the app's; a second app of
        that name replaces the first)."""
        self.views[name] = view

    def snapshot(self) -> dict:
        """The JSON body of GET /ui/api/topology."""
        partials = [view() for view in list(self.views.values())]
        counters = self.counters
        live: dict[tuple[int, int], bool] = {}
        switches = []
        for dpid in sorted(set(counters.connections) | set(counters.connected)):
            dp = counters.connected.get(dpid)
            ports = sorted(dict(dp.ports).items()) if dp is not None else []
            for port_no, port in ports:
                live[(dpid, port_no)] = port_live(port)
            switches.append(
                {
                    'id': dpid_text(dpid),
                    'name': counters.name(dpid),
                    'connected': dp is not None,
                    'ports': [
                        {'port': port_no, 'live': live[(dpid, port_no)]}
                        for port_no, port in ports
                        if port_no <= 0xFFFFFF00  # OFPP_MAX: not LOCAL
                    ],
                }
            )
        roles: dict[LinkKey, set[str]] = {}
        current: set[LinkKey] = set()
        for partial in partials:
            current.update(cable(link) for link in partial.links)
            for key, role in partial.roles.items():
                roles.setdefault(key, set()).add(role)
        for key in sorted(current):
            self.seen.pop(key, None)
            self.seen[key] = None  # most recently seen last
        while len(self.seen) > MAX_DOWN_LINKS + len(current):
            self.seen.popitem(last=False)
        links = []
        for key in sorted(self.seen):
            (a, pa), (b, pb) = key
            up = key in current and live.get((a, pa), True) and live.get((b, pb), True)
            links.append(
                {
                    'id': '%s:%d-%s:%d' % (dpid_text(a), pa, dpid_text(b), pb),
                    'src': dpid_text(a),
                    'src_port': pa,
                    'dst': dpid_text(b),
                    'dst_port': pb,
                    'state': 'up' if up else 'down',
                    'roles': sorted(roles.get(key, ())) if up else [],
                }
            )
        hosts = {}
        for partial in partials:
            for host in partial.hosts:
                entry = dict(host, switch=dpid_text(host['switch']))
                hosts[(entry['mac'], entry.get('vlan'))] = entry
        return {
            'apps': sorted(self.views),
            'switches': switches,
            'links': links,
            'hosts': [hosts[key] for key in sorted(hosts, key=str)],
        }


#: the process's topology (one web view for every app of the process)
TOPOLOGY = Topology()


def add_view(name: str, view: View) -> None:
    TOPOLOGY.add_view(name, view)


def links_on_ports(links: Iterable[Link], ports: dict[int, Any], role: str) -> dict:
    """{cable: role} of the ``links`` whose both ends are in ``ports`` ({dpid: ports})."""
    return {
        cable(link): role
        for link in links
        if link[1] in ports.get(link[0], ()) and link[3] in ports.get(link[2], ())
    }
