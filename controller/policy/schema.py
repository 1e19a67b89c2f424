"""The policy language: which keys exist where (a JSON Schema, checked with jsonschema),
which of FAUCET's keys this suite refuses by name, and the ACL match fields with their
values and OpenFlow prerequisites.

Checks that need more than one place of the file (references, uniqueness, mirror loops)
are in loader.py; this module knows one value at a time.
"""

import ipaddress
import re

import jsonschema

from controller.policy.model import OFPVID_PRESENT

OFPP_MAX = 0xffffff00          # highest physical port number in OpenFlow 1.3
MAX_DP_ID = 2 ** 64 - 1
MIN_VID, MAX_VID = 1, 4094
ETH_IPV4, ETH_IPV6 = 0x0800, 0x86dd
OVS_HARDWARE = 'Open vSwitch'

# FAUCET's options that this suite does not implement. They are refused by name rather
# than ignored: a FAUCET file that relies on one of them would silently behave otherwise.
FAUCET_ONLY = {
    'top': ['include', 'include-optional', 'meters', 'routers'],
    'vlan': [
        'acl_out', 'acls_out', 'bgp_as', 'bgp_connect_mode', 'bgp_local_address',
        'bgp_neighbor_addresses', 'bgp_neighbor_as', 'bgp_neighbour_addresses',
        'bgp_neighbour_as', 'bgp_port', 'bgp_routerid', 'bgp_server_addresses',
        'dot1x_assigned', 'edge_learn_stack_root', 'faucet_mac', 'faucet_vips',
        'minimum_ip_size_check', 'proactive_arp_limit', 'proactive_nd_limit',
        'reserved_internal_vlan', 'routes', 'targeted_gw_resolution', 'unicast_flood'],
    'dp': [
        'advertise_interval', 'arp_neighbor_timeout', 'cache_update_guard_time',
        'combinatorial_port_flood', 'cookie', 'dot1x', 'dp_acls', 'drop_bpdu',
        'drop_broadcast_source_address', 'drop_lldp', 'drop_spoofed_faucet_mac',
        'egress_pipeline', 'fast_advertise_interval', 'faucet_dp_mac', 'global_vlan',
        'group_table', 'group_table_routing', 'high_priority', 'highest_priority',
        'idle_dst', 'ignore_learn_ins', 'interface_ranges', 'lacp_timeout',
        'learn_ban_timeout', 'learn_jitter', 'lldp_beacon', 'low_priority',
        'lowest_priority', 'max_host_fib_retry_count', 'max_hosts_per_resolve_cycle',
        'max_resolve_backoff_time', 'max_wildcard_table_size', 'metrics_rate_limit_sec',
        'min_wildcard_table_size', 'minimum_ip_size_check', 'multi_out',
        'nd_neighbor_timeout', 'ofchannel_log', 'packetin_pps', 'pipeline_config_dir',
        'port_table_scale_factor', 'priority_offset', 'proactive_learn',
        'proactive_learn_v4', 'proactive_learn_v6', 'slowpath_pps', 'stack',
        'strict_packet_in_cookie', 'table_sizes', 'targeted_gw_resolution', 'timeout',
        'use_classification', 'use_idle_timeout'],
    'interface': [
        'coprocessor', 'count_untag_vlan_miss', 'dot1x', 'dot1x_acl', 'dot1x_dyn_acl',
        'dot1x_mab', 'hairpin', 'hairpin_unicast', 'lacp', 'lacp_active',
        'lacp_collect_and_distribute', 'lacp_passthrough', 'lacp_port_id',
        'lacp_port_priority', 'lacp_resp_interval', 'lacp_selected', 'lacp_standby',
        'lacp_unselected', 'lldp_beacon', 'lldp_peer_mac', 'loop_protect',
        'loop_protect_external', 'max_lldp_lost', 'mirror_destination', 'opstatus_reconf',
        'permanent_learn', 'receive_lldp', 'restricted_bcast_arpnd', 'stack',
        'unicast_flood'],
    'acl': ['dot1x_assigned', 'exact_match'],
    # In a rule: FAUCET's rule cookie (ours are per app, controller/cookies.py) and the
    # OpenFlow match fields it takes that we do not.
    'rule': [
        'arp_op', 'arp_sha', 'arp_spa', 'arp_tha', 'arp_tpa', 'cookie', 'in_phy_port',
        'ip_dscp', 'ip_ecn', 'ipv6_exthdr', 'ipv6_flabel', 'ipv6_nd_sll',
        'ipv6_nd_target', 'ipv6_nd_tll', 'metadata', 'mpls_bos', 'mpls_label', 'mpls_tc',
        'pbb_isid', 'sctp_dst', 'sctp_src', 'tunnel_id', 'vlan_pcp'],
    'actions': ['ct', 'force_port_vlan', 'meter'],
    'output': ['dl_dst', 'failover', 'pop_vlans', 'ports', 'set_fields', 'swap_vid',
               'tunnel', 'vlan_vid', 'vlan_vids'],
}


