"""SwitchGraph and the spanning tree floods follow."""

import itertools

import networkx as nx

from controller.topology import SwitchGraph, flood_rules, spanning_tree_ports


def ring(n):
    """Switch i: port 2 to i+1, port 3 to i-1 (both directions discovered)."""
    g = SwitchGraph()
    for i in range(1, n + 1):
        nxt = i % n + 1
        g.add_link(i, 2, nxt, 3)
        g.add_link(nxt, 3, i, 2)
    return g


def tree_edges(graph, tree_ports):
    """Switch pairs whose link has both ends on the tree."""
    edges = set()
    for a, pa, b, pb in graph.links:
        if pa in tree_ports[a] and pb in tree_ports[b]:
            edges.add(tuple(sorted((a, b))))
    return edges


def test_ring_tree_is_spanning_and_loop_free():
    g = ring(5)
    ports = spanning_tree_ports(g)
    edges = tree_edges(g, ports)
    t = nx.Graph(list(edges))
    assert nx.is_tree(t) and set(t.nodes) == {1, 2, 3, 4, 5}


def test_ring4_tree_is_bfs_from_lowest_dpid():
    ports = spanning_tree_ports(ring(4))
    assert tree_edges(ring(4), ports) == {(1, 2), (1, 4), (2, 3)}
    assert ports == {1: {2, 3}, 2: {2, 3}, 3: {3}, 4: {2}}  # s3-s4 is blocked


def test_tree_is_deterministic_whatever_the_discovery_order():
    links = list(ring(6).links)
    first = None
    for perm in itertools.islice(itertools.permutations(links), 0, 200, 17):
        g = SwitchGraph()
        for link in perm:
            g.add_link(*link)
        result = spanning_tree_ports(g)
        first = first or result
        assert result == first


def test_one_direction_is_enough_to_mark_an_inter_switch_port():
    g = SwitchGraph()
    g.add_link(1, 2, 2, 3)
    assert g.inter_switch_ports(1) == {2}
    assert g.inter_switch_ports(2) == {3}


def test_parallel_links_use_lowest_ports_only():
    g = SwitchGraph()
    for a, b in ((5, 6), (2, 3)):
        g.add_link(1, a, 2, b)
        g.add_link(2, b, 1, a)
    assert spanning_tree_ports(g) == {1: {2}, 2: {3}}


def test_link_removal_and_switch_removal_change_the_tree():
    g = ring(4)
    before = spanning_tree_ports(g)
    assert g.remove_link(1, 2, 2, 3) and g.remove_link(2, 3, 1, 2)
    after = spanning_tree_ports(g)
    assert after != before
    assert nx.is_tree(nx.Graph(list(tree_edges(g, after))))
    assert g.remove_switch(3)
    parts = spanning_tree_ports(g)
    assert parts[2] == set()  # s2 is now cut off from the rest: no tree port


def test_remove_port_forgets_both_directions():
    g = ring(3)
    assert g.remove_port(1, 2)
    assert 2 not in g.inter_switch_ports(1)
    assert 3 not in g.inter_switch_ports(2)


def test_disconnected_components_each_get_a_tree():
    g = ring(3)
    g.add_link(10, 1, 11, 1)
    ports = spanning_tree_ports(g)
    assert ports[10] == {1} and ports[11] == {1}


def test_flood_rules_exclude_in_port():
    assert flood_rules({1, 2, 4}) == {1: [2, 4], 2: [1, 4], 4: [1, 2]}
    assert flood_rules(set()) == {}


def test_links_expire_unless_refreshed():
    g = SwitchGraph()
    assert g.add_link(1, 2, 2, 3, now=0.0)
    assert g.add_link(2, 3, 1, 2, now=0.0)
    assert not g.add_link(1, 2, 2, 3, now=3.0)  # refreshed, not new
    assert g.expire(now=4.0, timeout=3.5) == [(2, 3, 1, 2)]
    assert g.inter_switch_ports(1) == {2}  # the other direction still holds
    assert g.expire(now=7.0, timeout=3.5) == [(1, 2, 2, 3)]
    assert g.inter_switch_ports(1) == frozenset()
