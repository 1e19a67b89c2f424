"""controller.vswitch: valid policies load to the expected model; FAUCET's own style of
file loads unchanged; the model is hashable, comparable and what Ryu's OFPMatch takes."""

import os
import textwrap

import yaml
from ryu.ofproto import ofproto_v1_3_parser as parser

from controller.config.frozen import FrozenDict
from controller.vswitch import (
    Actions,
    Datapath,
    Interface,
    Policy,
    Rule,
    Vlan,
    load_policy,
    load_policy_text,
)

EXAMPLES = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    'examples',
    'policies',
)

# Three switches in a line (s1 - s2 - s3) with trunks, three tenants, access and tagged
# ports, a mirror port, and ACLs with most match fields, in both spellings.
FULL = textwrap.dedent('''\
    vlans:
      red: {vid: 100, description: tenant red, max_hosts: 50}
      green: {vid: 200, acls_in: [green-in]}
      300: {description: "blue, keyed by its VID"}
    acls:
      web-only:
        - rule:
            eth_type: 0x800
            ip_proto: 6
            ipv4_dst: 10.1.0.0/24
            tcp_dst: 80
            actions: {allow: true}
        - rule:
            description: DNS over IPv6, watched
            dl_type: 0x86dd
            nw_proto: 17
            ipv6_src: 2001:db8:1::/48
            udp_dst: 53
            actions: {allow: true, mirror: 4}
        - rule:
            eth_src: 0E:00:00:00:00:01
            eth_dst: 01:00:5e:00:00:00/ff:ff:ff:80:00:00
            actions: {allow: false, output: {port: 2}}
        - rule:
            actions: {allow: false}
      green-in:
        rules:
          - rule: {icmpv4_type: 8, actions: {allow: 0}}
          - rule: {vlan_vid: 200, in_port: 1, actions: {allow: 1}}
          - rule: {ipv4_src: 10.2.0.0/16, udp_src: 68, actions: {allow: 0}}
          - rule: {ipv6_dst: "ff02::/16", icmpv6_type: 135, actions: {allow: true}}
          - rule: {eth_type: 0x800, tcp_src: 0x400/0xfc00, actions: {allow: false}}
    dps:
      s1:
        dp_id: 0x1
        description: left
        hardware: Open vSwitch
        interfaces:
          1: {name: h1, native_vlan: red, acls_in: [web-only]}
          2: {native_vlan: green, max_hosts: 4}
          3: {tagged_vlans: [300, red]}
          4: {description: tap, mirror: h1}
          5: {name: to-s2, tagged_vlans: [red, green, 300]}
      s2:
        dp_id: 2
        interfaces:
          1: {native_vlan: 300}
          2: {tagged_vlans: [red, green]}
          3: {description: to-s1, tagged_vlans: [red, green, 300]}
          4: {description: to-s3, tagged_vlans: [red, green, 300]}
          9: {enabled: false, native_vlan: red}
      s3:
        dp_id: 3
        interfaces:
          eth1: {number: 1, native_vlan: green}
          2: {tagged_vlans: [300]}
          3: {tagged_vlans: [red, green, 300]}
    ''')


def trunk(port, name=None, description=None):
    return Interface(
        port=port, name=name or str(port), description=description, tagged_vlans=(RED, GREEN, BLUE)
    )


