"""apps/stable_routing.py against hostile switches and hosts, without a switch: a switch
that refuses every bundle or never confirms one is left out of the next epoch and the
others get it; it is probed after a back-off and rejoins once it confirms, or is
disconnected after K consecutive failures; a port flooding new MACs, a port flapping, a
switch announcing thousands of ports, malformed packet-ins, lying flow-stats replies and
a flood of errors all have a bounded, counted outcome with at most one log line, and
never leave an epoch in 'installing'. The same cases against the real ryu-manager and
emulated switches: tests/unit/test_stable_emulated.py."""

import logging
import time
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ryu.exception import OFPTruncatedMessage
from ryu.ofproto import ofproto_parser
from ryu.ofproto import ofproto_v1_3 as ofp

from bench import ofemu
from controller.lldp import lldp_frame
from controller.stable import inputs
from controller.stable import pipeline as pipe
from controller.stable.faults import FaultTracker
from tests.harness.stable_app import (
    APP,
    connect,
    disconnect,
    host_frame,
    make_app,
    packet_in,
    port_status,
    triggers,
)
from tests.harness.stable_fakes import FakeBundles, FakeClock
from topologies.numbering import host_mac

S2 = '%016x' % 2
APP_LOGGER = 'StableRouting'  # the app's logger: its level is set, whatever set it before
TRIANGLE_LINKS = [(1, 2, 2, 2), (2, 3, 3, 2), (1, 3, 3, 3)]
BACKOFF = 2.0


def link_up(app, a, pa, b, pb):
    """LLDP from ``a``:``pa`` heard on ``b``:``pb`` and back."""
    for (src, sport), (dst, dport) in (((a, pa), (b, pb)), ((b, pb), (a, pa))):
        packet_in(
            app,
            app.switches[dst],
            dport,
            lldp_frame(src, sport, '02:00:00:00:%02x:%02x' % (src, sport)),
            pipe.LLDP,
        )


@pytest.fixture
def fabric(monkeypatch):
    """s1, s2, s3 in a triangle (LLDP both ways) with host h<n> on port 1 of s<n>; epochs
    are cut at every tick (no quiet window, no settling); bundles go to FakeBundles;
    faults have a fake clock. Returns (app, bundles, clock)."""
    app = make_app(
        monkeypatch, switch_settle=0.0, fault_backoff=BACKOFF, fault_backoff_max=60.0, fault_limit=3
    )
    app.log.quiet_window = 0.0
    bundles = FakeBundles()
    app.updater.send_bundle = bundles.send
    clock = FakeClock()
    app.faults = FaultTracker(BACKOFF, 60.0, 3, app.conf.install_timeout, clock=clock)
    for dpid in (1, 2, 3):
        connect(app, dpid)
    for link in TRIANGLE_LINKS:
        link_up(app, *link)
    for dpid in (1, 2, 3):
        packet_in(app, app.switches[dpid], 1, host_frame(host_mac(dpid)))
    return app, bundles, clock


def last(app):
    return app.log.history[-1]


def error_lines(caplog, needle):
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.WARNING and needle in r.getMessage()
    ]


# --- faulty switches ------------------------------------------------------------------


def test_a_refusing_switch_is_left_out_and_the_others_get_the_epoch(fabric, caplog):
    app, bundles, _ = fabric
    bundles.refusing = {2}
    with caplog.at_level(logging.INFO, logger=APP_LOGGER):
        app._epoch_tick()
    failed = last(app)
    assert failed.state == 'failed' and app.current is None
    assert failed.faults == [
        {'switch': S2, 'phase': 'internal rules', 'reason': 'refused internal rules: type 1 code 0'}
    ]
    assert error_lines(caplog, S2) == [
        'epoch 1: switch %s refused internal rules: type 1 code 0; left out of epochs, '
        'probed again in 2.0s (failure 1 of 3)' % S2
    ]
    assert app.faults.benched() == {2}

    calls = len(bundles.sent)
    app._epoch_tick()
    installed = last(app)
    assert installed.state == 'installed' and app.current.record is installed
    assert [t['kind'] for t in installed.triggers] == ['switch-faulty']
    assert installed.excluded == [
        {
            'switch': S2,
            'failures': 1,
            'benched': True,
            'reason': 'refused internal rules: type 1 code 0',
        }
    ]
    assert sorted({dpid for dpid, _ in bundles.sent[calls:]}) == [1, 3]
    # s1 and s3 route around s2 as if it were down, and drop what comes from it.
    snapshot = app.current.snapshot
    assert snapshot.switches == {1, 3} and snapshot.links == {(1, 3, 3, 3)}
    assert host_mac(2) not in snapshot.host_map()
    for dpid in (1, 3):
        assert pipe.unused_link(2) in app.switches[dpid].port_rules
    assert app.current.sft.path_in(snapshot, 1, host_mac(3)) == [1, 3]


