"""Rules as the arbiter keeps them (attributed to an app, with a comparable form of
their instructions), and how a newly proposed rule relates to an installed one.

The relations are the firewall anomaly classes of Al-Shaer and Hamed ("Firewall Policy
Advisor", 2004: shadowing, generalization, correlation, redundancy), with list order
replaced by OpenFlow priority: of two overlapping rules in one table, the one with the
higher priority takes the packets they share. ``classify(new, existing)`` answers from
the new rule's side; N is the new rule, E the existing one, and "covers" means the
packet set of one match contains the other's:

IDENTICAL                    same priority, same match, same actions: one is enough
SAME_MATCH_DIFFERENT_ACTION  same priority, same match, other actions: in the switch, N
                             replaces E
REDUNDANT                    same actions, one match covers the other (any priorities):
                             one of the two rules is unnecessary
BENIGN_OVERLAP               same actions, partial overlap: a packet is treated alike
                             whichever rule it meets
AMBIGUOUS                    same priority, other actions, overlapping but not the same
                             match: which one a shared packet meets is undefined (OpenFlow
                             1.3, 5.3)
SHADOWED                     N lower, other actions, E covers N: N can never match
SHADOWS                      N higher, other actions, N covers E: E can never match again
GENERALIZATION               N lower, other actions, N strictly covers E: E becomes an
                             exception of N
EXCEPTION                    N higher, other actions, E strictly covers N: N carves an
                             exception out of E
CORRELATION                  N lower, other actions, partial overlap (neither covers the
                             other): E keeps the shared packets
OVERRIDES                    N higher, other actions, partial overlap: N takes the shared
                             packets from E

``relation.converse`` is the relation seen from E's side: SHADOWED/SHADOWS,
GENERALIZATION/EXCEPTION and CORRELATION/OVERRIDES are pairs, the others their own.
Relations are pairwise: a third rule between the two priorities is not considered.
``classify`` gives None for rules that share no packet (or are in other tables).
"""

import enum
from collections.abc import Hashable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from ryu.ofproto import ofproto_v1_3 as ofp
from ryu.ofproto import ofproto_v1_3_parser as parser

from controller.arbiter.match import FIELD_BITS, TernaryMatch, field_value


class Relation(enum.Enum):
    IDENTICAL = 'identical'
    SAME_MATCH_DIFFERENT_ACTION = 'same match, different action'
    REDUNDANT = 'redundant'
    BENIGN_OVERLAP = 'benign overlap'
    AMBIGUOUS = 'ambiguous'
    SHADOWED = 'shadowed'
    SHADOWS = 'shadows'
    GENERALIZATION = 'generalization'
    EXCEPTION = 'exception'
    CORRELATION = 'correlation'
    OVERRIDES = 'overrides'

    @property
    def converse(self) -> 'Relation':
        """The relation of the existing rule to the new one."""
        return _CONVERSE.get(self, self)

    @property
    def is_conflict(self) -> bool:
        """Whether the two rules act differently on packets both match."""
        return self not in (Relation.IDENTICAL, Relation.REDUNDANT, Relation.BENIGN_OVERLAP)


_CONVERSE = {
    Relation.SHADOWED: Relation.SHADOWS,
    Relation.GENERALIZATION: Relation.EXCEPTION,
    Relation.CORRELATION: Relation.OVERRIDES,
}
_CONVERSE.update({second: first for first, second in _CONVERSE.items()})


# --- instructions -> a comparable key ----------------------------------------------------
#
# actions_key(instructions) is a tuple of instructions in the order a switch executes
# them (meter, apply, clear, write, metadata, goto; OpenFlow 1.3 5.9), whatever order
# the app listed them in:
#     ('meter', id) ('apply', actions) ('clear',) ('write', actions) ('meta', (value,
#     mask)) ('goto', table_id)
# Actions as in controller/flowspec.py: ('output', port) ('controller', max_len)
# ('group', id) ('set_field', field, int value) ('push_vlan', ethertype) ('pop_vlan',)
# ..., and ('other', class name, attributes) for experimenter actions. An apply list
# keeps its order; a write list is an action set and is kept in execution order, one
# action per type (the later one wins), without an output when a group is written
# (the group takes the packet). Empty apply and write lists do nothing and are left out.
ActionKey = tuple[Any, ...]  # ('output', 2), ('set_field', 'eth_dst', 1), ...
InstructionKey = tuple[Any, ...]  # ('apply', (ActionKey, ...)), ('goto', 1), ...
ActionsKey = tuple[InstructionKey, ...]

