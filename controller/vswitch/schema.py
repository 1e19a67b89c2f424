"""The policy language: which keys exist where (a JSON Schema, checked with jsonschema)
and which of FAUCET's keys this suite refuses by name. The ACL match fields, their
values and OpenFlow prerequisites are controller/ofmatch.py's.

Checks that need more than one place of the file (references, uniqueness, mirror loops)
are in loader.py; this module knows one value at a time.
"""

from collections.abc import Iterator
from typing import Any

from controller.config.schema import describe, strict_validator
from controller.config.yaml_source import Path
from controller.ofmatch import (
    ALIASES,
    MATCH_FIELDS,
    MAX_VID,
    MIN_VID,
    OFPP_IN_PORT,
    OFPP_MAX,
    NumberKind,
)
from controller.vswitch.faucet_layout import FAUCET_TABLES
from controller.vswitch.model import MAX_ACL_GROUP_ID, OVS_HARDWARE
from controller.vswitch.pipeline import PRIO_HIGHEST

MAX_DP_ID = 2**64 - 1
MAX_PRIORITY_OFFSET = 0xFFFF - PRIO_HIGHEST  # the pipeline's highest rule stays in 16 bits
# FAUCET 1.10.12's hardware names (faucet/valve.py SUPPORTED_HARDWARE). Any of them is
# accepted: the switch is driven with this suite's Open vSwitch pipeline all the same.
FAUCET_HARDWARE = (
    'Generic',
    'GenericTFM',
    'Allied-Telesis',
    'Aruba',
    'CiscoC9K',
    'Lagopus',
    'Netronome',
    'NoviFlow',
    OVS_HARDWARE,
    'Open vSwitch TFM',
    'ZodiacFX',
    'ZodiacGX',
)

# FAUCET's options that this suite does not implement. They are refused by name rather
# than ignored: a FAUCET file that relies on one of them would silently behave otherwise.
FAUCET_ONLY = {
    'top': [],
    'router': ['bgp'],  # BGP: no speaker here
    'vlan': [
        'bgp_as',
        'bgp_connect_mode',
        'bgp_local_address',
        'bgp_neighbor_addresses',
        'bgp_neighbor_as',
        'bgp_neighbour_addresses',
        'bgp_neighbour_as',
        'bgp_port',
        'bgp_routerid',
        'bgp_server_addresses',
        'dot1x_assigned',
        'edge_learn_stack_root',
        'proactive_arp_limit',
        'proactive_nd_limit',
        'unicast_flood',
    ],
    'dp': [
        'advertise_interval',
        'arp_neighbor_timeout',
        'cache_update_guard_time',
        'cookie',
        'dot1x',
        'drop_bpdu',
        'drop_broadcast_source_address',
        'drop_lldp',
        'drop_spoofed_faucet_mac',
        'fast_advertise_interval',
        'global_vlan',
        'group_table_routing',
        'high_priority',
        'highest_priority',
        'idle_dst',
        'learn_ban_timeout',
        'learn_jitter',
        'low_priority',
        'lowest_priority',
        'max_host_fib_retry_count',
        'max_hosts_per_resolve_cycle',
        'max_resolve_backoff_time',
        'max_wildcard_table_size',
        'metrics_rate_limit_sec',
        'min_wildcard_table_size',
        'minimum_ip_size_check',
        'multi_out',
        'nd_neighbor_timeout',
        'pipeline_config_dir',
        'port_table_scale_factor',
        'proactive_learn',
        'proactive_learn_v4',
        'proactive_learn_v6',
        'strict_packet_in_cookie',
        'targeted_gw_resolution',
        'timeout',
    ],
    'interface': [
        'count_untag_vlan_miss',
        'dot1x',
        'dot1x_acl',
        'dot1x_dyn_acl',
        'dot1x_mab',
        'hairpin_unicast',
        'max_lldp_lost',
        'mirror_destination',
        'opstatus_reconf',
        'unicast_flood',
    ],
    'acl': ['dot1x_assigned', 'exact_match'],
    # In a rule: FAUCET's rule cookie (ours are per app, controller/cookies.py) and the
    # OpenFlow match fields it takes that we do not.
    'rule': [
        'arp_op',
        'arp_sha',
        'arp_spa',
        'arp_tha',
        'arp_tpa',
        'cookie',
        'in_phy_port',
        'ip_dscp',
        'ip_ecn',
        'ipv6_exthdr',
        'ipv6_flabel',
        'ipv6_nd_sll',
        'ipv6_nd_target',
        'ipv6_nd_tll',
        'metadata',
        'mpls_bos',
        'mpls_label',
        'mpls_tc',
        'pbb_isid',
        'sctp_dst',
        'sctp_src',
        'tunnel_id',
        'vlan_pcp',
    ],
    'actions': ['ct'],
    'stack': [],
    'output': ['dl_dst'],
}


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
    schema = {
        'type': 'object',
        'expect': expect,
        'properties': properties,
        'additionalProperties': False,
        'faucetOnly': list(faucet_only),
    }
    if required:
        schema['required'] = list(required)
    schema.update(extra)
    return schema


