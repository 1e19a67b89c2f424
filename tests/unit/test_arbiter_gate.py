"""controller/arbiter/gate.py: a proposed rule is walked across the declared topology
with the installed rules and refused if it loops, black-holes reachable traffic or
connects hosts declared isolated."""

from ryu.ofproto import ofproto_v1_3 as ofp
from ryu.ofproto import ofproto_v1_3_parser as parser

from controller.arbiter.gate import InvariantGate
from controller.arbiter.index import RuleIndex
from controller.arbiter.match import TernaryMatch
from controller.arbiter.policy import load_arbiter_policy_text
from controller.arbiter.rules import Rule, actions_key

# h1 - s1:1   s1:2 - s2:1   s2:2 - h2, s2:3 - h3
TOPOLOGY = """\
topology:
  links: [[1, 2, 2, 1]]
  hosts:
    h1: {dpid: 1, port: 1, ip: 10.0.0.1}
    h2: {dpid: 2, port: 2, ip: 10.0.0.2}
    h3: {dpid: 2, port: 3, ip: 10.0.0.3}
invariants:
  isolation: [[h1, h3]]
"""


def out(port):
    return actions_key(
        [parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, [parser.OFPActionOutput(port)])]
    )


def to_ip(dpid, ip, actions, priority=100, table=0):
    return Rule('app', dpid, table, priority, TernaryMatch.of(eth_type=0x800, ipv4_dst=ip), actions)


def network():
    """The gate and an index where h2 (10.0.0.2) is reachable from s1."""
    gate = InvariantGate(load_arbiter_policy_text(TOPOLOGY, 'p.yaml'))
    index = RuleIndex()
    index.add(to_ip(1, '10.0.0.2', out(2)))
    index.add(to_ip(2, '10.0.0.2', out(2)))
    return gate, index


def test_a_rule_that_keeps_the_path_passes():
    gate, index = network()
    assert gate.check(index, to_ip(1, '10.0.0.2', out(2), priority=200)) is None
    walked = gate.walk(
        index.overlapping, 1, 0, TernaryMatch.of(eth_type=0x800, ipv4_dst='10.0.0.2')
    )
    assert walked.delivered == {(2, 2)} and not walked.looped


def test_a_forwarding_loop_is_refused_and_named():
    gate, index = network()
    broken = gate.check(index, to_ip(2, '10.0.0.2', out(1), priority=200))
    assert broken.clause == 'invariants (p.yaml:7) no_loops'
    assert 'would loop' in broken.reason


def test_a_black_hole_for_reachable_traffic_is_refused():
    gate, index = network()
    into_empty_table = Rule(
        'app',
        2,
        0,
        300,
        TernaryMatch.of(eth_type=0x800, ipv4_dst='10.0.0.2'),
        actions_key([parser.OFPInstructionGotoTable(1)]),
    )
    broken = gate.check(index, into_empty_table)
    assert broken.clause == 'invariants (p.yaml:7) no_black_holes'
    assert 'reached h2 before' in broken.reason and 'switch 2 table 1' in broken.reason
    # An explicit drop is a decision, not a black hole.
    assert gate.check(index, to_ip(2, '10.0.0.2', actions_key([]), priority=300)) is None


def test_declared_isolation_is_kept():
    gate, index = network()
    index.add(to_ip(2, '10.0.0.3', out(3)))
    broken = gate.check(index, to_ip(1, '10.0.0.3', out(2)))
    assert broken.clause == 'invariants.isolation (p.yaml:8) h1-h3'
    assert 'h1 (10.0.0.1) would reach h3 (10.0.0.3)' in broken.reason
    # h2 may reach h3.
    assert gate.check(index, to_ip(2, '10.0.0.3', out(3), priority=150)) is None


def test_without_a_topology_the_gate_lets_everything_pass():
    gate = InvariantGate(load_arbiter_policy_text('order: [a]\n'))
    assert not gate.active
    assert gate.check(RuleIndex(), to_ip(1, '10.0.0.2', out(1))) is None