# Ryu action class -> (name, the attributes that say what it does).
_ACTIONS = {
    parser.OFPActionGroup: ('group', 'group_id'),
    parser.OFPActionSetQueue: ('set_queue', 'queue_id'),
    parser.OFPActionSetMplsTtl: ('set_mpls_ttl', 'mpls_ttl'),
    parser.OFPActionDecMplsTtl: ('dec_mpls_ttl',),
    parser.OFPActionSetNwTtl: ('set_nw_ttl', 'nw_ttl'),
    parser.OFPActionDecNwTtl: ('dec_nw_ttl',),
    parser.OFPActionCopyTtlOut: ('copy_ttl_out',),
    parser.OFPActionCopyTtlIn: ('copy_ttl_in',),
    parser.OFPActionPushVlan: ('push_vlan', 'ethertype'),
    parser.OFPActionPopVlan: ('pop_vlan',),
    parser.OFPActionPushMpls: ('push_mpls', 'ethertype'),
    parser.OFPActionPopMpls: ('pop_mpls', 'ethertype'),
    parser.OFPActionPushPbb: ('push_pbb', 'ethertype'),
    parser.OFPActionPopPbb: ('pop_pbb',),
}
# The order in which a switch applies an action set (OpenFlow 1.3 5.10).
_SET_ORDER = {
    name: rank
    for rank, names in enumerate(
        (
            ('copy_ttl_in',),
            ('pop_vlan', 'pop_mpls', 'pop_pbb'),
            ('push_mpls',),
            ('push_pbb',),
            ('push_vlan',),
            ('copy_ttl_out',),
            ('dec_mpls_ttl', 'dec_nw_ttl'),
            ('set_mpls_ttl', 'set_nw_ttl', 'set_field'),
            ('set_queue',),
            ('group',),
            ('output', 'controller'),
            ('other',),
        )
    )
    for name in names
}
_HEADER_CHANGES = {
    'set_field',
    'push_vlan',
    'pop_vlan',
    'push_mpls',
    'pop_mpls',
    'push_pbb',
    'pop_pbb',
    'set_mpls_ttl',
    'dec_mpls_ttl',
    'set_nw_ttl',
    'dec_nw_ttl',
    'copy_ttl_out',
    'copy_ttl_in',
}
_INSTRUCTION_ORDER = {
    name: rank
    for rank, name in enumerate(('meter', 'apply', 'clear', 'write', 'meta', 'goto', 'other'))
}


def _frozen(value: object) -> Hashable:
    """A hashable form of an attribute of a Ryu object."""
    if isinstance(value, (list, tuple)):
        return tuple(_frozen(item) for item in value)
    if isinstance(value, dict):
        return tuple(sorted((key, _frozen(item)) for key, item in value.items()))
    if hasattr(value, 'stringify_attrs'):
        return _other(value)
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


def _other(obj: Any) -> tuple[str, str, tuple[tuple[str, Hashable], ...]]:
    """An object this module does not know (experimenter actions and instructions), as
    its class and attributes: equal objects give equal keys."""
    return (
        'other',
        type(obj).__name__,
        tuple(
            (name, _frozen(value))
            for name, value in obj.stringify_attrs()
            if name not in ('len', 'type', 'len_', 'type_')
        ),
    )


def _set_field_value(name: str, value: Any) -> Hashable:
    """An int, so that two spellings of one address compare equal; the value as given
    for a field outside OpenFlow 1.3's basic ones (a Nicira register, say)."""
    if name not in FIELD_BITS:
        return _frozen(value)
    return field_value(name, value)


def _action_key(action: Any) -> ActionKey:
    if type(action) is parser.OFPActionOutput:
        if action.port == ofp.OFPP_CONTROLLER:
            return 'controller', action.max_len
        return 'output', action.port  # max_len matters to the controller only
    if type(action) is parser.OFPActionSetField and hasattr(action, 'key'):
        return 'set_field', action.key, _set_field_value(action.key, action.value)
    known = _ACTIONS.get(type(action))
    if known is None:
        return _other(action)
    name, *attributes = known
    return (name,) + tuple(getattr(action, attribute) for attribute in attributes)


def _set_slot(action: ActionKey) -> Hashable:
    """The place of an action in an action set, which holds one action per place."""
    if action[0] in ('output', 'controller'):
        return 'output'
    if action[0] == 'set_field':
        return action[:2]  # one per field
    if action[0] == 'other':
        return action
    return action[0]


def _action_set(actions: Iterable[ActionKey]) -> tuple[ActionKey, ...]:
    """Write-actions as the action set they build: one per place (the later wins), in
    execution order."""
    chosen = {_set_slot(action): action for action in actions}
    if 'group' in chosen:
        chosen.pop('output', None)
    return tuple(sorted(chosen.values(), key=lambda action: (_SET_ORDER[action[0]], repr(action))))


