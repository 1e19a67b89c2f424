"""apps/stable_routing.py without a switch: Ryu events in (connections, port changes,
packet-ins, rules read back from a previous run) become triggers; an epoch installed
through the app is the one in force, a table that fails the check is never installed,
and a phase a switch refuses leaves the epoch in force. The switches are fakes that
record what they are sent; the bundles they are sent are confirmed (or refused) at once.
What each phase sends is tested in tests/unit/test_stable_update.py; the Mininet tests
(tests/mininet/test_stable_routing.py) run the same paths on Open vSwitch."""

import logging
import time
from types import SimpleNamespace

import pytest
from ryu.controller.handler import DEAD_DISPATCHER
from ryu.lib import hub
from ryu.ofproto import ofproto_v1_3 as ofp
from ryu.ofproto import ofproto_v1_3_parser as parser

from controller import app_base
from controller.discovery import Rejection
from controller.lldp import lldp_frame
from controller.stable import pipeline as pipe
from controller.stable.sft import Route, StableForwardingTable
from tests.harness.fake_switch import FakeClock
from tests.harness.fakes import FakeDatapath
from tests.harness.stable_app import (
    APP,
    connect,
    epoch_with,
    host_frame,
    make_app,
    packet_in,
    port_status,
    triggers,
)
from tests.harness.stable_fakes import LINE, TRIANGLE, FakeBundles
from topologies.numbering import host_mac


@pytest.fixture
def bare_app(monkeypatch):
    """The app with no switch and no drain time; its loops are driven by hand."""
    return make_app(monkeypatch)


@pytest.fixture
def app(bare_app):
    """The app with three fake switches, bundles recorded in ``app.fake_bundles``
    (tests/harness/stable_fakes.py)."""
    bare_app.switches = {
        dpid: APP.SwitchState(FakeDatapath(dpid), bare_app.conf) for dpid in (1, 2, 3)
    }
    bare_app.fake_bundles = FakeBundles()
    bare_app.updater.send_bundle = bare_app.fake_bundles.send
    return bare_app


def test_an_installed_epoch_is_in_force(app):
    first = epoch_with(app, LINE)
    assert first.state == 'installed' and app.current[0] is first
    second = epoch_with(app, TRIANGLE)
    assert second.state == 'installed' and app.current[0] is second
    assert second.install_ms > 0 and second.cleanup_ms >= 0
    assert [dpid for dpid, _ in app.fake_bundles.sent] == [1, 2, 3] * 6  # 3 phases each
    assert app.current.snapshot is TRIANGLE


def test_a_table_that_fails_the_check_is_never_installed(app, monkeypatch, caplog):
    """A (deliberately wrong) table in which s2 sends traffic for s3's host back to s1
    and s1 to s2: the check names the loop, nothing reaches a switch, and the epoch in
    force stays."""
    installed = epoch_with(app, TRIANGLE)  # LINE, below, is not the epoch in force's
    calls = len(app.fake_bundles.sent)
    looping = {
        3: {1: Route(2), 2: Route(2)},
        1: {2: Route(2), 3: Route(2)},
        2: {1: Route(2), 3: Route(3)},
    }
    monkeypatch.setattr(
        APP, 'compute_sft', lambda snapshot: StableForwardingTable(snapshot.hosts, looping)
    )
    with caplog.at_level(logging.ERROR):
        record = epoch_with(app, LINE)
    assert record.state == 'rejected'
    assert any(p.startswith('loop towards switch 3 at 1 -> 2 -> 1') for p in record.problems), (
        record.problems
    )
    assert 'epoch %d rejected, not installed: loop towards switch 3' % record.number in caplog.text
    assert len(app.fake_bundles.sent) == calls
    assert all(not sw.dp.sent for sw in app.switches.values())
    assert app.current[0] is installed


def test_a_refused_phase_1_leaves_the_epoch_in_force(app):
    installed = epoch_with(app, LINE)
    app.fake_bundles.refuse = {len(app.fake_bundles.sent) + 1}  # s2's bundle of phase 1
    record = epoch_with(app, TRIANGLE)
    assert record.state == 'failed' and app.current[0] is installed
    app.fake_bundles.refuse = set()
    again = epoch_with(app, TRIANGLE)
    assert again.state == 'installed' and app.current[0] is again


