"""FAUCET's own ways of writing a policy, which FAUCET 1.10.12 accepts and so must we
(issue 15): rules with and without the '- rule:' wrapper, VLANs used by VID without a
'vlans' entry or with an empty body, ports named in ACL actions, any FAUCET hardware
name; and what FAUCET refuses, refused too (a switch whose ports reference no VLAN)."""

import textwrap

import pytest

from controller.config import ConfigError
from controller.vswitch import load_policy_text
from controller.vswitch.pipeline import PORT_ACL, VLAN, compile_datapath
from controller.vswitch.switch import PolicySwitch
from tests.harness.fakes import FakeDatapath


def load(text):
    return load_policy_text(textwrap.dedent(text), 'faucet.yaml')


def errors(text):
    with pytest.raises(ConfigError) as caught:
        load(text)
    return [(e.line, e.path, e.message) for e in caught.value.errors]


def test_three_spellings_of_a_rule_are_the_same_rule():
    policy = load('''
        acls:
          wrapped:
            - rule: {dl_type: 0x800, actions: {allow: 1}}
          bare:
            - {dl_type: 0x800, actions: {allow: 1}}
          beside:
            - rule:
              dl_type: 0x800
              actions: {allow: 1}
        dps:
          s1: {dp_id: 1, interfaces: {1: {native_vlan: 100, acls_in: [wrapped]}}}
    ''')
    wrapped, bare, beside = (policy.acls[name] for name in ('wrapped', 'bare', 'beside'))
    assert wrapped == bare == beside
    assert dict(wrapped[0].match) == {'eth_type': 0x800} and wrapped[0].actions.allow


def test_bare_rule_errors_point_at_its_fields():
    found = errors('''
        acls:
          bare:
            - {dl_type: 0x800, colour: red, actions: {allow: 1}}
            - rule: {actions: {allow: 1}}
              actions: {allow: 0}
        dps:
          s1: {dp_id: 1, interfaces: {1: {native_vlan: 100, acls_in: [bare]}}}
    ''')
    assert [(line, path) for line, path, _ in found] == [
        (4, 'acls.bare.0.colour'),
        (6, 'acls.bare.1.actions'),  # beside a full 'rule:', FAUCET would ignore it
    ]
    assert "unknown key 'colour'" in found[0][2]
    assert "unknown key 'actions'; expected one of rule" in found[1][2]


def test_vlan_by_number_without_an_entry_is_created():
    policy = load('''
        vlans:
          office: {vid: 100}
        dps:
          s1:
            dp_id: 1
            interfaces:
              1: {native_vlan: office}
              2: {native_vlan: 200}
              3: {tagged_vlans: [100, 300]}
    ''')
    assert {name: vlan.vid for name, vlan in policy.vlans.items()} == {
        'office': 100,
        '200': 200,
        '300': 300,
    }
    ports = policy.dps['s1'].interfaces
    assert ports[2].native_vlan.vid == 200
    assert [v.name for v in ports[3].tagged_vlans] == ['office', '300']
    # the same VID used on two switches is one VLAN
    again = load('''
        dps:
          s1: {dp_id: 1, interfaces: {1: {native_vlan: 200}}}
          s2: {dp_id: 2, interfaces: {1: {tagged_vlans: [200]}}}
    ''')
    assert len(again.vlans) == 1
    assert (
        again.dps['s1'].interfaces[1].native_vlan is again.dps['s2'].interfaces[1].tagged_vlans[0]
    )


def test_vlan_by_name_must_exist_and_a_quoted_vid_is_a_name():
    found = errors('''
        dps:
          s1: {dp_id: 1, interfaces: {1: {native_vlan: office}, 2: {native_vlan: '300'}}}
    ''')
    assert [path for _, path, _ in found] == [
        'dps.s1.interfaces.1.native_vlan',
        'dps.s1.interfaces.2.native_vlan',
    ]
    assert all('unknown VLAN' in message for _, _, message in found)


