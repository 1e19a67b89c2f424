"""Small builders for the OpenFlow 1.3 messages the apps send, so that every app writes
its rules the same way (cookie always set, deletes always scoped to a cookie range)."""

import struct
from collections.abc import Iterable, Sequence
from typing import Any

from ryu.ofproto import ofproto_v1_3 as ofp13
from ryu.ofproto import ofproto_v1_3_parser as parser13

_OXM_IN_PORT = ofp13.oxm_tlv_header(ofp13.OFPXMT_OFB_IN_PORT, 4)
_OXM_ETH_DST = ofp13.oxm_tlv_header(ofp13.OFPXMT_OFB_ETH_DST, 6)
_OXM_ETH_SRC = ofp13.oxm_tlv_header(ofp13.OFPXMT_OFB_ETH_SRC, 6)
# Packed once: the learning hot path builds two matches per packet-in.
_IN_PORT_TLV = struct.Struct('!II')
_ETH_DST_HEADER = struct.pack('!I', _OXM_ETH_DST)
_ETH_SRC_HEADER = struct.pack('!I', _OXM_ETH_SRC)
_MATCH_HEADER = struct.Struct('!HH')
_PADDING = [b'\0' * (-length % 8) for length in range(8)]   # by length % 8
_FIELDS = ('in_port', 'eth_dst', 'eth_src')


class PackedMatch(parser13.OFPMatch):
    """An OpenFlow 1.3 match on in_port / eth_dst / eth_src, packed once.

    For the learning hot path: Ryu's OFPMatch runs every MAC through netaddr twice (when
    built and again when serialized), which profiling showed to be the largest single
    cost of a packet-in (bench/RESULTS.md). Write-only: a flow-mod only calls
    ``serialize``; reading fields back (``match['eth_src']``) is not supported.
    """

    def __init__(self, in_port: int | None = None, eth_dst: str | None = None,
                 eth_src: str | None = None) -> None:
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
        self._packed = (_MATCH_HEADER.pack(ofp13.OFPMT_OXM, self.length) + fields
                        + _PADDING[self.length % 8])

    def serialize(self, buf: bytearray, offset: int) -> int:
        # msg_pack_into's effect (zero-fill up to offset, then write), without a struct
        # format made for each match
        if len(buf) < offset:
            buf += bytearray(offset - len(buf))
        buf[offset:offset + len(self._packed)] = self._packed
        return len(self._packed)

    def given_fields(self) -> dict[str, int | str]:
        """{field: value} as given (in_port an int, MACs as text)."""
        return {field: value for field, value in zip(_FIELDS, self._given_values, strict=True)
                if value is not None}

    def wire_values(self) -> tuple[int | None, bytes | None, bytes | None]:
        """(in_port, eth_dst bytes, eth_src bytes) as packed, None where not given: for
        readers such as the arbiter (``fields`` is OFPMatch's own, and stays empty)."""
        return self._wire_values

    def __repr__(self) -> str:
        return 'PackedMatch(%s)' % ', '.join('%s=%r' % kv
                                             for kv in self.given_fields().items())

    __str__ = __repr__


def mac_bytes(mac: str) -> bytes:
    """'00:00:00:00:00:01' -> 6 bytes."""
    return bytes.fromhex(mac.replace(':', ''))


def mac_text(raw: bytes) -> str:
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


def flow_add(dp: Any, table_id: int, priority: int, match: Any, instructions: list[Any],
             cookie: int, idle_timeout: int = 0, hard_timeout: int = 0,
             send_flow_removed: bool = False) -> Any:
    """The FLOW_MOD that adds (or replaces, when match and priority are equal) a rule."""
    parser, ofp = dp.ofproto_parser, dp.ofproto
    flags = ofp.OFPFF_SEND_FLOW_REM if send_flow_removed else 0
    return parser.OFPFlowMod(
        datapath=dp, table_id=table_id, command=ofp.OFPFC_ADD, priority=priority,
        match=match, instructions=instructions, cookie=cookie,
        idle_timeout=idle_timeout, hard_timeout=hard_timeout, flags=flags,
        buffer_id=ofp.OFP_NO_BUFFER)


def add_flow(dp: Any, *args: Any, **kwargs: Any) -> None:
    """Send flow_add(dp, ...)."""
    dp.send_msg(flow_add(dp, *args, **kwargs))


def send_together(dp: Any, msgs: Sequence[Any]) -> None:
    """Send several messages as one write: one send-queue slot and one system call
    instead of one each (Ryu's send queue is bounded, and it was where learning waited)."""
    for msg in msgs:
        dp.set_xid(msg)
        msg.serialize()
    dp.send(b''.join([msg.buf for msg in msgs]))


def flow_delete(dp: Any, cookie: int, cookie_mask: int, table_id: int | None = None,
                match: Any = None, out_port: int | None = None, priority: int | None = None
                ) -> Any:
    """The FLOW_MOD that deletes the rules in the cookie range that also match ``match``
    / output to ``out_port``; ``priority`` given makes it a strict delete of one rule."""
    parser, ofp = dp.ofproto_parser, dp.ofproto
    return parser.OFPFlowMod(
        datapath=dp,
        table_id=ofp.OFPTT_ALL if table_id is None else table_id,
        command=ofp.OFPFC_DELETE if priority is None else ofp.OFPFC_DELETE_STRICT,
        priority=priority or 0,
        cookie=cookie, cookie_mask=cookie_mask,
        out_port=ofp.OFPP_ANY if out_port is None else out_port,
        out_group=ofp.OFPG_ANY,
        match=match if match is not None else parser.OFPMatch())


def delete_flows(dp: Any, *args: Any, **kwargs: Any) -> None:
    """Send flow_delete(dp, ...)."""
    dp.send_msg(flow_delete(dp, *args, **kwargs))


# Open vSwitch's extension command (OpenFlow 1.1+): add the group, or replace it if it
# exists. Plain ADD fails on an existing group, which would fail a whole bundle after a
# controller restart, when the switch still holds groups the new run does not know of.
OVS_GROUP_ADD_OR_MOD = 0x8000


def failover_group(dp: Any, group_id: int, ports: Iterable[int]) -> Any:
    """GROUP_MOD creating (or replacing) a fast-failover group: out of the first of
    ``ports`` that is live."""
    parser, ofp = dp.ofproto_parser, dp.ofproto
    buckets = [parser.OFPBucket(watch_port=port, watch_group=ofp.OFPG_ANY,
                                actions=[output(dp, port)]) for port in ports]
    return parser.OFPGroupMod(dp, OVS_GROUP_ADD_OR_MOD, ofp.OFPGT_FF, group_id, buckets)


def group_delete(dp: Any, group_id: int) -> Any:
    parser, ofp = dp.ofproto_parser, dp.ofproto
    return parser.OFPGroupMod(dp, ofp.OFPGC_DELETE, ofp.OFPGT_FF, group_id, [])


def barrier(dp: Any) -> None:
    dp.send_msg(dp.ofproto_parser.OFPBarrierRequest(dp))
