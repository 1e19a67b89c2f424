"""Stable Forwarding Tables: what every switch forwards to every host in one epoch, and
the check an SFT must pass before it is installed.

Pure logic on numpy and scipy, no OpenFlow (controller/stable/update.py installs what
this computes).
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
from itertools import chain, islice
from typing import Any, NamedTuple

import networkx as nx
import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

ROUTE_PORT_SHIFT = 17  # RouteGrid codes: ports are 16-bit, backup + 1 under them


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
        directed = switch_graph.links
        seen = {end for a, pa, b, pb in directed for end in ((a, pa), (b, pb))}
        known = switch_graph.switches
        kept = set(known) if switches is None else set(switches) & known
        listed = None if ports is None else {dpid: set(p) for dpid, p in ports.items()}

        def routable(dpid: int, port: int) -> bool:
            return dpid in kept and (listed is None or port in listed.get(dpid, ()))

        # As SwitchGraph.graph(bidirectional=True) (without building a networkx graph,
        # a tenth of an epoch at 1,000 switches): links seen both ways, of parallel
        # ones between two switches the lowest port pair.
        chosen: dict[tuple[int, int], tuple[int, int]] = {}
        for a, pa, b, pb in directed:
            if a < b and (b, pb, a, pa) in directed:
                if chosen.get((a, b), (pa, pb)) >= (pa, pb):
                    chosen[(a, b)] = (pa, pb)
        return Snapshot.make(
            kept,
            (
                (a, pa, b, pb)
                for (a, b), (pa, pb) in chosen.items()
                if routable(a, pa) and routable(b, pb)
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

    def tree_ports(self) -> dict[int, set[int]]:
        """controller.topology.spanning_tree_ports of ``graph()`` (the flooding tree:
        breadth-first from the lowest dpid of each component, neighbours in dpid order),
        computed with scipy on the numbered graph instead of networkx: at 1,000
        switches it was a quarter of an epoch's plan."""
        return self._numbered.tree_ports()

    @cached_property
    def _numbered(self) -> '_Numbered':
        """The routing graph as arrays, for compute_sft and check_sft (computed once)."""
        return _Numbered(self)

    @cached_property
    def _neighbour_at(self):
        ends = {}
        for a, pa, b, pb in self.links:
            ends[(a, pa)] = b
            ends[(b, pb)] = a
        return ends


class Route(NamedTuple):
    """How one switch forwards towards one destination switch. A tuple, so that comparing
    two tables' routes runs at C speed (incremental epochs compare tables per
    destination)."""

    port: int  # the stable next hop
    backup: int | None = None  # the fast-failover alternative, None if none is loop-free


class RouteGrid(NamedTuple):
    """An SFT's routes as one array, for comparing two tables at array speed:
    ``codes[column of destination, index of switch]`` is ``port << 17 | backup + 1``
    (backup 0: none), -1 where the switch has no route (the destination itself)."""

    dpids: list  # the switches, in dpid order: the array's second index
    columns: dict  # destination dpid -> its row
    codes: np.ndarray

    def comparable(self, other: 'RouteGrid | None') -> bool:
        return other is not None and self.dpids == other.dpids


@dataclass(frozen=True)
class StableForwardingTable:
    """Next hops of every switch towards every destination switch, and the hosts.
    ``grid``: the same routes as arrays (compute_sft's tables have it)."""

    hosts: tuple  # as Snapshot.hosts
    routes: dict = field(hash=False)  # destination dpid -> {dpid: Route}
    grid: RouteGrid | None = field(default=None, compare=False, hash=False, repr=False)

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