def test_vlan_keyed_by_vid_may_have_an_empty_body_one_keyed_by_name_may_not():
    policy = load('''
        vlans:
          100:
        dps:
          s1: {dp_id: 1, interfaces: {1: {native_vlan: 100}}}
    ''')
    assert policy.vlans['100'].vid == 100
    found = errors('''
        vlans:
          office:
        dps:
          s1: {dp_id: 1, interfaces: {1: {native_vlan: office}}}
    ''')
    assert found[0][:2] == (3, 'vlans.office') and "missing key 'vid'" in found[0][2]


POLICY_WITH_NAMES = '''
    acls:
      to-ids:
        - rule:
            dl_type: 0x800
            actions: {allow: 1, mirror: ids, output: {port: uplink}}
    dps:
      s1:
        dp_id: 1
        interfaces:
          1: {name: host, native_vlan: 100, acls_in: [to-ids]}
          2: {name: uplink, native_vlan: 100}
          3: {name: ids, output_only: true}
      s2:
        dp_id: 2
        interfaces:
          7: {name: uplink, native_vlan: 100}
          8: {name: ids, output_only: true}
          9: {name: host, native_vlan: 100, acls_in: [to-ids]}
'''


def test_ports_named_in_acl_actions_resolve_per_switch():
    policy = load(POLICY_WITH_NAMES)
    rule = policy.acls['to-ids'][0]
    assert (rule.actions.mirror, rule.actions.output) == ('ids', (('output', 'uplink'),))
    for dp_name, in_port, mirror, uplink in (('s1', 1, 3, 2), ('s2', 9, 8, 7)):
        dp = policy.dps[dp_name]
        [flow] = [
            r
            for r in compile_datapath(policy, dp)
            if r.table == PORT_ACL and r.match_dict() == {'in_port': in_port, 'eth_type': 0x800}
        ]
        assert flow.instructions == (
            ('apply', (('output', mirror), ('output', uplink))),
            ('goto', VLAN),
        )


def test_a_port_name_missing_on_one_switch_is_an_error_there():
    found = errors(POLICY_WITH_NAMES.replace('8: {name: ids,', '8: {name: sensor,'))
    assert len(found) == 1
    line, path, message = found[0]
    assert (line, path) == (6, 'acls.to-ids.0.rule.actions.mirror')
    assert message.startswith("port ids does not exist on dp s2, where ACL 'to-ids' is applied")
    assert 'its ports: 7 (uplink), 8 (sensor), 9 (host)' in message


@pytest.mark.parametrize('hardware', ['GenericTFM', 'Allied-Telesis', 'NoviFlow', 'ZodiacFX'])
def test_any_faucet_hardware_name_gets_the_ovs_pipeline(hardware):
    text = '''
        dps:
          s1: {dp_id: 1, hardware: %s, interfaces: {1: {native_vlan: 100}}}
    '''
    policy = load(text % hardware)
    ovs = load(text % "'Open vSwitch'")
    assert policy.dps['s1'].hardware == hardware
    assert compile_datapath(policy, policy.dps['s1']) == compile_datapath(ovs, ovs.dps['s1'])
    sw = PolicySwitch.of(FakeDatapath(1), policy)
    assert sw.hardware_note == (
        " (hardware '%s': driven with the Open vSwitch pipeline)" % hardware
    )
    assert PolicySwitch.of(FakeDatapath(1), ovs).hardware_note == ''
    assert load(text % hardware).to_data()['dps']['s1']['hardware'] == hardware


def test_a_switch_referencing_no_vlan_is_refused_as_faucet_does():
    found = errors('''
        dps:
          s1: {dp_id: 1, interfaces: {1: {description: spare}, 2: {mirror: 1}}}
    ''')
    assert found == [
        (
            3,
            'dps.s1.interfaces',
            'no VLANs referenced by interfaces in s1: a switch needs a port with a '
            'native_vlan or tagged_vlans (or an output_only port), as in FAUCET',
        )
    ]
    # an output_only port is enough, as in FAUCET
    load('''
        vlans: {office: {vid: 100}}
        dps:
          s1: {dp_id: 1, interfaces: {1: {native_vlan: office}}}
          s2: {dp_id: 2, interfaces: {1: {output_only: true}}}
    ''')
