"""OpenFlow 1.3 matches as sets of packets, so that the arbiter can tell exactly whether
two apps' rules can see the same packet and whether one rule's match contains another's.

A ``TernaryMatch`` is a conjunction of per-field constraints ``(value, mask)``: a packet
is in it when, for every field of the match, the packet has that field and its bits
under the mask equal the value. A field that is absent is fully wildcarded; a mask of
all ones is an exact match. Values are normalised (``value &= mask``), and a field with
mask 0 is dropped, so equal constraints are equal objects.

Prerequisites (OpenFlow 1.3 section 7.2.3.6). A field exists only in some packets:
``tcp_dst`` in TCP over IPv4 or IPv6, ``ipv4_src`` in IPv4, ``arp_op`` in ARP,
``vlan_pcp`` in tagged frames, and so on (``PRESENCE`` below, which follows Open vSwitch
where the spec says less: ICMPv4 fields need IPv4, ICMPv6 fields IPv6). The algebra
reads every match with these conditions included, so ``{tcp_dst=80}`` does not overlap
``{eth_type=0x806}`` whether or not the first says ``eth_type`` and ``ip_proto``.

Decided: ``from_ofp`` takes a match as written and adds nothing. A switch refuses a rule
whose match leaves out a prerequisite (``OFPBMC_BAD_PREREQ``), and completing it here
would hide that from the arbiter; ``missing_prerequisites()`` lists what the switch would
refuse. Since the packet set of a match already includes its prerequisites, a match and
its completed form are equal (``==``) wherever the completion is unique.

VLANs. ``vlan_vid`` has the OFPVID_PRESENT bit (0x1000): 0 (OFPVID_NONE) is an untagged
frame, 0x1000|vid a tagged one; no packet has a value in 0x0001..0x0fff. Matches are
read over those values only, so ``vlan_vid=(0, 0x1000)`` equals ``vlan_vid=0`` and
``vlan_vid=5`` (present bit left out) matches nothing.

How it stays exact. A match whose prerequisites are not implied by its own constraints
is a union of a few *closed cubes*: the match met with each alternative of its
prerequisites (``{tcp_dst=80}`` is TCP/IPv4 or TCP/IPv6 to port 80). Within a closed
cube every field is present, so cubes intersect and contain each other exactly as
ternary vectors do. Alternatives of one prerequisite fix some field to values at least
two bits apart (0x0800/0x86dd, 0x8847/0x8848, ICMPv6 135/136); then a cube inside a union
of closed cubes is inside one of them, which makes ``covers`` and ``==`` exact.
``HeaderSpace`` checks that condition, and the tests compare every operation with a
brute-force enumeration of packets over a small header space of the same shape.
"""

import copy
import enum
import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, Final, Literal, NoReturn, TypeVar

from ryu.lib import type_desc
from ryu.ofproto import ofproto_v1_3 as ofp
from ryu.ofproto import ofproto_v1_3_parser as parser

# OXM basic fields of OpenFlow 1.3 in OXM number order, with their widths in bits.
FIELD_BITS = {
    'in_port': 32,
    'in_phy_port': 32,
    'metadata': 64,
    'eth_dst': 48,
    'eth_src': 48,
    'eth_type': 16,
    'vlan_vid': 13,
    'vlan_pcp': 3,
    'ip_dscp': 6,
    'ip_ecn': 2,
    'ip_proto': 8,
    'ipv4_src': 32,
    'ipv4_dst': 32,
    'tcp_src': 16,
    'tcp_dst': 16,
    'udp_src': 16,
    'udp_dst': 16,
    'sctp_src': 16,
    'sctp_dst': 16,
    'icmpv4_type': 8,
    'icmpv4_code': 8,
    'arp_op': 16,
    'arp_spa': 32,
    'arp_tpa': 32,
    'arp_sha': 48,
    'arp_tha': 48,
    'ipv6_src': 128,
    'ipv6_dst': 128,
    'ipv6_flabel': 20,
    'icmpv6_type': 8,
    'icmpv6_code': 8,
    'ipv6_nd_target': 128,
    'ipv6_nd_sll': 48,
    'ipv6_nd_tll': 48,
    'mpls_label': 20,
    'mpls_tc': 3,
    'mpls_bos': 1,
    'pbb_isid': 24,
    'tunnel_id': 64,
    'ipv6_exthdr': 9,
}

