"""controller/discovery.py against the link forgeries of issue 12 (TopoGuard's attacks):
two connected switches s1 and s2 (ports 1 to a real link between them, ports 3 to hosts),
a switch s3 that is not connected, and a host on each host port that captures, relays,
replays or invents LLDP frames. Every forgery is refused with its reason, counted per
port, and logged once per port per minute; the real link is still found."""

import logging
from collections import Counter
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import apps.l2_learning as l2
from controller import app_base, discovery
from controller.app_base import SuiteApp, register_options
from controller.discovery import REPORT_INTERVAL, LinkDiscovery
from controller.l2 import pipeline as l2_pipe
from controller.lldp import PROCESS_KEY, LldpKey, Rejection, frame_head, lldp_frame
from controller.openflow import mac_bytes
from controller.topology import SwitchGraph
from tests.harness.fake_switch import FakeClock, FakeSwitch, connected, packet_in, port

WALL = 1_700_000_000.0
INTERVAL = 1.0
MAX_AGE = 2 * INTERVAL + discovery.FRESHNESS_MARGIN
LOGGER = 'test_discovery'


class Net:
    """s1, s2 connected (ports 1, 2, 3); s1:1 <-> s2:1 cabled; hosts learned on the ports
    in ``hosts``. ``wall`` is the clock frames are stamped with, ``now`` the app's."""

    def __init__(self, key=None):
        self.wall = FakeClock(WALL)
        self.now = 100.0
        self.hosts = {(1, 3), (2, 3)}
        self.discovery = LinkDiscovery(
            SwitchGraph(),
            link_timeout=3.5,
            lldp_interval=INTERVAL,
            key=key or LldpKey(b'the secret'),
            logger=logging.getLogger(LOGGER),
            is_host_port=lambda dpid, port_no: (dpid, port_no) in self.hosts,
            clock=self.wall,
        )
        self.s1, self.s2 = FakeSwitch(1, (1, 2, 3)), FakeSwitch(2, (1, 2, 3))
        for dp in (self.s1, self.s2):
            self.discovery.switch_up(dp, self.now)

    def sent(self, dp):
        """{port: the frame} of the LLDP packet-outs ``dp`` was asked to send since the
        last call: what the host or switch on each port receives."""
        frames = {msg.actions[0].port: bytes(msg.data) for msg in dp.take()}
        return frames

    def probe(self):
        self.discovery.probe_all()
        return self.sent(self.s1), self.sent(self.s2)

    def arrives(self, dp, in_port, frame):
        return self.discovery.lldp_in(dp.id, in_port, frame, self.now)

    def cable(self):
        """The real link's frames, both ways: the link is known."""
        out1, out2 = self.probe()
        assert self.arrives(self.s2, 1, out1[1]) == (1, 1, 2, 1)
        assert self.arrives(self.s1, 1, out2[1]) == (2, 1, 1, 1)
        return out1, out2

    def refused(self, dp, in_port, frame, reason):
        before = self.discovery.graph.links
        assert self.arrives(dp, in_port, frame) is None
        assert self.discovery.graph.links == before
        assert self.discovery.rejected[reason] >= 1, self.discovery.rejected
        return self.discovery.rejected_at.get((dp.id, in_port), Counter())


