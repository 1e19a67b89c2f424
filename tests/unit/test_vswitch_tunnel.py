"""FAUCET's ACL tunnels over the stack fabric (controller/vswitch/tunnel.py): the syntax
and every validation error (file line and key path), the tunnel ids chosen, and the
compiled rules of the source, transit and exit switches on a ring of four."""

import textwrap

import pytest

from controller.config import ConfigError
from controller.ofmatch import OFPVID_PRESENT
from controller.stable.pipeline import failover_group_id
from controller.vswitch import load_policy_text, tunnel
from controller.vswitch.fabric import Fabric
from controller.vswitch.pipeline import COOKIES, PORT_ACL, PRIO_TUNNEL, TUNNEL, compile_datapath
from controller.vswitch.switch import PolicySwitch
from tests.harness.fakes import FakeDatapath
from tests.unit.test_vswitch_stacking import RING, yaml_of

# h1 on s1 port 1 (red) tunnelled to s3 port 1, two switches away either way round
ACLS = textwrap.dedent('''\
    acls:
      into-tunnel:
        - rule:
            eth_type: 0x88b5
            actions:
              output:
                tunnel: {type: vlan, tunnel_id: 900, dp: s3, port: 1}
        - rule:
            actions: {allow: true}
''')
TUNNELLED = ACLS + RING.replace(
    '      1: {native_vlan: red}\n', '      1: {native_vlan: red, acls_in: [into-tunnel]}\n', 1
)
VID = OFPVID_PRESENT | 900


def load(text=TUNNELLED):
    return load_policy_text(text, 'tunnel.yaml')


def messages_of(text):
    with pytest.raises(ConfigError) as caught:
        load(text)
    return [(e.line, e.path, e.message) for e in caught.value.errors]


def with_tunnel(settings, text=TUNNELLED):
    return text.replace('{type: vlan, tunnel_id: 900, dp: s3, port: 1}', settings)


def tunnel_rules(policy, name, fabric=None, pcp=3):
    """{in_port: (match, instructions)} of switch ``name``'s tunnel rules (table 0,
    above the ACLs) for the PCP ``pcp`` (3: the way there, 4: back)."""
    dp = policy.dps[name]
    return {
        dict(rule.match)['in_port']: (dict(rule.match), rule.instructions)
        for rule in compile_datapath(policy, dp, fabric)
        if rule.cookie == COOKIES.cookie(TUNNEL)
        and (rule.table, rule.priority) == (PORT_ACL, PRIO_TUNNEL)
        and dict(rule.match)['vlan_pcp'] == pcp
    }


def entry_rule(policy, fabric=None):
    dp = policy.dps['s1']
    [rule] = [
        r
        for r in compile_datapath(policy, dp, fabric)
        if r.table == PORT_ACL and dict(r.match).get('eth_type') == 0x88B5
    ]
    return rule.instructions


# --- syntax -----------------------------------------------------------------------------


def test_a_tunnel_loads_resolved_and_writes_back_in_faucet_form():
    policy = load()
    [step] = policy.acls['into-tunnel'][0].actions.output
    assert step == ('tunnel', tunnel.Tunnel(tunnel_id=900, dp='s3', port=1))
    assert load(yaml_of(policy)) == policy
    ordered = with_tunnel('x').replace('tunnel: x', '- tunnel: {dp: s3, port: 1, tunnel_id: 900}')
    assert load(ordered) == policy  # FAUCET's ordered list form


def test_the_id_is_a_reserved_vlan_by_name_or_chosen_as_faucet_chooses_it():
    named = with_tunnel('{tunnel_id: tun, dp: s3, port: 1}').replace(
        'vlans:\n', 'vlans:\n  tun: {vid: 777, reserved_internal_vlan: true}\n'
    )
    assert load(named).acls['into-tunnel'][0].actions.output[0][1].tunnel_id == 777
    assert load(named).vlans['tun'].reserved_internal_vlan
    # none given: after the highest tenant VID (200), one per tunnel of the ACLs sorted
    # by name up to this one, the first VID nobody uses; one id per destination in an ACL
    text = with_tunnel('{dp: s3, port: 1}').replace(
        '    - rule:\n        actions: {allow: true}\n',
        '    - rule:\n        eth_type: 0x88b6\n        actions:\n'
        '          output: {tunnel: {dp: s3, port: 1}}\n'
        '    - rule:\n        eth_type: 0x88b7\n        actions:\n'
        '          output: {tunnel: {dp: s4, port: 1}}\n',
    )
    ids = [rule.actions.output[0][1].tunnel_id for rule in load(text).acls['into-tunnel']]
    assert ids == [203, 203, 204]


