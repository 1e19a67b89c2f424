"""Small builders for the OpenFlow 1.3 messages the apps send, so that every app writes
its rules the same way (cookie always set, deletes always scoped to a cookie range), and
the check every app makes of a packet-in before it reads it (``PacketInGuard``)."""

import copy
import logging
import struct
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
from ryu.ofproto import ofproto_parser
from ryu.ofproto import ofproto_v1_3 as ofp13
from ryu.ofproto import ofproto_v1_3_parser as parser13

from controller.rate_limit import LogThrottle

_OXM_IN_PORT = ofp13.oxm_tlv_header(ofp13.OFPXMT_OFB_IN_PORT, 4)
_OXM_ETH_DST = ofp13.oxm_tlv_header(ofp13.OFPXMT_OFB_ETH_DST, 6)
_OXM_ETH_SRC = ofp13.oxm_tlv_header(ofp13.OFPXMT_OFB_ETH_SRC, 6)
# Packed once: the learning hot path builds two matches per packet-in.
_IN_PORT_TLV = struct.Struct('!II')
_ETH_DST_HEADER = struct.pack('!I', _OXM_ETH_DST)
_ETH_SRC_HEADER = struct.pack('!I', _OXM_ETH_SRC)
_MATCH_HEADER = struct.Struct('!HH')
_PADDING = [b'\0' * (-length % 8) for length in range(8)]  # by length % 8
_FIELDS = ('in_port', 'eth_dst', 'eth_src')
#: the match fields a PackedMatch packs
PACKABLE_FIELDS = frozenset(_FIELDS)
_INSTRUCTION_HEADER = struct.Struct('!HH4x')
_OUTPUT_ACTION = struct.Struct('!HHIH6x')


class PackedMatch(parser13.OFPMatch):
    """An OpenFlow 1.3 match on in_port / eth_dst / eth_src, packed once.

    For the learning hot path: Ryu's OFPMatch runs every MAC through netaddr twice (when
    built and again when serialized), which profiling showed to be the largest single
    cost of a packet-in (bench/RESULTS.md). Write-only: a flow-mod only calls
    ``serialize``; reading fields back (``match['eth_src']``) is not supported.
    """

    def __init__(
        self, in_port: int | None = None, eth_dst: str | None = None, eth_src: str | None = None
    ) -> None:
        # OFPMatch's own constructor is skipped on purpose: it builds a 40-field Flow and
        # wildcards that only its own serializer reads (a sixth of a packet-in's cost).
        self.fields: list[Any] = []
        self._fields2: list[Any] = []
        self._given_values = (in_port, eth_dst, eth_src)
        fields = b''
        dst = src = None
        if in_port is not None:
            fields = _IN_PORT_TLV.pack(_OXM_IN_PORT, in_port)
        if eth_dst is not None:
            dst = mac_bytes(eth_dst)
            fields += _ETH_DST_HEADER + dst
        if eth_src is not None:
            src = mac_bytes(eth_src)
            fields += _ETH_SRC_HEADER + src
        self._wire_values = (in_port, dst, src)
        self.length = 4 + len(fields)
        self._packed = (
            _MATCH_HEADER.pack(ofp13.OFPMT_OXM, self.length) + fields + _PADDING[self.length % 8]
        )

    def serialize(self, buf: bytearray, offset: int) -> int:
        # msg_pack_into's effect (zero-fill up to offset, then write), without a struct
        # format made for each match
        if len(buf) < offset:
            buf += bytearray(offset - len(buf))
        buf[offset : offset + len(self._packed)] = self._packed
        return len(self._packed)

    def given_fields(self) -> dict[str, int | str]:
        """{field: value} as given (in_port an int, MACs as text)."""
        return {
            field: value
            for field, value in zip(_FIELDS, self._given_values, strict=True)
            if value is not None
        }

    def wire_values(self) -> tuple[int | None, bytes | None, bytes | None]:
        """(in_port, eth_dst bytes, eth_src bytes) as packed, None where not given: for
        readers such as the arbiter (``fields`` is OFPMatch's own, and stays empty)."""
        return self._wire_values

    def __repr__(self) -> str:
        return 'PackedMatch(%s)' % ', '.join('%s=%r' % kv for kv in self.given_fields().items())

    __str__ = __repr__


