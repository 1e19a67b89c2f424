"""bench/stable.py builds fat-trees without Mininet for the epoch benchmarks; they must be
the network topologies/fattree.py builds, switch for switch and port for port."""

from bench.stable import fat_tree, fat_tree_links
from topologies.fattree import FatTreeTopo


def test_fat_tree_builder_matches_topologies_fattree():
    topo = FatTreeTopo(4)
    dpid = {name: int(topo.nodeInfo(name)['dpid'], 16) for name in topo.switches()}
    links = {frozenset(((dpid[a], pa), (dpid[b], pb))) for (a, pa), (b, pb) in topo.switch_links()}
    assert links == {frozenset(((a, pa), (b, pb))) for a, pa, b, pb in fat_tree_links(4)}
    hosts = {}
    for host in topo.hosts():
        switch, p = topo.host_port(host)
        hosts[topo.nodeInfo(host)['mac']] = (dpid[switch], p)
    assert hosts == fat_tree(4).host_map()