class _Numbered:
    """A snapshot's routing graph as arrays, switches numbered 0..n-1 in dpid order.

    The nodes and edges are those of ``Snapshot.graph()``: the switches and the ends of
    the links, one edge per switch pair (of parallel links, the one networkx keeps,
    the last in ``links`` order). ``src``/``tgt``/``port`` hold both directions of every
    edge sorted by (src, tgt): the neighbours of ``u`` are ``tgt[start[u]:start[u + 1]]``,
    lowest dpid first, and ``port`` is the port of ``src`` towards ``tgt``.
    ``destinations`` are the indexes of the switches with hosts.
    """

    def __init__(self, snapshot: Snapshot) -> None:
        pairs: dict[tuple[int, int], tuple[int, int]] = {}
        for a, pa, b, pb in snapshot.links:  # as Snapshot.make writes them: a < b
            if a != b:
                pairs[(a, b) if a < b else (b, a)] = (pa, pb) if a < b else (pb, pa)
        self.dpids = sorted(set(snapshot.switches).union(*pairs))
        self.n = n = len(self.dpids)
        index = {dpid: i for i, dpid in enumerate(self.dpids)}
        self.index = _IntMap(np.array(self.dpids, dtype=np.uint64), np.arange(n))
        ends = np.array(
            [(index[a], index[b], pa, pb) for (a, b), (pa, pb) in pairs.items()], dtype=np.int64
        ).reshape(-1, 4)
        src = np.concatenate((ends[:, 0], ends[:, 1]))
        tgt = np.concatenate((ends[:, 1], ends[:, 0]))
        order = np.lexsort((tgt, src))
        self.src, self.tgt = src[order], tgt[order]
        self.port = np.concatenate((ends[:, 2], ends[:, 3]))[order]
        self.degree = np.bincount(self.src, minlength=n)
        self.start = np.concatenate(([0], np.cumsum(self.degree)))
        hosts = {dpid for dpid, _ in snapshot.host_map().values()}
        self.destination_dpids = sorted(hosts & index.keys())
        self.destinations = np.array(
            [index[dpid] for dpid in self.destination_dpids], dtype=np.int64
        )

    @cached_property
    def component(self) -> np.ndarray:
        """The number of each switch's connected component (scipy's, for check_sft)."""
        adjacency = sparse.csr_array(
            (np.ones(len(self.tgt), dtype=np.int8), self.tgt, self.start), shape=(self.n, self.n)
        )
        return csgraph.connected_components(adjacency, directed=False)[1]

    def tree_ports(self) -> dict[int, set[int]]:
        """{dpid: ports on the breadth-first tree} (Snapshot.tree_ports). scipy's
        search takes a node's neighbours in the order of its row, here dpid order, as
        networkx's bfs_tree with sorted neighbours does."""
        ports: dict[int, set[int]] = {dpid: set() for dpid in self.dpids}
        if not len(self.src):
            return ports
        adjacency = sparse.csr_array(
            (np.ones(len(self.tgt), dtype=np.int8), self.tgt, self.start), shape=(self.n, self.n)
        )
        component = self.component
        roots = np.unique(component, return_index=True)[1]  # lowest index: lowest dpid
        parent = np.full(self.n, -1, dtype=np.int64)
        for root in roots.tolist():
            if self.degree[root]:
                _, found = csgraph.breadth_first_order(
                    adjacency, root, directed=True, return_predecessors=True
                )
                parent = np.where(found >= 0, found, parent)
        child = np.flatnonzero(parent >= 0)
        up, down = self._edge(child, parent[child]), self._edge(parent[child], child)
        dpids = np.array(self.dpids, dtype=object)
        pairs = chain(
            zip(dpids[child].tolist(), self.port[up].tolist(), strict=True),
            zip(dpids[parent[child]].tolist(), self.port[down].tolist(), strict=True),
        )
        for dpid, port in pairs:
            ports[dpid].add(port)
        return ports

    def _edge(self, src: np.ndarray, tgt: np.ndarray) -> np.ndarray:
        """The index in ``src``/``tgt``/``port`` of each edge src -> tgt (all exist)."""
        return np.searchsorted(self.src * self.n + self.tgt, src * self.n + tgt)

    def breadth_first(self) -> tuple[np.ndarray, list[np.ndarray]]:
        """Breadth-first search from every destination at once, one bit per destination
        (its column in ``destinations``) in words of 64: ``(reached, planes)``, arrays of
        n x words; bit b of a switch's distance to destination j is bit j of
        ``planes[b]``, and bit j of ``reached`` says whether it reaches j at all. A level
        costs a few operations on arrays of links x words, not links x destinations."""
        n, k = self.n, len(self.destinations)
        words = (k + 63) // 64
        frontier = np.zeros((n, words), dtype=np.uint64)
        column = np.arange(k)
        frontier[self.destinations, column // 64] |= np.left_shift(
            np.uint64(1), (column % 64).astype(np.uint64)
        )
        reached = frontier.copy()
        planes: list[np.ndarray] = []
        linked = self.degree > 0
        starts = self.start[:-1][linked]
        level = 0
        while len(starts):
            level += 1
            found = np.zeros_like(frontier)
            found[linked] = np.bitwise_or.reduceat(frontier[self.tgt], starts, axis=0)
            found &= ~reached
            if not found.any():
                break
            reached |= found
            while len(planes) < level.bit_length():
                planes.append(np.zeros_like(frontier))
            for bit in range(level.bit_length()):
                if level >> bit & 1:
                    planes[bit] |= found
            frontier = found
        return reached, planes

    @cached_property
    def distance_bits(self) -> tuple[np.ndarray, list[np.ndarray]]:
        return self.breadth_first()

    def all_but(self, column: int) -> list[int]:
        """The dpids of every switch but destination ``column``, in dpid order: the
        switches of a table with a route from everywhere, as compute_sft writes it."""
        at = int(self.destinations[column])
        return self.dpids[:at] + self.dpids[at + 1 :]

    def unpack(self, bits: np.ndarray) -> np.ndarray:
        """n x words bitsets as an n x destinations array of 0/1 (uint8)."""
        little = bits.astype('<u8', copy=False).view(np.uint8)
        return np.unpackbits(little, axis=1, count=len(self.destinations), bitorder='little')

    def number(self, planes: list[np.ndarray], dtype: Any = np.int32) -> np.ndarray:
        """The n x destinations numbers whose bit b is in bitsets ``planes[b]``."""
        value = np.zeros((self.n, len(self.destinations)), dtype=dtype)
        for bit, plane in enumerate(planes):
            value |= self.unpack(plane).astype(dtype) << bit
        return value

    def distances(self) -> np.ndarray:
        """n x destinations hop counts, -1 where a switch does not reach the destination."""
        reached, planes = self.distance_bits
        distance = self.number(planes)
        distance[self.unpack(reached) == 0] = -1
        return distance