# --- match fields ----------------------------------------------------------------------

def parse_int(value):
    """An int from an int or from a string in decimal or 0x hex; ValueError otherwise."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if re.fullmatch(r'0x[0-9a-f]+', text):
            return int(text, 16)
        if re.fullmatch(r'[0-9]+', text):
            return int(text)
    raise ValueError('not an integer')


def describe(value):
    """A value as a message names it: "the string 'abc'", "a list", ..."""
    if value is None:
        return 'nothing (null)'
    if isinstance(value, bool):
        return 'the boolean %s' % str(value).lower()
    if isinstance(value, int):
        return 'the integer %d' % value
    if isinstance(value, float):
        return 'the number %r' % value
    if isinstance(value, str):
        return 'the string %r' % value
    if isinstance(value, list):
        return 'a list'
    if isinstance(value, dict):
        return 'a mapping'
    return 'a %s' % type(value).__name__


class _Number:
    """An unsigned number field; with ``masked``, also 'value/mask'."""

    json_types = ['integer', 'string']

    def __init__(self, low, high, expect, masked=False):
        self.low, self.high, self.masked = low, high, masked
        self.expect = expect + (', optionally value/mask' if masked else '')

    def _number(self, value):
        try:
            number = parse_int(value)
        except ValueError:
            raise ValueError('expected %s; got %s' % (self.expect, describe(value)))
        if not self.low <= number <= self.high:
            raise ValueError('%d is out of range; expected %s' % (number, self.expect))
        return number

    def parse(self, value, plain_text=None):
        if self.masked and isinstance(value, str) and '/' in value:
            text, mask_text = value.split('/', 1)
            number, mask = self._number(text), self._number(mask_text)
            _check_inside_mask(number, mask, value)
            return number if mask == self.high else (number, mask)
        return self._number(value)


class _Vid(_Number):
    """A VID, stored with OFPVID_PRESENT as OFPMatch wants it."""

    def parse(self, value, plain_text=None):
        return OFPVID_PRESENT | super().parse(value)


_MAC = re.compile(r'[0-9a-f]{2}(:[0-9a-f]{2}){5}')


class _Mac:
    json_types = ['string', 'integer']     # integer: see parse
    expect = 'a MAC address like 0e:00:00:00:00:01, optionally /mask'

    def parse(self, value, plain_text=None):
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
        raise ValueError('%r has bits set outside its mask; clear them (they would never '
                         'be compared)' % text)


class _Ip:
    json_types = ['string']

    def __init__(self, version):
        self.address = ipaddress.IPv4Address if version == 4 else ipaddress.IPv6Address
        self.bits = 32 if version == 4 else 128
        self.expect = ('an IPv4 address or prefix like 10.0.0.0/24 (or /255.255.255.0)'
                       if version == 4 else 'an IPv6 address or prefix like 2001:db8::/32')

    def parse(self, value, plain_text=None):
        if not isinstance(value, str):
            raise ValueError('expected %s; got %s' % (self.expect, describe(value)))
        text, slash, mask_text = value.strip().partition('/')
        try:
            if '%' in text:               # a scoped IPv6 address: no such match field
                raise ValueError(text)
            address = self.address(text)
            prefix = self._prefix(mask_text) if slash else self.bits
        except ValueError:
            raise ValueError('expected %s; got %r' % (self.expect, value))
        if prefix is None:
            raise ValueError('%s: the mask /%s is not contiguous; only prefixes are taken'
                             % (value, mask_text))
        network = ipaddress.ip_network((address, prefix), strict=False)
        if network.network_address != address:
            # Decided: an error, not a silent fix. 10.0.0.1/24 is either a typo for the
            # network 10.0.0.0/24 or for the host 10.0.0.1, and the two differ a lot.
            raise ValueError('%s has host bits set: write %s for the network or %s for '
                             'the one host' % (value, network, address))
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
MATCH_FIELDS = {
    'in_port': _Number(1, OFPP_MAX, 'a port number 1..0xffffff00'),
    'eth_src': _Mac(),
    'eth_dst': _Mac(),
    'eth_type': _Number(0, 0xffff, 'an EtherType 0..0xffff, like 0x800'),
    'vlan_vid': _Vid(MIN_VID, MAX_VID, 'a VID 1..4094'),
    'ip_proto': _Number(0, 255, 'an IP protocol number 0..255'),
    'ipv4_src': _Ip(4),
    'ipv4_dst': _Ip(4),
    'ipv6_src': _Ip(6),
    'ipv6_dst': _Ip(6),
    'tcp_src': _Number(0, 0xffff, _L4_PORT, masked=True),
    'tcp_dst': _Number(0, 0xffff, _L4_PORT, masked=True),
    'udp_src': _Number(0, 0xffff, _L4_PORT, masked=True),
    'udp_dst': _Number(0, 0xffff, _L4_PORT, masked=True),
    'icmpv4_type': _Number(0, 255, 'an ICMP type 0..255'),
    'icmpv4_code': _Number(0, 255, 'an ICMP code 0..255'),
    'icmpv6_type': _Number(0, 255, 'an ICMPv6 type 0..255'),
    'icmpv6_code': _Number(0, 255, 'an ICMPv6 code 0..255'),
}
# Ryu's (and FAUCET's) OpenFlow 1.0 names.
ALIASES = {
    'dl_src': 'eth_src', 'dl_dst': 'eth_dst', 'dl_type': 'eth_type', 'dl_vlan': 'vlan_vid',
    'nw_proto': 'ip_proto', 'nw_src': 'ipv4_src', 'nw_dst': 'ipv4_dst',
}

# OpenFlow 1.3 prerequisites (spec table 12): the IP protocol a field implies, and the
# EtherType a field implies.
_IP_PROTO_OF = {'tcp_src': 6, 'tcp_dst': 6, 'udp_src': 17, 'udp_dst': 17,
                'icmpv4_type': 1, 'icmpv4_code': 1, 'icmpv6_type': 58, 'icmpv6_code': 58}
_ETH_TYPE_OF = {'ipv4_src': ETH_IPV4, 'ipv4_dst': ETH_IPV4, 'icmpv4_type': ETH_IPV4,
                'icmpv4_code': ETH_IPV4, 'ipv6_src': ETH_IPV6, 'ipv6_dst': ETH_IPV6,
                'icmpv6_type': ETH_IPV6, 'icmpv6_code': ETH_IPV6}
_PROTO_NAMES = {1: 'ICMP', 6: 'TCP', 17: 'UDP', 58: 'ICMPv6'}
_ETH_NAMES = {ETH_IPV4: 'IPv4', ETH_IPV6: 'IPv6'}


def _named(field, number, names):
    """'ip_proto 17 (UDP)', 'eth_type 0x0806'."""
    text = ('%s 0x%04x' if field == 'eth_type' else '%s %d') % (field, number)
    return '%s (%s)' % (text, names[number]) if number in names else text


def _implied(by, field):
    """Where a rule's value of ``field`` came from, if another field implied it."""
    return '' if ALIASES.get(by, by) == field else ', implied by %s' % by