def test_no_epoch_is_cut_while_a_switch_settles(bare_app, monkeypatch):
    app = bare_app
    app.updater.send_bundle = FakeBundles().send
    app.log.quiet_window = 0.0  # due as soon as there is a trigger
    app._epoch_tick()
    assert app.epoch == 0  # nothing pending
    connect(app, 1)
    monkeypatch.setattr(app.conf, 'switch_settle', 60.0)
    app._epoch_tick()
    assert app.epoch == 0 and len(app.log.pending) == 1
    monkeypatch.setattr(app.conf, 'switch_settle', 0.0)
    app._epoch_tick()
    assert app.epoch == 1 and app.current.record.number == 1
    assert app.current.snapshot.switches == {1}


def test_the_epoch_loop_cuts_when_the_quiet_window_ends_without_polling(bare_app, monkeypatch):
    """Without the leading edge, the first trigger wakes the loop, which then sleeps
    exactly until the quiet window ends; with nothing pending it sleeps EPOCH_LOOK."""
    app = bare_app
    app.updater.send_bundle = FakeBundles().send
    app.log.quiet_window = 0.03
    app.log.leading_edge = False
    monkeypatch.setattr(app.conf, 'switch_settle', 0.0)
    started = time.monotonic()
    app._epoch_round()
    idle = time.monotonic() - started
    assert app.epoch == 0 and idle >= APP.EPOCH_LOOK * 0.9
    connect(app, 1)  # a switch-up trigger, which sets the wake
    assert app._wake.is_set()
    started = time.monotonic()
    app._epoch_round()  # woken at once: not due yet
    assert app.epoch == 0 and time.monotonic() - started < 0.03
    app._epoch_round()  # sleeps what is left of the quiet window, then cuts
    waited = time.monotonic() - started
    assert app.epoch == 1 and 0.03 * 0.9 <= waited
    assert not app._wake.is_set()


def test_the_first_trigger_cuts_at_once_and_an_equal_snapshot_is_no_epoch(app, monkeypatch, caplog):
    """Leading edge: a link cut's first PORT_STATUS wakes the loop, which cuts at once.
    The other end's, a few ms later, is debounced by the quiet window; when the epoch
    it would make has the snapshot of the epoch in force (here: the first epoch already
    saw it), no epoch is cut and the triggers are dropped."""
    app.log.quiet_window = 0.03
    monkeypatch.setattr(app.conf, 'switch_settle', 0.0)
    app.log.append('switch-up', 'test')
    app._snapshot = lambda: TRIANGLE
    app._epoch_round()
    assert app.epoch == 1 and app.current.snapshot is TRIANGLE
    app.log.history[-1].first_trigger_at = 0  # for the log line only
    time.sleep(0.03)  # the window after the last trigger: the next one leads
    app._trigger('port-down', 's1:2', key=('port-down', 1, 2))
    app._snapshot = lambda: LINE  # what the cut leaves
    started = time.monotonic()
    app._epoch_round()
    assert app.epoch == 2 and app.current.snapshot is LINE
    assert time.monotonic() - started < 0.03  # not the quiet window
    assert app.log.history[-1].steps_ms['snapshot'] >= 0
    app._trigger('port-down', 's3:1', key=('port-down', 3, 1))
    sent = len(app.fake_bundles.sent)
    app._epoch_round()
    assert app.epoch == 2 and len(app.log.pending) == 1  # debounced: not due yet
    time.sleep(0.03)
    with caplog.at_level(logging.INFO, logger=app.logger.name):
        app._epoch_round()
    assert app.epoch == 2 and app.skipped == 1 and app.log.pending == ()
    assert len(app.fake_bundles.sent) == sent and app.current.snapshot is LINE
    assert 'epoch 2 stays in force: 1 triggers' in caplog.text
    # A switch whose rules are unknown (reconnected) is an epoch, same snapshot or not.
    app.switches[3].port_rules = None
    epoch_with(app, LINE)
    assert app.epoch == 3 and app.current.record.number == 3 and app.skipped == 1


def test_lldp_rounds_wait_while_an_epoch_is_stamped(app, monkeypatch):
    """The LLDP round waits while an epoch is cut and installed, at most the hold
    limit (here the epoch outlasts it: the round goes while it is installed)."""
    rounds = []
    monkeypatch.setattr(app.discovery, 'probe_all', lambda: rounds.append(app._stamping))

    def sleep(seconds):
        rounds.append(seconds)
        time.sleep(seconds)

    monkeypatch.setattr(app_base, 'hub', SimpleNamespace(sleep=sleep))
    app._lldp_tick()
    assert rounds == [False]
    real = app.updater.stamp

    def stamp(record, plan, started):
        app._lldp_tick()  # the LLDP loop's turn comes while the epoch is installed
        return real(record, plan, started)

    app.updater.stamp = stamp
    monkeypatch.setattr(app.conf, 'lldp_interval', 0.02)
    monkeypatch.setattr(app.conf, 'link_timeout', 10.0)
    epoch_with(app, LINE)
    # held (polled every LLDP_HOLD_LOOK) until the limit, then sent
    assert rounds[1:-1] == [app_base.LLDP_HOLD_LOOK] * len(rounds[1:-1]) and rounds[-1] is True
    assert 2 <= len(rounds) - 2 <= 0.02 / app_base.LLDP_HOLD_LOOK + 1