def _instruction_key(instruction: Any) -> InstructionKey | None:
    kind = type(instruction)
    if kind is parser.OFPInstructionGotoTable:
        return 'goto', instruction.table_id
    if kind is parser.OFPInstructionWriteMetadata:
        mask = instruction.metadata_mask
        return 'meta', (instruction.metadata & mask, mask)
    if kind is parser.OFPInstructionMeter:
        return 'meter', instruction.meter_id
    if kind is parser.OFPInstructionActions:
        actions = tuple(_action_key(action) for action in instruction.actions)
        if instruction.type == ofp.OFPIT_CLEAR_ACTIONS:
            return ('clear',)
        if instruction.type == ofp.OFPIT_WRITE_ACTIONS:
            return ('write', _action_set(actions)) if actions else None
        return ('apply', actions) if actions else None
    return _other(instruction)


def actions_key(instructions: Iterable[Any]) -> ActionsKey:
    """A hashable form of a flow-mod's instructions (list of Ryu OFPInstruction*):
    instructions that do the same give equal keys (see the comment above)."""
    keys = (_instruction_key(instruction) for instruction in instructions)
    return tuple(
        sorted((key for key in keys if key is not None), key=lambda key: _INSTRUCTION_ORDER[key[0]])
    )


def _actions(key: ActionsKey) -> Iterator[ActionKey]:
    for instruction in key:
        if instruction[0] in ('apply', 'write'):
            yield from instruction[1]


RuleKey = tuple[int, int, int, TernaryMatch]  # (dpid, table_id, priority, match)


@dataclass(frozen=True)
class Rule:
    """One flow entry of one app. ``actions`` is an ``actions_key``."""

    app: str
    dpid: int
    table_id: int
    priority: int
    match: TernaryMatch
    actions: ActionsKey
    cookie: int = 0

    @property
    def key(self) -> RuleKey:
        """What OpenFlow identifies a flow entry by: an ADD with the same key replaces
        it."""
        return self.dpid, self.table_id, self.priority, self.match

    @property
    def output_ports(self) -> tuple[int, ...]:
        """The ports it outputs to, in order, other than the controller (reserved ports
        such as FLOOD or IN_PORT included)."""
        return tuple(action[1] for action in _actions(self.actions) if action[0] == 'output')

    @property
    def outputs_to_controller(self) -> bool:
        return any(action[0] == 'controller' for action in _actions(self.actions))

    @property
    def groups(self) -> tuple[int, ...]:
        return tuple(action[1] for action in _actions(self.actions) if action[0] == 'group')

    @property
    def modifies_headers(self) -> bool:
        """Whether it changes packets (set-field, push/pop, TTLs); an experimenter
        action is counted as one, as it may."""
        return any(
            action[0] in _HEADER_CHANGES or action[0] == 'other'
            for action in _actions(self.actions)
        )

    @property
    def drops(self) -> bool:
        """Whether it certainly sends the packet nowhere: no output, group, goto,
        experimenter action or instruction."""
        if any(instruction[0] in ('goto', 'other') for instruction in self.actions):
            return False
        return not any(
            action[0] in ('output', 'controller', 'group', 'other')
            for action in _actions(self.actions)
        )

    def outputs_to(self, port: int) -> bool:
        """Whether an output action sends to ``port`` (what a flow-mod's out_port
        selects; OFPP_CONTROLLER included)."""
        if port == ofp.OFPP_CONTROLLER:
            return self.outputs_to_controller
        return port in self.output_ports


def relate(new: Rule, existing: Rule, new_covers: bool, existing_covers: bool) -> Relation:
    """The Relation of two rules of one table that overlap, given whether the new
    rule's match covers the existing one's and the reverse (the module's table)."""
    if new_covers and existing_covers and new.priority == existing.priority:
        if new.actions == existing.actions:
            return Relation.IDENTICAL
        return Relation.SAME_MATCH_DIFFERENT_ACTION
    if new.actions == existing.actions:
        if new_covers or existing_covers:
            return Relation.REDUNDANT
        return Relation.BENIGN_OVERLAP
    if new.priority == existing.priority:
        return Relation.AMBIGUOUS
    if new.priority < existing.priority:
        if existing_covers:
            return Relation.SHADOWED
        return Relation.GENERALIZATION if new_covers else Relation.CORRELATION
    if new_covers:
        return Relation.SHADOWS
    return Relation.EXCEPTION if existing_covers else Relation.OVERRIDES


def classify(new: Rule, existing: Rule) -> Relation | None:
    """The Relation of rule ``new`` to rule ``existing``, or None if they are in
    different tables or switches or share no packet."""
    if (new.dpid, new.table_id) != (existing.dpid, existing.table_id):
        return None
    if not new.match.intersects(existing.match):
        return None
    return relate(new, existing, new.match.covers(existing.match), existing.match.covers(new.match))