def normalise_match(fields, plain_text=lambda key: None):
    """The OFPMatch-ready match of one rule's match fields (as written, aliases allowed),
    with its prerequisites completed, and the problems found as (key, message).

    Prerequisites are completed where they are implied without doubt: tcp_dst implies
    ip_proto 6, ipv4_dst implies eth_type 0x800, icmpv6_type implies both. A rule that
    would match IP without saying IPv4 or IPv6 (tcp_dst: 80 alone) is an error: completing
    it to IPv4 would leave the same traffic over IPv6 unmatched, so a deny rule would
    silently let it through. Contradictions (tcp_dst with ip_proto 17, ipv4_src with
    eth_type 0x86dd) are errors. ``plain_text(key)`` is the unquoted text of a value, if
    it was a plain YAML scalar.
    """
    match, written, problems = {}, {}, []
    for key, value in fields.items():
        name = ALIASES.get(key, key)
        if name not in MATCH_FIELDS:
            continue                      # the schema reports unknown keys
        if name in written:
            problems.append((key, '%s and %s are the same field; give it once'
                             % (written[name], key)))
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
    for field, implies, names in (('eth_type', _ETH_TYPE_OF, _ETH_NAMES),
                                  ('ip_proto', _IP_PROTO_OF, _PROTO_NAMES)):
        for name in sorted(set(match) & set(implies)):
            needed = implies[name]
            if field not in match:
                match[field] = needed
                written[field] = written[name]
            elif match[field] != needed:
                problems.append((written[name], '%s matches %s only (%s), but this rule '
                                 'has %s%s' % (written[name], names[needed],
                                               _named(field, needed, {}),
                                               _named(field, match[field], names),
                                               _implied(written[field], field))))
    if 'ip_proto' in match and not problems:
        by = written['ip_proto']
        eth_type = match.get('eth_type')
        if eth_type is None:
            problems.append((by, '%s matches IP traffic but does not say IPv4 or IPv6: add '
                             'eth_type: 0x800 (IPv4) or eth_type: 0x86dd (IPv6), or write '
                             'one rule for each' % by))
        elif eth_type not in _ETH_NAMES:
            problems.append((by, '%s needs IP (eth_type 0x0800 or 0x86dd), but this rule '
                             'has %s' % (by, _named('eth_type', eth_type, _ETH_NAMES))))
    return problems


