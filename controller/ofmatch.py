"""The OpenFlow 1.3 match fields that configuration files may write, as Ryu's
``OFPMatch`` names them (and the OpenFlow 1.0 names Ryu and FAUCET also take), with
their values and prerequisites. Used by the VLAN/ACL policy's ACL rules
(controller/vswitch) and by the arbiter's flowspaces and overrides
(controller/arbiter/policy.py, its REST queries).

    match, problems = normalise_match({'tcp_dst': 80, 'eth_type': 0x800})
    # match == {'tcp_dst': 80, 'eth_type': 0x800, 'ip_proto': 6}: OFPMatch(**match)

Values come out as ``OFPMatch`` takes them: ints, lower-case colon MACs, dotted /
compressed IP strings, a ``(value, mask)`` tuple where a mask is given, and
``vlan_vid`` with OFPVID_PRESENT set.
"""

import ipaddress
import re
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from controller.config.schema import describe, parse_int

OFPP_MAX = 0xFFFFFF00  # highest physical port number in OpenFlow 1.3
OFPP_IN_PORT = 0xFFFFFFF8  # reserved: out of the port the packet came in on
OFPVID_PRESENT = 0x1000  # set in vlan_vid of a tagged frame
MIN_VID, MAX_VID = 1, 4094
ETH_IPV4, ETH_IPV6 = 0x0800, 0x86DD

Problems = list[tuple[str, str]]  # (the key as written, what is wrong with it)


class FieldKind(Protocol):
    """The values of one match field."""

    json_types: list[str]  # the JSON Schema types a value may have as written
    expect: str  # what messages say belongs there

    def parse(self, value: Any, plain_text: str | None = None) -> Any:
        """The OFPMatch value of ``value``; ValueError saying what is wrong."""


class NumberKind:
    """An unsigned number field; with ``masked``, also 'value/mask'."""

    json_types = ['integer', 'string']

    def __init__(self, low: int, high: int, expect: str, masked: bool = False) -> None:
        self.low, self.high, self.masked = low, high, masked
        self.expect = expect + (', optionally value/mask' if masked else '')

    def _number(self, value):
        try:
            number = parse_int(value)
        except ValueError:
            raise ValueError('expected %s; got %s' % (self.expect, describe(value))) from None
        if not self.low <= number <= self.high:
            raise ValueError('%d is out of range; expected %s' % (number, self.expect))
        return number

    def parse(self, value: Any, plain_text: str | None = None) -> int | tuple[int, int]:
        if self.masked and isinstance(value, str) and '/' in value:
            text, mask_text = value.split('/', 1)
            number, mask = self._number(text), self._number(mask_text)
            _check_inside_mask(number, mask, value)
            return number if mask == self.high else (number, mask)
        return self._number(value)


class VidKind(NumberKind):
    """A VID, stored with OFPVID_PRESENT as OFPMatch wants it."""

    def parse(self, value: Any, plain_text: str | None = None) -> int:
        return OFPVID_PRESENT | self._number(value)


_MAC = re.compile(r'[0-9a-f]{2}(:[0-9a-f]{2}){5}')


class MacKind:
    """A MAC address, optionally /mask."""

    json_types = ['string', 'integer']  # integer: see parse
    expect = 'a MAC address like 0e:00:00:00:00:01, optionally /mask'

    def parse(self, value: Any, plain_text: str | None = None) -> str | tuple[str, str]:
        # YAML 1.1 reads an unquoted 12:34:56:... as a base-60 integer; the text of the
        # scalar is what the user wrote.
        if not isinstance(value, str) and plain_text is not None:
            value = plain_text
        if not isinstance(value, str):
            raise ValueError('expected %s; got %s' % (self.expect, describe(value)))
        parts = [part.replace('-', ':') for part in value.strip().lower().split('/')]
        if len(parts) > 2 or not all(_MAC.fullmatch(part) for part in parts):
            raise ValueError('expected %s; got %r' % (self.expect, value))
        address = parts[0]
        if len(parts) == 1 or parts[1] == 'ff:ff:ff:ff:ff:ff':
            return address
        mask = parts[1]
        _check_inside_mask(_mac_int(address), _mac_int(mask), value)
        return address, mask


def _mac_int(mac):
    return int(mac.replace(':', ''), 16)


def _check_inside_mask(value, mask, text):
    if value & ~mask:
        raise ValueError(
            '%r has bits set outside its mask; clear them (they would never be compared)' % text
        )


