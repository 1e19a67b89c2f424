"""topologies/graphfile.py: the three sample files (counts, dpids, ports, hosts, link
shaping), the rules for ordering, parallel edges, self-loops and geographic delay,
malformed files, and the two ways of running the script up to where root is needed."""

import os
import subprocess
import sys

import networkx as nx
import pytest
from mininet.link import TCLink

from tests.topologies.test_topologies import MN_CUSTOM_LOAD, REPO, run_script
from topologies import common, numbering
from topologies.graphfile import (
    MAX_BW_MBITS,
    GraphFileError,
    GraphFileTopo,
    geo_delay_ms,
    great_circle_km,
    plan_graph,
)

EXAMPLES = os.path.join(REPO, 'topologies', 'examples')
ABILENE_GRAPHML = os.path.join(EXAMPLES, 'abilene.graphml')
ABILENE_GML = os.path.join(EXAMPLES, 'abilene.gml')
SMALL_WAN = os.path.join(EXAMPLES, 'small-wan.edges')

# The Abilene sample with one host per switch, as the module docstring numbers it:
# s(i+1) is node i; each switch's ports after its host go to its neighbours in order.
ABILENE_LABELS = [
    'New York',
    'Chicago',
    'Washington DC',
    'Seattle',
    'Sunnyvale',
    'Los Angeles',
    'Denver',
    'Kansas City',
    'Houston',
    'Atlanta',
    'Indianapolis',
]
ABILENE_LINKS = [
    (('s1', 2), ('s2', 2)),
    (('s1', 3), ('s3', 2)),
    (('s2', 3), ('s11', 2)),
    (('s3', 3), ('s10', 2)),
    (('s4', 2), ('s5', 2)),
    (('s4', 3), ('s7', 2)),
    (('s5', 3), ('s6', 2)),
    (('s5', 4), ('s7', 3)),
    (('s6', 3), ('s9', 2)),
    (('s7', 4), ('s8', 2)),
    (('s8', 3), ('s9', 3)),
    (('s8', 4), ('s11', 3)),
    (('s9', 4), ('s10', 3)),
    (('s10', 4), ('s11', 4)),
]
# small-wan.edges: s1 branch1, s2 branch2, s3 branch3, s4 hq, s5 lab
SMALL_WAN_LINKS = [
    (('s1', 2), ('s2', 2)),
    (('s1', 3), ('s4', 2)),
    (('s2', 3), ('s3', 2)),
    (('s2', 4), ('s4', 3)),
    (('s3', 3), ('s5', 2)),
]
NEW_YORK, CHICAGO = (40.71427, -74.00597), (41.85003, -87.65005)
SYSTEM_PYTHON = '/usr/bin/python3'  # what `sudo mn` and `sudo python3` run


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def link_params(topo, node1, node2):
    """A link's options other than its ends and ports."""
    info = topo.linkInfo(node1, node2)
    return {
        key: value for key, value in info.items() if key not in ('node1', 'node2', 'port1', 'port2')
    }


@pytest.mark.parametrize(
    'path, n_switches, links',
    [
        (ABILENE_GRAPHML, 11, ABILENE_LINKS),
        (ABILENE_GML, 11, ABILENE_LINKS),
        (SMALL_WAN, 5, SMALL_WAN_LINKS),
    ],
    ids=['graphml', 'gml', 'edgelist'],
)
def test_examples_switches_dpids_ports_and_hosts(path, n_switches, links):
    topo = GraphFileTopo(path)
    assert topo.switches() == ['s%d' % i for i in range(1, n_switches + 1)]
    assert [int(topo.nodeInfo(s)['dpid'], 16) for s in topo.switches()] == list(
        range(1, n_switches + 1)
    )
    assert topo.switch_links() == links
    assert len(topo.links()) == len(links) + n_switches
    assert [topo.host_port('h%d' % j) for j in range(1, n_switches + 1)] == [
        ('s%d' % i, 1) for i in range(1, n_switches + 1)
    ]
    assert topo.nodeInfo('h2')['mac'] == common.host_mac(2)
    assert topo.nodeInfo('h2')['ip'] == common.host_ip(2)


def test_graphml_and_gml_samples_build_the_same_topology():
    graphml, gml = GraphFileTopo(ABILENE_GRAPHML, 2), GraphFileTopo(ABILENE_GML, 2)
    assert graphml.links(withInfo=True) == gml.links(withInfo=True)
    assert graphml.graph_nodes == gml.graph_nodes
    assert [node.label for node in graphml.graph_nodes.values()] == ABILENE_LABELS
    assert graphml.graph_nodes['s11'].id == '10'  # numeric order: 10 after 9