RED = Vlan('red', 100, description='tenant red', max_hosts=50)
GREEN = Vlan('green', 200, acls_in=('green-in',))
BLUE = Vlan('300', 300, description='blue, keyed by its VID')
EXPECTED = Policy(
    vlans=FrozenDict({'red': RED, 'green': GREEN, '300': BLUE}),
    acls=FrozenDict(
        {
            'web-only': (
                Rule(
                    FrozenDict(
                        {
                            'eth_type': 0x800,
                            'ip_proto': 6,
                            'ipv4_dst': ('10.1.0.0', '255.255.255.0'),
                            'tcp_dst': 80,
                        }
                    ),
                    Actions(allow=True),
                ),
                Rule(
                    FrozenDict(
                        {
                            'eth_type': 0x86DD,
                            'ip_proto': 17,
                            'ipv6_src': ('2001:db8:1::', 'ffff:ffff:ffff::'),
                            'udp_dst': 53,
                        }
                    ),
                    Actions(allow=True, mirror=4),
                    description='DNS over IPv6, watched',
                ),
                Rule(
                    FrozenDict(
                        {
                            'eth_src': '0e:00:00:00:00:01',
                            'eth_dst': ('01:00:5e:00:00:00', 'ff:ff:ff:80:00:00'),
                        }
                    ),
                    Actions(allow=False, output=(("output", 2),)),
                ),
                Rule(FrozenDict(), Actions(allow=False)),
            ),
            'green-in': (
                Rule(
                    FrozenDict({'eth_type': 0x800, 'ip_proto': 1, 'icmpv4_type': 8}),
                    Actions(allow=False),
                ),
                Rule(FrozenDict({'vlan_vid': 0x1000 | 200, 'in_port': 1}), Actions(allow=True)),
                Rule(
                    FrozenDict(
                        {
                            'eth_type': 0x800,
                            'ipv4_src': ('10.2.0.0', '255.255.0.0'),
                            'ip_proto': 17,
                            'udp_src': 68,
                        }
                    ),
                    Actions(allow=False),
                ),
                Rule(
                    FrozenDict(
                        {
                            'eth_type': 0x86DD,
                            'ipv6_dst': ('ff02::', 'ffff::'),
                            'ip_proto': 58,
                            'icmpv6_type': 135,
                        }
                    ),
                    Actions(allow=True),
                ),
                Rule(
                    FrozenDict({'eth_type': 0x800, 'ip_proto': 6, 'tcp_src': (0x400, 0xFC00)}),
                    Actions(allow=False),
                ),
            ),
        }
    ),
    dps=FrozenDict(
        {
            's1': Datapath(
                's1',
                1,
                description='left',
                interfaces=FrozenDict(
                    {
                        1: Interface(1, 'h1', native_vlan=RED, acls_in=('web-only',)),
                        2: Interface(2, '2', native_vlan=GREEN, max_hosts=4),
                        3: Interface(3, '3', tagged_vlans=(RED, BLUE)),
                        4: Interface(4, '4', description='tap', mirror=(1,)),
                        5: trunk(5, name='to-s2'),
                    }
                ),
            ),
            's2': Datapath(
                's2',
                2,
                interfaces=FrozenDict(
                    {
                        1: Interface(1, '1', native_vlan=BLUE),
                        2: Interface(2, '2', tagged_vlans=(RED, GREEN)),
                        3: trunk(3, description='to-s1'),
                        4: trunk(4, description='to-s3'),
                        9: Interface(9, '9', native_vlan=RED, enabled=False),
                    }
                ),
            ),
            's3': Datapath(
                's3',
                3,
                interfaces=FrozenDict(
                    {
                        1: Interface(1, 'eth1', native_vlan=GREEN),
                        2: Interface(2, '2', tagged_vlans=(BLUE,)),
                        3: trunk(3),
                    }
                ),
            ),
        }
    ),
)


def test_full_policy_loads_to_the_expected_model():
    policy = load_policy_text(FULL, 'full.yaml')
    assert policy == EXPECTED
    assert hash(policy) == hash(EXPECTED)
    assert policy.rule_count == 9
    # Rules remember their line, for messages; it is not part of the comparison.
    assert [rule.line for rule in policy.acls['web-only']] == [7, 13, 20, 24]


def test_model_is_ordered_for_the_compiler():
    policy = load_policy_text(FULL)
    assert list(policy.dps['s2'].interfaces) == [1, 2, 3, 4, 9]
    assert policy.dps['s1'].interfaces[3].tagged_vlans == (RED, BLUE)  # by VID
    assert policy.dps['s1'].interfaces[1].vlans == (RED,)
    assert policy.datapath_by_id(3).name == 's3' and policy.datapath_by_id(7) is None


def test_every_match_is_accepted_by_ryu():
    policy = load_policy_text(FULL)
    for rules in policy.acls.values():
        for rule in rules:
            match = parser.OFPMatch(**dict(rule.match))
            buf = bytearray()
            match.serialize(buf, 0)
            assert dict(parser.OFPMatch.parser(bytes(buf), 0).items()) == dict(rule.match)


def test_a_changed_port_changes_only_its_switch():
    policy = load_policy_text(FULL)
    changed = load_policy_text(
        FULL.replace(
            '2: {native_vlan: green, max_hosts: 4}', '2: {native_vlan: green, max_hosts: 5}'
        )
    )
    assert policy != changed
    assert [name for name in policy.dps if policy.dps[name] != changed.dps[name]] == ['s1']
    assert policy.acls == changed.acls and policy.vlans == changed.vlans
    # Layout, comments and key order are not part of a policy.
    moved = load_policy_text(
        '# a comment\n\n'
        + FULL.replace(
            'red: {vid: 100, description: tenant red, max_hosts: 50}',
            'red: {max_hosts: 50, description: tenant red, vid: 100}',
        )
    )
    assert moved == policy and hash(moved) == hash(policy)


