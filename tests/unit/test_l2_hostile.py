"""apps/l2_learning.py against switches that lie, without a switch: malformed and random
packet-ins (raw bytes parsed by Ryu, as ryu-manager would hand them over), a MAC table
that fills, a flow-removed that is not ours, floods of a large switch rewritten within a
budget, and a second connection with a dpid already connected. The same cases against
the real ryu-manager: tests/unit/test_l2_hostile_switches.py."""

import struct
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ryu.exception import OFPTruncatedMessage
from ryu.ofproto import ofproto_parser
from ryu.ofproto import ofproto_v1_3 as ofp

import apps.l2_learning as l2
from bench.flood_memory import malformed_packet_ins, oxm_tlv, raw_packet_in
from controller.l2 import pipeline as pipe
from controller.lldp import lldp_frame
from controller.openflow import packet_in_fields
from tests.harness.fake_switch import FakeSwitch, connected, dead, flow_removed, port_status
from tests.unit.test_l2_app import H1, H2, H3, PROBE, host_pair, learn, sent, start

MISS, LLDP = pipe.MISS_COOKIE, pipe.LLDP_COOKIE


def deliver(app: l2.L2Learning, dp: FakeSwitch, raw: bytes) -> Any:
    """Hand ``raw`` to the app as ryu-manager would: parsed by Ryu, dropped where Ryu
    cannot parse it (or, cut short, where Ryu ends the connection)."""
    version, msg_type, length, xid = ofproto_parser.header(raw)
    try:
        msg = ofproto_parser.msg(dp, version, msg_type, length, xid, raw)
    except OFPTruncatedMessage:
        return None
    if msg is not None:
        app._packet_in(SimpleNamespace(msg=msg))
    return msg


@pytest.fixture
def app(make_app):  # noqa: F811
    return make_app(packet_in_rate=10**9, packet_in_burst=10**9)


@pytest.mark.parametrize('cookie', [MISS, LLDP], ids=['learning', 'LLDP'])
def test_each_malformed_kind_is_dropped_and_counted(app, clock, caplog, cookie):  # noqa: F811
    dp = start(app, clock, 1)
    counted = 0
    for raw in malformed_packet_ins(cookie).values():
        msg = deliver(app, dp, raw)
        counted += msg is not None and packet_in_fields(msg) is None
    assert app.packet_in_guard.dropped.get(1, 0) == counted == 6
    # An unknown OXM field of the basic class is only unknown to Ryu: in_port and the
    # frame are there, and its source is learned.
    learned = [] if cookie == LLDP else host_pair('06:00:09:00:00:09', 1)
    assert sent(dp) == learned and len(app.switches[1].macs) == len(learned) // 2
    assert caplog.text.count('malformed packet-in dropped') == 1
    assert 'Traceback' not in caplog.text


oxms = st.one_of(
    st.just(oxm_tlv(0x8000, 0, struct.pack('!I', 1))),
    st.builds(
        oxm_tlv,
        st.sampled_from([0x8000, 0x8001, 0xFFFF, 0x0003]),
        st.integers(0, 127),
        st.binary(max_size=10),
    ),
    st.binary(max_size=8),
)
frames = st.one_of(
    st.binary(max_size=64),
    st.builds(
        lambda src, rest: bytes(6) + src + rest,
        st.binary(min_size=6, max_size=6),
        st.binary(max_size=50),
    ),
    st.builds(
        lambda p, mac: lldp_frame(1, p, mac), st.integers(1, 3), st.just('02:00:00:00:00:01')
    ),
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    packet_ins=st.lists(
        st.tuples(
            st.lists(oxms, max_size=3).map(b''.join),
            frames,
            st.one_of(st.none(), st.integers(0, 200)),
            st.sampled_from([MISS, LLDP, 0, 2**64 - 1]),
        ),
        min_size=1,
        max_size=10,
    )
)
def test_no_packet_in_makes_the_handler_raise(app, clock, packet_ins):  # noqa: F811
    """Random match fields, frames and total_len: no exception, and every packet-in
    Ryu lets through with unusable fields is counted (on a switch taken over, with no
    packet-in budget to run out)."""
    if 1 not in app.switches:  # the app lives through every example
        start(app, clock, 1)
    dp = app.switches[1].dp
    before = app.packet_in_guard.dropped.get(1, 0)
    malformed = 0
    for match, data, total_len, cookie in packet_ins:
        msg = deliver(app, dp, raw_packet_in(match, data, total_len, cookie))
        malformed += msg is not None and cookie in (MISS, LLDP) and packet_in_fields(msg) is None
    assert app.packet_in_guard.dropped.get(1, 0) - before == malformed