@pytest.mark.parametrize('path', [ABILENE_GRAPHML, SMALL_WAN], ids=['graphml', 'edgelist'])
@pytest.mark.parametrize('h', [1, 3])
def test_port_rule_hosts_then_neighbours_in_switch_order(path, h):
    topo = GraphFileTopo(path, h)
    graph = nx.Graph()
    ports = {}
    for (a, port_a), (b, port_b) in topo.switch_links():
        graph.add_edge(a, b)
        ports[a, b], ports[b, a] = port_a, port_b
    for switch in topo.switches():
        number = int(switch[1:])
        neighbours = sorted(graph[switch], key=lambda name: int(name[1:]))
        assert [ports[switch, n] for n in neighbours] == list(range(h + 1, h + 1 + len(neighbours)))
        hosts = ['h%d' % ((number - 1) * h + k) for k in range(1, h + 1)]
        assert [topo.host_port(host) for host in hosts] == [(switch, k) for k in range(1, h + 1)]


def test_zoo_link_speeds_become_capped_bw():
    topo = GraphFileTopo(ABILENE_GRAPHML)
    assert link_params(topo, 's1', 's2') == {'bw': MAX_BW_MBITS, 'cls': TCLink}  # 10G
    assert link_params(topo, 's10', 's11') == {'bw': 622, 'cls': TCLink}  # OC-12
    assert link_params(topo, 's3', 's10') == {}  # no speed: a plain link
    assert '12 of 14 links capped at 1000 Mbit/s' in ' '.join(topo.plan.notes)
    assert common._asks_for_tc(topo)


def test_defaults_fill_only_what_an_edge_lacks():
    topo = GraphFileTopo(ABILENE_GRAPHML, default_bw=50, default_delay='1ms')
    assert link_params(topo, 's3', 's10') == {'bw': 50, 'delay': '1ms', 'cls': TCLink}
    assert link_params(topo, 's10', 's11') == {'bw': 622, 'delay': '1ms', 'cls': TCLink}


def test_edge_list_bw_and_delay():
    topo = GraphFileTopo(SMALL_WAN)
    assert link_params(topo, 's1', 's4') == {'bw': 100, 'delay': '2ms', 'cls': TCLink}
    assert link_params(topo, 's2', 's3') == {'bw': 10, 'delay': '10ms', 'cls': TCLink}
    assert link_params(topo, 's3', 's5') == {}
    assert [node.id for node in topo.graph_nodes.values()] == [
        'branch1',
        'branch2',
        'branch3',
        'hq',
        'lab',
    ]


def test_edge_list_delay_units(tmp_path):
    path = write(tmp_path, 'units.txt', 'a b delay=500us\nb c delay=0.25s\nc d delay=3\n')
    delays = [params['delay'] for _i, _j, params in plan_graph(path).links]
    assert delays == ['0.5ms', '250ms', '3ms']


def test_geo_delay_formula():
    # one degree of the equator is 6371 km * pi / 180 = 111.195 km: 0.556 ms at 5 us/km
    assert great_circle_km(0, 0, 0, 1) == pytest.approx(111.195, abs=1e-3)
    assert geo_delay_ms(0, 0, 0, 1) == pytest.approx(0.55598, abs=1e-5)
    # New York - Chicago, about 1145 km apart
    assert great_circle_km(*NEW_YORK, *CHICAGO) == pytest.approx(1145, abs=3)
    assert great_circle_km(*CHICAGO, *NEW_YORK) == great_circle_km(*NEW_YORK, *CHICAGO)


def test_delay_from_geo_on_the_zoo_sample():
    topo = GraphFileTopo(ABILENE_GML, delay_from_geo=True)
    expected = '%.3fms' % geo_delay_ms(*NEW_YORK, *CHICAGO)
    assert expected == '5.729ms'
    assert link_params(topo, 's1', 's2') == {'bw': MAX_BW_MBITS, 'delay': expected, 'cls': TCLink}
    assert all('delay' in link_params(topo, a, b) for (a, _), (b, _) in topo.switch_links())


@pytest.mark.parametrize('flag', [False, 0, 'false', 'no'])
def test_delay_from_geo_off(flag):
    topo = GraphFileTopo(ABILENE_GRAPHML, delay_from_geo=flag)
    assert 'delay' not in link_params(topo, 's1', 's2')


