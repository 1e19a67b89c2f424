"""controller/vswitch/pipeline.py: the pipeline a policy compiles to, and the smallest
reload diff."""

import textwrap

from controller.flowspec import diff
from controller.vswitch import load_policy_text
from controller.vswitch.pipeline import (
    ETH_DST,
    ETH_SRC,
    PORT_ACL,
    VLAN,
    VLAN_ACL,
    compile_datapath,
    egress_actions,
    flood_actions,
    learned_rules,
    port_plans,
    stale_learning,
)

POLICY = textwrap.dedent('''
    vlans:
      red: {vid: 100}
      green: {vid: 200, acls_in: [no-telnet]}
    acls:
      no-http:
        - rule: {dl_type: 0x800, ip_proto: 6, tcp_dst: 80, actions: {allow: 0}}
        - rule: {actions: {allow: 1}}
      no-telnet:
        - rule: {dl_type: 0x800, ip_proto: 6, tcp_dst: 23, actions: {allow: 0}}
        - rule: {actions: {allow: 1}}
    dps:
      s1:
        dp_id: 1
        interfaces:
          1: {native_vlan: red, acls_in: [no-http]}
          2: {native_vlan: green}
          3: {tagged_vlans: [red, green]}
          4: {mirror: 1}
''')


def compiled(text=POLICY):
    policy = load_policy_text(text, 'test.yaml')
    dp = policy.dps['s1']
    return policy, dp, compile_datapath(policy, dp)


def rules_in(rules, table):
    return sorted((r for r in rules if r.table == table), reverse=True)


def test_access_ports_push_their_vlan_and_trunks_accept_listed_vids_only():
    _, _, rules = compiled()
    vlan = {
        (
            r.match_dict().get('in_port'),
            r.match_dict().get('vlan_vid'),
            r.match_dict().get('eth_type'),
        ): r.instructions
        for r in rules_in(rules, VLAN)
    }
    # port 1 is mirrored to 4: the copy of what it accepts, as received (untagged)
    assert vlan[(1, 0x0000, None)] == (
        ('apply', (('output', 4), ('push_vlan', 0x8100), ('set_field', 'vlan_vid', 0x1064))),
        ('goto', VLAN_ACL),
    )
    assert vlan[(2, 0x0000, None)] == (
        ('apply', (('push_vlan', 0x8100), ('set_field', 'vlan_vid', 0x10C8))),
        ('goto', VLAN_ACL),
    )
    assert vlan[(3, 0x1064, None)] == (('goto', VLAN_ACL),)
    assert vlan[(3, 0x10C8, None)] == (('goto', VLAN_ACL),)
    assert vlan[(3, 0x1064, 0x8100)] == ()  # double tag: drop
    assert (1, 0x1064, None) not in vlan  # tagged frames on access: miss
    assert (3, 0x1000 | 300, None) not in vlan  # unlisted VID on a trunk: miss


def test_port_acl_in_order_with_implicit_deny():
    _, _, rules = compiled()
    acl = [r for r in rules_in(rules, PORT_ACL) if r.match_dict().get('in_port') == 1]
    assert [r.priority for r in acl] == [30000, 29999, 29998]
    http, rest, deny = acl
    assert http.match_dict() == {'in_port': 1, 'eth_type': 0x800, 'ip_proto': 6, 'tcp_dst': 80}
    # Mirror copies are made in the VLAN table, of what the port accepts (FAUCET: a
    # frame the port drops is not mirrored); the ACL's own drops copy nothing.
    assert http.instructions == ()
    assert rest.instructions == (('goto', VLAN),)
    assert deny.instructions == ()


def test_only_frames_the_port_accepts_are_mirrored():
    _, _, rules = compiled()
    copying = {
        (r.table, r.match_dict().get('in_port'), r.match_dict().get('vlan_vid'))
        for r in rules
        if r.table in (PORT_ACL, VLAN)
        and any(
            action == ('output', 4)
            for kind, *body in r.instructions
            if kind == 'apply'
            for action in body[0]
        )
    }
    # only port 1's untagged frame, accepted into VLAN red; not a tagged one (dropped)
    assert copying == {(VLAN, 1, 0x0000)}


def test_vlan_acl_applies_to_its_vlan_only():
    _, _, rules = compiled()
    vlan_acl = rules_in(rules, VLAN_ACL)
    assert {r.match_dict().get('vlan_vid') for r in vlan_acl} == {0x10C8, None}
    telnet = vlan_acl[0]
    assert telnet.match_dict()['tcp_dst'] == 23 and telnet.instructions == ()


def test_floods_stay_in_the_vlan_trunks_tagged_access_untagged_mirrored():
    policy, dp, rules = compiled()
    plans = port_plans(policy, dp)
    assert flood_actions(plans, 100, 3) == (('pop_vlan',), ('output', 1), ('output', 4))
    assert flood_actions(plans, 100, 1) == (('output', 3),)
    assert flood_actions(plans, 200, 2) == (('output', 3),)
    floods = {
        (r.match_dict()['vlan_vid'], r.match_dict()['in_port']) for r in rules_in(rules, ETH_DST)
    }
    assert floods == {(0x1064, 1), (0x1064, 3), (0x10C8, 2), (0x10C8, 3)}


def test_learned_rules_egress():
    policy, dp, _ = compiled()
    plans = port_plans(policy, dp)
    src, dst = learned_rules(plans[1], 100, '02:00:00:00:00:01', 300, 225)
    assert src.table == ETH_SRC and src.hard_timeout == 225
    assert dst.instructions == (('apply', egress_actions(plans[1], 100)),)
    assert egress_actions(plans[1], 100) == (('pop_vlan',), ('output', 1), ('output', 4))
    assert egress_actions(plans[3], 100) == (('output', 3),)


def test_one_port_change_is_a_small_diff_and_forgets_only_that_port():
    policy, dp, before = compiled()
    moved = POLICY.replace('2: {native_vlan: green}', '2: {native_vlan: red}')
    policy2, dp2, after = compiled(moved)
    change = diff(before, after)
    assert 0 < len(change) < len(before) / 2
    touched = {r.match_dict().get('in_port') for r in change.add + change.delete}
    assert touched <= {1, 2, 3, None}
    assert stale_learning(port_plans(policy, dp), port_plans(policy2, dp2)) == {(2, 200)}
    assert not diff(before, compiled()[2])
