"""The switch graph built from link discovery, and the spanning tree floods follow.

Pure logic on networkx, no OpenFlow: link discovery (controller/discovery.py) feeds it
the links that signed LLDP frames prove, and apps ask which ports of a switch may flood.
"""

from collections.abc import Set as AbstractSet

import networkx as nx

# One direction of a link: (src_dpid, src_port, dst_dpid, dst_port).
Link = tuple[int, int, int, int]


class SwitchGraph:
    """Switches and the directed links discovered between their ports.

    LLDP reports each direction of a link separately; a port counts as a switch-to-switch
    port as soon as either direction has been seen, so that it is never treated as a
    host port (which would let a flood loop through it). Each link remembers when it was
    last seen, so that links whose LLDP stopped arriving can be expired.
    """

    def __init__(self):
        self._switches = set()
        self._links = {}  # (src_dpid, src_port, dst_dpid, dst_port) -> last seen
        self._inter_switch = None  # dpid -> ports, derived from _links on demand

    @property
    def switches(self) -> frozenset[int]:
        return frozenset(self._switches)

    @property
    def links(self) -> frozenset[Link]:
        return frozenset(self._links)

    def add_switch(self, dpid: int) -> None:
        self._switches.add(dpid)

    def remove_switch(self, dpid: int) -> bool:
        """Forget a switch and every link touching it; True if anything changed."""
        before = len(self._links)
        self._links = {
            link: seen for link, seen in self._links.items() if dpid not in (link[0], link[2])
        }
        self._inter_switch = None
        had = dpid in self._switches
        self._switches.discard(dpid)
        return had or len(self._links) != before

    def add_link(
        self, src_dpid: int, src_port: int, dst_dpid: int, dst_port: int, now: float = 0.0
    ) -> bool:
        """Record (or refresh) one direction of a link; True if it is new."""
        link = (src_dpid, src_port, dst_dpid, dst_port)
        is_new = link not in self._links
        self._links[link] = now
        if is_new:
            self._switches.update((src_dpid, dst_dpid))
            self._inter_switch = None
        return is_new

    def expire(self, now: float, timeout: float) -> list[Link]:
        """Forget the links not seen for ``timeout`` seconds; returns them."""
        stale = [link for link, seen in self._links.items() if now - seen > timeout]
        for link in stale:
            del self._links[link]
        if stale:
            self._inter_switch = None
        return stale

    def remove_link(self, src_dpid: int, src_port: int, dst_dpid: int, dst_port: int) -> bool:
        link = (src_dpid, src_port, dst_dpid, dst_port)
        if link not in self._links:
            return False
        del self._links[link]
        self._inter_switch = None
        return True

    def remove_port(self, dpid: int, port: int) -> bool:
        """Forget both directions of any link on (dpid, port); True if any was known."""
        gone = [
            link
            for link in self._links
            if (link[0], link[1]) == (dpid, port) or (link[2], link[3]) == (dpid, port)
        ]
        for link in gone:
            del self._links[link]
        self._inter_switch = None
        return bool(gone)

    def inter_switch_ports(self, dpid: int) -> AbstractSet[int]:
        """Ports of ``dpid`` on a discovered link (asked on every packet-in: cached)."""
        if self._inter_switch is None:
            self._inter_switch = {}
            for src_dpid, src_port, dst_dpid, dst_port in self._links:
                self._inter_switch.setdefault(src_dpid, set()).add(src_port)
                self._inter_switch.setdefault(dst_dpid, set()).add(dst_port)
        return self._inter_switch.get(dpid, frozenset())

    def graph(self, bidirectional: bool = False) -> nx.Graph:
        """Undirected networkx graph: one edge per switch pair, carrying the link used.

        Of parallel links between two switches the one with the lowest port pair is kept,
        so the choice is the same on every run. With ``bidirectional``, only links seen
        in both directions count (what routing needs: a one-way link would black-hole).
        """
        g = nx.Graph()
        g.add_nodes_from(self._switches)
        for src_dpid, src_port, dst_dpid, dst_port in sorted(self._links):
            if src_dpid == dst_dpid:
                continue  # a port looped back to its own switch is never a tree link
            if bidirectional and (dst_dpid, dst_port, src_dpid, src_port) not in self._links:
                continue
            a, b = sorted(((src_dpid, src_port), (dst_dpid, dst_port)))
            ports = {a[0]: a[1], b[0]: b[1]}
            if g.has_edge(a[0], b[0]):
                known = g.edges[a[0], b[0]]['ports']
                if (known[a[0]], known[b[0]]) <= (a[1], b[1]):
                    continue
            g.add_edge(a[0], b[0], ports=ports)
        return g


def spanning_tree_ports(switch_graph: 'SwitchGraph | nx.Graph') -> dict[int, set[int]]:
    """{dpid: set of switch-to-switch ports that are on the flooding tree}.

    A breadth-first tree from the lowest dpid of each connected component, neighbours
    taken in dpid order: like STP's root bridge, it is deterministic and every switch's
    path to the root is a shortest one. ``switch_graph`` is a SwitchGraph or a networkx
    graph whose edges carry ``ports`` as SwitchGraph.graph() makes them.
    """
    g = switch_graph if isinstance(switch_graph, nx.Graph) else switch_graph.graph()
    tree_ports: dict[int, set[int]] = {dpid: set() for dpid in g.nodes}
    for component in nx.connected_components(g):
        root = min(component)
        tree = nx.bfs_tree(g, root, sort_neighbors=sorted)
        for parent, child in tree.edges:
            ports = g.edges[parent, child]['ports']
            tree_ports[parent].add(ports[parent])
            tree_ports[child].add(ports[child])
    return tree_ports


def flood_rules(forwarding_ports: AbstractSet[int]) -> dict[int, list[int]]:
    """{in_port: ports a flood from in_port goes out of} for the given forwarding ports."""
    return {port: sorted(forwarding_ports - {port}) for port in sorted(forwarding_ports)}
