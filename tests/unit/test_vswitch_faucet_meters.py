"""FAUCET's meters (an ACL action metering what it matches) and dp_acls (ACLs for
every packet a switch takes in) (issue 15): on the compiler's output and a
FakeDatapath."""

import pytest
import yaml
from ryu.ofproto import ofproto_v1_3 as ofp
from ryu.ofproto import ofproto_v1_3_parser as parser

from controller.config import ConfigError
from controller.vswitch import load_policy_text
from controller.vswitch.pipeline import PORT_ACL, VLAN, compile_datapath
from controller.vswitch.switch import PolicySwitch
from tests.harness.fakes import FakeDatapath

POLICY = '''\
meters:
  lossy:
    meter_id: 1
    entry:
      flags: KBPS
      bands: [{type: DROP, rate: 1000}]
  slow-floods:
    meter_id: 7
    entry:
      flags: [PKTPS, BURST]
      bands: [{type: DROP, rate: 10, burst_size: 5}]
acls:
  limit:
    - rule:
        eth_dst: ff:ff:ff:ff:ff:ff
        actions: {allow: 1, meter: slow-floods}
    - rule:
        dl_type: 0x800
        actions: {allow: 1, meter: lossy}
    - rule:
        actions: {allow: 1}
dps:
  s1:
    dp_id: 1
    dp_acls: [limit]
    interfaces:
      1: {native_vlan: 100}
      2: {native_vlan: 100}
      3: {output_only: true}
'''


def load(text=POLICY):
    return load_policy_text(text, 'faucet.yaml')


def test_dp_acls_apply_to_every_port_with_their_meters():
    policy = load()
    acl = sorted(
        (r for r in compile_datapath(policy, policy.dps['s1']) if r.table == PORT_ACL),
        key=lambda r: -r.priority,
    )
    by_match = {tuple(sorted(r.match_dict().items())): r.instructions for r in acl}
    assert by_match[(('eth_dst', 'ff:ff:ff:ff:ff:ff'),)] == (('meter', 7), ('goto', VLAN))
    assert by_match[(('eth_type', 0x800),)] == (('meter', 1), ('goto', VLAN))
    assert by_match[()] == (('goto', VLAN),)  # the third rule, at 29998
    assert by_match[(('in_port', 3),)] == ()  # output_only still drops, above the ACL
    assert [r.priority for r in acl][:4] == [30001, 30000, 29999, 29998]


def meter_mods(messages):
    return [
        (m.command, m.meter_id, m.flags, [(b.rate, b.burst_size) for b in m.bands])
        for m in messages
        if isinstance(m, parser.OFPMeterMod)
    ]


def test_meters_are_installed_before_the_rules_and_changed_only_when_changed():
    sw = PolicySwitch.of(FakeDatapath(1), load())
    messages = sw.install()
    assert meter_mods(messages) == [
        (ofp.OFPMC_DELETE, ofp.OFPM_CONTROLLER, 0, []),
        (ofp.OFPMC_DELETE, ofp.OFPM_SLOWPATH, 0, []),
        (ofp.OFPMC_DELETE, 1, 0, []),
        (ofp.OFPMC_DELETE, 7, 0, []),
        (ofp.OFPMC_ADD, 1, ofp.OFPMF_KBPS, [(1000, 0)]),
        (ofp.OFPMC_ADD, 7, ofp.OFPMF_PKTPS | ofp.OFPMF_BURST, [(10, 5)]),
    ]
    last_meter = max(i for i, m in enumerate(messages) if isinstance(m, parser.OFPMeterMod))
    first_add = min(
        i
        for i, m in enumerate(messages)
        if isinstance(m, parser.OFPFlowMod) and m.command == ofp.OFPFC_ADD
    )
    assert last_meter < first_add
    assert meter_mods(sw.apply(load()).messages) == []
    faster = load(POLICY.replace('rate: 1000', 'rate: 2000'))
    assert meter_mods(sw.apply(faster).messages) == [
        (ofp.OFPMC_MODIFY, 1, ofp.OFPMF_KBPS, [(2000, 0)])
    ]


def test_meters_round_trip():
    policy = load()
    assert load(yaml.safe_dump(policy.to_data())) == policy


@pytest.mark.parametrize(
    'change, path, message',
    [
        ('meter: lossy}', 'acls.limit.1.rule.actions.meter', "unknown meter 'lossless'"),
        (
            'flags: KBPS',
            'meters.lossy.entry.flags',
            "expected KBPS, PKTPS, BURST or STATS; got 'MBPS'",
        ),
        ('flags: [PKTPS, BURST]', 'meters.slow-floods.entry.flags', 'KBPS or PKTPS'),
        ('meter_id: 7', 'meters.slow-floods.meter_id', 'meter_id 1 is already used by meter lossy'),
        ('type: DROP, rate: 1000', 'meters.lossy.entry.bands.0.type', 'DROP (the band'),
        (
            '1: {native_vlan: 100}',
            'dps.s1.dp_acls',
            'dp_acls cannot be used with port ACLs (as in FAUCET): port 1 has acls_in',
        ),
    ],
)
def test_meter_and_dp_acl_mistakes(change, path, message):
    replacement = {
        'meter: lossy}': 'meter: lossless}',
        'flags: KBPS': 'flags: MBPS',
        'flags: [PKTPS, BURST]': 'flags: [PKTPS, KBPS]',
        'meter_id: 7': 'meter_id: 1',
        'type: DROP, rate: 1000': 'type: DSCP_REMARK, rate: 1000',
        '1: {native_vlan: 100}': '1: {native_vlan: 100, acls_in: [limit]}',
    }[change]
    text = POLICY.replace(change, replacement)
    with pytest.raises(ConfigError) as caught:
        load(text)
    found = [(e.path, e.message) for e in caught.value.errors]
    assert any(p == path and message in m for p, m in found), found
