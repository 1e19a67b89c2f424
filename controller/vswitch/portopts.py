"""FAUCET's per-port options beyond VLANs (docs/vswitch_policy.md, "FAUCET
compatibility"): LLDP beacons sent out of ports and LLDP received on them, loop
protection, hairpin ports and coprocessor ports. Pure: the frames, the schedule and
the rules; switch.py and the app send them.

- ``lldp_beacon`` (a port's, under a switch's): an LLDP frame out of the port every
  ``send_interval`` seconds of the switch's beacon settings, at most
  ``max_per_interval`` ports a round (those waiting longest first), carrying the
  system name, the port description and the port's organisational TLVs.
- ``receive_lldp``: LLDP arriving on the port goes to the controller (logged once per
  new peer; ``lldp_peer_mac``: one from another source MAC is reported and ignored)
  instead of being flooded in the port's VLAN.
- ``loop_protect``: a host that moves onto the port within half the learned-host
  timeout of being seen elsewhere is a loop: learning on the port is banned for a
  while (a drop, in the learning table, of what the port sends from sources not
  already learned there), as FAUCET bans it.
- ``loop_protect_external``: ports to another (external) network. A VLAN's flood
  leaves by one external port only: the first of its switch, and on a stack fabric
  only on one switch (the root if it has external ports in the VLAN, else the first
  of the others by stack priority and dp_id). What comes in by an external port is
  flooded to none of them, and is not forwarded to a host learned on one: the VLAN
  tag's PCP marks it (FROM_EXTERNAL) across the fabric, as FAUCET marks it. A host
  seen on an external port while another switch has learned it on an ordinary port
  is not learned there: it stays reached over the fabric.
- ``hairpin``: floods and unicast go back out of the port they came in by too.
- ``coprocessor: {strategy: vlan_vid, vlan_vid_base: B}``: a frame from the port
  tagged B + N leaves by port N, its tag popped; a frame tagged with a VLAN of the
  switch is forwarded in that VLAN (learned destination, or flooded), skipping the
  VLAN ACLs and learning, as FAUCET injects it.
"""

import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from controller.flowspec import FlowSpec
from controller.lldp import LLDP_DESTINATION, LLDP_ETHERTYPE, tlv
from controller.ofmatch import MAX_VID, OFPVID_PRESENT
from controller.openflow import mac_bytes, mac_text

DEFAULT_SEND_INTERVAL = 5  # FAUCET's defaults for a switch's lldp_beacon
DEFAULT_MAX_PER_INTERVAL = 5
DEFAULT_VID_BASE = 1000  # FAUCET's coprocessor vlan_vid_base
# FAUCET's learn ban (learn_ban_timeout's default, its learn_jitter for a 300 s
# timeout: 3 * sqrt(300)); the ban is held while the loop goes on
LOOP_BAN_SECONDS = 51
# loop_protect_external's mark of a frame, in its 802.1Q PCP (as FAUCET marks it):
# it came in by an external port (and must leave by none), or by another port
FROM_EXTERNAL, FROM_INSIDE = 0, 2


@dataclass(frozen=True)
class Beacon:
    """A port's lldp_beacon, as written (None: the default applies when sent)."""

    system_name: str | None = None  # None: the switch's beacon system name
    port_descr: str | None = None  # None: the interface's description
    org_tlvs: tuple[tuple[int, int, str], ...] = ()  # (oui, subtype, info as written)

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {'enable': True}
        if self.system_name is not None:
            data['system_name'] = self.system_name
        if self.port_descr is not None:
            data['port_descr'] = self.port_descr
        if self.org_tlvs:
            data['org_tlvs'] = [
                {'oui': oui, 'subtype': subtype, 'info': info}
                for oui, subtype, info in self.org_tlvs
            ]
        return data


def org_info(info: str) -> bytes:
    """An org TLV's info as FAUCET reads it: hex digits, else the UTF-8 text."""
    try:
        return bytes.fromhex(info)
    except ValueError:
        return info.encode('utf-8')


def beacon_frame(
    chassis_mac: str,
    port: int,
    beacon: Beacon,
    system_name: str,
    port_descr: str | None,
    send_interval: int,
) -> bytes:
    """The LLDP beacon of ``port``: from ``chassis_mac`` (chassis ID, subtype MAC),
    port ID the port number as text (interface name subtype, as FAUCET), TTL three
    send intervals, the system name, the port description if any, the org TLVs."""
    tlvs = [
        tlv(1, b'\x04' + mac_bytes(chassis_mac)),
        tlv(2, b'\x05' + str(port).encode()),
        tlv(3, struct.pack('!H', min(send_interval * 3, 0xFFFF))),
        tlv(5, system_name.encode('utf-8')),
    ]
    if port_descr is not None:
        tlvs.insert(3, tlv(4, port_descr.encode('utf-8')))
    for oui, subtype, info in beacon.org_tlvs:
        tlvs.append(tlv(127, oui.to_bytes(3, 'big') + bytes([subtype]) + org_info(info)))
    head = mac_bytes(LLDP_DESTINATION) + mac_bytes(chassis_mac) + struct.pack('!H', LLDP_ETHERTYPE)
    return head + b''.join(tlvs) + b'\x00\x00'


def beacon_round(
    ports: Iterable[int], last_sent: Mapping[int, float], now: float, interval: int, most: int
) -> list[int]:
    """The ports to send a beacon on this round: those not sent within ``interval``
    seconds, the longest waiting first, at most ``most``."""
    due = [p for p in ports if p not in last_sent or now - last_sent[p] >= interval]
    return sorted(due, key=lambda p: (last_sent.get(p, float('-inf')), p))[:most]


