"""Stable Forwarding Tables: what every switch forwards to every host in one epoch, and
the check an SFT must pass before it is installed.

Pure logic on networkx, no OpenFlow (apps/stable_routing.py installs what this computes).
The design follows Consensus Routing (John et al., NSDI 2008): the controller computes
forwarding from a consistent snapshot of the topology, never from a half-applied stream
of events, and a table that would loop or black-hole is never installed.

- ``Snapshot``: switches, bidirectional links (with the port at each end) and where each
  host is attached, at one instant.
- ``compute_sft``: for each switch that has hosts (a destination), a shortest-path tree
  of next hops towards it; ties go to the neighbour with the lowest dpid, so the same
  snapshot always gives the same table. Each next hop gets a loop-free backup
  (a loop-free alternate, RFC 5286) for the fast-failover groups of transient mode.
- ``check_sft``: an independent check of a table against a snapshot: every next hop is
  a real link, following next hops from any switch reaches the destination (no loop, no
  black hole), every switch connected to a destination has a route, hosts sit on host
  ports, and each backup avoids the switch it protects (no loop when the primary link
  fails).

Why the backup rule is loop-free: switch ``u`` at distance ``d(u)`` from the destination
may use a neighbour ``w`` with ``d(w) <= d(u)``, ``w`` not its primary. ``w``'s own next
hops lead through switches strictly closer than ``d(w)``, so never back through ``u``;
when the link from ``u`` to its primary fails, traffic detoured to ``w`` reaches the
destination on ``w``'s stable route. Neighbours strictly closer (equal-cost alternates)
are preferred over neighbours at the same distance.
"""

from dataclasses import dataclass, field

import networkx as nx


@dataclass(frozen=True)
class Snapshot:
    """The topology an epoch is computed from.

    ``links`` holds one entry per switch pair, ``(a, port_at_a, b, port_at_b)`` with
    ``a < b``: the links routing may use. ``hosts`` maps each host MAC to its
    ``(dpid, port)``; ``ports`` lists the live ports of each switch. ``link_ports`` holds
    every ``(dpid, port)`` on any discovered link, also the links routing leaves out (a
    second parallel link, a link seen in one direction only): such a port is never a
    host port, or a flood would loop through it.
    """
    switches: frozenset
    links: frozenset
    hosts: tuple        # sorted ((mac, (dpid, port)), ...): hashable, ordered
    ports: tuple = ()   # sorted ((dpid, (port, ...)), ...)
    link_ports: frozenset = frozenset()

    @staticmethod
    def make(switches, links, hosts, ports=None, link_ports=()):
        canonical = set()
        for a, pa, b, pb in links:
            canonical.add((a, pa, b, pb) if a < b else (b, pb, a, pa))
        ends = {(a, pa) for a, pa, _, _ in canonical} | {(b, pb) for _, _, b, pb in canonical}
        return Snapshot(frozenset(switches), frozenset(canonical),
                        tuple(sorted(dict(hosts).items())),
                        tuple(sorted((dpid, tuple(sorted(p)))
                                     for dpid, p in dict(ports or {}).items())),
                        frozenset(link_ports) | ends)

    @staticmethod
    def from_switch_graph(switch_graph, hosts, ports=None):
        """A snapshot of a controller.topology.SwitchGraph, keeping only links whose two
        directions were both discovered: a one-way link is not safe to route over."""
        g = switch_graph.graph(bidirectional=True)
        seen = {end for a, pa, b, pb in switch_graph.links for end in ((a, pa), (b, pb))}
        return Snapshot.make(g.nodes, ((a, ports_[a], b, ports_[b])
                                       for a, b, ports_ in g.edges(data='ports')),
                             hosts, ports, seen)

    def host_ports(self, dpid):
        """Live ports of ``dpid`` that are on no discovered link."""
        return {port for port in dict(self.ports).get(dpid, ())
                if (dpid, port) not in self.link_ports}

    def unused_link_ports(self, dpid):
        """Ports of ``dpid`` on a discovered link that routing does not use."""
        used = self.neighbour_at()
        return {port for (switch, port) in self.link_ports
                if switch == dpid and (switch, port) not in used}

    def graph(self):
        """Undirected networkx graph; each edge carries ``ports`` {dpid: port}."""
        g = nx.Graph()
        g.add_nodes_from(self.switches)
        for a, pa, b, pb in self.links:
            g.add_edge(a, b, ports={a: pa, b: pb})
        return g

    def host_map(self):
        return dict(self.hosts)

    def neighbour_at(self):
        """{(dpid, port): neighbour dpid} for both ends of every link."""
        ends = {}
        for a, pa, b, pb in self.links:
            ends[(a, pa)] = b
            ends[(b, pb)] = a
        return ends


