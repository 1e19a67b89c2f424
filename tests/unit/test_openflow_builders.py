"""PackedMatch serializes exactly like Ryu's OFPMatch (which it replaces on the hot path)."""

import pytest
from ryu.ofproto import ofproto_v1_3_parser as parser

from controller.openflow import PackedMatch, flow_add, mac_bytes, mac_text
from tests.harness.fake_switch import FakeSwitch
from tests.harness.fakes import FakeDatapath


def ryu_bytes(**fields):
    buf = bytearray()
    length = parser.OFPMatch(**fields).serialize(buf, 0)
    return bytes(buf[:length])


def packed_bytes(**fields):
    buf = bytearray()
    length = PackedMatch(**fields).serialize(buf, 0)
    return bytes(buf[:length])


@pytest.mark.parametrize(
    'fields',
    [
        {'in_port': 3, 'eth_src': '00:00:00:00:00:01'},
        {'eth_dst': 'aa:bb:cc:dd:ee:ff'},
        {'in_port': 0xFFFFFFFE},
        {},
    ],
)
def test_packed_match_equals_ryu_match(fields):
    assert packed_bytes(**fields) == ryu_bytes(**fields)


def test_packed_match_writes_at_its_offset_like_ryus_match():
    """Into a buffer shorter than the offset (zero-filled up to it), and over bytes
    already there."""
    fields = {'in_port': 3, 'eth_dst': 'aa:bb:cc:dd:ee:ff'}
    for start in (bytearray(b'xy'), bytearray(b'z' * 40)):
        ryu, packed = bytearray(start), bytearray(start)
        assert PackedMatch(**fields).serialize(packed, 5) == parser.OFPMatch(**fields).serialize(
            ryu, 5
        )
        assert packed == ryu


def test_packed_match_inside_a_flow_mod_round_trips():
    class FakeDatapath:
        ofproto = parser.ofproto
        ofproto_parser = parser

    dp = FakeDatapath()
    mod = parser.OFPFlowMod(
        dp,
        cookie=7,
        table_id=1,
        priority=100,
        match=PackedMatch(in_port=2, eth_src='02:00:00:00:00:09'),
        instructions=[parser.OFPInstructionGotoTable(2)],
    )
    mod.set_xid(1)
    mod.serialize()
    decoded = parser.OFPFlowMod.parser(dp, mod.version, mod.msg_type, mod.msg_len, mod.xid, mod.buf)
    assert decoded.match['in_port'] == 2
    assert decoded.match['eth_src'] == '02:00:00:00:00:09'
    assert decoded.instructions[0].table_id == 2 and decoded.cookie == 7


def test_mac_conversions():
    assert mac_bytes('00:1a:2b:3c:4d:5e') == b'\x00\x1a\x2b\x3c\x4d\x5e'
    assert mac_text(b'\x00\x1a\x2b\x3c\x4d\x5e') == '00:1a:2b:3c:4d:5e'


def test_packed_match_prints_without_error():
    assert (
        str(PackedMatch(in_port=1, eth_src='02:00:00:00:00:01'))
        == "PackedMatch(in_port=1, eth_src='02:00:00:00:00:01')"
    )


def test_send_together_writes_both_messages_back_to_back():
    from controller.openflow import flow_add, send_together

    class RecordingDatapath:
        ofproto = parser.ofproto
        ofproto_parser = parser

        def __init__(self):
            self.xid, self.sent = 0, []

        def set_xid(self, msg):
            self.xid += 1
            msg.set_xid(self.xid)

        def send(self, buf):
            self.sent.append(buf)

    dp = RecordingDatapath()
    mods = [
        flow_add(
            dp,
            0,
            100,
            PackedMatch(in_port=1, eth_src='02:00:00:00:00:01'),
            [parser.OFPInstructionGotoTable(1)],
            cookie=1,
        ),
        flow_add(
            dp,
            1,
            100,
            PackedMatch(eth_dst='02:00:00:00:00:01'),
            [
                parser.OFPInstructionActions(
                    parser.ofproto.OFPIT_APPLY_ACTIONS, [parser.OFPActionOutput(1)]
                )
            ],
            cookie=2,
        ),
    ]
    send_together(dp, mods)
    assert len(dp.sent) == 1
    buf = dp.sent[0]
    first_len = int.from_bytes(buf[2:4], 'big')
    second = buf[first_len:]
    assert len(buf) == first_len + int.from_bytes(second[2:4], 'big')
    decoded = [parser.OFPFlowMod.parser(dp, 4, 14, len(b), 0, b) for b in (buf[:first_len], second)]
    assert [d.cookie for d in decoded] == [1, 2]
    assert decoded[1].match['eth_dst'] == '02:00:00:00:00:01'
    assert [int.from_bytes(b[4:8], 'big') for b in (buf, second)] == [1, 2]  # xids


def test_stamped_messages_go_out_in_one_write_with_the_datapaths_next_xids():
    from controller.openflow import FlowModTemplate, send_stamped

    def build(mac, port):
        return flow_add(
            FakeDatapath(),
            0,
            100,
            PackedMatch(in_port=port, eth_src=mac),
            [parser.OFPInstructionGotoTable(1)],
            cookie=1,
        )

    template = FlowModTemplate(build)
    dp = FakeSwitch(1)
    dp.xid = 41
    send_stamped(dp, [template, template], bytes.fromhex('020000000007'), 9)
    first, second = dp.take()
    assert (first.xid, second.xid, dp.xid) == (42, 43, 43)
    for msg in (first, second):
        assert dict(msg.match.items()) == {'in_port': 9, 'eth_src': '02:00:00:00:00:07'}


def test_a_template_whose_message_holds_no_mac_is_refused():
    from controller.openflow import FlowModTemplate

    with pytest.raises(ValueError, match='holds the MAC or the port nowhere'):
        FlowModTemplate(
            lambda mac, port: flow_add(
                FakeDatapath(), 0, 1, PackedMatch(in_port=port), [], cookie=1
            )
        )
