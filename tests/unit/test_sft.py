"""Stable forwarding tables (controller/stable/sft.py): shortest-path trees with lowest-dpid
tie-breaks and loop-free alternates on hand-made graphs and on generated ones, and the
check that must reject every broken table."""

import itertools
import random

import networkx as nx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.stable import fat_tree
from controller.stable.sft import (
    Route,
    Snapshot,
    StableForwardingTable,
    Violation,
    check_sft,
    compute_sft,
)
from controller.topology import SwitchGraph, spanning_tree_ports
from topologies.numbering import host_mac


def port(a, b):
    """Port of switch a towards switch b in the hand-made graphs: 100 + b."""
    return 100 + b


def snap(edges, host_switches=None, hosts=None, switches=()):
    """Snapshot of ``edges`` (switch pairs; the link ports are port(a, b)). Hosts: one on
    port 1 of every switch in ``host_switches`` (default: every switch), MAC host_mac(dpid),
    or exactly ``hosts`` {mac: (dpid, port)}. Live ports: the link ports, port 1, and the
    port of every host."""
    nodes = set(switches) | {u for edge in edges for u in edge}
    if hosts is None:
        hosts = {host_mac(u): (u, 1) for u in sorted(host_switches or nodes)}
    ports = {u: {1} for u in nodes}
    for a, b in edges:
        ports[a].add(port(a, b))
        ports[b].add(port(b, a))
    for dpid, p in hosts.values():
        ports.setdefault(dpid, set()).add(p)
    return Snapshot.make(nodes, [(a, port(a, b), b, port(b, a)) for a, b in edges], hosts, ports)


def ring_edges(n):
    return [(i, i % n + 1) for i in range(1, n + 1)]


def line_edges(n):
    return [(i, i + 1) for i in range(1, n)]


def next_hops(sft, snapshot, dst):
    """{dpid: (primary neighbour, backup neighbour or None)} towards ``dst``."""
    neighbour = snapshot.neighbour_at()
    return {
        u: (neighbour[(u, r.port)], None if r.backup is None else neighbour[(u, r.backup)])
        for u, r in sft.routes[dst].items()
    }


def with_routes(sft, dst, changes):
    """A copy of ``sft`` whose table towards ``dst`` has ``changes`` {dpid: Route, or None
    to remove the route}."""
    routes = {d: dict(table) for d, table in sft.routes.items()}
    for u, route in changes.items():
        if route is None:
            del routes[dst][u]
        else:
            routes[dst][u] = route
    return StableForwardingTable(sft.hosts, routes)


def kinds(violations):
    return [(v.kind, v.destination, v.switches) for v in violations]


# --- hand-made graphs ---------------------------------------------------------------


def test_line():
    s = snap(line_edges(4), host_switches=[1, 4])
    sft = compute_sft(s)
    assert sft.destinations() == [1, 4]
    assert sft.routes[4] == {1: Route(port(1, 2)), 2: Route(port(2, 3)), 3: Route(port(3, 4))}
    assert sft.routes[1] == {2: Route(port(2, 1)), 3: Route(port(3, 2)), 4: Route(port(4, 3))}
    assert sft.path_in(s, 1, host_mac(4)) == [1, 2, 3, 4]
    assert sft.path_in(s, 4, host_mac(1)) == [4, 3, 2, 1]
    assert len(sft.unprotected()) == 6  # a line has no alternative at all
    assert check_sft(sft, s) == []


def test_ring4_switches_next_to_the_destination_have_no_loop_free_alternate():
    s = snap(ring_edges(4))
    sft = compute_sft(s)
    assert check_sft(sft, s) == []
    # The opposite switch has two equal-cost next hops: the lower dpid is the primary.
    assert next_hops(sft, s, 1) == {2: (1, None), 4: (1, None), 3: (2, 4)}
    assert next_hops(sft, s, 3) == {2: (3, None), 4: (3, None), 1: (2, 4)}
    # A neighbour of the destination could only detour through the opposite switch,
    # which is as far from the destination as itself plus one: the true LFA limitation
    # (RFC 5286), not a shortcoming of the computation.
    assert sft.unprotected() == [(1, 2), (1, 4), (2, 1), (2, 3), (3, 2), (3, 4), (4, 1), (4, 3)]


