"""Emulated OpenFlow 1.3 switches for benchmarking controllers (pure asyncio).

What it does, in the manner of cbench (oflops), but speaking OpenFlow 1.3: N emulated
switches open TCP connections to a controller, go through the real OpenFlow 1.3
handshake, then send PACKET_INs and count what comes back (FLOW_MODs, PACKET_OUTs, ...).

Layers, from the bottom:

* message builders (``hello_msg``, ``features_reply``, ``port_desc_reply``,
  ``packet_in``, ...): plain ``struct`` encodings, no Ryu needed, so the emulator can
  face any controller; the unit tests check them against Ryu's own parser;
* Ethernet frames (``arp_request_frame``, ``udp_frame``) and ``PacketInBuilder``, the
  hot path: a PACKET_IN is one ``struct.pack`` of its 8-byte header joined to
  precomputed bytes (fixed fields and cookie, the in_port match of each port) and the
  60-byte frame;
* ``EmulatedSwitch``: one connection (an ``asyncio.Protocol``): answers the controller,
  counts every message it receives by type from the 8-byte header alone, and runs a
  stream of packet-ins with a window of outstanding ones;
* ``Fleet``: N switches, their hosts, the learning phase, the memory helper;
* ``run_benchmark`` / ``run_benchmark_sync``: the cbench-like measurement, with
  ``BenchResult``; ``measure_memory`` / ``rss_kib`` for the memory figures.

Handshake and "ready"
---------------------
On connecting the switch sends HELLO (version 1.3 with a version bitmap of 1.3 only).
It answers FEATURES_REQUEST (datapath id, n_buffers 0, n_tables 254, flow/table/port/
group/queue stats capabilities), MULTIPART PORT_DESC (ports 1..n, hw_addr
``0a:<dpid 3 bytes>:<port 2 bytes>``, name ``s<dpid>-eth<port>``, state LIVE, 10 Gb/s
copper full duplex), the other multipart requests (DESC, empty FLOW/TABLE/PORT/GROUP/
METER stats, zero AGGREGATE, GROUP_FEATURES, METER_FEATURES; an error for
EXPERIMENTER), ECHO, BARRIER, GET_CONFIG (with what SET_CONFIG set), ROLE, GET_ASYNC
and QUEUE_GET_CONFIG requests, and an OFPT_ERROR BAD_TYPE for anything a switch would
not accept. FLOW_MOD, PACKET_OUT, GROUP_MOD, METER_MOD, PORT_MOD, TABLE_MOD, SET_CONFIG
and SET_ASYNC are accepted silently (no reply on success, as the spec says); every
message is counted by type (``EmulatedSwitch.rx``). ONF bundles (the OpenFlow 1.3
extension Open vSwitch accepts: ONF_ET_BUNDLE_CONTROL and _ADD_MESSAGE experimenter
messages) are accepted: each control request gets its reply (OPEN_REPLY, COMMIT_REPLY,
...), added messages are taken silently; ``bundles_committed`` counts the commits.
Other experimenter messages get an error BAD_EXPERIMENTER.

Faulty switches, for tests of how a controller copes with one (``fault=``):

* ``'refuse'``: every FLOW_MOD, GROUP_MOD and bundle message is answered with an
  OFPT_ERROR (BAD_REQUEST, EPERM), as a switch whose tables are full or locked would;
  barriers are still answered;
* ``'no_barrier'``: everything is taken as usual but no BARRIER_REQUEST is ever
  answered, as a switch that hangs in its flow-table update would.

A switch is *ready* (the controller reached its MAIN state) when

1. it has sent the PORT_DESC reply (Ryu stays in CONFIG_DISPATCHER until it has it,
   and drops packet-ins until then), and
2. the controller has answered an ECHO_REQUEST that the switch sends right after that
   reply. A controller reads a connection in order, so the answer proves the PORT_DESC
   reply was processed (in Ryu the state change is made in the same receive loop that
   answers echoes, so packet-ins sent afterwards are seen in MAIN_DISPATCHER), and
3. the first FLOW_MOD has arrived (apps usually install their table-miss entry when
   the features arrive), or ``ready_grace`` seconds (0.1 by default) have passed
   without one: apps that install nothing are not waited for.

With ``cookie='from_table_miss'``, 3 becomes "the table-miss FLOW_MOD has arrived"
(the first ADD of priority 0 with an empty match): its cookie is then put in every
packet-in, for apps that filter packet-ins by cookie.

Traffic and how replies are matched to packet-ins
--------------------------------------------------
Each switch has ``hosts_per_switch`` hosts spread over its ports (host i on port
``i % n_ports + 1``). The learning phase sends one broadcast ARP request from each
host, so a learning controller knows them all. The measured phase then sends IPv4/UDP
packet-ins with a fresh source MAC each (rotating over ``src_macs_per_switch``,
100000 by default, like cbench), towards the learned hosts in turn, from a port other
than the destination's: a learning switch answers each with a FLOW_MOD (and, without a
buffer id, a PACKET_OUT).

A reply is taken as the answer to a packet-in when it carries one of its MACs, which
costs a few byte reads per reply (the header tells the type; a PACKET_OUT's frame
follows its actions; a FLOW_MOD's match is a short list of OXM fields): a reply
carrying the unique source MAC of an outstanding packet-in answers it; one that
carries no source MAC but a destination MAC answers the outstanding packet-in from
that MAC (a rule towards a just-learned source, as FAUCET's eth_dst rule) or else the
oldest outstanding packet-in to that destination (a controller handles a connection's
packet-ins in order). A second reply to an already answered packet-in
(simple_switch_13 sends a FLOW_MOD then a PACKET_OUT; FAUCET an eth_src and an
eth_dst rule) is counted as ``extra``; replies that carry none of our MACs (LLDP of a
topology app, ...) as ``unmatched``. This makes the latency mode exact where counting
"the next FLOW_MOD or PACKET_OUT on the connection" would not be: with
simple_switch_13 the PACKET_OUT of packet-in k, which follows its FLOW_MOD at once,
would be taken for the answer of packet-in k+1, and every other latency sample would
be close to zero. Packet-ins that get no answer within
``response_timeout`` (2 s) are counted as ``timeouts`` and free their place, so a
controller that drops packet-ins (rate limits, bans) slows the run down but does not
stall it.

Modes, as in cbench:

* latency: one outstanding packet-in per switch; the next one leaves when the answer
  arrives; every answer's round trip is recorded (percentiles in ``BenchResult``);
* throughput: a window of ``window`` outstanding packet-ins per switch
  (``DEFAULT_WINDOW`` = 32); a slot is refilled as soon as its packet-in is answered,
  all refills of one read going out in one write. Why 32: a controller on the same
  machine answers in well under a millisecond, so a few outstanding packet-ins per
  switch keep it busy; many more only fill its input queues (Ryu blocks a connection
  when an app's queue holds 128 events), which adds queueing delay and, with Ryu
  4.34, costs throughput: 16, 32 and 64 gave the same rates within the noise of a
  2-core machine, 128 less; and answers stay far below ``response_timeout``.

Per loop, ``responses`` counts FLOW_MODs + PACKET_OUTs received (cbench counts
both), ``answered`` counts the packet-ins answered (one per packet-in whatever the
app sends, the fairer figure to compare apps).

MAC addresses (all locally administered unicast): hosts ``02:<dpid 2 bytes>:<index 3
bytes>``, measured sources ``0e:<dpid 2 bytes>:<sequence 3 bytes>``, the memory
helper's sources ``06:<dpid 2 bytes>:<n 3 bytes>``; port hw_addr as above.
"""

import asyncio
import collections
import dataclasses
import math
import socket
import statistics
import struct
import time

__all__ = [
    'DEFAULT_WINDOW',
    'FAULT_NO_BARRIER',
    'FAULT_REFUSE',
    'FROM_TABLE_MISS',
    'BenchError',
    'BenchResult',
    'EmulatedSwitch',
    'Fleet',
    'Host',
    'LoopResult',
    'MemoryPoint',
    'MemoryResult',
    'PacketInBuilder',
    'PhaseStats',
    'Snapshot',
    'arp_request_frame',
    'barrier_reply',
    'bundle_ctrl_reply',
    'echo_reply',
    'echo_request',
    'error_msg',
    'features_reply',
    'get_config_reply',
    'hello_msg',
    'host_mac',
    'learn_mac',
    'make_hosts',
    'mac_text',
    'measure_memory',
    'measure_memory_sync',
    'multipart_reply',
    'packet_in',
    'port_desc_reply',
    'port_hw_addr',
    'port_status',
    'probe_mac',
    'rss_kib',
    'run_benchmark',
    'run_benchmark_sync',
    'udp_frame',
]

# --- OpenFlow 1.3 constants (values of the 1.3.x specification) -----------------------