def test_switches_that_never_confirm_share_one_timeout_and_are_left_out(fabric):
    app, bundles, _ = fabric
    app.updater.install_timeout = 0.3
    bundles.silent = {2, 3}
    started = time.monotonic()
    app._epoch_tick()
    took = time.monotonic() - started
    assert 0.3 <= took < 0.55, took  # one deadline for the phase, not one each
    failed = last(app)
    assert failed.state == 'failed'
    assert [(f['switch'], f['reason']) for f in failed.faults] == [
        ('%016x' % dpid, 'did not confirm internal rules within 0.3s') for dpid in (2, 3)
    ]
    app._epoch_tick()
    assert last(app).state == 'installed' and app.current.snapshot.switches == {1}


def test_a_faulty_switch_is_probed_after_its_backoff_and_rejoins(fabric, caplog):
    app, bundles, clock = fabric
    bundles.refusing = {2}
    app._epoch_tick()
    app._epoch_tick()
    calls = len(bundles.sent)
    app._epoch_tick()
    assert bundles.to(2, calls) == []  # not before its back-off
    clock.now += BACKOFF
    bundles.refusing = set()  # it recovered
    with caplog.at_level(logging.INFO, logger=APP_LOGGER):
        app._epoch_tick()  # the probe goes
        (probe,) = bundles.to(2, calls)
        assert probe and all(m.command == ofp.OFPFC_ADD for m in probe)
        app._epoch_tick()  # confirmed: the next epoch has it
    rejoined = last(app)
    assert rejoined.state == 'installed' and rejoined.excluded == []
    assert [t['kind'] for t in rejoined.triggers] == ['switch-rejoins']
    assert app.current.snapshot.switches == {1, 2, 3}
    assert 2 not in app.faults  # it confirmed every phase
    assert 'switch %s confirmed a probe: it rejoins the next epoch' % S2 in caplog.text
    assert 'switch %s confirmed epoch %d: no longer faulty' % (S2, rejoined.number) in caplog.text


def test_k_consecutive_failures_disconnect_and_a_reconnection_is_probed_first(fabric, caplog):
    app, bundles, clock = fabric
    s2 = app.switches[2]
    bundles.refusing = {2}
    app._epoch_tick()  # failure 1: the epoch
    app._epoch_tick()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger=APP_LOGGER):
        for backoff in (BACKOFF, 2 * BACKOFF):  # failures 2 and 3: probes
            clock.now += backoff
            app._epoch_tick()
            app._epoch_tick()
    assert s2.dp.closed == 1
    assert error_lines(caplog, S2) == [
        'switch %s refused the probe: type 1 code 0; left out of epochs, probed again in '
        '4.0s (failure 2 of 3)' % S2,
        'switch %s refused the probe: type 1 code 0; disconnected after 3 consecutive '
        'failures' % S2,
    ]
    disconnect(app, s2)  # Ryu's DEAD event follows
    app._epoch_tick()
    assert last(app).state == 'installed' and 2 not in app.switches

    again = connect(app, 2)  # it comes back, still refusing
    assert triggers(app) == [
        (
            'switch-up',
            'switch %s with live ports [1, 2, 3]; faulty '
            '(refused the probe: type 1 code 0): probed '
            'before it rejoins' % S2,
        )
    ]
    app._epoch_tick()  # probed at once
    app._epoch_tick()
    assert again.dp.closed == 1 and app.faults.get(2).failures == 4
    assert [r.state for r in app.log.history][1:] == ['installed'] * (len(app.log.history) - 1)
    assert all(not r.faults for r in list(app.log.history)[1:])  # none failed for it


# --- hosts, ports --------------------------------------------------------------------


