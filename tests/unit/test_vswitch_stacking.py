"""FAUCET's stacking in vswitch_policy: the syntax and its validation (loader.py), the
fabric (fabric.py: links, root, flood tree, stable routes), the compiled rules of stack
ports (pipeline.py) and what a switch does with hosts of other switches and with a
fabric change, make before break (switch.py)."""

import textwrap

import pytest
from ryu.ofproto import ofproto_v1_3 as ofp
from ryu.ofproto import ofproto_v1_3_parser as parser

from controller import openflow as of
from controller.config import ConfigError
from controller.stable.pipeline import failover_group_id
from controller.stable.sft import Route, check_sft
from controller.vswitch import load_policy_text, pipeline
from controller.vswitch.fabric import Fabric
from controller.vswitch.pipeline import ETH_DST, ETH_SRC, VLAN, compile_datapath
from controller.vswitch.switch import PolicySwitch
from tests.harness.fakes import FakeDatapath

# A ring of four switches (topologies/ring.py n=4, 3 hosts each): si port 4 -> s(i+1)
# port 5; s1 is the root.
RING = textwrap.dedent('''\
    vlans:
      red: {vid: 100}
      green: {vid: 200}
    dps:
      s1:
        dp_id: 1
        stack: {priority: 1}
        interfaces:
          1: {native_vlan: red}
          4: {stack: {dp: s2, port: 5}}
          5: {stack: {dp: s4, port: 4}}
      s2:
        dp_id: 2
        interfaces:
          1: {native_vlan: red}
          2: {native_vlan: green}
          4: {stack: {dp: s3, port: 5}}
          5: {stack: {dp: s1, port: 4}}
      s3:
        dp_id: 3
        interfaces:
          1: {native_vlan: red}
          4: {stack: {dp: s4, port: 5}}
          5: {stack: {dp: s2, port: 4}}
      s4:
        dp_id: 4
        interfaces:
          1: {native_vlan: red}
          4: {stack: {dp: s1, port: 5}}
          5: {stack: {dp: s3, port: 4}}
''')
S3_S4 = ('      4: {stack: {dp: s4, port: 5}}\n', '      5: {stack: {dp: s3, port: 4}}\n')


def load(text=RING):
    return load_policy_text(text, 'ring.yaml')


def messages_of(text):
    with pytest.raises(ConfigError) as caught:
        load(text)
    return [(e.line, e.path, e.message) for e in caught.value.errors]


# --- syntax and validation -------------------------------------------------------------


def test_faucet_stacking_loads_with_links_resolved_on_both_ends():
    policy = load()
    assert policy.dps['s1'].stack_priority == 1 and policy.dps['s2'].stack_priority is None
    assert policy.dps['s1'].stack_ports == {4: ('s2', 5), 5: ('s4', 4)}
    assert policy.dps['s3'].stack_ports == {4: ('s4', 5), 5: ('s2', 4)}
    assert load(yaml_of(policy)) == policy  # to_data writes stack back in FAUCET's form


def yaml_of(policy):
    import yaml

    return yaml.safe_dump(policy.to_data())


def test_peers_named_by_dp_id_and_interface_name():
    text = RING.replace('{dp: s2, port: 5}', '{dp: 2, port: up}').replace(
        '      5: {stack: {dp: s1, port: 4}}',
        '      5: {name: up, stack: {dp: s1, port: 4}}',
    )
    assert load(text).dps['s1'].stack_ports[4] == ('s2', 5)


def test_a_link_declared_on_one_end_only():
    text = RING.replace(S3_S4[1], '      5: {native_vlan: red}\n')
    assert messages_of(text) == [
        (
            23,
            'dps.s3.interfaces.4.stack',
            'stack link to s4 port 5 is declared on one end only: s4 port 5 is not a stack '
            'port (as in FAUCET, both ends of a link declare it)',
        )
    ]


def test_ends_that_disagree():
    text = RING.replace('4: {stack: {dp: s4, port: 5}}', '4: {stack: {dp: s4, port: 1}}')
    found = messages_of(text)
    assert [(line, path) for line, path, _ in found] == [
        (23, 'dps.s3.interfaces.4.stack'),
        (30, 'dps.s4.interfaces.5.stack'),
    ]
    assert 's4 port 1 is not a stack port' in found[0][2]
    assert 's3 port 4 is stacked to s4 port 1' in found[1][2]