def test_ring5_switches_two_hops_away_protect_each_other():
    s = snap(ring_edges(5))
    sft = compute_sft(s)
    assert check_sft(sft, s) == []
    # Towards s1: s3 goes via s2 and detours via s4, s4 goes via s5 and detours via s3;
    # each detour is loop-free because the other's stable route does not come back.
    assert next_hops(sft, s, 1) == {2: (1, None), 5: (1, None), 3: (2, 4), 4: (5, 3)}
    assert sorted(u for dst, u in sft.unprotected() if dst == 1) == [2, 5]
    assert len(sft.unprotected()) == 10
    for src in range(2, 6):
        assert len(sft.path_in(s, src, host_mac(1))) - 1 == min(src - 1, 6 - src)


def test_fat_tree_k4_routes():
    s = fat_tree(4)
    sft = compute_sft(s)
    assert check_sft(sft, s) == []
    assert sft.destinations() == list(range(13, 21))  # the edge switches
    h1, h5 = host_mac(1), host_mac(5)  # on s13:1 and on s15:1
    assert sft.path_in(s, 13, h5) == [13, 5, 1, 7, 15]  # lowest dpid at every tie
    assert sft.path_in(s, 14, h1) == [14, 5, 13]  # same pod: via aggregation
    assert sft.path_in(s, 20, h1) == [20, 11, 1, 5, 13]
    assert sft.routes[15][13] == Route(3, 4)  # up to s5, backup up to s6
    assert sft.routes[15][5] == Route(3, 4)  # up to s1, backup up to s2
    assert sft.routes[15][1] == Route(2, None)  # core: down to pod 2 only
    assert sft.routes[15][3] == Route(2, None)  # s3 reaches pod 2 via s8
    assert next_hops(sft, s, 15)[3] == (8, None)
    entries = sft.switch_entries(13)
    assert entries[:2] == [(host_mac(1), 'deliver', 1), (host_mac(2), 'deliver', 2)]
    assert [how for _, how, _ in entries[2:]] == ['forward'] * 14
    assert all(route == Route(3, 4) for _, _, route in entries[2:])


def test_fat_tree_edge_uplinks_are_protected():
    for k in (4, 6):
        s = fat_tree(k)
        sft = compute_sft(s)
        assert check_sft(sft, s) == []
        half = k // 2
        n = 5 * k * k // 4
        edges = range(n - k * half + 1, n + 1)
        unprotected = set(sft.unprotected())
        for dst in edges:
            for u in edges:
                if u != dst:
                    route = sft.routes[dst][u]
                    assert (dst, u) not in unprotected
                    assert route.port == half + 1 and route.backup == half + 2
        # What stays unprotected: every core switch (one link into the destination's
        # pod) and the aggregation switches of the destination's pod (one link down).
        assert len(unprotected) == len(edges) * (half * half + half)


def test_ties_go_to_the_lowest_dpid_not_the_lowest_port():
    # s1 reaches s4 through s2 (port 9) or s3 (port 5): s2 wins although its port is higher.
    links = [(1, 9, 2, 1), (1, 5, 3, 1), (2, 2, 4, 1), (3, 2, 4, 2)]
    hosts = {host_mac(1): (1, 1), host_mac(4): (4, 3)}
    s = Snapshot.make(range(1, 5), links, hosts, {1: [1, 5, 9], 4: [1, 2, 3]})
    sft = compute_sft(s)
    assert sft.routes[4][1] == Route(9, 5)
    assert sft.routes[1][4] == Route(1, 2)
    assert check_sft(sft, s) == []


def test_the_same_table_whatever_the_discovery_order():
    s = fat_tree(4)
    expected = compute_sft(s)
    directed = [link for a, pa, b, pb in s.links for link in ((a, pa, b, pb), (b, pb, a, pa))]
    rng = random.Random(5)
    for _ in range(10):
        rng.shuffle(directed)
        graph = SwitchGraph()
        for link in directed:
            graph.add_link(*link)
        again = Snapshot.from_switch_graph(graph, s.host_map(), dict(s.ports))
        assert again == s
        assert compute_sft(again).routes == expected.routes
    # Links given either way round and in any order make the same snapshot.
    flipped = [(b, pb, a, pa) for a, pa, b, pb in sorted(s.links, reverse=True)]
    assert Snapshot.make(s.switches, flipped, s.host_map(), dict(s.ports)) == s


def test_parallel_links_route_over_the_lowest_port_pair():
    for order in itertools.permutations([(1, 6, 2, 6), (1, 5, 2, 5)]):
        graph = SwitchGraph()
        for a, pa, b, pb in order:
            graph.add_link(a, pa, b, pb)
            graph.add_link(b, pb, a, pa)
        s = Snapshot.from_switch_graph(graph, {host_mac(1): (1, 1), host_mac(2): (2, 1)})
        sft = compute_sft(s)
        assert sft.routes == {1: {2: Route(5)}, 2: {1: Route(5)}}
        assert check_sft(sft, s) == []


