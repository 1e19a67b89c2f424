"""The arbiter against a lying switch: a malformed packet-in (no in_port, a frame shorter
than an Ethernet header) reaches no app, so third-party apps such as simple_switch_13 do
not log a traceback for each; a second connection of a dpid takes over (the older one is
closed) and other switches are still served."""

import asyncio
import logging

from ryu.controller import ofp_event
from ryu.ofproto import ofproto_v1_3_parser as parser

from bench import ofemu
from controller.arbiter import interpose
from controller.arbiter.engine import Arbiter
from controller.arbiter.policy import DEFAULT_POLICY
from tests.harness.controller import RyuController
from tests.harness.fakes import FakeDatapath

OBSERVERS = ['SimpleSwitch13', 'RestFirewall', 'AppArbiter']


def packet_in(dp, match, data):
    return ofp_event.EventOFPPacketIn(
        parser.OFPPacketIn(
            dp,
            buffer_id=0xFFFFFFFF,
            total_len=len(data),
            reason=0,
            table_id=0,
            cookie=0,
            match=match,
            data=data,
        )
    )


def observers_of(ev, monkeypatch):
    engine = Arbiter(
        DEFAULT_POLICY, send=lambda dp, data: None, notify=lambda app, dp, msg, decision: None
    )
    monkeypatch.setitem(interpose._state, 'arbiter', engine)
    get_observers = interpose._narrowed_observers(lambda ev, state: list(OBSERVERS), {'AppArbiter'})
    return get_observers(ev, None)


def test_malformed_packet_ins_reach_no_app_and_are_counted(monkeypatch, caplog):
    dp = FakeDatapath(7)
    frame = bytes(60)
    cases = [
        packet_in(dp, parser.OFPMatch(), frame),  # no in_port
        packet_in(dp, parser.OFPMatch(in_port=1), bytes(8)),  # cut short
        packet_in(dp, parser.OFPMatch(in_port=0xFFFFFFF0), frame),
    ]  # not a port
    before = interpose.PACKET_IN_GUARD.dropped.get(7, 0)
    with caplog.at_level(logging.WARNING, logger='arbiter'):
        for ev in cases:
            assert observers_of(ev, monkeypatch) == ['AppArbiter']
    assert interpose.PACKET_IN_GUARD.dropped[7] == before + 3
    assert len([r for r in caplog.records if r.name == 'arbiter']) <= 1


def test_a_well_formed_packet_in_still_reaches_the_apps(monkeypatch):
    ev = packet_in(FakeDatapath(8), parser.OFPMatch(in_port=3), bytes(60))
    assert observers_of(ev, monkeypatch) == OBSERVERS


async def _impostor_then_fresh_switch(port):
    genuine = ofemu.EmulatedSwitch(5, port=port, cookie=ofemu.FROM_TABLE_MISS)
    await genuine.start(timeout=10.0)
    impostor = ofemu.EmulatedSwitch(5, port=port, cookie=ofemu.FROM_TABLE_MISS)
    await impostor.start(timeout=10.0)
    for _ in range(50):  # the older connection is closed
        if genuine.transport.is_closing():
            break
        await asyncio.sleep(0.1)
    fresh = ofemu.EmulatedSwitch(6, port=port, cookie=ofemu.FROM_TABLE_MISS)
    await fresh.start(timeout=10.0)  # and a fresh switch is still served
    outcome = (genuine.transport.is_closing(), impostor.flow_mods, fresh.flow_mods)
    for switch in (genuine, impostor, fresh):
        switch.close()
    return outcome


def test_a_second_connection_of_a_dpid_takes_over_and_others_are_served(tmp_path):
    apps = ['apps/arbiter.py', 'ryu.app.simple_switch_13']
    with RyuController(apps, str(tmp_path / 'ryu.log')) as ryu:
        older_closed, impostor_flow_mods, fresh_flow_mods = asyncio.run(
            _impostor_then_fresh_switch(ryu.ofp_port)
        )
        log = ryu.log_text()
        assert ryu.alive(), log
    assert older_closed, log
    assert impostor_flow_mods >= 1 and fresh_flow_mods >= 1, log
    assert 'connected again; the older connection is closed' in log
    assert 'Traceback' not in log, log
