"""PackedMatch serializes exactly like Ryu's OFPMatch (which it replaces on the hot path)."""

import pytest
from ryu.ofproto import ofproto_v1_3_parser as parser

from controller.openflow import PackedMatch, mac_bytes, mac_text


def ryu_bytes(**fields):
    buf = bytearray()
    length = parser.OFPMatch(**fields).serialize(buf, 0)
    return bytes(buf[:length])


def packed_bytes(**fields):
    buf = bytearray()
    length = PackedMatch(**fields).serialize(buf, 0)
    return bytes(buf[:length])


@pytest.mark.parametrize('fields', [
    {'in_port': 3, 'eth_src': '00:00:00:00:00:01'},
    {'eth_dst': 'aa:bb:cc:dd:ee:ff'},
    {'in_port': 0xfffffffe},
    {},
])
def test_packed_match_equals_ryu_match(fields):
    assert packed_bytes(**fields) == ryu_bytes(**fields)


def test_packed_match_inside_a_flow_mod_round_trips():
    class FakeDatapath:
        ofproto = parser.ofproto
        ofproto_parser = parser

    dp = FakeDatapath()
    mod = parser.OFPFlowMod(dp, cookie=7, table_id=1, priority=100,
                            match=PackedMatch(in_port=2, eth_src='02:00:00:00:00:09'),
                            instructions=[parser.OFPInstructionGotoTable(2)])
    mod.set_xid(1)
    mod.serialize()
    decoded = parser.OFPFlowMod.parser(dp, mod.version, mod.msg_type, mod.msg_len,
                                       mod.xid, mod.buf)
    assert decoded.match['in_port'] == 2
    assert decoded.match['eth_src'] == '02:00:00:00:00:09'
    assert decoded.instructions[0].table_id == 2 and decoded.cookie == 7


def test_mac_conversions():
    assert mac_bytes('00:1a:2b:3c:4d:5e') == b'\x00\x1a\x2b\x3c\x4d\x5e'
    assert mac_text(b'\x00\x1a\x2b\x3c\x4d\x5e') == '00:1a:2b:3c:4d:5e'
