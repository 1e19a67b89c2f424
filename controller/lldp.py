"""LLDP frames that name an OpenFlow switch port, signed so that a host cannot forge one.

A controller sends one out of every switch port (packet-out); when it comes back as a
packet-in from another switch, the pair (sender port, receiver port) is a link. A host
that replays or invents such a frame would make a link out of nothing (TopoGuard, NDSS
2015), so every frame carries, in an organisationally specific TLV, the time it was sent
and an HMAC-SHA256 (truncated to 16 bytes) over the chassis and port ID TLVs (which name
the dpid and the port) and that time, keyed by a secret of the controller. A host can
copy a frame but neither change the port it names nor make it younger.

Every frame of ours has one layout (81 bytes), built and read by slicing: Ryu's packet
library costs tens of microseconds a frame, slicing and one HMAC a few::

    offset  0  Ethernet     01:80:c2:00:00:0e, the port's MAC, 0x88cc
           14  chassis ID   subtype 7 (locally assigned), "dpid:%016x"
           38  port ID      subtype 2 (port component), port number, 4 bytes
           45  TTL          120
           49  ours         CID 0a:53:44, subtype 1, sent at (ms, 8 bytes), HMAC (16)
           79  end
"""

import enum
import hashlib
import hmac
import os
import struct
import time

from controller.openflow import mac_bytes

LLDP_ETHERTYPE = 0x88CC
LLDP_DESTINATION = '01:80:c2:00:00:0e'  # nearest bridge: never forwarded by a bridge
TTL_SECONDS = 120
SIGNATURE_BYTES = 16
# An IEEE CID (company ID: the low bits of its first octet are 1010), which no registered
# OUI can equal, so no other LLDP speaker's TLV is taken for ours.
_CID = b'\x0a\x53\x44'
_SIGNED_SUBTYPE = 1


def tlv(tlv_type: int, value: bytes) -> bytes:
    return struct.pack('!H', tlv_type << 9 | len(value)) + value


_ETHER_HEAD = mac_bytes(LLDP_DESTINATION)
_ETHERTYPE = struct.pack('!H', LLDP_ETHERTYPE)
_CHASSIS_START = tlv(1, b'\x07dpid:' + b'0' * 16)[:8]  # header, subtype, 'dpid:'
_PORT_START = tlv(2, b'\x02' + bytes(4))[:3]  # header, subtype
_TTL = tlv(3, struct.pack('!H', TTL_SECONDS))
_SIGNED_START = tlv(127, _CID + bytes([_SIGNED_SUBTYPE]) + bytes(8 + SIGNATURE_BYTES))[:6]
_END = b'\x00\x00'
_SENT_AT = struct.Struct('!Q')
# Offsets of the layout above.
_NAMED = slice(14, 45)  # chassis and port ID TLVs: what the HMAC binds
_DPID_TEXT = slice(22, 38)
_PORT_NO = slice(41, 45)
_TIME = slice(55, 63)
_SIGNATURE = slice(63, 79)
FRAME_BYTES = 81


class Rejection(enum.Enum):
    """Why a frame of ours (or one that claims to be) proves no link."""

    MALFORMED = 'malformed'  # not a well-formed LLDP start, or ours cut/altered
    BAD_MAC = 'bad_mac'  # signature wrong: forged, altered, or another key
    STALE = 'stale'  # signed too long ago (or ahead): a replay
    UNKNOWN_SENDER = 'unknown_sender'  # names a switch or port that is not live here
    UNKNOWN_PORT = 'unknown_port'  # came in on a port that is not live here
    REFLECTED = 'reflected'  # came back in on the port that sent it
    HOST_PORT = 'host_port'  # came in on a port where a host has been learned


def frame_head(dpid: int, port_no: int, port_mac: str) -> bytes:
    """The part of every LLDP frame of port ``port_no`` of switch ``dpid`` that never
    changes: Ethernet header, chassis ID, port ID and TTL."""
    return (
        _ETHER_HEAD
        + mac_bytes(port_mac)
        + _ETHERTYPE
        + tlv(1, b'\x07dpid:%016x' % dpid)
        + tlv(2, b'\x02' + struct.pack('!I', port_no))
        + _TTL
    )


class LldpKey:
    """Signs the frames of the controller's ports and checks those that come back."""

    def __init__(self, secret: bytes) -> None:
        # Keyed once; each frame copies the keyed state (cheaper than keying again).
        self._keyed = hmac.new(secret, digestmod=hashlib.sha256)

    def _signature(self, named: bytes, sent_at: bytes) -> bytes:
        mac = self._keyed.copy()
        mac.update(named)
        mac.update(sent_at)
        return mac.digest()[:SIGNATURE_BYTES]

    def sign(self, head: bytes, sent_at: float) -> bytes:
        """The whole frame: ``head`` (from frame_head) with the time it is sent (seconds,
        wall clock) and the signature."""
        stamp = _SENT_AT.pack(int(sent_at * 1000))
        return head + _SIGNED_START + stamp + self._signature(head[_NAMED], stamp) + _END

    def verify(
        self,
        frame: bytes,
        now: float,
        max_age: float,
    ) -> tuple[int, int] | Rejection | None:
        """(dpid, port_no) that sent ``frame`` if it is ours, intact and was signed at
        most ``max_age`` seconds before ``now`` (and not more than that ahead: another
        controller's clock); a Rejection if it claims to be ours but is not; None for
        another LLDP speaker's frame (a real bridge's), which is none of our business."""
        if frame[14:22] != _CHASSIS_START:
            return None if _is_foreign(frame) else Rejection.MALFORMED
        if (
            len(frame) < FRAME_BYTES
            or frame[38:41] != _PORT_START
            or frame[45:49] != _TTL
            or frame[49:55] != _SIGNED_START
            or frame[79:81] != _END
        ):
            return Rejection.MALFORMED
        stamp = bytes(frame[_TIME])
        if not hmac.compare_digest(
            self._signature(bytes(frame[_NAMED]), stamp), bytes(frame[_SIGNATURE])
        ):
            return Rejection.BAD_MAC
        if abs(now - _SENT_AT.unpack(stamp)[0] / 1000) > max_age:
            return Rejection.STALE
        try:
            dpid = int(bytes(frame[_DPID_TEXT]), 16)
        except ValueError:  # signed by a key of ours yet not our text: not ours
            return Rejection.MALFORMED
        return dpid, struct.unpack('!I', frame[_PORT_NO])[0]


def _is_foreign(frame: bytes) -> bool:
    """Whether an LLDP frame that is not ours starts well: a chassis ID TLV (type 1, as
    802.1AB requires first) that fits in the frame."""
    if len(frame) < 16:
        return False
    header = struct.unpack_from('!H', frame, 14)[0]
    length = header & 0x1FF
    return header >> 9 == 1 and length >= 2 and 16 + length <= len(frame)


# The secret of this controller process, unless the configuration names one
# (discovery.options(): lldp_secret): frames signed by another process are refused.
PROCESS_KEY = LldpKey(os.urandom(32))


def lldp_frame(
    dpid: int, port_no: int, port_mac: str, key: LldpKey = PROCESS_KEY, sent_at: float | None = None
) -> bytes:
    """The LLDP frame port ``port_no`` of switch ``dpid`` sends at ``sent_at`` (by
    default now, by the wall clock), signed with ``key``."""
    return key.sign(
        frame_head(dpid, port_no, port_mac), time.time() if sent_at is None else sent_at
    )