def test_explicit_delay_beats_geo_and_missing_coordinates_are_noted(tmp_path):
    graph = nx.Graph()
    graph.add_node('0', Latitude=0.0, Longitude=0.0)
    graph.add_node('1', Latitude=0.0, Longitude=1.0)
    graph.add_node('2')
    graph.add_edge('0', '1')
    graph.add_edge('1', '2')
    graph.add_edge('0', '2', delay='7ms')
    path = str(tmp_path / 'geo.graphml')
    nx.write_graphml(graph, path)
    plan = plan_graph(path, delay_from_geo=True, default_delay='1ms')
    assert plan.links == [
        (1, 2, {'delay': '0.556ms'}),
        (1, 3, {'delay': '7ms'}),
        (2, 3, {'delay': '1ms'}),
    ]
    assert plan.notes == [
        'no geographic delay for edges without Latitude/Longitude at both ends: 1 - 2'
    ]


def test_zoo_gml_with_repeated_labels_and_parallel_edges(tmp_path):
    path = write(
        tmp_path,
        'zoo.gml',
        '''graph [
      multigraph 1
      node [ id 0 label "Hub" ]
      node [ id 1 label "Hub" ]
      node [ id 2 label "Leaf" ]
      edge [ source 0 target 1 key 0 LinkSpeed "100" LinkSpeedUnits "M" ]
      edge [ source 1 target 0 key 1 LinkSpeed "1" LinkSpeedUnits "g" ]
      edge [ source 1 target 2 key 0 ]
      edge [ source 2 target 1 key 1 LinkSpeedRaw 2000000.0 ]
      edge [ source 2 target 2 key 0 ]
    ]''',
    )
    topo = GraphFileTopo(path)
    assert [(n.id, n.label) for n in topo.graph_nodes.values()] == [
        ('0', 'Hub'),
        ('1', 'Hub'),
        ('2', 'Leaf'),
    ]
    assert topo.switch_links() == [(('s1', 2), ('s2', 2)), (('s2', 3), ('s3', 2))]
    assert link_params(topo, 's1', 's2') == {'bw': 1000, 'cls': TCLink}  # the faster one
    assert link_params(topo, 's2', 's3') == {}  # an unshaped edge beats any bw
    assert topo.plan.notes == [
        'self-loop 2 (Leaf) - 2 (Leaf) skipped',
        '2 parallel edges 0 (Hub) - 1 (Hub) collapsed into one link',
        '2 parallel edges 1 (Hub) - 2 (Leaf) collapsed into one link',
    ]


def test_edge_list_parallel_edges_self_loops_and_comments(tmp_path):
    path = write(
        tmp_path,
        'multi.txt',
        '# a comment line\n\n'
        'a b bw=10 delay=5ms\n'
        'b a bw=20 delay=9ms  # the other direction is the same link\n'
        'c c\n'
        'b c\n',
    )
    plan = plan_graph(path)
    assert plan.links == [(1, 2, {'bw': 20, 'delay': '5ms'}), (2, 3, {})]
    assert plan.notes == [
        'line 5: self-loop c - c skipped',
        '2 parallel edges a - b collapsed into one link',
    ]


def test_natural_node_order(tmp_path):
    path = write(tmp_path, 'order.edges', 'n10 n2\nn2 n1\nx n10\n10 9\n')
    assert [node.id for node in plan_graph(path).nodes] == ['9', '10', 'n1', 'n2', 'n10', 'x']


def test_nodes_without_edges_are_switches_without_links(tmp_path):
    graph = nx.Graph()
    graph.add_nodes_from(['a', 'b'])
    path = str(tmp_path / 'islands.graphml')
    nx.write_graphml(graph, path)
    topo = GraphFileTopo(path, 2)
    assert (len(topo.switches()), len(topo.hosts()), topo.switch_links()) == (2, 4, [])
    assert topo.plan.notes == ['no edges between different nodes: the switches are not linked']
    assert not common._asks_for_tc(topo)


def test_format_override(tmp_path):
    path = write(tmp_path, 'graph.dat', 'a b bw=5\n')
    assert plan_graph(path, 'edgelist').links == [(1, 2, {'bw': 5})]
    with pytest.raises(GraphFileError, match='not valid gml'):
        plan_graph(path, 'gml')


EMPTY_GRAPHML = (
    '<graphml xmlns="http://graphml.graphdrawing.org/xmlns">'
    '<graph edgedefault="undirected"/></graphml>'
)