OFP_VERSION = 0x04
OFP_HEADER = struct.Struct('!BBHI')

OFPT_HELLO = 0
OFPT_ERROR = 1
OFPT_ECHO_REQUEST = 2
OFPT_ECHO_REPLY = 3
OFPT_EXPERIMENTER = 4
OFPT_FEATURES_REQUEST = 5
OFPT_FEATURES_REPLY = 6
OFPT_GET_CONFIG_REQUEST = 7
OFPT_GET_CONFIG_REPLY = 8
OFPT_SET_CONFIG = 9
OFPT_PACKET_IN = 10
OFPT_FLOW_REMOVED = 11
OFPT_PORT_STATUS = 12
OFPT_PACKET_OUT = 13
OFPT_FLOW_MOD = 14
OFPT_GROUP_MOD = 15
OFPT_PORT_MOD = 16
OFPT_TABLE_MOD = 17
OFPT_MULTIPART_REQUEST = 18
OFPT_MULTIPART_REPLY = 19
OFPT_BARRIER_REQUEST = 20
OFPT_BARRIER_REPLY = 21
OFPT_QUEUE_GET_CONFIG_REQUEST = 22
OFPT_QUEUE_GET_CONFIG_REPLY = 23
OFPT_ROLE_REQUEST = 24
OFPT_ROLE_REPLY = 25
OFPT_GET_ASYNC_REQUEST = 26
OFPT_GET_ASYNC_REPLY = 27
OFPT_SET_ASYNC = 28
OFPT_METER_MOD = 29

MSG_TYPE_NAMES = {
    0: 'HELLO',
    1: 'ERROR',
    2: 'ECHO_REQUEST',
    3: 'ECHO_REPLY',
    4: 'EXPERIMENTER',
    5: 'FEATURES_REQUEST',
    6: 'FEATURES_REPLY',
    7: 'GET_CONFIG_REQUEST',
    8: 'GET_CONFIG_REPLY',
    9: 'SET_CONFIG',
    10: 'PACKET_IN',
    11: 'FLOW_REMOVED',
    12: 'PORT_STATUS',
    13: 'PACKET_OUT',
    14: 'FLOW_MOD',
    15: 'GROUP_MOD',
    16: 'PORT_MOD',
    17: 'TABLE_MOD',
    18: 'MULTIPART_REQUEST',
    19: 'MULTIPART_REPLY',
    20: 'BARRIER_REQUEST',
    21: 'BARRIER_REPLY',
    22: 'QUEUE_GET_CONFIG_REQUEST',
    23: 'QUEUE_GET_CONFIG_REPLY',
    24: 'ROLE_REQUEST',
    25: 'ROLE_REPLY',
    26: 'GET_ASYNC_REQUEST',
    27: 'GET_ASYNC_REPLY',
    28: 'SET_ASYNC',
    29: 'METER_MOD',
}

OFPHET_VERSIONBITMAP = 1

OFPMP_DESC = 0
OFPMP_FLOW = 1
OFPMP_AGGREGATE = 2
OFPMP_TABLE = 3
OFPMP_PORT_STATS = 4
OFPMP_QUEUE = 5
OFPMP_GROUP = 6
OFPMP_GROUP_DESC = 7
OFPMP_GROUP_FEATURES = 8
OFPMP_METER = 9
OFPMP_METER_CONFIG = 10
OFPMP_METER_FEATURES = 11
OFPMP_TABLE_FEATURES = 12
OFPMP_PORT_DESC = 13
OFPMPF_REQ_MORE = 1
OFPMPF_REPLY_MORE = 1
PORTS_PER_DESC_PART = 1000  # 64 bytes each: a reply part stays under 65535 bytes

OFPET_HELLO_FAILED = 0
OFPHFC_INCOMPATIBLE = 0
OFPET_BAD_REQUEST = 1
OFPBRC_BAD_TYPE = 1
OFPBRC_BAD_MULTIPART = 2
OFPBRC_BAD_EXPERIMENTER = 3
OFPBRC_EPERM = 5

ONF_EXPERIMENTER_ID = 0x4F4E4600
ONF_ET_BUNDLE_CONTROL = 2300
ONF_ET_BUNDLE_ADD_MESSAGE = 2301
ONF_BCT_COMMIT_REQUEST = 4  # requests are even; each one's reply is request + 1

FAULT_REFUSE = 'refuse'
FAULT_NO_BARRIER = 'no_barrier'
FAULTS = (None, FAULT_REFUSE, FAULT_NO_BARRIER)

OFPC_FLOW_STATS = 1 << 0
OFPC_TABLE_STATS = 1 << 1
OFPC_PORT_STATS = 1 << 2
OFPC_GROUP_STATS = 1 << 3
OFPC_QUEUE_STATS = 1 << 6
DEFAULT_CAPABILITIES = (
    OFPC_FLOW_STATS | OFPC_TABLE_STATS | OFPC_PORT_STATS | OFPC_GROUP_STATS | OFPC_QUEUE_STATS
)

OFPPS_LINK_DOWN = 1 << 0
OFPPS_LIVE = 1 << 2
OFPPR_ADD = 0
OFPPR_DELETE = 1
OFPPR_MODIFY = 2
OFPPF_10GB_FD = 1 << 6
OFPPF_COPPER = 1 << 11
PORT_FEATURES = OFPPF_10GB_FD | OFPPF_COPPER
PORT_SPEED_KBPS = 10000000

OFPCR_ROLE_NOCHANGE = 0
OFPCR_ROLE_EQUAL = 1

OFPR_NO_MATCH = 0
OFPR_ACTION = 1
OFP_NO_BUFFER = 0xFFFFFFFF
OFPFC_ADD = 0

OXM_IN_PORT = 0x80000004  # class OPENFLOW_BASIC, field IN_PORT, no mask, 4 bytes
OXM_ETH_DST_FH = 6  # field 3 << 1, no mask
OXM_ETH_SRC_FH = 8  # field 4 << 1, no mask

BROADCAST = b'\xff' * 6
FROM_TABLE_MISS = 'from_table_miss'

# first byte of the MACs this module puts in frames: a reply carrying one of them as
# source answers (or re-answers) one of our packet-ins
HOST_TAG, LEARN_TAG, PROBE_TAG, PORT_TAG = 0x02, 0x06, 0x0E, 0x0A
_OUR_SOURCE_TAGS = frozenset((HOST_TAG, LEARN_TAG, PROBE_TAG))

DEFAULT_WINDOW = 32  # throughput mode: outstanding packet-ins per switch
PROBE_ECHO_XID = 0xFFFFFFF0  # xid of the echo request that confirms the MAIN state
PROBE_IP = bytes((192, 0, 2, 1))  # TEST-NET-1: source IP of the measured packets

# --- message builders --------------------------------------------------------------------


def _msg(msg_type, xid, body=b''):
    return OFP_HEADER.pack(OFP_VERSION, msg_type, 8 + len(body), xid) + body


def hello_msg(xid, versions=(OFP_VERSION,)):
    """HELLO of version 1.3 with a version-bitmap element listing ``versions``."""
    bitmap = 0
    for v in versions:
        bitmap |= 1 << v
    return _msg(OFPT_HELLO, xid, struct.pack('!HHI', OFPHET_VERSIONBITMAP, 8, bitmap))


def echo_request(xid, data=b''):
    return _msg(OFPT_ECHO_REQUEST, xid, bytes(data))


def echo_reply(xid, data=b''):
    return _msg(OFPT_ECHO_REPLY, xid, bytes(data))


def barrier_reply(xid):
    return _msg(OFPT_BARRIER_REPLY, xid)


def error_msg(xid, err_type, code, data=b''):
    return _msg(OFPT_ERROR, xid, struct.pack('!HH', err_type, code) + bytes(data)[:64])


def bundle_ctrl_reply(xid, bundle_id, ctrl_type, flags):
    """The ONF bundle control message answering request ``ctrl_type`` (its reply type is
    the request's + 1), without properties."""
    return _msg(
        OFPT_EXPERIMENTER,
        xid,
        struct.pack(
            '!IIIHH', ONF_EXPERIMENTER_ID, ONF_ET_BUNDLE_CONTROL, bundle_id, ctrl_type + 1, flags
        ),
    )


def features_reply(
    xid, dpid, n_buffers=0, n_tables=254, capabilities=DEFAULT_CAPABILITIES, auxiliary_id=0
):
    return _msg(
        OFPT_FEATURES_REPLY,
        xid,
        struct.pack('!QIBB2xII', dpid, n_buffers, n_tables, auxiliary_id, capabilities, 0),
    )


def get_config_reply(xid, flags=0, miss_send_len=128):
    return _msg(OFPT_GET_CONFIG_REPLY, xid, struct.pack('!HH', flags, miss_send_len))


