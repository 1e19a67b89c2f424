"""Malformed policies: each error names the file, the line (and column), the key path and
what was expected; all errors of a file come in one pass, sorted by line."""

import pytest

from controller.config import ConfigError, yaml_source
from controller.vswitch import load_policy

# Line numbers of BASE, which the cases below change in place:
#  1 vlans   4 acls   6 rule 0 of web    8 dps    10 dp_id       12-14 ports 1-3
BASE = '''\
vlans:
  office: {vid: 100}
  guest: {vid: 200}
acls:
  web:
    - rule: {eth_type: 0x800, tcp_dst: 80, actions: {allow: false}}
    - rule: {actions: {allow: true}}
dps:
  sw1:
    dp_id: 1
    interfaces:
      1: {native_vlan: office, acls_in: [web]}
      2: {native_vlan: guest}
      3: {tagged_vlans: [office, guest]}
'''
PORT_3 = '      3: {tagged_vlans: [office, guest]}'
SW2 = '  sw2:\n    dp_id: 2\n    interfaces:\n      1: {native_vlan: office}\n'


def errors(tmp_path, text):
    path = tmp_path / 'policy.yaml'
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_policy(str(path))
    for error in caught.value.errors:
        assert error.file == str(path)
    return caught.value.errors


def one_error(tmp_path, text):
    found = errors(tmp_path, text)
    assert len(found) == 1, '\n'.join(map(str, found))
    return found[0]