class _IntMap:
    """Non-negative integer keys to integer values, looked up many at once: a table
    indexed by key when the keys are small numbers, else a sorted array. A key at or
    past ``top`` is in no map."""

    TABLE_SIZE = 1 << 22

    def __init__(self, keys: np.ndarray, values: np.ndarray) -> None:
        self.top = int(keys.max(initial=0)) + 1
        if self.top <= self.TABLE_SIZE:
            self.table: np.ndarray | None = np.full(self.top + 1, -1, dtype=np.int64)
            self.table[keys.astype(np.intp)] = values
        else:
            self.table = None
            order = np.argsort(keys)
            self.keys, self.values = keys[order], np.asarray(values, dtype=np.int64)[order]

    def get(self, keys: np.ndarray) -> np.ndarray:
        """The value of each key (non-negative integers), -1 for a key not in the map."""
        if self.table is not None:
            return self.table[np.minimum(keys, self.top).astype(np.intp, copy=False)]
        at = np.searchsorted(self.keys, keys).clip(max=len(self.keys) - 1)
        return np.where(self.keys[at] == keys, self.values[at], -1)


def _max_or(values: np.ndarray, empty: int) -> int:
    """The largest of ``values`` as an int, ``empty`` when there are none."""
    return int(values.max()) if values.size else empty