def test_a_held_lldp_round_goes_once_the_epoch_is_stamped(app, monkeypatch):
    """With the defaults (lldp_interval 1 s, link_timeout 3.5 s) a round may wait 1 s;
    it goes as soon as the epoch is stamped instead."""
    rounds = []
    monkeypatch.setattr(app.discovery, 'probe_all', lambda: rounds.append(time.monotonic()))
    app._stamping = True
    started = time.monotonic()
    thread = hub.spawn(app._lldp_tick)
    hub.sleep(0.03)
    assert rounds == []
    app._stamping = False
    thread.wait()
    assert 0.03 <= rounds[0] - started < 0.3


@pytest.mark.parametrize(
    'interval, timeout, limit',
    [(1.0, 3.5, 1.0), (5.0, 60.0, 5.0), (1.0, 2.5, 0.5), (1.0, 1.5, 0.0)],
)
def test_an_lldp_round_is_held_at_most_what_keeps_a_link_an_interval_from_expiring(
    interval, timeout, limit
):
    assert app_base.lldp_hold_limit(interval, timeout) == limit


# --- Ryu events into triggers ---------------------------------------------------------


def test_a_switch_that_connects_gets_the_base_rules_and_is_asked_for_old_ones(bare_app):
    sw = connect(bare_app, 1)
    assert sw.dp.written == [[ofp.OFPT_FLOW_MOD] * len(pipe.base_rules())]
    (request,) = [m for m in sw.dp.sent if isinstance(m, parser.OFPFlowStatsRequest)]
    assert (request.cookie, request.cookie_mask) == pipe.COOKIES.all_rules()
    assert triggers(bare_app) == [
        ('switch-up', 'switch 0000000000000001 with live ports [1, 2, 3]')
    ]


def test_rules_of_a_previous_run_are_read_back(bare_app):
    """Stable rules, overlays and the ingress rule of a previous run raise the epoch
    number past every epoch found (a new epoch must not reuse the version of overlays
    left in a switch); the switch's stable rules stay unknown (its first epoch sends
    every entry as an overlay and rewrites them in phase 3)."""
    sw = connect(bare_app, 1)
    triggers(bare_app)
    stats = [
        SimpleNamespace(cookie=pipe.epoch_cookie(pipe.ROUTE, 7), match={}),
        SimpleNamespace(cookie=pipe.epoch_cookie(pipe.NEXT, 9), match={}),
        SimpleNamespace(cookie=pipe.epoch_cookie(pipe.INGRESS, 8), match={}),
        SimpleNamespace(
            cookie=pipe.COOKIES.cookie(pipe.HOST), match={'eth_src': host_mac(1), 'in_port': 3}
        ),
    ]
    bare_app._flow_stats(SimpleNamespace(msg=SimpleNamespace(datapath=sw.dp, body=stats)))
    assert bare_app.epoch == 9 and sw.read_back_epoch == 9 and sw.stable is None
    assert bare_app.hosts == {host_mac(1): (1, 3)}
    assert triggers(bare_app) == [
        (
            'switch-state',
            "switch 0000000000000001 holds rules of epochs up to 9 and hosts "
            "['%s'] of a previous run" % host_mac(1),
        )
    ]


def test_hosts_are_learned_on_host_ports_and_followed_when_they_move(bare_app):
    s1, s2 = connect(bare_app, 1), connect(bare_app, 2)
    packet_in(bare_app, s1, 2, lldp_frame(2, 2, '02:00:00:00:02:02'), pipe.LLDP)
    triggers(bare_app)
    mac = host_mac(1)
    packet_in(bare_app, s1, 1, host_frame(mac))
    packet_in(bare_app, s1, 1, host_frame(mac))  # known: no trigger
    packet_in(bare_app, s1, 2, host_frame(host_mac(2)))  # a link port: not a host
    packet_in(bare_app, s1, 3, host_frame('01:00:5e:00:00:01'))  # multicast source
    packet_in(bare_app, s1, 3, host_frame(host_mac(3), b'\x88\xa8'))  # S-tagged
    packet_in(bare_app, s2, 1, host_frame(mac))
    assert triggers(bare_app) == [
        ('host-seen', '%s at 0000000000000001:1' % mac),
        ('host-moved', '%s from 0000000000000001:1 to 0000000000000002:1' % mac),
    ]
    assert bare_app.hosts == {mac: (2, 1)}