def test_no_root():
    found = messages_of(RING.replace('    stack: {priority: 1}\n', '', 1))
    assert found == [
        (
            9,
            'dps.s1.interfaces.4.stack',
            'stacking enabled but no root: give one switch stack: {priority: 1} (the lowest '
            'priority is the root, as in FAUCET)',
        )
    ]


def test_unknown_peers_and_bad_priorities():
    text = (
        RING.replace('{dp: s2, port: 5}', '{dp: s9, port: 5}')
        .replace('{dp: s1, port: 5}', '{dp: s1, port: 7}')
        .replace('priority: 1', 'priority: 0')
    )
    found = messages_of(text)
    assert (7, 'dps.s1.stack.priority') in [(line, path) for line, path, _ in found]
    assert any(
        path == 'dps.s1.interfaces.4.stack.dp' and "unknown switch 's9'" in message
        for _, path, message in found
    )
    assert any(
        path == 'dps.s4.interfaces.4.stack.port' and 'port 7 does not exist on dp s1' in message
        for _, path, message in found
    )


def test_a_stack_port_carries_no_vlan_options_and_min_stack_health_is_a_float():
    text = RING.replace(
        '4: {stack: {dp: s2, port: 5}}', '4: {stack: {dp: s2, port: 5}, native_vlan: red}'
    ).replace('{priority: 1}', '{priority: 1, min_stack_health: 1}')
    found = messages_of(text)
    assert [(line, path) for line, path, _ in found] == [
        (7, 'dps.s1.stack.min_stack_health'),
        (10, 'dps.s1.interfaces.4.native_vlan'),
    ]
    assert 'written with a point, as FAUCET reads it; got 1' in found[0][2]
    assert 'stack port, which carries every VLAN of the stack tagged' in found[1][2]


def test_a_switch_cut_off_from_the_root():
    text = textwrap.dedent('''\
        vlans: {red: {vid: 100}}
        dps:
          a:
            dp_id: 1
            stack: {priority: 1}
            interfaces: {1: {native_vlan: red}}
          b:
            dp_id: 2
            interfaces:
              1: {native_vlan: red}
              2: {stack: {dp: c, port: 2}}
          c:
            dp_id: 3
            interfaces:
              1: {native_vlan: red}
              2: {stack: {dp: b, port: 2}}
    ''')
    assert [(line, message) for line, _, message in messages_of(text)] == [
        (11, 'b is not connected to the stack root a by stack links'),
        (16, 'c is not connected to the stack root a by stack links'),
    ]


# --- the fabric --------------------------------------------------------------------------


def test_the_fabric_of_the_ring():
    fabric = Fabric.of(load())
    assert fabric.root == 1 and fabric.vids == (100, 200)
    assert fabric.links == {(1, 4, 2, 5), (2, 4, 3, 5), (3, 4, 4, 5), (1, 5, 4, 4)}
    # a breadth-first tree from the root: s1-s2, s1-s4, then s2-s3 (s2 before s4)
    assert dict(fabric.tree) == {1: {4, 5}, 2: {4, 5}, 3: {5}, 4: {4}}
    assert not check_sft(fabric.sft, fabric.snapshot())
    # the switch opposite a destination has a loop-free backup; the neighbours do not
    assert fabric.route(1, 3) == Route(4, 5) and fabric.route(2, 1) == Route(5, None)
    assert fabric.groups(1) == {failover_group_id(4, 5): (4, 5)}


def test_the_root_is_the_lowest_priority_and_a_down_port_takes_its_link_out():
    text = RING.replace('    dp_id: 3\n', '    dp_id: 3\n    stack: {priority: 2}\n')
    assert Fabric.of(load(text)).root == 1
    text = text.replace('{priority: 1}', '{priority: 3}')
    assert Fabric.of(load(text)).root == 3
    fabric = Fabric.of(load(), down={(1, 4)})
    assert fabric.links == {(2, 4, 3, 5), (3, 4, 4, 5), (1, 5, 4, 4)}
    assert fabric.route(1, 3) == Route(5, None) and fabric.route(2, 1) == Route(4, None)
    assert dict(fabric.tree) == {1: {5}, 2: {4}, 3: {4, 5}, 4: {4, 5}}


