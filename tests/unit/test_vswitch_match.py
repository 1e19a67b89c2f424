"""ACL match fields: values normalised to what OFPMatch takes, and OpenFlow prerequisites
completed where they are implied, refused where they contradict or are ambiguous."""

import pytest

from controller.config import ConfigError
from controller.vswitch import load_policy_text

POLICY = '''\
dps: {sw1: {dp_id: 1, interfaces: {1: {native_vlan: 100}}}}
acls:
  a:
    - rule: {%s, actions: {allow: true}}
'''


def match_of(fields):
    """The model match of one rule written as ``fields`` (YAML flow-mapping entries)."""
    return dict(load_policy_text(POLICY % fields).acls['a'][0].match)


def error_of(fields):
    """The one error of that rule: (path, message); its line is the rule's, 4."""
    with pytest.raises(ConfigError) as caught:
        load_policy_text(POLICY % fields, 'acl.yaml')
    [error] = caught.value.errors
    assert (error.file, error.line) == ('acl.yaml', 4)
    return error.path, error.message


# --- prerequisites ----------------------------------------------------------------------


@pytest.mark.parametrize(
    'fields, completed',
    [
        # A transport field implies its IP protocol; an address implies its EtherType.
        ('eth_type: 0x800, tcp_dst: 80', {'eth_type': 0x800, 'ip_proto': 6, 'tcp_dst': 80}),
        ('dl_type: 0x86dd, udp_src: 53', {'eth_type': 0x86DD, 'ip_proto': 17, 'udp_src': 53}),
        ('ipv4_dst: 10.0.0.1', {'eth_type': 0x800, 'ipv4_dst': '10.0.0.1'}),
        (
            'ipv6_src: "2001:db8::1", tcp_src: 22',
            {'eth_type': 0x86DD, 'ipv6_src': '2001:db8::1', 'ip_proto': 6, 'tcp_src': 22},
        ),
        # ICMP says both.
        ('icmpv4_type: 8', {'eth_type': 0x800, 'ip_proto': 1, 'icmpv4_type': 8}),
        (
            'icmpv6_type: 135, icmpv6_code: 0',
            {'eth_type': 0x86DD, 'ip_proto': 58, 'icmpv6_type': 135, 'icmpv6_code': 0},
        ),
        # What is written in full stays as it is (every FAUCET file).
        (
            'dl_type: 0x800, nw_proto: 6, tcp_dst: 25',
            {'eth_type': 0x800, 'ip_proto': 6, 'tcp_dst': 25},
        ),
        ('eth_type: 0x800, ip_proto: 1', {'eth_type': 0x800, 'ip_proto': 1}),
        # Fields without prerequisites add nothing.
        ('eth_type: 0x806', {'eth_type': 0x806}),
        ('vlan_vid: 10, in_port: 2', {'vlan_vid': 0x1000 | 10, 'in_port': 2}),
    ],
)
def test_implied_prerequisites_are_completed(fields, completed):
    assert match_of(fields) == completed


@pytest.mark.parametrize(
    'fields, path, message',
    [
        (
            'dl_type: 0x800, ip_proto: 17, tcp_dst: 80',
            'acls.a.0.rule.tcp_dst',
            'tcp_dst matches TCP only (ip_proto 6), but this rule has ip_proto 17 (UDP)',
        ),
        (
            'eth_type: 0x800, tcp_dst: 80, udp_dst: 53',
            'acls.a.0.rule.udp_dst',
            'udp_dst matches UDP only (ip_proto 17), but this rule has ip_proto 6 (TCP), '
            'implied by tcp_dst',
        ),
        (
            'eth_type: 0x86dd, ipv4_src: 10.0.0.0/8',
            'acls.a.0.rule.ipv4_src',
            'ipv4_src matches IPv4 only (eth_type 0x0800), '
            'but this rule has eth_type 0x86dd (IPv6)',
        ),
        (
            'ipv4_src: 10.0.0.1, ipv6_dst: "::1"',
            'acls.a.0.rule.ipv6_dst',
            'ipv6_dst matches IPv6 only (eth_type 0x86dd), but this rule has eth_type 0x0800 '
            '(IPv4), implied by ipv4_src',
        ),
        (
            'icmpv4_type: 8, ip_proto: 58, eth_type: 0x800',
            'acls.a.0.rule.icmpv4_type',
            'icmpv4_type matches ICMP only (ip_proto 1), but this rule has ip_proto 58 (ICMPv6)',
        ),
        (
            'eth_type: 0x806, tcp_dst: 80',
            'acls.a.0.rule.tcp_dst',
            'tcp_dst needs IP (eth_type 0x0800 or 0x86dd), but this rule has eth_type 0x0806',
        ),
        # IPv4 or IPv6? Completing to IPv4 would let TCP 80 over IPv6 through a deny rule.
        (
            'tcp_dst: 80',
            'acls.a.0.rule.tcp_dst',
            'tcp_dst matches IP traffic but does not say IPv4 or IPv6: add eth_type: 0x800 (IPv4) '
            'or eth_type: 0x86dd (IPv6), or write one rule for each',
        ),
        (
            'nw_proto: 6',
            'acls.a.0.rule.nw_proto',
            'nw_proto matches IP traffic but does not say IPv4 or IPv6',
        ),
        (
            'dl_type: 0x800, eth_type: 0x800',
            'acls.a.0.rule.eth_type',
            'dl_type and eth_type are the same field; give it once',
        ),
    ],
)
def test_contradictory_or_ambiguous_prerequisites_are_errors(fields, path, message):
    found_path, found = error_of(fields)
    assert found_path == path and found.startswith(message)