class _OutputActions(dict):
    """('output', port) -> the packed OFPActionOutput (no max_len); KeyError for any
    other action. Bounded: cleared past 65536 ports."""

    def __missing__(self, action: tuple) -> bytes:
        if action[0] != 'output' or len(action) != 2:
            raise KeyError(action)
        if len(self) >= 0x10000:
            self.clear()
        packed = self[action] = _OUTPUT_ACTION.pack(
            ofp13.OFPAT_OUTPUT, ofp13.OFP_ACTION_OUTPUT_SIZE, action[1], ofp13.OFPCML_NO_BUFFER
        )
        return packed


_OUTPUT_ACTIONS = _OutputActions()


class PackedOutputs(parser13.OFPInstructionActions):
    """Apply-actions that only output to ports (no max_len), packed at once.

    A flood rule of a large switch outputs to hundreds or thousands of ports; Ryu's
    action objects cost ~2 us each to build and serialize, which made reprogramming a
    1,024-port switch take seconds of the event loop. ``actions`` makes Ryu's objects on
    demand, for readers such as the arbiter.
    """

    def __init__(self, actions: Sequence[tuple]) -> None:
        """``actions``: ('output', port) tuples (controller/flowspec.py's form); a
        KeyError for any other action."""
        # OFPInstructionActions' constructor is skipped: it would store ``actions``.
        self.type = ofp13.OFPIT_APPLY_ACTIONS
        packed = b''.join(map(_OUTPUT_ACTIONS.__getitem__, actions))
        self._outputs = actions
        self.len = ofp13.OFP_INSTRUCTION_ACTIONS_SIZE + len(packed)
        self._packed = _INSTRUCTION_HEADER.pack(self.type, self.len) + packed

    @property
    def ports(self) -> list[int]:
        return [port for _, port in self._outputs]

    @property
    def actions(self) -> list[Any]:
        return [parser13.OFPActionOutput(port, ofp13.OFPCML_NO_BUFFER) for port in self.ports]

    def serialize(self, buf: bytearray, offset: int) -> None:
        if len(buf) < offset:
            buf += bytearray(offset - len(buf))
        buf[offset : offset + self.len] = self._packed

    def __repr__(self) -> str:
        return 'PackedOutputs(%s)' % ', '.join(map(str, self.ports))

    __str__ = __repr__


#: the most output actions one FLOW_MOD can carry (a message is at most 65535 bytes):
#: header and body (48), an in_port match (16), the apply-actions header (8), 16 per output
MAX_OUTPUTS_PER_FLOW_MOD = (
    0xFFFF - 48 - 16 - ofp13.OFP_INSTRUCTION_ACTIONS_SIZE
) // ofp13.OFP_ACTION_OUTPUT_SIZE


def mac_bytes(mac: str) -> bytes:
    """'00:00:00:00:00:01' -> 6 bytes."""
    return bytes.fromhex(mac.replace(':', ''))


def mac_text(raw: bytes | bytearray) -> str:
    """6 bytes -> '00:00:00:00:00:01'."""
    return raw.hex(':')


def apply_actions(dp: Any, actions: list[Any]) -> Any:
    return dp.ofproto_parser.OFPInstructionActions(dp.ofproto.OFPIT_APPLY_ACTIONS, actions)


def goto_table(dp: Any, table_id: int) -> Any:
    return dp.ofproto_parser.OFPInstructionGotoTable(table_id)


def output(dp: Any, port: int, max_len: int | None = None) -> Any:
    parser, ofp = dp.ofproto_parser, dp.ofproto
    if max_len is None:
        max_len = ofp.OFPCML_NO_BUFFER
    return parser.OFPActionOutput(port, max_len)


