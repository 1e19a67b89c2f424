"""bench.ofemu: OpenFlow 1.3 switch emulation, checked against Ryu's own parser.

Three levels: the bytes the emulator builds decode with Ryu's OpenFlow 1.3 parser;
an emulated switch against a small in-process controller (asyncio, Ryu's serializers)
for the handshake, the requests, the errors and the matching of replies to
packet-ins; and end to end against a real ``ryu-manager`` (simple_switch_13 and
bench/apps/one_flowmod.py), started and stopped by pid on a free port.
"""

import asyncio
import json
import os
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ryu.lib.packet import arp, ethernet, ipv4, packet, udp
from ryu.ofproto import ofproto_parser
from ryu.ofproto import ofproto_v1_3 as ofp
from ryu.ofproto import ofproto_v1_3_parser as parser

from bench import cbench, ofemu
from bench.apps.one_flowmod import FLOW_MOD_LEN, flow_mod_bytes
from tests.harness.controller import RyuController, free_port


class FakeDatapath:
    """What Ryu's parser and serializers need from a datapath."""

    ofproto = ofp
    ofproto_parser = parser
    id = 1


DP = FakeDatapath()


def decode(buf):
    buf = bytes(buf)
    version, msg_type, msg_len, xid = ofproto_parser.header(buf)
    assert msg_len == len(buf)
    return ofproto_parser.msg(DP, version, msg_type, msg_len, xid, buf)


def encode(msg, xid=1):
    if msg.xid is None:
        msg.set_xid(xid)
    msg.serialize()
    return bytes(msg.buf)


HOST = ofemu.host_mac(7, 1)
SRC = ofemu.probe_mac(7, 42)
UDP_FRAME = ofemu.udp_frame(HOST, SRC, ofemu.PROBE_IP, bytes((10, 0, 7, 1)))
ARP_FRAME = ofemu.arp_request_frame(HOST, bytes((10, 0, 7, 1)), ofemu.PROBE_IP)


# --- the bytes -----------------------------------------------------------------------------


@pytest.mark.parametrize('frame', [UDP_FRAME, ARP_FRAME], ids=['udp', 'arp'])
def test_packet_in_decodes_with_ryu(frame):
    builder = ofemu.PacketInBuilder(cookie=0x1234ABCD5678, reason=ofp.OFPR_NO_MATCH)
    msg = decode(builder.build(77, 3, frame))
    assert isinstance(msg, parser.OFPPacketIn)
    assert msg.xid == 77
    assert msg.match['in_port'] == 3
    assert bytes(msg.data) == frame
    assert msg.total_len == len(frame) == 60
    assert msg.cookie == 0x1234ABCD5678
    assert msg.buffer_id == ofp.OFP_NO_BUFFER
    assert msg.reason == ofp.OFPR_NO_MATCH
    assert msg.table_id == 0


@settings(max_examples=60, deadline=None)
@given(
    xid=st.integers(0, 2**32 - 1),
    in_port=st.integers(1, 0xFFFFFF00),
    cookie=st.integers(0, 2**64 - 1),
    reason=st.sampled_from([0, 1]),
    table_id=st.integers(0, 253),
    frame=st.binary(min_size=14, max_size=200),
)
def test_any_packet_in_decodes_with_ryu(xid, in_port, cookie, reason, table_id, frame):
    msg = decode(ofemu.packet_in(xid, in_port, frame, cookie, reason, table_id))
    assert (
        msg.xid,
        msg.match['in_port'],
        msg.cookie,
        msg.reason,
        msg.table_id,
        msg.total_len,
        bytes(msg.data),
    ) == (xid, in_port, cookie, reason, table_id, len(frame), frame)


