"""compute_sft and check_sft (controller/stable/sft.py, numpy and scipy) against small
references: the tables a per-destination networkx search gives, and the check's own
switch-by-switch path for tables its all-at-once proof handles, on random connected and
disconnected graphs full of equal-cost ties, with dpids and ports of any size."""

from unittest import mock

import networkx as nx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controller.stable import sft as sft_module
from controller.stable.sft import Route, Snapshot, StableForwardingTable, check_sft, compute_sft

PROPERTIES = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

DPIDS = st.one_of(st.integers(1, 64), st.integers(1, 2**64 - 1))  # small, or any 64-bit dpid
PORTS = st.one_of(st.integers(1, 60), st.integers(1, 2**32 - 1))  # small, or any OpenFlow port


@st.composite
def snapshots(draw, max_switches=24):
    """A random snapshot: a random forest (often one tree) plus extra edges, so many
    equal-cost paths; now and then a grid-like ladder (ties everywhere), a second
    parallel link between two switches, or a link to a switch not listed as one; ports
    unique per switch, in no particular order; hosts on a random subset of switches."""
    n = draw(st.integers(1, max_switches))
    dpids = draw(st.lists(DPIDS, min_size=n, max_size=n, unique=True))
    pairs = set()
    if n > 1 and draw(st.booleans()):  # a ladder: squares, two shortest paths each
        order = draw(st.permutations(dpids))
        pairs |= {(order[i], order[i + 1]) for i in range(n - 1)}
        pairs |= {(order[i], order[i + 2]) for i in range(n - 2) if i % 2 == 0}
    for i in range(1, n):
        parent = draw(st.integers(-1, i - 1))  # -1: a new component
        if parent >= 0:
            pairs.add((dpids[parent], dpids[i]))
    if n > 1:
        extra = st.tuples(st.sampled_from(dpids), st.sampled_from(dpids))
        pairs |= {(a, b) for a, b in draw(st.lists(extra, max_size=2 * n)) if a != b}
    pairs = {(a, b) for a, b in pairs if (b, a) not in pairs or a < b}
    if pairs and draw(st.booleans()):
        pairs_list = sorted(pairs)
        parallel = draw(st.sampled_from(pairs_list))
        pairs_list.append(parallel)  # a second link between the same two switches
    else:
        pairs_list = sorted(pairs)
    used: dict[int, set[int]] = {u: set() for u in dpids}

    def free_port(u):
        port = draw(PORTS.filter(lambda p: p not in used.setdefault(u, set())))
        used[u].add(port)
        return port

    links = [(a, free_port(a), b, free_port(b)) for a, b in draw(st.permutations(pairs_list))]
    listed = dpids
    if n > 2 and draw(st.integers(0, 9)) == 0:
        listed = dpids[:-1]  # a link end that is no listed switch
    host_switches = draw(st.lists(st.sampled_from(dpids), min_size=0, max_size=n))
    hosts = {
        '02:00:00:00:%02x:%02x' % (i >> 8, i & 0xFF): (u, 0) for i, u in enumerate(host_switches)
    }
    return Snapshot.make(listed, links, hosts, {u: sorted(p | {0}) for u, p in used.items()})


def reference_routes(snapshot):
    """The table as the module docstring defines it, one networkx search per destination:
    the primary is the lowest-dpid neighbour one hop closer; the backup the lowest-dpid
    other closer neighbour, else the lowest-dpid neighbour as close."""
    g = snapshot.graph()
    routes = {}
    for dst in sorted({dpid for dpid, _ in snapshot.host_map().values()}):
        if dst not in g:
            continue
        distance = nx.single_source_shortest_path_length(g, dst)
        table = {}
        for u, d in distance.items():
            if u == dst:
                continue
            primary = min(v for v in g.adj[u] if distance[v] == d - 1)
            alternates = [v for v in g.adj[u] if v != primary and distance[v] <= d]
            backup = min(alternates, key=lambda v: (distance[v], v), default=None)
            ports = g.adj[u]
            table[u] = Route(
                ports[primary]['ports'][u], None if backup is None else ports[backup]['ports'][u]
            )
        routes[dst] = table
    return routes