def _keyed(what, values, **extra):
    """A mapping of names the user chooses to ``values``."""
    return dict(
        {'type': 'object', 'expect': 'a mapping of %s' % what, 'additionalProperties': values},
        **extra,
    )


def _field(kind):
    schema = {'type': kind.json_types, 'expect': kind.expect}
    if isinstance(kind, NumberKind):  # the range of plain integers; strings are parsed
        schema.update(minimum=kind.low, maximum=kind.high)
    return schema


_VLAN_REF = {'type': ['string', 'integer'], 'expect': 'a VLAN name or VID'}
_MAC = {'type': ['string', 'integer'], 'expect': 'a MAC address'}
_ACL_REF = {'type': ['string', 'integer'], 'expect': 'an ACL name'}
_ACL_REFS = {'type': 'array', 'items': _ACL_REF, 'expect': 'a list of ACL names'}
_MAX_HOSTS = _int(1, 2**31 - 1, 'a positive integer (the most hosts learned)')
_ACL_PORT = {
    'type': ['integer', 'string'],
    'minimum': 1,
    'maximum': OFPP_MAX,
    'expect': 'a port number 1..0xffffff00 or an interface name',
}
OUTPUT_PORT_EXPECT = 'a port number 1..0xffffff00, 0xfffffff8 (IN_PORT) or an interface name'
# An output may also go back out of the port the packet came in on (OpenFlow's IN_PORT);
# the loader refuses the reserved numbers between.
_OUTPUT_PORT = dict(_ACL_PORT, maximum=OFPP_IN_PORT, expect=OUTPUT_PORT_EXPECT)

_VLAN_SETTINGS = _mapping(
    {
        'vid': _int(MIN_VID, MAX_VID, 'a VID, an integer 1..4094'),
        'name': _text('the VLAN name (its key, unless the key is its VID)'),
        'description': _text(),
        'acls_in': _ACL_REFS,
        'acl_in': _ACL_REF,
        # FAUCET's egress ACLs: applied to the VLAN's frames on their way out (egress.py)
        'acls_out': _ACL_REFS,
        'acl_out': _ACL_REF,
        'max_hosts': _MAX_HOSTS,
        'faucet_vips': {
            'type': 'array',
            'minItems': 1,
            'items': _text('an address with its prefix, like 10.0.0.254/24'),
            'expect': "a list of the VLAN's router addresses, like [10.0.0.254/24]",
        },
        # An unquoted MAC may read as a (base-60) integer: the loader reads its text.
        'faucet_mac': _MAC,
        'routes': {  # each item is checked by routing.py
            'type': 'array',
            'items': {'type': 'object', 'expect': "a route: '- route: {ip_dst: ..., ip_gw: ...}'"},
            'expect': "a list of static routes ('- route: {ip_dst: NETWORK, ip_gw: ADDRESS}')",
        },
        'targeted_gw_resolution': _flag(),
        'minimum_ip_size_check': _flag(),
        'reserved_internal_vlan': _flag(),  # a tunnel's VID (controller/vswitch/tunnel.py)
    },
    'VLAN settings',
    FAUCET_ONLY['vlan'],
)
# FAUCET: a VLAN keyed by its VID may have an empty body (loader.py checks the key).
_VLAN = dict(_VLAN_SETTINGS, type=['object', 'null'])