def lldp_tlvs(frame: bytes) -> dict[int, bytes] | None:
    """{TLV type: value} of the first TLV of each type of an LLDP frame (untagged or
    tagged); None if it is not LLDP."""
    offset = 12
    if frame[offset : offset + 2] == b'\x81\x00':
        offset += 4
    if frame[offset : offset + 2] != struct.pack('!H', LLDP_ETHERTYPE):
        return None
    offset += 2
    found: dict[int, bytes] = {}
    while offset + 2 <= len(frame):
        (head,) = struct.unpack_from('!H', frame, offset)
        kind, length = head >> 9, head & 0x1FF
        if kind == 0:
            break
        found.setdefault(kind, frame[offset + 2 : offset + 2 + length])
        offset += 2 + length
    return found


def lldp_peer(frame: bytes) -> tuple[str, str] | None:
    """(source MAC, 'system name / port ID') of an LLDP frame; None if not LLDP."""
    tlvs = lldp_tlvs(frame)
    if tlvs is None:
        return None
    port_id = tlvs.get(2, b'\x00')[1:]
    name = tlvs.get(5, b'')
    text = '%s / %s' % (name.decode('utf-8', 'replace'), port_id.decode('utf-8', 'replace'))
    return mac_text(frame[6:12]), text


# --- rules ---------------------------------------------------------------------------


def lldp_in_rule(table: int, priority: int, port: int, cookie: int) -> FlowSpec:
    """receive_lldp: LLDP from ``port`` goes to the controller, whole, not into a VLAN."""
    return FlowSpec.make(
        table,
        priority,
        {'in_port': port, 'eth_type': LLDP_ETHERTYPE},
        [('apply', (('controller', 0xFFFF),))],
        cookie,
    )


def coprocessor_rules(
    table: int,
    priority: int,
    port: int,
    vid_base: int,
    ports: Iterable[int],
    vids: Iterable[int],
    next_table: int,
    cookie: int,
    marked: bool = False,
) -> set[FlowSpec]:
    """What a coprocessor port's frames get in the VLAN table: tagged vid_base + N,
    out of port N untagged (above everything else); tagged with a VLAN of the switch,
    on to forwarding (``next_table``; ``marked``: as from inside, for
    loop_protect_external); anything else misses and is dropped."""
    inject: list[tuple[Any, ...]] = [('goto', next_table)]
    if marked:
        inject.insert(0, ('apply', (('set_field', 'vlan_pcp', FROM_INSIDE),)))
    rules = set()
    direct = {vid_base + n: n for n in ports if n != port and 0 < vid_base + n <= MAX_VID}
    for vid, out in direct.items():
        rules.add(
            FlowSpec.make(
                table,
                priority + 1,
                {'in_port': port, 'vlan_vid': OFPVID_PRESENT | vid},
                [('apply', (('pop_vlan',), ('output', out)))],
                cookie,
            )
        )
    for vid in vids:
        if vid not in direct:
            rules.add(
                FlowSpec.make(
                    table,
                    priority,
                    {'in_port': port, 'vlan_vid': OFPVID_PRESENT | vid},
                    inject,
                    cookie,
                )
            )
    return rules


def loop_ban_rule(table: int, priority: int, port: int, cookie: int) -> FlowSpec:
    """loop_protect's ban: what ``port`` sends from sources not learned there is
    dropped (above the learning miss, below learned sources) for LOOP_BAN_SECONDS."""
    return FlowSpec.make(
        table, priority, {'in_port': port}, [], cookie, hard_timeout=LOOP_BAN_SECONDS
    )


def rapid_move(
    loop_protect: bool,
    previous_port: int | None,
    port: int,
    seen_at: float | None,
    now: float,
    guard: float,
) -> bool:
    """FAUCET's loop_protect test: a host already seen on another port less than
    ``guard`` seconds ago now comes in on a loop-protected ``port``."""
    return (
        loop_protect
        and previous_port is not None
        and previous_port != port
        and seen_at is not None
        and now - seen_at < guard
    )


def external_flooders(policy: Any, fabric: Any) -> dict[int, int]:
    """{vid: dp_id of the switch whose external ports a flood of the VLAN leaves by}
    on ``fabric`` (fabric.py's, of the policy): the root if it has external ports in
    the VLAN, else the first of the others by (stack priority, dp_id)."""
    order = {
        dp.dp_id: (dp.dp_id != fabric.root, dp.stack_priority or 2**31, dp.dp_id)
        for dp in policy.dps.values()
        if dp.dp_id in fabric.switches
    }
    exits: dict[int, int] = {}
    for dp in sorted(
        (dp for dp in policy.dps.values() if dp.dp_id in order), key=lambda d: order[d.dp_id]
    ):
        for intf in dp.interfaces.values():
            if intf.loop_protect_external and intf.enabled:
                for vlan in intf.vlans:
                    exits.setdefault(vlan.vid, dp.dp_id)
    return exits


def external_flood_ports(externals: Iterable[int], from_external: bool) -> set[int]:
    """Of a VLAN's external ports (``externals``), those a flood must not reach: all of
    them for a frame from an external port, else all but the first."""
    ordered = sorted(externals)
    if from_external:
        return set(ordered)
    return set(ordered[1:])