def test_a_full_mac_table_learns_nothing_more_and_says_so_once(
    make_app,
    clock,
    caplog,
):
    app = make_app(max_macs_per_switch=2)
    dp = start(app, clock, 1)
    for mac in (H1, H2, H3, '00:00:00:00:00:09'):
        learn(app, dp, 1, mac)
    assert sent(dp) == host_pair(H1, 1) + host_pair(H2, 1)
    assert (
        caplog.text.count(
            'switch 0000000000000001: 2 MACs learned '
            '(max_macs_per_switch); new MACs are not learned until some '
            'expire'
        )
        == 1
    )
    learn(app, dp, 1, H1)  # a known host still refreshes
    assert sent(dp) == host_pair(H1, 1)


def test_a_flow_removed_that_is_not_one_of_ours_is_ignored(app, clock):  # noqa: F811
    dp = start(app, clock, 1)
    learn(app, dp, 1, H1)
    dp.take()
    for match in ({}, {'eth_dst': 5}, {'in_port': 1}):
        app._flow_removed(flow_removed(dp, pipe.DST_COOKIE, match))
    assert sent(dp) == [] and H1 in app.switches[1].macs


def many_ports(n: int) -> tuple[int, ...]:
    return tuple(range(1, n + 1))


def test_a_large_switch_blocks_at_once_and_rewrites_its_floods_in_the_probe_loop(
    app, clock, caplog
):
    n = l2.EVENT_LOOP_FLOOD_PORTS + 6
    dp = start(app, clock, 1, many_ports(n))
    assert len(app.switches[1].port_rules.forwarding) == n
    app._base_port_status(port_status(dp, dp.ports[1]._replace(state=ofp.OFPPS_LINK_DOWN)))
    flush = [('del', 0, {'in_port': 1}, pipe.SRC, None, None), ('del', 1, {}, pipe.DST, 1, None)]
    no_flood = ('del', 1, {'in_port': 1}, pipe.FLOOD, None, pipe.PRIO_FLOOD)
    assert sent(dp) == flush + [no_flood]
    assert 'floods rewritten at the next probe' in caplog.text
    app._probe_tick()
    floods = sent(dp)
    assert len(floods) == n - 1 and {m[4] for m in floods} == {pipe.FLOOD}
    assert all(len(m[5]) == n - 2 for m in floods)
    assert not app.switches[1].port_rules.floods_due


def test_a_large_switchs_rewrites_wait_for_their_budget(app, clock):  # noqa: F811
    n = 600  # a rewrite: 600 flood rules
    dp = start(app, clock, 1, many_ports(n))  # the take-over spent 600 of 1500
    for port_no in (1, 2, 3):
        app._base_port_status(
            port_status(dp, dp.ports[port_no]._replace(state=ofp.OFPPS_LINK_DOWN))
        )
    app._probe_tick()  # 897 left: one rewrite of 597
    assert len(sent(dp)) == 3 * 3 + n - 3
    app._base_port_status(port_status(dp, dp.ports[4]._replace(state=ofp.OFPPS_LINK_DOWN)))
    app._probe_tick()  # 300 left: the floods wait
    assert len(sent(dp)) == 3 and app.switches[1].port_rules.floods_due
    clock.now += 0.3
    app._probe_tick()
    assert len(sent(dp)) == n - 4 and not app.switches[1].port_rules.floods_due


def test_a_second_connection_takes_over_and_the_first_gets_nothing_more(
    app,
    clock,  # noqa: F811
    caplog,
):
    genuine = start(app, clock, 5)
    learn(app, genuine, 1, H1)
    genuine.take()
    impostor = FakeSwitch(5)
    app._base_state_change(connected(impostor))
    assert genuine.closed and 'takes over' in caplog.text
    # The old connection's late packet-ins and port changes are not heard; nothing is
    # sent to it; the new one is programmed as a switch of its own.
    learn(app, genuine, 1, H2)
    app._base_port_status(
        port_status(genuine, genuine.ports[2]._replace(state=ofp.OFPPS_LINK_DOWN))
    )
    clock.now += PROBE
    app._probe_tick()
    learn(app, impostor, 1, H3)
    app._base_state_change(dead(genuine))
    assert genuine.sent == [] and app.switches[5].dp is impostor
    assert sent(impostor)[-2:] == host_pair(H3, 1)
    assert H1 not in app.switches[5].macs and H2 not in app.switches[5].macs
