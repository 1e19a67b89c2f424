"""FAUCET's ACL output failover, egress ACLs (a VLAN's acls_out), force_port_vlan,
use_idle_timeout and the table layout options (issue 15): validation, and what the
compiler and the switch make of them."""

import textwrap

import pytest
import yaml
from ryu.ofproto import ofproto_v1_3 as ofp
from ryu.ofproto import ofproto_v1_3_parser as parser

from controller.config import ConfigError
from controller.ofmatch import OFPVID_PRESENT
from controller.vswitch import load_policy_text, pipeline
from controller.vswitch.egress import EGRESS, EGRESS_ACL
from controller.vswitch.model import Policy
from controller.vswitch.pipeline import (
    ACL_TOP,
    ETH_DST,
    PORT_ACL,
    compile_datapath,
    learned_rules,
    port_plans,
)
from controller.vswitch.switch import LearningSettings, PolicySwitch
from tests.harness.fakes import FakeDatapath
from tests.unit.test_vswitch_switch import tagged_frame

SETTINGS = LearningSettings.from_options(300, 0.75, 8)
V100 = OFPVID_PRESENT | 100


def load(text: str) -> Policy:
    return load_policy_text(textwrap.dedent(text), 'faucet.yaml')


def errors(text: str) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as caught:
        load(text)
    return [(e.path, e.message) for e in caught.value.errors]


def rules(policy: Policy, dp: str = 's1') -> frozenset:
    return compile_datapath(policy, policy.dps[dp])


# --- failover --------------------------------------------------------------------------

FAILOVER = '''
acls:
  protect:
    - rule:
        dl_dst: "0e:00:00:00:02:02"
        actions:
          output:
            %s
vlans:
  vlan100: {vid: 100}
dps:
  s1:
    dp_id: 1
    interfaces:
      1: {native_vlan: vlan100, acls_in: [protect]}
      2: {name: primary, native_vlan: vlan100}
      3: {native_vlan: vlan100}
'''


@pytest.mark.parametrize(
    'output',
    [
        'failover: {group_id: 1001, ports: [primary, 3]}',
        '- failover: {group_id: 1001, ports: [2, 3]}',  # FAUCET's ordered form
    ],
)
def test_failover_outputs_to_its_fast_failover_group(output):
    policy = load(FAILOVER % output)
    [acl] = [r for r in rules(policy) if r.table == PORT_ACL and r.priority == ACL_TOP]
    assert acl.match_dict() == {'in_port': 1, 'eth_dst': '0e:00:00:00:02:02'}
    assert acl.instructions == (('apply', (('group', 1001),)),)  # no allow: only the group
    sw = PolicySwitch.of(FakeDatapath(1), policy)
    assert sw.groups == {1001: (2, 3)}  # port names resolved, in live order
    [group] = [m for m in sw.install() if isinstance(m, parser.OFPGroupMod)]
    assert (group.type, group.group_id) == (ofp.OFPGT_FF, 1001)
    assert [(b.watch_port, b.actions[0].port) for b in group.buckets] == [(2, 2), (3, 3)]


def test_failover_round_trips_and_a_reload_changes_only_the_group():
    policy = load(FAILOVER % 'failover: {group_id: 7, ports: [2, 3]}')
    assert load_policy_text(yaml.safe_dump(policy.to_data()), 'again.yaml') == policy
    sw = PolicySwitch.of(FakeDatapath(1), policy)
    change = sw.apply(load(FAILOVER % 'failover: {group_id: 7, ports: [3, 2]}'))
    assert len(change) == 0  # the rule is the same; the group's buckets changed
    [group] = change.make
    assert [b.watch_port for b in group.buckets] == [3, 2]
    # a group no ACL uses any more is deleted, after the rules that used it
    change = sw.apply(load(FAILOVER % 'port: 2'))
    assert change.retire[-1].command == ofp.OFPGC_DELETE and change.retire[-1].group_id == 7


def test_failover_mistakes():
    assert errors(FAILOVER % 'failover: {group_id: 70000, ports: [2, 9]}') == [
        (
            'acls.protect.0.rule.actions.output.failover.group_id',
            '70000 is out of range; expected a group id 1..65535 (the stacking fabric '
            'numbers its groups above)',
        ),
        (
            'acls.protect.0.rule.actions.output.failover.ports.1',
            "port 9 does not exist on dp s1, where ACL 'protect' is applied to port 1; "
            'its ports: 1, 2 (primary), 3',
        ),
    ]
    assert errors(FAILOVER % 'failover: {ports: [2]}') == [
        (
            'acls.protect.0.rule.actions.output.failover',
            "missing key 'group_id' (a group id 1..65535 (the stacking fabric numbers its "
            'groups above))',
        )
    ]
    two = FAILOVER.replace(
        '      output:\n',
        '      output:\n            failover: {group_id: 5, ports: [3, 2]}\n'
        '    - rule:\n        actions:\n          output:\n',
    )
    [(path, message)] = errors(two % 'failover: {group_id: 5, ports: [2, 3]}')
    assert path == 'acls.protect.1.rule.actions.output.failover.ports'
    assert message.startswith('failover group 5 is already used over ports 3, 2 at line')


