"""controller/app_base.py: the switch registry, port dispatch, discovery, guarded loops
and the SIGHUP fan-out, with a recording app and fake switches; and against hostile
switches: a duplicate dpid, too many ports, flap storms, malformed packet-ins, loops
that keep failing."""

import logging
import os
import signal
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ryu import cfg
from ryu.lib import hub
from ryu.ofproto import ofproto_v1_3 as ofp

from controller import app_base, discovery
from controller.app_base import SuiteApp, register_options
from controller.lldp import lldp_frame
from tests.harness.fake_switch import FakeClock, FakeSwitch, connected, dead, port, port_status

GROUP = 'app_base_under_test'
register_options(GROUP, discovery.options(link_timeout=3.0))


class Recorder(SuiteApp):
    """Records every hook call as (hook, dpid, ...) in ``calls``."""

    CONFIG_GROUP = GROUP
    DISCOVERY = True

    def __init__(self, *args, **kwargs):
        self.calls = []
        super().__init__(*args, **kwargs)

    def new_switch(self, dp):
        return SimpleNamespace(dp=dp) if dp.id != 99 else None

    def switch_connected(self, sw):
        self.calls.append(('connected', sw.dp.id))

    def switch_disconnected(self, sw, graph_changed):
        self.calls.append(('disconnected', sw.dp.id, graph_changed))

    def port_up(self, sw, port):
        self.calls.append(('up', sw.dp.id, port.port_no))

    def port_down(self, sw, port_no, link_gone):
        self.calls.append(('down', sw.dp.id, port_no, link_gone))

    def link_up(self, sw, in_port, link):
        self.calls.append(('link', sw.dp.id, in_port, link))

    def links_expired(self, links):
        self.calls.append(('expired', sorted(links)))


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(app_base, '_now', fake)
    return fake


def running(app_class: type, caplog: Any) -> Iterator[Any]:
    """An instance of ``app_class`` whose INFO lines reach caplog, stopped afterwards."""
    instance = app_class()
    caplog.set_level(logging.INFO, logger=instance.logger.name)
    yield instance
    instance.stop()


@pytest.fixture
def app(clock, caplog):
    yield from running(Recorder, caplog)


def test_options_go_in_the_apps_section():
    assert cfg.CONF[GROUP].link_timeout == 3.0 and cfg.CONF[GROUP].lldp_interval == 1.0


def test_the_registry_forgets_a_switch_only_on_its_own_connection_dying(app):
    old = FakeSwitch(1)
    app._base_state_change(connected(old))
    assert app.switch_of(old).dp is old and app.calls == [('connected', 1)]
    # The switch reconnects before its old connection is noticed dead.
    new = FakeSwitch(1)
    app._base_state_change(connected(new))
    app._base_state_change(dead(old))
    assert app.switch_of(new).dp is new and app.switch_of(old) is None
    assert app.calls == [('connected', 1), ('connected', 1)]
    app._base_state_change(dead(new))
    assert app.switches == {} and app.calls[-1] == ('disconnected', 1, True)
    # A connection that died before its handshake named the switch.
    unnamed = FakeSwitch(None)
    app._base_state_change(dead(unnamed))
    assert len(app.calls) == 3


def test_a_switch_the_app_leaves_alone_is_not_registered(app):
    app._base_state_change(connected(FakeSwitch(99)))
    assert app.switches == {} and app.calls == []


def test_a_port_change_is_dispatched_once(app):
    dp = FakeSwitch(1, (1,))
    app._base_state_change(connected(dp))
    assert app.live_ports(1) == {1}
    for _ in range(2):
        app._base_port_status(port_status(dp, port(2), ofp.OFPPR_ADD))
    for _ in range(2):
        app._base_port_status(port_status(dp, port(2, up=False)))
    blocked = port(1)._replace(config=ofp.OFPPC_PORT_DOWN)  # administratively down
    for _ in range(2):
        app._base_port_status(port_status(dp, blocked))
    app._base_port_status(port_status(dp, port(1)))
    app._base_port_status(port_status(dp, port(1), ofp.OFPPR_DELETE))
    assert app.calls[1:] == [
        ('up', 1, 2),
        ('down', 1, 2, False),
        ('down', 1, 1, False),
        ('up', 1, 1),
        ('down', 1, 1, False),
    ]
    # From a connection that is not the registered one: ignored.
    app._base_port_status(port_status(FakeSwitch(1), port(3), ofp.OFPPR_ADD))
    assert app.calls[-1] == ('down', 1, 1, False) and app.live_ports(1) == set()