def test_frames_decode_with_ryu_packet_library():
    pkt = packet.Packet(ARP_FRAME)
    eth, a = pkt.get_protocol(ethernet.ethernet), pkt.get_protocol(arp.arp)
    assert eth.dst == 'ff:ff:ff:ff:ff:ff' and eth.src == ofemu.mac_text(HOST)
    assert a.opcode == arp.ARP_REQUEST and a.src_mac == ofemu.mac_text(HOST)
    assert a.src_ip == '10.0.7.1' and a.dst_ip == '192.0.2.1'

    pkt = packet.Packet(UDP_FRAME)
    eth, ip, u = (
        pkt.get_protocol(ethernet.ethernet),
        pkt.get_protocol(ipv4.ipv4),
        pkt.get_protocol(udp.udp),
    )
    assert (eth.dst, eth.src) == (ofemu.mac_text(HOST), ofemu.mac_text(SRC))
    assert (ip.src, ip.dst, ip.proto, ip.total_length) == ('192.0.2.1', '10.0.7.1', 17, 46)
    assert u.dst_port == 9 and u.total_length == 26
    header = UDP_FRAME[14:34]  # a valid IPv4 checksum sums to 0xffff
    total = sum(struct.unpack('!10H', header))
    assert (total & 0xFFFF) + (total >> 16) == 0xFFFF


def test_mac_families_are_distinct_and_locally_administered():
    macs = [
        ofemu.host_mac(3, 5),
        ofemu.probe_mac(3, 5),
        ofemu.learn_mac(3, 5),
        ofemu.port_hw_addr(3, 5),
    ]
    assert len(set(macs)) == 4
    for mac in macs:
        assert len(mac) == 6 and mac[0] & 0x03 == 0x02  # local, unicast
    assert ofemu.host_mac(3, 5) != ofemu.host_mac(4, 5)


def test_features_reply_decodes_with_ryu():
    msg = decode(ofemu.features_reply(9, 0x1122334455))
    assert isinstance(msg, parser.OFPSwitchFeatures)
    assert (msg.xid, msg.datapath_id, msg.n_buffers, msg.n_tables, msg.auxiliary_id) == (
        9,
        0x1122334455,
        0,
        254,
        0,
    )
    assert msg.capabilities & ofp.OFPC_FLOW_STATS and msg.capabilities & ofp.OFPC_PORT_STATS


def test_port_desc_reply_decodes_with_ryu():
    msg = decode(ofemu.port_desc_reply(5, 12, 3))
    assert isinstance(msg, parser.OFPPortDescStatsReply)
    assert [p.port_no for p in msg.body] == [1, 2, 3]
    port = msg.body[1]
    assert port.name == b's12-eth2'
    assert port.hw_addr == ofemu.mac_text(ofemu.port_hw_addr(12, 2))
    assert port.state == ofp.OFPPS_LIVE and port.config == 0
    assert port.curr & ofp.OFPPF_10GB_FD and port.curr_speed == 10000000
    assert msg.flags == 0


def test_a_port_desc_reply_too_large_for_one_message_comes_in_parts():
    data, parts = ofemu.port_desc_reply(6, 12, 2500), []
    while data:
        length = ofproto_parser.header(data)[2]
        parts.append(decode(data[:length]))
        data = data[length:]
    assert [len(p.body) for p in parts] == [1000, 1000, 500]
    assert [p.flags for p in parts] == [ofp.OFPMPF_REPLY_MORE] * 2 + [0]
    assert [port.port_no for p in parts for port in p.body] == list(range(1, 2501))


def test_port_status_decodes_with_ryu():
    msg = decode(ofemu.port_status(3, 12, 7, ofemu.OFPPR_MODIFY, up=False))
    assert isinstance(msg, parser.OFPPortStatus)
    assert msg.reason == ofp.OFPPR_MODIFY and msg.desc.port_no == 7
    assert msg.desc.state == ofp.OFPPS_LINK_DOWN and msg.desc.name == b's12-eth7'
    assert decode(ofemu.port_status(4, 12, 7, ofemu.OFPPR_ADD)).desc.state == ofp.OFPPS_LIVE