# --- validation -------------------------------------------------------------------------

ERRORS = [
    (
        '{dp: s9, port: 1}',
        'acls.into-tunnel.0.rule.actions.output.tunnel.dp',
        "unknown switch 's9' for the tunnel's destination; defined switches: s1, s2, s3, s4",
    ),
    (
        '{dp: s3, port: 7}',
        'acls.into-tunnel.0.rule.actions.output.tunnel.port',
        'port 7 does not exist on dp s3; its ports: 1, 4, 5',
    ),
    (
        '{dp: s3, port: 4}',
        'acls.into-tunnel.0.rule.actions.output.tunnel.port',
        'port 4 of s3 is a stack port; a tunnel leads to a port out of the fabric',
    ),
    (
        '{dp: s3}',
        'acls.into-tunnel.0.rule.actions.output.tunnel',
        "a tunnel to a whole switch (no 'port') is not supported by this suite: give the "
        'port of s3 the tunnel leads to',
    ),
    (
        '{dp: s3, port: 1, tunnel_id: 100}',
        'acls.into-tunnel.0.rule.actions.output.tunnel.tunnel_id',
        "VLAN 'red' (VID 100) is a tenant's VLAN: a tunnel needs a VID of its own, a VLAN "
        'with reserved_internal_vlan: true (as in FAUCET)',
    ),
    (
        '{dp: s3, port: 1, tunnel_id: blue}',
        'acls.into-tunnel.0.rule.actions.output.tunnel.tunnel_id',
        "unknown VLAN 'blue' for the tunnel id; give a VID, or the name of a VLAN with "
        'reserved_internal_vlan: true',
    ),
    (
        '{dp: s3, port: 1, reverse: true, bi_directional: true}',
        'acls.into-tunnel.0.rule.actions.output.tunnel',
        'a tunnel is reverse or bi_directional, not both (as in FAUCET)',
    ),
    (
        '{dp: s3, port: 1, vlan: 101}',
        'acls.into-tunnel.0.rule.actions.output.tunnel.vlan',
        "unknown key 'vlan'; expected one of type, tunnel_id, dp, port, exit_instructions, "
        'maintain_encapsulation, bi_directional, reverse',
    ),
    (
        '{dp: s3, port: 1, type: mpls}',
        'acls.into-tunnel.0.rule.actions.output.tunnel.type',
        "expected 'vlan' (the only encapsulation, as in FAUCET); got the string 'mpls'",
    ),
    (
        '{dp: s3, port: 1, exit_instructions: [{port: 2}]}',
        'acls.into-tunnel.0.rule.actions.output.tunnel.exit_instructions.0.port',
        "exit_instructions rewrite the packet before the tunnel's port (pop_vlans, "
        "vlan_vid, swap_vid, vlan_vids, set_fields); 'port' does not",
    ),
]


@pytest.mark.parametrize('settings, path, message', ERRORS)
def test_a_wrong_tunnel_is_reported_at_its_line_and_key(settings, path, message):
    assert messages_of(with_tunnel(settings)) == [(7, path, message)]


