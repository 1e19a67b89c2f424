"""FAUCET's ACL output actions (issue 15): the mapping form, applied in FAUCET's fixed
order, and the ordered list form, applied as written; ports, rewrites and their
checks, on the compiler's output."""

import textwrap

import pytest
import yaml

from controller.config import ConfigError
from controller.ofmatch import OFPP_IN_PORT, OFPVID_PRESENT
from controller.vswitch import load_policy_text
from controller.vswitch.pipeline import PORT_ACL, VLAN, compile_datapath

POLICY = '''
acls:
  out:
    - rule:
        dl_type: 0x800
        actions:
          allow: %(allow)s
          output: %(output)s
dps:
  s1:
    dp_id: 1
    interfaces:
      1: {name: in, native_vlan: 100, acls_in: [out]}
      2: {name: a, native_vlan: 100}
      3: {name: b, native_vlan: 100}
      4: {name: c, output_only: true}
'''


def load(output, allow=0):
    return load_policy_text(POLICY % {'output': output, 'allow': allow}, 'faucet.yaml')


def acl_actions(output, allow=0):
    policy = load(output, allow)
    [rule] = [
        r
        for r in compile_datapath(policy, policy.dps['s1'])
        if r.table == PORT_ACL and r.match_dict() == {'in_port': 1, 'eth_type': 0x800}
    ]
    return rule.instructions


def errors(output, allow=0):
    with pytest.raises(ConfigError) as caught:
        load(output, allow)
    return [(e.path, e.message) for e in caught.value.errors]


def test_several_ports_named_and_numbered():
    assert acl_actions('{ports: [a, 3, c]}') == (
        ('apply', (('output', 2), ('output', 3), ('output', 4))),
    )
    # allowed on as well: a copy out of the ports, and the packet goes on (unchanged)
    assert acl_actions('{ports: [c]}', allow=1) == (('apply', (('output', 4),)), ('goto', 1))


def test_mapping_form_applies_in_faucets_fixed_order():
    written = '{port: c, set_fields: [{eth_dst: "0e:00:00:00:00:09"}], vlan_vid: 300, pop_vlans: 1}'
    assert acl_actions(written) == (
        (
            'apply',
            (
                ('pop_vlan',),
                ('push_vlan', 0x8100),
                ('set_field', 'vlan_vid', 0x1000 | 300),
                ('set_field', 'eth_dst', '0e:00:00:00:00:09'),
                ('output', 4),
            ),
        ),
    )


def test_ordered_list_form_applies_as_written():
    written = textwrap.indent(
        textwrap.dedent('''
            - port: a
            - vlan_vid: {vid: 200, eth_type: 0x88a8}
            - port: b
            - swap_vid: 201
            - ports: [c]
            - set_fields: [{ipv4_dst: 10.0.0.9}]
            - port: 3
        '''),
        '            ',
    )
    assert acl_actions(written) == (
        (
            'apply',
            (
                ('output', 2),
                ('push_vlan', 0x88A8),
                ('set_field', 'vlan_vid', 0x1000 | 200),
                ('output', 3),
                ('set_field', 'vlan_vid', 0x1000 | 201),
                ('output', 4),
                ('set_field', 'ipv4_dst', '10.0.0.9'),
                ('output', 3),
            ),
        ),
    )


@pytest.mark.parametrize(
    'output',
    [
        '{port: 2}',
        '{ports: [a, b]}',
        '[{port: a}, {vlan_vids: [7, {vid: 8, eth_type: 0x88a8}]}, {port: c}]',
        '[{pop_vlans: 2}, {set_fields: [{udp_dst: 53}]}, {port: 3}]',
    ],
)
def test_output_round_trips(output):
    policy = load(output.replace('udp_dst', 'eth_src').replace('53', '"0e:00:00:00:00:01"'))
    assert load_policy_text(yaml.safe_dump(policy.to_data()), 'again.yaml') == policy


def test_rewriting_for_a_port_and_allowing_is_refused():
    assert errors('{vlan_vid: 300, port: 2}', allow=1) == [
        (
            'acls.out.0.rule.actions.output',
            'a rule that rewrites the packet for an output port cannot also allow it: the '
            'rest of the pipeline would see the rewritten packet too; write allow: false, '
            'or a second rule',
        )
    ]


def test_output_mistakes_each_at_their_place():
    found = errors(
        '[{port: a, ports: [b]}, {set_fields: [{tcp_dst: 80}]}, {set_fields: [{ip_proto: 6}]},'
        ' {port: z}, {pop_vlans: 3}, {vlan_vid: 4095}]'
    )
    assert found == [
        ('acls.out.0.rule.actions.output.0', 'too many; expected one output action (ordered form)'),
        (
            'acls.out.0.rule.actions.output.1.set_fields.0.tcp_dst',
            'setting tcp_dst needs the rule to match ip_proto: 6',
        ),
        (
            'acls.out.0.rule.actions.output.2.set_fields.0.ip_proto',
            "cannot set 'ip_proto'; set_fields takes eth_dst, eth_src, ipv4_dst, ipv4_src, "
            'ipv6_dst, ipv6_src, tcp_dst, tcp_src, udp_dst, udp_src, vlan_vid',
        ),
        (
            'acls.out.0.rule.actions.output.3.port',
            "port z does not exist on dp s1, where ACL 'out' is applied to port 1; its ports: "
            '1 (in), 2 (a), 3 (b), 4 (c)',
        ),
        (
            'acls.out.0.rule.actions.output.4.pop_vlans',
            '3 is out of range; expected the number of VLAN tags to pop, 1 or 2',
        ),
        (
            'acls.out.0.rule.actions.output.5.vlan_vid',
            '4095 is out of range; expected a VID 1..4094, or {vid: VID, eth_type: 0x8100 or '
            '0x88a8}',
        ),
    ]


