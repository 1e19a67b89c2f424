"""LLDP frames that name an OpenFlow switch port, for link discovery.

A controller sends one out of every switch port (packet-out); when it comes back as a
packet-in from another switch, the pair (sender port, receiver port) is a link. Frames
are built and parsed with Ryu's packet library; only frames whose EtherType is LLDP are
parsed, so the cost on other packet-ins is one comparison.
"""

import struct

from ryu.lib.packet import ethernet, lldp, packet

LLDP_ETHERTYPE = 0x88cc
LLDP_DESTINATION = lldp.LLDP_MAC_NEAREST_BRIDGE   # 01:80:c2:00:00:0e, never forwarded
_CHASSIS_PREFIX = b'dpid:'
TTL_SECONDS = 120


def lldp_frame(dpid, port_no, port_mac):
    """The LLDP frame that port ``port_no`` of switch ``dpid`` sends."""
    tlvs = (
        lldp.ChassisID(subtype=lldp.ChassisID.SUB_LOCALLY_ASSIGNED,
                       chassis_id=_CHASSIS_PREFIX + b'%016x' % dpid),
        lldp.PortID(subtype=lldp.PortID.SUB_PORT_COMPONENT,
                    port_id=struct.pack('!I', port_no)),
        lldp.TTL(ttl=TTL_SECONDS),
        lldp.End(),
    )
    pkt = packet.Packet()
    pkt.add_protocol(ethernet.ethernet(dst=LLDP_DESTINATION, src=port_mac,
                                       ethertype=LLDP_ETHERTYPE))
    pkt.add_protocol(lldp.lldp(tlvs))
    pkt.serialize()
    return bytes(pkt.data)


def is_lldp(frame):
    return len(frame) >= 14 and frame[12:14] == b'\x88\xcc'


def parse_lldp_frame(frame):
    """(dpid, port_no) of the port that sent ``frame``, or None if it is not one of ours
    (another bridge's LLDP, a malformed frame)."""
    if not is_lldp(frame):
        return None
    try:
        lldp_pkt = packet.Packet(bytes(frame)).get_protocol(lldp.lldp)
    except Exception:   # Ryu raises assorted errors on truncated TLVs
        return None
    if lldp_pkt is None or len(lldp_pkt.tlvs) < 2:
        return None
    chassis, port = lldp_pkt.tlvs[0], lldp_pkt.tlvs[1]
    if (not isinstance(chassis, lldp.ChassisID) or not isinstance(port, lldp.PortID)
            or chassis.subtype != lldp.ChassisID.SUB_LOCALLY_ASSIGNED
            or not chassis.chassis_id.startswith(_CHASSIS_PREFIX)
            or port.subtype != lldp.PortID.SUB_PORT_COMPONENT or len(port.port_id) != 4):
        return None
    try:
        dpid = int(chassis.chassis_id[len(_CHASSIS_PREFIX):], 16)
    except ValueError:
        return None
    return dpid, struct.unpack('!I', port.port_id)[0]