def test_tunnel_checks_that_need_the_whole_policy():
    at = 'acls.into-tunnel.0.rule.actions.output.tunnel'
    # a tunnel ACL on a VLAN
    text = TUNNELLED.replace('red: {vid: 100}', 'red: {vid: 100, acls_in: [into-tunnel]}')
    assert messages_of(text) == [
        (
            7,
            at,
            "ACL 'into-tunnel' is applied to VLAN 'red': tunnels are taken in from ports "
            '(acls_in) and dp_acls, not VLAN ACLs (as in FAUCET)',
        )
    ]
    # two ports into one two-way tunnel: which one would the way back lead to?
    two = with_tunnel('{dp: s3, port: 1, bi_directional: true}').replace(
        '      1: {native_vlan: red}\n',
        '      1: {native_vlan: red, acls_in: [into-tunnel]}\n',
        1,
    )
    assert messages_of(two) == [
        (
            7,
            at,
            'a bi_directional tunnel leads back to its one source port; it is taken from '
            's1 port 1, s2 port 1',
        )
    ]
    # one id towards two destinations
    clash = TUNNELLED.replace(
        '    - rule:\n        actions: {allow: true}\n',
        '    - rule:\n        actions:\n'
        '          output: {tunnel: {tunnel_id: 900, dp: s4, port: 1}}\n',
    )
    [(line, path, message)] = messages_of(clash)
    assert path == at.replace('.0.', '.1.') and message.startswith(
        'tunnel id 900 (PCP 3) already leads to s3 port 1: tunnels sharing an id'
    )
    # a switch that no stack link joins to the destination
    alone = TUNNELLED.replace(
        '  s4:\n',
        '  s5:\n    dp_id: 5\n    interfaces:\n'
        '      1: {native_vlan: red, acls_in: [into-tunnel]}\n  s4:\n',
    )
    assert messages_of(alone) == [
        (7, at, "s5 cannot reach the tunnel's destination s3: no stack links join them")
    ]


def test_a_two_way_tunnel_out_of_an_output_only_port():
    text = with_tunnel('{dp: s3, port: 2, bi_directional: true}').replace(
        '      1: {native_vlan: red}\n      4: {stack: {dp: s4, port: 5}}\n',
        '      1: {native_vlan: red}\n      2: {output_only: true}\n'
        '      4: {stack: {dp: s4, port: 5}}\n',
    )
    assert messages_of(text) == [
        (
            7,
            'acls.into-tunnel.0.rule.actions.output.tunnel',
            'a bi_directional tunnel takes frames back from its port; port 2 of s3 is output_only',
        )
    ]


def test_a_reserved_vlan_is_no_ports_vlan():
    text = TUNNELLED.replace('green: {vid: 200}', 'green: {vid: 200, reserved_internal_vlan: true}')
    assert messages_of(text) == [
        (
            25,
            'dps.s2.interfaces.2.native_vlan',
            "VLAN 'green' is reserved for tunnels (reserved_internal_vlan): no port carries it",
        )
    ]


def test_a_tunnel_ending_on_its_own_switch_with_rewrites_cannot_allow():
    text = with_tunnel('{dp: s1, port: 1, maintain_encapsulation: true}').replace(
        '        eth_type: 0x88b5\n        actions:\n',
        '        eth_type: 0x88b5\n        actions:\n          allow: true\n',
    )
    [(line, path, message)] = messages_of(text)
    assert (line, path) == (8, 'acls.into-tunnel.0.rule.actions.output.tunnel')
    assert 'its rule cannot also allow it' in message


# --- compiled rules ---------------------------------------------------------------------


def test_the_source_encapsulates_into_its_route_and_pops_again():
    policy = load()
    group = failover_group_id(4, 5)  # s1 -> s3 via s2, backup s4
    assert entry_rule(policy) == (
        (
            'apply',
            (
                ('push_vlan', 0x8100),
                ('set_field', 'vlan_vid', VID),
                ('set_field', 'vlan_pcp', 3),
                ('group', group),
                ('pop_vlan',),
            ),
        ),
    )


def test_transit_and_exit_take_tunnel_frames_from_stack_ports_only():
    policy = load()
    match = {'vlan_vid': VID, 'vlan_pcp': 3}
    for name, steps in (
        ('s1', (('group', failover_group_id(4, 5)),)),
        ('s2', (('output', 4),)),  # next to s3: no loop-free backup
        ('s4', (('output', 5),)),
        ('s3', (('pop_vlan',), ('output', 1))),
    ):
        rules = tunnel_rules(policy, name)
        assert set(rules) == {4, 5}, name  # never a host port
        for port, (found, instructions) in rules.items():
            assert found == dict(match, in_port=port)
            assert instructions == (('apply', steps),), name