def multipart_reply(xid, mp_type, body=b'', flags=0):
    return _msg(OFPT_MULTIPART_REPLY, xid, struct.pack('!HH4x', mp_type, flags) + body)


def port_hw_addr(dpid, port_no):
    return (
        bytes((PORT_TAG,))
        + (dpid & 0xFFFFFF).to_bytes(3, 'big')
        + (port_no & 0xFFFF).to_bytes(2, 'big')
    )


_PORT = struct.Struct('!I4x6s2x16sIIIIIIII')


def port_entry(dpid: int, port_no: int, up: bool = True) -> bytes:
    """One ``ofp_port``: LIVE (LINK_DOWN when not ``up``), 10 Gb/s copper full duplex."""
    name = ('s%d-eth%d' % (dpid, port_no)).encode()[:15]
    return _PORT.pack(
        port_no,
        port_hw_addr(dpid, port_no),
        name,
        0,
        OFPPS_LIVE if up else OFPPS_LINK_DOWN,
        PORT_FEATURES,
        PORT_FEATURES,
        PORT_FEATURES,
        0,
        PORT_SPEED_KBPS,
        PORT_SPEED_KBPS,
    )


def port_desc_reply(xid: int, dpid: int, n_ports: int) -> bytes:
    """The PORT_DESC reply for ports 1..n_ports: one message, or parts of
    PORTS_PER_DESC_PART ports (REPLY_MORE on all but the last) when they do not fit."""
    parts = []
    for first in range(1, n_ports + 1, PORTS_PER_DESC_PART):
        last = min(n_ports, first + PORTS_PER_DESC_PART - 1)
        body = b''.join(port_entry(dpid, p) for p in range(first, last + 1))
        parts.append(
            multipart_reply(xid, OFPMP_PORT_DESC, body, OFPMPF_REPLY_MORE if last < n_ports else 0)
        )
    return b''.join(parts)


def port_status(
    xid: int, dpid: int, port_no: int, reason: int = OFPPR_MODIFY, up: bool = True
) -> bytes:
    """OFPT_PORT_STATUS: port ``port_no`` added, deleted or modified (carrier ``up``)."""
    return _msg(OFPT_PORT_STATUS, xid, struct.pack('!B7x', reason) + port_entry(dpid, port_no, up))


def desc_body(dpid):
    return struct.pack(
        '!256s256s256s32s256s',
        b'sdn-suite',
        b'ofemu emulated switch',
        b'bench.ofemu',
        b'%016x' % dpid,
        b'ofemu dpid %d' % dpid,
    )