@PROPERTIES
@given(snapshots())
def test_compute_matches_the_networkx_reference(s):
    sft = compute_sft(s)
    assert sft.hosts == s.hosts
    assert sft.routes == reference_routes(s)
    # Plain Python ints, not numpy's: they go into OpenFlow messages and JSON.
    for table in sft.routes.values():
        for u, route in table.items():
            assert type(u) is int and type(route.port) is int
            assert route.backup is None or type(route.backup) is int
    assert check_sft(sft, s) == [v for v in check_sft(sft, s) if v.kind == 'bad-host']


def switch_by_switch(sft, snapshot):
    """check_sft with every table checked on its own (no all-at-once proof)."""
    with mock.patch.object(sft_module, '_proved_tables', lambda *_: {}):
        return check_sft(sft, snapshot)


@st.composite
def broken(draw, s):
    """compute_sft's table of ``s`` with a few routes changed: a next hop or backup on
    another link, on no link, or gone; a route removed, or one added for the destination
    itself or for a switch that does not exist."""
    sft = compute_sft(s)
    routes = {dst: dict(table) for dst, table in sft.routes.items()}
    if not routes:
        return sft
    ports = {}
    for (u, p), _ in s.neighbour_at().items():
        ports.setdefault(u, []).append(p)
    switches = sorted(s.switches)
    for _ in range(draw(st.integers(1, 4))):
        dst = draw(st.sampled_from(sorted(routes)))
        table = routes[dst]
        u = draw(st.sampled_from(switches + [dst, 2**64 - 1]))
        some_port = st.sampled_from(sorted(ports.get(u, [])) + [999_999, -1])
        change = draw(st.sampled_from(['port', 'backup', 'no backup', 'remove']))
        route = table.get(u, Route(draw(some_port)))
        if change == 'port':
            table[u] = route._replace(port=draw(some_port))
        elif change == 'backup':
            table[u] = route._replace(backup=draw(some_port))
        elif change == 'no backup':
            table[u] = route._replace(backup=None)
        else:
            table.pop(u, None)
    return StableForwardingTable(sft.hosts, routes)


@PROPERTIES
@given(snapshots(max_switches=14), st.data())
def test_check_proves_what_the_switch_by_switch_check_accepts(s, data):
    """The all-at-once proof takes whole tables off the switch-by-switch path: it must
    report exactly what that path reports, broken tables included (a backup sent to a
    switch one hop farther that routes back through the switch it protects, a longer
    route, a loop, a black hole)."""
    table = data.draw(broken(s))
    assert check_sft(table, s) == switch_by_switch(table, s)


@PROPERTIES
@given(snapshots())
def test_computed_tables_are_proved_at_once(s):
    """The proof is not a formality: every table compute_sft makes passes it (so the
    switch-by-switch path is taken only by tables made otherwise)."""
    sft = compute_sft(s)
    proved = sft_module._proved_tables(sft, s, s._numbered)
    assert sorted(proved) == sorted(sft.routes)
    assert all(violations == [] for violations in proved.values())


def test_a_table_of_what_no_array_holds_is_checked_switch_by_switch():
    """A switch number below 0 fits no dpid array: the table is still checked, route by
    route (its route is on no link)."""
    s = Snapshot.make([1, 2], [(1, 5, 2, 6)], {'02:00:00:00:00:01': (1, 1)}, {1: [1, 5], 2: [6]})
    sft = compute_sft(s)
    broken = StableForwardingTable(sft.hosts, {1: {**sft.routes[1], -5: Route(5)}})
    violations = check_sft(broken, s)
    assert [(v.kind, v.switches) for v in violations] == [('bad-port', (-5,))]
    assert violations == switch_by_switch(broken, s)