OFPVID_PRESENT = ofp.OFPVID_PRESENT
ETH_IPV4, ETH_IPV6, ETH_ARP, ETH_PBB = 0x0800, 0x86DD, 0x0806, 0x88E7
ETH_MPLS = (0x8847, 0x8848)

Constraint = tuple[int, int]  # (value, mask) of one field
Cube = dict[str, Constraint]  # field -> constraint: their conjunction
Identity = tuple[tuple[str, Constraint], ...]  # TernaryMatch.closed_identity
# A conjunction as PRESENCE writes it: field -> value (exact) or (value, mask).
Conjunction = Mapping[str, int | Constraint]
# One field's value as apps and Ryu's OFPMatch write it: an int, or a MAC or IP address
# text (a prefix text like 10.0.0.0/24 included); alone, or (value, mask).
UserValue = int | str
UserField = UserValue | tuple[UserValue, UserValue]


def _ip_proto(
    number: int, eth_types: tuple[int, ...] = (ETH_IPV4, ETH_IPV6)
) -> tuple[dict[str, int], ...]:
    return tuple({'eth_type': eth, 'ip_proto': number} for eth in eth_types)


def _nd(*icmp_types: int) -> tuple[dict[str, int], ...]:
    return tuple({'eth_type': ETH_IPV6, 'ip_proto': 58, 'icmpv6_type': t} for t in icmp_types)


_IP = ({'eth_type': ETH_IPV4}, {'eth_type': ETH_IPV6})
_IPV4 = ({'eth_type': ETH_IPV4},)
_IPV6 = ({'eth_type': ETH_IPV6},)
_ARP = ({'eth_type': ETH_ARP},)
# field -> the alternatives (each a conjunction of field: value or (value, mask)) under
# which a packet has the field, with the prerequisites' own prerequisites spelt out.
# Fields not listed are in every packet.
PRESENCE: dict[str, tuple[Conjunction, ...]] = {
    'vlan_pcp': ({'vlan_vid': (OFPVID_PRESENT, OFPVID_PRESENT)},),
    'ip_dscp': _IP,
    'ip_ecn': _IP,
    'ip_proto': _IP,
    'ipv4_src': _IPV4,
    'ipv4_dst': _IPV4,
    'tcp_src': _ip_proto(6),
    'tcp_dst': _ip_proto(6),
    'udp_src': _ip_proto(17),
    'udp_dst': _ip_proto(17),
    'sctp_src': _ip_proto(132),
    'sctp_dst': _ip_proto(132),
    'icmpv4_type': _ip_proto(1, (ETH_IPV4,)),
    'icmpv4_code': _ip_proto(1, (ETH_IPV4,)),
    'arp_op': _ARP,
    'arp_spa': _ARP,
    'arp_tpa': _ARP,
    'arp_sha': _ARP,
    'arp_tha': _ARP,
    'ipv6_src': _IPV6,
    'ipv6_dst': _IPV6,
    'ipv6_flabel': _IPV6,
    'ipv6_exthdr': _IPV6,
    'icmpv6_type': _ip_proto(58, (ETH_IPV6,)),
    'icmpv6_code': _ip_proto(58, (ETH_IPV6,)),
    'ipv6_nd_target': _nd(135, 136),
    'ipv6_nd_sll': _nd(135),
    'ipv6_nd_tll': _nd(136),
    'mpls_label': tuple({'eth_type': eth} for eth in ETH_MPLS),
    'mpls_tc': tuple({'eth_type': eth} for eth in ETH_MPLS),
    'mpls_bos': tuple({'eth_type': eth} for eth in ETH_MPLS),
    'pbb_isid': ({'eth_type': ETH_PBB},),
}

_HEX_FIELDS = {'eth_type', 'vlan_vid', 'metadata', 'tunnel_id'}
_MAC_FIELDS = {'eth_dst', 'eth_src', 'arp_sha', 'arp_tha', 'ipv6_nd_sll', 'ipv6_nd_tll'}
_MAC_TEXT = re.compile(r'[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}\Z')


class _Closed(enum.Enum):
    CLOSED = 'closed'


_CLOSED: Final = _Closed.CLOSED  # TernaryMatch._cubes of a match that is its own one cube


