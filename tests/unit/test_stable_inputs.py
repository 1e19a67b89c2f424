"""What the stable-routing app takes from switches, checked before use
(controller/stable/inputs.py), the tally of what it drops, and the host table with its
per-port limit (controller/stable/hosts.py)."""

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ryu.ofproto import ofproto_v1_3_parser as parser

from controller.stable import inputs
from controller.stable.hosts import HostChange, HostTable
from tests.harness.stable_fakes import FakeClock


@pytest.mark.parametrize(
    'match, port',
    [
        (parser.OFPMatch(in_port=3), 3),
        ({'in_port': 0xFFFFFF00}, 0xFFFFFF00),
        (parser.OFPMatch(), None),
        ({}, None),
        (None, None),
        ('in_port', None),
        (7, None),
        ({'in_port': 0}, None),
        ({'in_port': 0xFFFFFFFD}, None),
        ({'in_port': -1}, None),
        ({'in_port': '3'}, None),
        ({'in_port': 3.0}, None),
    ],
)
def test_in_port_must_be_a_physical_port_number(match, port):
    assert inputs.in_port_of(match) == port


@given(st.binary(max_size=40))
def test_a_frame_needs_an_ethernet_header(data):
    frame = inputs.frame_bytes(data)
    assert frame == (data if len(data) >= 14 else None)


@pytest.mark.parametrize('data', [None, 'text', 14, [0] * 20])
def test_a_frame_must_be_bytes(data):
    assert inputs.frame_bytes(data) is None


@pytest.mark.parametrize(
    'src, mac',
    [
        ('020000000001', '02:00:00:00:00:01'),
        ('010000000001', None),
        ('ffffffffffff', None),
        ('000000000000', None),
        ('001122334455', '00:11:22:33:44:55'),
    ],
)
def test_a_host_source_is_unicast_and_not_zero(src, mac):
    frame = bytes(6) + bytes.fromhex(src) + b'\x08\x00'
    assert inputs.host_source(frame) == mac
    assert not inputs.is_fabric_frame(frame)
    assert inputs.is_fabric_frame(bytes(12) + b'\x88\xa8')


@pytest.mark.parametrize(
    'mac, ok',
    [
        ('02:00:00:00:00:01', True),
        ('01:00:00:00:00:01', False),
        ('00:00:00:00:00:00', False),
        ('02:00:00:00:00', False),
        ('02-00-00-00-00-01', False),
        ('02:00:00:00:00:0g', False),
        ('0200:00:00:00:001', False),
        (None, False),
        (('02:00:00:00:00:01', 'ff'), False),
        (b'\x02\x00\x00\x00\x00\x01', False),
    ],
)
def test_a_read_back_mac_is_checked(mac, ok):
    assert inputs.is_host_mac(mac) is ok


def test_the_tally_reports_the_first_drop_then_once_per_interval():
    clock, totals = FakeClock(), Counter()
    tally = inputs.DropTally(60.0, totals, clock=clock)
    assert tally.drop(inputs.SHORT_FRAME) == Counter({inputs.SHORT_FRAME: 1})
    for _ in range(5):
        assert tally.drop(inputs.SHORT_FRAME) is None
    clock.now += 59.5
    assert tally.drop(inputs.NO_IN_PORT) is None
    clock.now += 0.5
    due = tally.drop(inputs.NO_IN_PORT)
    assert due == Counter({inputs.SHORT_FRAME: 5, inputs.NO_IN_PORT: 2})
    assert inputs.summary(due) == 'frame shorter than an Ethernet header 5, no in_port 2'
    assert tally.reported == 2
    assert tally.counts == totals == Counter({inputs.SHORT_FRAME: 6, inputs.NO_IN_PORT: 2})


# --- the host table -----------------------------------------------------------------


def mac(n):
    return '02:00:00:00:%02x:%02x' % divmod(n, 256)


def test_hosts_are_learned_moved_and_forgotten():
    hosts = HostTable(max_per_port=4)
    assert hosts.learn(mac(1), (1, 1)) == (HostChange.NEW, None)
    assert hosts.learn(mac(1), (1, 1)) == (HostChange.KNOWN, None)
    assert hosts.learn(mac(2), (1, 2)) == (HostChange.NEW, None)
    assert hosts.learn(mac(1), (2, 1)) == (HostChange.MOVED, (1, 1))
    assert hosts == {mac(1): (2, 1), mac(2): (1, 2)} and len(hosts) == 2
    assert hosts.count_at(1, 1) == 0 and hosts.count_at(2, 1) == 1
    assert hosts.forget_port(1, 2) == [mac(2)] and hosts.forget_port(1, 2) == []
    assert hosts.forget_switch(2) == [mac(1)] and hosts == {}
    assert hosts.forget_switch(9) == []


def test_a_full_port_refuses_new_hosts_and_hosts_moving_in():
    hosts = HostTable(max_per_port=3)
    for n in range(3):
        hosts.learn(mac(n), (1, 1))
    assert hosts.learn(mac(99), (1, 1)) == (HostChange.REFUSED, None)
    hosts.learn(mac(50), (2, 1))
    assert hosts.learn(mac(50), (1, 1)) == (HostChange.REFUSED, (2, 1))
    assert hosts[mac(50)] == (2, 1)  # stays where it was
    assert hosts.learn(mac(0), (1, 1)) == (HostChange.KNOWN, None)  # known ones work
    assert hosts.refused == 2 and hosts.count_at(1, 1) == 3
    hosts.forget_port(1, 1)
    assert hosts.learn(mac(99), (1, 1)) == (HostChange.NEW, None)


@given(st.lists(st.tuples(st.integers(0, 40), st.integers(1, 3), st.integers(1, 3)), max_size=200))
def test_the_index_always_matches_the_places(events):
    hosts = HostTable(max_per_port=5)
    for n, dpid, port in events:
        if n == 0:
            hosts.forget_port(dpid, port)
        elif n == 1:
            hosts.forget_switch(dpid)
        else:
            hosts.learn(mac(n), (dpid, port))
    by_place = Counter(hosts.values())
    assert all(count <= 5 for count in by_place.values())
    assert all(hosts.count_at(*place) == count for place, count in by_place.items())
    assert sum(hosts.count_at(d, p) for d in (1, 2, 3) for p in (1, 2, 3)) == len(hosts)


def test_the_limit_must_be_positive():
    with pytest.raises(ValueError):
        HostTable(0)