def test_hello_offers_openflow_13_only():
    msg = decode(ofemu.hello_msg(1))
    assert isinstance(msg, parser.OFPHello)
    assert msg.elements[0].versions == [ofp.OFP_VERSION]


def test_one_flowmod_bytes_decode_with_ryu():
    buf = flow_mod_bytes(5, 3, HOST, buffer_id=ofp.OFP_NO_BUFFER)
    assert len(buf) == FLOW_MOD_LEN
    msg = parser.OFPFlowMod.parser(DP, *ofproto_parser.header(buf), buf)
    assert msg.match['in_port'] == 3 and msg.match['eth_dst'] == ofemu.mac_text(HOST)
    assert len(msg.match.items()) == 2
    assert (msg.command, msg.priority, msg.buffer_id) == (ofp.OFPFC_ADD, 1, ofp.OFP_NO_BUFFER)
    (inst,) = msg.instructions
    (action,) = inst.actions
    assert isinstance(action, parser.OFPActionOutput) and action.port == ofp.OFPP_FLOOD


def test_rss_kib_of_this_process():
    assert ofemu.rss_kib(os.getpid()) > 1000


# --- one switch against an in-process controller -----------------------------------------


class FakeController:
    """The controller side of one connection, played with Ryu's serializers."""

    def __init__(self):
        self.accepted = None
        self.server = None
        self.port = None
        self.writers = []

    async def __aenter__(self):
        self.accepted = asyncio.Queue()
        self.server = await asyncio.start_server(self._accept, '127.0.0.1', 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def _accept(self, reader, writer):
        self.writers.append(writer)
        await self.accepted.put((reader, writer))

    async def __aexit__(self, *exc):
        for w in self.writers:
            w.close()
        self.server.close()

    async def connection(self):
        reader, writer = await asyncio.wait_for(self.accepted.get(), 5)
        return Conn(reader, writer)


class Conn:
    def __init__(self, reader, writer):
        self.reader, self.writer = reader, writer
        self.xid = 100

    def send(self, msg):
        self.xid += 1
        self.writer.write(encode(msg, self.xid))
        return self.xid

    async def recv(self, timeout=5):
        head = await asyncio.wait_for(self.reader.readexactly(8), timeout)
        length = struct.unpack('!H', head[2:4])[0]
        body = await asyncio.wait_for(self.reader.readexactly(length - 8), timeout)
        return decode(head + body)

    async def handshake(self, flow_mods=()):
        """Ryu's side: HELLO, FEATURES, [flow-mods], PORT_DESC, answer the echo probe."""
        assert isinstance(await self.recv(), parser.OFPHello)
        self.send(parser.OFPHello(DP, elements=[parser.OFPHelloElemVersionBitmap([1, 4, 5])]))
        self.send(parser.OFPFeaturesRequest(DP))
        features = await self.recv()
        for fm in flow_mods:
            self.send(fm)
        self.send(parser.OFPPortDescStatsRequest(DP, 0))
        ports = await self.recv()
        echo = await self.recv()
        assert isinstance(echo, parser.OFPEchoRequest)
        reply = parser.OFPEchoReply(DP, data=echo.data)
        reply.xid = echo.xid
        self.send(reply)
        return features, ports


def table_miss(cookie=0):
    actions = [parser.OFPActionOutput(ofp.OFPP_CONTROLLER, ofp.OFPCML_NO_BUFFER)]
    return parser.OFPFlowMod(
        DP,
        cookie=cookie,
        priority=0,
        match=parser.OFPMatch(),
        instructions=[parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, actions)],
    )


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 20))


