"""Stable Forwarding Tables: what every switch forwards to every host in one epoch, and
the check an SFT must pass before it is installed.

Pure logic on networkx, no OpenFlow (controller/stable/update.py installs what this
computes).
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

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

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
    hosts: tuple  # sorted ((mac, (dpid, port)), ...): hashable, ordered
    ports: tuple = ()  # sorted ((dpid, (port, ...)), ...)
    link_ports: frozenset = frozenset()

    @staticmethod
    def make(
        switches: Iterable[int],
        links: Iterable[tuple[int, int, int, int]],
        hosts: Mapping[str, tuple[int, int]] | Iterable[tuple[str, tuple[int, int]]],
        ports: Mapping[int, Iterable[int]] | None = None,
        link_ports: Iterable[tuple[int, int]] = (),
    ) -> 'Snapshot':
        canonical, ends = set(), set(link_ports)
        for a, pa, b, pb in links:
            ends.update(((a, pa), (b, pb)))
            if a != b:  # a port looped back to its own switch is never a route
                canonical.add((a, pa, b, pb) if a < b else (b, pb, a, pa))
        return Snapshot(
            frozenset(switches),
            frozenset(canonical),
            tuple(sorted(dict(hosts).items())),
            tuple(sorted((dpid, tuple(sorted(p))) for dpid, p in dict(ports or {}).items())),
            frozenset(ends),
        )

    @staticmethod
    def from_switch_graph(
        switch_graph: Any,
        hosts: Mapping[str, tuple[int, int]],
        ports: Mapping[int, Iterable[int]] | None = None,
        switches: Iterable[int] | None = None,
    ) -> 'Snapshot':
        """A snapshot of a controller.topology.SwitchGraph, keeping only links whose two
        directions were both discovered: a one-way link is not safe to route over.

        ``switches``: only these (the others are left out as if down), and with
        ``ports`` only links between ports listed there. The ends of the links left
        out stay link ports: a neighbour of a switch left out drops what comes from
        it rather than taking it for a host."""
        g = switch_graph.graph(bidirectional=True)
        seen = {end for a, pa, b, pb in switch_graph.links for end in ((a, pa), (b, pb))}
        kept = set(g.nodes) if switches is None else set(switches) & set(g.nodes)
        listed = None if ports is None else {dpid: set(p) for dpid, p in ports.items()}

        def routable(dpid: int, port: int) -> bool:
            return dpid in kept and (listed is None or port in listed.get(dpid, ()))

        return Snapshot.make(
            kept,
            (
                (a, ports_[a], b, ports_[b])
                for a, b, ports_ in g.edges(data='ports')
                if routable(a, ports_[a]) and routable(b, ports_[b])
            ),
            hosts,
            ports,
            seen,
        )

    # Per-switch views, computed once per snapshot: the rules of every switch are built
    # from them, and recomputing them per switch made that quadratic.
    @cached_property
    def _live(self):
        return dict(self.ports)

    @cached_property
    def _link_ports_of(self):
        by_switch = {}
        for dpid, port in self.link_ports:
            by_switch.setdefault(dpid, set()).add(port)
        return by_switch

    @cached_property
    def _neighbours_of(self):
        by_switch = {}
        for (dpid, port), neighbour in self.neighbour_at().items():
            by_switch.setdefault(dpid, {})[port] = neighbour
        return by_switch

    def host_ports(self, dpid: int) -> set[int]:
        """Live ports of ``dpid`` that are on no discovered link."""
        return set(self._live.get(dpid, ())) - self._link_ports_of.get(dpid, set())

    def routing_ports(self, dpid: int) -> dict[int, int]:
        """{port: neighbour} of ``dpid``'s links that routing uses."""
        return self._neighbours_of.get(dpid, {})

    def unused_link_ports(self, dpid: int) -> set[int]:
        """Ports of ``dpid`` on a discovered link that routing does not use."""
        return self._link_ports_of.get(dpid, set()) - set(self.routing_ports(dpid))

    def graph(self) -> nx.Graph:
        """Undirected networkx graph; each edge carries ``ports`` {dpid: port}."""
        g = nx.Graph()
        g.add_nodes_from(self.switches)
        for a, pa, b, pb in self.links:
            g.add_edge(a, b, ports={a: pa, b: pb})
        return g

    def host_map(self) -> dict[str, tuple[int, int]]:
        return dict(self.hosts)

    def neighbour_at(self) -> dict[tuple[int, int], int]:
        """{(dpid, port): neighbour dpid} for both ends of every link (read-only)."""
        return self._neighbour_at

    @cached_property
    def _neighbour_at(self):
        ends = {}
        for a, pa, b, pb in self.links:
            ends[(a, pa)] = b
            ends[(b, pb)] = a
        return ends