_INTERFACE = _mapping(
    {
        'number': _int(1, OFPP_MAX, 'a port number 1..0xffffff00'),
        'name': _text('the interface name'),
        'description': _text(),
        'native_vlan': _VLAN_REF,
        'tagged_vlans': {
            'type': 'array',
            'items': _VLAN_REF,
            'expect': 'a list of VLAN names or VIDs',
        },
        'acls_in': _ACL_REFS,
        'acl_in': _ACL_REF,
        'mirror': {
            'type': ['integer', 'string', 'array'],
            'minimum': 1,
            'maximum': OFPP_MAX,
            'minItems': 1,
            'items': {
                'type': ['integer', 'string'],
                'minimum': 1,
                'maximum': OFPP_MAX,
                'expect': 'a port number or interface name',
            },
            'expect': 'the port (number or name) or list of ports to mirror',
        },
        'max_hosts': _MAX_HOSTS,
        'enabled': _flag(),
        'output_only': _flag(),
        'permanent_learn': _flag(),
        'restricted_bcast_arpnd': _flag(),
        # FAUCET's stacking: this port is cabled to port ``port`` of switch ``dp``
        'stack': _mapping(
            {
                'dp': {'type': ['string', 'integer'], 'expect': 'the name or dp_id of a switch'},
                'port': {
                    'type': ['integer', 'string'],
                    'minimum': 1,
                    'maximum': OFPP_MAX,
                    'expect': 'a port number or interface name of that switch',
                },
            },
            'stack link settings (dp, port)',
            required=['dp', 'port'],
        ),
        # FAUCET's LACP (controller/vswitch/lacp.py): this port is a member of LAG N
        'lacp': _int(0, 0xFFFF, 'a LAG id 1..65535 (0: not a LAG member)'),
        'lacp_active': _flag(),
        'lacp_selected': _flag(),
        'lacp_unselected': _flag(),
        'lacp_standby': _flag(),
        'lacp_collect_and_distribute': _flag(),
        'lacp_passthrough': {
            'type': 'array',
            'items': _int(1, OFPP_MAX, 'a port number of this switch'),
            'expect': 'a list of port numbers of this switch',
        },
        'lacp_port_priority': _int(0, 255, 'an LACP port priority 0..255'),
        'lacp_port_id': _int(-1, 0xFFFF, 'an LACP port id 1..65535 (-1: the port number)'),
        'lacp_resp_interval': _int(1, 65535, 'seconds between LACP answers, 1..65535'),
        # FAUCET's per-port options of controller/vswitch/portopts.py
        'hairpin': _flag(),
        'loop_protect': _flag(),
        'loop_protect_external': _flag(),
        'receive_lldp': _flag(),
        'lldp_peer_mac': _text('the MAC address LLDP on this port must come from'),
        'lldp_beacon': _mapping(
            {
                'enable': _flag(),
                'system_name': _text('the LLDP system name'),
                'port_descr': _text('the LLDP port description'),
                'org_tlvs': {
                    'type': 'array',
                    'items': _mapping(
                        {
                            'oui': _int(0, 0xFFFFFF, 'an OUI, an integer 0..0xffffff'),
                            'subtype': _int(0, 255, 'a subtype 0..255'),
                            'info': _text('the info, hex digits (or text)'),
                        },
                        'an organisational TLV (oui, subtype, info)',
                        required=['oui', 'subtype', 'info'],
                    ),
                    'expect': 'a list of organisational TLVs',
                },
            },
            'LLDP beacon settings (enable, system_name, port_descr, org_tlvs)',
        ),
        'coprocessor': _mapping(
            {
                'strategy': {'enum': ['vlan_vid'], 'expect': 'vlan_vid (FAUCET\'s only strategy)'},
                'vlan_vid_base': _int(0, MAX_VID, 'the VID of port 0: port N is VID base + N'),
            },
            'coprocessor settings (strategy, vlan_vid_base)',
            required=['strategy'],
        ),
    },
    'interface settings',
    FAUCET_ONLY['interface'],
)