@dataclass(frozen=True)
class Route:
    """How one switch forwards towards one destination switch."""
    port: int               # the stable next hop
    backup: int = None      # the fast-failover alternative, None if none is loop-free


@dataclass(frozen=True)
class StableForwardingTable:
    """Next hops of every switch towards every destination switch, and the hosts."""
    hosts: tuple                      # as Snapshot.hosts
    routes: dict = field(hash=False)  # destination dpid -> {dpid: Route}

    def host_map(self):
        return dict(self.hosts)

    def destinations(self):
        return sorted(self.routes)

    def unprotected(self):
        """[(destination, dpid)] whose next hop has no loop-free backup."""
        return [(dst, dpid) for dst, table in sorted(self.routes.items())
                for dpid, route in sorted(table.items()) if route.backup is None]

    def switch_entries(self, dpid):
        """What switch ``dpid`` does with traffic for each host, sorted by MAC:
        ``(mac, 'deliver', port)`` for its own hosts, ``(mac, 'forward', Route)``
        for hosts it has a route to; hosts it cannot reach are left out."""
        entries = []
        for mac, (host_dpid, port) in self.hosts:
            if host_dpid == dpid:
                entries.append((mac, 'deliver', port))
            elif dpid in self.routes.get(host_dpid, {}):
                entries.append((mac, 'forward', self.routes[host_dpid][dpid]))
        return entries

    def path_in(self, snapshot, src_dpid, mac):
        """The switches a frame entering at ``src_dpid`` for host ``mac`` crosses, on
        stable routes; None if it has no route."""
        dst = self.host_map()[mac][0]
        neighbour = snapshot.neighbour_at()
        hops, here = [src_dpid], src_dpid
        while here != dst:
            route = self.routes.get(dst, {}).get(here)
            if route is None or len(hops) > len(snapshot.switches):
                return None
            here = neighbour[(here, route.port)]
            hops.append(here)
        return hops


def compute_sft(snapshot):
    """The stable forwarding table of ``snapshot`` (see the module docstring)."""
    g = snapshot.graph()
    neighbours = {u: sorted(g.adj[u]) for u in g}
    port = {u: {v: g.adj[u][v]['ports'][u] for v in g.adj[u]} for u in g}
    routes = {}
    for dst in sorted({dpid for dpid, _ in snapshot.host_map().values()}):
        if dst not in g:
            continue
        distance = nx.single_source_shortest_path_length(g, dst)
        table = {}
        for u, d_u in distance.items():
            if u == dst:
                continue
            primary, backup, backup_key = None, None, None
            for v in neighbours[u]:       # in dpid order: ties go to the lowest dpid
                d_v = distance[v]
                if primary is None and d_v == d_u - 1:
                    primary = v
                elif d_v <= d_u and (backup_key is None or (d_v, v) < backup_key):
                    backup, backup_key = v, (d_v, v)
            table[u] = Route(port[u][primary],
                             None if backup is None else port[u][backup])
        routes[dst] = table
    return StableForwardingTable(snapshot.hosts, routes)


