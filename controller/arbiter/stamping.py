"""What the arbiter's fast path needs to know of an app's FlowModTemplate, worked out once.

l2_learning stamps two templates per learned host (controller/openflow.py's
send_stamped). Behind the arbiter each stamped rule must carry the app's cookie range
(and ask for flow-removed when it can expire, so the arbiter's store follows the
switch), and is kept under its key (controller/arbiter/rulekey.py) in its single-app
table (engine.SingleAppTable). All of that is the same for every use of a template
except the MAC and the port, so a ``StampShape`` holds it: the template with the
arbiter's cookie and flags already written into its prototype, its table, and the
cookie and flow-removed flag the app asked for. The template's match is written as keys
are (checked here), so a stamped rule's key is a slice of its bytes: stamping through
the arbiter is the template's own stamp plus that slice. And where the MAC is stamped
only into the match (l2_learning's templates), the rule's bytes come back from its key
and its port (``wire``): its table need not keep them.
"""

import copy
import struct
from collections.abc import Callable
from typing import Any, NamedTuple

from ryu.ofproto import ofproto_v1_3 as ofp

from controller.arbiter.rulekey import key_identity, packed_identity, rule_key, wire_key

# A FLOW_MOD after its header: cookie, cookie mask, table, command, idle and hard
# timeouts, priority, buffer id, out port, out group, flags.
FLOW_MOD_HEAD = struct.Struct('!QQBBHHHIIIH')
_COOKIE = struct.Struct('!Q')
_FLAGS = struct.Struct('!H')
_FLAGS_OFFSET = 44
# Two stampings that differ in every byte of the MAC and the port.
_PROBES = ((bytes(6), 1), (b'\xff' * 6, 0xFFFFFF00))


class StampShape(NamedTuple):
    template: Any  # a FlowModTemplate whose prototype carries the arbiter's cookie and flags
    table_id: int
    asked: tuple[int, bool]  # the cookie as the app asked, whether it asked for flow-removed
    mac_field: str | None  # the match field the MAC is stamped into
    compact: bool  # whether ``wire`` gives a stamped rule's bytes back from its key and port

    def wire(self, key: bytes, port: int) -> bytes:
        """The bytes (xid 0) of the rule stamped with ``port`` whose key is ``key``
        (``compact`` shapes only)."""
        mac = bytes(6)
        if self.mac_field is not None:
            mac = dict(key_identity(key)[1])[self.mac_field][0].to_bytes(6, 'big')
        return bytes(self.template.stamp(0, mac, port))


def stamp_shape(template: Any, installed_cookie: Callable[[int], int]) -> StampShape | None:
    """The shape of ``template`` for an app whose cookies are installed as
    ``installed_cookie(cookie)``; None when the fast path cannot take it (not an ADD,
    a table beyond the last, a match other than PackedMatch's fields or not written as
    rule keys are)."""
    cookie, _, table_id, command, idle, hard, priority, _, _, _, flags = FLOW_MOD_HEAD.unpack_from(
        template.prototype, 8
    )
    if command != ofp.OFPFC_ADD or table_id >= ofp.OFPTT_MAX:
        return None
    identities = []
    for mac, port in _PROBES:
        values = template.match_values(mac, port)
        identity = None if values is None else packed_identity(*values)
        stamped = bytes(template.stamp(0, mac, port))
        if identity is None or wire_key(stamped) != rule_key(priority, identity):
            return None
        identities.append(dict(identity))
    low, high = identities
    mac_fields = [name for name in low if name != 'in_port' and low[name] != high[name]]
    prototype = bytearray(template.prototype)
    _COOKIE.pack_into(prototype, 8, installed_cookie(cookie))
    if idle or hard:  # the store must hear when the switch drops the rule
        _FLAGS.pack_into(prototype, _FLAGS_OFFSET, flags | ofp.OFPFF_SEND_FLOW_REM)
    arbitrated = copy.copy(template)
    arbitrated.prototype = bytes(prototype)
    shape = StampShape(
        arbitrated,
        table_id,
        (cookie, bool(flags & ofp.OFPFF_SEND_FLOW_REM)),
        mac_fields[0] if len(mac_fields) == 1 else None,
        False,
    )
    compact = len(mac_fields) <= 1 and all(
        shape.wire(wire_key(stamped), port) == stamped
        for stamped, port in ((bytes(arbitrated.stamp(0, *probe)), probe[1]) for probe in _PROBES)
    )
    return shape._replace(compact=compact)