_DP = _mapping(
    {
        'dp_id': {
            'type': ['integer', 'string'],
            'minimum': 0,
            'maximum': MAX_DP_ID,
            'pattern': '^0[xX][0-9a-fA-F]+$',
            'expect': "a datapath id, an integer 0..2**64-1 or a '0x...' hex string",
        },
        'name': _text('the switch name (its key)'),
        'description': _text(),
        'hardware': {
            'enum': list(FAUCET_HARDWARE),
            'expect': "one of FAUCET's hardware names (%s)" % ', '.join(FAUCET_HARDWARE),
        },
        'interfaces': _keyed('port number -> interface settings', _INTERFACE, minProperties=1),
        # FAUCET: settings for ranges of ports, '1-4,6' (a port's own settings win)
        'interface_ranges': _keyed('port ranges -> interface settings', _INTERFACE),
        'ignore_learn_ins': _int(
            0,
            2**31 - 1,
            'an integer n >= 0: every n-th learning packet-in of a second is ignored (0: none)',
        ),
        'packetin_pps': _int(
            0, 2**32 - 1, 'packet-ins per second the switch may send (0: no limit)'
        ),
        'slowpath_pps': _int(
            0, 2**32 - 1, 'slow-path packets per second the switch may process (0: no limit)'
        ),
        'combinatorial_port_flood': _flag(),
        'dp_acls': _ACL_REFS,
        'priority_offset': _int(
            0,
            MAX_PRIORITY_OFFSET,
            'an offset added to every rule priority, 0..%d' % MAX_PRIORITY_OFFSET,
        ),
        'ofchannel_log': _text('the file to log this switch\'s OpenFlow messages to'),
        'faucet_dp_mac': _MAC,
        'lacp_timeout': _int(1, 2**31 - 1, 'seconds without an LACPDU before a LAG member is down'),
        # hosts learned expire when they fall silent (idle source rules), as FAUCET's
        'use_idle_timeout': _flag(),
        # FAUCET's table layout and hardware hints: nothing a host sees (faucet_layout.py)
        'egress_pipeline': _flag(),
        'use_classification': _flag(),
        'group_table': _flag(),
        'table_sizes': _mapping(
            {name: _int(1, 2**31 - 1, 'a table size') for name in FAUCET_TABLES},
            "table sizes by FAUCET's table name (%s)" % ', '.join(FAUCET_TABLES),
        ),
        # FAUCET's stacking: a root candidate; the lowest priority is the root
        'stack': _mapping(
            {
                'priority': _int(1, 2**31 - 1, 'a stack priority > 0 (the lowest is the root)'),
                'min_lacp_health': {
                    'type': 'number',
                    'minimum': 0,
                    'maximum': 1,
                    'expect': 'a fraction 0..1 of LACP ports up',
                },
                # FAUCET's health of a root candidate (docs/fabric.md)
                'down_time_multiple': _int(
                    0, 2**31 - 1, 'root update intervals a candidate may be down and stay healthy'
                ),
                'min_stack_health': {  # a float, 0.0..1.0: the loader checks
                    'type': 'number',
                    'expect': 'the share of stack ports up for a healthy candidate, 0.0..1.0',
                },
                'route_learning': _flag(),
            },
            'stack settings (priority, down_time_multiple, min_stack_health, route_learning, '
            'min_lacp_health)',
            FAUCET_ONLY['stack'],
        ),
        'lldp_beacon': _mapping(
            {
                'send_interval': _int(1, 2**31 - 1, 'seconds between beacons'),
                'max_per_interval': _int(1, 2**31 - 1, 'beacons sent per interval at most'),
                'system_name': _text('the LLDP system name'),
            },
            'LLDP beacon settings (send_interval, max_per_interval, system_name)',
        ),
    },
    'switch settings',
    FAUCET_ONLY['dp'],
)