def test_a_mac_flood_on_a_port_is_bounded_counted_and_logged_once(monkeypatch, caplog):
    app = make_app(monkeypatch, max_hosts_per_port=4)
    s1 = connect(app, 1)
    triggers(app)
    with caplog.at_level(logging.INFO, logger=APP_LOGGER):
        for n in range(100):
            packet_in(app, s1, 1, host_frame('02:00:00:01:00:%02x' % n))
    assert [kind for kind, _ in triggers(app)] == ['host-seen'] * 4
    assert len(app.hosts) == 4 and app.hosts.refused == 96
    assert s1.drops.counts[inputs.HOST_LIMIT] == app.dropped[inputs.HOST_LIMIT] == 96
    assert error_lines(caplog, '') == [
        'switch 0000000000000001 dropped input: host over the port limit '
        '(02:00:00:01:00:04: port 1 already has 4 hosts, max_hosts_per_port); more are '
        'counted, reported at most every 60s'
    ]
    packet_in(app, s1, 2, host_frame(host_mac(7)))  # another port still learns
    assert triggers(app) == [('host-seen', '%s at 0000000000000001:2' % host_mac(7))]


def test_a_flapping_port_is_two_pending_triggers(monkeypatch, caplog):
    app = make_app(monkeypatch)
    s1 = connect(app, 1)
    triggers(app)
    with caplog.at_level(logging.INFO, logger=APP_LOGGER):
        for _ in range(500):
            port_status(app, s1, 1, live=False)
            port_status(app, s1, 1, live=True)
    pending = app.log.pending
    # The base acts on a port's first few changes at once and holds the rest for its
    # port-status loop (not running here); the log folds what it is given into one
    # trigger per kind.
    assert [(t.kind, t.events) for t in pending] == [('port-down', 2), ('port-up', 2)]
    assert (
        len(
            [r for r in caplog.records if 'trigger' in r.getMessage() and r.levelno == logging.INFO]
        )
        == 2
    )


def test_ports_beyond_the_limit_are_ignored_and_logged_once(monkeypatch, caplog):
    app = make_app(monkeypatch, max_ports_per_switch=8)
    with caplog.at_level(logging.INFO, logger=APP_LOGGER):
        s1 = connect(app, 1, ports=range(1, 21))
        assert s1.tracked_ports == set(range(1, 9)) and s1.ignored_ports == 12
        triggers(app)
        for port in range(21, 521):  # within the base's own limit (max_ports, 1024)
            port_status(app, s1, port, reason=ofp.OFPPR_ADD)
        port_status(app, s1, 3, live=False)  # frees a place
        port_status(app, s1, 70000, reason=ofp.OFPPR_ADD)  # too big for a group id
        port_status(app, s1, 5000, reason=ofp.OFPPR_ADD)
    assert triggers(app) == [
        ('port-down', 'port 0000000000000001:3'),
        ('port-up', 'port 0000000000000001:5000'),
    ]
    assert len(s1.tracked_ports) == 8 and 70000 not in s1.tracked_ports
    assert error_lines(caplog, 'ignored') == [
        'switch 0000000000000001: port 9 ignored (the app routes over at most 8 ports per '
        'switch, numbered up to 65535); further ones are ignored silently'
    ]
    assert dict(app._snapshot().ports)[1] == tuple(sorted(s1.tracked_ports))


# --- malformed input -----------------------------------------------------------------


def test_malformed_packet_ins_are_counted_and_dropped(monkeypatch, caplog):
    """The 8-byte packet-in once left every later epoch 'installing' (its 2-byte 'MAC'
    reached a flow-mod); no in_port raised a KeyError in the handler."""
    app = make_app(monkeypatch)
    app.updater.send_bundle = FakeBundles().send
    s1 = connect(app, 1)
    triggers(app)
    base, lldp = pipe.COOKIES.cookie(pipe.BASE), pipe.COOKIES.cookie(pipe.LLDP)
    cases = [
        ({'in_port': 1}, bytes(8), base),
        ({}, host_frame(host_mac(1)), base),
        ({'in_port': 0}, host_frame(host_mac(1)), lldp),
        (None, b'', base),
        ({'in_port': 'x'}, host_frame(host_mac(1)), base),
        ({'in_port': 1}, None, lldp),
        ({'in_port': 2}, host_frame('01:00:00:00:00:01'), base),
        ({'in_port': 2}, host_frame('00:00:00:00:00:00'), base),
    ]
    with caplog.at_level(logging.INFO, logger=APP_LOGGER):
        for match, data, cookie in cases:
            app._packet_in(
                SimpleNamespace(
                    msg=SimpleNamespace(datapath=s1.dp, match=match, cookie=cookie, data=data)
                )
            )
    assert dict(s1.drops.counts) == {
        inputs.SHORT_FRAME: 2,
        inputs.NO_IN_PORT: 2,
        inputs.BAD_IN_PORT: 2,
        inputs.NOT_A_HOST: 2,
    }
    assert len(app.hosts) == 0 and triggers(app) == []
    assert len(error_lines(caplog, 'dropped')) == 1 and 'Traceback' not in caplog.text
    app.log.append('link-up', 'test')
    app._run_epoch()
    assert last(app).state == 'installed'