@dataclass(frozen=True)
class Route:
    """How one switch forwards towards one destination switch."""

    port: int  # the stable next hop
    backup: int | None = None  # the fast-failover alternative, None if none is loop-free


@dataclass(frozen=True)
class StableForwardingTable:
    """Next hops of every switch towards every destination switch, and the hosts."""

    hosts: tuple  # as Snapshot.hosts
    routes: dict = field(hash=False)  # destination dpid -> {dpid: Route}

    def host_map(self) -> dict[str, tuple[int, int]]:
        return dict(self.hosts)

    def destinations(self) -> list[int]:
        return sorted(self.routes)

    def unprotected(self) -> list[tuple[int, int]]:
        """[(destination, dpid)] whose next hop has no loop-free backup."""
        return [
            (dst, dpid)
            for dst, table in sorted(self.routes.items())
            for dpid, route in sorted(table.items())
            if route.backup is None
        ]

    def switch_entries(self, dpid: int) -> list[tuple[str, str, Any]]:
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

    def path_in(self, snapshot: Snapshot, src_dpid: int, mac: str) -> list[int] | None:
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


def compute_sft(snapshot: Snapshot) -> StableForwardingTable:
    """The stable forwarding table of ``snapshot`` (see the module docstring).

    One breadth-first search per destination also picks the next hops: each level is
    scanned in dpid order, so the first switch to reach a new one is that one's
    lowest-dpid closer neighbour (its primary); a later one on that level is its best
    closer alternate, and a neighbour on its own level a same-distance alternate. Equal
    routes are one shared object: a large table is mostly repeats. Switches are
    numbered 0..n-1 in dpid order for the search (lists, not dicts, in the loop that
    runs n x links times).
    """
    g = snapshot.graph()
    dpids = sorted(g)
    index = {dpid: i for i, dpid in enumerate(dpids)}
    n = len(dpids)
    neighbours = [sorted(index[v] for v in g.adj[u]) for u in dpids]
    port = [{index[v]: link['ports'][u] for v, link in g.adj[u].items()} for u in dpids]
    routes: dict[int, dict[int, Route]] = {}
    interned: dict[tuple[int, int | None], Route] = {}
    for dst in sorted({dpid for dpid, _ in snapshot.host_map().values()}):
        if dst not in index:
            continue
        level, primary, closer, same = [-1] * n, [-1] * n, [-1] * n, [-1] * n
        level[index[dst]] = 0
        frontier, reached, d = [index[dst]], [], 0
        while frontier:
            d += 1
            found = []
            for u in frontier:  # sorted: lowest dpid first
                for v in neighbours[u]:
                    d_v = level[v]
                    if d_v < 0:
                        level[v] = d
                        primary[v] = u
                        found.append(v)
                    elif d_v == d:
                        if closer[v] < 0:
                            closer[v] = u
                    elif d_v == d - 1 and (same[u] < 0 or v < same[u]):
                        same[u] = v
            found.sort()
            reached += found
            frontier = found
        table = {}
        for u in reached:
            w = closer[u] if closer[u] >= 0 else same[u]
            ports_u = port[u]
            key = (ports_u[primary[u]], None if w < 0 else ports_u[w])
            route = interned.get(key)
            if route is None:
                route = interned[key] = Route(*key)
            table[dpids[u]] = route
        routes[dst] = table
    return StableForwardingTable(snapshot.hosts, routes)


@dataclass(frozen=True)
class Violation:
    """Why a table must not be installed: ``kind`` is one of 'loop', 'black-hole',
    'bad-port', 'bad-host', 'backup-loop', 'backup-black-hole'."""

    kind: str
    destination: int  # the destination switch (hosts behind it are affected)
    switches: tuple  # the switches involved, in path order where there is one
    detail: str = ''

    def __str__(self) -> str:
        return '%s towards switch %s at %s%s' % (
            self.kind,
            _dpid(self.destination),
            ' -> '.join(map(_dpid, self.switches)),
            ': ' + self.detail if self.detail else '',
        )


def _dpid(dpid):
    return '%x' % dpid


_NO_PORTS: dict[int, int] = {}  # (read-only) the ports of a switch that has no link