# --- the JSON Schema -------------------------------------------------------------------
# Each schema carries 'expect', the words that messages use for what belongs there, and
# each mapping 'faucetOnly', FAUCET's keys that are refused by name. jsonschema ignores
# both keywords.

def _int(low, high, expect):
    return {'type': 'integer', 'minimum': low, 'maximum': high, 'expect': expect}


def _text(expect='text'):
    return {'type': 'string', 'expect': expect}


def _flag():
    return {'type': 'boolean', 'expect': 'true or false'}


def _mapping(properties, expect, faucet_only=(), required=(), **extra):
    """A mapping with exactly these keys."""
    schema = {'type': 'object', 'expect': expect, 'properties': properties,
              'additionalProperties': False, 'faucetOnly': list(faucet_only)}
    if required:
        schema['required'] = list(required)
    schema.update(extra)
    return schema


def _keyed(what, values, **extra):
    """A mapping of names the user chooses to ``values``."""
    return dict({'type': 'object', 'expect': 'a mapping of %s' % what,
                 'additionalProperties': values}, **extra)


def _field(kind):
    schema = {'type': kind.json_types, 'expect': kind.expect}
    if isinstance(kind, _Number):     # the range of plain integers; strings are parsed
        schema.update(minimum=kind.low, maximum=kind.high)
    return schema


_VLAN_REF = {'type': ['string', 'integer'], 'expect': 'a VLAN name or VID'}
_ACL_REF = {'type': ['string', 'integer'], 'expect': 'an ACL name'}
_ACL_REFS = {'type': 'array', 'items': _ACL_REF, 'expect': 'a list of ACL names'}
_MAX_HOSTS = _int(1, 2 ** 31 - 1, 'a positive integer (the most hosts learned)')
_ACL_PORT = _int(1, OFPP_MAX, 'a port number 1..0xffffff00 (in an ACL ports are numbers: '
                 'one ACL may serve switches whose port names differ)')

_VLAN = _mapping({
    'vid': _int(MIN_VID, MAX_VID, 'a VID, an integer 1..4094'),
    'name': _text('the VLAN name (its key, unless the key is its VID)'),
    'description': _text(),
    'acls_in': _ACL_REFS,
    'acl_in': _ACL_REF,
    'max_hosts': _MAX_HOSTS,
}, 'VLAN settings', FAUCET_ONLY['vlan'])

_INTERFACE = _mapping({
    'number': _int(1, OFPP_MAX, 'a port number 1..0xffffff00'),
    'name': _text('the interface name'),
    'description': _text(),
    'native_vlan': _VLAN_REF,
    'tagged_vlans': {'type': 'array', 'items': _VLAN_REF,
                     'expect': 'a list of VLAN names or VIDs'},
    'acls_in': _ACL_REFS,
    'acl_in': _ACL_REF,
    'mirror': {'type': ['integer', 'string', 'array'], 'minimum': 1, 'maximum': OFPP_MAX,
               'minItems': 1,
               'items': {'type': ['integer', 'string'], 'minimum': 1, 'maximum': OFPP_MAX,
                         'expect': 'a port number or interface name'},
               'expect': 'the port (number or name) or list of ports to mirror'},
    'max_hosts': _MAX_HOSTS,
    'enabled': _flag(),
    'output_only': _flag(),
}, 'interface settings', FAUCET_ONLY['interface'])