_VID = _int(MIN_VID, MAX_VID, 'a VID, an integer 1..4094')
_FAILOVER = _mapping(
    {
        'group_id': _int(
            1,
            MAX_ACL_GROUP_ID,
            'a group id 1..%d (the stacking fabric numbers its groups above)' % MAX_ACL_GROUP_ID,
        ),
        'ports': {
            'type': 'array',
            'items': _ACL_PORT,
            'minItems': 1,
            'expect': 'a list of ports, the first live one wins',
        },
    },
    'fast-failover settings (group_id, ports)',
    required=['group_id', 'ports'],
)
_PUSHED_VID = {
    'type': ['integer', 'object'],
    'minimum': MIN_VID,
    'maximum': MAX_VID,
    'properties': {
        'vid': _VID,
        'eth_type': {'enum': [0x8100, 0x88A8], 'expect': '0x8100 or 0x88a8'},
    },
    'required': ['vid'],
    'additionalProperties': False,
    'faucetOnly': [],
    'expect': 'a VID 1..4094, or {vid: VID, eth_type: 0x8100 or 0x88a8}',
}
# FAUCET's output actions, as a mapping (applied in FAUCET's fixed order) or as an
# ordered list of one-action mappings (applied in the order written).
_OUTPUT = _mapping(
    {
        'port': _OUTPUT_PORT,
        'ports': {
            'type': 'array',
            'items': _OUTPUT_PORT,
            'minItems': 1,
            'expect': 'a list of ports',
        },
        'set_fields': {
            'type': 'array',
            'minItems': 1,
            'items': {
                'type': 'object',
                'minProperties': 1,
                'maxProperties': 1,
                'expect': 'a one-field mapping like {eth_dst: 0e:00:00:00:00:01}',
            },
            'expect': 'a list of one-field mappings',
        },
        'pop_vlans': _int(1, 2, 'the number of VLAN tags to pop, 1 or 2'),
        'swap_vid': _VID,
        'vlan_vid': _PUSHED_VID,
        'vlan_vids': {
            'type': 'array',
            'items': _PUSHED_VID,
            'minItems': 1,
            'maxItems': 2,
            'expect': 'a list of one or two VIDs to push',
        },
        'failover': _FAILOVER,
    },
    'output actions (port, ports, failover, tunnel, set_fields, pop_vlans, swap_vid, vlan_vid, '
    'vlan_vids)',
    FAUCET_ONLY['output'],
    minProperties=1,
)
# FAUCET's tunnel output: the packet carried over the stack fabric to a port of another
# switch, in a VLAN of its own (controller/vswitch/tunnel.py, docs/fabric.md).
_OUTPUT['properties']['tunnel'] = _mapping(
    {
        'type': {'const': 'vlan', 'expect': "'vlan' (the only encapsulation, as in FAUCET)"},
        'tunnel_id': {
            'type': ['integer', 'string'],
            'minimum': MIN_VID,
            'maximum': MAX_VID,
            'expect': 'a VID 1..4094 or the name of a VLAN with reserved_internal_vlan',
        },
        'dp': _text('the name of the destination switch'),
        'port': _ACL_PORT,
        'exit_instructions': {
            'type': 'array',
            'items': dict(_OUTPUT, maxProperties=1, expect='one output action (ordered form)'),
            'expect': 'an ordered list of one-action output mappings',
        },
        'maintain_encapsulation': _flag(),
        'bi_directional': _flag(),
        'reverse': _flag(),
    },
    'tunnel settings (type, tunnel_id, dp, port, exit_instructions, '
    'maintain_encapsulation, bi_directional, reverse)',
    required=['dp'],
)

_ACTIONS = _mapping(
    {
        'allow': {
            'type': ['boolean', 'integer'],
            'enum': [True, False, 0, 1],
            'expect': 'true or false (or 1 or 0)',
        },
        'mirror': _ACL_PORT,
        'meter': _text('the name of a meter under meters'),
        # FAUCET's: the packet skips the VLAN table (and VLAN ACLs) on to learning
        'force_port_vlan': {
            'type': ['boolean', 'integer'],
            'enum': [True, False, 0, 1],
            'expect': 'true or false (or 1 or 0)',
        },
        'output': dict(
            _OUTPUT,
            type=['object', 'array'],
            items=dict(_OUTPUT, maxProperties=1, expect='one output action (ordered form)'),
            minItems=1,
            expect='output actions: a mapping, or an ordered list of one-action mappings',
        ),
    },
    'actions (allow, mirror, meter, output)',
    FAUCET_ONLY['actions'],
    minProperties=1,
)