def test_links_are_reported_when_new_and_when_they_expire(app, clock):
    s1, s2 = FakeSwitch(1), FakeSwitch(2)
    for dp in (s1, s2):
        app._base_state_change(connected(dp))
    frame = lldp_frame(1, 2, s1.ports[2].hw_addr)
    for _ in range(2):
        app.lldp_in(app.switch_of(s2), 2, frame)
    app.lldp_in(app.switch_of(s2), 1, b'not lldp')
    assert app.calls[2:] == [('link', 2, 2, (1, 2, 2, 2))]

    s1.sent.clear()
    clock.now += 2.0
    app._lldp_tick()
    assert len(s1.sent) == 2 and app.calls[-1][0] == 'link'  # LLDP out; nothing expired
    clock.now += 1.5
    app._lldp_tick()
    assert app.calls[-1] == ('expired', [(1, 2, 2, 2)])

    app.lldp_in(app.switch_of(s2), 2, frame)
    app._base_port_status(port_status(s2, port(2), ofp.OFPPR_DELETE))
    assert app.calls[-1] == ('down', 2, 2, True)
    app.lldp_in(app.switch_of(s2), 2, frame)
    app._base_state_change(dead(s1))
    assert app.calls[-1] == ('disconnected', 1, True)


def test_an_app_without_discovery_gets_no_port_events(clock):
    class Plain(SuiteApp):
        def new_switch(self, dp):
            return SimpleNamespace(dp=dp)

        def port_up(self, sw, port):
            raise AssertionError('no port dispatch without discovery')

    plain = Plain()
    dp = FakeSwitch(1)
    plain._base_state_change(connected(dp))
    plain._base_port_status(port_status(dp, port(3), ofp.OFPPR_ADD))
    assert plain.conf is None and not plain.loops and dp.sent == []
    plain._base_state_change(dead(dp))
    assert plain.switches == {}


def test_new_switch_must_be_given():
    class Bare(SuiteApp):
        pass

    with pytest.raises(NotImplementedError):
        Bare()._base_state_change(connected(FakeSwitch(1)))


def test_a_loop_goes_on_after_its_tick_fails_and_ends_with_the_app(app, caplog):
    ticks = []

    def tick():
        ticks.append(len(ticks))
        if len(ticks) == 1:
            raise RuntimeError('a bad round')

    with caplog.at_level(logging.ERROR):
        thread = app.spawn_loop('test', 0.001, tick)
        for _ in range(200):
            if len(ticks) >= 3:
                break
            hub.sleep(0.005)
    assert len(ticks) >= 3
    assert 'the test loop failed this round; it goes on' in caplog.text
    assert 'RuntimeError: a bad round' in caplog.text
    assert thread in app.loops
    app.stop()
    assert app.loops == [] and thread.dead
    count = len(ticks)
    hub.sleep(0.01)
    assert len(ticks) == count


def test_sighup_reaches_every_subscriber(monkeypatch):
    monkeypatch.setattr(app_base, '_reload_subscribers', [])
    previous = signal.getsignal(signal.SIGHUP)
    heard = []

    def failing():
        heard.append('failing')
        raise RuntimeError('a subscriber that fails')

    try:
        app_base.on_reload_signal(lambda: heard.append('first'))
        app_base.on_reload_signal(failing)
        app_base.on_reload_signal(lambda: heard.append('second'))
        assert signal.getsignal(signal.SIGHUP) is app_base._fan_out
        os.kill(os.getpid(), signal.SIGHUP)
        for _ in range(100):
            if len(heard) == 3:
                break
            hub.sleep(0.01)
    finally:
        signal.signal(signal.SIGHUP, previous)
    assert sorted(heard) == ['failing', 'first', 'second']


# --- hostile switches: duplicate dpids, too many ports, flap storms, failing loops -------

LIMITED = 'app_base_limits_under_test'
register_options(
    LIMITED,
    discovery.options(link_timeout=3.0),
    app_base.base_options(max_ports=3, port_status_interval=0.5, loop_failure_limit=3),
)


class Limited(Recorder):
    CONFIG_GROUP = LIMITED


@pytest.fixture
def limited(clock, caplog):
    yield from running(Limited, caplog)


