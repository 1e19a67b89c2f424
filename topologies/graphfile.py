"""Graph-file topology: one switch per node and one link per edge of a graph read from a
file: an Internet Topology Zoo network (GraphML or GML) or a plain edge list.

    New York ------ Chicago ------ Indianapolis       (part of examples/abilene.graphml)
       |                                |
    Washington DC ------ Atlanta -------+

Formats (from the extension, or --format / file_format=...):
  graphml   .graphml                GraphML, e.g. a Topology Zoo file
  gml       .gml                    GML; nodes are read by id, since Zoo labels repeat;
                                    a node's 'label' is only shown
  edgelist  .txt .edges .edgelist   one edge per line, "<node> <node> [bw=<Mbit/s>]
                                    [delay=<time>]"; '#' starts a comment; a time is a
                                    number with us, ms or s (a bare number is ms)
Edge directions are ignored. Parallel edges become one link, as good as the best of them
(highest bw, unshaped counting as highest; lowest delay); self-loops are skipped; a graph
without edges gives switches without links. All three are reported as notes.

Numbering (h = hosts_per_switch):
  switches   one per node, in natural order of the node ids (runs of digits compare as
             numbers: 2 < 10, n2 < n10); the i-th node is si, dpid i
  hosts      h1..h(n*h), switch by switch: si carries h((i-1)*h+1) .. h(i*h);
             hj has MAC 00:00:00:00:HH:LL and IP 10.0.HH.LL/16 (HH, LL: bytes of j)
  ports      on si: ports 1..h go to its hosts, in host order; ports h+1, h+2, ... go to
             its neighbours in increasing switch number (links are added in sorted order
             of their (i, j), i < j, each taking the next free port on both switches)
  example    examples/abilene.graphml, h=1: node 0 (New York) is s1, ..., node 10
             (Indianapolis) is s11; h1 on s1:1; s1:2 <-> s2:2 (Chicago),
             s1:3 <-> s3:2 (Washington DC), s2:3 <-> s11:2, ..., s10:4 <-> s11:4

Link shaping (TCLink parameters; a link with neither stays a plain link):
  bw      the edge's bw (Mbit/s), else Topology Zoo's LinkSpeedRaw (bit/s), else its
          LinkSpeed in LinkSpeedUnits (K, M, G or T bit/s), else --default-bw. TCLink
          shapes at most 1000 Mbit/s (Mininet ignores a higher bw, with an error), so
          faster links are capped at 1000 Mbit/s, with a note: a Zoo backbone's 10 Gbit/s
          links all become 1000 Mbit/s ones.
  delay   the edge's delay, else (with --delay-from-geo) the great-circle distance between
          its nodes' Latitude/Longitude (haversine, Earth radius 6371 km) at 5 us/km, the
          one-way delay of light in fibre (~200,000 km/s), a lower bound since fibre does
          not follow great circles; else --default-delay. Rounded to the microsecond.
A file that cannot be read this way raises GraphFileError (a ValueError) naming the file,
the line for an edge list, and what was expected; the script exits with it as a usage
error. Under `mn --custom` shaped links ask for TCLink themselves: no `--link tc` needed.

Reading GraphML and GML needs networkx: scripts/setup.sh installs Debian's
python3-networkx for the system python3 (and networkx in .venv); where it is missing,
run the script (and mn) with .venv/bin/python. An edge list needs only the standard
library.

Run it as a script (root; a controller on --controller-ip/--controller-port):
    sudo python3 topologies/graphfile.py --file topologies/examples/abilene.graphml
    sudo python3 topologies/graphfile.py --file topologies/examples/small-wan.edges \\
        --hosts-per-switch 2 --test pingall
or with mn (arguments are path,hosts_per_switch; keywords file_format, delay_from_geo,
default_bw and default_delay; mn splits its argument at ',' and '=', so paths with those
are unsupported there; a relative path is relative to where mn runs; mn answers any
error, a bad file's included, with the cleanup of `mn -c`: try new files with the script):
    sudo mn --custom topologies/graphfile.py --switch ovs13u \\
        --topo graphfile,topologies/examples/abilene.graphml,delay_from_geo=1 \\
        --controller remote,port=6653
"""

import inspect
import math
import os
import re
import sys
from collections import namedtuple
from functools import partial
from xml.etree.ElementTree import ParseError