def graphml_edge(attr_type, value, key='LinkSpeedRaw'):
    return (
        '<graphml xmlns="http://graphml.graphdrawing.org/xmlns">'
        '<key id="d0" for="edge" attr.name="%s" attr.type="%s"/>'
        '<key id="d1" for="node" attr.name="Latitude" attr.type="string"/>'
        '<key id="d2" for="node" attr.name="Longitude" attr.type="double"/>'
        '<graph edgedefault="undirected">'
        '<node id="a"><data key="d1">91</data><data key="d2">0</data></node>'
        '<node id="b"/><edge source="a" target="b"><data key="d0">%s</data></edge>'
        '</graph></graphml>' % (key, attr_type, value)
    )


# (file name, contents, build() keywords, line number or None, expected message part)
MALFORMED = [
    ('missing.graphml', None, {}, None, 'no such file'),
    ('graph.csv', 'a,b\n', {}, None, "cannot tell the format from the extension '.csv'"),
    ('graph.txt', 'a b\n', {'file_format': 'yaml'}, None, "unknown format 'yaml'"),
    ('empty.graphml', EMPTY_GRAPHML, {}, None, 'the graph has no nodes'),
    ('empty.edges', '# nothing here\n\n', {}, None, 'no edges: expected lines'),
    (
        'one.txt',
        'a b\n\nlonely\n',
        {},
        3,
        "expected \"<node> <node> [bw=<Mbit/s>] [delay=<time>]\", got 'lonely'",
    ),
    (
        'key.txt',
        '# x\na b speed=10\n',
        {},
        2,
        "expected bw=<Mbit/s> or delay=<time> after the two nodes, got 'speed=10'",
    ),
    ('twice.txt', 'a b bw=1 bw=2\n', {}, 1, 'bw given twice'),
    (
        'bw.txt',
        'a b bw=10\nb c bw=fast\n',
        {},
        2,
        "edge b - c: bw='fast': expected a number of Mbit/s > 0",
    ),
    ('zero.txt', 'a b bw=0\n', {}, 1, "bw='0': expected a number of Mbit/s > 0"),
    ('delay.edgelist', 'a b delay=2 ms\n', {}, 1, "expected bw=<Mbit/s> or delay=<time>"),
    ('delay.edges', 'a b delay=-2ms\n', {}, 1, "delay='-2ms': expected a time >= 0"),
    (
        'raw.graphml',
        graphml_edge('string', 'fast'),
        {},
        None,
        "edge a - b: LinkSpeedRaw='fast': expected a number of bit/s > 0",
    ),
    (
        'units.graphml',
        graphml_edge('string', '10', 'LinkSpeed'),
        {},
        None,
        "LinkSpeedUnits=None: expected one of K, M, G, T with LinkSpeed",
    ),
    (
        'typed.graphml',
        graphml_edge('double', 'fast'),
        {},
        None,
        'not valid graphml: could not convert string to float',
    ),
    (
        'latitude.graphml',
        graphml_edge('double', '1e9'),
        {'delay_from_geo': True},
        None,
        "node a: Latitude='91': expected degrees in -90..90",
    ),
    ('broken.graphml', '<graphml><graph>', {}, None, 'not valid graphml: no element found'),
    (
        'broken.gml',
        'graph [\n node [ id 0 ]\n edge [ source 0 ',
        {},
        None,
        "not valid gml: expected ']', found EOF",
    ),
    (
        'labels.gml',
        'graph [ node [ id 0 ] edge [ source 0 target 1 ] ]',
        {},
        None,
        'not valid gml: edge #0 has undefined target 1',
    ),
    (
        'hosts.txt',
        'a b\n',
        {'hosts_per_switch': numbering.MAX_HOSTS},
        None,
        '2 nodes x 65534 hosts per switch = 131068 hosts: expected at most 65534',
    ),
]


@pytest.mark.parametrize(
    'name, text, kwargs, line, message', MALFORMED, ids=[case[0] for case in MALFORMED]
)
def test_malformed_files_raise_graph_file_error(tmp_path, name, text, kwargs, line, message):
    path = str(tmp_path / name) if text is None else write(tmp_path, name, text)
    with pytest.raises(GraphFileError) as error:
        GraphFileTopo(path, **kwargs)
    where = path if line is None else '%s, line %d' % (path, line)
    assert str(error.value).startswith(where + ': ')
    assert message in str(error.value)
    assert (error.value.path, error.value.line) == (path, line)