def test_the_base_settings_default_where_the_app_registers_none(app, limited):
    assert (app.max_ports, app.port_status_interval, app.loop_failure_limit) == (1024, 0.5, 10)
    assert (limited.max_ports, limited.port_status_interval, limited.loop_failure_limit) == (
        3,
        0.5,
        3,
    )


def test_a_second_connection_with_a_dpid_takes_over_and_the_old_one_is_closed(app, caplog):
    genuine, impostor = FakeSwitch(7), FakeSwitch(7)
    app._base_state_change(connected(genuine))
    app._base_state_change(connected(impostor))
    assert genuine.closed and not impostor.closed
    assert app.switch_of(impostor).dp is impostor and app.switch_of(genuine) is None
    assert (
        'switch 0000000000000007: a second connection (from None) takes over from the '
        'one from None, which is closed' in caplog.text
    )
    # What the closed connection still had in flight is not heard.
    app._base_port_status(port_status(genuine, port(2, up=False)))
    assert app.live_ports(7) == {1, 2}
    # The genuine switch reconnects: it takes over in turn.
    again = FakeSwitch(7)
    app._base_state_change(connected(again))
    assert impostor.closed and app.switch_of(again).dp is again
    app._base_state_change(dead(genuine))
    app._base_state_change(dead(impostor))
    assert app.calls == [('connected', 7)] * 3


def test_ports_beyond_max_ports_are_ignored_and_logged(limited, caplog):
    dp = FakeSwitch(1, (5, 1, 4, 2, 3))
    dp.ports[ofp.OFPP_LOCAL] = port(ofp.OFPP_LOCAL)
    limited._base_state_change(connected(dp))
    assert sorted(dp.ports) == [1, 2, 3, ofp.OFPP_LOCAL]  # Ryu's copy too
    assert limited.live_ports(1) == {1, 2, 3}
    assert (
        'switch 0000000000000001 announced 6 ports: 3 tracked (max_ports), ports 4 '
        'and above ignored' in caplog.text
    )
    for port_no in (6, 7):
        dp.ports[port_no] = port(port_no)  # as Ryu's handler adds it
        limited._base_port_status(port_status(dp, port(port_no), ofp.OFPPR_ADD))
        assert port_no not in dp.ports
    assert caplog.text.count('ports tracked (max_ports)') == 1  # once a minute
    assert (
        'switch 0000000000000001: port 6 ignored: 3 ports tracked (max_ports); 3 '
        'ignored so far' in caplog.text
    )
    # A deleted port makes room.
    limited._base_port_status(port_status(dp, port(2), ofp.OFPPR_DELETE))
    limited._base_port_status(port_status(dp, port(6), ofp.OFPPR_ADD))
    assert limited.calls[-2:] == [('down', 1, 2, False), ('up', 1, 6)]
    # A reason OpenFlow does not define is ignored, as Ryu does.
    limited._base_port_status(port_status(dp, port(1, up=False), 7))
    assert limited.live_ports(1) == {1, 3, 6}


def test_a_flap_storm_costs_a_few_actions_per_port_and_the_last_state_wins(limited, clock):
    dp = FakeSwitch(1, (1, 2))
    limited._base_state_change(connected(dp))
    for n in range(1000):
        limited._base_port_status(port_status(dp, port(1 + n % 2, up=n % 4 >= 2)))
    hooks = len(limited.calls) - 1
    assert hooks <= 2 * 4  # the burst of each port
    clock.now += 0.5
    limited._port_status_tick()  # what waited: the newest per port
    assert limited.live_ports(1) == {1, 2}
    assert len(limited.calls) - 1 <= hooks + 2