# --- egress ACLs -----------------------------------------------------------------------

EGRESS_POLICY = '''
acls:
  no_udp_9999:
    - rule: {dl_type: 0x800, ip_proto: 17, udp_dst: 9999, actions: {allow: 0}}
    - rule: {actions: {allow: 1}}
vlans:
  office: {vid: 100, %s: %s}
  guest: {vid: 200}
dps:
  s1:
    dp_id: 1
    interfaces:
      1: {native_vlan: office}
      2: {native_vlan: office}
      3: {tagged_vlans: [office, guest]}
'''


def test_a_vlan_with_acls_out_is_diverted_through_its_egress_acl():
    policy = load(EGRESS_POLICY % ('acls_out', '[no_udp_9999]'))
    assert policy.vlans['office'].acls_out == ('no_udp_9999',)
    compiled = rules(policy)
    [divert] = [r for r in compiled if r.cookie == pipeline.COOKIES.cookie(pipeline.EGRESS_IN)]
    assert (divert.table, divert.match_dict(), divert.instructions) == (
        ETH_DST,
        {'vlan_vid': V100},
        (('goto', EGRESS_ACL),),
    )
    # below the router's own addresses, above learned hosts and floods
    assert pipeline.PRIO_LEARNED < divert.priority < pipeline.PRIO_VIP
    band = sorted((r for r in compiled if r.table == EGRESS_ACL), key=lambda r: -r.priority)
    assert [(r.match_dict(), r.instructions) for r in band] == [
        ({'vlan_vid': V100, 'eth_type': 0x800, 'ip_proto': 17, 'udp_dst': 9999}, ()),
        ({'vlan_vid': V100}, (('goto', EGRESS),)),
        ({'vlan_vid': V100}, ()),  # FAUCET's implicit deny
    ]
    # office's floods are in EGRESS, guest's stay in ETH_DST
    floods = {
        (r.table, r.match_dict()['vlan_vid'])
        for r in compiled
        if r.cookie == pipeline.COOKIES.cookie(pipeline.FLOOD)
    }
    assert floods == {(EGRESS, V100), (ETH_DST, OFPVID_PRESENT | 200)}
    # and so are its learned hosts
    plans = port_plans(policy, policy.dps['s1'])
    assert plans[1].egress_acl_vids == (100,) and plans[3].egress_acl_vids == (100,)
    src, dst = learned_rules(plans[3], 100, '0e:00:00:00:00:03', 300, 225)
    assert (src.table, dst.table) == (pipeline.ETH_SRC, EGRESS)
    assert learned_rules(plans[3], 200, '0e:00:00:00:00:03', 300, 225)[1].table == ETH_DST


def test_acl_out_is_acls_out_and_both_are_an_error():
    assert load(EGRESS_POLICY % ('acl_out', 'no_udp_9999')) == load(
        EGRESS_POLICY % ('acls_out', '[no_udp_9999]')
    )
    text = EGRESS_POLICY.replace('office: {vid: 100,', 'office: {vid: 100, acl_out: x,')
    assert errors(text % ('acls_out', '[no_udp_9999]')) == [
        ('vlans.office.acl_out', 'acl_out and acls_out both given; use acls_out')
    ]
    assert errors(EGRESS_POLICY % ('acls_out', '[nope]')) == [
        ('vlans.office.acls_out.0', "unknown ACL 'nope'; defined ACLs: no_udp_9999")
    ]


def test_egress_acls_coming_and_going_forget_that_vlans_hosts():
    sw = PolicySwitch.of(FakeDatapath(1), load(EGRESS_POLICY % ('description', 'plain')))
    sw.learn(1, tagged_frame('0e:00:00:00:00:01', 100), SETTINGS)
    sw.learn(3, tagged_frame('0e:00:00:00:00:33', 200), SETTINGS)
    change = sw.apply(load(EGRESS_POLICY % ('acls_out', '[no_udp_9999]')))
    # office's hosts (their rules move to EGRESS) are forgotten; guest's stay
    assert change.forgotten == [(1, 100), (2, 100), (3, 100)]
    assert '0e:00:00:00:00:33' in sw.hosts[200]
    assert sw.learn(1, tagged_frame('0e:00:00:00:00:01', 100), SETTINGS).messages[1].table_id == (
        EGRESS
    )