def flow_add(
    dp: Any,
    table_id: int,
    priority: int,
    match: Any,
    instructions: list[Any],
    cookie: int,
    idle_timeout: int = 0,
    hard_timeout: int = 0,
    send_flow_removed: bool = False,
) -> Any:
    """The FLOW_MOD that adds (or replaces, when match and priority are equal) a rule."""
    parser, ofp = dp.ofproto_parser, dp.ofproto
    flags = ofp.OFPFF_SEND_FLOW_REM if send_flow_removed else 0
    return parser.OFPFlowMod(
        datapath=dp,
        table_id=table_id,
        command=ofp.OFPFC_ADD,
        priority=priority,
        match=match,
        instructions=instructions,
        cookie=cookie,
        idle_timeout=idle_timeout,
        hard_timeout=hard_timeout,
        flags=flags,
        buffer_id=ofp.OFP_NO_BUFFER,
    )


def add_flow(dp: Any, *args: Any, **kwargs: Any) -> None:
    """Send flow_add(dp, ...)."""
    dp.send_msg(flow_add(dp, *args, **kwargs))


# A MAC address and a port number that no real rule holds elsewhere in its bytes: the
# places they take in a serialized prototype are where a template stamps the real ones.
# Their complements (every byte differs) find the same places by difference, which
# also holds when a cookie or a VID of the message happens to contain a sentinel's bytes.
_MAC_SENTINEL = bytes.fromhex('5aa5c33c9669')
_PORT_SENTINEL = 0x5AC33CA5
_MAC_OTHER = bytes(0xFF ^ byte for byte in _MAC_SENTINEL)
_PORT_OTHER = 0xFFFFFFFF ^ _PORT_SENTINEL
_PORT = struct.Struct('!I')
_HEADER = struct.Struct('!BBHI')  # version, type, length, xid
_XID_OFFSET = 4  # in the OpenFlow header: version, type, length, xid


class FlowModTemplate:
    """A message that differs from use to use only in one MAC address and one port
    number, serialized once and then stamped: a copy of the prototype's bytes with the
    xid, the MAC and the port written in place.

    For the learning hot path, where building and serializing two OFPFlowMods per new
    host was the app's largest cost (bench/ANALYSIS.md). ``build(mac, port)`` makes the
    message the Ryu way (so the bytes are Ryu's own, field for field); it is called once,
    with sentinel values whose positions in the bytes become the slots.
    """

    def __init__(self, build: Callable[[str, int], Any]) -> None:
        self._build = build
        msg = build(mac_text(_MAC_SENTINEL), _PORT_SENTINEL)
        self.prototype = _serialized(msg)
        self._mac_at = _slots(
            self.prototype, _serialized(build(mac_text(_MAC_OTHER), _PORT_SENTINEL)), 6
        )
        self._port_at = _slots(
            self.prototype, _serialized(build(mac_text(_MAC_SENTINEL), _PORT_OTHER)), 4
        )
        wire_values = getattr(msg.match, 'wire_values', None)
        self._match_values = None if wire_values is None else wire_values()
        if not self._mac_at or not self._port_at:
            raise ValueError('the message built holds the MAC or the port nowhere: %r' % msg)

    def message(self, mac: bytes, port: int) -> Any:
        """The same message as a Ryu object (for readers such as the arbiter)."""
        return self._build(mac_text(mac), port)

    def match_values(
        self, mac: bytes, port: int
    ) -> tuple[int | None, bytes | None, bytes | None] | None:
        """What PackedMatch.wire_values (in_port, eth_dst, eth_src) gives for the message
        stamped with ``mac`` and ``port``, without building it (for the arbiter); None
        if its match is not a PackedMatch."""
        if self._match_values is None:
            return None
        in_port, eth_dst, eth_src = self._match_values
        return (
            port if in_port == _PORT_SENTINEL else in_port,
            mac if eth_dst == _MAC_SENTINEL else eth_dst,
            mac if eth_src == _MAC_SENTINEL else eth_src,
        )

    def stamp(self, xid: int, mac: bytes, port: int) -> bytearray:
        """The message's bytes for ``mac`` (6 bytes) and ``port``, with ``xid``."""
        buf = bytearray(self.prototype)
        _PORT.pack_into(buf, _XID_OFFSET, xid)
        for offset in self._mac_at:
            buf[offset : offset + 6] = mac
        for offset in self._port_at:
            _PORT.pack_into(buf, offset, port)
        return buf

    def stamp_rows(self, macs: np.ndarray, ports: np.ndarray) -> np.ndarray:
        """The message stamped once per row, column by column (xid 0): an (n, length)
        uint8 array whose row i is ``stamp(0, macs[i], ports[i])``. ``macs``: (n, 6)
        uint8; ``ports``: n integers below 2**32."""
        rows = np.empty((len(ports), len(self.prototype)), np.uint8)
        rows[:] = np.frombuffer(self.prototype, np.uint8)
        port_bytes = np.asarray(ports, '>u4').view(np.uint8).reshape(-1, 4)
        for offset in self._mac_at:
            rows[:, offset : offset + 6] = macs
        for offset in self._port_at:
            rows[:, offset : offset + 4] = port_bytes
        return rows