def test_one_way_links_are_not_routed_over():
    graph = SwitchGraph()
    graph.add_link(1, 2, 2, 2)  # only s1 -> s2 discovered
    s = Snapshot.from_switch_graph(graph, {host_mac(1): (1, 1), host_mac(2): (2, 1)})
    assert s.links == frozenset()
    sft = compute_sft(s)
    assert sft.routes == {1: {}, 2: {}}
    assert check_sft(sft, s) == []


def test_disconnected_components_get_no_route_and_are_no_violation():
    s = snap([(1, 2), (3, 4)], host_switches=[1, 3, 5], switches=[5])
    sft = compute_sft(s)
    assert sft.routes == {1: {2: Route(port(2, 1))}, 3: {4: Route(port(4, 3))}, 5: {}}
    assert check_sft(sft, s) == []
    assert sft.switch_entries(2) == [(host_mac(1), 'forward', Route(port(2, 1)))]
    assert sft.path_in(s, 2, host_mac(3)) is None
    assert sft.path_in(s, 5, host_mac(5)) == [5]


def test_several_hosts_on_several_switches():
    hosts = {
        '00:00:00:00:00:0%d' % i: place
        for i, place in enumerate([(1, 1), (1, 2), (3, 1), (3, 7), (4, 1)], start=1)
    }
    s = snap(ring_edges(4), hosts=hosts)
    sft = compute_sft(s)
    assert sft.destinations() == [1, 3, 4]
    assert check_sft(sft, s) == []
    assert sft.switch_entries(3) == [
        ('00:00:00:00:00:01', 'forward', Route(port(3, 2), port(3, 4))),
        ('00:00:00:00:00:02', 'forward', Route(port(3, 2), port(3, 4))),
        ('00:00:00:00:00:03', 'deliver', 1),
        ('00:00:00:00:00:04', 'deliver', 7),
        ('00:00:00:00:00:05', 'forward', Route(port(3, 4))),
    ]
    assert sft.switch_entries(2)[2:4] == [
        (mac, 'forward', Route(port(2, 3))) for mac in ('00:00:00:00:00:03', '00:00:00:00:00:04')
    ]


# --- the check rejects broken tables ------------------------------------------------


def test_two_switch_loop():
    s = snap(line_edges(4), host_switches=[4])
    broken = with_routes(compute_sft(s), 4, {2: Route(port(2, 1))})
    assert kinds(check_sft(broken, s)) == [('loop', 4, (1, 2, 1))]


def test_longer_loop():
    s = snap([(1, 2), (2, 3), (3, 4), (4, 1), (1, 5)], host_switches=[5])
    broken = with_routes(
        compute_sft(s),
        5,
        {1: Route(port(1, 2)), 2: Route(port(2, 3)), 3: Route(port(3, 4)), 4: Route(port(4, 1))},
    )
    violations = check_sft(broken, s)
    assert kinds(violations) == [('loop', 5, (1, 2, 3, 4, 1))]
    assert str(violations[0]) == 'loop towards switch 5 at 1 -> 2 -> 3 -> 4 -> 1'


def test_missing_route_is_a_black_hole():
    s = snap(line_edges(4), host_switches=[4])
    broken = with_routes(compute_sft(s), 4, {2: None})
    assert kinds(check_sft(broken, s)) == [
        ('black-hole', 4, (1, 2)),  # s1 leads to s2
        ('black-hole', 4, (2,)),
    ]  # s2 has no route


def test_next_hop_on_no_link():
    s = snap(line_edges(4), host_switches=[4])
    broken = with_routes(compute_sft(s), 4, {2: Route(77)})
    violations = kinds(check_sft(broken, s))
    assert ('bad-port', 4, (2,)) in violations
    assert ('black-hole', 4, (1, 2)) in violations  # s1's traffic dies at s2
    backup = with_routes(compute_sft(s), 4, {2: Route(port(2, 3), 88)})
    [violation] = check_sft(backup, s)
    assert (violation.kind, violation.switches) == ('bad-port', (2,))
    assert 'backup port 88' in violation.detail