def compute_sft(snapshot: Snapshot) -> StableForwardingTable:
    """The stable forwarding table of ``snapshot`` (see the module docstring).

    One breadth-first search from every destination at once (``_Numbered``) gives each
    switch's distance to each destination modulo 4, which is enough to tell, link by
    link, whether the neighbour is closer, as close or farther: two neighbours' distances
    differ by at most one. The neighbours of every switch are then visited in dpid
    order, position by position, still one bit per destination: the first closer one is
    the primary, the first other closer one the backup, else the first one as close.
    Equal routes are one shared object: a large table is mostly repeats.
    """
    graph = snapshot._numbered
    k = len(graph.destinations)
    if not k:
        return StableForwardingTable(snapshot.hosts, {})
    reached, planes = graph.distance_bits
    zero = np.zeros_like(reached)
    low, high = (planes + [zero, zero])[:2]  # distance modulo 4
    src, tgt = graph.src, graph.tgt
    parity = low[src] ^ low[tgt]
    # v is closer than u when d(u) = d(v) + 1 (mod 4); as close when their parities agree
    closer = reached[src] & parity & ~(high[src] ^ high[tgt] ^ low[tgt])
    same = reached[src] & ~parity
    position_bits = max(_max_or(graph.degree, 1) - 1, 1).bit_length()
    primary, first_closer, first_same, has_primary, has_closer, has_same = (
        [np.zeros_like(reached) for _ in range(position_bits)],
        [np.zeros_like(reached) for _ in range(position_bits)],
        [np.zeros_like(reached) for _ in range(position_bits)],
        zero.copy(),
        zero.copy(),
        zero.copy(),
    )
    for position in range(_max_or(graph.degree, 0)):
        switches = np.flatnonzero(graph.degree > position)
        edges = graph.start[switches] + position
        is_closer, is_same = closer[edges], same[edges]
        new_primary = is_closer & ~has_primary[switches]
        alternate = is_closer & ~new_primary
        new_closer = alternate & ~has_closer[switches]
        new_same = is_same & ~has_same[switches]
        has_primary[switches] |= is_closer
        has_closer[switches] |= alternate
        has_same[switches] |= is_same
        for bit in range(position_bits):
            if position >> bit & 1:
                primary[bit][switches] |= new_primary
                first_closer[bit][switches] |= new_closer
                first_same[bit][switches] |= new_same

    backup_planes = [
        (closer_bit & has_closer) | (same_bit & ~has_closer)
        for closer_bit, same_bit in zip(first_closer, first_same, strict=True)
    ]
    # The entries destination by destination, in dpid order; ``at`` indexes n x k arrays.
    routed = graph.unpack(has_primary)
    entry = np.flatnonzero(routed.T)
    per_destination = routed.sum(axis=0, dtype=np.int64)
    row = np.repeat(np.arange(k), per_destination)
    switch = entry - row * graph.n
    at = switch * k + row
    first = graph.start[switch]
    small = np.uint8 if position_bits <= 8 else np.int64
    port = graph.port[first + graph.number(primary, small).ravel()[at]]
    backup = np.where(
        graph.unpack(has_closer | has_same).ravel()[at] != 0,
        graph.port[first + graph.number(backup_planes, small).ravel()[at]],
        -1,
    )
    codes = np.full((k, graph.n), -1, dtype=np.int64)
    codes[row, switch] = port.astype(np.int64) << ROUTE_PORT_SHIFT | (backup + 1)
    grid = RouteGrid(
        graph.dpids, {dst: column for column, dst in enumerate(graph.destination_dpids)}, codes
    )
    route_of = iter(_shared_routes(port, backup))
    complete = (per_destination == graph.n - 1).tolist()  # a route from every other switch
    dpid_of = iter(np.array(graph.dpids, dtype=object)[switch[~np.array(complete)[row]]].tolist())
    routes = {}
    for column, (dst, size) in enumerate(
        zip(graph.destination_dpids, per_destination.tolist(), strict=True)
    ):
        keys = graph.all_but(column) if complete[column] else islice(dpid_of, size)
        routes[dst] = dict(zip(keys, islice(route_of, size), strict=True))
    return StableForwardingTable(snapshot.hosts, routes, grid)