# `mn --custom` exec()s this file without __file__ (and not as __main__); the code
# object still knows the file name, from which we find the repository root.
_REPO_ROOT = os.path.dirname(
    os.path.dirname(os.path.abspath(inspect.currentframe().f_code.co_filename))
)
if _REPO_ROOT not in sys.path:
    sys.path.insert(0, _REPO_ROOT)

from mininet.link import TCIntf, TCLink  # noqa: E402
from mininet.log import output, warn  # noqa: E402

from topologies.common import (  # noqa: E402
    NumberedTopo,
    main,
    switches,  # noqa: E402,F401  (mn --custom: --switch ovs13u)
)
from topologies.numbering import MAX_HOSTS, switch_name  # noqa: E402

FORMATS = ('graphml', 'gml', 'edgelist')
EXTENSIONS = {
    '.graphml': 'graphml',
    '.gml': 'gml',
    '.txt': 'edgelist',
    '.edges': 'edgelist',
    '.edgelist': 'edgelist',
}
EDGELIST_KEYS = ('bw', 'delay')
EDGELIST_LINE = '"<node> <node> [bw=<Mbit/s>] [delay=<time>]"'

MAX_BW_MBITS = TCIntf.bwParamMax  # above it, Mininet ignores a bw (with an error)
US_PER_KM = 5.0  # light in fibre: about 200,000 km/s
EARTH_RADIUS_KM = 6371.0
# Topology Zoo's LinkSpeedUnits, in bit/s.
SPEED_UNITS = {'K': 1e3, 'M': 1e6, 'G': 1e9, 'T': 1e12}
DELAY_UNITS_MS = {'us': 1e-3, 'ms': 1.0, 's': 1e3}
_DELAY = re.compile(r'(\d+(?:\.\d*)?|\.\d+)(us|ms|s)?')

# What a reader returns: nodes {id: attributes}, edges in file order, the graph's name.
GraphData = namedtuple('GraphData', 'name nodes edges')
# line: the line number in an edge list; None for GraphML and GML.
RawEdge = namedtuple('RawEdge', 'u v attrs line')
GraphNode = namedtuple('GraphNode', 'id label')
# What to build: nodes in switch order (nodes[i-1] becomes si); links (i, j, params) with
# i < j, sorted, params the TCLink ones; notes on what was capped, merged or skipped.
GraphPlan = namedtuple('GraphPlan', 'name nodes links notes')


class GraphFileError(ValueError):
    """A graph file that cannot be made into a topology. The message names the file, the
    line where known (edge lists), and what was expected."""

    def __init__(self, path, problem, line=None):
        self.path, self.problem, self.line = path, problem, line
        where = path if line is None else '%s, line %d' % (path, line)
        super().__init__('%s: %s' % (where, problem))


def file_format_of(path, file_format='auto'):
    """How to read path: file_format, or with 'auto' the format its extension names."""
    if file_format != 'auto':
        if file_format not in FORMATS:
            raise GraphFileError(
                path,
                'unknown format %r: expected auto or one of %s' % (file_format, ', '.join(FORMATS)),
            )
        return file_format
    extension = os.path.splitext(path)[1].lower()
    if extension not in EXTENSIONS:
        raise GraphFileError(
            path,
            'cannot tell the format from the extension %r: expected '
            'one of %s, or a format (--format, file_format=)' % (extension, ' '.join(EXTENSIONS)),
        )
    return EXTENSIONS[extension]


def _import_networkx():
    """networkx, imported only for GraphML and GML: an edge list needs nothing but the
    standard library, so it also works under a system python3 without networkx."""
    try:
        import networkx
    except ImportError as error:
        raise ImportError(
            'reading GraphML or GML needs networkx, which %s cannot import: '
            'run this with the project\'s .venv/bin/python (see the module '
            'doc) or install python3-networkx' % sys.executable
        ) from error
    return networkx


def _read_networkx(path, file_format):
    nx = _import_networkx()
    # GML by id: Topology Zoo labels repeat, which read_gml's default (by label) refuses.
    reader = nx.read_graphml if file_format == 'graphml' else partial(nx.read_gml, label='id')
    try:
        graph = reader(path)
    except (nx.NetworkXException, ParseError, ValueError) as error:
        raise GraphFileError(path, 'not valid %s: %s' % (file_format, error)) from error
    name = graph.graph.get('Network') or graph.graph.get('label') or graph.graph.get('name')
    nodes = {node: dict(attrs) for node, attrs in graph.nodes(data=True)}
    edges = [RawEdge(u, v, dict(attrs), None) for u, v, attrs in graph.edges(data=True)]
    return GraphData(name, nodes, edges)