def test_host_on_an_inter_switch_port_or_an_unknown_switch():
    hosts = {host_mac(3): (3, 1), host_mac(2): (2, port(2, 1)), host_mac(9): (9, 1)}
    s = snap(line_edges(3), hosts=hosts)
    violations = check_sft(compute_sft(s), s)
    assert kinds(violations) == [('bad-host', 2, (2,)), ('bad-host', 9, (9,))]
    assert 'host %s on port %d' % (host_mac(2), port(2, 1)) in violations[0].detail


def test_backup_through_the_protected_switch():
    s = snap(ring_edges(5), host_switches=[1])
    sft = compute_sft(s)
    # s3's stable route is s3 -> s2 -> s1: s2 detouring to s3 sends traffic back to s2.
    assert kinds(check_sft(with_routes(sft, 1, {2: Route(port(2, 1), port(2, 3))}), s)) == [
        ('backup-loop', 1, (2, 3))
    ]
    # Further down the tree too: s4 routed s4 -> s3 -> s2 -> s1 (a valid, longer route),
    # then s2's backup to s4 loops back through s2.
    s = snap([(1, 2), (2, 3), (3, 4), (2, 4)], host_switches=[1])
    sft = compute_sft(s)
    longer = with_routes(sft, 1, {4: Route(port(4, 3)), 3: Route(port(3, 2))})
    assert check_sft(longer, s) == []
    assert kinds(check_sft(with_routes(longer, 1, {2: Route(port(2, 1), port(2, 4))}), s)) == [
        ('backup-loop', 1, (2, 4))
    ]


def test_backup_to_a_switch_without_a_route():
    s = snap(ring_edges(5), host_switches=[1])
    sft = compute_sft(s)
    assert next_hops(sft, s, 1)[3] == (2, 4)
    assert kinds(check_sft(with_routes(sft, 1, {4: None}), s)) == [
        ('black-hole', 1, (4,)),
        ('backup-black-hole', 1, (3, 4)),
    ]


def test_check_follows_ports_not_distances():
    """A longer route, or a backup that is loop-free without being an LFA, is safe."""
    s = snap(ring_edges(6), host_switches=[1])
    sft = compute_sft(s)
    assert next_hops(sft, s, 1)[5] == (6, None)
    # s5 detours via s4 (farther than s5 itself), whose route s4 -> s3 -> s2 -> s1 avoids s5.
    assert check_sft(with_routes(sft, 1, {5: Route(port(5, 6), port(5, 4))}), s) == []
    # s3 going the long way round (s3 -> s4 -> s5 -> s6 -> s1) is no violation either,
    # once s4 no longer detours through s3.
    detour = with_routes(sft, 1, {3: Route(port(3, 4)), 4: Route(port(4, 5))})
    assert check_sft(detour, s) == []


def test_a_stale_table_is_rejected_after_a_link_goes():
    before = snap(ring_edges(5))
    after = snap([e for e in ring_edges(5) if e != (1, 2)])
    old = compute_sft(before)
    violations = check_sft(old, after)
    assert ('bad-port', 1, (2,)) in kinds(violations)
    assert ('bad-port', 2, (1,)) in kinds(violations)
    assert check_sft(compute_sft(after), after) == []


def test_violation_text():
    v = Violation('backup-loop', 0x1A, (0x1A, 0xB), 'why')
    assert str(v) == 'backup-loop towards switch 1a at 1a -> b: why'


# --- generated graphs ---------------------------------------------------------------


@st.composite
def networks(draw, max_switches=30):
    """A random graph of up to ``max_switches`` switches with arbitrary dpids: a random
    tree (sometimes a forest) plus extra edges; ports numbered in a random order, so
    that port order says nothing about dpid order; hosts on a random subset."""
    n = draw(st.integers(1, max_switches))
    dpids = draw(st.lists(st.integers(1, 2**48), min_size=n, max_size=n, unique=True))
    forest = draw(st.booleans()) and draw(st.booleans())
    edges = set()
    for i in range(1, n):
        parent = draw(st.integers(-1 if forest else 0, i - 1))
        if parent >= 0:
            edges.add((dpids[parent], dpids[i]))
    if n > 1:
        pairs = st.tuples(st.sampled_from(dpids), st.sampled_from(dpids))
        for a, b in draw(st.lists(pairs, max_size=2 * n)):
            if a != b and (b, a) not in edges:
                edges.add((a, b))
    edges = draw(st.permutations(sorted(edges)))
    next_port = {u: 10 for u in dpids}
    links = []
    for a, b in edges:
        links.append((a, next_port[a], b, next_port[b]))
        next_port[a] += 1
        next_port[b] += 1
    host_switches = draw(st.lists(st.sampled_from(dpids), min_size=1, max_size=n))
    hosts = {
        '02:00:00:00:%02x:%02x' % (i >> 8, i & 0xFF): (u, 1 + i % 3)
        for i, u in enumerate(host_switches)
    }
    ports = {u: list(range(1, next_port[u])) for u in dpids}
    return Snapshot.make(dpids, links, hosts, ports)