class HeaderSpace:
    """The fields matches can constrain: ``widths`` (field -> bits, in the order fields
    are printed), ``presence`` (field -> alternatives, as ``PRESENCE``), ``tags`` (field
    -> its present bit: the field is 0 when the tag is absent, so its value has that bit
    set or is 0) and ``stated`` (field -> a field the match must also give, with no
    effect on packets: in_phy_port needs in_port)."""

    def __init__(
        self,
        widths: Mapping[str, int],
        presence: Mapping[str, Sequence[Conjunction]] | None = None,
        tags: Mapping[str, int] | None = None,
        stated: Mapping[str, str] | None = None,
    ) -> None:
        self.widths = dict(widths)
        self.order = {name: position for position, name in enumerate(self.widths)}
        self.full = {name: (1 << bits) - 1 for name, bits in self.widths.items()}
        self.tags = dict(tags or {})
        self.stated = dict(stated or {})
        self.presence = {
            field: tuple(self._constraints(alternative) for alternative in alternatives)
            for field, alternatives in (presence or {}).items()
        }
        for field, alternatives in self.presence.items():
            self._check_separated(field, alternatives)

    def _constraints(self, fields: Conjunction) -> Cube:
        return {
            name: (value if isinstance(value, tuple) else (value, self.full[name]))
            for name, value in fields.items()
        }

    def _check_separated(self, field: str, alternatives: Sequence[Cube]) -> None:
        """Alternatives must be two bits apart on a field both fix exactly (module
        docstring: what keeps ``covers`` exact)."""
        for i, first in enumerate(alternatives):
            for second in alternatives[i + 1 :]:
                if not any(
                    name in second
                    and first[name][1] == second[name][1] == self.full[name]
                    and bin(first[name][0] ^ second[name][0]).count('1') >= 2
                    for name in first
                ):
                    raise ValueError(
                        'the prerequisites of %s are not two bits apart on '
                        'an exact field: %r, %r' % (field, first, second)
                    )

    def canonical(self, cube: Cube) -> Cube | None:
        """``cube`` with its tag fields in canonical form, or None if no packet has the
        values it asks for. Changes ``cube`` in place."""
        for field, present in self.tags.items():
            if field not in cube:
                continue
            value, mask = cube[field]
            if mask & present and not value & present:
                if value:  # untagged, yet tag bits asked to be set
                    return None
                cube[field] = (0, self.full[field])
            elif not mask & present and value:
                # Only a tagged packet has a non-zero value: the tag is required.
                cube[field] = (value | present, mask | present)
        return cube


OPENFLOW_13 = HeaderSpace(
    FIELD_BITS, PRESENCE, tags={'vlan_vid': OFPVID_PRESENT}, stated={'in_phy_port': 'in_port'}
)


def _meet(
    space: HeaderSpace, first: Mapping[str, Constraint], second: Mapping[str, Constraint]
) -> Cube | None:
    """The conjunction of two cubes (dicts name -> (value, mask)), canonical, or None."""
    if len(first) < len(second):
        first, second = second, first
    result = dict(first)
    for name, (value, mask) in second.items():
        if name in result:
            other_value, other_mask = result[name]
            if (value ^ other_value) & mask & other_mask:
                return None
            result[name] = (value | other_value, mask | other_mask)
        else:
            result[name] = (value, mask)
    return space.canonical(result)


def _cube_covers(outer: Mapping[str, Constraint], inner: Mapping[str, Constraint]) -> bool:
    """Whether every vector of cube ``inner`` is in cube ``outer``."""
    for name, (value, mask) in outer.items():
        constraint = inner.get(name)
        if constraint is None or mask & ~constraint[1] or constraint[0] & mask != value:
            return False
    return True


def cube_covers(outer: Mapping[str, Constraint], inner: Mapping[str, Constraint]) -> bool:
    """Whether closed cube ``outer`` (name -> (value, mask)) contains closed cube
    ``inner``."""
    return _cube_covers(outer, inner)


def _closed_cubes(space: HeaderSpace, fields: Mapping[str, Constraint]) -> list[Cube]:
    """The match ``fields`` as disjoint closed cubes (module docstring)."""
    whole = space.canonical(dict(fields))
    cubes = [] if whole is None else [whole]
    for name in fields:
        alternatives = space.presence.get(name)
        if not alternatives:
            continue
        split = []
        for cube in cubes:
            if any(_cube_covers(alternative, cube) for alternative in alternatives):
                split.append(cube)
            else:
                split.extend(
                    met
                    for met in (_meet(space, cube, alternative) for alternative in alternatives)
                    if met
                )
        cubes = split
    return cubes


def _ryu_type(name: str) -> Any:
    """Ryu's type descriptor of a field (MacAddr, IPv4Addr, ...), or None for a field
    Ryu does not know (the small header spaces of the tests)."""
    try:
        return ofp.oxm_get_field_info_by_name(name)[1]
    except KeyError:
        return None


