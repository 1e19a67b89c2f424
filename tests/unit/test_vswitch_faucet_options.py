"""FAUCET's switch options that vswitch_policy implements (issue 15), on the compiler's
output and on a FakeDatapath: packetin_pps / slowpath_pps (OpenFlow 1.3's controller
and slow-path meters, changed by reload only when they change), ignore_learn_ins,
combinatorial_port_flood, ofchannel_log, and the dp-level lldp_beacon."""

import textwrap

import pytest
from ryu.ofproto import ofproto_v1_3 as ofp
from ryu.ofproto import ofproto_v1_3_parser as parser

from controller.config import ConfigError
from controller.vswitch import load_policy_text
from controller.vswitch.pipeline import ETH_DST, compile_datapath
from controller.vswitch.switch import PolicySwitch
from tests.harness.fakes import FakeDatapath
from tests.unit.test_vswitch_switch import SETTINGS, tagged_frame

# FAUCET's own unit tests' switch (clib/valve_test_lib.py's DP1_CONFIG), in our words.
POLICY = textwrap.dedent('''
    dps:
      s1:
        dp_id: 1
        hardware: GenericTFM
        combinatorial_port_flood: true
        ignore_learn_ins: 3
        ofchannel_log: %(log)s
        packetin_pps: 99
        slowpath_pps: 50
        lldp_beacon: {send_interval: 1, max_per_interval: 1}
        interfaces:
          1: {native_vlan: 100}
          2: {native_vlan: 100}
          3: {tagged_vlans: [100]}
''')


def load(text):
    return load_policy_text(text, 'faucet.yaml')


@pytest.fixture
def policy_text(tmp_path):
    return POLICY % {'log': tmp_path / 'ofchannel.log'}


def test_the_options_load_and_round_trip(policy_text):
    policy = load(policy_text)
    dp = policy.dps['s1']
    assert (dp.ignore_learn_ins, dp.packetin_pps, dp.slowpath_pps) == (3, 99, 50)
    assert dp.combinatorial_port_flood is True
    assert dict(dp.lldp_beacon) == {'send_interval': 1, 'max_per_interval': 1}
    import yaml

    assert load(yaml.safe_dump(policy.to_data())) == policy


def meter_mods(messages):
    return [
        (m.command, m.meter_id, [b.rate for b in m.bands])
        for m in messages
        if isinstance(m, parser.OFPMeterMod)
    ]


def test_packet_in_and_slow_path_meters_on_connect(policy_text):
    sw = PolicySwitch.of(FakeDatapath(1), load(policy_text))
    assert meter_mods(sw.install()) == [
        (ofp.OFPMC_DELETE, ofp.OFPM_CONTROLLER, []),
        (ofp.OFPMC_DELETE, ofp.OFPM_SLOWPATH, []),
        (ofp.OFPMC_ADD, ofp.OFPM_CONTROLLER, [99]),
        (ofp.OFPMC_ADD, ofp.OFPM_SLOWPATH, [50]),
    ]
    [meter] = [m for m in sw.install() if isinstance(m, parser.OFPMeterMod)][2:3]
    assert meter.flags == ofp.OFPMF_PKTPS


def test_reload_changes_a_meter_only_when_its_rate_changes(policy_text):
    sw = PolicySwitch.of(FakeDatapath(1), load(policy_text))
    assert meter_mods(sw.apply(load(policy_text)).messages) == []
    faster = policy_text.replace('packetin_pps: 99', 'packetin_pps: 200')
    assert meter_mods(sw.apply(load(faster)).messages) == [
        (ofp.OFPMC_MODIFY, ofp.OFPM_CONTROLLER, [200])
    ]
    unmetered = faster.replace('    slowpath_pps: 50\n', '')
    assert meter_mods(sw.apply(load(unmetered)).messages) == [
        (ofp.OFPMC_DELETE, ofp.OFPM_SLOWPATH, [])
    ]
    again = unmetered.replace('packetin_pps: 200', 'packetin_pps: 200\n    slowpath_pps: 7')
    assert meter_mods(sw.apply(load(again)).messages) == [(ofp.OFPMC_ADD, ofp.OFPM_SLOWPATH, [7])]


