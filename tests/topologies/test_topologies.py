"""topologies/: counts, names, dpids, addresses and port numbers as the scripts document
them, loops where there should be loops, parameter checks, and the two ways of running a
script (its command line, and `mn --custom`) up to the point where root is needed."""

import os
import subprocess
import sys
import textwrap
from collections import Counter

import networkx as nx
import pytest

from topologies import common
from topologies.fattree import FatTreeTopo
from topologies.linear import LinearTopo
from topologies.ring import RingTopo
from topologies.tree import TreeTopo

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPTS = ['linear', 'tree', 'ring', 'fattree']

# (topology, switches, hosts, switch links)
SHAPES = [
    (LinearTopo(), 4, 4, 3),
    (LinearTopo(3, 2), 3, 6, 2),
    (LinearTopo(1), 1, 1, 0),
    (TreeTopo(), 3, 4, 2),
    (TreeTopo(3, 3), 13, 27, 12),
    (TreeTopo(2, 1), 2, 1, 1),
    (RingTopo(), 4, 4, 4),
    (RingTopo(3), 3, 3, 3),
    (RingTopo(5, 2), 5, 10, 5),
    (FatTreeTopo(), 20, 16, 32),
    (FatTreeTopo(2), 5, 2, 4),
    (FatTreeTopo(6), 45, 54, 108),
]
SHAPE_IDS = ['%s-%d-%d' % (type(t).__name__, s, h) for t, s, h, _ in SHAPES]
ALL_TOPOS = [shape[0] for shape in SHAPES]


def numbers(names, prefix):
    assert all(name.startswith(prefix) for name in names)
    return sorted(int(name[len(prefix) :]) for name in names)


def link_set(pairs):
    """Links as a set of frozensets of (node, port) ends: orientation does not matter."""
    return {frozenset(pair) for pair in pairs}


def switch_graph(topo):
    graph = nx.MultiGraph()
    graph.add_nodes_from(topo.switches())
    graph.add_edges_from((a, b) for (a, _), (b, _) in topo.switch_links())
    return graph


@pytest.mark.parametrize('topo, n_switches, n_hosts, n_switch_links', SHAPES, ids=SHAPE_IDS)
def test_counts_and_names(topo, n_switches, n_hosts, n_switch_links):
    assert numbers(topo.switches(), 's') == list(range(1, n_switches + 1))
    assert numbers(topo.hosts(), 'h') == list(range(1, n_hosts + 1))
    assert len(topo.switch_links()) == n_switch_links
    assert len(topo.links()) == n_switch_links + n_hosts  # one link per host


def test_fattree_k4_counts_from_the_brief():
    topo = FatTreeTopo(4)
    host_links = [link for link in topo.links() if not all(map(topo.isSwitch, link))]
    assert (len(topo.switches()), len(topo.hosts())) == (20, 16)
    assert (len(host_links), len(topo.switch_links())) == (16, 32)


@pytest.mark.parametrize('topo', ALL_TOPOS, ids=SHAPE_IDS)
def test_dpid_is_switch_number(topo):
    for name in topo.switches():
        dpid = topo.nodeInfo(name)['dpid']
        assert len(dpid) == 16 and int(dpid, 16) == int(name[1:])


@pytest.mark.parametrize('topo', ALL_TOPOS, ids=SHAPE_IDS)
def test_host_addresses_follow_host_number(topo):
    macs, ips = set(), set()
    for name in topo.hosts():
        j = int(name[1:])
        info = topo.nodeInfo(name)
        assert info['mac'] == '00:00:00:00:00:%02x' % j  # all these topologies have < 256
        assert info['ip'] == '10.0.0.%d/16' % j
        assert info['cls'] is common.NoTxOffloadHost
        macs.add(info['mac'])
        ips.add(info['ip'])
    assert len(macs) == len(ips) == len(topo.hosts())


@pytest.mark.parametrize('topo', ALL_TOPOS, ids=SHAPE_IDS)
def test_no_port_used_twice_and_hosts_on_low_ports(topo):
    """Mininet's Topo silently overwrites a port given twice; we check every end."""
    ends = Counter()
    for node1, node2, info in topo.links(withInfo=True):
        ends[node1, info['port1']] += 1
        ends[node2, info['port2']] += 1
    assert max(ends.values()) == 1
    for host in topo.hosts():
        assert ends[host, 0] == 1  # hj-eth0
    for switch in topo.switches():
        host_ports = sorted(
            port for node, port in (topo.host_port(h) for h in topo.hosts()) if node == switch
        )
        switch_ports = [port for (node, port) in ends if node == switch and port not in host_ports]
        assert host_ports == list(range(1, len(host_ports) + 1))
        assert all(port > len(host_ports) for port in switch_ports)