def test_a_stack_link_down_moves_the_tunnel_to_the_new_route():
    policy = load()
    fabric = Fabric.of(policy, down={(1, 4)})  # s1-s2 out: s1 -> s4 -> s3
    assert entry_rule(policy, fabric)[0][1][3] == ('output', 5)
    assert {p: i for p, (_, i) in tunnel_rules(policy, 's2', fabric).items()} == {
        4: (('apply', (('output', 4),)),),
        5: (('apply', (('output', 4),)),),
    }


def test_a_reload_that_moves_the_tunnel_exit_rewrites_only_tunnel_rules():
    """s3 port 1 -> s4 port 1: on s2 the two transit rules are replaced in place (an
    ADD each, nothing deleted); on s3 the exit rules become transit rules."""
    old, new = load(), load(with_tunnel('{tunnel_id: 900, dp: s4, port: 1}'))
    s2 = PolicySwitch.of(FakeDatapath(2), old)
    change = s2.apply(new)
    assert (change.added, change.deleted, change.forgotten) == (2, 0, [])
    tunnel_in = {
        dict(r.match)['in_port'] for r in s2.installed if r.cookie == COOKIES.cookie(TUNNEL)
    }
    assert tunnel_in == {4, 5}
    s3 = PolicySwitch.of(FakeDatapath(3), old)
    assert (s3.apply(new).added, len(s3.apply(new))) == (2, 0)  # the second apply: no change


def test_exit_instructions_maintain_encapsulation_reverse_and_bi_directional():
    text = with_tunnel(
        "{dp: s3, port: 1, tunnel_id: 900, exit_instructions: [{vlan_vid: 101}], "
        'maintain_encapsulation: true, bi_directional: true}'
    )
    policy = load(text)
    [exit_] = {i for _, i in tunnel_rules(policy, 's3').values()}
    pushed = (('push_vlan', 0x8100), ('set_field', 'vlan_vid', OFPVID_PRESENT | 101))
    assert exit_ == (('apply', pushed + (('output', 1),)),)  # no pop: encapsulation kept
    # the way back: from the exit port (and s3's stack ports) PCP 4 goes to s1, which
    # pops it and outputs to the source port
    back = {p: i for p, (_, i) in tunnel_rules(policy, 's3', pcp=4).items()}
    assert set(back) == {1, 4, 5}
    assert back[1] == (('apply', (('group', failover_group_id(5, 4)),)),)
    back_s1 = {p: i for p, (_, i) in tunnel_rules(policy, 's1', pcp=4).items()}
    assert back_s1 == {p: (('apply', (('pop_vlan',), ('output', 1))),) for p in (4, 5)}
    reverse = load(with_tunnel('{dp: s3, port: 1, tunnel_id: 900, reverse: true}'))
    assert entry_rule(reverse)[0][1][2] == ('set_field', 'vlan_pcp', 4)
    assert not tunnel_rules(reverse, 's3') and set(tunnel_rules(reverse, 's3', pcp=4)) == {4, 5}


def test_a_tunnel_on_one_switch_outputs_directly_without_a_fabric():
    text = textwrap.dedent('''\
        acls:
          t:
            - rule:
                actions:
                  mirror: 3
                  allow: 1
                  output:
                    tunnel: {type: 'vlan', tunnel_id: 200, dp: sw1, port: 3}
        vlans:
          vlan100: {vid: 100}
        dps:
          sw1:
            dp_id: 0x1
            interfaces:
              1: {native_vlan: vlan100, acls_in: [t]}
              2: {native_vlan: vlan100, acls_in: [t]}
              3: {output_only: true}
    ''')
    policy = load(text)
    rules = compile_datapath(policy, policy.dps['sw1'])
    acl = [r for r in rules if r.table == PORT_ACL and r.priority == 30000]
    assert {dict(r.match)['in_port'] for r in acl} == {1, 2}
    for rule in acl:
        assert rule.instructions == (('apply', (('output', 3), ('output', 3))), ('goto', 1))
    assert not [r for r in rules if r.cookie == COOKIES.cookie(TUNNEL)]