@pytest.fixture
def probing_app(monkeypatch):
    """The app with a 2.5 s probe time, on a fake clock (``app.clock``)."""
    clock = FakeClock()
    monkeypatch.setattr(app_base, '_now', clock)
    app = make_app(monkeypatch, probe_time=2.5)
    app.clock = clock
    return app


def test_links_and_ports_going_and_coming_are_triggers(probing_app):
    app = probing_app
    s1, _ = connect(app, 1), connect(app, 2)
    # A frame on s1:2 while it probes is not a host's for sure (a neighbour switch's
    # traffic, before its LLDP came in): nothing is learned from it.
    packet_in(app, s1, 2, host_frame(host_mac(2)))
    packet_in(app, s1, 2, lldp_frame(2, 2, '02:00:00:00:02:02'), pipe.LLDP)
    app.clock.now += 2.5
    packet_in(app, s1, 1, host_frame(host_mac(1)))
    packet_in(app, s1, 2, host_frame(host_mac(2)))  # now known to be a link
    assert [kind for kind, _ in triggers(app)] == ['switch-up', 'switch-up', 'link-up', 'host-seen']
    assert app.hosts == {host_mac(1): (1, 1)}
    app.links_expired([(2, 2, 1, 2)])
    port_status(app, s1, 1, live=False)
    port_status(app, s1, 1)
    assert triggers(app) == [
        ('link-down', '0000000000000002:2 -> 0000000000000001:2 (no LLDP for 3.5s)'),
        ('port-down', 'port 0000000000000001:1; hosts gone: %s' % host_mac(1)),
        ('port-up', 'port 0000000000000001:1'),
    ]
    assert app.hosts == {}


def test_no_link_is_believed_onto_a_port_where_a_host_was_learned(probing_app):
    """A host that relays the LLDP frames of s2:2 (received on another of its links)
    onto s1:3 fabricates no link; once the port has bounced and probed again, a switch
    really cabled there is believed."""
    app = probing_app
    s1, _ = connect(app, 1), connect(app, 2)
    app.clock.now += 2.5
    packet_in(app, s1, 3, host_frame(host_mac(3)))
    triggers(app)
    packet_in(app, s1, 3, lldp_frame(2, 2, '02:00:00:00:02:02'), pipe.LLDP)
    assert triggers(app) == [] and not app.graph.links
    assert app.discovery.rejected[Rejection.HOST_PORT] == 1
    port_status(app, s1, 3, live=False)
    port_status(app, s1, 3)
    packet_in(app, s1, 3, lldp_frame(2, 2, '02:00:00:00:02:02'), pipe.LLDP)
    assert [kind for kind, _ in triggers(app)] == ['port-down', 'port-up', 'link-up']


def test_a_disconnect_forgets_the_switch_its_hosts_and_its_bundles(bare_app):
    s1 = connect(bare_app, 1)
    packet_in(bare_app, s1, 1, host_frame(host_mac(1)))
    triggers(bare_app)
    in_flight = bare_app.bundles.send(s1.dp, [s1.dp.ofproto_parser.OFPBarrierRequest(s1.dp)])
    bare_app._base_state_change(SimpleNamespace(datapath=s1.dp, state=DEAD_DISPATCHER))
    assert bare_app.switches == {} and bare_app.hosts == {}
    assert in_flight.wait(0) and in_flight.errors == [('disconnected', None)]
    assert triggers(bare_app) == [
        ('switch-down', 'switch 0000000000000001 disconnected; hosts gone: %s' % host_mac(1))
    ]


def test_bundle_answers_go_to_the_bundles_and_other_errors_are_logged(bare_app, caplog):
    sw = connect(bare_app, 1)
    transaction = bare_app.bundles.send(sw.dp, [sw.dp.ofproto_parser.OFPBarrierRequest(sw.dp)])
    error = SimpleNamespace(datapath=sw.dp, xid=transaction.keys[0][1], type=1, code=2)
    bare_app._error(SimpleNamespace(msg=error))
    bare_app._barrier_reply(
        SimpleNamespace(msg=SimpleNamespace(datapath=sw.dp, xid=transaction.barrier_xid))
    )
    assert transaction.wait(0) and transaction.errors == [(1, 2)]
    with caplog.at_level(logging.WARNING):
        bare_app._error(
            SimpleNamespace(msg=SimpleNamespace(datapath=sw.dp, xid=999, type=4, code=5))
        )
    assert 'switch 0000000000000001 sent error type 4 code 5' in caplog.text