def test_handshake_ready_and_requests():
    async def scenario():
        async with FakeController() as ctl:
            sw = ofemu.EmulatedSwitch(0x2A, 3, '127.0.0.1', ctl.port, ready_grace=0.05)
            starting = asyncio.ensure_future(sw.start(timeout=5))
            conn = await ctl.connection()
            features, ports = await conn.handshake()
            await starting
            assert sw.ready and sw.phase == 'ready'
            assert isinstance(features, parser.OFPSwitchFeatures)
            assert features.datapath_id == 0x2A and features.n_tables == 254
            assert [p.port_no for p in ports.body] == [1, 2, 3]

            echo = parser.OFPEchoRequest(DP, data=b'ping')
            xid = conn.send(echo)
            reply = await conn.recv()
            assert isinstance(reply, parser.OFPEchoReply)
            assert (reply.xid, reply.data) == (xid, b'ping')

            conn.send(parser.OFPSetConfig(DP, ofp.OFPC_FRAG_NORMAL, 0xFFE5))
            xid = conn.send(parser.OFPGetConfigRequest(DP))
            reply = await conn.recv()
            assert isinstance(reply, parser.OFPGetConfigReply)
            assert (reply.xid, reply.miss_send_len) == (xid, 0xFFE5)

            expected = [
                (parser.OFPDescStatsRequest(DP, 0), parser.OFPDescStatsReply),
                (parser.OFPFlowStatsRequest(DP), parser.OFPFlowStatsReply),
                (
                    parser.OFPAggregateStatsRequest(
                        DP, 0, ofp.OFPTT_ALL, ofp.OFPP_ANY, ofp.OFPG_ANY, 0, 0, parser.OFPMatch()
                    ),
                    parser.OFPAggregateStatsReply,
                ),
                (parser.OFPTableStatsRequest(DP, 0), parser.OFPTableStatsReply),
                (parser.OFPPortStatsRequest(DP, 0, ofp.OFPP_ANY), parser.OFPPortStatsReply),
                (parser.OFPGroupFeaturesStatsRequest(DP, 0), parser.OFPGroupFeaturesStatsReply),
                (parser.OFPMeterFeaturesStatsRequest(DP, 0), parser.OFPMeterFeaturesStatsReply),
                (parser.OFPBarrierRequest(DP), parser.OFPBarrierReply),
                (parser.OFPRoleRequest(DP, ofp.OFPCR_ROLE_MASTER, 5), parser.OFPRoleReply),
                (parser.OFPGetAsyncRequest(DP), parser.OFPGetAsyncReply),
            ]
            for request, reply_cls in expected:
                xid = conn.send(request)
                reply = await conn.recv()
                assert isinstance(reply, reply_cls) and reply.xid == xid
                if reply_cls is parser.OFPDescStatsReply:
                    assert reply.body.dp_desc.rstrip(b'\0') == b'ofemu dpid 42'
                if reply_cls is parser.OFPFlowStatsReply:
                    assert reply.body == []
                if reply_cls is parser.OFPRoleReply:
                    assert (reply.role, reply.generation_id) == (ofp.OFPCR_ROLE_MASTER, 5)

            # modifications get no reply: the next message is the barrier's
            conn.send(table_miss())
            conn.send(parser.OFPGroupMod(DP, ofp.OFPGC_ADD, ofp.OFPGT_ALL, 1, []))
            xid = conn.send(parser.OFPBarrierRequest(DP))
            reply = await conn.recv()
            assert isinstance(reply, parser.OFPBarrierReply) and reply.xid == xid
            assert sw.flow_mods == 1 and sw.group_mods == 1
            assert sw.rx_by_name()['MULTIPART_REQUEST'] == 8

            # a message no switch accepts: an OFPT_ERROR BAD_REQUEST/BAD_TYPE
            conn.writer.write(ofemu.features_reply(200, 1))
            reply = await conn.recv()
            assert isinstance(reply, parser.OFPErrorMsg)
            assert (reply.type, reply.code) == (ofp.OFPET_BAD_REQUEST, ofp.OFPBRC_BAD_TYPE)
            assert reply.xid == 200
            assert bytes(reply.data[:8]) == ofemu.features_reply(200, 1)[:8]
            sw.close()

    run(scenario())


