"""What the arbiter's fast path needs to know of an app's FlowModTemplate, worked out once.

l2_learning stamps two templates per learned host (controller/openflow.py's
send_stamped). Behind the arbiter each stamped rule must carry the app's cookie range
(and ask for flow-removed when it can expire, so the arbiter's store follows the
switch), and is kept under its match's flat identity (engine.SingleAppTable). All of
that is the same for every use of a template except the MAC and the port, so a
``StampShape`` holds it: the template with the arbiter's cookie and flags already
written into its prototype, the table, priority and cookie the app asked for, and the
flat key with the places the port and the MAC fill. Stamping through the arbiter is then
the template's own stamp plus a tuple for the store.
"""

import copy
import struct
from collections.abc import Callable
from typing import Any, NamedTuple

from ryu.ofproto import ofproto_v1_3 as ofp

# A FLOW_MOD after its header: cookie, cookie mask, table, command, idle and hard
# timeouts, priority, buffer id, out port, out group, flags.
FLOW_MOD_HEAD = struct.Struct('!QQBBHHHIIIH')
_COOKIE = struct.Struct('!Q')
_FLAGS = struct.Struct('!H')
_FLAGS_OFFSET = 44
_MATCH_NAMES = ('in_port', 'eth_dst', 'eth_src')
_MASKS = (0xFFFFFFFF, 0xFFFFFFFFFFFF, 0xFFFFFFFFFFFF)


class StampShape(NamedTuple):
    template: Any  # a FlowModTemplate whose prototype carries the arbiter's cookie and flags
    table_id: int
    priority: int
    cookie: int  # as the app asked
    removed: bool  # whether the app asked for flow-removed
    key: tuple  # the SingleAppTable key, the port's and the MAC's places left as None
    port_at: tuple[int, ...]
    mac_at: tuple[int, ...]

    def key_for(self, port: int, mac_value: int) -> tuple:
        """The flat key of the rule stamped with ``port`` and the MAC (as an integer)."""
        key = list(self.key)
        for at in self.port_at:
            key[at] = port
        for at in self.mac_at:
            key[at] = mac_value
        return tuple(key)


def stamp_shape(template: Any, installed_cookie: Callable[[int], int]) -> StampShape | None:
    """The shape of ``template`` for an app whose cookies are installed as
    ``installed_cookie(cookie)``; None when the fast path cannot take it (not an ADD,
    a table beyond the last, a match other than PackedMatch's fields)."""
    cookie, _, table_id, command, idle, hard, priority, _, _, _, flags = FLOW_MOD_HEAD.unpack_from(
        template.prototype, 8
    )
    if command != ofp.OFPFC_ADD or table_id >= ofp.OFPTT_MAX:
        return None
    # Which fields the MAC and the port fill: those that differ between two stampings.
    low = template.match_values(bytes(6), 0)
    high = template.match_values(b'\xff' * 6, 1)
    if low is None or high is None:
        return None
    key: list = [priority]
    port_at: list[int] = []
    mac_at: list[int] = []
    for name, mask, fixed, other in zip(_MATCH_NAMES, _MASKS, low, high, strict=True):
        if fixed is None:
            continue
        if name != 'in_port' and len(fixed) != 6:
            return None
        key += (name, None, mask)
        if fixed != other:
            (port_at if name == 'in_port' else mac_at).append(len(key) - 2)
        else:
            key[-2] = fixed if name == 'in_port' else int.from_bytes(fixed, 'big')
    prototype = bytearray(template.prototype)
    _COOKIE.pack_into(prototype, 8, installed_cookie(cookie))
    if idle or hard:  # the store must hear when the switch drops the rule
        _FLAGS.pack_into(prototype, _FLAGS_OFFSET, flags | ofp.OFPFF_SEND_FLOW_REM)
    arbitrated = copy.copy(template)
    arbitrated.prototype = bytes(prototype)
    return StampShape(
        arbitrated,
        table_id,
        priority,
        cookie,
        bool(flags & ofp.OFPFF_SEND_FLOW_REM),
        tuple(key),
        tuple(port_at),
        tuple(mac_at),
    )