def test_host_port_and_unknown_host():
    topo = LinearTopo(3, 2)
    assert [topo.host_port('h%d' % j) for j in range(1, 7)] == [
        ('s1', 1),
        ('s1', 2),
        ('s2', 1),
        ('s2', 2),
        ('s3', 1),
        ('s3', 2),
    ]
    with pytest.raises(KeyError):
        topo.host_port('h7')


@pytest.mark.parametrize('n, h', [(4, 1), (3, 2), (1, 1)])
def test_linear_ports(n, h):
    """Port h+1 to the next switch, h+2 to the previous one."""
    topo = LinearTopo(n, h)
    expected = {frozenset({('s%d' % i, h + 1), ('s%d' % (i + 1), h + 2)}) for i in range(1, n)}
    assert link_set(topo.switch_links()) == expected


def test_linear_documented_example():
    assert LinearTopo(4).switch_links() == [
        (('s1', 2), ('s2', 3)),
        (('s2', 2), ('s3', 3)),
        (('s3', 2), ('s4', 3)),
    ]
    assert LinearTopo(4).host_port('h4') == ('s4', 1)


@pytest.mark.parametrize('n, h', [(4, 1), (3, 1), (5, 2)])
def test_ring_ports(n, h):
    """Port h+1 to the next switch (sn to s1), h+2 to the previous one (s1 to sn)."""
    topo = RingTopo(n, h)
    expected = {
        frozenset({('s%d' % i, h + 1), ('s%d' % (i % n + 1), h + 2)}) for i in range(1, n + 1)
    }
    assert link_set(topo.switch_links()) == expected


def test_ring_documented_example():
    topo = RingTopo(4)
    assert (('s1', 2), ('s2', 3)) in topo.switch_links()
    assert (('s4', 2), ('s1', 3)) in topo.switch_links()
    assert topo.host_port('h3') == ('s3', 1)


def test_ring_is_linear_plus_closing_link():
    for n, h in [(3, 1), (6, 3)]:
        ring, linear = RingTopo(n, h), LinearTopo(n, h)
        extra = link_set(ring.switch_links()) - link_set(linear.switch_links())
        assert extra == {frozenset({('s%d' % n, h + 1), ('s1', h + 2)})}
        assert link_set(linear.switch_links()) < link_set(ring.switch_links())


def test_tree_numbering_depth3_fanout2():
    topo = TreeTopo(3, 2)
    # depth-first: s1; s2 with s3, s4 below it; s5 with s6, s7 below it
    assert link_set(topo.switch_links()) == link_set(
        [
            (('s2', 3), ('s1', 1)),
            (('s5', 3), ('s1', 2)),
            (('s3', 3), ('s2', 1)),
            (('s4', 3), ('s2', 2)),
            (('s6', 3), ('s5', 1)),
            (('s7', 3), ('s5', 2)),
        ]
    )
    leaves = ['s3', 's3', 's4', 's4', 's6', 's6', 's7', 's7']
    assert [topo.host_port('h%d' % j) for j in range(1, 9)] == [
        (leaf, 1 + (j % 2)) for j, leaf in enumerate(leaves)
    ]


@pytest.mark.parametrize('depth, fanout', [(2, 2), (2, 3), (3, 3)])
def test_tree_ports_down_then_up(depth, fanout):
    """Port p (1..fanout) down to the p-th child, port fanout+1 up to the parent."""
    topo = TreeTopo(depth, fanout)
    children = Counter()
    for (child, child_port), (parent, parent_port) in topo.switch_links():
        assert child_port == fanout + 1
        assert 1 <= parent_port <= fanout
        assert int(parent[1:]) < int(child[1:])  # parents come first
        assert child != 's1'  # the root has no parent port
        children[parent] += 1
    assert children['s1'] == fanout