def _expected(name: str, bits: int) -> str:
    kind = _ryu_type(name)
    if kind is type_desc.MacAddr:
        return 'a MAC address like 00:00:00:00:00:01 or an integer'
    if kind is type_desc.IPv4Addr:
        return 'an IPv4 address like 10.0.0.1 or 10.0.0.0/24, or an integer'
    if kind is type_desc.IPv6Addr:
        return 'an IPv6 address like 2001:db8::1 or 2001:db8::/32, or an integer'
    return 'an integer 0..%d (%d bits)' % ((1 << bits) - 1, bits)


def _user_scalar(name: str, bits: int, user_value: object) -> tuple[int, int | None]:
    """(value, mask or None) of one value as Ryu's OFPMatch takes it: an int, a MAC or
    IP address text; a prefix text like 10.0.0.0/24 gives its mask."""
    if isinstance(user_value, int) and not isinstance(user_value, bool):
        return user_value, None
    if name in _MAC_FIELDS and isinstance(user_value, str) and _MAC_TEXT.match(user_value):
        return int(user_value.replace(':', ''), 16), None  # netaddr's reading, faster
    kind = _ryu_type(name)
    if isinstance(user_value, str) and kind in (
        type_desc.MacAddr,
        type_desc.IPv4Addr,
        type_desc.IPv6Addr,
    ):
        try:
            packed = kind.from_user(user_value)
        except Exception:  # netaddr raises its own error types
            packed = None
        if isinstance(packed, tuple):  # Ryu's reading of a prefix text
            return int.from_bytes(packed[0], 'big'), int.from_bytes(packed[1], 'big')
        if packed is not None:
            return int.from_bytes(packed, 'big'), None
    raise ValueError('%s: expected %s; got %r' % (name, _expected(name, bits), user_value))


def field_value(name: str, user_value: UserValue, space: HeaderSpace = OPENFLOW_13) -> int:
    """The int of one unmasked field value as Ryu takes it (an OFPActionSetField's
    value, say); ValueError for an unknown field or a value that does not fit."""
    bits = _width(space, name)
    value, mask = _user_scalar(name, bits, user_value)
    if mask is not None:
        raise ValueError('%s: expected a single value, not a prefix; got %r' % (name, user_value))
    _check_width(name, bits, value)
    return value


def _width(space: HeaderSpace, name: str) -> int:
    if name not in space.widths:
        raise ValueError(
            'unknown match field %r; expected one of %s' % (name, ', '.join(space.widths))
        )
    return space.widths[name]


def _check_width(name: str, bits: int, number: int, what: str = 'value') -> None:
    if not 0 <= number < 1 << bits:
        raise ValueError(
            '%s: %s %#x does not fit; expected %s' % (name, what, number, _expected(name, bits))
        )


M = TypeVar('M', bound='TernaryMatch')