def test_ignore_learn_ins_skips_every_nth_packet_in_of_a_second(policy_text):
    sw = PolicySwitch.of(FakeDatapath(1), load(policy_text))
    learned = [
        sw.learn(1, tagged_frame('0e:00:00:00:00:%02x' % i, 100), SETTINGS, now=10.0 + i / 10)
        is not None
        for i in range(1, 8)
    ]  # packet-ins 1..7 in second 10 (the 3rd and 6th ignored)...
    assert learned == [True, True, False, True, True, False, True]
    # ...and counting starts again each second
    assert sw.learn(1, tagged_frame('0e:00:00:00:01:01', 100), SETTINGS, now=11.0) is not None
    none = PolicySwitch.of(
        FakeDatapath(1), load(policy_text.replace('ignore_learn_ins: 3', 'ignore_learn_ins: 0'))
    )
    assert all(
        none.learn(1, tagged_frame('0e:00:00:00:02:%02x' % i, 100), SETTINGS, now=5.0)
        for i in range(1, 10)
    )


def test_combinatorial_port_flood_off_is_one_flood_rule_per_vlan(policy_text):
    per_port = load(policy_text)
    per_vlan = load(
        policy_text.replace('combinatorial_port_flood: true', 'combinatorial_port_flood: false')
    )
    floods = {
        name: sorted(
            (
                (r.match_dict(), r.instructions)
                for r in compile_datapath(policy, policy.dps['s1'])
                if r.table == ETH_DST
            ),
            key=repr,
        )
        for name, policy in (('per_port', per_port), ('per_vlan', per_vlan))
    }
    assert [match for match, _ in floods['per_port']] == [
        {'in_port': 1, 'vlan_vid': 0x1064},
        {'in_port': 2, 'vlan_vid': 0x1064},
        {'in_port': 3, 'vlan_vid': 0x1064},
    ]
    # one rule, out of every port of the VLAN: OpenFlow does not send back out of
    # the in_port, so each port floods to the others as before
    assert floods['per_vlan'] == [
        (
            {'vlan_vid': 0x1064},
            (('apply', (('output', 3), ('pop_vlan',), ('output', 1), ('output', 2))),),
        )
    ]


def test_ofchannel_log_gets_what_is_sent_and_received(policy_text, tmp_path):
    sw = PolicySwitch.of(FakeDatapath(1), load(policy_text))
    sent = sw.install()
    sw.learn(1, tagged_frame('0e:00:00:00:00:01', 100), SETTINGS, now=1.0)
    for handler in sw.channel.handlers:
        handler.flush()
    lines = (tmp_path / 'ofchannel.log').read_text().splitlines()
    assert len(lines) == len(sent) + 1 + 2  # the install, the packet-in, the two learned rules
    assert ' sent ' in lines[0] and 'OFPFlowMod(' in lines[0]
    assert 'OFPMeterMod(' in lines[1]
    assert 'received packet-in port 1 ffffffffffff0e0000000001' in lines[len(sent)]


@pytest.mark.parametrize(
    'option, path, message',
    [
        ('packetin_pps: -1', 'dps.s1.packetin_pps', '-1 is out of range'),
        ('ignore_learn_ins: yes', 'dps.s1.ignore_learn_ins', 'got the boolean true'),
        (
            'lldp_beacon: {send_interval: 0}',
            'dps.s1.lldp_beacon.send_interval',
            '0 is out of range',
        ),
        ('lldp_beacon: {colour: red}', 'dps.s1.lldp_beacon.colour', "unknown key 'colour'"),
        (
            'combinatorial_port_flood: 1',
            'dps.s1.combinatorial_port_flood',
            'expected true or false',
        ),
    ],
)
def test_bad_values_are_errors_at_their_place(option, path, message):
    text = 'dps:\n  s1:\n    dp_id: 1\n    %s\n    interfaces: {1: {native_vlan: 100}}\n' % option
    with pytest.raises(ConfigError) as caught:
        load(text)
    [error] = caught.value.errors
    assert (error.line, error.path) == (4, path) and message in error.message