def bundle(msgs):
    """An ONF bundle as controller/bundles.py sends it: open, add each, commit."""
    flags = ofp.ONF_BF_ATOMIC | ofp.ONF_BF_ORDERED
    return (
        [parser.ONFBundleCtrlMsg(DP, 7, ofp.ONF_BCT_OPEN_REQUEST, flags, [])]
        + [parser.ONFBundleAddMsg(DP, 7, flags, msg, []) for msg in msgs]
        + [parser.ONFBundleCtrlMsg(DP, 7, ofp.ONF_BCT_COMMIT_REQUEST, flags, [])]
    )


@pytest.mark.parametrize('fault', [None, ofemu.FAULT_REFUSE, ofemu.FAULT_NO_BARRIER])
def test_bundles_and_faulty_switches(fault):
    """A healthy switch answers bundle control requests and barriers; a refusing one
    answers every flow-mod, group-mod and bundle message with an error (and barriers
    still); a hanging one takes everything and never answers a barrier."""

    async def scenario():
        async with FakeController() as ctl:
            sw = ofemu.EmulatedSwitch(9, 2, '127.0.0.1', ctl.port, ready_grace=0.05, fault=fault)
            starting = asyncio.ensure_future(sw.start(timeout=5))
            conn = await ctl.connection()
            await conn.handshake()
            await starting
            sent = [conn.send(msg) for msg in bundle([table_miss()])]
            sent.append(conn.send(table_miss()))
            sent.append(conn.send(parser.OFPGroupMod(DP, ofp.OFPGC_ADD, ofp.OFPGT_ALL, 1, [])))
            barrier = conn.send(parser.OFPBarrierRequest(DP))
            replies = []
            try:
                while True:
                    replies.append(await conn.recv(timeout=0.5))
            except asyncio.TimeoutError:
                pass
            sw.close()
            return sent, barrier, replies, sw

    sent, barrier, replies, sw = run(scenario())
    kinds = [(type(r).__name__, r.xid) for r in replies]
    if fault is None:
        assert kinds == [
            ('ONFBundleCtrlMsg', sent[0]),
            ('ONFBundleCtrlMsg', sent[2]),
            ('OFPBarrierReply', barrier),
        ]
        assert [r.type for r in replies[:2]] == [ofp.ONF_BCT_OPEN_REPLY, ofp.ONF_BCT_COMMIT_REPLY]
        assert sw.bundles_committed == 1 and sw.refused == 0
    elif fault == ofemu.FAULT_REFUSE:
        assert kinds == [('OFPErrorMsg', xid) for xid in sent] + [('OFPBarrierReply', barrier)]
        assert {(r.type, r.code) for r in replies[:-1]} == {
            (ofp.OFPET_BAD_REQUEST, ofp.OFPBRC_EPERM)
        }
        assert sw.bundles_committed == 0 and sw.refused == 5
    else:
        assert kinds == [('ONFBundleCtrlMsg', sent[0]), ('ONFBundleCtrlMsg', sent[2])]
    with pytest.raises(ValueError, match='fault'):
        ofemu.EmulatedSwitch(1, fault='flaky')


def test_send_message_goes_as_it_is():
    async def scenario():
        async with FakeController() as ctl:
            sw = ofemu.EmulatedSwitch(9, 2, '127.0.0.1', ctl.port, ready_grace=0.05)
            starting = asyncio.ensure_future(sw.start(timeout=5))
            conn = await ctl.connection()
            await conn.handshake()
            await starting
            sw.send_message(ofemu.packet_in(77, 2, bytes(8)))
            msg = await conn.recv()
            sw.close()
            return msg, sw

    msg, sw = run(scenario())
    assert isinstance(msg, parser.OFPPacketIn) and msg.xid == 77
    assert (msg.match['in_port'], msg.data) == (2, bytes(8))
    assert not sw.closed_by_controller