@pytest.fixture
def net(caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    return Net()


def refusals(caplog):
    return [r.getMessage() for r in caplog.records if 'LLDP frame refused' in r.getMessage()]


# --- the real link, and what a host cannot do -------------------------------------


def test_the_real_link_is_found_and_refreshed(net):
    net.cable()
    net.now += 3.0
    net.wall.now += 3.0
    out1, out2 = net.probe()
    assert net.arrives(net.s2, 1, out1[1]) is None  # known: refreshed, not new
    assert net.discovery.expire(net.now + 1.0) == [(2, 1, 1, 1)]
    assert net.discovery.rejected == Counter() and net.discovery.foreign == 0


def test_frames_are_stamped_by_the_wall_clock_each_round(net):
    first = net.probe()[0][3]
    net.wall.now += 1.0
    second = net.probe()[0][3]
    assert first != second and first[:55] == second[:55]


def test_a_replay_after_the_freshness_window_is_refused(net):
    captured = net.probe()[0][3]  # what the host on s1:3 receives
    real = net.cable()[0][1]  # and a real link frame, captured on the wire
    net.wall.now += MAX_AGE + 0.1
    net.hosts.clear()  # whatever the host-port rule would say
    assert net.refused(net.s2, 2, captured, Rejection.STALE) == {Rejection.STALE: 1}
    net.discovery.graph.remove_port(2, 1)
    assert net.refused(net.s2, 1, real, Rejection.STALE)


def test_a_relay_within_the_window_onto_a_host_port_is_refused(net):
    """The host on s1:3 hands its frame to a host on s2:3, which sends it at once."""
    captured = net.probe()[0][3]
    assert net.refused(net.s2, 3, captured, Rejection.HOST_PORT) == {Rejection.HOST_PORT: 1}


def test_a_relay_onto_a_silent_port_is_what_remains_possible(net):
    """As in TopoGuard: a port where no host was ever learned cannot be told from a
    switch port by its frames; the docs say so (docs/l2_learning.md, link discovery)."""
    captured = net.probe()[0][3]
    assert net.arrives(net.s2, 2, captured) == (1, 3, 2, 2)


def test_a_host_port_already_on_a_link_accepts_the_other_direction(net):
    """A port on a link faces a switch: the MACs learned there are the far side's
    hosts, so they do not hold back the link's other direction (a switch that came back
    after its neighbour learned its hosts on the port)."""
    net.hosts.add((1, 1))
    out1, out2 = net.probe()
    assert net.refused(net.s1, 1, out2[1], Rejection.HOST_PORT)
    assert net.arrives(net.s2, 1, out1[1]) == (1, 1, 2, 1)
    assert net.arrives(net.s1, 1, out2[1]) == (2, 1, 1, 1)


def test_a_frame_sent_back_on_its_own_port_is_refused(net):
    net.hosts.clear()
    captured = net.probe()[0][3]
    assert net.refused(net.s1, 3, captured, Rejection.REFLECTED)


def test_an_invented_chassis_is_refused(net):
    unsigned = frame_head(0x99, 1, '02:00:00:00:00:99') + b'\x00\x00'  # the old format
    assert net.refused(net.s2, 2, unsigned, Rejection.MALFORMED)
    guessed = lldp_frame(0x99, 1, '02:00:00:00:00:99', LldpKey(b'guess'), WALL)
    assert net.refused(net.s2, 2, guessed, Rejection.BAD_MAC)
    # A real switch's dpid, signed by someone else.
    assert net.refused(
        net.s2, 2, lldp_frame(1, 2, '02:00:00:00:00:02', LldpKey(b'guess'), WALL), Rejection.BAD_MAC
    )


def test_an_invented_port_is_refused(net):
    captured = bytearray(net.probe()[0][3])
    captured[41:45] = (2).to_bytes(4, 'big')  # s1:3's frame, now claiming s1:2
    assert net.refused(net.s2, 2, bytes(captured), Rejection.BAD_MAC)


def test_a_wrong_signature_is_refused(net):
    captured = bytearray(net.probe()[0][3])
    captured[-3] ^= 0xFF
    assert net.refused(net.s2, 2, bytes(captured), Rejection.BAD_MAC)
    captured = bytearray(net.probe()[0][3])
    captured[58] ^= 0x01  # the time, made younger or older
    assert net.refused(net.s2, 2, bytes(captured), Rejection.BAD_MAC)


@pytest.mark.parametrize('length', [0, 14, 15, 30, 48, 60, 80])
def test_a_truncated_frame_is_refused(net, length):
    captured = net.probe()[0][1]
    assert net.refused(net.s2, 1, captured[:length], Rejection.MALFORMED)


def test_a_frame_of_a_switch_not_connected_is_refused(net):
    """Signed with our key (a switch that was ours and left, or another controller's
    sharing the secret): it names no live port here."""
    s3 = lldp_frame(3, 1, '02:00:00:00:03:01', net.discovery.key, WALL)
    assert net.refused(net.s2, 2, s3, Rejection.UNKNOWN_SENDER)
    not_live = lldp_frame(1, 9, '02:00:00:00:01:09', net.discovery.key, WALL)
    assert net.refused(net.s2, 2, not_live, Rejection.UNKNOWN_SENDER)
    before = net.probe()[0][2]
    net.discovery.port_down(1, 2)
    assert net.refused(net.s2, 2, before, Rejection.UNKNOWN_SENDER)


def test_a_frame_on_a_port_that_is_not_live_is_refused(net):
    captured = net.probe()[0][1]
    assert net.refused(net.s2, 7, captured, Rejection.UNKNOWN_PORT) == Counter()
    assert net.discovery.rejected_at == {}  # counted for the switch, not the port


def test_another_speakers_lldp_is_ignored_not_refused(net, caplog):
    chassis = bytes([0x02, 7, 4]) + bytes.fromhex('001122334455')
    frame = (
        bytes.fromhex('0180c200000e00112233445588cc')
        + chassis
        + bytes([0x04, 5, 5])
        + b'eth0'
        + bytes([0x06, 2, 0, 120])
        + bytes(2)
    )
    assert net.arrives(net.s2, 2, frame) is None
    assert net.discovery.foreign == 1 and net.discovery.rejected == Counter()
    assert refusals(caplog) == []


# --- counting and logging -----------------------------------------------------------


def test_a_flood_of_forgeries_makes_one_log_line_per_port_per_minute(net, caplog):
    captured = net.probe()[0][3]
    forged = bytearray(captured)
    forged[-3] ^= 0xFF
    for _ in range(1000):
        net.arrives(net.s2, 3, captured)
        net.arrives(net.s2, 3, bytes(forged))
        net.arrives(net.s2, 2, captured[:30])
        net.arrives(net.s2, 7, captured)
    assert net.discovery.rejected_at[(2, 3)] == {Rejection.HOST_PORT: 1000, Rejection.BAD_MAC: 1000}
    assert net.discovery.rejected_at[(2, 2)] == {Rejection.MALFORMED: 1000}
    assert sum(net.discovery.rejected.values()) == 4000
    lines = refusals(caplog)
    assert lines == [
        'LLDP frame refused on 0000000000000002:3: came in on a port where a host has '
        'been learned; it claims to come from 0000000000000001:3; refused there since '
        'the port came up: host_port 1 (reported at most once a minute per port)',
        'LLDP frame refused on 0000000000000002:2: malformed (ours cut short or '
        'altered, or no LLDP at all); refused there since the port came up: '
        'malformed 1 (reported at most once a minute per port)',
        'LLDP frame refused on 0000000000000002:7: came in on a port that is not live '
        'here; it claims to come from 0000000000000001:3 (reported at most once a minute '
        'per port)',
    ]
    assert all(
        r.levelno == logging.WARNING
        for r in caplog.records
        if 'LLDP frame refused' in r.getMessage()
    )

    net.now += REPORT_INTERVAL - 1
    net.arrives(net.s2, 3, bytes(forged))
    assert len(refusals(caplog)) == 3
    net.now += 1
    net.arrives(net.s2, 3, bytes(forged))
    assert refusals(caplog)[3].endswith(
        'bad_mac 1002, host_port 1000 (reported at most once a minute per port)'
    )


def test_counts_of_a_port_go_with_the_port_and_the_switch(net):
    captured = net.probe()[0][3]
    for in_port in (2, 3):
        net.arrives(net.s2, in_port, captured[:20])
    net.discovery.port_down(2, 2)
    assert set(net.discovery.rejected_at) == {(2, 3)}
    net.discovery.switch_down(2)
    assert net.discovery.rejected_at == {}
    assert net.discovery.rejected == {Rejection.MALFORMED: 2}  # totals stay


def test_a_port_that_comes_back_is_reported_on_again(net, caplog):
    captured = net.probe()[0][3]
    net.arrives(net.s2, 3, captured)
    net.discovery.port_down(2, 3)
    net.discovery.port_up(net.s2, port(3), net.now)
    net.arrives(net.s2, 3, captured)
    assert len(refusals(caplog)) == 2


# --- probing -----------------------------------------------------------------------


def test_a_port_gone_while_a_round_is_sent_is_skipped(net):
    net.probe()
    net.discovery._heads[1].pop(2)  # as port_down does while send_msg yields
    net.discovery._probe(net.s1, [1, 2, 3])
    assert sorted(net.sent(net.s1)) == [1, 3]
    net.discovery.switch_down(1)
    net.discovery._probe(net.s1, [1])
    assert net.sent(net.s1) == {}


def test_the_secret_and_probe_time_come_from_the_options():
    conf = SimpleNamespace(
        link_timeout=3.5, lldp_interval=2.0, lldp_secret='shared', probe_time=2.5
    )
    a = LinkDiscovery.from_options(SwitchGraph(), conf)
    b = LinkDiscovery.from_options(SwitchGraph(), conf)
    assert a.key is not PROCESS_KEY and a.max_age == 5.0 and a.probe_time == 2.5
    assert not a.is_host_port(1, 1)  # no app hook: no port is a host port
    frame = a.key.sign(frame_head(1, 1, '02:00:00:00:00:01'), WALL)
    assert b.key.verify(frame, WALL, b.max_age) == (1, 1)
    conf.lldp_secret = ''
    assert LinkDiscovery.from_options(SwitchGraph(), conf).key is PROCESS_KEY


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=120), st.integers(0, 2**32 - 1))
def test_random_frames_never_raise_nor_make_a_link(data, in_port):
    net = Net()
    for frame in (data, net.probe()[0][3][:22] + data):
        assert net.discovery.lldp_in(2, in_port, frame, 0.0) is None
    assert net.discovery.graph.links == frozenset()