CASES = {
    'unknown key': (
        BASE.replace(PORT_3, '      3: {tagged_vlans: [office], colour: red}'),
        14,
        'dps.sw1.interfaces.3.colour',
        "unknown key 'colour'; expected one of number, name, description, native_vlan, "
        "tagged_vlans, acls_in, acl_in, mirror, max_hosts, enabled, output_only",
    ),
    'FAUCET option refused by name': (
        BASE.replace(PORT_3, '      3: {tagged_vlans: [office], dot1x: true}'),
        14,
        'dps.sw1.interfaces.3.dot1x',
        "FAUCET option 'dot1x' is not supported by this suite",
    ),
    'FAUCET router option': (
        BASE.replace('{vid: 100}', "{vid: 100, faucet_vips: ['10.0.0.254/24']}")
        + 'routers:\n  office-guest: {vlans: [office], bgp: {as: 1}}\n',
        16,
        'routers.office-guest.bgp',
        "FAUCET option 'bgp' is not supported by this suite",
    ),
    'FAUCET VLAN option': (
        BASE.replace('guest: {vid: 200}', 'guest: {vid: 200, unicast_flood: false}'),
        3,
        'vlans.guest.unicast_flood',
        "FAUCET option 'unicast_flood' is not supported by this suite",
    ),
    'VID 0': (
        BASE.replace('{vid: 100}', '{vid: 0}'),
        2,
        'vlans.office.vid',
        '0 is out of range; expected a VID, an integer 1..4094',
    ),
    'VID 4095': (
        BASE.replace('{vid: 100}', '{vid: 4095}'),
        2,
        'vlans.office.vid',
        '4095 is out of range; expected a VID, an integer 1..4094',
    ),
    'VID abc': (
        BASE.replace('{vid: 100}', '{vid: abc}'),
        2,
        'vlans.office.vid',
        "expected a VID, an integer 1..4094; got the string 'abc'",
    ),
    'VID used twice': (
        BASE.replace('{vid: 200}', '{vid: 100}'),
        3,
        'vlans.guest.vid',
        "VID 100 is already used by VLAN 'office' (line 2)",
    ),
    'bad CIDR': (
        BASE.replace('tcp_dst: 80,', 'tcp_dst: 80, ipv4_dst: 10.0.0.0/33,'),
        6,
        'acls.web.0.rule.ipv4_dst',
        'expected an IPv4 address or prefix',
    ),
    'host bits': (
        BASE.replace('tcp_dst: 80,', 'tcp_dst: 80, ipv4_dst: 10.0.0.1/24,'),
        6,
        'acls.web.0.rule.ipv4_dst',
        '10.0.0.1/24 has host bits set',
    ),
    'missing ACL': (
        BASE.replace('acls_in: [web]', 'acls_in: [wbe]'),
        12,
        'dps.sw1.interfaces.1.acls_in.0',
        "unknown ACL 'wbe'; defined ACLs: web",
    ),
    'missing VLAN': (
        BASE.replace('1: {native_vlan: office', '1: {native_vlan: offce'),
        12,
        'dps.sw1.interfaces.1.native_vlan',
        "unknown VLAN 'offce'; defined VLANs: office, guest",
    ),
    'missing VLAN by a quoted VID': (
        BASE.replace(PORT_3, "      3: {tagged_vlans: [office, '300']}"),
        14,
        'dps.sw1.interfaces.3.tagged_vlans.1',
        "unknown VLAN '300'",
    ),
    'implicit VLAN out of range': (
        BASE.replace(PORT_3, '      3: {tagged_vlans: [office, 4095]}'),
        14,
        'dps.sw1.interfaces.3.tagged_vlans.1',
        '4095 is out of range; expected a VID, an integer 1..4094',
    ),
    'switch referencing no VLAN': (
        BASE + SW2.replace('{native_vlan: office}', '{description: spare}'),
        17,
        'dps.sw2.interfaces',
        'no VLANs referenced by interfaces in sw2',
    ),
    'duplicate dp_id': (
        BASE + SW2.replace('dp_id: 2', 'dp_id: 0x1'),
        16,
        'dps.sw2.dp_id',
        'dp_id 1 (0x1) is already used by dps.sw1 (line 9)',
    ),
    'missing dp_id': (
        BASE.replace('    dp_id: 1\n', ''),
        9,
        'dps.sw1',
        "missing key 'dp_id' (the switch's datapath id, like 0x1)",
    ),
    'unknown port name in an ACL': (
        BASE.replace('actions: {allow: true}', 'actions: {output: {port: three}}'),
        7,
        'acls.web.1.rule.actions.output.port',
        "port three does not exist on dp sw1, where ACL 'web' is applied to port 1; "
        'its ports: 1, 2, 3',
    ),
    'port in an ACL neither number nor name': (
        BASE.replace('actions: {allow: true}', 'actions: {output: {port: [3]}}'),
        7,
        'acls.web.1.rule.actions.output.port',
        'expected a port number 1..0xffffff00, 0xfffffff8 (IN_PORT) or an interface name; '
        'got a list',
    ),
    'interface keyed by a name without a number': (
        BASE.replace('      2: {native_vlan', '      eth2: {native_vlan'),
        13,
        'dps.sw1.interfaces.eth2',
        "interface 'eth2' has no port number: key it by its number, or add number: <port>",
    ),
    'port out of range': (
        BASE.replace('      2: {native_vlan', '      0: {native_vlan'),
        13,
        'dps.sw1.interfaces.0',
        'port 0 is out of range',
    ),
    'YAML syntax error': (
        BASE.replace('2: {native_vlan: guest}', '2: {native_vlan: guest}}'),
        13,
        '',
        "YAML syntax error: expected <block end>, but found '}'",
    ),
    'duplicate YAML key': (
        BASE.replace('1: {native_vlan: office,', '1: {native_vlan: office, native_vlan: guest,'),
        12,
        'dps.sw1.interfaces.1.native_vlan',
        "duplicate key 'native_vlan' (first at line 12); YAML would silently keep only "
        "the last one",
    ),
    'duplicate switch': (
        BASE + SW2.replace('sw2', 'sw1'),
        15,
        'dps.sw1',
        "duplicate key 'sw1' (first at line 9)",
    ),
    'native and tagged': (
        BASE.replace(PORT_3, '      3: {native_vlan: guest, tagged_vlans: [office, guest]}'),
        14,
        'dps.sw1.interfaces.3.tagged_vlans.1',
        "VLAN 'guest' is this port's native_vlan too; a port carries a VLAN either untagged "
        "(native_vlan) or tagged, not both",
    ),
    'mirror loop': (
        BASE + '      4: {mirror: 5}\n      5: {mirror: 4}\n',
        15,
        'dps.sw1.interfaces.4.mirror',
        'mirror loop: port 4 mirrors port 5, which mirrors port 4',
    ),
    'mirror of itself': (
        BASE + '      4: {mirror: [1, 4]}\n',
        15,
        'dps.sw1.interfaces.4.mirror.1',
        'a port cannot mirror itself',
    ),
    'mirror of a mirror port': (
        BASE + '      4: {mirror: 5}\n      5: {mirror: 1}\n',
        15,
        'dps.sw1.interfaces.4.mirror',
        'port 5 is itself a mirror port (it mirrors port 1); a mirror port cannot be mirrored',
    ),
    'mirror of a missing port': (
        BASE + '      4: {mirror: 9}\n',
        15,
        'dps.sw1.interfaces.4.mirror',
        'port 9 does not exist on dp sw1; its ports: 1, 2, 3, 4',
    ),
    'mirror of port 1.5': (
        BASE + '      4: {mirror: 1.5}\n',
        15,
        'dps.sw1.interfaces.4.mirror',
        'expected the port (number or name) or list of ports to mirror; got the number 1.5',
    ),
    'mirror by an unknown name': (
        BASE + '      4: {mirror: printer}\n',
        15,
        'dps.sw1.interfaces.4.mirror',
        "no interface named 'printer' on dp sw1; its interfaces: 1, 2, 3, 4",
    ),
    'mirror port in a VLAN': (
        BASE + '      4: {mirror: 1, native_vlan: office}\n',
        15,
        'dps.sw1.interfaces.4.native_vlan',
        'port 4 is a mirror port, which carries no VLAN traffic: native_vlan does not apply',
    ),
    'ACL mirror to a missing port': (
        BASE.replace('actions: {allow: true}', 'actions: {allow: true, mirror: 7}'),
        7,
        'acls.web.1.rule.actions.mirror',
        "port 7 does not exist on dp sw1, where ACL 'web' is applied to port 1; its ports: 1, 2, 3",
    ),
    'tcp_dst with ip_proto 17': (
        BASE.replace('tcp_dst: 80,', 'ip_proto: 17, tcp_dst: 80,'),
        6,
        'acls.web.0.rule.tcp_dst',
        'tcp_dst matches TCP only (ip_proto 6), but this rule has ip_proto 17 (UDP)',
    ),
    'empty ACL': (
        BASE.replace('acls:\n', 'acls:\n  nothing: []\n'),
        5,
        'acls.nothing',
        "empty list; expected a list of '- rule:' entries (an ACL needs at least one rule)",
    ),
    'empty actions': (
        BASE.replace('actions: {allow: true}', 'actions: {}'),
        7,
        'acls.web.1.rule.actions',
        'empty mapping; expected actions (allow, mirror, meter, output)',
    ),
    'max_hosts 0': (
        BASE.replace('2: {native_vlan: guest}', '2: {native_vlan: guest, max_hosts: 0}'),
        13,
        'dps.sw1.interfaces.2.max_hosts',
        '0 is out of range; expected a positive integer (the most hosts learned)',
    ),
    'hardware FAUCET does not know': (
        BASE.replace('    dp_id: 1\n', '    dp_id: 1\n    hardware: Allied Telesis\n'),
        11,
        'dps.sw1.hardware',
        "expected one of FAUCET's hardware names (Generic, GenericTFM, Allied-Telesis, ",
    ),
    'empty file': (
        '',
        1,
        '',
        "the file is empty; expected a mapping with 'dps', 'vlans' and 'acls'",
    ),
    'comments only': ('# nothing yet\n', 1, '', 'the file is empty'),
    'top level not a mapping': (
        '- dps\n- vlans\n',
        1,
        '',
        "expected a mapping with 'dps', 'vlans' and 'acls'; got a list",
    ),
    'no switches': (
        'vlans: {office: {vid: 100}}\n',
        1,
        '',
        "missing key 'dps' (a mapping of switch name -> switch settings)",
    ),
}