PROPERTIES = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTIES
@given(networks())
def test_generated_tables_pass_the_check_and_follow_shortest_paths(s):
    sft = compute_sft(s)
    assert check_sft(sft, s) == []
    g = s.graph()
    neighbour = s.neighbour_at()
    assert sft.destinations() == sorted({dpid for dpid, _ in s.host_map().values()})
    for dst in sft.destinations():
        distance = nx.single_source_shortest_path_length(g, dst)
        table = sft.routes[dst]
        assert set(table) == set(distance) - {dst}  # the component, nothing else
        for u, route in table.items():
            primary = neighbour[(u, route.port)]
            # The primary is the lowest-dpid neighbour one hop closer.
            assert primary == min(v for v in g.adj[u] if distance[v] == distance[u] - 1)
            alternates = [v for v in g.adj[u] if v != primary and distance[v] <= distance[u]]
            if route.backup is None:
                assert not alternates  # unprotected only when no LFA exists
            else:
                # The closest alternate, then the lowest dpid.
                assert neighbour[(u, route.backup)] == min(
                    alternates, key=lambda v: (distance[v], v)
                )
        mac = next(m for m, (dpid, _) in s.hosts if dpid == dst)
        for u in table:
            assert len(sft.path_in(s, u, mac)) - 1 == distance[u]


def _reaches_after_failure(sft, s, dst, u):
    """Fail u's primary link; the frame goes out u's backup, then follows stable routes
    (fast-failover wherever a route uses the failed link): True if it reaches ``dst``
    without visiting any switch twice."""
    neighbour = s.neighbour_at()
    table = sft.routes[dst]
    failed = {u, neighbour[(u, table[u].port)]}
    here, seen = neighbour[(u, table[u].backup)], {u}
    while here != dst:
        if here in seen:
            return False
        seen.add(here)
        route = table[here]
        nxt = neighbour[(here, route.port)]
        if {here, nxt} == failed:
            if route.backup is None:
                return False
            nxt = neighbour[(here, route.backup)]
        here = nxt
    return True


@PROPERTIES
@given(networks())
def test_generated_backups_are_loop_free(s):
    sft = compute_sft(s)
    for dst, table in sft.routes.items():
        for u, route in table.items():
            if route.backup is not None:
                assert _reaches_after_failure(sft, s, dst, u), (dst, u)


def _fate_when_switch_fails(sft, s, dst, start, failed):
    """A frame for ``dst`` entering at ``start`` while switch ``failed`` is down (every
    link to it without carrier): 'delivered' or 'dropped' (no live next hop, or the
    chosen port is the one it came in on, which OpenFlow never outputs to without
    OFPP_IN_PORT), following stable routes and fast-failover backups; 'loop' if it
    would go round for ever."""
    neighbour = s.neighbour_at()
    table = sft.routes[dst]
    here, came_from, seen = start, None, set()
    while here != dst:
        if (here, came_from) in seen:
            return 'loop'
        seen.add((here, came_from))
        route = table.get(here)
        if route is None:
            return 'dropped'
        nxt = neighbour[(here, route.port)]
        if nxt == failed:
            nxt = None if route.backup is None else neighbour[(here, route.backup)]
        if nxt is None or nxt == failed or nxt == came_from:
            return 'dropped'
        here, came_from = nxt, here
    return 'delivered'


@PROPERTIES
@given(networks())
def test_generated_backups_never_loop_when_a_whole_switch_fails(s):
    """Backups protect links; a switch failing takes several at once, and a detour may
    then meet another. Same-distance backups point to the lowest-dpid neighbour, so
    detours never go round more than two switches, and two switches sending a frame
    back and forth would need a switch to output it on its in_port: the frame is
    delivered or dropped until the next epoch, never looped."""
    sft = compute_sft(s)
    for dst, table in sft.routes.items():
        for failed in set(table):
            for start in set(table) - {failed}:
                assert _fate_when_switch_fails(sft, s, dst, start, failed) != 'loop', (
                    dst,
                    failed,
                    start,
                )