def test_a_policy_without_stacking_has_an_empty_fabric():
    text = 'vlans: {red: {vid: 100}}\ndps: {s1: {dp_id: 1, interfaces: {1: {native_vlan: red}}}}'
    fabric = Fabric.of(load(text))
    assert fabric.switches == frozenset() and fabric.root is None and fabric.groups(1) == {}


# --- compiled rules ---------------------------------------------------------------------


def rules_of(policy, name, table, fabric=None):
    return {
        (r.priority, r.match, r.instructions)
        for r in compile_datapath(policy, policy.dps[name], fabric)
        if r.table == table
    }


def test_stack_ports_take_every_vlan_tagged_and_skip_learning():
    policy = load()
    vlan_in = rules_of(policy, 's3', VLAN)
    for port in (4, 5):
        for vid in (100, 200):  # green has no port on s3, but crosses it
            assert (
                100,
                (('in_port', port), ('vlan_vid', 0x1000 | vid)),
                (('goto', pipeline.VLAN_ACL),),
            ) in vlan_in
    assert rules_of(policy, 's3', ETH_SRC) >= {
        (50, (('in_port', 4),), (('goto', ETH_DST),)),
        (50, (('in_port', 5),), (('goto', ETH_DST),)),
    }


def test_floods_follow_the_tree():
    policy = load()
    s3 = rules_of(policy, 's3', ETH_DST)
    # s3's port 4 (to s4) is off the tree: it floods nothing, nothing is flooded to it
    assert (11, (('in_port', 4),), ()) in s3
    red = 0x1000 | 100
    assert (
        10,
        (('in_port', 1), ('vlan_vid', red)),
        (('apply', (('output', 5),)),),
    ) in s3
    assert (
        10,
        (('in_port', 5), ('vlan_vid', red)),
        (('apply', (('pop_vlan',), ('output', 1))),),
    ) in s3
    assert not any(
        ('output', 4) in actions
        for _, _, instructions in s3
        for kind, actions in instructions
        if kind == 'apply'
    )
    # s1 (the root) floods to both neighbours
    assert (
        10,
        (('in_port', 1), ('vlan_vid', red)),
        (('apply', (('output', 4), ('output', 5))),),
    ) in rules_of(policy, 's1', ETH_DST)


def test_without_combinatorial_flooding_an_off_tree_port_still_floods_nothing():
    text = RING.replace('    dp_id: 3\n', '    dp_id: 3\n    combinatorial_port_flood: false\n')
    s3 = rules_of(load(text), 's3', ETH_DST)
    assert (11, (('in_port', 4),), ()) in s3
    assert (
        10,
        (('vlan_vid', 0x1000 | 100),),
        (('apply', (('output', 5), ('pop_vlan',), ('output', 1))),),
    ) in s3


def test_remote_rule_uses_the_failover_group_or_the_port():
    protected = pipeline.remote_rule(Route(4, 5), 100, '0e:00:00:00:00:07', 300)
    assert protected.instructions == (('apply', (('group', failover_group_id(4, 5)),)),)
    assert protected.match_dict() == {'vlan_vid': 0x1000 | 100, 'eth_dst': '0e:00:00:00:00:07'}
    assert protected.idle_timeout == 300 and protected.priority == pipeline.PRIO_LEARNED
    plain = pipeline.remote_rule(Route(5, None), 100, '0e:00:00:00:00:07', 300, 7)
    assert plain.instructions == (('apply', (('output', 5),)),) and plain.priority == 107


# --- a switch of the fabric --------------------------------------------------------------


def frame_from(src, vid):
    return (
        of.mac_bytes('ff:ff:ff:ff:ff:ff')
        + of.mac_bytes(src)
        + b'\x81\x00'
        + vid.to_bytes(2, 'big')
        + b'\x08\x00'
        + bytes(46)
    )


def switch(dpid, policy=None, fabric=None):
    return PolicySwitch.of(FakeDatapath(dpid), policy or load(), fabric)


def test_connect_installs_the_failover_groups_before_the_rules():
    sw = switch(1)
    sent = sw.install()
    groups = [m for m in sent if isinstance(m, parser.OFPGroupMod)]
    assert sorted(m.group_id for m in groups) == sorted(Fabric.of(load()).groups(1))
    first_flow_add = next(
        i
        for i, m in enumerate(sent)
        if isinstance(m, parser.OFPFlowMod) and m.command == ofp.OFPFC_ADD
    )
    assert all(sent.index(m) < first_flow_add for m in groups)