# --- values -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    'fields, field, value',
    [
        # MACs: lower case, colons, masks as (address, mask); a full mask is no mask.
        ('eth_src: 0E-00-00-00-00-0A', 'eth_src', '0e:00:00:00:00:0a'),
        (
            'eth_dst: "01:00:00:00:00:00/01:00:00:00:00:00"',
            'eth_dst',
            ('01:00:00:00:00:00', '01:00:00:00:00:00'),
        ),
        ('eth_dst: "0e:00:00:00:00:01/ff:ff:ff:ff:ff:ff"', 'eth_dst', '0e:00:00:00:00:01'),
        # Unquoted, YAML 1.1 reads this as a base-60 integer; what was written counts.
        ('eth_src: 12:34:56:12:34:56', 'eth_src', '12:34:56:12:34:56'),
        # Numbers in decimal or hex, as ints or strings.
        ('eth_type: "0x0806"', 'eth_type', 0x806),
        ('eth_type: 2054', 'eth_type', 0x806),
        ('in_port: "0x10"', 'in_port', 16),
        ('vlan_vid: 4094', 'vlan_vid', 0x1000 | 4094),
        # Prefixes: /len or /mask; a host is a plain address.
        ('ipv4_src: 10.0.0.0/24', 'ipv4_src', ('10.0.0.0', '255.255.255.0')),
        ('ipv4_src: 10.0.0.0/255.255.0.0', 'ipv4_src', ('10.0.0.0', '255.255.0.0')),
        ('ipv4_src: 10.0.0.7/32', 'ipv4_src', '10.0.0.7'),
        ('ipv4_src: 0.0.0.0/0', 'ipv4_src', ('0.0.0.0', '0.0.0.0')),
        ('ipv6_dst: "2001:DB8:0::/32"', 'ipv6_dst', ('2001:db8::', 'ffff:ffff::')),
        ('ipv6_dst: "fe80::1"', 'ipv6_dst', 'fe80::1'),
        # Transport ports, optionally value/mask.
        ('eth_type: 0x800, tcp_dst: "0x400/0xfc00"', 'tcp_dst', (0x400, 0xFC00)),
        ('eth_type: 0x800, udp_dst: "53/0xffff"', 'udp_dst', 53),
        ('eth_type: 0x800, tcp_src: 0', 'tcp_src', 0),
        ('eth_type: 0x800, udp_src: 65535', 'udp_src', 65535),
    ],
)
def test_values_are_normalised(fields, field, value):
    assert match_of(fields)[field] == value


@pytest.mark.parametrize(
    'fields, path, message',
    [
        (
            'ipv4_src: 10.0.0.1/24',
            'acls.a.0.rule.ipv4_src',
            '10.0.0.1/24 has host bits set: write 10.0.0.0/24 for the network or 10.0.0.1 for the '
            'one host',
        ),
        (
            'ipv4_dst: 10.0.0.0/33',
            'acls.a.0.rule.ipv4_dst',
            "expected an IPv4 address or prefix like 10.0.0.0/24 (or /255.255.255.0); got "
            "'10.0.0.0/33'",
        ),
        (
            'ipv4_dst: 10.0.0.0/255.0.255.0',
            'acls.a.0.rule.ipv4_dst',
            '10.0.0.0/255.0.255.0: the mask /255.0.255.0 is not contiguous; only prefixes are '
            'taken',
        ),
        ('ipv4_dst: 10.0.256.0', 'acls.a.0.rule.ipv4_dst', 'expected an IPv4 address'),
        ('ipv4_dst: "2001:db8::1"', 'acls.a.0.rule.ipv4_dst', 'expected an IPv4 address'),
        (
            'ipv6_src: "2001:db8::1/64"',
            'acls.a.0.rule.ipv6_src',
            '2001:db8::1/64 has host bits set',
        ),
        ('ipv6_src: "fe80::1%eth0"', 'acls.a.0.rule.ipv6_src', 'expected an IPv6 address'),
        (
            'eth_src: 0e:00:00:00:00',
            'acls.a.0.rule.eth_src',
            "expected a MAC address like 0e:00:00:00:00:01, optionally /mask; got '0e:00:00:00:00'",
        ),
        (
            'eth_dst: "01:00:00:00:00:01/01:00:00:00:00:00"',
            'acls.a.0.rule.eth_dst',
            'has bits set outside its mask',
        ),
        (
            'eth_type: 0x800, tcp_dst: 65536',
            'acls.a.0.rule.tcp_dst',
            '65536 is out of range; expected a port 0..65535, optionally value/mask',
        ),
        (
            'eth_type: 0x800, tcp_dst: http',
            'acls.a.0.rule.tcp_dst',
            "expected a port 0..65535, optionally value/mask; got the string 'http'",
        ),
        (
            'eth_type: 0x800, tcp_dst: "0x401/0xfc00"',
            'acls.a.0.rule.tcp_dst',
            "'0x401/0xfc00' has bits set outside its mask",
        ),
        ('eth_type: 0x10000', 'acls.a.0.rule.eth_type', '65536 is out of range'),
        ('eth_type: "0x"', 'acls.a.0.rule.eth_type', "got the string '0x'"),
        ('vlan_vid: 0', 'acls.a.0.rule.vlan_vid', '0 is out of range; expected a VID 1..4094'),
        ('in_port: 0', 'acls.a.0.rule.in_port', '0 is out of range'),
        ('ip_proto: true', 'acls.a.0.rule.ip_proto', 'got the boolean true'),
    ],
)
def test_bad_values_are_errors(fields, path, message):
    found_path, found = error_of(fields)
    assert found_path == path and message in found