def test_a_directory_is_not_a_file(tmp_path):
    with pytest.raises(GraphFileError, match='not a file'):
        GraphFileTopo(str(tmp_path))


@pytest.mark.parametrize(
    'kwargs, message',
    [
        ({'hosts_per_switch': 0}, 'hosts_per_switch must be >= 1'),
        ({'default_bw': 'lots'}, "default_bw='lots': expected a number of Mbit/s > 0"),
        ({'default_delay': 'soon'}, "default_delay='soon': expected a time >= 0"),
        ({'delay_from_geo': 'maybe'}, "delay_from_geo must be true or false, got 'maybe'"),
    ],
)
def test_bad_parameters_raise_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GraphFileTopo(SMALL_WAN, **kwargs)


def test_without_networkx_edge_lists_still_work(monkeypatch):
    monkeypatch.setitem(sys.modules, 'networkx', None)  # makes `import networkx` fail
    assert len(GraphFileTopo(SMALL_WAN).switch_links()) == 5
    with pytest.raises(ImportError, match='reading GraphML or GML needs networkx'):
        GraphFileTopo(ABILENE_GRAPHML)


def load_like_mn(tmp_path, spec, python=sys.executable):
    """MN_CUSTOM_LOAD's output for graphfile.py and --topo spec, as test_topologies runs
    it: a fresh interpreter elsewhere, without the repository on its path."""
    env = {key: value for key, value in os.environ.items() if key != 'PYTHONPATH'}
    result = subprocess.run(
        [python, '-c', MN_CUSTOM_LOAD, os.path.join(REPO, 'topologies', 'graphfile.py'), spec],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize(
    'spec, expected',
    [
        ('graphfile,%s' % ABILENE_GRAPHML, 'GraphFileTopo 11 11'),
        ('graphfile,%s,2' % ABILENE_GML, 'GraphFileTopo 11 22'),
        ('graphfile,path=%s,hosts_per_switch=3,delay_from_geo=1' % SMALL_WAN, 'GraphFileTopo 5 15'),
    ],
)
def test_loads_like_mn_custom(tmp_path, spec, expected):
    stdout = load_like_mn(tmp_path, spec)
    assert stdout.split(' SilentPortsOVSSwitch ')[0] == expected
    assert "('protocols', 'OpenFlow13')" in stdout


@pytest.mark.skipif(not os.path.exists(SYSTEM_PYTHON), reason='no ' + SYSTEM_PYTHON)
def test_edge_list_loads_under_mns_own_interpreter(tmp_path):
    """`sudo mn` runs the system python3, which need not have networkx."""
    stdout = load_like_mn(tmp_path, 'graphfile,%s,2' % SMALL_WAN, SYSTEM_PYTHON)
    assert stdout.startswith('GraphFileTopo 5 10 ')


def test_mn_passes_a_relative_path_as_a_string(tmp_path):
    """mn's splitArgs turns numeric arguments into numbers; a path stays a string and is
    relative to where mn runs."""
    from mininet.util import splitArgs

    assert splitArgs('graphfile,examples/abilene.graphml,2') == (
        'graphfile',
        ['examples/abilene.graphml', 2],
        {},
    )
    (tmp_path / 'examples').mkdir()
    write(tmp_path, 'examples/wan.edges', open(SMALL_WAN).read())
    assert load_like_mn(tmp_path, 'graphfile,examples/wan.edges').startswith('GraphFileTopo 5 5 ')


def test_script_help():
    result = run_script('graphfile', '--help')
    assert result.returncode == 0, result.stderr
    for text in (
        '--file PATH',
        '--format {auto,graphml,gml,edgelist}',
        '--hosts-per-switch',
        '--delay-from-geo',
        '--default-bw',
        '--default-delay',
        '--controller-port',
        '--test',
        'ports',
        'mn --custom topologies/graphfile.py',
    ):
        assert text in result.stdout


@pytest.mark.parametrize(
    'args, message',
    [
        ([], 'the following arguments are required: --file'),
        (
            ['--file', 'topologies/examples/nowhere.gml'],
            'topologies/examples/nowhere.gml: no such file',
        ),
        (
            ['--file', 'topologies/examples/small-wan.edges', '--format', 'gml'],
            'topologies/examples/small-wan.edges: not valid gml',
        ),
    ],
)
def test_script_rejects_bad_files_before_anything_else(args, message):
    """A usage error (exit 2), without root and without building anything."""
    result = run_script('graphfile', *args)
    assert result.returncode == 2
    assert message in result.stderr