def check_sft(sft: StableForwardingTable, snapshot: Snapshot) -> list[Violation]:
    """Every reason ``sft`` must not be installed on ``snapshot``; empty when it is safe.

    Deliberately independent of compute_sft: it follows the ports of the table through
    the snapshot's links rather than trusting distances. The tree of next hops is walked
    outward from each destination; switches it does not reach (a loop, a dead end) are
    then followed one by one to say where the table breaks.
    """
    violations = []
    at: dict[int, dict[int, int]] = {}
    for (u, p), neighbour in snapshot.neighbour_at().items():
        at.setdefault(u, {})[p] = neighbour
    g = snapshot.graph()
    component = {}
    for nodes in nx.connected_components(g):
        for u in nodes:
            component[u] = nodes
    for mac, (dpid, port) in snapshot.hosts:
        if dpid not in snapshot.switches or (dpid, port) in snapshot.link_ports:
            violations.append(
                Violation(
                    'bad-host',
                    dpid,
                    (dpid,),
                    'host %s on port %d, which is not a host port of a known switch' % (mac, port),
                )
            )
    for dst in sorted({dpid for dpid, _ in snapshot.host_map().values()}):
        if dst not in g:
            continue
        table = sft.routes.get(dst, {})
        next_hop: dict[int, int] = {}
        children: dict[int, list[int]] = {}
        for u, route in table.items():
            v = at.get(u, _NO_PORTS).get(route.port)
            if v is None:
                violations.append(
                    Violation('bad-port', dst, (u,), 'next hop port %d is on no link' % route.port)
                )
                continue
            next_hop[u] = v
            if u != dst:
                children.setdefault(v, []).append(u)
        depth, frontier, d = {dst: 0}, [dst], 0  # hops to dst, for switches reaching it
        while frontier:
            d += 1
            found = [u for v in frontier for u in children.get(v, ())]
            depth.update(dict.fromkeys(found, d))
            frontier = found
        unreached = next_hop.keys() - depth.keys()
        if unreached:
            violations += _walk_violations(dst, {u: next_hop[u] for u in unreached})
        for u in sorted(component[dst] - table.keys() - {dst}):
            violations.append(
                Violation('black-hole', dst, (u,), 'connected to the destination but has no route')
            )
        violations += _backup_violations(dst, table, next_hop, at, depth)
    return violations


def _walk_violations(dst, next_hop):
    """Follow next hops from each switch that does not reach ``dst``: its loop or its
    dead end, each reported once."""
    violations = []
    done = set()
    for start in sorted(next_hop):
        path, on_path = [], {}
        here = start
        while here not in done:
            if here in on_path:
                violations.append(Violation('loop', dst, tuple(path[on_path[here] :]) + (here,)))
                break
            on_path[here] = len(path)
            path.append(here)
            if here not in next_hop:
                violations.append(
                    Violation(
                        'black-hole', dst, tuple(path), 'switch %s has no route' % _dpid(here)
                    )
                )
                break
            here = next_hop[here]
        done.update(path)
    return violations


def _backup_violations(dst, table, next_hop, at, depth):
    """A backup must lead to a switch whose stable route avoids the protected switch
    ``u``. ``u`` can be on backup ``w``'s route only if ``w`` is deeper in the tree than
    ``u``; then walking up from ``w`` to ``u``'s depth lands on ``u`` exactly when it is."""
    found = []  # (u, Violation); sorted at the end (sorting the table costs)
    for u, route in table.items():
        if route.backup is None:
            continue
        w = at.get(u, _NO_PORTS).get(route.backup)
        if w is None:
            found.append(
                (u, Violation('bad-port', dst, (u,), 'backup port %d is on no link' % route.backup))
            )
            continue
        d_w = depth.get(w)
        if d_w is None:
            found.append(
                (
                    u,
                    Violation(
                        'backup-black-hole', dst, (u, w), 'the backup neighbour has no route'
                    ),
                )
            )
            continue
        d_u = depth.get(u)
        if d_u is None or d_w < d_u:
            continue
        here = w
        for _ in range(d_w - d_u):
            here = next_hop[here]
        if here == u:
            found.append(
                (
                    u,
                    Violation(
                        'backup-loop',
                        dst,
                        (u, w),
                        'the backup neighbour routes back through %s' % _dpid(u),
                    ),
                )
            )
    return [violation for _, violation in sorted(found, key=lambda pair: pair[0])]
