"""controller/app_base.py: the switch registry, port dispatch, discovery, guarded loops
and the SIGHUP fan-out, with a recording app and fake switches."""

import logging
import os
import signal
from types import SimpleNamespace

import pytest
from ryu import cfg
from ryu.lib import hub
from ryu.ofproto import ofproto_v1_3 as ofp

from controller import app_base, discovery
from controller.app_base import SuiteApp, register_options
from controller.lldp import lldp_frame
from tests.harness.fake_switch import (FakeClock, FakeSwitch, connected, dead, port,
                                       port_status)

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


@pytest.fixture
def app(clock, caplog):
    instance = Recorder()
    caplog.set_level(logging.INFO, logger=instance.logger.name)
    yield instance
    instance.stop()


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
    blocked = port(1)._replace(config=ofp.OFPPC_PORT_DOWN)   # administratively down
    for _ in range(2):
        app._base_port_status(port_status(dp, blocked))
    app._base_port_status(port_status(dp, port(1)))
    app._base_port_status(port_status(dp, port(1), ofp.OFPPR_DELETE))
    assert app.calls[1:] == [('up', 1, 2), ('down', 1, 2, False), ('down', 1, 1, False),
                             ('up', 1, 1), ('down', 1, 1, False)]
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
    assert len(s1.sent) == 2 and app.calls[-1][0] == 'link'   # LLDP out; nothing expired
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
