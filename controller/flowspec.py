"""Flow rules as plain, hashable values, so that a whole switch's desired table can be
computed by pure code, compared with what is installed, and changed by the smallest diff.

A ``FlowSpec`` is what a compiler produces; ``to_flow_mod`` turns it into Ryu's message.
Actions and instructions are tuples:

    ('output', port) ('push_vlan', ethertype) ('pop_vlan',) ('set_field', field, value)
    ('group', group_id) ('controller', max_len) ('dec_nw_ttl',)
    instructions: ('apply', (action, ...)) ('meta', (value, mask)) ('goto', table_id)
                  ('meter', meter_id)

Match values are what Ryu's OFPMatch accepts; a masked value is a (value, mask) tuple.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from ryu.ofproto import ofproto_v1_3, ofproto_v1_3_parser

from controller.openflow import (
    FlowModTemplate,
    PackedMatch,
    PackedOutputs,
    PreparedMessage,
    PreparedMessages,
)

# What to_flow_mod needs of a datapath, for messages built before any switch connects.
_OPENFLOW_13 = SimpleNamespace(ofproto=ofproto_v1_3, ofproto_parser=ofproto_v1_3_parser)
_OFPFlowMod = ofproto_v1_3_parser.OFPFlowMod
PREPARED_KEPT = 2048  # to_flow_mod's shared messages kept to copy
# to_flow_mod's shared messages, by (FlowSpec, send_flow_removed, packed)
_prepared = PreparedMessages(PREPARED_KEPT)


@dataclass(frozen=True, order=True)
class FlowSpec:
    table: int
    priority: int
    match: tuple  # sorted ((field, value), ...)
    instructions: tuple  # (('apply', actions), ('meta', ...), ('goto', n)) in order
    cookie: int = 0
    idle_timeout: int = 0
    hard_timeout: int = 0

    @property
    def key(self) -> tuple:
        """What OpenFlow identifies a rule by: an ADD with the same key replaces it."""
        return self.table, self.priority, self.match

    @staticmethod
    def make(
        table: int,
        priority: int,
        match: dict,
        instructions: Iterable[tuple],
        cookie: int = 0,
        **timeouts: int,
    ) -> 'FlowSpec':
        return FlowSpec(
            table, priority, tuple(sorted(match.items())), tuple(instructions), cookie, **timeouts
        )

    def match_dict(self) -> dict:
        return dict(self.match)

    def output_ports(self) -> list:
        return [
            a[1]
            for kind, body in self.instructions
            if kind == 'apply'
            for a in body
            if a[0] == 'output'
        ]


@dataclass(frozen=True)
class TableDiff:
    """What turns one set of rules into another: ADDs (new or changed rules; an ADD
    replaces a rule with the same key in place, so a changed rule never has a gap) and
    strict DELETEs of the rules whose key is gone."""

    add: tuple
    delete: tuple

    def __bool__(self) -> bool:
        return bool(self.add or self.delete)

    def __len__(self) -> int:
        return len(self.add) + len(self.delete)


def in_order(specs: Iterable[FlowSpec]) -> list[FlowSpec]:
    """``specs`` sorted by table and priority, then by their text: match values may mix
    ints and (value, mask) tuples, which do not compare with each other."""
    return sorted(specs, key=lambda spec: (spec.table, spec.priority, repr(spec)))


def diff(installed: Iterable[FlowSpec], desired: Iterable[FlowSpec]) -> TableDiff:
    installed, desired = set(installed), set(desired)
    desired_keys = {spec.key for spec in desired}
    return TableDiff(
        add=tuple(in_order(desired - installed)),
        delete=tuple(in_order(s for s in installed - desired if s.key not in desired_keys)),
    )


def _action(parser, ofp, action):
    kind = action[0]
    if kind == 'output':
        return parser.OFPActionOutput(action[1], ofp.OFPCML_NO_BUFFER)
    if kind == 'controller':
        return parser.OFPActionOutput(ofp.OFPP_CONTROLLER, action[1])
    if kind == 'push_vlan':
        return parser.OFPActionPushVlan(action[1])
    if kind == 'pop_vlan':
        return parser.OFPActionPopVlan()
    if kind == 'set_field':
        return parser.OFPActionSetField(**{action[1]: action[2]})
    if kind == 'group':
        return parser.OFPActionGroup(action[1])
    if kind == 'dec_nw_ttl':  # the IPv4 TTL or the IPv6 hop limit
        return parser.OFPActionDecNwTtl()
    raise ValueError('unknown action %r' % (action,))


def to_actions(dp: Any, actions: Iterable[tuple]) -> list[Any]:
    """Ryu's actions for ``actions`` (tuples as above), for a packet-out."""
    return [_action(dp.ofproto_parser, dp.ofproto, action) for action in actions]


