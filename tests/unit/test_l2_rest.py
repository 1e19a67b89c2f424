"""controller/l2/rest.py: the L2 app's REST bodies and metrics, from the app driven with
fake switches (as in test_l2_app.py), and its routes through Ryu's WSGI."""

from ryu.app.wsgi import WSGIApplication
from webob import Request

from controller import metrics
from controller.l2 import rest
from tests.harness.fake_switch import port, port_status
from tests.unit.test_l2_app import H1, H2, H3, PROBE, cable, learn, start
from tests.unit.test_metrics import samples_of_text


def triangle(app, clock):
    """Three switches in a triangle, each with host port 1; H1 learned on s1 port 1, H2
    on s2 port 1 (and s1 learns H2 over its link to s2)."""
    s1, s2, s3 = (start(app, clock, dpid, (1, 2, 3)) for dpid in (1, 2, 3))
    cable(app, s1, 2, s2, 2)
    cable(app, s1, 3, s3, 2)
    cable(app, s2, 3, s3, 3)
    clock.now += PROBE
    app._probe_tick()
    learn(app, s1, 1, H1)
    learn(app, s2, 1, H2)
    learn(app, s1, 2, H2)
    return s1, s2, s3


def test_hosts_ports_and_tree_of_a_triangle(app, clock):
    triangle(app, clock)
    assert rest.hosts(app) == [
        {'mac': H1, 'switch': '0000000000000001', 'port': 1, 'host_port': True},
        {'mac': H2, 'switch': '0000000000000001', 'port': 2, 'host_port': False},
        {'mac': H2, 'switch': '0000000000000002', 'port': 1, 'host_port': True},
    ]
    ports = rest.ports(app)
    s2 = {p['port']: p for p in ports['0000000000000002']}
    assert s2[1] == {
        'port': 1,
        'name': 'p1',
        'state': 'forwarding',
        'to_switch': False,
        'on_tree': False,
        'hosts': 1,
        'banned': False,
    }
    # The tree from s1: s2:3 and s3:3 close the loop and are blocked.
    assert (s2[2]['state'], s2[2]['on_tree']) == ('forwarding', True)
    assert (s2[3]['state'], s2[3]['on_tree'], s2[3]['to_switch']) == ('blocked', False, True)
    tree = rest.tree(app)
    assert tree['switches'] == ['0000000000000001', '0000000000000002', '0000000000000003']
    on_tree = {(link['src'][-1], link['dst'][-1]): link['on_tree'] for link in tree['links']}
    assert on_tree == {
        ('1', '2'): True,
        ('2', '1'): True,
        ('1', '3'): True,
        ('3', '1'): True,
        ('2', '3'): False,
        ('3', '2'): False,
    }
    assert tree['tree_ports'] == {
        '0000000000000001': [2, 3],
        '0000000000000002': [2],
        '0000000000000003': [2],
    }


def test_a_port_down_shows_down(app, clock):
    s1, _, _ = triangle(app, clock)
    app._base_port_status(port_status(s1, port(1, up=False)))
    clock.now += 1
    app._port_status_tick()
    states = {p['port']: p['state'] for p in rest.ports(app)['0000000000000001']}
    assert states[1] == 'down'


def test_bans_now_and_counted(make_app, clock):
    app = make_app(max_macs_per_port=1, ban_time=60)
    dp = start(app, clock, 1)
    learn(app, dp, 1, H1)
    learn(app, dp, 1, H2)
    assert rest.bans(app) == {
        'banned_now': [{'switch': '0000000000000001', 'port': 1}],
        'bans': [{'switch': '0000000000000001', 'port': 1, 'bans': 1}],
    }
    learn(app, dp, 1, H3)  # refused while banned: no second ban
    assert rest.bans(app)['bans'][0]['bans'] == 1


def test_routes_and_metrics_of_the_app(app, clock):
    triangle(app, clock)
    wsgi = WSGIApplication()
    wsgi.register(rest.L2LearningRest, {rest.REST_APP: app})
    metrics.serve(wsgi)
    for path in ('/l2/hosts', '/l2/ports', '/l2/tree', '/l2/bans'):
        reply = Request.blank(path).get_response(wsgi)
        assert reply.status_int == 200 and reply.content_type == 'application/json', path
    assert Request.blank('/l2/hosts').get_response(wsgi).json[0]['mac'] == H1
    # The app's source, registered by the app itself, answers on /metrics.
    text = Request.blank('/metrics').get_response(wsgi).text
    found = samples_of_text(text)
    s1 = (('dp_id', '0x1'), ('dp_name', '0000000000000001'))
    assert found[('sdn_vlan_hosts_learned', s1 + (('vlan', ''),))] == 2
    assert found[('sdn_port_vlan_hosts_learned', s1 + (('port', '1'), ('vlan', '')))] == 1
    assert ('sdn_loop_failures_total', (('app', 'l2_learning'), ('loop', 'probe'))) in found