# --- the app base passes the app's hook ---------------------------------------------

GROUP = 'discovery_under_test'
register_options(GROUP, discovery.options())


class HostPortsApp(SuiteApp):
    CONFIG_GROUP = GROUP
    DISCOVERY = True

    def new_switch(self, dp):
        return SimpleNamespace(dp=dp, hosts={3})

    def is_host_port(self, sw, port_no):
        return port_no in sw.hosts


def test_the_app_says_which_ports_have_hosts(monkeypatch):
    monkeypatch.setattr(app_base, '_now', FakeClock())
    app = HostPortsApp()
    try:
        s1, s2 = FakeSwitch(1, (1, 3)), FakeSwitch(2, (1, 3))
        for dp in (s1, s2):
            app._base_state_change(connected(dp))
        relayed = lldp_frame(1, 3, s1.ports[3].hw_addr)
        app.lldp_in(app.switch_of(s2), 3, relayed)
        assert app.discovery.rejected == {Rejection.HOST_PORT: 1}
        app.lldp_in(app.switch_of(s2), 1, lldp_frame(1, 1, s1.ports[1].hw_addr))
        assert app.graph.links == {(1, 1, 2, 1)}
        assert not app._is_host_port(99, 3)  # no such switch
        assert SuiteApp.is_host_port(app, app.switch_of(s1), 3) is False  # the default
    finally:
        app.stop()