@dataclass(frozen=True)
class Violation:
    """Why a table must not be installed: ``kind`` is one of 'loop', 'black-hole',
    'bad-port', 'bad-host', 'backup-loop', 'backup-black-hole'."""
    kind: str
    destination: int        # the destination switch (hosts behind it are affected)
    switches: tuple         # the switches involved, in path order where there is one
    detail: str = ''

    def __str__(self):
        return '%s towards switch %s at %s%s' % (
            self.kind, _dpid(self.destination), ' -> '.join(map(_dpid, self.switches)),
            ': ' + self.detail if self.detail else '')


def _dpid(dpid):
    return '%x' % dpid


def check_sft(sft, snapshot):
    """Every reason ``sft`` must not be installed on ``snapshot``; empty when it is safe.

    Deliberately independent of compute_sft: it follows the ports of the table through
    the snapshot's links rather than trusting distances.
    """
    violations = []
    neighbour = snapshot.neighbour_at()
    g = snapshot.graph()
    for mac, (dpid, port) in snapshot.hosts:
        if dpid not in snapshot.switches or (dpid, port) in snapshot.link_ports:
            violations.append(Violation('bad-host', dpid, (dpid,),
                                        'host %s on port %d, which is not a host port of '
                                        'a known switch' % (mac, port)))
    for dst in sorted({dpid for dpid, _ in snapshot.host_map().values()}):
        if dst not in g:
            continue
        table = sft.routes.get(dst, {})
        next_hop = {}
        for u, route in table.items():
            v = neighbour.get((u, route.port))
            if v is None:
                violations.append(Violation('bad-port', dst, (u,),
                                            'next hop port %d is on no link' % route.port))
            else:
                next_hop[u] = v
        violations += _walk_violations(dst, next_hop)
        for u in sorted(nx.node_connected_component(g, dst) - {dst} - set(table)):
            violations.append(Violation('black-hole', dst, (u,),
                                        'connected to the destination but has no route'))
        violations += _backup_violations(dst, table, next_hop, neighbour)
    return violations


def _walk_violations(dst, next_hop):
    """Follow next hops from every switch: loops and dead ends towards ``dst``."""
    violations = []
    reaches = {dst: True}        # switch -> whether following next hops reaches dst
    for start in sorted(next_hop):
        path, on_path = [], {}
        here, ok = start, False
        while True:
            if here in reaches:
                ok = reaches[here]
                break
            if here in on_path:
                cycle = tuple(path[on_path[here]:]) + (here,)
                violations.append(Violation('loop', dst, cycle))
                break
            on_path[here] = len(path)
            path.append(here)
            if here not in next_hop:
                violations.append(Violation('black-hole', dst, tuple(path),
                                            'switch %s has no route' % _dpid(here)))
                break
            here = next_hop[here]
        for u in path:
            reaches[u] = ok
    return violations


def _backup_violations(dst, table, next_hop, neighbour):
    """A backup must lead to a switch whose stable route avoids the protected switch:
    in the tree of next hops, the protected switch must not be an ancestor of it."""
    children = {}
    for u, v in next_hop.items():
        children.setdefault(v, []).append(u)
    entered, left, clock = {}, {}, 0
    stack = [(dst, False)]
    while stack:                  # iterative DFS: Euler-tour intervals of the tree
        node, done = stack.pop()
        if done:
            left[node] = clock
            continue
        if node in entered:
            continue              # a loop, reported by _walk_violations
        entered[node] = clock
        clock += 1
        stack.append((node, True))
        stack.extend((c, False) for c in children.get(node, ()))
    violations = []
    for u, route in sorted(table.items()):
        if route.backup is None:
            continue
        w = neighbour.get((u, route.backup))
        if w is None:
            violations.append(Violation('bad-port', dst, (u,),
                                        'backup port %d is on no link' % route.backup))
        elif w != dst and w not in entered:
            violations.append(Violation('backup-black-hole', dst, (u, w),
                                        'the backup neighbour has no route'))
        elif u in entered and entered[u] <= entered[w] < left[u]:
            violations.append(Violation('backup-loop', dst, (u, w),
                                        'the backup neighbour routes back through %s'
                                        % _dpid(u)))
    return violations