def fattree_expected(k):
    """The fat-tree of the fattree.py docstring, computed here from its formulas."""
    half = k // 2
    n_core = half * half

    def aggregation(pod, a):
        return 's%d' % (n_core + (pod - 1) * half + a)

    def edge(pod, e):
        return 's%d' % (3 * k * k // 4 + (pod - 1) * half + e)

    links = set()
    hosts = {}
    for pod in range(1, k + 1):
        for e in range(1, half + 1):
            edge_number = (pod - 1) * half + e
            for x in range(1, half + 1):
                hosts['h%d' % ((edge_number - 1) * half + x)] = (edge(pod, e), x)
            for a in range(1, half + 1):
                links.add(frozenset({(edge(pod, e), half + a), (aggregation(pod, a), e)}))
        for a in range(1, half + 1):
            for j in range(1, half + 1):
                core = 's%d' % ((a - 1) * half + j)
                links.add(frozenset({(aggregation(pod, a), half + j), (core, pod)}))
    return links, hosts


@pytest.mark.parametrize('k', [2, 4, 6])
def test_fattree_numbering_matches_docstring(k):
    topo = FatTreeTopo(k)
    links, hosts = fattree_expected(k)
    assert link_set(topo.switch_links()) == links
    assert {h: topo.host_port(h) for h in topo.hosts()} == hosts


def test_fattree_k4_documented_examples():
    links = link_set(FatTreeTopo(4).switch_links())
    for a, b in [
        (('s13', 3), ('s5', 1)),
        (('s13', 4), ('s6', 1)),
        (('s14', 3), ('s5', 2)),
        (('s5', 3), ('s1', 1)),
        (('s5', 4), ('s2', 1)),
        (('s6', 3), ('s3', 1)),
        (('s7', 3), ('s1', 2)),
        (('s12', 4), ('s4', 4)),
    ]:
        assert frozenset({a, b}) in links
    topo = FatTreeTopo(4)
    assert topo.host_port('h1') == ('s13', 1)
    assert topo.host_port('h16') == ('s20', 2)


def test_fattree_layers_and_degrees():
    topo = FatTreeTopo(4)
    graph = switch_graph(topo)
    hosts_on = Counter(switch for switch, _ in map(topo.host_port, topo.hosts()))
    for i in range(1, 21):
        name = 's%d' % i
        # every switch has k=4 ports in use: core 4 up/down, agg 2+2, edge 2 hosts+2
        assert graph.degree(name) + hosts_on[name] == 4
    assert set(hosts_on) == {'s%d' % i for i in range(13, 21)}


@pytest.mark.parametrize(
    'topo',
    [RingTopo(3), RingTopo(6), FatTreeTopo(4), FatTreeTopo(6)],
    ids=['ring3', 'ring6', 'fattree4', 'fattree6'],
)
def test_looped_topologies_have_a_cycle(topo):
    graph = switch_graph(topo)
    assert nx.is_connected(graph)
    assert nx.cycle_basis(nx.Graph(graph))  # simple graph: no parallel links hide here
    assert graph.number_of_edges() == nx.Graph(graph).number_of_edges()


def test_ring_is_one_cycle_through_every_switch():
    graph = nx.Graph(switch_graph(RingTopo(5)))
    assert [len(cycle) for cycle in nx.cycle_basis(graph)] == [5]


@pytest.mark.parametrize(
    'topo',
    [
        LinearTopo(1),
        LinearTopo(4),
        LinearTopo(3, 2),
        TreeTopo(),
        TreeTopo(3, 3),
        TreeTopo(2, 1),
        FatTreeTopo(2),
    ],
    ids=['linear1', 'linear4', 'linear3x2', 'tree2x2', 'tree3x3', 'tree2x1', 'fattree2'],
)
def test_loop_free_topologies_are_trees(topo):
    """(The k=2 fat-tree has one aggregation switch per pod, hence no loop.)"""
    assert nx.is_tree(switch_graph(topo))


@pytest.mark.parametrize('topo', ALL_TOPOS, ids=SHAPE_IDS)
def test_whole_network_connected(topo):
    graph = nx.MultiGraph()
    graph.add_nodes_from(topo.nodes())
    graph.add_edges_from(topo.links())
    assert nx.is_connected(graph)


@pytest.mark.parametrize(
    'make, message',
    [
        (lambda: RingTopo(2), 'ring: n must be >= 3'),
        (lambda: RingTopo(1), 'ring: n must be >= 3'),
        (lambda: FatTreeTopo(3), 'fattree: k must be even and >= 2, got 3'),
        (lambda: FatTreeTopo(0), 'fattree: k must be even and >= 2, got 0'),
        (lambda: LinearTopo(0), 'linear: n must be >= 1'),
        (lambda: LinearTopo(3, 0), 'hosts_per_switch must be >= 1'),
        (lambda: RingTopo(4, 0), 'hosts_per_switch must be >= 1'),
        (lambda: TreeTopo(0, 2), 'tree: depth must be >= 1'),
        (lambda: TreeTopo(2, 0), 'tree: fanout must be >= 1'),
    ],
    ids=[
        'ring2',
        'ring1',
        'fattree3',
        'fattree0',
        'linear0',
        'linear-hosts0',
        'ring-hosts0',
        'tree-depth0',
        'tree-fanout0',
    ],
)
def test_bad_parameters_raise_value_error(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def run_script(name, *args):
    return subprocess.run(
        [sys.executable, os.path.join('topologies', name + '.py'), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize('name', SCRIPTS)
def test_script_help(name):
    result = run_script(name, '--help')
    assert result.returncode == 0, result.stderr
    for text in (
        'usage:',
        '--controller-ip',
        '--controller-port',
        '--test',
        '--settle',
        '--log-level',
        'ports',
        'mn --custom topologies/%s.py' % name,
    ):
        assert text in result.stdout


def test_script_rejects_bad_parameters_before_anything_else():
    """A clear usage error (exit 2), without root and without building anything."""
    result = run_script('ring', '--n', '2')
    assert result.returncode == 2
    assert 'ring: n must be >= 3' in result.stderr
    result = run_script('fattree', '--k', '3')
    assert result.returncode == 2
    assert 'fattree: k must be even' in result.stderr


def test_main_refuses_to_run_without_root(monkeypatch, capsys):
    from topologies import ring

    def must_not_build(*_args, **_kwargs):
        raise AssertionError('build_network called without root')

    monkeypatch.setattr(common.os, 'geteuid', lambda: 1000)
    monkeypatch.setattr(common, 'build_network', must_not_build)
    monkeypatch.setattr(sys, 'argv', ['topologies/ring.py', '--n', '3'])
    with pytest.raises(SystemExit) as exit_info:
        common.main(ring.RingTopo, ring.__doc__, ring.add_topo_args)
    assert 'must run as root' in str(exit_info.value.code)
    assert 'sudo python3 topologies/ring.py --n 3' in str(exit_info.value.code)


# What /usr/bin/mn does with --custom FILE (exec in a fresh dict: no __file__, __name__
# not '__main__'), then with --topo NAME,ARGS and --switch ovs13u; in a fresh interpreter
# started elsewhere, so that nothing has put the repository on sys.path.
MN_CUSTOM_LOAD = textwrap.dedent('''
    import sys
    from mininet.util import buildTopo
    path, topo_spec = sys.argv[1:]
    customs = {}
    exec(compile(open(path).read(), path, 'exec'), customs, customs)
    topo = buildTopo(customs['topos'], topo_spec)
    switch = customs['switches']['ovs13u']
    print(type(topo).__name__, len(topo.switches()), len(topo.hosts()),
          switch.func.__name__, sorted(switch.keywords.items()))
''')


@pytest.mark.parametrize(
    'name, spec, expected',
    [
        ('linear', 'linear,3,2', 'LinearTopo 3 6'),
        ('tree', 'tree,2,3', 'TreeTopo 4 9'),
        ('ring', 'ring,4', 'RingTopo 4 4'),
        ('ring', 'ring,n=5,hosts_per_switch=2', 'RingTopo 5 10'),
        ('fattree', 'fattree,4', 'FatTreeTopo 20 16'),
    ],
)
def test_loads_like_mn_custom(tmp_path, name, spec, expected):
    path = os.path.join(REPO, 'topologies', name + '.py')
    env = {key: value for key, value in os.environ.items() if key != 'PYTHONPATH'}
    result = subprocess.run(
        [sys.executable, '-c', MN_CUSTOM_LOAD, path, spec],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split(' SilentPortsOVSSwitch ')[0] == expected
    assert (
        "('datapath', 'user')" in result.stdout
        and "('failMode', 'secure')" in result.stdout
        and "('protocols', 'OpenFlow13')" in result.stdout
    )