class FlowModBlock:
    """FLOW_MODs of one FlowModTemplate, one per (MAC, port) row, serialized together
    as one array (``rows``, xids 0): a switch's thousands of forward rules cost a few
    numpy operations instead of a Ryu message each. controller/bundles.py sends the rows
    as they are, with xids written column-wise; ``messages`` gives them as Ryu objects
    for readers that need those (the arbiter, tests)."""

    def __init__(self, template: FlowModTemplate, macs: np.ndarray, ports: np.ndarray) -> None:
        self.rows = template.stamp_rows(macs, ports)

    def __len__(self) -> int:
        return len(self.rows)

    def messages(self, dp: Any) -> list[Any]:
        """Each row as the OFPFlowMod Ryu parses from it (xid None: set when sent)."""
        out = []
        for row in self.rows:
            wire = row.tobytes()
            version, msg_type, length, _ = _HEADER.unpack_from(wire)
            msg = ofproto_parser.msg(dp, version, msg_type, length, 0, bytearray(wire))
            msg.xid = None
            out.append(msg)
        return out

    def __repr__(self) -> str:
        return 'FlowModBlock(%d x %d bytes)' % self.rows.shape


def as_messages(dp: Any, msgs: Iterable[Any]) -> list[Any]:
    """``msgs`` with every FlowModBlock replaced by its Ryu messages."""
    out: list[Any] = []
    for msg in msgs:
        if isinstance(msg, FlowModBlock):
            out += msg.messages(dp)
        else:
            out.append(msg)
    return out


def message_count(msgs: Iterable[Any]) -> int:
    """How many OpenFlow messages ``msgs`` stands for (a FlowModBlock is one per row)."""
    return sum(len(msg) if isinstance(msg, FlowModBlock) else 1 for msg in msgs)


def _serialized(msg: Any) -> bytes:
    msg.xid = 0
    msg.serialize()
    return bytes(msg.buf)


def _slots(prototype: bytes, other: bytes, width: int) -> list[int]:
    """The offsets of the ``width``-byte fields in which two serializations of one
    message differ (built with a sentinel and with its complement, every byte of which
    differs): where the value stands."""
    if len(other) != len(prototype):
        raise ValueError('the message built is not the same length for every value')
    differ = [at for at in range(len(prototype)) if prototype[at] != other[at]]
    slots = differ[::width]
    if differ != [at + i for at in slots for i in range(width)]:
        raise ValueError(
            'the message built holds a value in %r, not in %d-byte fields' % (differ, width)
        )
    return slots


def send_stamped(dp: Any, templates: Sequence[FlowModTemplate], mac: bytes, port: int) -> None:
    """Send each template stamped with ``mac`` and ``port`` (and a fresh xid of
    ``dp``'s), as one write like send_together. The arbiter replaces it with its own,
    which takes the messages as objects (``FlowModTemplate.message``)."""
    ofp = dp.ofproto
    bufs = []
    for template in templates:
        dp.xid = (dp.xid + 1) & ofp.MAX_XID  # Datapath.set_xid's numbering, with no message
        bufs.append(template.stamp(dp.xid, mac, port))
    dp.send(b''.join(bufs))


def send_together(dp: Any, msgs: Sequence[Any]) -> None:
    """Send several messages as one write: one send-queue slot and one system call
    instead of one each (Ryu's send queue is bounded, and it was where learning waited)."""
    for msg in msgs:
        dp.set_xid(msg)
        msg.serialize()
    dp.send(b''.join([msg.buf for msg in msgs]))