def test_l2_learning_refuses_a_link_onto_a_port_with_learned_hosts(monkeypatch, caplog):
    clock = FakeClock()
    monkeypatch.setattr(l2, '_now', clock)
    monkeypatch.setattr(app_base, '_now', clock)
    app = l2.L2Learning()
    caplog.set_level(logging.INFO, logger=app.logger.name)
    try:
        for thread in app.loops:
            app_base.hub.kill(thread)
        s1, s2 = FakeSwitch(1, (1, 3)), FakeSwitch(2, (1, 3))
        for dp in (s1, s2):
            app._base_state_change(connected(dp))
        clock.now += 3.0
        app._probe_tick()  # taken over; ports 3 are host ports
        host = mac_bytes('ff:ff:ff:ff:ff:ff') + mac_bytes('00:00:00:00:00:02') + bytes(48)
        app._packet_in(packet_in(s2, 3, host, l2_pipe.MISS_COOKIE))
        assert app.is_host_port(app.switch_of(s2), 3)
        assert not app.is_host_port(app.switch_of(s1), 3)  # its host never spoke

        relayed = lldp_frame(1, 3, s1.ports[3].hw_addr)  # captured on s1:3
        app._packet_in(packet_in(s2, 3, relayed, l2_pipe.LLDP_COOKIE))
        assert app.graph.links == frozenset()
        assert app.discovery.rejected == {Rejection.HOST_PORT: 1}
        assert 'spanning tree recomputed' not in caplog.text
        app._packet_in(packet_in(s2, 1, lldp_frame(1, 1, s1.ports[1].hw_addr), l2_pipe.LLDP_COOKIE))
        assert app.graph.links == {(1, 1, 2, 1)}
    finally:
        app.stop()


def test_a_port_is_probed_once_up_for_the_probe_time():
    net = Net()
    net.discovery.probe_time = 2.5
    assert not net.discovery.probed(1, 2, net.now + 2.4)
    assert net.discovery.probed(1, 2, net.now + 2.5)
    assert not net.discovery.probed(1, 9, net.now + 60)  # not a live port
    net.discovery.port_down(1, 2)
    assert not net.discovery.probed(1, 2, net.now + 60)