def test_lying_flow_stats_are_dropped_and_epochs_go_on(monkeypatch):
    app = make_app(monkeypatch)
    app.updater.send_bundle = FakeBundles().send
    s1 = connect(app, 1)
    host = pipe.COOKIES.cookie(pipe.HOST)
    body = [
        SimpleNamespace(cookie=pipe.epoch_cookie(pipe.ROUTE, (1 << 40) - 1), match={}),
        SimpleNamespace(cookie=pipe.epoch_cookie(pipe.INGRESS, 1 << 39), match={}),
        SimpleNamespace(cookie=host, match={}),
        SimpleNamespace(cookie=host, match={'eth_src': '02:00', 'in_port': 1}),
        SimpleNamespace(cookie=host, match={'eth_src': host_mac(1), 'in_port': 99}),
        SimpleNamespace(cookie=host, match=None),
        SimpleNamespace(cookie='7', match={}),
        SimpleNamespace(),
        SimpleNamespace(cookie=pipe.epoch_cookie(pipe.ROUTE, 5), match={}),
    ]
    body += [
        SimpleNamespace(cookie=pipe.epoch_cookie(pipe.ROUTE, 100 + n), match={}) for n in range(100)
    ]
    app._flow_stats(SimpleNamespace(msg=SimpleNamespace(datapath=s1.dp, body=body)))
    # Stable rules carry the epoch that wrote each entry: any number of epochs is
    # legitimate, and the highest one counts.
    assert app.epoch == 199 and s1.read_back_epoch == 199
    assert s1.drops.counts[inputs.BAD_READ_BACK] == 2 + 4 and len(app.hosts) == 0
    app._run_epoch()
    assert last(app).state == 'installed' and last(app).number == 200


def test_a_flood_of_errors_is_one_line_a_minute(monkeypatch, caplog):
    app = make_app(monkeypatch)
    s1 = connect(app, 1)
    clock = FakeClock()
    s1.errors = inputs.DropTally(60.0, clock=clock)
    with caplog.at_level(logging.INFO, logger=APP_LOGGER):
        for xid in range(1000):
            app._error(
                SimpleNamespace(msg=SimpleNamespace(datapath=s1.dp, xid=xid, type=1, code=5))
            )
        app._error(SimpleNamespace(msg=SimpleNamespace(datapath=s1.dp, xid=1)))
        clock.now += 60
        app._error(SimpleNamespace(msg=SimpleNamespace(datapath=s1.dp, xid=2, type=4, code=9)))
    assert s1.errors.counts[inputs.SWITCH_ERROR] == 1002
    assert error_lines(caplog, 'error') == [
        'switch 0000000000000001 sent error type 1 code 5; more are counted, reported at '
        'most every 60s',
        'switch 0000000000000001 sent error type 4 code 9; 1001 since the last report: '
        'error message 1001',
    ]


def test_an_epoch_that_raises_is_failed_not_left_installing(monkeypatch):
    app = make_app(monkeypatch)
    app.updater.send_bundle = FakeBundles().send
    connect(app, 1)

    def broken(*args):
        raise RuntimeError('a bug')

    monkeypatch.setattr(APP, 'plan_update', broken)
    with pytest.raises(RuntimeError):
        app._run_epoch()
    assert last(app).state == 'failed'
    assert last(app).problems == ['internal error: see the log']
    monkeypatch.undo()
    app.log.append('link-up', 'test')
    app._run_epoch()
    assert last(app).state == 'installed'