_PLAIN_SEND_TOGETHER = send_together


def arbitrated() -> bool:
    """Whether an arbiter stands between the apps and the switches
    (controller/arbiter/interpose.py replaces send_together with its own)."""
    return send_together is not _PLAIN_SEND_TOGETHER


def flow_delete(
    dp: Any,
    cookie: int,
    cookie_mask: int,
    table_id: int | None = None,
    match: Any = None,
    out_port: int | None = None,
    priority: int | None = None,
) -> Any:
    """The FLOW_MOD that deletes the rules in the cookie range that also match ``match``
    / output to ``out_port``; ``priority`` given makes it a strict delete of one rule."""
    parser, ofp = dp.ofproto_parser, dp.ofproto
    return parser.OFPFlowMod(
        datapath=dp,
        table_id=ofp.OFPTT_ALL if table_id is None else table_id,
        command=ofp.OFPFC_DELETE if priority is None else ofp.OFPFC_DELETE_STRICT,
        priority=priority or 0,
        cookie=cookie,
        cookie_mask=cookie_mask,
        out_port=ofp.OFPP_ANY if out_port is None else out_port,
        out_group=ofp.OFPG_ANY,
        match=match if match is not None else parser.OFPMatch(),
    )


def delete_flows(dp: Any, *args: Any, **kwargs: Any) -> None:
    """Send flow_delete(dp, ...)."""
    dp.send_msg(flow_delete(dp, *args, **kwargs))


# Open vSwitch's extension command (OpenFlow 1.1+): add the group, or replace it if it
# exists. Plain ADD fails on an existing group, which would fail a whole bundle after a
# controller restart, when the switch still holds groups the new run does not know of.
OVS_GROUP_ADD_OR_MOD = 0x8000


class PreparedMessage:
    """A message serialized once for every switch it goes to: ``serialize`` copies the
    bytes of ``prepared`` (bytes, what they were made of) and writes the xid. Changed
    after it was made (``_made_of`` differs: the arbiter rewrites cookies, tables and
    flags), it is serialized by Ryu as usual. Mixed into a Ryu message class."""

    prepared: tuple[bytes, tuple]
    xid: int | None

    def _made_of(self) -> tuple:
        raise NotImplementedError

    def serialize(self) -> None:
        wire, made_of = self.prepared
        if self.xid is not None and self._made_of() == made_of:
            self.version, self.msg_type, self.msg_len = wire[0], wire[1], len(wire)
            self.buf = bytearray(wire)
            _PORT.pack_into(self.buf, _XID_OFFSET, self.xid)
            return
        super().serialize()  # type: ignore[misc]

    def prepare(self) -> None:
        """Serialize it once (xid 0) for the copies made of it."""
        self.xid = 0
        super().serialize()  # type: ignore[misc]
        self.prepared = (bytes(self.buf), self._made_of())


class PreparedMessages:
    """PreparedMessage prototypes by key (at most ``kept``: then they are all dropped),
    each built and serialized once and copied for every switch it goes to."""

    def __init__(self, kept: int) -> None:
        self.kept = kept
        self._prototypes: dict[Any, Any] = {}

    def copy_for(self, dp: Any, key: Any, build: Callable[[], PreparedMessage]) -> Any:
        """A copy of ``key``'s prototype (``build()`` the first time, or when it was made
        for another OpenFlow version) for ``dp``, xid unset."""
        prototype: Any = self._prototypes.get(key)
        if prototype is None or prototype.datapath.ofproto is not dp.ofproto:
            prototype = build()
            prototype.prepare()
            if len(self._prototypes) >= self.kept:
                self._prototypes.clear()
            self._prototypes[key] = prototype
        msg = copy.copy(prototype)
        msg.datapath, msg.xid, msg.buf = dp, None, None
        return msg


class PreparedGroupMod(PreparedMessage, parser13.OFPGroupMod):
    def _made_of(self) -> tuple:
        return (self.datapath.ofproto, self.command, self.type, self.group_id, self.buckets)