def test_model_is_immutable():
    policy = load_policy_text(FULL)
    try:
        policy.dps['s1'].interfaces[1].native_vlan = GREEN
    except AttributeError:
        pass
    else:
        raise AssertionError('Interface is mutable')
    assert not hasattr(policy.dps, '__setitem__')


def test_three_tenant_example_has_its_documented_port_plan():
    policy = load_policy(os.path.join(EXAMPLES, 'three_tenants.yaml'))
    vlans = policy.vlans
    assert {name: vlan.vid for name, vlan in vlans.items()} == {
        'red': 100,
        'green': 200,
        'blue': 300,
    }
    assert {dp.name: dp.dp_id for dp in policy.dps.values()} == {'s1': 1, 's2': 2, 's3': 3}
    all_three = (vlans['red'], vlans['green'], vlans['blue'])
    trunks = {'s1': [5], 's2': [5, 6], 's3': [6]}
    for name, dp in policy.dps.items():
        assert [p for p, i in dp.interfaces.items() if i.tagged_vlans == all_three] == trunks[name]
        access = [p for p, i in dp.interfaces.items() if i.native_vlan and not i.tagged_vlans]
        tagged_hosts = [
            p for p, i in dp.interfaces.items() if i.tagged_vlans and p not in trunks[name]
        ]
        assert (access, tagged_hosts) == ([1, 2], [3])
    mirror = policy.dps['s1'].interfaces[4]
    assert mirror.mirror == (1,) and mirror.vlans == ()
    assert policy.dps['s1'].interfaces[1].acls_in == ('red-h1-h5-no-http',)
    assert policy.dps['s2'].interfaces[1].acls_in == ('red-h1-h5-no-http',)
    deny, deny_back, allow = policy.acls['red-h1-h5-no-http']
    assert dict(deny.match) == {
        'eth_type': 0x800,
        'ip_proto': 6,
        'ipv4_src': '10.1.0.1',
        'ipv4_dst': '10.1.0.5',
        'tcp_dst': 80,
    }
    assert dict(deny_back.match)['ipv4_src'] == '10.1.0.5'
    assert not deny.actions.allow and not deny_back.actions.allow
    assert allow.match == {} and allow.actions.allow


def test_faucet_style_example_loads_unchanged():
    policy = load_policy(os.path.join(EXAMPLES, 'faucet_style.yaml'))
    assert sorted(policy.dps) == ['sw1', 'sw2'] and policy.rule_count == 10
    sw1 = policy.dps['sw1']
    assert sw1.dp_id == 1 and sw1.interfaces[1].name == 'alice'
    assert sw1.interfaces[5].mirror == (4,) and sw1.interfaces[5].output_only  # by name
    assert policy.vlans['office'].acls_in == ('office-vlan-protect',)
    ra_guard = policy.acls['access-port-protect'][2]
    assert dict(ra_guard.match) == {'eth_type': 0x86DD, 'ip_proto': 58, 'icmpv6_type': 134}
    assert ra_guard.actions == Actions(allow=False)
    ping = policy.acls['guest-protect'][0]
    assert ping.actions == Actions(allow=False, mirror=5)


def test_faucet_variants_load():
    """What FAUCET's documentation allows besides the common form: switches and VLANs
    keyed by number, the deprecated acl_in, allow given as 1/0, dp_id as a hex string,
    version 2, YAML anchors and merge keys."""
    policy = load_policy_text(
        textwrap.dedent('''\
        version: 2
        vlans:
          100: {description: office}
        acls:
          copy-all:
            - rule: {actions: {mirror: 3}}
        dps:
          0x1f:
            interfaces:
              1: &access {native_vlan: 100, acl_in: copy-all}
              2: {<<: *access, description: second}
              3: {description: logger}
          named:
            dp_id: '0x20'
            interfaces: {7: {native_vlan: 100}}
        ''')
    )
    office = Vlan('100', 100, description='office')
    assert policy.vlans == {'100': office}
    assert policy.dps['31'].dp_id == 0x1F and policy.dps['named'].dp_id == 0x20
    ports = policy.dps['31'].interfaces
    assert ports[1] == Interface(1, '1', native_vlan=office, acls_in=('copy-all',))
    assert ports[2] == Interface(
        2, '2', description='second', native_vlan=office, acls_in=('copy-all',)
    )
    # A rule that mirrors and says nothing of allow is allowed, as in FAUCET.
    assert policy.acls['copy-all'][0].actions == Actions(allow=True, mirror=3)
    assert policy.dps['named'].interfaces[7].native_vlan == office


def test_round_trip_through_yaml():
    policy = load_policy_text(FULL)
    again = load_policy_text(yaml.safe_dump(policy.to_data()))
    assert again == policy