# bodies of the multipart replies that need no data from the switch
_STATIC_MULTIPART = {
    OFPMP_FLOW: b'',
    OFPMP_TABLE: b'',
    OFPMP_PORT_STATS: b'',
    OFPMP_QUEUE: b'',
    OFPMP_GROUP: b'',
    OFPMP_GROUP_DESC: b'',
    OFPMP_METER: b'',
    OFPMP_METER_CONFIG: b'',
    OFPMP_TABLE_FEATURES: b'',
    OFPMP_AGGREGATE: struct.pack('!QQI4x', 0, 0, 0),
    OFPMP_GROUP_FEATURES: struct.pack('!II4I4I', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
    OFPMP_METER_FEATURES: struct.pack('!IIIBB2x', 0, 0, 0, 0, 0),
}


def _match_in_port(in_port):
    """ofp_match holding only OXM in_port, padded to 8 bytes."""
    return struct.pack('!HHII4x', 1, 12, OXM_IN_PORT, in_port)


class PacketInBuilder:
    """Builds OFPT_PACKET_IN messages fast: everything but the xid is precomputed.

    buffer_id NO_BUFFER, the given reason, table_id and cookie, a match holding only
    in_port, the whole frame as data (total_len = its length). With ``vlan_vid`` the
    frame carries an 802.1Q tag of that VLAN after its MACs, as a packet-in sent from a
    table after the switch has pushed the access port's VLAN (FAUCET's eth_src table).
    """

    _HEADER = struct.Struct('!BBHI')

    def __init__(self, cookie=0, reason=OFPR_NO_MATCH, table_id=0, vlan_vid=None):
        self.cookie = cookie
        self.reason = reason
        self.table_id = table_id
        self.vlan_tag = None if vlan_vid is None else struct.pack('!HH', 0x8100, vlan_vid & 0xFFF)
        self._fixed = {}  # frame length -> (message length, fixed fields)
        self._match = {}  # in_port -> match + 2 pad bytes

    def _fixed_for(self, frame_len):
        fixed = struct.pack(
            '!IHBBQ', OFP_NO_BUFFER, frame_len, self.reason, self.table_id, self.cookie
        )
        entry = (8 + len(fixed) + 16 + 2 + frame_len, fixed)
        self._fixed[frame_len] = entry
        return entry

    def _match_for(self, in_port):
        m = self._match[in_port] = _match_in_port(in_port) + b'\x00\x00'
        return m

    def build(self, xid, in_port, frame):
        if self.vlan_tag is not None:
            frame = frame[:12] + self.vlan_tag + frame[12:]
        n = len(frame)
        length, fixed = self._fixed.get(n) or self._fixed_for(n)
        match = self._match.get(in_port) or self._match_for(in_port)
        return self._HEADER.pack(OFP_VERSION, OFPT_PACKET_IN, length, xid) + fixed + match + frame


def packet_in(xid, in_port, frame, cookie=0, reason=OFPR_NO_MATCH, table_id=0, vlan_vid=None):
    """One PACKET_IN (the slow, readable way to get what ``PacketInBuilder`` builds)."""
    return PacketInBuilder(cookie, reason, table_id, vlan_vid).build(xid, in_port, frame)


# --- Ethernet frames -----------------------------------------------------------------------


def mac_text(mac):
    return ':'.join('%02x' % b for b in mac)


def _ipv4_checksum(header):
    total = sum(struct.unpack('!10H', header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _pad60(frame):
    return frame + b'\x00' * (60 - len(frame)) if len(frame) < 60 else frame


def arp_request_frame(src_mac, src_ip, target_ip):
    """Broadcast ARP request (who-has target_ip tell src_ip), padded to 60 bytes."""
    arp = struct.pack('!HHBBH6s4s6s4s', 1, 0x0800, 6, 4, 1, src_mac, src_ip, b'\x00' * 6, target_ip)
    return _pad60(BROADCAST + src_mac + b'\x08\x06' + arp)


def udp_tail(src_ip, dst_ip, sport=1024, dport=9, payload_len=18):
    """Bytes 12.. of an Ethernet/IPv4/UDP frame (after the two MACs)."""
    ip = bytearray(
        struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + 8 + payload_len, 0, 0, 64, 17, 0, src_ip, dst_ip)
    )
    struct.pack_into('!H', ip, 10, _ipv4_checksum(bytes(ip)))
    udp = struct.pack('!HHHH', sport, dport, 8 + payload_len, 0)
    return b'\x08\x00' + bytes(ip) + udp + b'\x00' * payload_len


def udp_frame(dst_mac, src_mac, src_ip, dst_ip, **kw):
    """A 60-byte Ethernet/IPv4/UDP frame (18 bytes of zero payload by default)."""
    return dst_mac + src_mac + udp_tail(src_ip, dst_ip, **kw)


def _tagged_mac(tag, dpid, n):
    return bytes((tag,)) + (dpid & 0xFFFF).to_bytes(2, 'big') + (n & 0xFFFFFF).to_bytes(3, 'big')


def host_mac(dpid, index):
    return _tagged_mac(HOST_TAG, dpid, index)


def probe_mac(dpid, seq):
    return _tagged_mac(PROBE_TAG, dpid, seq)


def learn_mac(dpid, n):
    return _tagged_mac(LEARN_TAG, dpid, n)


def _ip_of(dpid, n):
    v = ((dpid & 0xFFF) << 12) | (n & 0xFFF)
    return bytes((10, v >> 16, (v >> 8) & 0xFF, v & 0xFF))


@dataclasses.dataclass(frozen=True)
class Host:
    """An emulated host behind a switch port."""

    mac: bytes
    ip: bytes
    port: int
    arp: bytes  # its broadcast ARP request (the learning packet)
    udp_tail: bytes  # bytes 12.. of a UDP frame from PROBE_IP to it


def make_hosts(dpid, n_hosts, n_ports):
    hosts = []
    for i in range(n_hosts):
        mac, ip = host_mac(dpid, i), _ip_of(dpid, i)
        hosts.append(
            Host(
                mac,
                ip,
                i % n_ports + 1,
                arp_request_frame(mac, ip, PROBE_IP),
                udp_tail(PROBE_IP, ip),
            )
        )
    return hosts


def learning_stream(hosts):
    """One broadcast ARP request from every host."""
    for h in hosts:
        yield h.port, h.mac, BROADCAST, h.arp


def probe_stream(dpid, hosts, n_ports, period=100000):
    """Endless UDP packets from fresh source MACs to the learned hosts in turn.

    The source MAC rotates over ``period`` values; the in_port is the port after the
    destination's, so a learning switch sees a known destination on another port.
    """
    if not hosts:
        raise ValueError('the measured phase needs at least one host per switch')
    seq = 0
    while True:
        for h in hosts:
            src = probe_mac(dpid, seq % period)
            seq += 1
            yield h.port % n_ports + 1, src, h.mac, h.mac + src + h.udp_tail


def mac_stream(dpid, start, count, n_ports):
    """Broadcast ARP requests from ``count`` new MACs, spread over the ports in turn."""
    for n in range(start, start + count):
        mac = learn_mac(dpid, n)
        yield n % n_ports + 1, mac, BROADCAST, arp_request_frame(mac, _ip_of(dpid, n), PROBE_IP)


# --- the switch ----------------------------------------------------------------------------


class BenchError(RuntimeError):
    """A switch could not go on: names the switch (dpid) and the phase it was in."""

    def __init__(self, dpid, phase, detail):
        self.dpid = dpid
        self.phase = phase
        self.detail = detail
        super().__init__('switch dpid=%d (0x%x), phase %r: %s' % (dpid, dpid, phase, detail))


def _quiet_future(loop):
    """A future whose exception is not reported as 'never retrieved' if nobody waits."""
    fut = loop.create_future()
    fut.add_done_callback(lambda f: f.cancelled() or f.exception())
    return fut


_WAITING_FOR = {
    'connect': 'no TCP connection',
    'hello': 'no HELLO from the controller',
    'features': 'no FEATURES_REQUEST after the HELLOs',
    'port-desc': 'no MULTIPART_REQUEST PORT_DESC after the FEATURES_REPLY',
    'main': 'no ECHO_REPLY to the echo sent after the PORT_DESC reply',
    'table-miss': 'no table-miss FLOW_MOD (ADD, priority 0, empty match) to take '
    'the packet-in cookie from',
    'grace': 'grace delay not over',
}

# accepted without a reply (and counted, like everything)
_SILENT_TYPES = frozenset(
    (OFPT_GROUP_MOD, OFPT_PORT_MOD, OFPT_TABLE_MOD, OFPT_METER_MOD, OFPT_SET_ASYNC)
)


class EmulatedSwitch(asyncio.Protocol):
    """One emulated OpenFlow 1.3 switch: a TCP connection to the controller.

    ``await sw.start()`` connects and waits until ready (see the module docstring),
    raising ``BenchError`` naming the phase that did not complete. Then
    ``sw.start_traffic(stream, window)`` sends the packet-ins of ``stream`` (an
    iterable of ``(in_port, src_mac, dst_mac, frame)``), keeping at most ``window``
    unanswered; it returns a future done when a finite stream has been sent and
    answered (or timed out).

    Counters: ``rx[type]`` (every message received, by OpenFlow type; see also
    ``flow_mods``, ``packet_outs``, ``group_mods``, ``rx_by_name()``),
    ``packet_ins_sent``, ``answered``, ``timeouts``, ``extra``, ``unmatched``,
    ``bundles_committed``, ``refused`` (messages answered with an error because of
    ``fault``); ``controller_errors`` lists the OFPT_ERRORs received as (type, code,
    xid). ``fault``: None, ``'refuse'`` or ``'no_barrier'`` (see the module docstring).
    ``send_message(data)`` sends bytes as they are (a hand-made or malformed message).
    """

    def __init__(
        self,
        dpid,
        n_ports=4,
        host='127.0.0.1',
        port=6653,
        *,
        vlan_vid=None,
        cookie=0,
        reason=OFPR_NO_MATCH,
        table_id=0,
        ready_grace=0.1,
        response_timeout=2.0,
        abort=None,
        tls=None,
        fault=None,
    ):
        if not 1 <= n_ports <= 0xFFFF:
            raise ValueError('n_ports must be in 1..65535')
        if cookie != FROM_TABLE_MISS and not isinstance(cookie, int):
            raise ValueError("cookie must be an int or %r" % FROM_TABLE_MISS)
        if fault not in FAULTS:
            raise ValueError('fault must be one of %r' % (FAULTS,))
        self.dpid = dpid
        self.n_ports = n_ports
        self.host = host
        self.port = port
        self.cookie_mode = cookie
        self.cookie = 0 if cookie == FROM_TABLE_MISS else cookie
        self.reason = reason
        self.table_id = table_id
        self.vlan_vid = vlan_vid
        self.ready_grace = ready_grace
        self.response_timeout = response_timeout
        self._abort = abort
        self.tls = tls  # an ssl.SSLContext for a TLS channel, or None
        self.fault = fault

        self.phase = 'new'
        self.error = None
        self.transport = None
        self.connected_at = None
        self.ready_at = None
        self._loop = None
        self._ready = None
        self._buf = bytearray()
        self._closing = False
        self._xid = 0

        # handshake state
        self._port_desc_sent = False
        self._main_confirmed = False
        self._grace_over = False
        self._grace_handle = None
        self._flow_mod_watch = True
        self.first_flow_mod_at = None
        self.table_miss_cookie = None
        self.config_flags = 0
        self.miss_send_len = 128
        self.role = OFPCR_ROLE_EQUAL
        self.generation_id = 0
        self._builder = None

        # counters
        self.rx = [0] * 256
        self.controller_errors = []
        self.packet_ins_sent = 0
        self.answered = 0
        self.timeouts = 0
        self.extra = 0
        self.unmatched = 0
        self.bundles_committed = 0
        self.refused = 0

        # traffic state
        self._tracking = False
        self._source = None
        self._exhausted = False
        self._window = 0
        self._rate = None
        self._t0 = 0.0
        self._phase_sent = 0
        self._out = {}  # src MAC -> (time sent, dst MAC), oldest first
        self._by_dst = {}  # dst MAC -> deque of src MACs (may hold stale ones)
        self._latencies = None
        self._done = None
        self._tick_handle = None
        self._rate_handle = None

    # -- counters --

    @property
    def flow_mods(self):
        return self.rx[OFPT_FLOW_MOD]

    @property
    def packet_outs(self):
        return self.rx[OFPT_PACKET_OUT]

    @property
    def group_mods(self):
        return self.rx[OFPT_GROUP_MOD]

    @property
    def outstanding(self):
        return len(self._out)

    def rx_by_name(self):
        return {MSG_TYPE_NAMES.get(t, 'TYPE_%d' % t): n for t, n in enumerate(self.rx) if n}

    @property
    def ready(self):
        return (
            self._ready is not None
            and self._ready.done()
            and not self._ready.cancelled()
            and self._ready.exception() is None
        )

    # -- life cycle --

    async def connect(self, timeout=10.0):
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._ready = _quiet_future(loop)
        self.phase = 'connect'
        try:
            await asyncio.wait_for(
                loop.create_connection(lambda: self, self.host, self.port, ssl=self.tls), timeout
            )
        except asyncio.TimeoutError:
            raise BenchError(
                self.dpid,
                'connect',
                'no TCP connection to %s:%d within %.1f s' % (self.host, self.port, timeout),
            ) from None
        except OSError as exc:  # ssl.SSLError included: a refused TLS handshake
            raise BenchError(
                self.dpid, 'connect', 'cannot connect to %s:%d: %s' % (self.host, self.port, exc)
            ) from None
        return self

    async def wait_ready(self, timeout=10.0):
        try:
            await asyncio.wait_for(asyncio.shield(self._ready), timeout)
        except asyncio.TimeoutError:
            raise BenchError(
                self.dpid,
                self.phase,
                'handshake not complete after %.1f s: %s'
                % (timeout, _WAITING_FOR.get(self.phase, '?')),
            ) from None
        return self

    async def start(self, timeout=10.0):
        """Connect and wait until ready, within ``timeout`` seconds in all."""
        t0 = time.monotonic()
        await self.connect(timeout)
        await self.wait_ready(max(0.0, timeout - (time.monotonic() - t0)))
        return self

    def send_message(self, data):
        """Send ``data`` to the controller as it is (one or more messages, any bytes)."""
        self._send(bytes(data))

    @property
    def closed_by_controller(self):
        """Whether the controller ended the connection (not this side's close())."""
        return self.error is not None and 'closed by the controller' in str(self.error)

    def close(self):
        self._closing = True
        self.stop_traffic()
        if self._grace_handle is not None:
            self._grace_handle.cancel()
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(BenchError(self.dpid, self.phase, 'closed before ready'))
        if self.transport is not None:
            self.transport.close()

    def _fail(self, error):
        if self.error is None:
            self.error = error
        for fut in (self._ready, self._done, self._abort):
            if fut is not None and not fut.done():
                fut.set_exception(error)
        self.stop_traffic()
        if self.transport is not None and not self.transport.is_closing():
            self._closing = True
            self.transport.close()

    # -- asyncio.Protocol --

    def connection_made(self, transport):
        self.transport = transport
        sock = transport.get_extra_info('socket')
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        self.connected_at = time.perf_counter()
        self.phase = 'hello'
        transport.write(hello_msg(self._next_xid()))

    def connection_lost(self, exc):
        if self._closing:
            return
        detail = 'connection closed by the controller'
        if exc is not None:
            detail += ': %s' % exc
        self._fail(BenchError(self.dpid, self.phase, detail))

    def data_received(self, data):
        buf = self._buf
        buf += data
        n = len(buf)
        off = 0
        rx = self.rx
        tracking = self._tracking
        refusing = self.fault == FAULT_REFUSE
        now = None
        while n - off >= 8:
            length = (buf[off + 2] << 8) | buf[off + 3]
            if length < 8:
                self._protocol_error('message of length %d' % length)
                return
            end = off + length
            if end > n:
                break
            t = buf[off + 1]
            rx[t] += 1
            if buf[off] != OFP_VERSION and t != OFPT_HELLO:
                self._protocol_error('%s of version 0x%02x' % (MSG_TYPE_NAMES.get(t, t), buf[off]))
                return
            if t == OFPT_FLOW_MOD or t == OFPT_PACKET_OUT:
                if self._flow_mod_watch and t == OFPT_FLOW_MOD:
                    self._watch_flow_mod(buf, off, end)
                if tracking:
                    if now is None:
                        now = time.perf_counter()
                    self._attribute(buf, off, end, t, now)
                if refusing and t == OFPT_FLOW_MOD:
                    self._refuse(bytes(buf[off:end]))
            elif t not in _SILENT_TYPES:
                self._on_control(t, bytes(buf[off:end]))
            elif refusing and t == OFPT_GROUP_MOD:
                self._refuse(bytes(buf[off:end]))
            off = end
        if off:
            del buf[:off]
        if tracking:
            self._pump()

    def _protocol_error(self, detail):
        self._fail(BenchError(self.dpid, self.phase, 'protocol error: ' + detail))

    def _send(self, data):
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def _next_xid(self):
        self._xid = (self._xid + 1) & 0xFFFFFFFF
        return self._xid

    # -- handshake and requests --

    def _on_control(self, t, msg):
        xid = int.from_bytes(msg[4:8], 'big')
        if t == OFPT_ECHO_REQUEST:
            self._send(echo_reply(xid, msg[8:]))
        elif t == OFPT_ECHO_REPLY:
            if xid == PROBE_ECHO_XID and self._port_desc_sent and not self._main_confirmed:
                self._main_confirmed = True
                self._check_ready()
        elif t == OFPT_HELLO:
            self._on_hello(msg)
        elif t == OFPT_FEATURES_REQUEST:
            self._send(features_reply(xid, self.dpid))
            if self.phase in ('hello', 'features'):
                self.phase = 'port-desc'
        elif t == OFPT_MULTIPART_REQUEST:
            self._on_multipart(xid, msg)
        elif t == OFPT_BARRIER_REQUEST:
            if self.fault != FAULT_NO_BARRIER:
                self._send(barrier_reply(xid))
        elif t == OFPT_GET_CONFIG_REQUEST:
            self._send(get_config_reply(xid, self.config_flags, self.miss_send_len))
        elif t == OFPT_SET_CONFIG:
            if len(msg) >= 12:
                self.config_flags, self.miss_send_len = struct.unpack_from('!HH', msg, 8)
        elif t == OFPT_ROLE_REQUEST:
            if len(msg) >= 24:
                role, generation_id = struct.unpack_from('!I4xQ', msg, 8)
                if role != OFPCR_ROLE_NOCHANGE:
                    self.role, self.generation_id = role, generation_id
            self._send(
                _msg(OFPT_ROLE_REPLY, xid, struct.pack('!I4xQ', self.role, self.generation_id))
            )
        elif t == OFPT_GET_ASYNC_REQUEST:
            self._send(_msg(OFPT_GET_ASYNC_REPLY, xid, struct.pack('!2I2I2I', 3, 0, 7, 7, 15, 0)))
        elif t == OFPT_QUEUE_GET_CONFIG_REQUEST:
            port = struct.unpack_from('!I', msg, 8)[0] if len(msg) >= 12 else 0
            self._send(_msg(OFPT_QUEUE_GET_CONFIG_REPLY, xid, struct.pack('!I4x', port)))
        elif t == OFPT_ERROR:
            err_type, code = struct.unpack_from('!HH', msg, 8) if len(msg) >= 12 else (-1, -1)
            if len(self.controller_errors) < 100:
                self.controller_errors.append((err_type, code, xid))
        elif t == OFPT_EXPERIMENTER:
            self._on_experimenter(xid, msg)
        else:
            self._send(error_msg(xid, OFPET_BAD_REQUEST, OFPBRC_BAD_TYPE, msg))

    def _refuse(self, msg):
        self.refused += 1
        self._send(error_msg(int.from_bytes(msg[4:8], 'big'), OFPET_BAD_REQUEST, OFPBRC_EPERM, msg))

    def _on_experimenter(self, xid, msg):
        experimenter, exp_type = struct.unpack_from('!II', msg, 8) if len(msg) >= 16 else (0, 0)
        if experimenter != ONF_EXPERIMENTER_ID or exp_type not in (
            ONF_ET_BUNDLE_CONTROL,
            ONF_ET_BUNDLE_ADD_MESSAGE,
        ):
            self._send(error_msg(xid, OFPET_BAD_REQUEST, OFPBRC_BAD_EXPERIMENTER, msg))
        elif self.fault == FAULT_REFUSE:
            self._refuse(msg)
        elif exp_type == ONF_ET_BUNDLE_CONTROL and len(msg) >= 24:
            bundle_id, ctrl_type, flags = struct.unpack_from('!IHH', msg, 16)
            if ctrl_type % 2 == 0:  # a request
                self._send(bundle_ctrl_reply(xid, bundle_id, ctrl_type, flags))
                if ctrl_type == ONF_BCT_COMMIT_REQUEST:
                    self.bundles_committed += 1

    def _on_hello(self, msg):
        if self.phase != 'hello':
            return
        version = msg[0]
        bitmap = None
        p = 8
        while p + 4 <= len(msg):
            etype, elen = struct.unpack_from('!HH', msg, p)
            if elen < 4:
                break
            if etype == OFPHET_VERSIONBITMAP and elen >= 8:
                bitmap = struct.unpack_from('!I', msg, p + 4)[0]
            p += (elen + 7) // 8 * 8
        ok = (bitmap >> OFP_VERSION) & 1 if bitmap is not None else version >= OFP_VERSION
        if not ok:
            self._send(
                error_msg(
                    0,
                    OFPET_HELLO_FAILED,
                    OFPHFC_INCOMPATIBLE,
                    b'this switch speaks OpenFlow 1.3 only',
                )
            )
            self._fail(
                BenchError(
                    self.dpid,
                    'hello',
                    'the controller does not offer '
                    'OpenFlow 1.3 (HELLO version 0x%02x, bitmap %s)' % (version, bitmap),
                )
            )
            return
        self.phase = 'features'

    def _on_multipart(self, xid, msg):
        if len(msg) < 16:
            self._send(error_msg(xid, OFPET_BAD_REQUEST, OFPBRC_BAD_MULTIPART, msg))
            return
        mp_type, flags = struct.unpack_from('!HH', msg, 8)
        if flags & OFPMPF_REQ_MORE:
            return  # a reply is due only after the last part
        if mp_type == OFPMP_PORT_DESC:
            self._send(port_desc_reply(xid, self.dpid, self.n_ports))
            if not self._port_desc_sent:
                self._port_desc_sent = True
                self.phase = 'main'
                self._send(echo_request(PROBE_ECHO_XID, b'ofemu-ready-probe'))
        elif mp_type == OFPMP_DESC:
            self._send(multipart_reply(xid, mp_type, desc_body(self.dpid)))
        elif mp_type in _STATIC_MULTIPART:
            self._send(multipart_reply(xid, mp_type, _STATIC_MULTIPART[mp_type]))
        else:
            self._send(error_msg(xid, OFPET_BAD_REQUEST, OFPBRC_BAD_MULTIPART, msg))

    def _watch_flow_mod(self, buf, off, end):
        if self.first_flow_mod_at is None:
            self.first_flow_mod_at = time.perf_counter()
        if self.table_miss_cookie is None and end - off >= 52:
            cookie = int.from_bytes(buf[off + 8 : off + 16], 'big')
            command = buf[off + 25]
            priority = (buf[off + 30] << 8) | buf[off + 31]
            match_len = (buf[off + 50] << 8) | buf[off + 51]
            if command == OFPFC_ADD and priority == 0 and match_len == 4:
                self.table_miss_cookie = cookie
        self._check_ready()

    def _check_ready(self):
        if self._ready is None or self._ready.done() or not self._main_confirmed:
            return
        if self.cookie_mode == FROM_TABLE_MISS:
            if self.table_miss_cookie is None:
                self.phase = 'table-miss'
                return
            self.cookie = self.table_miss_cookie
        elif self.first_flow_mod_at is None and not self._grace_over:
            if self._grace_handle is None:
                self.phase = 'grace'
                self._grace_handle = self._loop.call_later(self.ready_grace, self._end_grace)
            return
        if self._grace_handle is not None:
            self._grace_handle.cancel()
            self._grace_handle = None
        self._flow_mod_watch = False
        self._builder = PacketInBuilder(self.cookie, self.reason, self.table_id, self.vlan_vid)
        self.ready_at = time.perf_counter()
        self.phase = 'ready'
        self._ready.set_result(self)

    def _end_grace(self):
        self._grace_handle = None
        self._grace_over = True
        self._check_ready()

    # -- traffic --

    def start_traffic(
        self, stream, window, *, rate=None, record_latency=False, phase=None, tick=0.05
    ):
        """Send the packet-ins of ``stream`` keeping at most ``window`` unanswered.

        ``rate``: at most this many packet-ins per second (None: as fast as answers come).
        ``record_latency``: keep every answer's round trip (``take_latencies()``).
        Returns a future, done when a finite stream is all sent and answered or timed out.
        """
        if not self.ready:
            raise BenchError(self.dpid, self.phase, 'traffic started before ready')
        if window < 1:
            raise ValueError('window must be >= 1')
        self.stop_traffic()
        if phase:
            self.phase = phase
        self._source = iter(stream)
        self._exhausted = False
        self._window = window
        self._rate = rate
        self._t0 = time.perf_counter()
        self._phase_sent = 0
        self._latencies = [] if record_latency else None
        self._done = _quiet_future(self._loop)
        self._tracking = True
        self._tick_interval = tick
        self._tick_handle = self._loop.call_later(tick, self._tick)
        self._pump()
        return self._done

    def stop_traffic(self):
        """Stop sending; forget the outstanding packet-ins (later replies are only counted)."""
        self._tracking = False
        self._source = None
        self._out.clear()
        self._by_dst.clear()
        for handle in (self._tick_handle, self._rate_handle):
            if handle is not None:
                handle.cancel()
        self._tick_handle = self._rate_handle = None
        if self._done is not None and not self._done.done():
            self._done.set_result(None)

    def take_latencies(self):
        """The round trips (seconds) recorded since the last call; starts a new list."""
        lat = self._latencies or []
        if self._latencies is not None:
            self._latencies = []
        return lat

    def _finish(self):
        self._tracking = False
        if self._tick_handle is not None:
            self._tick_handle.cancel()
            self._tick_handle = None
        if self._done is not None and not self._done.done():
            self._done.set_result(None)

    def _pump(self):
        source = self._source
        out = self._out
        if source is None:
            if self._exhausted and not out and self._tracking:
                self._finish()
            return
        free = self._window - len(out)
        if free <= 0:
            return
        now = time.perf_counter()
        if self._rate is not None:
            elapsed = now - self._t0
            due = int(elapsed * self._rate) + 1 - self._phase_sent
            if due <= 0:
                if self._rate_handle is None:
                    delay = self._phase_sent / self._rate - elapsed
                    self._rate_handle = self._loop.call_later(max(delay, 0.0005), self._rate_wake)
                return
            if due < free:
                free = due
        build = self._builder.build
        by_dst = self._by_dst
        chunks = []
        xid = self._xid
        for _ in range(free):
            item = next(source, None)
            if item is None:
                self._source = None
                self._exhausted = True
                break
            in_port, src, dst, frame = item
            xid = (xid + 1) & 0xFFFFFFFF
            chunks.append(build(xid, in_port, frame))
            if src in out:  # source MAC reused while unanswered: forget the old one
                del out[src]
                self.timeouts += 1
            out[src] = (now, dst)
            q = by_dst.get(dst)
            if q is None:
                by_dst[dst] = q = collections.deque()
            else:
                while q and q[0] not in out:
                    q.popleft()
            q.append(src)
        self._xid = xid
        if chunks:
            self.packet_ins_sent += len(chunks)
            self._phase_sent += len(chunks)
            self._send(b''.join(chunks))
        if self._exhausted and not out:
            self._finish()

    def _rate_wake(self):
        self._rate_handle = None
        if self._tracking:
            self._pump()

    def _tick(self):
        self._tick_handle = None
        if not self._tracking:
            return
        out = self._out
        if out:
            limit = time.perf_counter() - self.response_timeout
            expired = 0
            while out:
                key = next(iter(out))
                if out[key][0] > limit:
                    break
                del out[key]
                expired += 1
            self.timeouts += expired
        self._pump()
        if self._tracking:
            self._tick_handle = self._loop.call_later(self._tick_interval, self._tick)

    def _attribute(self, buf, off, end, t, now):
        """Match one FLOW_MOD / PACKET_OUT to an outstanding packet-in by its MACs."""
        src = dst = None
        if t == OFPT_PACKET_OUT:
            if end - off >= 24:
                data = off + 24 + ((buf[off + 16] << 8) | buf[off + 17])
                if end - data >= 12:
                    dst = bytes(buf[data : data + 6])
                    src = bytes(buf[data + 6 : data + 12])
        elif end - off >= 56:  # FLOW_MOD: walk the OXM fields
            p = off + 52
            match_end = off + 48 + ((buf[off + 50] << 8) | buf[off + 51])
            if match_end > end:
                match_end = end
            while p + 4 <= match_end:
                if buf[p] == 0x80 and buf[p + 1] == 0:
                    fh = buf[p + 2]
                    if fh == OXM_ETH_DST_FH:
                        dst = bytes(buf[p + 4 : p + 10])
                    elif fh == OXM_ETH_SRC_FH:
                        src = bytes(buf[p + 4 : p + 10])
                p += 4 + buf[p + 3]
        out = self._out
        if src is not None:
            entry = out.pop(src, None)
            if entry is not None:
                self._answer(entry, now)
                return
            if src[0] in _OUR_SOURCE_TAGS:  # ours, already answered or timed out
                self.extra += 1
                return
        if dst is not None:
            entry = out.pop(dst, None)  # e.g. a rule towards a just-learned source
            if entry is not None:
                self._answer(entry, now)
                return
            q = self._by_dst.get(dst)
            while q:
                key = q.popleft()
                entry = out.get(key)
                if entry is not None and entry[1] == dst:
                    del out[key]
                    self._answer(entry, now)
                    return
            if dst[0] in _OUR_SOURCE_TAGS:  # towards one of ours, already answered
                self.extra += 1
                return
        self.unmatched += 1

    def _answer(self, entry, now):
        self.answered += 1
        if self._latencies is not None:
            self._latencies.append(now - entry[0])


# --- a fleet of switches -------------------------------------------------------------------


@dataclasses.dataclass
class Snapshot:
    """Counters summed over a fleet at one instant."""

    at: float
    flow_mods: int = 0
    packet_outs: int = 0
    group_mods: int = 0
    packet_ins: int = 0
    answered: int = 0
    timeouts: int = 0
    extra: int = 0
    unmatched: int = 0
    per_switch_responses: tuple = ()

    @property
    def responses(self):
        return self.flow_mods + self.packet_outs


@dataclasses.dataclass
class PhaseStats:
    """What one phase (learning, a memory step) sent and got back."""

    name: str
    seconds: float
    packet_ins: int
    answered: int
    timeouts: int
    extra: int
    unmatched: int
    flow_mods: int
    packet_outs: int

    @classmethod
    def between(cls, name, a, b):
        return cls(
            name,
            b.at - a.at,
            b.packet_ins - a.packet_ins,
            b.answered - a.answered,
            b.timeouts - a.timeouts,
            b.extra - a.extra,
            b.unmatched - a.unmatched,
            b.flow_mods - a.flow_mods,
            b.packet_outs - a.packet_outs,
        )


class Fleet:
    """N emulated switches (dpids first_dpid..) with their hosts, connected together.

    ``async with Fleet(...) as fleet:`` connects them all and waits until all are
    ready; leaving closes them. If any connection is lost, the next wait of the fleet
    (``sleep``, ``learn_hosts``, ``learn_macs``) raises its ``BenchError``.
    """

    def __init__(
        self,
        host='127.0.0.1',
        port=6653,
        n_switches=16,
        hosts_per_switch=100,
        n_ports=4,
        *,
        first_dpid=1,
        cookie=0,
        reason=OFPR_NO_MATCH,
        table_id=0,
        vlan_vid=None,
        ready_grace=0.1,
        response_timeout=2.0,
        handshake_timeout=15.0,
    ):
        if n_switches < 1:
            raise ValueError('n_switches must be >= 1')
        if first_dpid < 1 or first_dpid + n_switches - 1 > 0xFFFF:
            raise ValueError('dpids must be in 1..65535 (they are part of the MACs)')
        if not 0 <= hosts_per_switch <= 0xFFFFFF:
            raise ValueError('hosts_per_switch must be in 0..16777215')
        self.host = host
        self.port = port
        self.n_switches = n_switches
        self.hosts_per_switch = hosts_per_switch
        self.n_ports = n_ports
        self.first_dpid = first_dpid
        self.switch_kwargs = dict(
            cookie=cookie,
            reason=reason,
            table_id=table_id,
            vlan_vid=vlan_vid,
            ready_grace=ready_grace,
            response_timeout=response_timeout,
        )
        self.handshake_timeout = handshake_timeout
        self.switches = []
        self.hosts = {}
        self.handshake_seconds = None
        self.abort = None
        self._next_learn_mac = {}

    async def start(self):
        loop = asyncio.get_running_loop()
        self.abort = _quiet_future(loop)
        t0 = time.perf_counter()
        self.switches = [
            EmulatedSwitch(
                dpid, self.n_ports, self.host, self.port, abort=self.abort, **self.switch_kwargs
            )
            for dpid in range(self.first_dpid, self.first_dpid + self.n_switches)
        ]
        for sw in self.switches:
            self.hosts[sw.dpid] = make_hosts(sw.dpid, self.hosts_per_switch, self.n_ports)
            self._next_learn_mac[sw.dpid] = 0
        try:
            await asyncio.gather(*(sw.start(self.handshake_timeout) for sw in self.switches))
        except BaseException:
            self.close()
            raise
        self.handshake_seconds = time.perf_counter() - t0
        return self

    def close(self):
        for sw in self.switches:
            sw.close()

    async def __aenter__(self):
        return await self.start()

    async def __aexit__(self, *exc):
        self.close()
        await asyncio.sleep(0)  # let the transports close

    def check(self):
        """Raise the first switch failure, if any."""
        if self.abort is not None and self.abort.done():
            self.abort.result()

    async def wait(self, aw, timeout=None):
        """Await ``aw`` unless a switch fails first (raise its error) or time runs out."""
        fut = asyncio.ensure_future(aw)
        try:
            done, _ = await asyncio.wait(
                {fut, self.abort}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        except BaseException:
            fut.cancel()
            raise
        self.check()
        if fut not in done:
            fut.cancel()
            return None
        return fut.result()

    async def sleep(self, seconds):
        await self.wait(asyncio.sleep(seconds), timeout=seconds + 1.0)

    def snapshot(self):
        s = Snapshot(time.perf_counter())
        per_switch = []
        for sw in self.switches:
            fm, po = sw.rx[OFPT_FLOW_MOD], sw.rx[OFPT_PACKET_OUT]
            s.flow_mods += fm
            s.packet_outs += po
            s.group_mods += sw.rx[OFPT_GROUP_MOD]
            s.packet_ins += sw.packet_ins_sent
            s.answered += sw.answered
            s.timeouts += sw.timeouts
            s.extra += sw.extra
            s.unmatched += sw.unmatched
            per_switch.append(fm + po)
        s.per_switch_responses = tuple(per_switch)
        return s

    async def _run_finite(self, name, streams, window, rates=None):
        before = self.snapshot()
        futures = [
            sw.start_traffic(streams[sw.dpid], window, phase=name, rate=(rates or {}).get(sw.dpid))
            for sw in self.switches
        ]
        await self.wait(asyncio.gather(*futures))
        for sw in self.switches:
            sw.stop_traffic()
        return PhaseStats.between(name, before, self.snapshot())

    async def learn_hosts(self, window=DEFAULT_WINDOW):
        """Learning phase: one broadcast ARP request from every host of every switch."""
        streams = {sw.dpid: learning_stream(self.hosts[sw.dpid]) for sw in self.switches}
        return await self._run_finite('learn', streams, window)

    async def learn_macs(self, count, rate=None, window=DEFAULT_WINDOW):
        """Make the controller learn ``count`` new MACs: broadcast ARP requests from
        fresh source MACs, spread evenly over the switches and their ports, at most
        ``rate`` packet-ins per second in all (None: as fast as they are answered)."""
        n = len(self.switches)
        streams, rates = {}, {}
        for i, sw in enumerate(self.switches):
            share = count // n + (1 if i < count % n else 0)
            start = self._next_learn_mac[sw.dpid]
            self._next_learn_mac[sw.dpid] = start + share
            streams[sw.dpid] = mac_stream(sw.dpid, start, share, self.n_ports)
            if rate is not None and share:
                rates[sw.dpid] = rate * share / count
        return await self._run_finite('memory', streams, window, rates)

    def start_probes(self, window, record_latency=False, src_macs_per_switch=100000):
        for sw in self.switches:
            sw.start_traffic(
                probe_stream(sw.dpid, self.hosts[sw.dpid], self.n_ports, src_macs_per_switch),
                window,
                record_latency=record_latency,
                phase='measure',
            )

    def stop_traffic(self):
        for sw in self.switches:
            sw.stop_traffic()

    def take_latencies(self):
        samples = []
        for sw in self.switches:
            samples.extend(sw.take_latencies())
        return samples

    def rx_by_name(self):
        total = collections.Counter()
        for sw in self.switches:
            total.update(sw.rx_by_name())
        return dict(sorted(total.items()))

    def controller_errors(self):
        return [(sw.dpid,) + e for sw in self.switches for e in sw.controller_errors]


# --- the benchmark -------------------------------------------------------------------------


@dataclasses.dataclass
class LoopResult:
    index: int
    warmup: bool
    seconds: float
    packet_ins: int
    flow_mods: int
    packet_outs: int
    answered: int
    timeouts: int
    per_switch_responses: list

    @property
    def responses(self):
        return self.flow_mods + self.packet_outs

    @property
    def responses_per_s(self):
        return self.responses / self.seconds if self.seconds > 0 else 0.0

    @property
    def answered_per_s(self):
        return self.answered / self.seconds if self.seconds > 0 else 0.0

    @property
    def flow_mods_per_s(self):
        return self.flow_mods / self.seconds if self.seconds > 0 else 0.0

    @property
    def packet_outs_per_s(self):
        return self.packet_outs / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self):
        d = dataclasses.asdict(self)
        d.update(
            responses=self.responses,
            responses_per_s=self.responses_per_s,
            answered_per_s=self.answered_per_s,
            flow_mods_per_s=self.flow_mods_per_s,
            packet_outs_per_s=self.packet_outs_per_s,
        )
        return d


def _percentile(sorted_values, p):
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(p / 100.0 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def _summary(values):
    if not values:
        return {'min': None, 'max': None, 'avg': None, 'median': None, 'stdev': None}
    return {
        'min': min(values),
        'max': max(values),
        'avg': statistics.fmean(values),
        'median': statistics.median(values),
        'stdev': statistics.stdev(values) if len(values) > 1 else 0.0,
    }


@dataclasses.dataclass
class BenchResult:
    controller: str
    mode: str
    n_switches: int
    hosts_per_switch: int
    n_ports: int
    window: int
    loop_seconds: float
    cookie: int
    handshake_seconds: float
    learn: PhaseStats
    loops: list  # measured LoopResults
    warmup: list  # warm-up LoopResults
    latencies: list = dataclasses.field(default_factory=list, repr=False)  # seconds
    totals: dict = dataclasses.field(default_factory=dict)
    rx_by_type: dict = dataclasses.field(default_factory=dict)
    controller_errors: list = dataclasses.field(default_factory=list)

    @property
    def rates(self):
        """Responses (FLOW_MOD + PACKET_OUT) per second of each measured loop."""
        return [lp.responses_per_s for lp in self.loops]

    @property
    def answered_rates(self):
        return [lp.answered_per_s for lp in self.loops]

    def responses_summary(self):
        return _summary(self.rates)

    def answered_summary(self):
        return _summary(self.answered_rates)

    @property
    def min(self):
        return self.responses_summary()['min']

    @property
    def max(self):
        return self.responses_summary()['max']

    @property
    def median(self):
        return self.responses_summary()['median']

    @property
    def avg(self):
        return self.responses_summary()['avg']

    def latency(self):
        """Percentiles of the round trips, in seconds (None outside latency mode)."""
        if not self.latencies:
            return None
        s = sorted(self.latencies)
        return {
            'n': len(s),
            'min': s[0],
            'p50': _percentile(s, 50),
            'p90': _percentile(s, 90),
            'p99': _percentile(s, 99),
            'max': s[-1],
            'mean': statistics.fmean(s),
        }

    def to_dict(self):
        lat = self.latency()
        return {
            'controller': self.controller,
            'mode': self.mode,
            'n_switches': self.n_switches,
            'hosts_per_switch': self.hosts_per_switch,
            'n_ports': self.n_ports,
            'window': self.window,
            'loop_seconds': self.loop_seconds,
            'cookie': self.cookie,
            'handshake_seconds': self.handshake_seconds,
            'learn': dataclasses.asdict(self.learn),
            'warmup': [lp.to_dict() for lp in self.warmup],
            'loops': [lp.to_dict() for lp in self.loops],
            'responses_per_s': self.responses_summary(),
            'answered_per_s': self.answered_summary(),
            'latency_us': (
                {k: (v if k == 'n' else v * 1e6) for k, v in lat.items()} if lat else None
            ),
            'totals': self.totals,
            'rx_by_type': self.rx_by_type,
            'controller_errors': self.controller_errors,
        }


async def run_benchmark(
    host='127.0.0.1',
    port=6653,
    n_switches=16,
    hosts_per_switch=100,
    mode='throughput',
    loops=10,
    loop_seconds=1.0,
    warmup_loops=1,
    *,
    n_ports=4,
    window=None,
    cookie=0,
    reason=OFPR_NO_MATCH,
    table_id=0,
    vlan_vid=None,
    response_timeout=2.0,
    ready_grace=0.1,
    handshake_timeout=15.0,
    learn_window=DEFAULT_WINDOW,
    src_macs_per_switch=100000,
    first_dpid=1,
    on_loop=None,
):
    """Connect ``n_switches`` emulated switches, learn their hosts, then measure.

    ``mode`` 'latency' (one outstanding packet-in per switch, round trips recorded) or
    'throughput' (``window`` outstanding per switch, ``DEFAULT_WINDOW`` by default).
    ``warmup_loops`` loops of ``loop_seconds`` run first and are reported apart; then
    ``loops`` measured loops. ``on_loop(LoopResult)`` is called after each loop (for
    progress output). ``cookie``, ``reason``, ``table_id`` and ``vlan_vid`` make the
    packet-ins look like those of the controller's pipeline (see ``PacketInBuilder``).
    Raises ``BenchError`` (naming the switch and phase) when a switch cannot complete
    the handshake or loses its connection.
    """
    if mode not in ('latency', 'throughput'):
        raise ValueError("mode must be 'latency' or 'throughput'")
    if hosts_per_switch < 1:
        raise ValueError('hosts_per_switch must be >= 1')
    if window is None:
        window = 1 if mode == 'latency' else DEFAULT_WINDOW
    if mode == 'latency':
        window = 1
    if src_macs_per_switch < 4 * window or src_macs_per_switch > 0x1000000:
        raise ValueError('src_macs_per_switch must be in 4*window..16777216')
    latency = mode == 'latency'
    fleet = Fleet(
        host,
        port,
        n_switches,
        hosts_per_switch,
        n_ports,
        first_dpid=first_dpid,
        cookie=cookie,
        reason=reason,
        table_id=table_id,
        vlan_vid=vlan_vid,
        ready_grace=ready_grace,
        response_timeout=response_timeout,
        handshake_timeout=handshake_timeout,
    )
    async with fleet:
        learn = await fleet.learn_hosts(learn_window)
        fleet.start_probes(window, record_latency=latency, src_macs_per_switch=src_macs_per_switch)
        measured, warm, samples = [], [], []
        for i in range(warmup_loops + loops):
            is_warmup = i < warmup_loops
            if i == warmup_loops:
                fleet.take_latencies()  # forget the warm-up round trips
            a = fleet.snapshot()
            await fleet.sleep(loop_seconds)
            b = fleet.snapshot()
            lp = LoopResult(
                index=i - warmup_loops if not is_warmup else i,
                warmup=is_warmup,
                seconds=b.at - a.at,
                packet_ins=b.packet_ins - a.packet_ins,
                flow_mods=b.flow_mods - a.flow_mods,
                packet_outs=b.packet_outs - a.packet_outs,
                answered=b.answered - a.answered,
                timeouts=b.timeouts - a.timeouts,
                per_switch_responses=[
                    y - x
                    for x, y in zip(a.per_switch_responses, b.per_switch_responses, strict=True)
                ],
            )
            if not is_warmup and latency:
                samples.extend(fleet.take_latencies())
            (warm if is_warmup else measured).append(lp)
            if on_loop is not None:
                on_loop(lp)
        fleet.stop_traffic()
        end = fleet.snapshot()
        result = BenchResult(
            controller='%s:%d' % (host, port),
            mode=mode,
            n_switches=n_switches,
            hosts_per_switch=hosts_per_switch,
            n_ports=n_ports,
            window=window,
            loop_seconds=loop_seconds,
            cookie=fleet.switches[0].cookie,
            handshake_seconds=fleet.handshake_seconds,
            learn=learn,
            loops=measured,
            warmup=warm,
            latencies=samples,
            totals={
                'packet_ins': end.packet_ins,
                'flow_mods': end.flow_mods,
                'packet_outs': end.packet_outs,
                'group_mods': end.group_mods,
                'answered': end.answered,
                'timeouts': end.timeouts,
                'extra': end.extra,
                'unmatched': end.unmatched,
            },
            rx_by_type=fleet.rx_by_name(),
            controller_errors=fleet.controller_errors(),
        )
    return result


def run_benchmark_sync(*args, **kwargs):
    """``run_benchmark`` in a fresh event loop (for scripts and tests)."""
    return asyncio.run(run_benchmark(*args, **kwargs))


def run_flow_setup(ofp_port, mode, loops, loop_seconds, **options):
    """The flow-setup run the benchmarks compare our controllers with: 16 switches of 100
    learned hosts, one warm-up loop, packet-ins carrying the app's table-miss cookie."""
    return run_benchmark_sync(
        '127.0.0.1',
        ofp_port,
        n_switches=16,
        hosts_per_switch=100,
        mode=mode,
        loops=loops,
        loop_seconds=loop_seconds,
        warmup_loops=1,
        cookie=FROM_TABLE_MISS,
        **options,
    )


# --- memory ------------------------------------------------------------------------------


def rss_kib(pid):
    """Resident set size of process ``pid`` in KiB (VmRSS of /proc/<pid>/status)."""
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    raise ValueError('process %d has no VmRSS (a zombie or a kernel thread?)' % pid)


@dataclasses.dataclass
class MemoryPoint:
    macs: int  # distinct MACs learned so far (cumulative)
    rss_kib: int
    learn: PhaseStats  # the step that brought the count to ``macs``


@dataclasses.dataclass
class MemoryResult:
    controller: str
    pid: int
    n_switches: int
    n_ports: int
    baseline_rss_kib: int  # after the handshake, before any MAC
    points: list

    def to_dict(self):
        return {
            'controller': self.controller,
            'pid': self.pid,
            'n_switches': self.n_switches,
            'n_ports': self.n_ports,
            'baseline_rss_kib': self.baseline_rss_kib,
            'points': [
                {
                    'macs': p.macs,
                    'rss_kib': p.rss_kib,
                    'delta_kib': p.rss_kib - self.baseline_rss_kib,
                    'learn': dataclasses.asdict(p.learn),
                }
                for p in self.points
            ],
        }


async def measure_memory(
    host,
    port,
    pid,
    counts=(1000, 10000, 100000),
    n_switches=4,
    n_ports=4,
    rate=5000.0,
    window=DEFAULT_WINDOW,
    settle=0.5,
    **fleet_kwargs,
):
    """RSS of the controller process ``pid`` after it has learned each of ``counts``
    distinct MACs (cumulative steps over the same connected switches, which stay
    connected until the last reading so the controller keeps its state)."""
    points = []
    async with Fleet(host, port, n_switches, 0, n_ports, **fleet_kwargs) as fleet:
        await fleet.sleep(settle)
        baseline = rss_kib(pid)
        learned = 0
        for k in sorted(counts):
            if k > learned:
                stats = await fleet.learn_macs(k - learned, rate=rate, window=window)
                learned = k
            else:
                stats = PhaseStats('memory', 0.0, 0, 0, 0, 0, 0, 0, 0)
            await fleet.sleep(settle)
            points.append(MemoryPoint(k, rss_kib(pid), stats))
    return MemoryResult('%s:%d' % (host, port), pid, n_switches, n_ports, baseline, points)


def measure_memory_sync(*args, **kwargs):
    return asyncio.run(measure_memory(*args, **kwargs))