PREPARED_GROUPS_KEPT = 4096  # failover_group's messages kept to copy
_prepared_groups = PreparedMessages(PREPARED_GROUPS_KEPT)


def failover_group(dp: Any, group_id: int, ports: Iterable[int]) -> Any:
    """GROUP_MOD creating (or replacing) a fast-failover group: out of the first of
    ``ports`` that is live. The same group goes to many switches (stable_routing names
    groups by their ports): its message is built and serialized once (a
    PreparedGroupMod, about 50 us through Ryu's bucket and action classes) and copied."""
    ports = tuple(ports)

    def build() -> PreparedGroupMod:
        parser, ofp = dp.ofproto_parser, dp.ofproto
        buckets = [
            parser.OFPBucket(watch_port=port, watch_group=ofp.OFPG_ANY, actions=[output(dp, port)])
            for port in ports
        ]
        return PreparedGroupMod(dp, OVS_GROUP_ADD_OR_MOD, ofp.OFPGT_FF, group_id, buckets)

    return _prepared_groups.copy_for(dp, (group_id, ports), build)


def select_group(dp: Any, group_id: int, ports: Iterable[int]) -> Any:
    """GROUP_MOD creating (or replacing) a select group: each flow out of one of
    ``ports`` (the switch's hash); no ports: a group that drops."""
    parser, ofp = dp.ofproto_parser, dp.ofproto
    buckets = [
        parser.OFPBucket(
            weight=1, watch_port=ofp.OFPP_ANY, watch_group=ofp.OFPG_ANY, actions=[output(dp, port)]
        )
        for port in ports
    ]
    return parser.OFPGroupMod(dp, OVS_GROUP_ADD_OR_MOD, ofp.OFPGT_SELECT, group_id, buckets)


def group_delete(dp: Any, group_id: int) -> Any:
    parser, ofp = dp.ofproto_parser, dp.ofproto
    return parser.OFPGroupMod(dp, ofp.OFPGC_DELETE, ofp.OFPGT_FF, group_id, [])


def barrier(dp: Any) -> None:
    dp.send_msg(dp.ofproto_parser.OFPBarrierRequest(dp))


# --- packet-ins from a switch that may lie --------------------------------------------

ETH_HEADER_LEN = 14


def _read_packet_in(msg: Any) -> tuple[int, bytes | bytearray] | str:
    """(in_port, frame) of a packet-in, or what is wrong with it."""
    try:
        in_port = msg.match.get('in_port')
    except Exception:  # no match at all, or not a mapping: what a switch sent is not
        return 'no match'
    if in_port is None:
        return 'no in_port in the match'
    if type(in_port) is not int or not (
        0 < in_port <= ofp13.OFPP_MAX or in_port == ofp13.OFPP_LOCAL
    ):
        return 'in_port %r is not a port' % (in_port,)
    frame = getattr(msg, 'data', None)
    if not isinstance(frame, (bytes, bytearray)):
        return 'no frame'
    # Ryu cuts the frame to total_len: a total_len that lies short ends here too.
    if len(frame) < ETH_HEADER_LEN:
        return 'a frame of %d bytes, shorter than an Ethernet header' % len(frame)
    return in_port, frame


def packet_in_fields(msg: Any) -> tuple[int, bytes | bytearray] | None:
    """(in_port, frame) of a packet-in whose in_port is a port and whose frame holds an
    Ethernet header; None otherwise (no in_port in the match, a reserved or absent port,
    a frame shorter than 14 bytes, as a switch that lies may send)."""
    read = _read_packet_in(msg)
    return read if type(read) is tuple else None