# --- force_port_vlan -------------------------------------------------------------------

FORCE = '''
acls:
  translate:
    - rule:
        actions:
          allow: 1
          force_port_vlan: %s
          output:
            swap_vid: 101
vlans:
  guest: {vid: 100}
  other: {vid: 101}
dps:
  sw1:
    dp_id: 0x1
    %s
    interfaces:
      1: {tagged_vlans: [100], acl_in: translate}
      2: {native_vlan: 101}
      3: {native_vlan: 101}
'''


def test_force_port_vlan_forwards_the_rewritten_packet_past_vlan_checks():
    policy = load(FORCE % (1, ''))
    compiled = rules(policy, 'sw1')
    [acl] = [r for r in compiled if r.table == PORT_ACL and r.priority == ACL_TOP]
    assert acl.instructions == (
        ('apply', (('set_field', 'vlan_vid', OFPVID_PRESENT | 101),)),
        ('goto', ETH_DST),  # not VLAN: port 1 does not carry VLAN 101
    )
    # port 1 is no member of VLAN 101: its flood from any port, below the per-port ones
    [any_port] = [
        r
        for r in compiled
        if r.table == ETH_DST
        and r.priority == pipeline.PRIO_FLOOD_ANY_PORT
        and r.match_dict() == {'vlan_vid': OFPVID_PRESENT | 101}
    ]
    assert any_port.instructions == (('apply', (('pop_vlan',), ('output', 2), ('output', 3))),)


def test_without_force_port_vlan_rewriting_for_a_port_and_allowing_stays_refused():
    with_port = FORCE.replace('swap_vid: 101', 'swap_vid: 101\n            port: 2')
    [(path, message)] = errors(with_port % (0, ''))
    assert path == 'acls.translate.0.rule.actions.output'
    assert message.startswith(
        'a rule that rewrites the packet for an output port cannot also allow'
    )
    # and no flood from any port where nothing is forced
    plain = load(FORCE.replace('output:\n            swap_vid: 101', 'mirror: 3') % (0, ''))
    assert not [r for r in rules(plain, 'sw1') if r.priority == pipeline.PRIO_FLOOD_ANY_PORT]


# --- use_idle_timeout ------------------------------------------------------------------

IDLE = '''
vlans:
  office: {vid: 100}
dps:
  s1:
    dp_id: 1
    use_idle_timeout: %s
    interfaces:
      1: {native_vlan: office}
      2: {native_vlan: office}
'''


def test_use_idle_timeout_learns_with_idle_source_rules_that_report_their_removal():
    sw = PolicySwitch.of(FakeDatapath(1), load(IDLE % 'true'))
    seen = sw.learn(1, tagged_frame('0e:00:00:00:00:01', 100), SETTINGS)
    src, dst = seen.messages
    assert (src.idle_timeout, src.hard_timeout, src.flags) == (225, 0, ofp.OFPFF_SEND_FLOW_REM)
    assert (dst.idle_timeout, dst.hard_timeout, dst.flags) == (0, 0, 0)
    # the source went idle: the host is forgotten and its destination rule deleted
    match = {'in_port': 1, 'vlan_vid': V100, 'eth_src': '0e:00:00:00:00:01'}
    mac, vid, [delete] = sw.source_expired(match)
    assert (mac, vid) == ('0e:00:00:00:00:01', 100)
    assert '0e:00:00:00:00:01' not in sw.hosts[100]
    assert delete.command == ofp.OFPFC_DELETE and dict(delete.match.items()) == {
        'vlan_vid': V100,
        'eth_dst': '0e:00:00:00:00:01',
    }
    assert (delete.cookie, delete.cookie_mask) == pipeline.COOKIES.rules_of_kind(pipeline.LEARN_DST)
    assert sw.source_expired(match) is None  # forgotten already
    assert sw.source_expired({'in_port': 'x'}) is None  # not what we installed


def test_a_host_that_moved_is_not_forgotten_by_its_old_source_rule():
    sw = PolicySwitch.of(FakeDatapath(1), load(IDLE % 'true'))
    sw.learn(1, tagged_frame('0e:00:00:00:00:01', 100), SETTINGS)
    sw.learn(2, tagged_frame('0e:00:00:00:00:01', 100), SETTINGS)
    match = {'in_port': 1, 'vlan_vid': V100, 'eth_src': '0e:00:00:00:00:01'}
    assert sw.source_expired(match) is None
    assert sw.hosts[100].lookup('0e:00:00:00:00:01') == 2