def _read_edgelist(path):
    """Parsed here rather than by nx.read_edgelist, to report errors by line number. Only
    the syntax is checked here; values are checked with those of the other formats."""
    nodes, edges = {}, []
    with open(path, encoding='utf-8') as lines:
        for number, line in enumerate(lines, 1):
            fields = line.split('#', 1)[0].split()
            if not fields:
                continue
            if len(fields) < 2 or '=' in fields[0] + fields[1]:
                raise GraphFileError(
                    path, 'expected %s, got %r' % (EDGELIST_LINE, line.strip()), number
                )
            attrs = {}
            for field in fields[2:]:
                key, equals, value = field.partition('=')
                if not equals or key not in EDGELIST_KEYS:
                    raise GraphFileError(
                        path,
                        'expected bw=<Mbit/s> or delay=<time> after the two nodes, got %r' % field,
                        number,
                    )
                if key in attrs:
                    raise GraphFileError(path, '%s given twice' % key, number)
                attrs[key] = value
            for node in fields[:2]:
                nodes.setdefault(node, {})
            edges.append(RawEdge(fields[0], fields[1], attrs, number))
    if not edges:
        raise GraphFileError(path, 'no edges: expected lines %s' % EDGELIST_LINE)
    return GraphData(None, nodes, edges)


def read_graph_file(path, file_format='auto'):
    """The nodes and edges of a graph file, as read (GraphData); GraphFileError if it
    cannot be read."""
    if not os.path.isfile(path):
        raise GraphFileError(path, 'no such file' if not os.path.exists(path) else 'not a file')
    file_format = file_format_of(path, file_format)
    try:
        if file_format == 'edgelist':
            return _read_edgelist(path)
        return _read_networkx(path, file_format)
    except UnicodeDecodeError as error:
        raise GraphFileError(path, 'not UTF-8 text: %s' % error) from error
    except OSError as error:
        raise GraphFileError(path, 'cannot read it: %s' % error.strerror) from error


def _positive(value, name, expected):
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not 0 < number < math.inf:
        raise ValueError('%s=%r: expected %s > 0' % (name, value, expected))
    return number


def _bw_mbits(attrs):
    """The edge's bandwidth in Mbit/s, None if it gives none (precedence: module doc)."""
    if 'bw' in attrs:
        return _positive(attrs['bw'], 'bw', 'a number of Mbit/s')
    if 'LinkSpeedRaw' in attrs:
        return _positive(attrs['LinkSpeedRaw'], 'LinkSpeedRaw', 'a number of bit/s') / 1e6
    if 'LinkSpeed' in attrs:
        units = str(attrs.get('LinkSpeedUnits', '')).strip().upper()
        if units not in SPEED_UNITS:
            raise ValueError(
                'LinkSpeedUnits=%r: expected one of %s with LinkSpeed'
                % (attrs.get('LinkSpeedUnits'), ', '.join(SPEED_UNITS))
            )
        speed = _positive(attrs['LinkSpeed'], 'LinkSpeed', 'a number of %sbit/s' % units)
        return speed * SPEED_UNITS[units] / 1e6
    return None


def _delay_ms(value, name='delay'):
    match = _DELAY.fullmatch(str(value).strip())
    if not match:
        raise ValueError(
            '%s=%r: expected a time >= 0 such as 2ms, 500us or 0.1s (a bare '
            'number is ms)' % (name, value)
        )
    return float(match.group(1)) * DELAY_UNITS_MS[match.group(2) or 'ms']


def _ms_text(ms):
    """A delay as TCLink (netem) takes it, to the microsecond: 5.724ms, 2ms."""
    return '%sms' % ('%.3f' % ms).rstrip('0').rstrip('.')