def test_handshake_timeout_names_the_switch_and_phase():
    async def scenario():
        async with FakeController() as ctl:
            sw = ofemu.EmulatedSwitch(5, 2, '127.0.0.1', ctl.port)
            starting = asyncio.ensure_future(sw.start(timeout=0.5))
            conn = await ctl.connection()
            await conn.recv()
            conn.send(parser.OFPHello(DP))  # ... and no FEATURES_REQUEST
            with pytest.raises(ofemu.BenchError) as info:
                await starting
            assert info.value.dpid == 5 and info.value.phase == 'features'
            assert 'FEATURES_REQUEST' in str(info.value) and 'dpid=5' in str(info.value)
            sw.close()

    run(scenario())


def test_controller_closing_the_connection_is_an_error_naming_the_phase():
    async def scenario():
        async with FakeController() as ctl:
            sw = ofemu.EmulatedSwitch(6, 2, '127.0.0.1', ctl.port)
            starting = asyncio.ensure_future(sw.start(timeout=5))
            conn = await ctl.connection()
            await conn.recv()
            conn.send(parser.OFPHello(DP))
            conn.send(parser.OFPFeaturesRequest(DP))
            await conn.recv()
            conn.writer.close()
            with pytest.raises(ofemu.BenchError) as info:
                await starting
            assert info.value.phase == 'port-desc' and 'closed' in str(info.value)

    run(scenario())


def test_connection_refused_is_phase_connect():
    async def scenario():
        port = free_port()
        with pytest.raises(ofemu.BenchError) as info:
            await ofemu.EmulatedSwitch(3, 2, '127.0.0.1', port).start(timeout=2)
        assert info.value.phase == 'connect'

    run(scenario())


def test_cookie_taken_from_the_table_miss_flow_mod():
    async def scenario():
        async with FakeController() as ctl:
            sw = ofemu.EmulatedSwitch(8, 2, '127.0.0.1', ctl.port, cookie=ofemu.FROM_TABLE_MISS)
            starting = asyncio.ensure_future(sw.start(timeout=5))
            conn = await ctl.connection()
            other = parser.OFPFlowMod(
                DP, cookie=5, priority=1, match=parser.OFPMatch(in_port=1), instructions=[]
            )
            await conn.handshake(flow_mods=[other, table_miss(cookie=0xC0FFEE)])
            await starting
            assert sw.cookie == sw.table_miss_cookie == 0xC0FFEE
            done = sw.start_traffic([(2, SRC, HOST, UDP_FRAME)], window=1)
            pin = await conn.recv()
            assert isinstance(pin, parser.OFPPacketIn) and pin.cookie == 0xC0FFEE
            assert pin.match['in_port'] == 2 and bytes(pin.data) == UDP_FRAME
            sw.stop_traffic()
            await done
            sw.close()

    run(scenario())


def _answer_like(conn, pin, style):
    """Reply to a packet-in as simple_switch_13, one_flowmod or a chatty app would."""
    eth_dst, eth_src = pin.data[0:6], pin.data[6:12]
    in_port = pin.match['in_port']
    out = [parser.OFPActionOutput(1)]
    inst = [parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, out)]
    if style in ('simple_switch', 'one_flowmod'):
        fields = dict(in_port=in_port, eth_dst=ofemu.mac_text(eth_dst))
        if style == 'simple_switch':
            fields['eth_src'] = ofemu.mac_text(eth_src)
        conn.send(
            parser.OFPFlowMod(DP, priority=1, match=parser.OFPMatch(**fields), instructions=inst)
        )
    if style == 'simple_switch':
        conn.send(parser.OFPPacketOut(DP, ofp.OFP_NO_BUFFER, in_port, out, pin.data))
    if style == 'lldp_noise':  # not about any packet-in
        lldp = (
            b'\x01\x80\xc2\x00\x00\x0e' + b'\x0a\x00\x00\x00\x00\x01' + b'\x88\xcc' + b'\x00' * 46
        )
        conn.send(parser.OFPPacketOut(DP, ofp.OFP_NO_BUFFER, ofp.OFPP_CONTROLLER, out, lldp))
        conn.send(
            parser.OFPFlowMod(
                DP, priority=1, match=parser.OFPMatch(in_port=in_port), instructions=inst
            )
        )