class TernaryMatch:
    """An OpenFlow 1.3 match as a set of packets (module docstring). Immutable and
    hashable; ``==`` compares packet sets."""

    space = OPENFLOW_13
    __slots__ = ('_fields', '_cubes', '_key', '_hash')
    _fields: dict[str, Constraint]
    _cubes: tuple['TernaryMatch', ...] | Literal[_Closed.CLOSED] | None
    _key: tuple[Identity] | frozenset[Identity] | None
    _hash: int | None

    def __init__(
        self, fields: Mapping[str, Constraint] | Iterable[tuple[str, Constraint]] = ()
    ) -> None:
        """``fields``: a mapping or pairs of field name -> (value, mask) ints. See
        ``of`` and ``from_ofp`` for the forms apps write."""
        space, normal, seen = self.space, {}, set()
        pairs = fields.items() if hasattr(fields, 'items') else fields
        for name, (value, mask) in pairs:
            bits = _width(space, name)
            if name in seen:
                raise ValueError('%s is given twice; give each field once' % name)
            seen.add(name)
            _check_width(name, bits, value)
            _check_width(name, bits, mask, 'mask')
            if mask:
                normal[name] = (value & mask, mask)
        ordered = dict(sorted(normal.items(), key=lambda item: space.order[item[0]]))
        object.__setattr__(self, '_fields', ordered)
        object.__setattr__(self, '_cubes', None)
        object.__setattr__(self, '_key', None)
        object.__setattr__(self, '_hash', None)

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError('a TernaryMatch is immutable')

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError('a TernaryMatch is immutable')

    def __reduce__(self) -> tuple[type['TernaryMatch'], tuple[dict[str, Constraint]]]:
        # For copy and pickle, which would otherwise set the slots one by one.
        return type(self), (self._fields,)

    # --- constructors ------------------------------------------------------------------

    @classmethod
    def of(cls: type[M], **fields: UserField) -> M:
        """A match from keyword fields: an int or (value, mask) of ints; also the texts
        Ryu's OFPMatch takes (MAC and IP addresses, 10.0.0.0/24)."""
        return cls._from_user(fields.items())

    @classmethod
    def from_ofp(cls: type[M], ofp_match: Any) -> M:
        """The match of a Ryu OFPMatch (built from keywords or parsed from the wire),
        as written: nothing is added (see missing_prerequisites). ValueError for a
        field that is not an OpenFlow 1.3 basic field (Nicira and ONF extensions)."""
        if ofp_match._composed_with_old_api():
            ofp_match = _wire_form(ofp_match)
        return cls._from_user(ofp_match.items())

    @classmethod
    def _from_user(cls: type[M], pairs: Iterable[tuple[str, object]]) -> M:
        fields = []
        for name, user_value in pairs:
            bits = _width(cls.space, name)
            if isinstance(user_value, (tuple, list)):
                if len(user_value) != 2:
                    raise ValueError(
                        '%s: expected a value or (value, mask); got %r' % (name, user_value)
                    )
                value, mask = (_user_scalar(name, bits, part)[0] for part in user_value)
            else:
                value, prefix_mask = _user_scalar(name, bits, user_value)
                mask = cls.space.full[name] if prefix_mask is None else prefix_mask
            fields.append((name, (value, mask)))
        return cls(fields)

    # --- reading -----------------------------------------------------------------------

    @property
    def fields(self) -> Mapping[str, Constraint]:
        """name -> (value, mask), as written (normalised), in OXM order."""
        return MappingProxyType(self._fields)

    def exact_value(self, field: str) -> int | None:
        """The value of ``field`` if the match (as written) gives it exactly, else
        None."""
        constraint = self._fields.get(field)
        if constraint is None or constraint[1] != self.space.full[field]:
            return None
        return constraint[0]

    def missing_prerequisites(self) -> list[str]:
        """What a switch would refuse the match for (OFPBMC_BAD_PREREQ): one text per
        field whose prerequisites the match itself does not give, like
        'tcp_dst needs eth_type=0x800,ip_proto=6 or eth_type=0x86dd,ip_proto=6'."""
        space, missing = self.space, []
        for name in self._fields:
            needed = space.stated.get(name)
            if needed is not None and needed not in self._fields:
                missing.append('%s needs %s' % (name, needed))
            alternatives = space.presence.get(name)
            if alternatives and not any(
                _cube_covers(alternative, self._fields) for alternative in alternatives
            ):
                missing.append(
                    '%s needs %s'
                    % (name, ' or '.join(_text(space, alternative) for alternative in alternatives))
                )
        return missing

    @property
    def is_empty(self) -> bool:
        """Whether no packet can match (contradicting values or prerequisites)."""
        return not self.cubes

    @property
    def cubes(self) -> tuple['TernaryMatch', ...]:
        """The match as disjoint closed cubes: matches whose fields are all present in
        every packet they describe, whose union is this match. A match that gives its
        prerequisites is its own one cube; an empty match has none."""
        cubes = self._cubes
        if cubes is None:
            found = _closed_cubes(self.space, self._fields)
            if len(found) == 1 and found[0] == self._fields:
                cubes = _CLOSED
            else:
                cubes = tuple(self._closed_cube(cube) for cube in found)
            object.__setattr__(self, '_cubes', cubes)
        # A closed match is its own cube; it does not keep (self,), a reference cycle
        # that would leave every match to the cyclic garbage collector.
        return (self,) if cubes is _CLOSED else cubes

    @property
    def closed_identity(self) -> Identity | None:
        """For a match that is, as written, one closed cube (every field's
        prerequisites in the match, as learned-switch matches are): its fields as a
        tuple, ((name, (value, mask)), ...) in OXM order, which identifies its packet
        set as ``==`` does; None for any other match."""
        if self._cubes is None:
            self.cubes  # noqa: B018 (computes _cubes)
        if self._cubes is not _CLOSED:
            return None
        return tuple(self._fields.items())

    @classmethod
    def closed(cls: type[M], identity: Identity) -> M:
        """The match of a ``closed_identity``."""
        match = cls(identity)
        if len(match.cubes) != 1 or match._cubes is not _CLOSED:
            raise ValueError('not a closed match: %r' % (identity,))
        return match

    @classmethod
    def _closed_cube(cls: type[M], cube: Cube) -> M:
        match = cls(cube)
        object.__setattr__(match, '_cubes', _CLOSED)
        return match

    # --- set algebra -------------------------------------------------------------------

    def intersection(self, other: 'TernaryMatch') -> 'TernaryMatch | None':
        """The packets in both, or None if there are none."""
        met = _meet(self.space, self._fields, other._fields)
        if met is None:
            return None
        result = type(self)(met)
        return None if result.is_empty else result

    def intersects(self, other: 'TernaryMatch') -> bool:
        return self.intersection(other) is not None

    def covers(self, other: 'TernaryMatch') -> bool:
        """Whether every packet of ``other`` is in this match."""
        mine = self.cubes
        return all(
            any(_cube_covers(outer._fields, inner._fields) for outer in mine)
            for inner in other.cubes
        )

    def _identity(self) -> tuple[Identity] | frozenset[Identity]:
        key = self._key
        if key is None:
            cubes = self.cubes
            if len(cubes) == 1:  # no set to build (hashed and compared the same)
                key = (tuple(cubes[0]._fields.items()),)
            else:
                key = frozenset(tuple(cube._fields.items()) for cube in cubes)
            object.__setattr__(self, '_key', key)
        return key

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, TernaryMatch):
            return NotImplemented
        if self._fields == other._fields:
            return True
        return self._identity() == other._identity()

    def __hash__(self) -> int:
        value = self._hash
        if value is None:
            value = hash(self._identity())
            object.__setattr__(self, '_hash', value)
        return value

    # --- writing -----------------------------------------------------------------------

    def to_ofp_kwargs(self) -> dict[str, UserField]:
        """Keyword arguments of Ryu's OFPMatch for this match as written: MAC and IP
        fields as text, the others as ints, masked ones as (value, mask)."""
        kwargs: dict[str, UserField] = {}
        for name, (value, mask) in self._fields.items():
            user = _user_form(name, value)
            kwargs[name] = user if mask == self.space.full[name] else (user, _user_form(name, mask))
        return kwargs

    def __str__(self) -> str:
        """Like 'eth_type=0x800,ipv4_dst=10.0.0.0/24'; '*' for the match of everything."""
        return _text(self.space, self._fields) or '*'

    def __repr__(self) -> str:
        return '%s(%s)' % (type(self).__name__, _text(self.space, self._fields))