def _shared_routes(port: np.ndarray, backup: np.ndarray) -> list[Route]:
    """[Route(port, backup or None)] of each entry (backup -1 for None), one object per
    distinct route."""
    width = int(backup.max(initial=0)) + 2
    top = (_max_or(port, 0) + 1) * width
    pairs: Iterable[tuple[int, int]]
    if top <= _IntMap.TABLE_SIZE:  # ports are small numbers: a lookup table, not a sort
        code = port * width + backup + 1
        present = np.zeros(top, dtype=bool)
        present[code] = True
        distinct = np.flatnonzero(present)
        number = np.empty(top, dtype=np.int64)
        number[distinct] = np.arange(len(distinct))
        inverse = number[code]
        pairs = zip((distinct // width).tolist(), (distinct % width - 1).tolist(), strict=True)
    else:
        distinct, inverse = np.unique(np.stack((port, backup), axis=1), axis=0, return_inverse=True)
        pairs = map(tuple, distinct.tolist())
    shared = np.empty(len(distinct), dtype=object)
    for i, (p, b) in enumerate(pairs):
        shared[i] = Route(p, None if b < 0 else b)
    return shared[inverse.ravel()].tolist()


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
    the snapshot's links rather than trusting distances. Tables towards most
    destinations are proved safe at once (``_proved_tables``); any other is checked on
    its own: the tree of next hops is walked outward from the destination, and
    switches it does not reach (a loop, a dead end) are then followed one by one to say
    where the table breaks.
    """
    violations = []
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
    graph = snapshot._numbered
    proved = _proved_tables(sft, snapshot, graph)
    at: dict[int, dict[int, int]] = {}
    for (u, p), neighbour in snapshot.neighbour_at().items():
        at.setdefault(u, {})[p] = neighbour
    for column, dst in enumerate(graph.destination_dpids):
        if dst in proved:
            violations += proved[dst]
            continue
        component = {
            graph.dpids[u]
            for u in np.flatnonzero(graph.component == graph.component[graph.destinations[column]])
        }
        violations += _table_violations(dst, sft.routes.get(dst, {}), at, component)
    return violations


def _proved_tables(
    sft: StableForwardingTable, snapshot: Snapshot, graph: _Numbered
) -> dict[int, list[Violation]]:
    """{destination: its violations} for the tables proved to reach their destination
    from every switch of its component, all destinations at once.

    The proof takes a guess of every switch's hops to the destination, h (the
    snapshot's breadth-first distances), and checks, for every route of the table:
    its next hop is on a link, h(next hop) = h(switch) - 1 >= 0, the switch is in the
    destination's component; only the destination has h = 0; and the table has a route
    for every other switch of the component. Then, by induction on h, following next
    hops from any switch reaches the destination in exactly h hops, whatever h was: a
    wrong guess only sends the table to the one-by-one check. With h the depth in the
    tree, a backup w of u can route back through u only when h(w) > h(u): then walking
    up from w to u's depth lands on u exactly when it does. A table that fails the
    proof (or routes that are not integers) is left out."""
    k = len(graph.destinations)
    tables = [sft.routes.get(dst, {}) for dst in graph.destination_dpids]
    sizes = np.array([len(table) for table in tables], dtype=np.int64)
    total = int(sizes.sum())
    codes = _RouteCodes()
    # Tables with a route from every other switch, in dpid order, are recognised by one
    # list comparison each; only the others' switches are read one by one.
    complete = np.array(
        [
            len(table) == graph.n - 1 and list(table) == graph.all_but(column)
            for column, table in enumerate(tables)
        ],
        dtype=bool,
    )
    row = np.repeat(np.arange(k), sizes)
    in_complete = complete[row]
    rank = np.arange(total) - (np.cumsum(sizes) - sizes)[row]
    switch = np.where(in_complete, rank + (rank >= graph.destinations[row]), 0)
    try:
        switch[~in_complete] = graph.index.get(
            np.fromiter(
                chain.from_iterable(
                    t for t, whole in zip(tables, complete, strict=True) if not whole
                ),
                dtype=np.uint64,
                count=int(sizes[~complete].sum()),
            )
        )
        code = np.fromiter(
            map(codes.__getitem__, chain.from_iterable(map(dict.values, tables))),
            dtype=np.int64,
            count=total,
        )
        route_port = np.array([p for p, _ in codes.routes], dtype=np.int64)
        route_backup = np.array([b or 0 for _, b in codes.routes], dtype=np.int64)
        route_has_backup = np.array([b is not None for _, b in codes.routes], dtype=bool)
    except (OverflowError, TypeError, ValueError):  # not a table of integers
        return {}
    known = switch >= 0
    switch[~known] = 0
    link_end = _LinkEnds(snapshot, graph)
    nxt = link_end.neighbour(switch, route_port[code], known)
    has_backup = route_has_backup[code]
    detour = link_end.neighbour(switch, route_backup[code], known & has_backup)
    hops = graph.distances()  # the guess
    at = switch * k + row
    h_switch = hops.ravel()[at]
    h_next = hops.ravel()[nxt.clip(min=0) * k + row]
    good = (
        known
        & (nxt >= 0)
        & (h_switch >= 1)
        & (h_next == h_switch - 1)
        & (graph.component[switch] == graph.component[graph.destinations][row])
        & (~has_backup | (detour >= 0))
    )
    component_size = np.bincount(graph.component, minlength=graph.n)
    proved_rows = (
        (np.bincount(row[~good], minlength=k) == 0)
        & (sizes == component_size[graph.component[graph.destinations]] - 1)
        & ((hops == 0).sum(axis=0) == 1)
        & (hops[graph.destinations, np.arange(k)] == 0)
    )
    # Backups that might lead back through the switch they protect: walk up the tree.
    h_detour = hops.ravel()[detour.clip(min=0) * k + row]
    suspect = np.flatnonzero(proved_rows[row] & (detour >= 0) & (h_detour > h_switch))
    found: dict[int, list[tuple[int, Violation]]] = {
        graph.destination_dpids[r]: [] for r in np.flatnonzero(proved_rows).tolist()
    }
    if len(suspect):
        next_hop = np.full(graph.n * k, -1, dtype=np.int64)
        next_hop[at[good]] = nxt[good]
        here, steps = detour[suspect], (h_detour - h_switch)[suspect]
        while (steps > 0).any():
            walking = steps > 0
            here[walking] = next_hop[here[walking] * k + row[suspect][walking]]
            steps -= 1
        for entry in suspect[here == switch[suspect]].tolist():
            dst, u = graph.destination_dpids[row[entry]], graph.dpids[switch[entry]]
            found[dst].append((u, _backup_loop(dst, u, graph.dpids[detour[entry]])))
    return {
        dst: [violation for _, violation in sorted(pairs, key=lambda pair: pair[0])]
        for dst, pairs in found.items()
    }


class _RouteCodes(dict):
    """{route: number}, numbering each new route as it is looked up; ``routes`` lists
    them by number. A table's routes are mostly a few shared objects: one dict lookup
    per route, at C speed, and a Python call per distinct route only."""

    def __init__(self) -> None:
        super().__init__()
        self.routes: list[tuple[int, int | None]] = []

    def __missing__(self, route: tuple[int, int | None]) -> int:
        port, backup = route
        self.routes.append((port, backup))
        self[route] = number = len(self.routes) - 1
        return number


class _LinkEnds:
    """The neighbour behind each (switch index, port) of any discovered link the
    snapshot routes over (parallel links included)."""

    def __init__(self, snapshot: Snapshot, graph: _Numbered) -> None:
        ends = snapshot.neighbour_at()
        switch = graph.index.get(np.array([u for u, _ in ends], dtype=np.uint64))
        port = np.array([p for _, p in ends], dtype=np.int64)
        neighbour = graph.index.get(np.array(list(ends.values()), dtype=np.uint64))
        self.width = _max_or(port, 0) + 1
        self.ends = _IntMap(switch * self.width + port, neighbour)

    def neighbour(self, switch: np.ndarray, port: np.ndarray, wanted: np.ndarray) -> np.ndarray:
        """Neighbour index behind each ``port`` of ``switch`` where ``wanted``; else -1."""
        valid = wanted & (port >= 0) & (port < self.width)
        return self.ends.get(np.where(valid, switch * self.width + port, self.ends.top))


def _backup_loop(dst: int, u: int, w: int) -> Violation:
    return Violation(
        'backup-loop', dst, (u, w), 'the backup neighbour routes back through %s' % _dpid(u)
    )


def _table_violations(
    dst: int, table: dict, at: dict[int, dict[int, int]], component: set[int]
) -> list[Violation]:
    """The violations of one destination's table, switch by switch."""
    violations = []
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
    for u in sorted(component - table.keys() - {dst}):
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
            found.append((u, _backup_loop(dst, u, w)))
    return [violation for _, violation in sorted(found, key=lambda pair: pair[0])]
