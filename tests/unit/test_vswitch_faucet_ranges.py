"""FAUCET's interface_ranges (issue 15): settings for ranges of ports, a port's own
settings winning, errors at the range, and a bound on what a range may expand to."""

import pytest

from controller.config import ConfigError
from controller.vswitch import load_policy_text


def load(text):
    return load_policy_text(text, 'faucet.yaml')


def errors(text):
    with pytest.raises(ConfigError) as caught:
        load(text)
    return [(e.line, e.path, e.message) for e in caught.value.errors]


def test_ranges_give_ports_their_settings_and_a_ports_own_win():
    policy = load(
        'dps:\n'
        '  s1:\n'
        '    dp_id: 1\n'
        '    interface_ranges:\n'
        "      '1-3,6': {native_vlan: 100, max_hosts: 4}\n"
        "      '7': {tagged_vlans: [100, 200]}\n"
        '    interfaces:\n'
        '      2: {native_vlan: 200, description: own}\n'
    )
    ports = policy.dps['s1'].interfaces
    assert sorted(ports) == [1, 2, 3, 6, 7]
    assert [ports[p].native_vlan.vid for p in (1, 3, 6)] == [100, 100, 100]
    assert (ports[2].native_vlan.vid, ports[2].max_hosts, ports[2].description) == (200, 4, 'own')
    assert [v.vid for v in ports[7].tagged_vlans] == [100, 200]
    assert ports[6].name == '6'


@pytest.mark.parametrize(
    'ranges, path, message',
    [
        ("'4-2': {native_vlan: 100}", "dps.s1.interface_ranges.4-2", 'incorrect port range 4-2'),
        ("'a-b': {native_vlan: 100}", 'dps.s1.interface_ranges.a-b', "'a-b' is not a port range"),
        (
            "'1-3': {native_vlan: 100}\n      '3-5': {native_vlan: 100}",
            'dps.s1.interface_ranges.3-5',
            'port 3 is already in the range 1-3; ranges cannot overlap',
        ),
        (
            "'1-4294967040': {native_vlan: 100}",
            'dps.s1.interface_ranges.1-4294967040',
            'the ranges of a switch cover at most 4096 ports',
        ),
        (
            "'1-2': {native_vlan: offce}",
            'dps.s1.interface_ranges.1-2.native_vlan',
            "unknown VLAN 'offce'",
        ),
        (
            "'1-2': {number: 1, native_vlan: 100}",
            'dps.s1.interface_ranges.1-2.number',
            'no one number',
        ),
    ],
)
def test_range_mistakes_are_reported_at_the_range(ranges, path, message):
    found = errors('dps:\n  s1:\n    dp_id: 1\n    interface_ranges:\n      %s\n' % ranges)
    assert any(p == path and message in m for _, p, m in found), found


def test_a_switch_needs_interfaces_or_ranges():
    assert errors('dps:\n  s1:\n    dp_id: 1\n') == [
        (2, 'dps.s1', "missing key 'interfaces' (a mapping of port number -> interface settings)")
    ]