@pytest.mark.parametrize('case', sorted(CASES))
def test_malformed_policy(tmp_path, case):
    text, line, path, message = CASES[case]
    error = one_error(tmp_path, text)
    assert (error.line, error.path) == (line, path), str(error)
    assert message in error.message
    assert str(error).startswith('%s:%d' % (error.file, line))


def test_message_format_names_file_line_column_path(tmp_path):
    error = one_error(tmp_path, BASE.replace('1: {native_vlan: office', '1: {native_vlan: offce'))
    assert str(error) == (
        "%s:12:24: dps.sw1.interfaces.1.native_vlan: unknown VLAN 'offce'; "
        "defined VLANs: office, guest" % (tmp_path / 'policy.yaml')
    )
    assert error.column == 24


def test_every_error_in_one_pass_sorted_by_line(tmp_path):
    text = (
        BASE.replace('{vid: 200}', '{vid: 4095}')
        .replace('tcp_dst: 80,', 'tcp_dst: 80, ipv4_src: 10.0.0.1/8,')
        .replace('acls_in: [web]', 'acls_in: [web, nope]')
        .replace(PORT_3, '      3: {tagged_vlans: [office], dot1x: true}')
    )
    found = errors(tmp_path, text)
    assert [(e.line, e.path) for e in found] == [
        (3, 'vlans.guest.vid'),
        (6, 'acls.web.0.rule.ipv4_src'),
        (12, 'dps.sw1.interfaces.1.acls_in.1'),
        (14, 'dps.sw1.interfaces.3.dot1x'),
    ]


