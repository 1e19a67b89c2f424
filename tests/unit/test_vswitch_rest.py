"""controller/vswitch/rest.py: the VLAN/ACL app's REST bodies, its POST /vswitch/reload
(through Ryu's WSGI and the REST guard: a token needed), and its metrics; the app is
apps/vswitch_policy.py on a fake switch (the fixtures of test_reload_signal.py)."""

import pytest
from ryu.app.wsgi import WSGIApplication
from webob import Request

from controller import metrics
from controller.openflow import mac_bytes
from controller.rest import RestGuard, RestSettings
from controller.vswitch import pipeline, rest
from tests.harness.fake_switch import packet_in
from tests.unit import test_reload_signal as reload_tests
from tests.unit.test_metrics import samples_of_text
from tests.unit.test_reload_signal import VSWITCH_POLICY, rewrite

# The app on a fake switch, as the reload tests build it (their fixtures).
fan_out, override = reload_tests.fan_out, reload_tests.override
vswitch_app = reload_tests.vswitch_app

H1, H2, H3 = ('00:00:00:00:00:%02x' % n for n in (1, 2, 3))


def tagged(src, vid):
    return (
        mac_bytes('ff:ff:ff:ff:ff:ff')
        + mac_bytes(src)
        + b'\x81\x00'
        + vid.to_bytes(2, 'big')
        + b'\x08\x00'
        + bytes(46)
    )


def learn(app, dp, port, mac, vid):
    cookie = pipeline.COOKIES.cookie(pipeline.SRC_MISS)
    dp.send = lambda data: None  # the learned rules, written together (none read here)
    app._packet_in(packet_in(dp, port, tagged(mac, vid), cookie))


def test_policy_hosts_and_last_reload(vswitch_app):
    app, dp, path = vswitch_app
    body = rest.policy_in_force(app)
    assert body['file'] == str(path) and len(body['hash']) == 64
    assert (body['switches'], body['vlans'], body['acls']) == (1, 2, 0)
    assert body['policy']['vlans'] == {'red': {'vid': 100}, 'green': {'vid': 200}}
    learn(app, dp, 1, H1, 100)
    learn(app, dp, 3, H2, 200)
    assert rest.hosts_per_vlan(app) == {
        '100': {
            'name': 'red',
            'hosts': [{'mac': H1, 'switch': '0000000000000001', 'dp_name': 's1', 'port': 1}],
        },
        '200': {
            'name': 'green',
            'hosts': [{'mac': H2, 'switch': '0000000000000001', 'dp_name': 's1', 'port': 3}],
        },
    }
    assert rest.reload_status(app) == {
        'requests': 0,
        'applied': 0,
        'refused': 0,
        'hash': body['hash'],
        'last': None,
    }


def test_reloads_through_rest_need_the_token_and_say_what_became_of_them(vswitch_app):
    app, dp, path = vswitch_app
    start_hash = app.reloads.policy_hash
    wsgi = WSGIApplication()
    wsgi.register(rest.VSwitchRest, {rest.REST_APP: app})
    guarded = RestGuard(wsgi, RestSettings(token='s3cret'))

    def post(token=None):
        request = Request.blank('/vswitch/reload', method='POST')
        if token:
            request.headers['Authorization'] = 'Bearer ' + token
        return request.get_response(guarded)

    assert post().status_int == 401 and app.reloads.requests == 0
    rewrite(path, VSWITCH_POLICY.replace('3: {native_vlan: green}', '3: {native_vlan: red}'))
    reply = post('s3cret')
    assert reply.status_int == 200
    assert reply.json['last']['result'] == 'applied' and reply.json['last']['why'] == 'REST request'
    assert reply.json['hash'] != start_hash and reply.json['applied'] == 1
    rewrite(path, 'vlans: [')
    reply = post('s3cret')
    assert reply.status_int == 422
    last = reply.json['last']
    assert last['result'] == 'refused' and last['errors'] and str(path) in last['errors'][0]
    assert reply.json['hash'] != start_hash  # the applied policy stays in force
    assert Request.blank('/vswitch/reload').get_response(guarded).json['refused'] == 1
    for path_ in ('/vswitch/policy', '/vswitch/hosts'):
        assert Request.blank(path_).get_response(guarded).status_int == 200


def test_metrics_of_the_app(vswitch_app, monkeypatch):
    app, dp, path = vswitch_app
    learn(app, dp, 1, H1, 100)
    learn(app, dp, 2, H3, 100)
    rewrite(path, 'vlans: [')
    app.refresh(requested=True)
    wsgi = WSGIApplication()
    metrics.serve(wsgi)
    text = Request.blank('/metrics').get_response(wsgi).text
    found = samples_of_text(text)
    s1 = (('dp_id', '0x1'), ('dp_name', 's1'))
    assert found[('sdn_vlan_hosts_learned', s1 + (('vlan', '100'),))] == 2
    assert found[('sdn_port_vlan_hosts_learned', s1 + (('port', '2'), ('vlan', '100')))] == 1
    app_label = (('app', 'vswitch_policy'),)
    assert found[('sdn_config_load_error', app_label)] == 1
    assert found[('sdn_config_reload_requests_total', app_label)] == 1
    assert found[('sdn_config_reload_refused_total', app_label)] == 1


@pytest.fixture(autouse=True)
def named_switches():
    """The fixture's switch is named s1 on /metrics (the app names it when it connects:
    the name stays for the process; put back afterwards)."""
    from controller.metrics.openflow import OPENFLOW

    before = dict(OPENFLOW.names)
    yield
    OPENFLOW.names.clear()
    OPENFLOW.names.update(before)


def test_the_web_view_shows_hosts_by_vlan(vswitch_app):
    from controller.ui import views

    app, dp, _ = vswitch_app
    learn(app, dp, 1, H1, 100)
    learn(app, dp, 3, H2, 200)
    partial = views.vswitch_view(app)
    assert list(partial.links) == [] and partial.roles == {}
    assert sorted(partial.hosts, key=lambda h: h['mac']) == [
        {'mac': H1, 'switch': 1, 'port': 1, 'vlan': 100},
        {'mac': H2, 'switch': 1, 'port': 3, 'vlan': 200},
    ]
