"""controller/l2/pipeline.py: the learning switch's rules computed without a switch."""

from hypothesis import given, settings
from hypothesis import strategies as st
from ryu.ofproto import ofproto_v1_3 as ofp

from controller.flowspec import FlowSpec, to_flow_mod
from controller.l2 import pipeline as pipe
from controller.l2.pipeline import FlowDelete, PortRules
from controller.openflow import MAX_OUTPUTS_PER_FLOW_MOD, mac_text
from tests.harness.fakes import FakeDatapath

MAC = '00:00:00:00:00:0a'


def wire(msg):
    dp = FakeDatapath()
    dp.set_xid(msg)
    msg.serialize()
    return bytes(msg.buf)


def test_base_rules_bring_lldp_and_unknown_sources_to_the_controller():
    lldp, miss = pipe.base_rules()
    assert (lldp.table, lldp.priority, lldp.match_dict()) == (
        pipe.SOURCE_TABLE,
        pipe.PRIO_LLDP,
        {'eth_type': 0x88CC, 'eth_dst': '01:80:c2:00:00:0e'},
    )
    assert lldp.instructions == (('apply', (('controller', ofp.OFPCML_NO_BUFFER),)),)
    assert lldp.cookie == pipe.COOKIES.cookie(pipe.LLDP) == pipe.LLDP_COOKIE
    assert (miss.table, miss.priority, miss.match) == (pipe.SOURCE_TABLE, pipe.PRIO_MISS, ())
    assert miss.instructions == (
        ('apply', (('controller', pipe.PACKET_IN_BYTES),)),
        ('goto', pipe.DESTINATION_TABLE),
    )
    assert miss.cookie == pipe.MISS_COOKIE and pipe.COOKIES.kind_of(miss.cookie) == pipe.MISS


def test_source_entries_expire_before_destination_entries():
    assert pipe.src_hard_timeout(300, 0.75) == 225
    assert pipe.src_hard_timeout(1, 0.5) == 1  # never 0, which would mean "never"


def test_forwarding_ports_are_probed_host_ports_and_tree_ports():
    up_since = {1: 0.0, 2: 0.0, 3: 0.0, 4: 9.0}
    # 1: host port; 2: switch port on the tree; 3: switch port off it; 4: still probing
    assert pipe.forwarding_ports(up_since, {2, 3}, {2}, now=10.0, probe_time=2.5) == {1, 2}
    assert pipe.forwarding_ports(up_since, (), (), now=11.5, probe_time=2.5) == {1, 2, 3, 4}
    assert pipe.forwarding_ports({}, (), (), now=10.0, probe_time=2.5) == set()


def test_a_probe_ends_for_a_port_without_a_flood_rule():
    up_since = {1: 0.0, 2: 5.0}
    assert not pipe.probe_ended(up_since, {1: [2]}, now=6.0, probe_time=2.5)
    assert pipe.probe_ended(up_since, {1: [2]}, now=7.5, probe_time=2.5)
    assert not pipe.probe_ended(up_since, {1: [2], 2: [1]}, now=7.5, probe_time=2.5)


def drop(port):
    return FlowSpec(
        0, pipe.PRIO_PORT_DROP, (('in_port', port),), (), pipe.COOKIES.cookie(pipe.PORT_DROP)
    )


def flood(port, *outs):
    return FlowSpec(
        1,
        pipe.PRIO_FLOOD,
        (('in_port', port),),
        (('apply', tuple(('output', o) for o in outs)),),
        pipe.COOKIES.cookie(pipe.FLOOD),
    )


def no_drop(port):
    return FlowDelete(pipe.PORT_DROP, 0, (('in_port', port),), priority=pipe.PRIO_PORT_DROP)


def no_flood(port):
    return FlowDelete(pipe.FLOOD, 1, (('in_port', port),), priority=pipe.PRIO_FLOOD)


def test_port_programming_blocks_before_it_floods_and_floods_before_it_unblocks():
    rules = PortRules()
    # Ports 1 and 2 up and probing: both drop.
    assert rules.program(set(), {1, 2}) == [drop(1), drop(2)]
    assert (rules.floods, rules.drops) == ({}, {1, 2})
    # Probed: they flood to each other, then stop dropping.
    assert rules.program({1, 2}, {1, 2}) == [flood(1, 2), flood(2, 1), no_drop(1), no_drop(2)]
    # The same states again: nothing to send.
    assert rules.program({1, 2}, {1, 2}) == []
    # Port 3 forwards; port 2 becomes blocked (off the tree): its drop comes first, then
    # its flood goes, then the floods change.
    assert rules.program({1, 3}, {1, 2, 3}) == [drop(2), no_flood(2), flood(1, 3), flood(3, 1)]
    # Port 2 goes down altogether: its drop goes last; the floods stay as they are.
    assert rules.program({1, 3}, {1, 3}) == [no_drop(2)]
    assert (rules.floods, rules.drops) == ({1: [3], 3: [1]}, set())