class IpKind:
    """An IPv4 or IPv6 address or prefix (/len or /mask)."""

    json_types = ['string']

    def __init__(self, version: int) -> None:
        self.address = ipaddress.IPv4Address if version == 4 else ipaddress.IPv6Address
        self.bits = 32 if version == 4 else 128
        self.expect = (
            'an IPv4 address or prefix like 10.0.0.0/24 (or /255.255.255.0)'
            if version == 4
            else 'an IPv6 address or prefix like 2001:db8::/32'
        )

    def parse(self, value: Any, plain_text: str | None = None) -> str | tuple[str, str]:
        if not isinstance(value, str):
            raise ValueError('expected %s; got %s' % (self.expect, describe(value)))
        text, slash, mask_text = value.strip().partition('/')
        try:
            if '%' in text:  # a scoped IPv6 address: no such match field
                raise ValueError(text)
            address = self.address(text)
            prefix = self._prefix(mask_text) if slash else self.bits
        except ValueError:
            raise ValueError('expected %s; got %r' % (self.expect, value)) from None
        if prefix is None:
            raise ValueError(
                '%s: the mask /%s is not contiguous; only prefixes are taken' % (value, mask_text)
            )
        network = ipaddress.ip_network((address, prefix), strict=False)
        if network.network_address != address:
            # Decided: an error, not a silent fix. 10.0.0.1/24 is either a typo for the
            # network 10.0.0.0/24 or for the host 10.0.0.1, and the two differ a lot.
            raise ValueError(
                '%s has host bits set: write %s for the network or %s for '
                'the one host' % (value, network, address)
            )
        if prefix == self.bits:
            return str(address)
        return str(network.network_address), str(network.netmask)

    def _prefix(self, mask_text):
        """The prefix length of '/24' or of a mask like '/255.255.255.0'; None for a mask
        that is not contiguous; ValueError if it is neither."""
        if re.fullmatch(r'[0-9]{1,3}', mask_text):
            prefix = int(mask_text)
            if prefix > self.bits:
                raise ValueError(mask_text)
            return prefix
        mask = int(self.address(mask_text))
        prefix = bin(mask).count('1')
        if mask != ((1 << prefix) - 1) << (self.bits - prefix):
            return None
        return prefix


_L4_PORT = 'a port 0..65535'
MATCH_FIELDS: dict[str, FieldKind] = {
    'in_port': NumberKind(1, OFPP_MAX, 'a port number 1..0xffffff00'),
    'eth_src': MacKind(),
    'eth_dst': MacKind(),
    'eth_type': NumberKind(0, 0xFFFF, 'an EtherType 0..0xffff, like 0x800'),
    'vlan_vid': VidKind(MIN_VID, MAX_VID, 'a VID 1..4094'),
    'ip_proto': NumberKind(0, 255, 'an IP protocol number 0..255'),
    'ipv4_src': IpKind(4),
    'ipv4_dst': IpKind(4),
    'ipv6_src': IpKind(6),
    'ipv6_dst': IpKind(6),
    'tcp_src': NumberKind(0, 0xFFFF, _L4_PORT, masked=True),
    'tcp_dst': NumberKind(0, 0xFFFF, _L4_PORT, masked=True),
    'udp_src': NumberKind(0, 0xFFFF, _L4_PORT, masked=True),
    'udp_dst': NumberKind(0, 0xFFFF, _L4_PORT, masked=True),
    'icmpv4_type': NumberKind(0, 255, 'an ICMP type 0..255'),
    'icmpv4_code': NumberKind(0, 255, 'an ICMP code 0..255'),
    'icmpv6_type': NumberKind(0, 255, 'an ICMPv6 type 0..255'),
    'icmpv6_code': NumberKind(0, 255, 'an ICMPv6 code 0..255'),
}
# Ryu's (and FAUCET's) OpenFlow 1.0 names.
ALIASES = {
    'dl_src': 'eth_src',
    'dl_dst': 'eth_dst',
    'dl_type': 'eth_type',
    'dl_vlan': 'vlan_vid',
    'nw_proto': 'ip_proto',
    'nw_src': 'ipv4_src',
    'nw_dst': 'ipv4_dst',
}


def field_name(key: str) -> str | None:
    """The OpenFlow 1.3 name of the match field ``key`` (a name or an alias), or None
    if there is no such field here."""
    name = ALIASES.get(key, key)
    return name if name in MATCH_FIELDS else None