def great_circle_km(lat1, lon1, lat2, lon2):
    """Distance in km between two points given in degrees (haversine formula)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    half_dphi = (phi2 - phi1) / 2
    half_dlambda = math.radians(lon2 - lon1) / 2
    a = math.sin(half_dphi) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(half_dlambda) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(1.0, a)))


def geo_delay_ms(lat1, lon1, lat2, lon2):
    """One-way propagation delay in ms over the great circle, at US_PER_KM."""
    return great_circle_km(lat1, lon1, lat2, lon2) * US_PER_KM / 1000


def _degrees(attrs, name, limit):
    try:
        number = float(attrs[name])
    except (TypeError, ValueError):
        number = math.nan
    if not -limit <= number <= limit:
        raise ValueError('%s=%r: expected degrees in -%d..%d' % (name, attrs[name], limit, limit))
    return number


def _coordinates(attrs):
    """(latitude, longitude) of a node, None unless it has both."""
    if 'Latitude' not in attrs or 'Longitude' not in attrs:
        return None
    return _degrees(attrs, 'Latitude', 90), _degrees(attrs, 'Longitude', 180)


def _natural_key(node):
    """Sort key: runs of digits compare as numbers (n2 < n10); ties by the text."""
    text = str(node)
    parts = re.split(r'([0-9]+)', text)
    parts[1::2] = map(int, parts[1::2])
    return parts, text


def _node_text(node):
    return node.id if node.label == node.id else '%s (%s)' % (node.id, node.label)


def _merge_parallel(group):
    """The params of one link standing for parallel edges: the best of theirs."""
    merged = {}
    for key, best in (('bw', max), ('delay', min)):
        values = [params.get(key) for params in group]
        if None not in values:  # an unshaped edge is the best one
            merged[key] = best(values)
    return merged


def plan_graph(path, file_format='auto', delay_from_geo=False, default_bw=None, default_delay=None):
    """Read a graph file and decide its switches and links (a GraphPlan; rules: module
    doc). GraphFileError for a bad file, ValueError for a bad default."""
    defaults = {}
    if default_bw is not None:
        defaults['bw'] = _positive(default_bw, 'default_bw', 'a number of Mbit/s')
    if default_delay is not None:
        defaults['delay'] = _delay_ms(default_delay, 'default_delay')
    data = read_graph_file(path, file_format)
    if not data.nodes:
        raise GraphFileError(path, 'the graph has no nodes: expected at least one')

    order = sorted(data.nodes, key=_natural_key)
    number = {node: i for i, node in enumerate(order, 1)}
    nodes = [GraphNode(str(node), str(data.nodes[node].get('label') or node)) for node in order]
    coordinates = {}
    if delay_from_geo:
        for node, graph_node in zip(order, nodes, strict=True):
            try:
                coordinates[node] = _coordinates(data.nodes[node])
            except ValueError as error:
                raise GraphFileError(
                    path, 'node %s: %s' % (_node_text(graph_node), error)
                ) from None

    def edge_text(i, j):
        return '%s - %s' % (_node_text(nodes[i - 1]), _node_text(nodes[j - 1]))

    notes, groups, without_geo = [], {}, []
    for edge in data.edges:
        i, j = sorted((number[edge.u], number[edge.v]))
        at_line = '' if edge.line is None else 'line %d: ' % edge.line
        if i == j:
            notes.append('%sself-loop %s skipped' % (at_line, edge_text(i, j)))
            continue
        try:
            params = {'bw': _bw_mbits(edge.attrs)}
            if 'delay' in edge.attrs:
                params['delay'] = _delay_ms(edge.attrs['delay'])
        except ValueError as error:
            raise GraphFileError(
                path, 'edge %s: %s' % (edge_text(i, j), error), edge.line
            ) from None
        if delay_from_geo and 'delay' not in params:
            ends = coordinates[edge.u], coordinates[edge.v]
            if None in ends:
                without_geo.append(at_line + edge_text(i, j))
            else:
                params['delay'] = geo_delay_ms(*ends[0], *ends[1])
        params = {key: value for key, value in params.items() if value is not None}
        groups.setdefault((i, j), []).append(dict(defaults, **params))

    links, capped = [], 0
    for (i, j), group in sorted(groups.items()):
        params = _merge_parallel(group)
        if len(group) > 1:
            notes.append(
                '%d parallel edges %s collapsed into one link' % (len(group), edge_text(i, j))
            )
        if params.get('bw', 0) > MAX_BW_MBITS:
            params['bw'] = MAX_BW_MBITS
            capped += 1
        if 'delay' in params:
            params['delay'] = _ms_text(params['delay'])
        links.append((i, j, params))
    if capped:
        notes.append(
            '%d of %d links capped at %d Mbit/s, the most TCLink shapes'
            % (capped, len(links), MAX_BW_MBITS)
        )
    if without_geo:
        notes.append(
            'no geographic delay for edges without Latitude/Longitude at both '
            'ends: %s' % ', '.join(without_geo)
        )
    if not links:
        notes.append('no edges between different nodes: the switches are not linked')
    return GraphPlan(data.name or os.path.basename(path), nodes, links, notes)


def _flag(value, name):
    """A yes/no parameter; mn passes keyword values as text ('1' arrives as the int 1)."""
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ('true', 'yes', 'on', 'false', 'no', 'off', ''):
            return text in ('true', 'yes', 'on')
        raise ValueError('%s must be true or false, got %r' % (name, value))
    return bool(value)


def _shaping_text(params):
    parts = ['%g Mbit/s' % params['bw']] if 'bw' in params else []
    parts += ['delay %s' % params['delay']] if 'delay' in params else []
    return ', '.join(parts) or 'not shaped'


class GraphFileTopo(NumberedTopo):
    """A switch per node and a link per edge of the graph file at path, with
    hosts_per_switch hosts on each switch (see the module doc). Afterwards, plan is the
    GraphPlan built and graph_nodes maps each switch name to its GraphNode."""

    def build(
        self,
        path,
        hosts_per_switch=1,
        file_format='auto',
        delay_from_geo=False,
        default_bw=None,
        default_delay=None,
    ):
        if not isinstance(hosts_per_switch, int) or hosts_per_switch < 1:
            raise ValueError('hosts_per_switch must be >= 1, got %r' % (hosts_per_switch,))
        plan = plan_graph(
            path, file_format, _flag(delay_from_geo, 'delay_from_geo'), default_bw, default_delay
        )
        if len(plan.nodes) * hosts_per_switch > MAX_HOSTS:
            raise GraphFileError(
                path,
                '%d nodes x %d hosts per switch = %d hosts: '
                'expected at most %d, all the 10.0.0.0/16 addressing has'
                % (
                    len(plan.nodes),
                    hosts_per_switch,
                    len(plan.nodes) * hosts_per_switch,
                    MAX_HOSTS,
                ),
            )
        names = [self.add_switch() for _ in plan.nodes]
        for name in names:
            self.add_hosts(name, hosts_per_switch)
        next_port = dict.fromkeys(names, hosts_per_switch + 1)
        for i, j, params in plan.links:
            node1, node2 = names[i - 1], names[j - 1]
            # cls: so that under `mn --custom` a shaped link is a TCLink without --link tc.
            options = dict(params, cls=TCLink) if params else {}
            self.addLink(node1, node2, port1=next_port[node1], port2=next_port[node2], **options)
            next_port[node1] += 1
            next_port[node2] += 1
        self.plan = plan
        self.graph_nodes = dict(zip(names, plan.nodes, strict=True))
        self._report(path)

    def _report(self, path):
        """What describe() cannot tell: which node each switch is, and link shaping."""
        plan = self.plan
        lines = [
            '*** %s (%s): %d nodes, %d links' % (path, plan.name, len(plan.nodes), len(plan.links))
        ]
        lines += [
            '  %-5s node %s' % (name, _node_text(node)) for name, node in self.graph_nodes.items()
        ]
        lines += [
            '  %s - %s: %s' % (switch_name(i), switch_name(j), _shaping_text(params))
            for i, j, params in plan.links
        ]
        output('\n'.join(lines) + '\n')
        for note in plan.notes:
            warn('*** note: %s\n' % note)


topos = {'graphfile': GraphFileTopo}


def add_topo_args(parser):
    parser.add_argument(
        '--file',
        dest='path',
        metavar='PATH',
        required=True,
        help='the graph file: GraphML (.graphml), GML (.gml) or an edge '
        'list (.txt, .edges, .edgelist)',
    )
    parser.add_argument(
        '--format',
        dest='file_format',
        choices=('auto',) + FORMATS,
        default='auto',
        help='how to read the file; auto: by its extension (default %(default)s)',
    )
    parser.add_argument(
        '--hosts-per-switch', type=int, default=1, help='hosts on each switch (default %(default)s)'
    )
    parser.add_argument(
        '--delay-from-geo',
        action='store_true',
        help='give links without a delay that of light in fibre over '
        'the distance between their nodes (Latitude/Longitude), '
        '5 us/km',
    )
    parser.add_argument(
        '--default-bw',
        type=float,
        metavar='MBIT/S',
        help='bandwidth of links whose edge gives none (default: none)',
    )
    parser.add_argument(
        '--default-delay',
        metavar='TIME',
        help='delay of links whose edge gives none, e.g. 1ms (default: none)',
    )


if __name__ == '__main__':
    main(GraphFileTopo, __doc__, add_topo_args)