def test_priority_offset_shifts_every_rule_static_and_learned(policy_text):
    plain = load(policy_text)
    shifted = load(policy_text.replace('ignore_learn_ins: 3', 'priority_offset: 4321'))
    base = sorted((r.table, r.priority, r.match) for r in compile_datapath(plain, plain.dps['s1']))
    moved = sorted(
        (r.table, r.priority - 4321, r.match) for r in compile_datapath(shifted, shifted.dps['s1'])
    )
    assert moved == base
    sw = PolicySwitch.of(FakeDatapath(1), shifted)
    seen = sw.learn(1, tagged_frame('0e:00:00:00:00:01', 100), SETTINGS, now=1.0)
    assert sorted(m.priority for m in seen.messages) == [100 + 4321, 100 + 4321]
    too_far = policy_text.replace('ignore_learn_ins: 3', 'priority_offset: 35535')
    with pytest.raises(ConfigError) as caught:
        load(too_far)
    [error] = caught.value.errors
    assert error.path == 'dps.s1.priority_offset' and '0..35534' in error.message


def test_permanent_learn_pins_hosts_to_their_port(policy_text):
    from controller.learning import Learned
    from controller.vswitch.pipeline import COOKIES, PIN

    text = policy_text.replace(
        '1: {native_vlan: 100}', '1: {native_vlan: 100, permanent_learn: true}'
    )
    text = text.replace('ignore_learn_ins: 3', 'ignore_learn_ins: 0')
    sw = PolicySwitch.of(FakeDatapath(1), load(text))
    mac = '0e:00:00:00:00:01'
    seen = sw.learn(1, tagged_frame(mac, 100), SETTINGS, now=1.0)
    src, dst, pin = seen.messages
    assert (src.hard_timeout, dst.idle_timeout) == (0, 0)  # never expire
    assert dict(pin.match.items()) == {'vlan_vid': 0x1064, 'eth_src': mac}
    assert pin.instructions == [] and pin.priority == 90 < src.priority
    assert pin.cookie == COOKIES.cookie(PIN)
    # the same MAC on another port: not moved, nothing sent
    moved = sw.learn(2, tagged_frame(mac, 100), SETTINGS, now=2.0)
    assert (moved.result, moved.previous, moved.messages) == (Learned.REFUSED, 1, [])
    # a host of an ordinary port expires and moves as before
    other = sw.learn(2, tagged_frame('0e:00:00:00:00:02', 100), SETTINGS, now=3.0)
    assert len(other.messages) == 2 and other.messages[1].idle_timeout == 300
    # no longer permanent: port 1's hosts are forgotten, their pins deleted
    change = sw.apply(load(text.replace(', permanent_learn: true', '')))
    assert (1, 100) in change.forgotten
    deletes = [m for m in change.messages if getattr(m, 'cookie', None) == COOKIES.cookie(PIN)]
    assert [dict(m.match.items()) for m in deletes] == [{'vlan_vid': 0x1064, 'eth_src': mac}]
    assert sw.learn(2, tagged_frame(mac, 100), SETTINGS, now=4.0).result is Learned.NEW


@pytest.mark.parametrize('log', ['/dev/zero', '/tmp', '/no/such/dir/ofchannel.log'])
def test_ofchannel_log_must_be_a_regular_file(log):
    text = POLICY % {'log': log}
    with pytest.raises(ConfigError) as caught:
        load(text)
    [error] = caught.value.errors
    assert error.path == 'dps.s1.ofchannel_log' and 'is not a regular file' in error.message