class PacketInGuard:
    """``packet_in_fields`` with a count per switch of the packet-ins dropped, and at
    most one WARNING line per switch per ``log_interval`` seconds: a malformed packet-in
    costs a dictionary update, not a traceback.

    For apps on controller/app_base.py, the base holds one (``SuiteApp.packet_in_fields``);
    other apps (the arbiter) make their own.
    """

    def __init__(
        self,
        logger: logging.Logger | logging.LoggerAdapter,
        log_interval: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.dropped: dict[int, int] = {}  # dpid -> malformed packet-ins dropped
        self._throttle = LogThrottle(log_interval, clock)

    def fields(self, dpid: int, msg: Any) -> tuple[int, bytes | bytearray] | None:
        """(in_port, frame) of switch ``dpid``'s packet-in, or None (counted, maybe
        logged) for a malformed one."""
        read = _read_packet_in(msg)
        if type(read) is tuple:
            return read
        count = self.dropped[dpid] = self.dropped.get(dpid, 0) + 1
        if self._throttle.ready(dpid):
            self.logger.warning(
                'switch %016x: malformed packet-in dropped (%s); %d so far '
                '(one line a minute at most)',
                dpid,
                read,
                count,
            )
        return None

    def forget(self, dpid: int) -> None:
        """The switch disconnected: its count goes."""
        self.dropped.pop(dpid, None)
        self._throttle.forget(dpid)


class RyuParseErrors(logging.Filter):
    """What Ryu logs for an OpenFlow message it cannot parse, as one WARNING line per
    ``interval`` seconds with a count, and no traceback.

    Ryu logs a traceback and the whole message in hex for every message it cannot parse
    (an OXM of the experimenter class, a field of the wrong length) and drops it: hundreds
    of tracebacks from one lying switch. A message cut short inside (an OXM longer than
    its match) ends the connection: Ryu logs "Error in the datapath <dpid> from
    <address>" (kept: it names the switch) and then the traceback as a "hub: uncaught
    exception". Installed on both loggers by ``quiet_ryu_parse_errors``."""

    PARSE_ERROR = 'Encountered an error while parsing'
    CONNECTION_ERROR = 'hub: uncaught exception'
    TRUNCATED = 'ryu.exception.OFPTruncatedMessage'

    def __init__(self, interval: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.dropped = 0  # messages Ryu could not parse and dropped
        self.cut_short = 0  # connections Ryu ended on a message cut short
        self._throttle = LogThrottle(interval, clock)

    def filter(self, record: logging.LogRecord) -> bool:
        text = str(record.msg)
        if text.startswith(self.PARSE_ERROR):
            self.dropped += 1
            error = record.exc_info[1] if record.exc_info else None
            args = record.args if isinstance(record.args, tuple) else ()
            msg_type, msg_len = args[1:3] if len(args) >= 3 else ('?', '?')
            return self._rewrite(
                record,
                'parse',
                (
                    'an OpenFlow message Ryu could not parse was dropped (type %s, %s bytes: '
                    '%s); %d so far (one line a minute at most)'
                ),
                (msg_type, msg_len, str(error)[:120], self.dropped),
            )
        detail = str(
            record.args[0] if isinstance(record.args, tuple) and record.args else record.args
        )
        if text.startswith(self.CONNECTION_ERROR) and self.TRUNCATED in detail:
            self.cut_short += 1
            last = detail.strip().splitlines()[-1].split(self.TRUNCATED + ':', 1)[-1]
            return self._rewrite(
                record,
                'truncated',
                (
                    'a switch sent an OpenFlow message cut short (%s): Ryu closed its '
                    'connection (the line before names it); %d so far (one line a minute at '
                    'most)'
                ),
                (last.strip()[:200], self.cut_short),
            )
        return True

    def _rewrite(self, record: logging.LogRecord, key: str, msg: str, args: tuple) -> bool:
        if not self._throttle.ready(key):
            return False
        record.msg, record.args = msg, args
        record.exc_info = record.exc_text = None
        record.levelno, record.levelname = logging.WARNING, 'WARNING'
        return True


#: the loggers of Ryu that RyuParseErrors shortens
RYU_PARSER_LOGGER = 'ryu.ofproto.ofproto_parser'
RYU_HUB_LOGGER = 'ryu.lib.hub'


def quiet_ryu_parse_errors() -> RyuParseErrors:
    """Install one RyuParseErrors on Ryu's parser and hub loggers, once per process;
    returns it."""
    loggers = [logging.getLogger(name) for name in (RYU_PARSER_LOGGER, RYU_HUB_LOGGER)]
    for existing in loggers[0].filters:
        if isinstance(existing, RyuParseErrors):
            return existing
    installed = RyuParseErrors()
    for logger in loggers:
        logger.addFilter(installed)
    return installed