def test_port_changes_wait_while_an_lldp_round_is_sent(app, monkeypatch):
    dp = FakeSwitch(1, (1, 2))
    app._base_state_change(connected(dp))
    sending = app.discovery.probe_all

    def probe_all():  # a full send queue lets the event loop run mid-round
        app._base_port_status(port_status(dp, port(2, up=False)))
        assert app.live_ports(1) == {1, 2}
        sending()

    monkeypatch.setattr(app.discovery, 'probe_all', probe_all)
    app._lldp_tick()
    assert app.live_ports(1) == {1, 2}
    app._port_status_tick()
    assert app.live_ports(1) == {1} and app.calls[-1] == ('down', 1, 2, False)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    statuses=st.lists(
        st.tuples(
            st.sampled_from([1, 2, 3, 4, 5, ofp.OFPP_LOCAL]),
            st.sampled_from([ofp.OFPPR_ADD, ofp.OFPPR_MODIFY, ofp.OFPPR_DELETE, 9]),
            st.booleans(),
            st.booleans(),
        ),
        max_size=40,
    )
)
def test_any_port_status_storm_leaves_bounded_and_true_port_state(clock, statuses):
    app = Limited()
    try:
        dp = FakeSwitch(1, (1, 2))
        app._base_state_change(connected(dp))
        for port_no, reason, up, tick in statuses:
            if reason in (ofp.OFPPR_ADD, ofp.OFPPR_MODIFY):  # as Ryu's handler does
                dp.ports[port_no] = port(port_no, up)
            elif reason == ofp.OFPPR_DELETE:
                dp.ports.pop(port_no, None)
            app._base_port_status(port_status(dp, port(port_no, up), reason))
            if tick:
                clock.now += 0.5
                app._port_status_tick()
            tracked = app.switch_ports[1].tracked
            assert len(tracked) <= 3 and len([p for p in dp.ports if p <= ofp.OFPP_MAX]) <= 3
        app._port_status_tick()
        assert app.live_ports(1) == {
            p for p, desc in dp.ports.items() if discovery.is_live(dp, desc)
        }
    finally:
        app.stop()


def test_a_malformed_packet_in_is_counted_for_its_switch_until_it_disconnects(app):
    dp = FakeSwitch(1)
    app._base_state_change(connected(dp))
    sw = app.switch_of(dp)
    good = SimpleNamespace(match={'in_port': 1}, data=bytes(60))
    assert app.packet_in_fields(sw, good) == (1, bytes(60))
    assert app.packet_in_fields(sw, SimpleNamespace(match={}, data=bytes(60))) is None
    assert app.packet_in_guard.dropped == {1: 1}
    app._base_state_change(dead(dp))
    assert app.packet_in_guard.dropped == {}


def wait_for(condition: Callable[[], Any], seconds: float = 2.0) -> None:
    for _ in range(int(seconds / 0.005)):
        if condition():
            return
        hub.sleep(0.005)


def test_a_loop_that_fails_every_round_stops_the_controller(limited, caplog, monkeypatch):
    stopped = []
    monkeypatch.setattr(app_base, '_stop_process', stopped.append)

    def tick():
        raise RuntimeError('never works')

    with caplog.at_level(logging.ERROR):
        thread = limited.spawn_loop('doomed', 0.001, tick)
        wait_for(lambda: stopped)
    assert stopped == [app_base.EXIT_LOOP_FAILED] and limited.loop_failures['doomed'] == 3
    critical = [r for r in caplog.records if r.levelno == logging.CRITICAL]
    assert [r.getMessage() for r in critical] == [
        'Limited: the doomed loop failed 3 rounds in a row; stopping the controller (exit '
        'status 70) rather than running without it'
    ]
    assert critical[0].exc_info[1].args == ('never works',)
    assert (
        'the doomed loop failed this round; it goes on (2 in a row, the controller '
        'stops at 3)' in caplog.text
    )
    wait_for(lambda: thread.dead)
    assert thread.dead


def test_a_loop_that_fails_now_and_then_goes_on(limited, monkeypatch):
    stopped = []
    monkeypatch.setattr(app_base, '_stop_process', stopped.append)
    rounds = []

    def tick():
        rounds.append(None)
        if len(rounds) % 3:
            raise RuntimeError('two rounds in three')

    limited.spawn_loop('flaky', 0.001, tick)
    wait_for(lambda: len(rounds) >= 30)
    assert stopped == [] and limited.loop_failures['flaky'] >= 20


def test_an_app_without_discovery_still_bounds_the_ports_it_is_told_of(clock):
    class Plain(SuiteApp):
        def new_switch(self, dp):
            return SimpleNamespace(dp=dp)

    plain = Plain()
    plain.max_ports = 2
    dp = FakeSwitch(1, (1, 2))
    plain._base_state_change(connected(dp))
    dp.ports[3] = port(3)
    plain._base_port_status(port_status(dp, port(3), ofp.OFPPR_ADD))
    assert sorted(dp.ports) == [1, 2]
    plain._base_port_status(port_status(dp, port(2), ofp.OFPPR_DELETE))
    plain._base_port_status(port_status(dp, port(3), ofp.OFPPR_ADD))
    assert plain.switch_ports[1].tracked == {1, 3}