def test_blocking_alone_leaves_the_floods_to_a_later_program():
    rules = PortRules()
    rules.program({1, 2, 3}, {1, 2, 3})
    assert rules.floods_current({1, 2, 3}) and not rules.floods_due
    # Port 2 must stop forwarding: its drop and the removal of its flood, nothing else.
    assert rules.block({1, 3}, {1, 2, 3}) == [drop(2), no_flood(2)]
    assert rules.floods_due and rules.forwarding == {1, 3} and rules.drops == {2}
    assert rules.floods == {1: [2, 3], 3: [1, 2]}  # as still programmed
    assert rules.block({1, 3}, {1, 2, 3}) == []
    assert not rules.floods_current({1, 3})
    # The rewrite: every flood, and nothing to unblock.
    assert rules.program({1, 3}, {1, 2, 3}) == [flood(1, 3), flood(3, 1)]
    assert not rules.floods_due and rules.floods_current({1, 3})
    # A port that may forward again is unblocked only by program, after its flood.
    assert rules.block({1, 2, 3}, {1, 2, 3}) == []
    assert rules.program({1, 2, 3}, {1, 2, 3}) == [
        flood(1, 2, 3),
        flood(2, 1, 3),
        flood(3, 1, 2),
        no_drop(2),
    ]


def test_a_switch_forwards_on_at_most_the_ports_one_flood_rule_can_hold():
    many = {port: 0.0 for port in range(1, pipe.MAX_FORWARDING_PORTS + 11)}
    forwarding = pipe.forwarding_ports(many, (), (), now=10.0, probe_time=2.5)
    assert forwarding == set(range(1, pipe.MAX_FORWARDING_PORTS + 1))
    largest = PortRules().program(forwarding, set(many))[-1]
    assert len(largest.output_ports()) == MAX_OUTPUTS_PER_FLOW_MOD
    dp = FakeDatapath()
    assert len(wire(to_flow_mod(dp, largest, packed=True))) <= 0xFFFF


def test_the_floods_share_their_output_actions():
    floods = PortRules().program({1, 2, 3}, {1, 2, 3})
    (_, first), (_, second) = floods[0].instructions[0], floods[1].instructions[0]
    assert first[1] is second[1]  # one ('output', 3) for both


def test_a_take_over_deletes_learned_entries_and_the_rule_of_the_other_state():
    deletes = pipe.takeover_deletes([3, 1, 2], forwarding={1, 3})
    assert deletes == [
        FlowDelete(pipe.SRC),
        FlowDelete(pipe.DST),
        no_drop(1),
        no_flood(2),
        no_drop(3),
    ]


def test_the_learned_host_pair():
    source, destination = pipe.host_rules(MAC, 4, src_hard_timeout=225, idle_timeout=300)
    assert source == FlowSpec.make(
        pipe.SOURCE_TABLE,
        pipe.PRIO_LEARNED,
        {'in_port': 4, 'eth_src': MAC},
        [('goto', pipe.DESTINATION_TABLE)],
        pipe.COOKIES.cookie(pipe.SRC),
        hard_timeout=225,
    )
    assert destination == FlowSpec.make(
        pipe.DESTINATION_TABLE,
        pipe.PRIO_LEARNED,
        {'eth_dst': MAC},
        [('apply', (('output', 4),))],
        pipe.COOKIES.cookie(pipe.DST),
        idle_timeout=300,
    )


def test_the_packed_host_rules_are_the_same_messages_on_the_wire():
    dp = FakeDatapath()
    for spec in pipe.host_rules(MAC, 4, 225, 300):
        assert wire(to_flow_mod(dp, spec, True, packed=True)) == wire(to_flow_mod(dp, spec, True))


@settings(max_examples=200, deadline=None)
@given(
    st.binary(min_size=6, max_size=6),
    st.integers(1, ofp.OFPP_MAX),
    st.integers(0, ofp.MAX_XID),
    st.integers(1, 0xFFFF),
)
def test_the_stamped_host_rules_are_ryus_messages_byte_for_byte(mac, port, xid, idle):
    """What the packet-in path sends (templates stamped per host) is exactly what Ryu
    serializes for host_rules, whatever the MAC, port, xid and timeouts."""
    hard = pipe.src_hard_timeout(idle, 0.75)
    templates = pipe.host_rule_templates(hard, idle)
    specs = pipe.host_rules(mac_text(mac), port, hard, idle)
    for template, spec, flow_removed in zip(templates, specs, (False, True), strict=True):
        expected = to_flow_mod(FakeDatapath(), spec, flow_removed)
        expected.xid = xid
        expected.serialize()
        assert template.stamp(xid, mac, port) == expected.buf


def test_host_and_port_flushes():
    assert pipe.host_deletes(MAC) == [
        FlowDelete(pipe.SRC, 0, (('eth_src', MAC),)),
        FlowDelete(pipe.DST, 1, (('eth_dst', MAC),)),
    ]
    assert pipe.port_flush(5) == [
        FlowDelete(pipe.SRC, 0, (('in_port', 5),)),
        FlowDelete(pipe.DST, 1, out_port=5),
    ]
    assert pipe.learned_flush() == [FlowDelete(pipe.SRC), FlowDelete(pipe.DST)]


def test_the_ban_rule_drops_below_learned_sources():
    ban = pipe.ban_rule(2, 60)
    assert (ban.table, ban.match, ban.instructions, ban.hard_timeout) == (
        pipe.SOURCE_TABLE,
        (('in_port', 2),),
        (),
        60,
    )
    assert pipe.PRIO_MISS < ban.priority < pipe.PRIO_LEARNED
    assert pipe.COOKIES.kind_of(ban.cookie) == pipe.BAN