def test_two_pushes_in_the_mapping_form_are_refused():
    # FAUCET applies only the first of vlan_vid, swap_vid, vlan_vids and ignores the rest
    assert errors('{vlan_vid: 3, swap_vid: 4, port: 2}') == [
        ('acls.out.0.rule.actions.output.swap_vid', 'vlan_vid and swap_vid: give one of them')
    ]


# --- rewrites alone, allowed on (FAUCET's NFV tutorial) ----------------------------------


@pytest.mark.parametrize(
    'output, applied',
    [
        # the tutorial's: DNS steered to a server by its MAC
        (
            "{set_fields: [{eth_dst: '0e:00:00:00:00:53'}]}",
            ('set_field', 'eth_dst', '0e:00:00:00:00:53'),
        ),
        ('{swap_vid: 300}', ('set_field', 'vlan_vid', OFPVID_PRESENT | 300)),
        ('{pop_vlans: 1}', ('pop_vlan',)),
    ],
)
def test_rewrites_without_a_destination_rewrite_then_go_on(output, applied):
    # The rest of the pipeline (learning, forwarding) sees the rewritten packet.
    assert acl_actions(output, allow=1) == (('apply', (applied,)), ('goto', VLAN))


def test_rewrites_beside_any_destination_and_allowing_stay_refused():
    for output in (
        "{set_fields: [{eth_dst: '0e:00:00:00:00:53'}], ports: [a]}",
        '[{swap_vid: 300}, {port: 0xfffffff8}]',
        '{vlan_vid: 300, failover: {group_id: 1, ports: [2, 3]}}',
    ):
        [(path, message)] = errors(output, allow=1)
        assert path == 'acls.out.0.rule.actions.output', output
        assert message.startswith('a rule that rewrites the packet for an output port'), output


def test_rewrites_alone_still_need_their_prerequisites():
    assert errors('{set_fields: [{udp_dst: 5353}]}', allow=1) == [
        (
            'acls.out.0.rule.actions.output.set_fields.0.udp_dst',
            'setting udp_dst needs the rule to match ip_proto: 17',
        )
    ]


# --- IN_PORT: back out of the port the packet came in on ------------------------------


def test_in_port_is_an_output_port_on_any_switch():
    assert acl_actions('{port: 0xfffffff8}') == (('apply', (('output', OFPP_IN_PORT),)),)
    assert acl_actions('{ports: [a, 4294967288]}', allow=1) == (
        ('apply', (('output', 2), ('output', OFPP_IN_PORT))),
        ('goto', VLAN),
    )


@pytest.mark.parametrize('port', [0xFFFFFF01, 0xFFFFFFF9, 0xFFFFFFFC, 0xFFFFFFFD])
def test_the_other_reserved_ports_stay_refused(port):
    assert errors('{port: %d}' % port) == [
        (
            'acls.out.0.rule.actions.output.port',
            '%d is out of range; expected a port number 1..0xffffff00, 0xfffffff8 '
            '(IN_PORT) or an interface name' % port,
        )
    ]
    [(path, message)] = errors('{port: 0xffffffff}')  # above IN_PORT: the schema's range
    assert message.startswith('4294967295 is out of range; expected a port number')


FAUCET_IN_PORT = '''
acls:
  good_acl:
    rules:
      - rule:
          actions:
            output:
              - port: 0xfffffff8
vlans:
  guest: {vid: 100}
dps:
  sw1:
    dp_id: 0x1
    dp_acls: [good_acl]
    interfaces:
      1: {native_vlan: 100}
      0xfffffff8: {output_only: true%s}
'''


def test_faucets_declared_in_port_loads_and_is_no_port_of_the_switch():
    policy = load_policy_text(FAUCET_IN_PORT % '', 'faucet.yaml')
    assert list(policy.dps['sw1'].interfaces) == [1]
    [rule] = policy.acls['good_acl']
    assert rule.actions.output == (('output', OFPP_IN_PORT),)
    with pytest.raises(ConfigError) as caught:
        load_policy_text(FAUCET_IN_PORT % ', native_vlan: 100', 'faucet.yaml')
    assert [(e.path, e.message) for e in caught.value.errors] == [
        (
            'dps.sw1.interfaces.4294967288.native_vlan',
            "port 0xfffffff8 is OpenFlow's IN_PORT, declared only as output_only: "
            'native_vlan does not apply',
        )
    ]
    with pytest.raises(ConfigError, match='mirror'):  # a mirror port is a real port
        load_policy_text(
            FAUCET_IN_PORT.replace('- port: 0xfffffff8', '- port: 1').replace(
                'output:\n', 'mirror: 0xfffffff8\n            output:\n'
            )
            % '',
            'faucet.yaml',
        )