@settings(max_examples=40, deadline=None)
@given(networks(max_switches=15), st.randoms(use_true_random=False))
def test_generated_tables_do_not_depend_on_link_order(s, rnd):
    links = [(b, pb, a, pa) if rnd.random() < 0.5 else (a, pa, b, pb) for a, pa, b, pb in s.links]
    rnd.shuffle(links)
    again = Snapshot.make(
        rnd.sample(sorted(s.switches), len(s.switches)), links, s.host_map(), dict(s.ports)
    )
    assert compute_sft(again).routes == compute_sft(s).routes


@settings(max_examples=60, deadline=None)
@given(networks(max_switches=12), st.data())
def test_generated_broken_tables_are_rejected(s, data):
    """Point one route somewhere else: the check passes only if following the table
    still reaches the destination from everywhere, and backups stay safe."""
    sft = compute_sft(s)
    candidates = [(dst, u) for dst, table in sft.routes.items() for u in table]
    if not candidates:
        return
    dst, u = data.draw(st.sampled_from(candidates))
    link_ports = sorted(p for (switch, p) in s.neighbour_at() if switch == u)
    new_port = data.draw(st.sampled_from(link_ports + [999]))
    broken = with_routes(sft, dst, {u: Route(new_port)})
    violations = check_sft(broken, s)
    # Independent judgement: walk the broken table from every switch.
    neighbour = s.neighbour_at()
    table = broken.routes[dst]

    def walk(start):
        """The switches from ``start`` to ``dst``; None on a loop or a dead end."""
        path, here = [start], start
        while here != dst:
            if here not in table or (here, table[here].port) not in neighbour:
                return None
            here = neighbour[(here, table[here].port)]
            if here in path:
                return None
            path.append(here)
        return path

    if any(walk(start) is None for start in table):
        assert violations
        assert {v.kind for v in violations} <= {
            'loop',
            'black-hole',
            'bad-port',
            'backup-loop',
            'backup-black-hole',
        }
        assert any(v.kind in ('loop', 'black-hole', 'bad-port') for v in violations)
    else:
        # Safe stable routes; a backup is wrong exactly when its neighbour's route comes
        # back through the switch it protects.
        expected = []
        for x, route in sorted(table.items()):
            if route.backup is not None:
                w = neighbour[(x, route.backup)]
                if x in walk(w) if w != dst else False:
                    expected.append(('backup-loop', dst, (x, w)))
        assert kinds(violations) == expected


@given(networks())
def test_generated_flooding_trees_are_networkx_breadth_first_trees(s):
    """Snapshot.tree_ports (scipy) is the tree controller.topology.spanning_tree_ports
    builds with networkx: breadth-first from each component's lowest dpid, neighbours
    in dpid order."""
    assert s.tree_ports() == spanning_tree_ports(s.graph())


def test_the_flooding_tree_of_parallel_links_and_lone_switches():
    links = [(1, 5, 2, 5), (1, 3, 2, 4), (2, 7, 3, 1), (3, 2, 4, 2), (1, 9, 4, 9)]
    s = Snapshot.make([1, 2, 3, 4, 5, 9], links, {}, {})
    assert s.tree_ports() == spanning_tree_ports(s.graph())
    assert s.tree_ports()[5] == s.tree_ports()[9] == set()
    assert Snapshot.make([7], [], {}, {}).tree_ports() == {7: set()}


@given(networks(), st.randoms(use_true_random=False))
def test_a_snapshot_of_a_switch_graph_keeps_the_links_seen_both_ways(s, rng):
    """Snapshot.from_switch_graph keeps what SwitchGraph.graph(bidirectional=True)
    keeps: links seen in both directions, the lowest port pair of parallel ones."""
    graph = SwitchGraph()
    for dpid in s.switches:
        graph.add_switch(dpid)
    for a, pa, b, pb in s.links:
        graph.add_link(a, pa, b, pb)
        if rng.random() < 0.8:
            graph.add_link(b, pb, a, pa)
        if rng.random() < 0.2:  # a parallel link, seen both ways
            graph.add_link(a, pa + 1000, b, pb + 1000)
            graph.add_link(b, pb + 1000, a, pa + 1000)
    snapshot = Snapshot.from_switch_graph(graph, s.host_map())
    expected = {
        tuple(sorted(((a, ports[a]), (b, ports[b]))))
        for a, b, ports in graph.graph(bidirectional=True).edges(data='ports')
    }
    assert {((a, pa), (b, pb)) for a, pa, b, pb in snapshot.links} == expected
    assert snapshot.switches == s.switches