_RULE_KEYS = {name: _field(kind) for name, kind in MATCH_FIELDS.items()}
_RULE_KEYS.update({alias: _RULE_KEYS[name] for alias, name in ALIASES.items()})
_RULE_KEYS.update(description=_text(), actions=_ACTIONS)
_RULE = _mapping(_RULE_KEYS, 'match fields and actions', FAUCET_ONLY['rule'])
# FAUCET takes a rule as '- rule: {...}', as the mapping itself ('- {...}'), or with an
# empty 'rule:' beside its fields ('- rule:' then 'actions: ...' under the dash).
_RULE_ITEM = {
    'type': 'object',
    'expect': "a rule: '- rule:' and its match fields and actions",
    'if': {'required': ['rule'], 'properties': {'rule': {'type': 'object'}}},
    'then': _mapping(
        {'rule': _RULE},
        "a '- rule:' entry (its fields go under 'rule:', or beside an empty 'rule:')",
    ),
    'else': _mapping(
        dict(_RULE_KEYS, rule={'type': 'null', 'expect': "an empty 'rule:' or a mapping"}),
        'match fields and actions',
        FAUCET_ONLY['rule'],
    ),
}
_RULES = {
    'type': 'array',
    'minItems': 1,
    'items': _RULE_ITEM,
    'expect': "a list of '- rule:' entries (an ACL needs at least one rule)",
}
# FAUCET takes an ACL as its list of rules, or as a mapping with the list under 'rules'.
_ACL = dict(
    _RULES,
    type=['array', 'object'],
    properties={'rules': _RULES},
    required=['rules'],
    additionalProperties=False,
    faucetOnly=FAUCET_ONLY['acl'],
)

_METER_FLAG = {'enum': ['KBPS', 'PKTPS', 'BURST', 'STATS'], 'expect': 'KBPS, PKTPS, BURST or STATS'}
_METER = _mapping(
    {
        'meter_id': _int(1, 0xFFFF0000, 'a meter id 1..0xffff0000'),
        'entry': _mapping(
            {
                'flags': {  # a string is checked by the loader
                    'type': ['string', 'array'],
                    'items': _METER_FLAG,
                    'expect': 'a flag or a list of flags (KBPS or PKTPS, BURST, STATS)',
                },
                'bands': {
                    'type': 'array',
                    'minItems': 1,
                    'items': _mapping(
                        {
                            'type': {
                                'enum': ['DROP'],
                                'expect': 'DROP (the band this suite implements)',
                            },
                            'rate': _int(1, 2**32 - 1, 'a rate, in kb/s or packets/s as flagged'),
                            'burst_size': _int(0, 2**32 - 1, 'a burst size'),
                        },
                        'a meter band (type, rate, burst_size)',
                        required=['type', 'rate'],
                    ),
                    'expect': 'a list of meter bands',
                },
            },
            'the meter entry (flags, bands)',
            required=['bands'],
        ),
    },
    'meter settings (meter_id, entry)',
    required=['meter_id', 'entry'],
)

POLICY_SCHEMA = _mapping(
    {
        'meters': _keyed('meter name -> meter settings', _METER),
        'vlans': _keyed('VLAN name -> VLAN settings', _VLAN),
        'acls': _keyed('ACL name -> list of rules', _ACL),
        'dps': _keyed('switch name -> switch settings', _DP, minProperties=1),
        'routers': _keyed(
            'router name -> router settings',
            _mapping(
                {
                    'vlans': {
                        'type': 'array',
                        'items': _VLAN_REF,
                        'minItems': 1,
                        'expect': 'a list of the VLANs (names or VIDs) the router joins',
                    }
                },
                'router settings (vlans)',
                FAUCET_ONLY['router'],
                required=['vlans'],
            ),
        ),
        'version': {'const': 2, 'expect': '2 (the only version of the format)'},
    },
    "a mapping with 'dps', 'vlans' and 'acls'",
    FAUCET_ONLY['top'],
    required=['dps'],
)

_VALIDATOR = strict_validator(POLICY_SCHEMA)


def schema_issues(data: Any) -> Iterator[tuple[Path, str, bool]]:
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
                        key,
                        ', '.join(schema['properties']),
                    )
                yield path + (key,), message, True
        elif kind == 'required':
            for key in error.validator_value:
                if key not in value:
                    yield (
                        path,
                        "missing key '%s' (%s)" % (key, schema['properties'][key]['expect']),
                        False,
                    )
        elif kind in ('minimum', 'maximum'):
            if isinstance(value, int):  # a float has its 'type' error already
                yield path, '%d is out of range; expected %s' % (value, expect), False
        elif kind == 'minItems':
            yield path, 'empty list; expected %s' % expect, False
        elif kind == 'minProperties':
            yield path, 'empty mapping; expected %s' % expect, False
        elif kind in ('maxProperties', 'maxItems'):
            yield path, 'too many; expected %s' % expect, False
        elif kind in ('type', 'enum', 'const', 'pattern'):
            yield path, 'expected %s; got %s' % (expect, describe(value)), False
        else:  # a keyword without a message of ours
            yield path, error.message, False