@pytest.mark.parametrize('style', ['simple_switch', 'one_flowmod'])
@pytest.mark.parametrize('window', [1, 8])
def test_replies_answer_their_packet_ins(style, window):
    """Replies (serialized by Ryu) are matched to the packet-ins they answer."""

    async def scenario():
        async with FakeController() as ctl:
            sw = ofemu.EmulatedSwitch(9, 4, '127.0.0.1', ctl.port, ready_grace=0.01)
            starting = asyncio.ensure_future(sw.start(timeout=5))
            conn = await ctl.connection()
            await conn.handshake()
            await starting
            hosts = ofemu.make_hosts(9, 3, 4)
            stream = list(ofemu.learning_stream(hosts))
            probes = ofemu.probe_stream(9, hosts, 4)
            stream += [next(probes) for _ in range(30)]
            done = sw.start_traffic(stream, window=window, record_latency=True)
            for _ in range(len(stream)):
                pin = await conn.recv()
                assert isinstance(pin, parser.OFPPacketIn)
                assert sw.outstanding <= window
                _answer_like(conn, pin, style)
            await asyncio.wait_for(done, 5)
            assert sw.packet_ins_sent == sw.answered == len(stream)
            assert sw.timeouts == 0 and sw.unmatched == 0
            assert sw.extra == (len(stream) if style == 'simple_switch' else 0)
            assert len(sw.take_latencies()) == len(stream)
            sw.close()

    run(scenario())


def test_unrelated_replies_are_unmatched_and_unanswered_packet_ins_time_out():
    async def scenario():
        async with FakeController() as ctl:
            sw = ofemu.EmulatedSwitch(
                10, 2, '127.0.0.1', ctl.port, ready_grace=0.01, response_timeout=0.2
            )
            starting = asyncio.ensure_future(sw.start(timeout=5))
            conn = await ctl.connection()
            await conn.handshake()
            await starting
            hosts = ofemu.make_hosts(10, 2, 2)
            probes = ofemu.probe_stream(10, hosts, 2)
            stream = [next(probes) for _ in range(4)]
            done = sw.start_traffic(stream, window=2)
            for _ in range(len(stream)):  # window 2: the rest waits for timeouts
                pin = await conn.recv()
                _answer_like(conn, pin, 'lldp_noise')
            await asyncio.wait_for(done, 5)
            assert (sw.packet_ins_sent, sw.answered, sw.timeouts) == (4, 0, 4)
            assert sw.unmatched == 8
            sw.close()

    run(scenario())


def test_rate_limits_the_packet_ins():
    async def scenario():
        async with FakeController() as ctl:
            sw = ofemu.EmulatedSwitch(11, 2, '127.0.0.1', ctl.port, ready_grace=0.01)
            starting = asyncio.ensure_future(sw.start(timeout=5))
            conn = await ctl.connection()
            await conn.handshake()
            await starting
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            done = sw.start_traffic(ofemu.mac_stream(11, 0, 10, 2), window=10, rate=50.0)
            for _ in range(10):
                _answer_like(conn, await conn.recv(), 'simple_switch')
            await asyncio.wait_for(done, 5)
            assert loop.time() - t0 >= 0.17  # 10 at 50/s: the last at ~0.18 s
            assert sw.answered == 10
            sw.close()

    run(scenario())


# --- end to end against a real ryu-manager ------------------------------------------------