def test_one_mistake_gives_one_message(tmp_path):
    """A VLAN with a bad VID is still a defined VLAN: the ports that use it do not add
    'unknown VLAN' errors, and a port with a wrong key is still a port."""
    text = (
        BASE.replace('{vid: 100}', '{vid: -1}').replace(
            PORT_3, '      3: {tagged_vlans: [office], hairpin_unicast: true}'
        )
        + '      4: {mirror: 3}\n'
    )
    assert [(e.line, e.path) for e in errors(tmp_path, text)] == [
        (2, 'vlans.office.vid'),
        (14, 'dps.sw1.interfaces.3.hairpin_unicast'),
    ]


def test_not_utf8(tmp_path):
    path = tmp_path / 'policy.yaml'
    path.write_bytes(BASE.encode().replace(b'guest}', b'g\xfcest}', 1))
    with pytest.raises(ConfigError) as caught:
        load_policy(str(path))
    [error] = caught.value.errors
    assert (error.line, error.message) == (13, 'not UTF-8 text (byte 0xfc)')


def test_unreadable_file_is_a_policy_error(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_policy(str(tmp_path / 'missing.yaml'))
    [error] = caught.value.errors
    assert error.line is None and 'cannot read the file' in error.message


def test_a_port_defined_twice(tmp_path):
    error = one_error(tmp_path, BASE + '      eth3: {number: 3}\n')
    assert (error.line, error.path) == (15, 'dps.sw1.interfaces.eth3')
    assert error.message == 'port 3 is already defined by interfaces.3 (line 14)'


@pytest.mark.parametrize(
    'text, line, message',
    [
        ('dps: &x {a: *x}\n', 1, 'an alias that contains itself'),
        ('dps: &x {<<: *x}\n', 1, 'a merge (<<) of a mapping into itself'),
        (
            'dps: ' + '[' * 5000 + ']' * 5000 + '\n',
            1,
            'lists or mappings are nested too deeply to read',
        ),
        ('vlans:\n  a: {vid: !!int ten}\n', 2, "YAML: 'ten' is not a valid !!int"),
        (
            'dps: !!python/object/apply:os.system [echo]\n',
            1,
            'YAML: the tag !!python/object/apply:os.system is not supported here',
        ),
        (
            'dps:\n  s: !!python/name:os.system x\n',
            2,
            "could not determine a constructor for the tag '!!python/name:os.system'",
        ),
        ('dps: {s: "\x07"}\n', 1, 'not YAML: character #x0007 is not allowed'),
    ],
)
def test_hostile_yaml(tmp_path, text, line, message):
    found = errors(tmp_path, text)
    assert any(e.line == line and message in e.message for e in found), '\n'.join(map(str, found))


def test_alias_bombs_are_cut_short(tmp_path, monkeypatch):
    monkeypatch.setattr(yaml_source, 'MAX_NODES', 1000)
    lines = ['a0: &a0 [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]']
    lines += ['a%d: &a%d [%s]' % (i, i, ', '.join(['*a%d' % (i - 1)] * 10)) for i in range(1, 6)]
    error = one_error(tmp_path, '\n'.join(lines) + '\n')
    assert error.message == 'the file expands to more than 1000 values through its aliases'