def test_a_host_of_another_switch_gets_a_rule_along_the_stable_route():
    s1, s3 = switch(1), switch(3)
    mac = '0e:00:00:00:00:07'
    learned = s3.learn(1, frame_from(mac, 100), settings())
    assert learned is not None and learned.messages
    [rule] = s1.remote_host(100, mac, 3, 300)
    assert rule.table_id == ETH_DST and rule.cookie == pipeline.COOKIES.cookie(pipeline.REMOTE)
    assert rule.instructions[0].actions[0].group_id == failover_group_id(4, 5)
    assert s3.remote_host(100, mac, 3, 300) == []  # its own host
    assert s1.remote_host(300, mac, 3, 300) == []  # a VLAN the fabric does not carry


def settings():
    from controller.vswitch.switch import LearningSettings

    return LearningSettings.from_options(300, 0.75, 8)


def test_a_removed_stack_link_moves_the_remote_hosts_make_before_break():
    """s4 reaches s3's host over s3-s4; with that link gone from the policy, the new
    route (via s1) comes after the static changes, and the old link's rules and
    groups go last."""
    s4 = switch(4)
    mac = '0e:00:00:00:00:07'
    s4.remote_host(100, mac, 3, 300)
    assert s4.remote[(100, mac)][1].instructions == (('apply', (('output', 5),)),)
    removed = load(RING.replace(S3_S4[0], '').replace(S3_S4[1], ''))
    change = s4.apply(removed)
    assert s4.remote[(100, mac)][1].instructions == (('apply', (('output', 4),)),)
    assert change.make == []  # s4 gains nothing: its flood tree port is s1's
    [moved] = change.reroute
    assert moved.match.get('eth_dst') == mac and moved.instructions[0].actions[0].port == 4
    assert change.messages == change.make + change.reroute + change.retire
    retired = [m for m in change.retire if isinstance(m, parser.OFPFlowMod)]
    assert retired and all(
        m.command in (ofp.OFPFC_DELETE_STRICT, ofp.OFPFC_DELETE) for m in retired
    )
    assert any(m.match.get('in_port') == 5 for m in retired)  # the old link's VLAN-in rules
    assert 5 not in s4.plans


def test_a_stack_link_added_takes_frames_in_before_any_host_is_routed_over_it():
    """The reverse: s3-s4 comes back. s4's new VLAN-in rules for port 5 are in
    ``make``, the host moved onto port 5 in ``reroute``: the app confirms every
    switch's ``make`` (s3 taking frames in on port 4 too) before any ``reroute``."""
    removed = load(RING.replace(S3_S4[0], '').replace(S3_S4[1], ''))
    s4 = switch(4, removed)
    mac = '0e:00:00:00:00:07'
    s4.remote_host(100, mac, 3, 300)
    change = s4.apply(load())
    added = [m for m in change.make if isinstance(m, parser.OFPFlowMod)]
    assert any(m.match.get('in_port') == 5 and m.table_id == VLAN for m in added)
    [moved] = change.reroute
    assert moved.instructions[0].actions[0].port == 5
    assert not [m for m in change.retire if isinstance(m, parser.OFPFlowMod)]


def test_a_stack_port_down_reroutes_and_a_route_lost_is_deleted():
    policy = load()
    s1 = switch(1, policy)
    mac = '0e:00:00:00:00:07'
    s1.remote_host(100, mac, 3, 300)
    change = s1.apply(policy, Fabric.of(policy, down={(1, 4)}))
    assert s1.remote[(100, mac)][1].instructions == (('apply', (('output', 5),)),)
    deleted_groups = [m.group_id for m in change.retire if isinstance(m, parser.OFPGroupMod)]
    assert sorted(deleted_groups) == sorted(Fabric.of(policy).groups(1))
    # s3 cut off on both sides: its host has no route and its rule goes
    change = s1.apply(policy, Fabric.of(policy, down={(1, 4), (3, 4)}))
    assert (100, mac) not in s1.remote
    assert any(m.match.get('eth_dst') == mac for m in change.retire)
