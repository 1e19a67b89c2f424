"""controller/ui: the page and its files through Ryu's WSGI (nothing outside static/),
the topology merged from the apps' views, links remembered down, the apps' views."""

import types

import pytest
from ryu.app.wsgi import WSGIApplication
from ryu.ofproto import ofproto_v1_3 as ofp
from ryu.ofproto import ofproto_v1_3_parser as parser
from webob import Request

from controller import ui
from controller.metrics.openflow import OpenFlowCounters
from controller.ui import topology as topo
from controller.ui import views
from tests.unit.test_l2_rest import triangle


@pytest.fixture
def wsgi():
    app = WSGIApplication()
    ui.serve(app)
    ui.serve(app)  # a second app of the process: registered once
    return app


def get(wsgi, path):
    return Request.blank(path).get_response(wsgi)


def test_the_page_and_its_vendored_files_are_served(wsgi):
    page = get(wsgi, '/ui/')
    assert page.status_int == 200 and page.content_type == 'text/html'
    assert '/ui/static/vendor/cytoscape.min.js' in page.text and 'http' not in page.text
    assert get(wsgi, '/ui').status_int == 301 and get(wsgi, '/ui').location.endswith('/ui/')
    script = get(wsgi, '/ui/static/vendor/cytoscape.min.js')
    assert script.status_int == 200 and script.content_type == 'application/javascript'
    assert get(wsgi, '/ui/static/app.js').status_int == 200
    assert get(wsgi, '/ui/static/style.css').content_type == 'text/css'
    assert 'MIT' in get(wsgi, '/ui/static/vendor/README.md').text


@pytest.mark.parametrize(
    'path',
    [
        '/ui/static/..%2F__init__.py',
        '/ui/static/vendor/..%2F..%2F__init__.py',
        '/ui/static/nothing.js',
        '/ui/static/%2Fetc%2Fpasswd',
    ],
)
def test_no_file_outside_static_is_served(wsgi, path):
    reply = get(wsgi, path)
    assert reply.status_int == 404 and b'import' not in reply.body and b'root:' not in reply.body


@pytest.mark.parametrize('name', ['../__init__.py', '/etc/passwd', 'vendor/../../__init__.py'])
def test_a_name_that_is_not_a_static_file_is_not_read(name):
    reply = ui._file_response(name)
    assert reply.status_int == 404 and 'no such file' in reply.json['error']


def ofport(port_no, up=True):
    state = 0 if up else ofp.OFPPS_LINK_DOWN
    return parser.OFPPort(port_no, b'\0' * 6, b'p%d' % port_no, 0, state, 0, 0, 0, 0, 0, 0)


def test_links_are_merged_from_the_views_and_remembered_down():
    counters = OpenFlowCounters()
    for dpid in (1, 2, 3):
        counters.connections[dpid] = 1
        counters.connected[dpid] = types.SimpleNamespace(
            ports={1: ofport(1), 2: ofport(2), 0xFFFFFFFE: ofport(0xFFFFFFFE)}
        )
    counters.names[3] = 'edge'
    topology = topo.Topology(counters)
    links = [(1, 2, 2, 2), (2, 2, 1, 2), (2, 1, 3, 1)]
    topology.add_view(
        'l2_learning',
        lambda: topo.Partial(
            list(links),
            {topo.cable((1, 2, 2, 2)): 'tree'},
            [{'mac': '00:00:00:00:00:01', 'switch': 1, 'port': 1}],
        ),
    )
    topology.add_view('arbiter', lambda: topo.Partial())
    body = topology.snapshot()
    assert body['apps'] == ['arbiter', 'l2_learning']
    assert [s['name'] for s in body['switches']] == ['0000000000000001', '0000000000000002', 'edge']
    assert body['switches'][0]['ports'] == [{'port': 1, 'live': True}, {'port': 2, 'live': True}]
    state = {link['id']: (link['state'], link['roles']) for link in body['links']}
    assert state == {
        '0000000000000001:2-0000000000000002:2': ('up', ['tree']),
        '0000000000000002:1-0000000000000003:1': ('up', []),
    }
    assert body['hosts'] == [{'mac': '00:00:00:00:00:01', 'switch': '0000000000000001', 'port': 1}]
    # The port of 2-3 goes down before discovery forgets the link: down at once.
    counters.connected[3].ports[1] = ofport(1, up=False)
    state = {link['id']: link['state'] for link in topology.snapshot()['links']}
    assert state['0000000000000002:1-0000000000000003:1'] == 'down'
    # Discovery forgets it, switch 3 leaves: the link stays, down; the switch too.
    links.remove((2, 1, 3, 1))
    del counters.connected[3]
    body = topology.snapshot()
    assert [link['state'] for link in body['links']] == ['up', 'down']
    assert body['switches'][2]['connected'] is False
    # It comes back: up again.
    links.append((3, 1, 2, 1))
    counters.connected[3] = types.SimpleNamespace(ports={1: ofport(1)})
    assert [link['state'] for link in topology.snapshot()['links']] == ['up', 'up']


def test_links_remembered_down_are_bounded(monkeypatch):
    monkeypatch.setattr(topo, 'MAX_DOWN_LINKS', 2)
    topology = topo.Topology(OpenFlowCounters())
    links = [(1, port, 2, port) for port in range(1, 6)]
    topology.add_view('x', lambda: topo.Partial(list(links)))
    topology.snapshot()
    links.clear()
    assert len(topology.snapshot()['links']) == 2


def test_the_l2_view_of_a_triangle(app, clock):
    triangle(app, clock)
    partial = views.l2_view(app)
    assert len(partial.links) == 6
    assert sorted(partial.roles.values()) == ['tree', 'tree']
    # H2 is seen on s1's port to s2 too, but only its host port counts.
    assert sorted((h['mac'], h['switch'], h['port']) for h in partial.hosts) == [
        ('00:00:00:00:00:01', 1, 1),
        ('00:00:00:00:00:02', 2, 1),
    ]


def test_the_stable_view_marks_links_with_next_hops():
    from controller.stable.sft import Route

    app = types.SimpleNamespace(
        graph=types.SimpleNamespace(links={(1, 2, 2, 2), (2, 2, 1, 2), (2, 3, 3, 3), (3, 3, 2, 3)}),
        current=types.SimpleNamespace(sft=types.SimpleNamespace(routes={2: {1: Route(port=2)}})),
        hosts={'00:00:00:00:00:01': (1, 1)},
    )
    partial = views.stable_view(app)
    assert partial.roles == {((1, 2), (2, 2)): 'sft'}
    assert partial.hosts == [{'mac': '00:00:00:00:00:01', 'switch': 1, 'port': 1}]
    app.current = None
    assert views.stable_view(app).roles == {}


def test_topology_route(wsgi, monkeypatch):
    topology = topo.Topology(OpenFlowCounters())
    monkeypatch.setattr(ui, 'TOPOLOGY', topology)
    reply = get(wsgi, '/ui/api/topology')
    assert reply.status_int == 200
    assert reply.json == {'apps': [], 'switches': [], 'links': [], 'hosts': []}