def _wire_form(ofp_match: Any) -> Any:
    """A match built with the OpenFlow 1.0-style set_* calls, parsed back from its wire
    form: only that has its fields."""
    if hasattr(ofp_match, '_serialized'):
        # Serialized once already (Ryu allows only once): its fields are built.
        built = parser.OFPMatch()
        built.fields = ofp_match.fields[:]
    else:
        built = copy.deepcopy(ofp_match)
    buf = bytearray()
    built.serialize(buf, 0)
    return parser.OFPMatch.parser(bytes(buf), 0)


def _user_form(name: str, number: int) -> UserValue:
    kind = _ryu_type(name)
    if kind in (type_desc.MacAddr, type_desc.IPv4Addr, type_desc.IPv6Addr):
        return kind.to_user(number.to_bytes(kind.size, 'big'))
    return number


def _value_text(space: HeaderSpace, name: str, value: int, mask: int) -> str:
    kind = _ryu_type(name)
    full = space.full[name]
    if kind in (type_desc.IPv4Addr, type_desc.IPv6Addr):
        address = ipaddress.ip_address(kind.to_user(value.to_bytes(kind.size, 'big')))
        prefix = bin(mask).count('1')
        if mask == full:
            return str(address)
        if mask == full ^ (full >> prefix):
            return '%s/%d' % (address, prefix)
        return '%s/%s' % (address, _user_form(name, mask))
    if kind is type_desc.MacAddr:
        text = str(_user_form(name, value))
        return text if mask == full else '%s/%s' % (text, _user_form(name, mask))
    text = ('%#x' if name in _HEX_FIELDS else '%d') % value
    return text if mask == full else '%s/%#x' % (text, mask)


def _text(space: HeaderSpace, constraints: Mapping[str, Constraint]) -> str:
    return ','.join(
        '%s=%s' % (name, _value_text(space, name, value, mask))
        for name, (value, mask) in sorted(
            constraints.items(), key=lambda item: space.order[item[0]]
        )
    )