def _ryu(app, tmp_path):
    return RyuController(
        [cbench.resolve_app(app)],
        str(tmp_path / 'ryu.log'),
        extra_args=['--default-log-level', '30'],
    )


def test_simple_switch_13_end_to_end(tmp_path):
    with _ryu('ryu.app.simple_switch_13', tmp_path) as ryu:
        lat = ofemu.run_benchmark_sync(
            '127.0.0.1',
            ryu.ofp_port,
            n_switches=4,
            hosts_per_switch=10,
            mode='latency',
            loops=1,
            loop_seconds=1.0,
            warmup_loops=0,
        )
        assert lat.learn.packet_ins == lat.learn.answered == 40
        assert lat.handshake_seconds < 10
        (loop,) = lat.loops
        assert loop.responses > 0 and loop.answered > 0 and loop.flow_mods > 0
        assert loop.packet_outs > 0  # simple_switch_13: flow-mod + packet-out
        stats = lat.latency()
        assert stats['n'] > 0 and 0 < stats['p50'] <= stats['p90'] <= stats['p99'] <= stats['max']
        assert lat.totals['unmatched'] == 0

        thr = ofemu.run_benchmark_sync('127.0.0.1', ryu.ofp_port, 4, 10, 'throughput', 1, 1.0, 0)
        assert thr.window == ofemu.DEFAULT_WINDOW
        assert thr.loops[0].responses > 0 and thr.loops[0].flow_mods > 0
        assert thr.totals['answered'] > 0 and thr.min > 0

        mem = ofemu.measure_memory_sync(
            '127.0.0.1', ryu.ofp_port, ryu.pid, counts=(200,), n_switches=2, rate=None, settle=0.1
        )
        assert mem.baseline_rss_kib > 0 and mem.points[0].rss_kib > 0
        assert mem.points[0].learn.answered == 200
        assert ryu.alive()
        assert 'Traceback' not in ryu.log_tail(200)


@pytest.mark.parametrize('app', ['one_flowmod', 'one_flowmod_match_parser'])
def test_one_flowmod_ceiling_app_end_to_end(tmp_path, app):
    with _ryu(app, tmp_path) as ryu:
        assert ryu.apps[0].endswith(os.path.join('bench', 'apps', app + '.py'))
        lat = ofemu.run_benchmark_sync(
            '127.0.0.1', ryu.ofp_port, 4, 10, 'latency', 1, 1.0, 0, cookie=ofemu.FROM_TABLE_MISS
        )
        assert lat.learn.answered == 40
        assert lat.loops[0].flow_mods > 0 and lat.latency()['n'] > 0
        thr = ofemu.run_benchmark_sync('127.0.0.1', ryu.ofp_port, 4, 10, 'throughput', 1, 1.0, 0)
        for r in (lat, thr):
            assert r.loops[0].answered > 0
            assert r.totals['packet_outs'] == 0  # exactly one FLOW_MOD, nothing else
            assert r.totals['extra'] == r.totals['unmatched'] == 0
            assert r.totals['flow_mods'] == r.totals['answered'] + 4  # + the table-misses
        assert 'Traceback' not in ryu.log_tail(200)


def test_cbench_command_line(tmp_path, capsys):
    out = tmp_path / 'out.json'
    rc = cbench.main(
        [
            '--start-app',
            'one_flowmod',
            '--switches',
            '2',
            '--hosts',
            '5',
            '--loops',
            '2',
            '--loop-seconds',
            '0.5',
            '--warmup',
            '1',
            '--json',
            str(out),
        ]
    )
    text = capsys.readouterr().out
    assert rc == 0, text
    assert 'RESULT: 2 switches 2 loops min/max/avg/median' in text
    assert 'warm-up  1' in text and 'loop     2' in text
    data = json.loads(out.read_text())
    assert data['mode'] == 'throughput' and len(data['loops']) == 2
    assert data['responses_per_s']['min'] > 0 and data['app'] == ['one_flowmod']