def test_without_use_idle_timeout_sources_are_relearned_on_a_hard_timeout():
    sw = PolicySwitch.of(FakeDatapath(1), load(IDLE % 'false'))
    src, dst = sw.learn(1, tagged_frame('0e:00:00:00:00:01', 100), SETTINGS).messages
    assert (src.idle_timeout, src.hard_timeout, src.flags) == (0, 225, 0)
    assert (dst.idle_timeout, dst.flags) == (300, 0)


# --- the table layout options ----------------------------------------------------------

LAYOUT = '''
vlans:
  office: {vid: 100}
dps:
  s1:
    dp_id: 1
    %s
    interfaces:
      1: {native_vlan: office}
'''


def test_layout_options_are_kept_noted_and_change_no_rule():
    plain = load(LAYOUT % '')
    options = (
        'egress_pipeline: true\n    use_classification: true\n    group_table: true\n'
        '    table_sizes: {eth_src: 999, flood: 10}'
    )
    laid_out = load(LAYOUT % options)
    assert rules(laid_out) == rules(plain)
    assert dict(laid_out.dps['s1'].layout) == {
        'egress_pipeline': True,
        'use_classification': True,
        'group_table': True,
        'table_sizes': {'eth_src': 999, 'flood': 10},
    }
    assert load_policy_text(yaml.safe_dump(laid_out.to_data()), 'again.yaml') == laid_out
    note = PolicySwitch.of(FakeDatapath(1), laid_out).hardware_note
    assert note == (
        " (FAUCET's table layout options egress_pipeline, group_table, table_sizes, "
        'use_classification: the Open vSwitch pipeline delivers the same)'
    )
    assert PolicySwitch.of(FakeDatapath(1), plain).hardware_note == ''
    # false is FAUCET's default: nothing to note
    assert not load(LAYOUT % 'egress_pipeline: false').dps['s1'].layout


def test_layout_option_mistakes():
    found = errors(LAYOUT % 'table_sizes: {eth_srcc: 1, vlan: x}')
    assert [path for path, _ in found] == [
        'dps.s1.table_sizes.eth_srcc',
        'dps.s1.table_sizes.vlan',
    ]
    assert found[0][1].startswith("unknown key 'eth_srcc'; expected one of port_acl, vlan,")
    # as FAUCET: a flood group per VLAN cannot be a flood rule per in_port
    assert errors(LAYOUT % 'group_table: true\n    combinatorial_port_flood: true') == [
        (
            'dps.s1.group_table',
            'group_table and combinatorial_port_flood: true cannot be combined (as in '
            'FAUCET: a flood group per VLAN floods to all its ports)',
        )
    ]


# --- egress ACLs across a stacking fabric ----------------------------------------------

STACK = '''
acls:
  guard:
    - rule: {actions: {allow: 1}}
vlans:
  red: {vid: 100 %s}
dps:
  s1:
    dp_id: 1
    stack: {priority: 1}
    interfaces:
      1: {native_vlan: red}
      4: {stack: {dp: s2, port: 5}}
  s2:
    dp_id: 2
    interfaces:
      1: {native_vlan: red}
      5: {stack: {dp: s1, port: 4}}
'''


def test_hosts_across_the_fabric_are_forwarded_after_the_egress_acl():
    mac = '0e:00:00:00:00:22'
    s1 = PolicySwitch.of(FakeDatapath(1), load(STACK % ''))
    [plain] = s1.remote_host(100, mac, 2, 300)
    assert plain.table_id == ETH_DST
    # the VLAN gains egress ACLs: the host's rule moves to EGRESS, the old one goes
    change = s1.apply(load(STACK % ', acls_out: [guard]'))
    [moved] = change.reroute
    assert (moved.table_id, dict(moved.match.items())) == (
        EGRESS,
        {'vlan_vid': V100, 'eth_dst': mac},
    )
    gone = [
        dict(m.match.items())
        for m in change.retire
        if m.command == ofp.OFPFC_DELETE_STRICT and m.table_id == ETH_DST and 'eth_dst' in m.match
    ]
    assert gone == [{'vlan_vid': V100, 'eth_dst': mac}]
    # the stack port's frames skip learning as before; its floods are in EGRESS now
    floods = [
        r
        for r in rules(load(STACK % ', acls_out: [guard]'))
        if r.match_dict().get('in_port') == 4
        and r.cookie == pipeline.COOKIES.cookie(pipeline.FLOOD)
    ]
    assert [r.table for r in floods] == [EGRESS]