# OpenFlow 1.3 prerequisites (spec table 12): the IP protocol a field implies, and the
# EtherType a field implies.
_IP_PROTO_OF = {
    'tcp_src': 6,
    'tcp_dst': 6,
    'udp_src': 17,
    'udp_dst': 17,
    'icmpv4_type': 1,
    'icmpv4_code': 1,
    'icmpv6_type': 58,
    'icmpv6_code': 58,
}
_ETH_TYPE_OF = {
    'ipv4_src': ETH_IPV4,
    'ipv4_dst': ETH_IPV4,
    'icmpv4_type': ETH_IPV4,
    'icmpv4_code': ETH_IPV4,
    'ipv6_src': ETH_IPV6,
    'ipv6_dst': ETH_IPV6,
    'icmpv6_type': ETH_IPV6,
    'icmpv6_code': ETH_IPV6,
}
_PROTO_NAMES = {1: 'ICMP', 6: 'TCP', 17: 'UDP', 58: 'ICMPv6'}
_ETH_NAMES = {ETH_IPV4: 'IPv4', ETH_IPV6: 'IPv6'}


def _named(field, number, names):
    """'ip_proto 17 (UDP)', 'eth_type 0x0806'."""
    text = ('%s 0x%04x' if field == 'eth_type' else '%s %d') % (field, number)
    return '%s (%s)' % (text, names[number]) if number in names else text


def _implied(by, field):
    """Where a rule's value of ``field`` came from, if another field implied it."""
    return '' if ALIASES.get(by, by) == field else ', implied by %s' % by


def normalise_match(
    fields: Mapping[str, Any], plain_text: Callable[[str], str | None] = lambda key: None
) -> tuple[dict[str, Any], Problems]:
    """The OFPMatch-ready match of one rule's match fields (as written, aliases allowed),
    with its prerequisites completed, and the problems found as (key, message).

    Prerequisites are completed where they are implied without doubt: tcp_dst implies
    ip_proto 6, ipv4_dst implies eth_type 0x800, icmpv6_type implies both. A rule that
    would match IP without saying IPv4 or IPv6 (tcp_dst: 80 alone) is an error: completing
    it to IPv4 would leave the same traffic over IPv6 unmatched, so a deny rule would
    silently let it through. Contradictions (tcp_dst with ip_proto 17, ipv4_src with
    eth_type 0x86dd) are errors. Keys that are no match field are left out (the schema
    reports them). ``plain_text(key)`` is the unquoted text of a value, if it was a plain
    YAML scalar.
    """
    match: dict[str, Any] = {}
    written: dict[str, str] = {}
    problems: Problems = []
    for key, value in fields.items():
        name = field_name(key)
        if name is None:
            continue
        if name in written:
            problems.append(
                (key, '%s and %s are the same field; give it once' % (written[name], key))
            )
            continue
        written[name] = key
        try:
            match[name] = MATCH_FIELDS[name].parse(value, plain_text(key))
        except ValueError as error:
            problems.append((key, str(error)))
    if not problems:
        problems = _complete_prerequisites(match, written)
    return match, problems


def _complete_prerequisites(match, written):
    """Complete eth_type and ip_proto in ``match`` from the fields that imply them;
    return the contradictions and ambiguities as (key, message). ``written`` maps each
    field to the key it was written as, and gains the field that completed a value."""
    problems = []
    for field, implies, names in (
        ('eth_type', _ETH_TYPE_OF, _ETH_NAMES),
        ('ip_proto', _IP_PROTO_OF, _PROTO_NAMES),
    ):
        for name in sorted(set(match) & set(implies)):
            needed = implies[name]
            if field not in match:
                match[field] = needed
                written[field] = written[name]
            elif match[field] != needed:
                problems.append(
                    (
                        written[name],
                        '%s matches %s only (%s), but this rule '
                        'has %s%s'
                        % (
                            written[name],
                            names[needed],
                            _named(field, needed, {}),
                            _named(field, match[field], names),
                            _implied(written[field], field),
                        ),
                    )
                )
    if 'ip_proto' in match and not problems:
        by = written['ip_proto']
        eth_type = match.get('eth_type')
        if eth_type is None:
            problems.append(
                (
                    by,
                    '%s matches IP traffic but does not say IPv4 or IPv6: add '
                    'eth_type: 0x800 (IPv4) or eth_type: 0x86dd (IPv6), or write '
                    'one rule for each' % by,
                )
            )
        elif eth_type not in _ETH_NAMES:
            problems.append(
                (
                    by,
                    '%s needs IP (eth_type 0x0800 or 0x86dd), but this rule '
                    'has %s' % (by, _named('eth_type', eth_type, _ETH_NAMES)),
                )
            )
    return problems