_DP = _mapping({
    'dp_id': {'type': ['integer', 'string'], 'minimum': 0, 'maximum': MAX_DP_ID,
              'pattern': '^0[xX][0-9a-fA-F]+$',
              'expect': "a datapath id, an integer 0..2**64-1 or a '0x...' hex string"},
    'name': _text('the switch name (its key)'),
    'description': _text(),
    'hardware': {'const': OVS_HARDWARE,
                 'expect': "'%s' (the only switch this suite drives)" % OVS_HARDWARE},
    'interfaces': _keyed('port number -> interface settings', _INTERFACE, minProperties=1),
}, 'switch settings', FAUCET_ONLY['dp'], required=['interfaces'])

_ACTIONS = _mapping({
    'allow': {'type': ['boolean', 'integer'], 'enum': [True, False, 0, 1],
              'expect': 'true or false (or 1 or 0)'},
    'mirror': _ACL_PORT,
    'output': _mapping({'port': _ACL_PORT},
                       "a mapping with 'port' (FAUCET's ordered output list is not "
                       "supported by this suite)", FAUCET_ONLY['output'],
                       required=['port']),
}, 'actions (allow, mirror, output)', FAUCET_ONLY['actions'], minProperties=1)

_RULE_KEYS = {name: _field(kind) for name, kind in MATCH_FIELDS.items()}
_RULE_KEYS.update({alias: _RULE_KEYS[name] for alias, name in ALIASES.items()})
_RULE_KEYS.update(description=_text(), actions=_ACTIONS)
_RULES = {'type': 'array', 'minItems': 1,
          'items': _mapping({'rule': _mapping(_RULE_KEYS, 'match fields and actions',
                                              FAUCET_ONLY['rule'])},
                            "a '- rule:' entry", required=['rule']),
          'expect': "a list of '- rule:' entries (an ACL needs at least one rule)"}
# FAUCET takes an ACL as its list of rules, or as a mapping with the list under 'rules'.
_ACL = dict(_RULES, type=['array', 'object'], properties={'rules': _RULES},
            required=['rules'], additionalProperties=False, faucetOnly=FAUCET_ONLY['acl'])

POLICY_SCHEMA = _mapping({
    'vlans': _keyed('VLAN name -> VLAN settings', _VLAN),
    'acls': _keyed('ACL name -> list of rules', _ACL),
    'dps': _keyed('switch name -> switch settings', _DP, minProperties=1),
    'version': {'const': 2, 'expect': '2 (the only version of the format)'},
}, "a mapping with 'dps', 'vlans' and 'acls'", FAUCET_ONLY['top'], required=['dps'])

# JSON Schema counts 1.0 as an integer; a port number written 1.0 is a mistake.
_TYPES = jsonschema.Draft202012Validator.TYPE_CHECKER.redefine(
    'integer', lambda checker, value: (isinstance(value, int)
                                       and not isinstance(value, bool)))
_VALIDATOR = jsonschema.validators.extend(jsonschema.Draft202012Validator,
                                          type_checker=_TYPES)(POLICY_SCHEMA)


def schema_issues(data):
    """Yield (path, message, at_key) for every place ``data`` breaks the schema. ``path``
    is a tuple of keys and list indexes; ``at_key`` says the key itself is wrong (the
    message is about the key, not its value)."""
    for error in _VALIDATOR.iter_errors(data):
        path = tuple(error.absolute_path)
        schema, value = error.schema, error.instance
        expect = schema.get('expect', '')
        kind = error.validator
        if kind == 'additionalProperties':
            for key in value:
                if key in schema.get('properties', {}):
                    continue
                if key in schema.get('faucetOnly', ()):
                    message = "FAUCET option '%s' is not supported by this suite" % key
                else:
                    message = "unknown key '%s'; expected one of %s" % (
                        key, ', '.join(schema['properties']))
                yield path + (key,), message, True
        elif kind == 'required':
            for key in error.validator_value:
                if key not in value:
                    yield path, "missing key '%s' (%s)" % (
                        key, schema['properties'][key]['expect']), False
        elif kind in ('minimum', 'maximum'):
            if isinstance(value, int):    # a float has its 'type' error already
                yield path, '%d is out of range; expected %s' % (value, expect), False
        elif kind == 'minItems':
            yield path, 'empty list; expected %s' % expect, False
        elif kind == 'minProperties':
            yield path, 'empty mapping; expected %s' % expect, False
        elif kind in ('type', 'enum', 'const', 'pattern'):
            yield path, 'expected %s; got %s' % (expect, describe(value)), False
        else:                             # a keyword without a message of ours
            yield path, error.message, False