def _instruction(parser, ofp, instruction, packed=False):
    kind, body = instruction
    if kind == 'apply':
        if packed:
            try:
                return PackedOutputs(body)
            except KeyError:  # not only outputs
                pass
        return parser.OFPInstructionActions(
            ofp.OFPIT_APPLY_ACTIONS, [_action(parser, ofp, a) for a in body]
        )
    if kind == 'goto':
        return parser.OFPInstructionGotoTable(body)
    if kind == 'meta':
        return parser.OFPInstructionWriteMetadata(*body)
    if kind == 'meter':
        return parser.OFPInstructionMeter(body, ofp.OFPIT_METER)
    raise ValueError('unknown instruction %r' % (instruction,))


class PreparedFlowMod(PreparedMessage, ofproto_v1_3_parser.OFPFlowMod):
    """An OFPFlowMod of to_flow_mod's, whose bytes were serialized once for every switch
    it goes to (controller/openflow.py's PreparedMessage)."""

    def _made_of(self) -> tuple:
        return (
            self.datapath.ofproto,
            self.match,
            self.instructions,
            self.cookie,
            self.cookie_mask,
            self.table_id,
            self.command,
            self.idle_timeout,
            self.hard_timeout,
            self.priority,
            self.buffer_id,
            self.out_port,
            self.out_group,
            self.flags,
        )


def to_flow_mod(
    dp: Any,
    spec: FlowSpec,
    send_flow_removed: bool = False,
    packed: bool = False,
    shared: bool = False,
) -> Any:
    """The FLOW_MOD that adds ``spec``. ``packed``: its match as a PackedMatch and its
    apply-actions, where they only output, as PackedOutputs (controller/openflow.py),
    for hot paths and long output lists; only for matches on in_port, eth_dst and
    eth_src, which it packs without Ryu's OFPMatch.

    ``shared``: the same rule goes to many switches (an epoch of stable_routing sends
    its ingress and version rules to every switch, and a host's forward rule to every
    switch whose next hop to it is the same port), and building it through Ryu's
    classes costs about 100 us: the message is made once per rule (the last
    PREPARED_KEPT of them are kept, a few KB each) and copied, its match and
    instructions shared, its bytes serialized once."""
    if not shared:
        return _build_flow_mod(dp, spec, send_flow_removed, packed, type_=_OFPFlowMod)
    return _prepared.copy_for(
        dp,
        (spec, send_flow_removed, packed),
        lambda: _build_flow_mod(dp, spec, send_flow_removed, packed),
    )


def _build_flow_mod(
    dp: Any, spec: FlowSpec, send_flow_removed: bool, packed: bool, type_: Any = PreparedFlowMod
) -> Any:
    parser, ofp = dp.ofproto_parser, dp.ofproto
    match = PackedMatch(**spec.match_dict()) if packed else parser.OFPMatch(**spec.match_dict())
    return type_(
        datapath=dp,
        table_id=spec.table,
        command=ofp.OFPFC_ADD,
        priority=spec.priority,
        match=match,
        cookie=spec.cookie,
        instructions=[_instruction(parser, ofp, i, packed) for i in spec.instructions],
        idle_timeout=spec.idle_timeout,
        hard_timeout=spec.hard_timeout,
        flags=ofp.OFPFF_SEND_FLOW_REM if send_flow_removed else 0,
        buffer_id=ofp.OFP_NO_BUFFER,
    )


def flow_mod_template(
    build: Callable[[str, int], FlowSpec], send_flow_removed: bool = False, packed: bool = True
) -> FlowModTemplate:
    """The FLOW_MOD adding ``build(mac, port)`` (as to_flow_mod makes it; ``packed``:
    its match a PackedMatch, which takes in_port, eth_dst and eth_src only) as a template
    stamped per MAC and port (controller/openflow.py's FlowModTemplate)."""
    return FlowModTemplate(
        lambda mac, port: to_flow_mod(
            _OPENFLOW_13, build(mac, port), send_flow_removed=send_flow_removed, packed=packed
        )
    )


def to_delete_strict(dp: Any, spec: FlowSpec, cookie_mask: int) -> Any:
    """DELETE_STRICT of exactly ``spec``'s rule, only if it is in the app's cookie range."""
    parser, ofp = dp.ofproto_parser, dp.ofproto
    return parser.OFPFlowMod(
        datapath=dp,
        table_id=spec.table,
        command=ofp.OFPFC_DELETE_STRICT,
        priority=spec.priority,
        match=parser.OFPMatch(**spec.match_dict()),
        cookie=spec.cookie,
        cookie_mask=cookie_mask,
        out_port=ofp.OFPP_ANY,
        out_group=ofp.OFPG_ANY,
    )
