"""The REST endpoints of the stable-routing app (controller/stable/rest.py), through
Ryu's WSGI application, over an app state with an epoch in force; and ``sdn-stable``
(controller/stable/cli.py) against them, served on a local port."""

import threading
import time
from types import SimpleNamespace
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
from ryu.app.wsgi import WSGIApplication
from webob import Request

from controller.stable import cli
from controller.stable import pipeline as pipe
from controller.stable.epochs import EpochInForce, EpochRecord, UpdateLog
from controller.stable.rest import REST_APP, StableRoutingRest
from controller.stable.sft import compute_sft
from tests.harness.stable_fakes import LINE, TRIANGLE
from topologies.numbering import host_mac


def app_state(snapshot=None, epoch=9):
    """An app's state: epoch ``epoch`` of ``snapshot`` in force (none if None), one
    trigger pending, two epochs in the history."""
    log = UpdateLog(0.5, 5.0)
    log.append('host-seen', 'a host')
    state = SimpleNamespace(
        current=None,
        epoch=epoch,
        skipped=2,
        log=log,
        switches={1: None, 2: None},
        hosts=dict(snapshot.hosts) if snapshot else {},
    )
    for number in (epoch - 1, epoch):
        log.history.append(
            EpochRecord(number, time.time(), [], state='installed', installed_at=time.time() - 2.0)
        )
    if snapshot is not None:
        state.current = EpochInForce(log.history[-1], snapshot, compute_sft(snapshot))
    return state


def get(state, path):
    wsgi = WSGIApplication()
    wsgi.register(StableRoutingRest, {REST_APP: state})
    reply = Request.blank(path).get_response(wsgi)
    return reply.status_int, reply.json


def test_the_epoch_in_force():
    status, body = get(app_state(TRIANGLE), '/stable/epoch')
    assert status == 200
    assert body == {
        'epoch': 9,
        'version_vid': pipe.version_of(9),
        'age_s': body['age_s'],
        'last_epoch_cut': 9,
        'epochs_skipped': 2,
        'pending_triggers': 1,
        'switches': 2,
        'hosts': 3,
    }
    assert 1.5 < body['age_s'] < 60
    assert get(app_state(), '/stable/epoch')[1]['epoch'] is None


def test_pending_triggers_and_history():
    state = app_state(LINE)
    status, triggers = get(state, '/stable/triggers')
    assert status == 200 and [(t['kind'], t['detail']) for t in triggers] == [
        ('host-seen', 'a host')
    ]
    assert triggers[0]['id'] == state.log.pending[0].id
    assert [r['number'] for r in get(state, '/stable/history')[1]] == [8, 9]
    state.log.history[-1].changed = 42  # forward entries epoch 9 sent as overlays
    assert [r['changed'] for r in get(state, '/stable/history')[1]] == [0, 42]
    assert [r['number'] for r in get(state, '/stable/history?limit=1')[1]] == [9]
    assert [r['number'] for r in get(state, '/stable/history?limit=0')[1]] == [9]
    assert get(state, '/stable/history?limit=x') == (400, {'error': 'limit must be an integer'})


def test_one_switch_table():
    status, table = get(app_state(TRIANGLE), '/stable/sft/1')
    assert status == 200 and (table['dpid'], table['epoch']) == ('0000000000000001', 9)
    entries = {entry['host']: entry for entry in table['entries']}
    assert entries[host_mac(1)] == {'host': host_mac(1), 'deliver_port': 1}
    assert entries[host_mac(2)] == {
        'host': host_mac(2),
        'port': 2,
        'next_hop': '0000000000000002',
        'backup_port': 3,
        'backup_next_hop': '0000000000000003',
    }
    assert get(app_state(LINE), '/stable/sft/1')[1]['entries'][1]['backup_next_hop'] is None
    assert get(app_state(TRIANGLE), '/stable/sft/7') == (
        404,
        {'error': 'switch 7 is in no installed epoch'},
    )
    assert get(app_state(), '/stable/sft/1')[0] == 404
    assert get(app_state(TRIANGLE), '/stable/sft/s1') == (
        400,
        {'error': "dpid must be hexadecimal, got 's1'"},
    )


def test_unprotected_next_hops():
    status, body = get(app_state(LINE), '/stable/unprotected')
    assert status == 200 and body['epoch'] == 9
    assert {
        'destination': '0000000000000003',
        'switch': '0000000000000002',
        'hosts': [host_mac(3)],
    } in body['entries']
    assert get(app_state(TRIANGLE), '/stable/unprotected')[1]['entries'] == []
    assert get(app_state(), '/stable/unprotected') == (404, {'error': 'no epoch installed yet'})


@pytest.fixture
def served():
    """The endpoints over app_state(TRIANGLE) on a local port; their URL."""
    wsgi = WSGIApplication()
    wsgi.register(StableRoutingRest, {REST_APP: app_state(TRIANGLE)})

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args):
            pass

    server = make_server('127.0.0.1', 0, wsgi, handler_class=Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield 'http://127.0.0.1:%d' % server.server_port
    server.shutdown()
    thread.join()


def test_sdn_stable_prints_what_the_endpoints_say(served, capsys):
    assert cli.main(['--url', served, 'sft', '1']) == 0
    assert 'switch 0000000000000001, epoch 9' in capsys.readouterr().out
    assert cli.main(['--url', served, 'triggers']) == 0
    assert 'host-seen   a host' in capsys.readouterr().out
    assert cli.main(['--url', served, '--json', 'history', '-n', '1']) == 0
    assert '"number": 9' in capsys.readouterr().out
    with pytest.raises(SystemExit) as error:
        cli.main(['--url', served, 'sft', '7'])
    assert str(error.value) == (
        'sdn-stable: %s/stable/sft/7: switch 7 is in no installed epoch' % served
    )


def test_sdn_stable_without_pending_triggers():
    assert cli.format_triggers([]) == 'no pending triggers'
