"""A rule of a single-app table (engine.SingleAppTable) as one ``bytes`` key: its
priority (2 bytes) and its match's closed identity written as OpenFlow 1.3 OXM TLVs, in
OXM order, a mask only where the field is not matched exactly (no padding).

That is how a flow-mod's match is packed when it is written that way, which
controller/openflow.py's PackedMatch (l2_learning's matches) does: the key of a stamped
rule is then a slice of the flow-mod's bytes (``wire_key``), with no tuple, integer or
match object built per rule. Any other match gets its key from its closed identity
(``rule_key``); ``key_identity`` reads one back. One key per packet set and priority:
two flow-mods that a switch takes for the same rule have the same key.
"""

import struct

from ryu.ofproto import ofproto_v1_3 as ofp

from controller.arbiter.match import FIELD_BITS, Identity

_OXM_HEADER = struct.Struct('!I')
_PRIORITY_AT = 30  # a FLOW_MOD's priority, then its ofp_match from 48 (type, length, OXMs)
_MATCH_AT = 48
_OXM_AT = _MATCH_AT + 4
_SIZES = {field.name: field.type.size for field in ofp.oxm_types if field.name in FIELD_BITS}
# name -> (OXM header of the exact field, of the masked one, bytes, the exact mask)
_OXM = {
    name: (
        (ofp.OFPXMC_OPENFLOW_BASIC << 16) | (number << 9) | _SIZES[name],
        (ofp.OFPXMC_OPENFLOW_BASIC << 16) | (number << 9) | 0x100 | 2 * _SIZES[name],
        _SIZES[name],
        (1 << bits) - 1,
    )
    for number, (name, bits) in enumerate(FIELD_BITS.items())
}
_NAMES = {(header >> 9) & 0x7F: name for name, (header, _, _, _) in _OXM.items()}


def rule_key(priority: int, identity: Identity) -> bytes:
    """The key of the rule at ``priority`` whose match has ``identity``
    (TernaryMatch.closed_identity)."""
    parts = [priority.to_bytes(2, 'big')]
    for name, (value, mask) in identity:
        exact, masked, size, full = _OXM[name]
        if mask == full:
            parts.append(_OXM_HEADER.pack(exact) + value.to_bytes(size, 'big'))
        else:
            parts.append(
                _OXM_HEADER.pack(masked) + value.to_bytes(size, 'big') + mask.to_bytes(size, 'big')
            )
    return b''.join(parts)


def key_identity(key: bytes) -> tuple[int, Identity]:
    """(priority, closed identity) of a key."""
    fields = []
    offset = 2
    while offset < len(key):
        (header,) = _OXM_HEADER.unpack_from(key, offset)
        name = _NAMES[(header >> 9) & 0x7F]
        size = _OXM[name][2]
        start = offset + _OXM_HEADER.size
        value = int.from_bytes(key[start : start + size], 'big')
        if header & 0x100:
            mask = int.from_bytes(key[start + size : start + 2 * size], 'big')
        else:
            mask = _OXM[name][3]
        fields.append((name, (value, mask)))
        offset = start + (header & 0xFF)
    return int.from_bytes(key[:2], 'big'), tuple(fields)


def wire_key(wire: bytes) -> bytes:
    """The key of a serialized FLOW_MOD whose match is written as keys write it (check
    that once per way of writing: ``rule_key`` of its match must be the same)."""
    length = (wire[_MATCH_AT + 2] << 8) | wire[_MATCH_AT + 3]
    return wire[_PRIORITY_AT : _PRIORITY_AT + 2] + wire[_OXM_AT : _MATCH_AT + length]


_PORT_MASK = _OXM['in_port'][3]
_MAC_MASK = _OXM['eth_dst'][3]


def packed_identity(
    in_port: int | None, eth_dst: bytes | None, eth_src: bytes | None
) -> Identity | None:
    """The closed identity of a PackedMatch's wire_values (in_port, eth_dst, eth_src:
    fields without prerequisites, so the match is one closed cube), read without
    building a TernaryMatch; None for anything unusual (the full reading then)."""
    identity: Identity = () if in_port is None else (('in_port', (in_port, _PORT_MASK)),)
    for name, mac in (('eth_dst', eth_dst), ('eth_src', eth_src)):
        if mac is not None:
            if len(mac) != 6:
                return None
            identity += ((name, (int.from_bytes(mac, 'big'), _MAC_MASK)),)
    return identity