# --- property tests: anything a switch may send --------------------------------------


@pytest.fixture
def flooded(monkeypatch):
    """The app and a switch with ports 1-3, and a budget no flood exhausts."""
    app = make_app(monkeypatch, packet_in_burst=10**9, max_hosts_per_port=10**6)
    app.updater.send_bundle = FakeBundles().send
    return app, connect(app, 1)


VALUES = st.one_of(
    st.none(),
    st.integers(-2, 2**33),
    st.text(max_size=4),
    st.binary(max_size=8),
    st.floats(allow_nan=False),
)
COOKIES = st.sampled_from(
    [
        pipe.COOKIES.cookie(pipe.BASE),
        pipe.COOKIES.cookie(pipe.LLDP),
        0,
        None,
        'x',
        pipe.COOKIES.cookie(pipe.HOST),
    ]
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    match=st.one_of(
        st.none(), st.dictionaries(st.sampled_from(['in_port', 'eth_src']), VALUES, max_size=2)
    ),
    data=st.one_of(st.none(), st.binary(max_size=80), st.text(max_size=4)),
    cookie=COOKIES,
)
def test_any_packet_in_is_handled_or_counted(flooded, match, data, cookie):
    app, sw = flooded
    before = sum(sw.drops.counts.values())
    app._packet_in(
        SimpleNamespace(msg=SimpleNamespace(datapath=sw.dp, match=match, data=data, cookie=cookie))
    )
    dropped = sum(sw.drops.counts.values()) - before
    port = (match or {}).get('in_port')
    usable = (
        isinstance(port, int)
        and 0 < port <= inputs.MAX_PORT
        and isinstance(data, bytes)
        and len(data) >= 14
    )
    if cookie not in (pipe.COOKIES.cookie(pipe.BASE), pipe.COOKIES.cookie(pipe.LLDP)):
        assert dropped == 0  # another app's
    elif not usable:
        assert dropped == 1
    else:
        assert dropped <= 1  # a source that is no host's is counted too
    assert all(inputs.is_host_mac(mac) for mac in app.hosts)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    cut=st.integers(0, 200),
    flips=st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255)), max_size=4),
    in_port=st.integers(0, 2**32 - 1),
    frame=st.binary(max_size=70),
)
def test_any_packet_in_ryu_parses_is_handled(flooded, cut, flips, in_port, frame):
    """Packet-in bytes, truncated and bit-flipped, through Ryu's own parser: what it
    parses reaches the handler, which never raises."""
    app, sw = flooded
    wire = bytearray(ofemu.packet_in(7, in_port, frame, cookie=pipe.COOKIES.cookie(pipe.BASE)))
    for offset, value in flips:
        if 8 <= offset < len(wire):  # the header stays: Ryu frames messages by it
            wire[offset] = value
    wire = wire[: max(8, len(wire) - cut)]
    wire[2:4] = len(wire).to_bytes(2, 'big')
    try:
        msg = ofproto_parser.msg(
            sw.dp, ofp.OFP_VERSION, ofp.OFPT_PACKET_IN, len(wire), 7, bytes(wire)
        )
    except OFPTruncatedMessage:
        msg = None
    if msg is None:  # Ryu refused it (and logged why): no app sees it
        return
    app._packet_in(SimpleNamespace(msg=msg))
    assert all(inputs.is_host_mac(mac) for mac in app.hosts)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    stats=st.lists(
        st.builds(
            SimpleNamespace,
            cookie=st.one_of(
                st.integers(0, 2**64 - 1),
                st.sampled_from([pipe.COOKIES.cookie(pipe.HOST), pipe.epoch_cookie(pipe.ROUTE, 3)]),
            ),
            match=st.one_of(
                st.none(),
                st.dictionaries(
                    st.sampled_from(['in_port', 'eth_src']), VALUES | st.just('02:00:00:00:00:01')
                ),
            ),
        ),
        max_size=5,
    )
)
def test_any_flow_stats_reply_is_handled_and_epochs_go_on(flooded, stats):
    app, sw = flooded
    app._flow_stats(SimpleNamespace(msg=SimpleNamespace(datapath=sw.dp, body=stats)))
    assert app.epoch <= APP.MAX_READ_BACK_EPOCH
    assert all(port in sw.tracked_ports for _, port in app.hosts.values())
